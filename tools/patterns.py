"""``patterns``: frequent ordered (gapped) event sequences, contrasted between converters and non-converters.

How it stays fast on millions of customers:

1. In the engine, each customer's collapsed journey (``tools.paths.collapsed_journeys``) is cut before their
   first conversion (converters) and capped at ``max_events`` events, encoded as small integers, pivoted to
   one row per customer and grouped, so only the *distinct* journeys come back, each with its number of
   customers and converters (typically a few hundred thousand rows for a million customers).
2. In Python, a level-wise (Apriori) miner works on those weighted distinct journeys with numpy: a "next
   position of each event" table per chunk of journeys turns "does this journey contain pattern P + e" into
   one vectorised lookup per pattern, and supports are weighted sums.

A pattern is contained in a journey if its events occur in that order, other events allowed in between;
each customer counts once per pattern however often it occurs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tools.context import JourneyDefaults, ToolContext
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError
from tools.funnel_engine import materialized
from tools.paths import SEPARATOR, collapsed_journeys
from tools.registry import ToolSpec
from tools.result import ToolResult

RankBy = Literal["lift", "support", "difference"]
MAX_EVENTS = 20
MAX_LENGTH = 5
CHUNK = 50_000


@dataclass(frozen=True)
class WeightedSequences:
    """Distinct journeys as a padded integer matrix with their weights.

    Attributes:
        codes: (n, L) event codes, -1 after the journey's end.
        customers: customers with each journey.
        converters: how many of them converted.
        vocabulary: event name of each code.
    """

    codes: npt.NDArray[np.int16]
    customers: npt.NDArray[np.float64]
    converters: npt.NDArray[np.float64]
    vocabulary: list[str]


def _next_positions(codes: npt.NDArray[np.int16], lookup: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.int8]:
    """Next-position table, flattened to ((L + 1) * rows, width).

    Row ``r * (L + 1) + p``, column ``j``: the first position >= p where journey r has kept item j (L when none).

    Args:
        codes: (rows, L) event codes, -1 padding.
        lookup: kept-item column of every code (-1 for items not kept).
        width: number of kept items.
    """
    rows, length = codes.shape
    nxt = np.full((rows, length + 1, width), length, dtype=np.int8)
    column = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    everyone = np.arange(rows)
    for p in range(length - 1, -1, -1):
        nxt[:, p, :] = nxt[:, p + 1, :]
        hit = column[:, p] >= 0
        nxt[everyone[hit], p, column[hit, p]] = p
    return nxt.reshape(rows * (length + 1), width)


def mine(
    sequences: WeightedSequences,
    min_support: float,
    max_length: int,
    customers: float | None = None,
    converters: float | None = None,
) -> list[tuple[tuple[int, ...], float, float]]:
    """All patterns frequent among all customers or among converters, with weighted counts.

    Level-wise (Apriori): level k + 1 only extends frequent level-k patterns, and only with events whose
    every shorter sub-pattern is frequent. Containment uses the greedy (earliest) embedding of the prefix:
    ``P + e`` is in a journey iff ``e`` occurs after the end of P's earliest embedding.

    Args:
        sequences: weighted distinct journeys.
        min_support: the smallest share of customers (or of converters) containing a pattern.
        max_length: the longest pattern.
        customers: all customers (default: the sequences' weight; more when some journeys are empty).
        converters: all converters (default: the sequences' converter weight).

    Returns:
        ``(pattern codes, customers containing it, converters containing it)`` per frequent pattern.
    """
    codes = sequences.codes
    weights = np.stack([sequences.customers, sequences.converters])
    total = float(weights[0].sum()) if customers is None else customers
    total_conv = float(weights[1].sum()) if converters is None else converters
    if total == 0 or codes.shape[1] == 0:
        return []
    need = np.array([min_support * total, min_support * total_conv if total_conv else np.inf]) - 1e-9
    length, vocabulary = codes.shape[1], len(sequences.vocabulary)
    # Level 1: which events each journey contains at all.
    level_one = np.zeros((2, vocabulary))
    for start in range(0, len(codes), CHUNK):
        part = codes[start : start + CHUNK]
        present = (part[:, :, None] == np.arange(vocabulary)[None, None, :]).any(axis=1)
        level_one += weights[:, start : start + CHUNK] @ present
    keep = [i for i in range(vocabulary) if (level_one[:, i] >= need).any()]
    found: dict[tuple[int, ...], tuple[float, float]] = {
        (i,): (float(level_one[0, i]), float(level_one[1, i])) for i in keep
    }
    lookup = np.full(vocabulary, -1, dtype=np.int64)
    lookup[keep] = np.arange(len(keep))
    level: list[tuple[int, ...]] = [(i,) for i in keep]
    for _ in range(2, max_length + 1):
        candidates = {
            prefix: exts
            for prefix in level
            if (exts := [e for e in keep if _all_subpatterns_frequent((*prefix, e), found)])
        }
        if not candidates:
            break
        sums = {prefix: np.zeros((2, len(keep))) for prefix in candidates}
        for start in range(0, len(codes), CHUNK):
            part = codes[start : start + CHUNK]
            table = _next_positions(part, lookup, len(keep))
            base = np.arange(len(part), dtype=np.int64) * (length + 1)
            part_weights = weights[:, start : start + CHUNK]
            for prefix in candidates:
                end = table[base, lookup[prefix[0]]].astype(np.int64)
                for item in prefix[1:]:
                    end = table[base + np.minimum(end + 1, length), lookup[item]].astype(np.int64)
                # Where each kept event next occurs after the prefix's earliest embedding (L: nowhere).
                after = np.take(table, base + np.minimum(end + 1, length), axis=0)
                sums[prefix] += part_weights @ (after < length)
        level = []
        for prefix, exts in candidates.items():
            for e in exts:
                count = sums[prefix][:, lookup[e]]
                if (count >= need).any():
                    pattern = (*prefix, e)
                    found[pattern] = (float(count[0]), float(count[1]))
                    level.append(pattern)
    return [(p, c, v) for p, (c, v) in found.items()]


def _all_subpatterns_frequent(pattern: tuple[int, ...], found: dict[tuple[int, ...], Any]) -> bool:
    """Apriori: every pattern left after dropping one event (but the last: that is the prefix) is frequent."""
    return all(pattern[:drop] + pattern[drop + 1 :] in found for drop in range(len(pattern) - 1))


def redundant(pattern: tuple[int, ...], counts: dict[tuple[int, ...], tuple[float, float]]) -> bool:
    """True when dropping one event gives a pattern with the same customers and converters (no new information).

    In a funnel every customer with ``demo`` also has ``pricing`` before it, so ``pricing > demo`` is exactly
    ``demo``; listing both only crowds the table.
    """
    if len(pattern) < 2:
        return False
    mine_counts = counts[pattern]
    for drop in range(len(pattern)):
        shorter = pattern[:drop] + pattern[drop + 1 :]
        if counts.get(shorter) == mine_counts:
            return True
    return False


def weighted_sequences(journeys: ir.Table, conversion: str, vocabulary: list[str], max_events: int) -> Any:
    """Distinct capped pre-conversion journeys with customer and converter counts (an engine aggregate)."""
    codes = ibis.memtable({"_name": vocabulary, "_code": list(range(len(vocabulary)))})
    hits = journeys.filter(journeys.event == conversion)
    first = hits.group_by(_cc=hits.customer_id).aggregate(_conv=hits._pos.min())
    rows = journeys.left_join(first, journeys.customer_id == first._cc)
    # Converters: only what happened before their first conversion; everyone: the first `max_events` events.
    rows = rows.filter((rows._conv.isnull() | (rows._pos < rows._conv)) & (rows._pos < max_events))
    rows = rows.join(codes, rows.event == codes._name)
    per_customer = rows.group_by("customer_id").aggregate(
        **{f"_e{i}": rows._code.max(where=rows._pos == i) for i in range(max_events)},
        _converted=rows._conv.notnull().max(),
    )
    # Customers whose first event is the conversion have no pre-conversion journey and no row here.
    columns = [f"_e{i}" for i in range(max_events)]
    return per_customer.group_by([*columns, "_converted"]).aggregate(_customers=per_customer.count()).to_pyarrow()


def _to_sequences(frame: Any, max_events: int, vocabulary: list[str]) -> WeightedSequences:
    columns = [frame[f"_e{i}"].to_numpy(zero_copy_only=False) for i in range(max_events)]
    matrix = np.stack([np.nan_to_num(np.asarray(c, dtype=float), nan=-1.0) for c in columns], axis=1)
    customers = np.asarray(frame["_customers"].to_numpy(zero_copy_only=False), dtype=float)
    converted = np.asarray(frame["_converted"].to_numpy(zero_copy_only=False), dtype=bool)
    return WeightedSequences(matrix.astype(np.int16), customers, customers * converted, vocabulary)


def _rank_key(row: dict[str, Any], rank_by: str) -> tuple[float, int, str]:
    value = row[rank_by]
    return (-float(value) if value is not None else np.inf, -int(row["customers"]), str(row["pattern"]))


def patterns(
    dataset: Dataset,
    min_support: float = 0.05,
    max_length: int = 3,
    conversion: str | None = None,
    top: int = 20,
    rank_by: RankBy = "lift",
    max_events: int = MAX_EVENTS,
    include_redundant: bool = False,
    defaults: JourneyDefaults | None = None,
) -> ToolResult:
    """Frequent ordered event patterns and how much more (or less) common they are among converters.

    Args:
        dataset: the loaded events.
        min_support: keep patterns contained in at least this share of all customers or of converters.
        max_length: the longest pattern (events).
        conversion: the conversion event (default: configured); it never appears inside patterns.
        top: patterns listed.
        rank_by: ``lift`` (P(convert | pattern) / P(convert), default), ``support`` or ``difference``
            (converter_support - non_converter_support).
        max_events: each journey is capped at its first this many events (after collapsing repeats).
        include_redundant: also list patterns with the same counts as a shorter pattern they contain.
        defaults: configured defaults.

    Returns:
        ``result.patterns``: pattern, length, customers, support, converter_support, non_converter_support,
        lift, ranked by ``rank_by``.
    """
    defaults = defaults or JourneyDefaults()
    conversion = conversion or defaults.conversion
    if not 0 < min_support <= 1:
        raise ArgumentError(f"--min-support must be a share between 0 and 1 (e.g. 0.05), got {min_support}")
    if not 1 <= max_length <= MAX_LENGTH:
        raise ArgumentError(f"--max-length must be between 1 and {MAX_LENGTH}, got {max_length}")
    if not 1 <= max_events <= 40:
        raise ArgumentError(f"max_events must be between 1 and 40, got {max_events}")
    if rank_by not in ("lift", "support", "difference"):
        raise ArgumentError(f"rank_by {rank_by!r} is not one of: lift, support, difference")
    dataset.require_events([conversion], what="conversion event")
    vocabulary = [name for name in dataset.event_counts() if name != conversion]
    with materialized(dataset.con, collapsed_journeys(dataset.events)) as journeys:
        frame = weighted_sequences(journeys, conversion, vocabulary, max_events)
    sequences = _to_sequences(frame, max_events, vocabulary)
    customers = int(dataset.summary()["customers"])
    converters = int(sequences.converters.sum())
    empty = customers - int(sequences.customers.sum())
    # Customers whose very first event is the conversion have an empty journey: they count in the totals.
    converters += empty
    non_converters = customers - converters
    mined = mine(sequences, min_support, max_length, customers, converters)
    counts = {pattern: (count, conv) for pattern, count, conv in mined}
    rows = []
    hidden = 0
    for pattern, count, conv in mined:
        if not include_redundant and redundant(pattern, counts):
            hidden += 1
            continue
        support = count / customers
        conv_support = conv / converters if converters else None
        non_support = (count - conv) / non_converters if non_converters else None
        rows.append(
            {
                "pattern": SEPARATOR.join(vocabulary[i] for i in pattern),
                "length": len(pattern),
                "customers": round(count),
                "support": support,
                "converter_support": conv_support,
                "non_converter_support": non_support,
                "lift": conv_support / support if conv_support is not None and support else None,
                "difference": conv_support - non_support
                if conv_support is not None and non_support is not None
                else None,
            }
        )
    rows.sort(key=lambda r: _rank_key(r, rank_by))
    notes = []
    if not converters:
        notes.append(f"no customer has {conversion!r}: lift and converter support are undefined")
    if hidden:
        notes.append(
            f"{hidden:,} frequent patterns omitted: each has exactly the customers and converters of a shorter "
            "pattern it contains (--include-redundant shows them)"
        )
    if empty:
        notes.append(f"{empty:,} customers converted on their first event (empty journey before conversion)")
    return ToolResult(
        tool="patterns",
        definition={
            "min_support": min_support,
            "max_length": max_length,
            "conversion": conversion,
            "rank_by": rank_by,
            "top": top,
            "max_events": max_events,
            "journey": "events ordered by time (ties by event name), consecutive repeats collapsed; converters: "
            "only events before their first conversion; capped at the first `max_events` events",
            "pattern": "events in this order, other events allowed in between; counted once per customer",
            "frequent": "support >= min_support among all customers or among converters",
            "support": "customers containing the pattern / all customers (converter_support: among converters, "
            "non_converter_support: among the others)",
            "lift": "converter_support / support = P(convert | pattern) / P(convert)",
            "difference": "converter_support - non_converter_support",
            "include_redundant": include_redundant,
            "redundant": "a pattern with exactly the customers and converters of a pattern it contains with one "
            "event fewer",
            **definition(dataset),
        },
        result={
            "customers": customers,
            "converters": converters,
            "distinct_journeys": len(sequences.customers),
            "frequent_patterns": len(mined),
            "patterns": rows[:top],
        },
        notes=notes,
    )


class PatternsArgs(BaseModel):
    """Arguments of the ``patterns`` tool."""

    model_config = ConfigDict(extra="forbid")
    min_support: float = Field(
        0.05, gt=0, le=1, description="Smallest share of customers (or of converters) that must show a pattern."
    )
    max_length: int = Field(3, ge=1, le=MAX_LENGTH, description="Longest pattern, in events.")
    top: int = Field(20, ge=1, le=100, description="How many patterns to list.")
    rank_by: Literal["lift", "support", "difference"] = Field(
        "lift",
        description="lift: most over-represented among converters first; support: most common first; "
        "difference: biggest gap between converter and non-converter support first.",
    )


def _run(context: ToolContext, args: PatternsArgs) -> ToolResult:
    return patterns(
        context.dataset(),
        min_support=args.min_support,
        max_length=args.max_length,
        top=args.top,
        rank_by=args.rank_by,
        defaults=context.defaults,
    )


SPECS = [
    ToolSpec(
        name="patterns",
        description=(
            "Frequent ordered event sequences (gapped: other events may occur in between; each customer counted "
            "once) and how they separate converters from non-converters: support overall, among converters and "
            "among non-converters, and lift (how much more likely customers with the pattern convert). "
            "Converters' journeys are cut at their first conversion."
        ),
        args=PatternsArgs,
        run=_run,
        examples=(
            "which sequences of actions lead to purchase?",
            "what do converters do differently from non-converters?",
            "what are the most common behaviour patterns?",
            "which patterns predict conversion?",
            "which journeys are typical of people who never buy?",
        ),
    )
]
