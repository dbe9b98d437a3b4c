"""Doubly-robust (AIPW) estimation of the average effect of a treatment on the treated (ATT).

Two nuisance models, both scikit-learn logistic regressions on standardised features, cross-fitted (each row
is predicted by models fitted on the other folds, so over-fitting does not leak into the estimate):

* the propensity e(x) = P(treated | x), clipped to [CLIP, 1 - CLIP] (the number of clipped rows is reported);
* the outcome model m0(x) = P(outcome | x, untreated), fitted on untreated rows only;
* each is fitted on at most ``MAX_FIT_ROWS`` training rows (a seeded subsample) and predicts every row.

ATT = mean over treated of (Y - m0(X))  -  sum over untreated of w (Y - m0(X)) / sum over untreated of w,
with w = e / (1 - e) (the normalised, "Hajek" form of the doubly-robust ATT estimator; consistent when either
model is right). The 95% interval uses the estimated influence function:
phi_i = A_i (R_i - a) / p  -  (1 - A_i) w_i (R_i - b) / mean((1 - A) w), with R = Y - m0(X), a and b the two
means above and p the treated share; se = sqrt(mean(phi^2) / n).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

CLIP = 0.01
FOLDS = 5
MAX_FIT_ROWS = 50_000  # each nuisance model is fitted on at most this many rows (seeded subsample)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ATTEstimate:
    """An ATT estimate on the probability scale.

    Attributes:
        att: the doubly-robust estimate.
        se: its standard error (influence function).
        ci_low, ci_high: the 95% interval.
        clipped: rows whose propensity was clipped to [CLIP, 1 - CLIP].
        treated, untreated: rows used.
    """

    att: float
    se: float
    ci_low: float
    ci_high: float
    clipped: int
    treated: int
    untreated: int


def _fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """P(y = 1 | x) from a logistic regression; a constant when the training outcome does not vary."""
    from sklearn.linear_model import LogisticRegression

    if y_train.size == 0:
        return np.full(x_test.shape[0], 0.5)
    mean = float(y_train.mean())
    if mean in (0.0, 1.0):
        return np.full(x_test.shape[0], mean)
    model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on near-separable folds; the estimate is checked
        model.fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1]


def _cap(index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if index.size <= MAX_FIT_ROWS:
        return index
    return np.sort(rng.choice(index, size=MAX_FIT_ROWS, replace=False))


def standardise(x: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0, sd 1 (constant columns become 0)."""
    sd = x.std(axis=0)
    return np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)


def aipw_att(x: np.ndarray, treated: np.ndarray, outcome: np.ndarray, seed: int, folds: int = FOLDS) -> ATTEstimate:
    """Cross-fitted doubly-robust ATT of ``treated`` on binary ``outcome`` adjusting for features ``x``.

    Args:
        x: (rows x features) pre-treatment features.
        treated: boolean per row.
        outcome: 0/1 per row.
        seed: seed of the fold assignment.
        folds: number of cross-fitting folds.
    """
    x = standardise(np.asarray(x, dtype=float))
    a = np.asarray(treated, dtype=bool)
    y = np.asarray(outcome, dtype=float)
    n = y.size
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % folds
    e = np.empty(n)
    m0 = np.empty(n)
    for f in range(folds):
        test = fold == f
        # A few dozen features need far fewer rows than millions of customers: subsample the training rows.
        train = _cap(np.flatnonzero(fold != f), rng)
        control = _cap(np.flatnonzero((fold != f) & ~a), rng)
        e[test] = _fit_predict(x[train], a[train].astype(float), x[test])
        m0[test] = _fit_predict(x[control], y[control], x[test])
    clipped = int(((e < CLIP) | (e > 1 - CLIP)).sum())
    e = np.clip(e, CLIP, 1 - CLIP)
    w = np.where(a, 0.0, e / (1 - e))
    resid = y - m0
    p = a.mean()
    first = resid[a].mean()
    second = float((w * resid).sum() / w.sum())
    att = first - second
    mean_w = w.mean()
    phi = np.where(a, (resid - first) / p, 0.0) - w * (resid - second) / mean_w
    se = float(np.sqrt(np.mean(phi**2) / n))
    return ATTEstimate(
        att=float(att),
        se=se,
        ci_low=float(att - Z95 * se),
        ci_high=float(att + Z95 * se),
        clipped=clipped,
        treated=int(a.sum()),
        untreated=int((~a).sum()),
    )
