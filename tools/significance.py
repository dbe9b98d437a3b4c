"""Is a week-over-week change real? Two-proportion z-tests, Poisson rate tests, Benjamini-Hochberg.

All tests are two-sided and come from statsmodels; this module only shapes inputs and outputs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

FDR_Q = 0.05
METHODS = {
    "rate": "two-proportion z-test, pooled variance, two-sided (statsmodels proportions_ztest)",
    "count": "Poisson rate test of two counts with exposures (weeks), score method, two-sided "
    "(statsmodels test_poisson_2indep); assumes Poisson variation, so real traffic swings (campaigns, "
    "holidays) can exceed it",
}


@dataclass(frozen=True)
class Comparison:
    """One comparison of a metric against a baseline.

    Attributes:
        metric: the metric key.
        baseline: what it is compared with (``last_week``, ``trailing`` …).
        kind: ``rate`` (successes of trials) or ``count`` (events per exposure).
        x1, n1: this period's successes and trials (rate) or count and exposure (count).
        x0, n0: the baseline's.
        p_value: two-sided p-value (after ``assess``); ``None`` when untestable.
        q_value: Benjamini-Hochberg adjusted p-value.
        significant: ``q_value <= FDR_Q``.
    """

    metric: str
    baseline: str
    kind: Literal["rate", "count"]
    x1: float
    n1: float
    x0: float
    n0: float
    p_value: float | None = None
    q_value: float | None = None
    significant: bool = False


def two_proportion_p(x1: float, n1: float, x0: float, n0: float) -> float | None:
    """Two-sided p-value of a two-proportion z-test; ``None`` without trials; 1.0 when both rates are 0 or 1."""
    from statsmodels.stats.proportion import proportions_ztest

    if n1 <= 0 or n0 <= 0:
        return None
    if (x1 + x0) in (0, n1 + n0):
        return 1.0  # no variance at all: identical degenerate rates
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, p = proportions_ztest([x1, x0], [n1, n0], alternative="two-sided")
    return float(p) if math.isfinite(p) else None


def poisson_p(count1: float, exposure1: float, count0: float, exposure0: float) -> float | None:
    """Two-sided p-value that two Poisson rates (count / exposure) are equal; ``None`` when untestable."""
    from statsmodels.stats.rates import test_poisson_2indep

    if exposure1 <= 0 or exposure0 <= 0:
        return None
    if count1 == 0 and count0 == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = test_poisson_2indep(count1, exposure1, count0, exposure0, method="score")
    p = float(result.pvalue)
    return p if math.isfinite(p) else None


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in input order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    _, q, _, _ = multipletests(list(p_values), alpha=FDR_Q, method="fdr_bh")
    return [float(v) for v in q]


def assess(comparisons: Sequence[Comparison], q: float = FDR_Q) -> list[Comparison]:
    """Test every comparison and adjust all p-values together (one Benjamini-Hochberg family).

    Args:
        comparisons: the comparisons, any mix of rates and counts.
        q: the false discovery rate at which a change is called significant.
    """
    tested = []
    for c in comparisons:
        p = two_proportion_p(c.x1, c.n1, c.x0, c.n0) if c.kind == "rate" else poisson_p(c.x1, c.n1, c.x0, c.n0)
        tested.append(replace(c, p_value=p))
    family = [i for i, c in enumerate(tested) if c.p_value is not None]
    adjusted = benjamini_hochberg([tested[i].p_value for i in family])  # type: ignore[misc]
    for i, q_value in zip(family, adjusted, strict=True):
        tested[i] = replace(tested[i], q_value=q_value, significant=q_value <= q)
    return tested
