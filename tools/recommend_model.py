"""The vocabulary of recommendations: assumptions, experiments, recommendations, and funnel facts they share.

``sample_size_per_arm`` sizes an A/B test for a lift between two conversion rates (two-sided two-proportion
test, Cohen's h, statsmodels ``NormalIndPower``); the rest are plain records used by ``tools.recommend`` and
``tools.recommend_channels``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tools.result import ToolResult

ALPHA = 0.05
POWER = 0.80
_LEVELS: tuple[Literal["low", "medium", "high"], ...] = ("low", "medium", "high")

Level = Literal["low", "medium", "high"]


@dataclass
class Assumption:
    """A candidate for the value a metric could reach, and where it comes from."""

    target: float
    source: str
    kind: Literal["benchmark", "recent_week", "segment", "rule_of_thumb", "causal_estimate", "anomaly"]


@dataclass
class Experiment:
    """An A/B test that would validate a recommendation."""

    design: str
    metric: str
    baseline: float | None
    target: float | None
    sample_size_per_arm: int | None
    eligible_per_week: float | None
    weeks_needed: int | None
    alpha: float = ALPHA
    power: float = POWER


@dataclass
class Recommendation:
    """One prioritised action."""

    id: str
    kind: str
    action: str
    why: str
    metric: str
    kpi_metric: str | None
    baseline: float | None
    assumed_value: float | None
    assumed_improvement: str
    assumption_source: str
    alternatives: list[str]
    expected_extra_conversions_per_week: float | None
    expected_extra_revenue_per_week: float | None
    confidence: Level
    effort: Level
    experiment: Experiment | None
    evidence: list[str] = field(default_factory=list)
    priority_score: float = 0.0
    rank: int = 0

    def as_row(self) -> dict[str, Any]:
        """A flat-ish dict (the experiment nested) for results, templates and the ledger."""
        row = asdict(self)
        row["experiment"] = asdict(self.experiment) if self.experiment else None
        return row


def sample_size_per_arm(baseline: float, target: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Customers per arm to detect ``baseline -> target`` (two-sided two-proportion test, Cohen's h).

    Returns:
        The size rounded up, or ``None`` when the rates are equal or outside (0, 1).
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    if not (0 < baseline < 1 and 0 < target < 1) or math.isclose(baseline, target):
        return None
    effect = abs(float(proportion_effectsize(target, baseline)))
    n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    return math.ceil(float(n))


def experiment(
    design: str, metric: str, baseline: float | None, target: float | None, per_week: float | None
) -> Experiment:
    """An A/B test sized for ``baseline -> target`` with ``per_week`` eligible customers a week."""
    n = sample_size_per_arm(baseline, target) if baseline is not None and target is not None else None
    weeks = math.ceil(2 * n / per_week) if n and per_week and per_week > 0 else None
    return Experiment(design, metric, baseline, target, n, per_week, weeks)


def raise_level(level: Level) -> Level:
    """One confidence level up (high stays high)."""
    return _LEVELS[min(_LEVELS.index(level) + 1, len(_LEVELS) - 1)]


def transition_key(transition: str) -> str:
    """``"pricing -> demo"`` -> ``"pricing->demo"``."""
    return "->".join(part.strip() for part in transition.split("->"))


def pct(value: float) -> str:
    """0.123 -> ``12.3%`` (for the prose of recommendations)."""
    return f"{value * 100:.1f}%"


@dataclass
class FunnelFacts:
    """What the transition rules need from a friction result."""

    steps: list[str]
    rows: dict[str, dict[str, Any]]  # by "a->b"
    weeks: float
    biggest: str | None

    def downstream(self, from_index: int) -> float | None:
        """Product of the conversion rates of the transitions starting at step ``from_index`` and after."""
        product = 1.0
        for i in range(from_index, len(self.steps) - 1):
            row = self.rows.get(f"{self.steps[i]}->{self.steps[i + 1]}")
            if row is None or row.get("conversion") is None:
                return None
            product *= float(row["conversion"])
        return product


def funnel_facts(friction: ToolResult, cohort_weeks: float) -> FunnelFacts:
    """The transition rows of a ``friction`` (or ``funnel``) result, keyed ``"a->b"``."""
    rows = {transition_key(r["transition"]): r for r in friction.result.get("friction", [])}
    steps = list(friction.definition.get("steps") or [])
    biggest = friction.result.get("biggest_friction")
    return FunnelFacts(steps, rows, max(cohort_weeks, 1e-9), transition_key(biggest) if biggest else None)
