"""``attribution``: how credit for conversions is split across channels (multi-touch attribution).

Attribution answers "how should credit for the conversions we had be split?", never "what would we lose
without this channel?" — that is the causal question answered by ``tools.impact``. Every result says so.

Journeys are built in the engine (``tools.journeys``) and reduced to a small distinct-path table; every model
runs on that table: first, last, linear, time-decay and position-based rules (``tools.heuristics``), Markov
removal effects solved exactly (``tools.markov``), Shapley values (``tools.shapley``), or all of them side by
side with bootstrap intervals (``tools.attribution_all``). A conversion-path export (``--paths``) can stand in
for events for every model except time-decay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.credit import (
    MODELS,
    RULES,
    SHAPLEY_PERMUTATIONS,
    channel_conversions,
    channel_rows,
    model_credit,
)
from tools.dataset import Dataset, definition
from tools.durations import format_duration, parse_duration
from tools.errors import ArgumentError
from tools.journeys import STAGE_PREFIX, PathTable, build_path_table
from tools.registry import ToolSpec
from tools.result import ToolResult
from tools.shapley import EXACT_LIMIT

ModelChoice = Literal["first", "last", "linear", "time-decay", "position", "markov", "shapley", "all"]
CHOICES: tuple[str, ...] = (*MODELS, "all")
NOT_CAUSAL = (
    "attribution is credit, not causation: it splits the conversions that happened across the channels on "
    "their paths; to learn what a channel causes (what would be lost without it) use the impact tool"
)


def _table_facts(table: PathTable) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "total_conversions": channel_conversions(table),
        "total_revenue": float(sum(r for p, r in zip(table.paths, table.revenue, strict=True) if _has_channel(p))),
        "journeys": round(float(table.conversions.sum() + table.non_conversions.sum())),
        "converting_journeys": float(table.conversions.sum()),
        "non_converting_journeys": float(table.non_conversions.sum()),
        "distinct_paths": len(table.paths),
    }
    if "conversions_without_touches" in table.stats:
        facts["conversions_without_touches"] = int(table.stats["conversions_without_touches"])
    return facts


def _has_channel(path: tuple[str, ...]) -> bool:
    return any(not s.startswith(STAGE_PREFIX) for s in path)


def _table_notes(table: PathTable) -> list[str]:
    stats = table.stats
    notes = []
    if stats.get("conversions_without_touches"):
        notes.append(
            f"{stats['conversions_without_touches']:,} conversions had no touch within the lookback and are "
            "credited to no channel"
        )
    if stats.get("touches_outside_lookback"):
        old = stats["touches_outside_lookback"]
        notes.append(f"{old:,} {'touch was' if old == 1 else 'touches were'} older than the lookback and ignored")
    if stats.get("touches_after_last_conversion"):
        notes.append(
            f"{stats['touches_after_last_conversion']:,} touches came after a customer's last conversion and are in "
            "no journey"
        )
    if stats.get("duplicate_path_rows"):
        notes.append(f"{stats['duplicate_path_rows']:,} duplicate path rows in the file were summed")
    if stats.get("empty_paths"):
        notes.append(f"{stats['empty_paths']:,} rows with an empty path were ignored")
    return notes


def attribute(
    source: Dataset | PathTable,
    model: ModelChoice = "markov",
    order: int = 1,
    lookback: timedelta | str = timedelta(days=30),
    half_life: timedelta | str = timedelta(days=7),
    conversion: str = "purchase",
    include_stages: bool = False,
    stages: tuple[str, ...] = (),
    bootstrap: int = 200,
    seed: int = 7,
) -> ToolResult:
    """Split credit for conversions across channels with one attribution model, or compare all of them.

    Args:
        source: the loaded events, or an aggregated path table (``tools.journeys.load_path_table``).
        model: first, last, linear, time-decay, position, markov, shapley, or ``all`` (side by side with
            bootstrap 95% intervals and a flag where channel rankings flip between models).
        order: Markov order K (1..4): states are the last K channels.
        lookback: touches older than this before a conversion are not in its journey.
        half_life: time-decay half-life: a touch this long before the conversion weighs half as much.
        conversion: the conversion event.
        include_stages: Markov only: funnel stages (``stages`` minus the conversion) become states too, and
            each stage's removal effect is reported beside the channels'.
        stages: the ordered funnel stages (for ``include_stages``).
        bootstrap: resamples of journeys for the intervals of ``all`` (0 = no intervals).
        seed: seed for the bootstrap and for the Shapley approximation.

    Raises:
        ArgumentError: unknown model, order outside 1..4, time-decay or stages without events, unknown events.
    """
    if model not in CHOICES:
        raise ArgumentError(f"unknown attribution model {model!r}; models are: {', '.join(CHOICES)}")
    if not 1 <= order <= 4:
        raise ArgumentError(f"Markov order must be 1, 2, 3 or 4, got {order!r}")
    lookback = parse_duration(lookback, "lookback")
    half_life = parse_duration(half_life, "half-life")
    if include_stages and model != "markov":
        raise ArgumentError("--include-stages applies to --model markov only (stages become Markov states)")
    stage_states = tuple(s for s in stages if s != conversion) if include_stages else ()
    if include_stages and not stage_states:
        raise ArgumentError("--include-stages needs funnel stages; set [journey] stages in config.toml")
    if isinstance(source, PathTable):
        if include_stages:
            raise ArgumentError("--include-stages needs events (stage timestamps); a --paths file has only channels")
        if model == "time-decay":
            raise ArgumentError(
                "time-decay needs each touch's time before the conversion, which an aggregated --paths file does "
                "not have; use --data with events, or choose first, last, linear, position, markov or shapley"
            )
        table, base = source, {"source": source.source, "source_format": "aggregated paths"}
    else:
        needs_decay = model in ("time-decay", "all")
        table = build_path_table(
            source, conversion, lookback, stage_states, half_life=half_life if needs_decay else None
        )
        base = definition(source)
    channels = table.channels()
    if not channels:
        raise ArgumentError("no journey has a channel touch; attribution has nothing to credit")
    spec: dict[str, Any] = {
        **base,
        "model": model,
        **table.definition,
        "lookback": table.definition.get("lookback", "as in the export"),
        "half_life": format_duration(half_life) if table.time_decay is not None else "not used",
        "order": order if model in ("markov", "all") else None,
        "causal": False,
    }
    notes = [NOT_CAUSAL, *_table_notes(table)]
    if model == "all":
        from tools.attribution_all import compare_models

        compared, more_notes, extra = compare_models(table, channels, order, bootstrap, seed)
        spec |= extra | {"rules": {m: RULES[m] for m in compared["by_model"]}}
        return ToolResult(
            tool="attribution", definition=spec, result=_table_facts(table) | compared, notes=notes + more_notes
        )
    credit = model_credit(table, model, channels, order=order, seed=seed)
    spec["rule"] = RULES[model]
    if credit.approximate:
        spec["rule"] = spec["rule"].replace(
            "exact Shapley values over channel bitmasks",
            f"Shapley values estimated from {SHAPLEY_PERMUTATIONS:,} seeded random channel orders (too many "
            f"channels for exact values, limit {EXACT_LIMIT})",
        )
    result: dict[str, Any] = {**_table_facts(table), "channels": channel_rows(credit)}
    if credit.p_conversion is not None:
        result["p_conversion"] = credit.p_conversion
    if credit.stage_effects:
        total = result["total_conversions"]
        result["stages"] = [
            {"stage": name, "removal_effect": effect, "conversions_through_stage": effect * total}
            for name, effect in credit.stage_effects.items()
        ]
        result["stages"].sort(key=lambda r: stages.index(r["stage"]) if r["stage"] in stages else len(stages))
        spec["stages_rule"] = (
            "stage events are states too; a stage's removal effect is the share of conversions lost if nobody "
            "passed that stage (comparable with a channel's removal effect); channel credit is normalised to the "
            "conversions of journeys with at least one touch"
        )
    notes.extend(credit.notes)
    if model == "markov" and order > 1:
        notes.append(f"order {order}: states are the last {order} channels, so each state needs enough journeys")
    return ToolResult(tool="attribution", definition=spec, result=result, notes=notes)


class AttributionArgs(BaseModel):
    """Arguments of the ``attribution`` tool."""

    model_config = ConfigDict(extra="forbid")
    model: ModelChoice = Field(
        "markov",
        description=(
            "Attribution model: first, last, linear, time-decay, position (40/20/40), markov (data-driven "
            "removal effects), shapley, or all (every model side by side with 95% intervals)."
        ),
    )
    order: int | None = Field(None, ge=1, le=4, description="Markov order 1..4 (default from config).")
    lookback: str | None = Field(
        None, description="Lookback window before a conversion, e.g. '30d' (default from config)."
    )
    half_life: str | None = Field(None, description="Time-decay half-life, e.g. '7d' (default from config).")
    conversion: str | None = Field(None, description="Conversion event name (default from config, e.g. 'purchase').")
    include_stages: bool = Field(
        False, description="Markov only: also treat funnel stages as states and report each stage's removal effect."
    )


def _run(context: ToolContext, args: AttributionArgs) -> ToolResult:
    d = context.defaults
    return attribute(
        context.dataset(),
        model=args.model,
        order=args.order or d.markov_order,
        lookback=args.lookback or d.lookback,
        half_life=args.half_life or d.half_life,
        conversion=args.conversion or d.conversion,
        include_stages=args.include_stages,
        stages=d.stages,
        bootstrap=d.bootstrap,
        seed=d.seed,
    )


SPECS = [
    ToolSpec(
        name="attribution",
        description=(
            "Multi-touch attribution: splits the CREDIT for conversions across marketing channels using the "
            "channels on each customer's journey (touches before each conversion, within a lookback). Models: "
            "first, last, linear, time-decay, position, markov (removal effects, exact), shapley, or all (side by "
            "side with bootstrap 95% intervals and flags where rankings disagree). Returns per channel: credited "
            "conversions, share, revenue (markov adds removal_effect). Credit is NOT causal: for 'does this "
            "channel actually drive purchases / what would we lose without it' use the impact tool."
        ),
        args=AttributionArgs,
        run=_run,
        examples=(
            "which channels get credit for purchases?",
            "run markov attribution on our channels",
            "compare attribution models for each channel",
            "how much revenue is attributed to email?",
            "what does last-touch attribution say?",
            "shapley value of each marketing channel",
            "which stage or channel would cost us the most conversions if removed?",
        ),
    )
]
