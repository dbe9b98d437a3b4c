"""One attribution model applied to a path table: credited conversions and revenue per channel.

This is the dispatch between the model families (rules in ``tools.heuristics``, Markov in ``tools.markov``,
Shapley in ``tools.shapley``); ``tools.attribution`` turns the numbers into a ``ToolResult`` and
``tools.attribution_all`` compares every model with bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tools.heuristics import HEURISTICS, WEIGHT_RULES, credit_matrix
from tools.journeys import STAGE_PREFIX, PathTable
from tools.markov import MarkovChain
from tools.shapley import EXACT_LIMIT, channel_masks, sampled_operator, shapley_exact

Model = Literal["first", "last", "linear", "time-decay", "position", "markov", "shapley"]
MODELS: tuple[Model, ...] = ("first", "last", "linear", "time-decay", "position", "markov", "shapley")
SHAPLEY_PERMUTATIONS = 2000

RULES = {
    **WEIGHT_RULES,
    "markov": (
        "removal effect of c = 1 - P(conversion with c removed) / P(conversion), exact absorbing-chain solve; "
        "credit = removal effects normalised to total conversions and revenue"
    ),
    "shapley": (
        "v(S) = conversions of journeys whose distinct channels are a subset of S (Zhao et al. 2018); "
        "exact Shapley values over channel bitmasks; they sum to total conversions"
    ),
}


@dataclass
class Credit:
    """One model's credit per channel.

    Attributes:
        model: the model name.
        channels: channel names, aligned with the arrays.
        conversions: credited conversions.
        revenue: credited revenue.
        removal_effect: Markov only, per channel.
        stage_effects: Markov with stages only: stage name -> removal effect.
        p_conversion: Markov only: P(conversion) of the fitted chain.
        notes: caveats specific to this model run.
        approximate: Shapley above the exact limit: values estimated by permutation sampling.
    """

    model: str
    channels: list[str]
    conversions: np.ndarray
    revenue: np.ndarray
    removal_effect: np.ndarray | None = None
    stage_effects: dict[str, float] = field(default_factory=dict)
    p_conversion: float | None = None
    notes: list[str] = field(default_factory=list)
    approximate: bool = False

    @property
    def share(self) -> np.ndarray:
        total = self.conversions.sum()
        return self.conversions / total if total > 0 else np.zeros_like(self.conversions)


def channel_rows(credit: Credit) -> list[dict[str, Any]]:
    """Result rows for one model, most credited first."""
    share = credit.share
    total_revenue = credit.revenue.sum()
    rows = []
    for i, channel in enumerate(credit.channels):
        row: dict[str, Any] = {
            "channel": channel,
            "conversions": float(credit.conversions[i]),
            "share": float(share[i]),
            "revenue": float(credit.revenue[i]),
            "revenue_share": float(credit.revenue[i] / total_revenue) if total_revenue > 0 else 0.0,
        }
        if credit.removal_effect is not None:
            row["removal_effect"] = float(credit.removal_effect[i])
        rows.append(row)
    rows.sort(key=lambda r: (-r["conversions"], r["channel"]))
    return rows


def channel_conversions(table: PathTable) -> float:
    """Conversions of journeys with at least one channel touch (what channel credit adds up to)."""
    has_channel = np.fromiter(
        (any(not s.startswith(STAGE_PREFIX) for s in p) for p in table.paths), dtype=bool, count=len(table.paths)
    )
    return float(table.conversions[has_channel].sum())


class MarkovModel:
    """Markov attribution prepared once for a table, solvable for re-weighted (bootstrap) path counts."""

    def __init__(self, table: PathTable, order: int, channels: list[str]) -> None:
        self.channels = channels
        self.stages = table.stages()
        self.chain = MarkovChain(table.paths, order, channels + self.stages)
        self.has_channel = np.fromiter(
            (any(not s.startswith(STAGE_PREFIX) for s in p) for p in table.paths), dtype=bool, count=len(table.paths)
        )

    def credit(self, conversions: np.ndarray, non_conversions: np.ndarray, revenue: np.ndarray) -> Credit:
        """Credit for these per-path counts (channel credit sums to the conversions of journeys with touches)."""
        solution = self.chain.solve(conversions, non_conversions)
        effects = solution.removal_effect[: len(self.channels)]
        total = float(conversions[self.has_channel].sum())
        total_revenue = float(revenue[self.has_channel].sum())
        weights = effects / effects.sum() if effects.sum() > 0 else np.zeros_like(effects)
        stage_effects = {
            name[len(STAGE_PREFIX) :]: float(e)
            for name, e in zip(self.stages, solution.removal_effect[len(self.channels) :], strict=True)
        }
        return Credit(
            model="markov",
            channels=self.channels,
            conversions=weights * total,
            revenue=weights * total_revenue,
            removal_effect=effects,
            stage_effects=stage_effects,
            p_conversion=solution.p_conversion,
        )


class ShapleyModel:
    """Shapley attribution prepared once for a table (bitmasks, or a sampled linear operator above 15)."""

    def __init__(self, table: PathTable, channels: list[str], seed: int) -> None:
        self.channels = channels
        converting = sorted({c for p, n in zip(table.paths, table.conversions, strict=True) if n > 0 for c in p})
        self.players = [c for c in channels if c in converting]
        self.index = np.asarray([channels.index(c) for c in self.players], dtype=np.int64)
        self.masks = channel_masks(table.paths, self.players)
        self.exact = len(self.players) <= EXACT_LIMIT
        self.operator: np.ndarray | None = None
        if not self.exact:
            self.operator = sampled_operator(self.masks, len(self.players), SHAPLEY_PERMUTATIONS, seed)

    def values(self, values: np.ndarray) -> np.ndarray:
        """Shapley values per channel (all channels; non-players get 0) for per-path values."""
        out = np.zeros(len(self.channels))
        keep = self.masks > 0
        if self.exact:
            out[self.index] = shapley_exact(self.masks[keep], values[keep], len(self.players))
        else:
            assert self.operator is not None
            out[self.index] = self.operator[:, keep] @ values[keep]
        return out

    def credit(self, conversions: np.ndarray, revenue: np.ndarray) -> Credit:
        credit = Credit("shapley", self.channels, self.values(conversions), self.values(revenue))
        credit.approximate = not self.exact
        if not self.exact:
            credit.notes.append(
                f"{len(self.players)} channels is above the exact limit of {EXACT_LIMIT}: Shapley values are "
                f"approximated by {SHAPLEY_PERMUTATIONS:,} seeded random channel orders (permutation sampling)"
            )
        return credit


def model_credit(table: PathTable, model: Model, channels: list[str], order: int = 1, seed: int = 7) -> Credit:
    """Credit per channel under one model.

    Args:
        table: the distinct-path table.
        model: one of ``MODELS``.
        channels: the channels to credit (normally ``table.channels()``).
        order: Markov order (1..4).
        seed: seed for the Shapley approximation above 15 channels.

    Raises:
        ArgumentError: time-decay on a table without timestamps.
    """
    if model in HEURISTICS:
        c_mat, r_mat = credit_matrix(table, model, channels)  # type: ignore[arg-type]
        return Credit(model, channels, c_mat @ table.conversions, r_mat @ table.conversions)
    if model == "markov":
        return MarkovModel(table, order, channels).credit(table.conversions, table.non_conversions, table.revenue)
    return ShapleyModel(table, channels, seed).credit(table.conversions, table.revenue)
