"""Small-sample statistics on aggregates: Wilson intervals and a vectorised Kaplan–Meier estimator.

Both work on counts already aggregated by the engine (never on raw events). They agree with statsmodels
(``proportion_confint(method="wilson")`` and ``SurvfuncRight``), which the tests check, but avoid importing
statsmodels (about a second) on every funnel call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054  # two-sided 95% standard normal quantile


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of ``successes / trials`` (``(None, None)`` when there are no trials)."""
    if trials <= 0:
        return None, None
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier curve of the time to an event with right censoring.

    Attributes:
        times: distinct event times, ascending.
        survival: S(t) just after each of ``times`` (the share not yet converted).
        subjects: total weight (customers) in the estimate.
        events: weight of observed events (conversions).
        max_time: the largest observed time (event or censoring): the curve says nothing beyond it.
    """

    times: npt.NDArray[np.float64]
    survival: npt.NDArray[np.float64]
    subjects: float
    events: float
    max_time: float

    def cumulative(self, t: float) -> float:
        """The share converted by time ``t``: ``1 - S(t)``."""
        index = int(np.searchsorted(self.times, t, side="right")) - 1
        return 0.0 if index < 0 else float(1.0 - self.survival[index])

    def final(self) -> float:
        """The share converted by the end of follow-up."""
        return float(1.0 - self.survival[-1]) if len(self.survival) else 0.0

    def time_to_share(self, share: float) -> float | None:
        """The first time the cumulative conversion reaches ``share`` (``None`` if it never does)."""
        if not len(self.times):
            return None
        reached = np.nonzero(1.0 - self.survival >= share - 1e-12)[0]
        return float(self.times[reached[0]]) if len(reached) else None

    def quantile_of_converters(self, q: float) -> float | None:
        """The time by which a share ``q`` of the conversions seen by the end of follow-up have happened."""
        total = self.final()
        if total <= 0:
            return None
        return self.time_to_share(q * total)


def kaplan_meier(
    durations: npt.ArrayLike, converted: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> KaplanMeier:
    """Estimate the Kaplan–Meier curve.

    Args:
        durations: time of the event or of censoring, per subject (or per group of identical subjects).
        converted: 1/True where the event was observed, 0/False where the subject was censored.
        weights: how many subjects each row stands for (default 1).
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(converted, dtype=bool)
    w = np.ones_like(d) if weights is None else np.asarray(weights, dtype=np.float64)
    if d.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return KaplanMeier(empty, empty, 0.0, 0.0, 0.0)
    times, inverse = np.unique(d, return_inverse=True)
    leaving = np.bincount(inverse, weights=w, minlength=len(times))
    deaths = np.bincount(inverse, weights=w * e, minlength=len(times))
    # Subjects still at risk at each time: everyone whose time is at or after it.
    at_risk = np.cumsum(leaving[::-1])[::-1]
    has_event = deaths > 0
    factors = 1.0 - deaths[has_event] / at_risk[has_event]
    return KaplanMeier(
        times=times[has_event],
        survival=np.cumprod(factors).astype(np.float64),
        subjects=float(w.sum()),
        events=float((w * e).sum()),
        max_time=float(d.max()),
    )
