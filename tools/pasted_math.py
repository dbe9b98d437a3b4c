"""The arithmetic of the pasted-funnel doctor: intervals, what-if propagation, leak recovery, formatting.

Pure functions on plain numbers so each rule can be checked by hand. Conventions:

* a transition rate is ``next count / this count`` (the observed ratio) unless counts are missing;
* extra people at one stage reach the final stage through the downstream rates (their product);
* a within-stage leak (``40% abandon after pricing page``) is assumed to take people who would never have
  progressed, so the people it keeps progress like those who did not leak: at
  ``next count / (this count × (1 − leak))``. Cutting the leak from ``l`` to ``l'`` therefore lifts the
  transition by the relative factor ``(l − l') / (1 − l)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: float, trials: float, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / trials`` (95% by default).

    Returns ``None`` when the counts do not form a proportion (no trials, or more successes than trials).
    Non-integer counts (estimates) are used as given.
    """
    if trials <= 0 or successes < 0 or successes > trials:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def downstream_factor(rates: list[float | None], start: int) -> float | None:
    """Share of people at stage ``start`` who reach the final stage: the product of rates from ``start`` on.

    ``rates[i]`` is the rate of the transition from stage i to stage i + 1. ``None`` if any is unknown.
    """
    factor = 1.0
    for rate in rates[start:]:
        if rate is None:
            return None
        factor *= rate
    return factor


@dataclass(frozen=True)
class Lift:
    """The effect of changing one transition rate."""

    base_rate: float
    new_rate: float
    extra_next: float
    extra_final: float | None
    capped: bool = False


def lift_rate(from_count: float, base_rate: float, new_rate: float, downstream: float | None) -> Lift:
    """Extra people at the next stage and at the final stage when a transition rate goes to ``new_rate``.

    ``new_rate`` is capped at 100%. ``downstream`` is the share of the next stage reaching the final stage.
    """
    capped = new_rate > 1.0
    new_rate = min(new_rate, 1.0)
    extra_next = from_count * (new_rate - base_rate)
    extra_final = None if downstream is None else extra_next * downstream
    return Lift(base_rate, new_rate, extra_next, extra_final, capped)


def relative_lift(from_count: float, rate: float, improvement: float, downstream: float | None) -> Lift:
    """The rate multiplied by ``1 + improvement`` (e.g. +10% relative: 25% -> 27.5%)."""
    return lift_rate(from_count, rate, rate * (1 + improvement), downstream)


def recover_lost(from_count: float, rate: float, improvement: float, downstream: float | None) -> Lift:
    """Recover ``improvement`` of the people the transition loses: rate + improvement × (1 − rate)."""
    return lift_rate(from_count, rate, rate + improvement * (1 - rate), downstream)


def leak_lift(leak: float, new_leak: float) -> float | None:
    """Relative lift of a stage's onward transition when its leak goes from ``leak`` to ``new_leak``.

    ``None`` when the leak is 100% (no one stays, so the onward rate of stayers is undefined).
    """
    if leak >= 1.0:
        return None
    return (leak - new_leak) / (1 - leak)


def combined_lift(lifts: list[float]) -> float:
    """Relative lift of the final stage when several transitions improve at once: the lifts multiply."""
    total = 1.0
    for lift in lifts:
        total *= 1 + lift
    return total - 1


def monthly_rate(rate: float, periods_per_year: float) -> float:
    """A per-year rate restated per sub-period assuming a constant hazard: ``1 − (1 − rate)^(1/periods)``."""
    return 1 - (1 - rate) ** (1 / periods_per_year)


# ------------------------------------------------------------------------------------------------ formatting


def _fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, thousands separators and half-up rounding (53.125 -> 53.13).

    Rounds the shortest decimal spelling of the float, so binary artefacts do not flip a half.
    """
    quantum = Decimal(1).scaleb(-decimals)
    return f"{Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP):,f}"


def fmt_num(value: float | None) -> str:
    """A count or amount as people write it: ``10,000``, ``22.5``, ``3.47``, ``0.62``; ``—`` for unknown.

    Whole numbers get thousands separators; from 100 up no decimals; from 10 up one; below 10 two (trailing
    zeros dropped). Halves round up.
    """
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value - round(value)) < 1e-9 or abs(value) >= 100:
        return _fixed(value, 0)
    text = _fixed(value, 1 if abs(value) >= 10 else 2)
    return text.rstrip("0").rstrip(".")


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage with at most two decimals: ``0.1875`` -> ``18.75%``, ``0.25`` -> ``25%``."""
    if value is None or not math.isfinite(value):
        return "—"
    text = _fixed(value * 100, 2).rstrip("0").rstrip(".")
    return f"{text}%"


def fmt_signed(value: float | None) -> str:
    """``+22.5`` / ``-50`` (a change)."""
    if value is None or not math.isfinite(value):
        return "—"
    return ("+" if value >= 0 else "-") + fmt_num(abs(value))
