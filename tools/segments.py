"""``segments``: behavioural customer segments from journey features, with names, profiles and typical paths.

Method (printed in every result's ``definition``):

1. per-customer features computed in the engine (``tools.features``); segments are defined by four behavioural
   blocks (activity by event type, funnel depth, pace between stages, journey duration), each weighing the
   same; outcomes, channels and recency only describe them;
2. robust scaling: ``log1p`` of counts, durations, gaps and revenue, median imputation of absent time gaps,
   standardisation with the mean and SD of the fitting sample, values clipped to +-5 SD;
3. k-means (scikit-learn, k-means++ starts, seeded) on a seeded sample of customers (50,000 by default). With
   ``k="auto"`` each k in 2..8 is fitted on a sub-sample of at most 10,000 of them and the k with the highest
   mean silhouette (on at most 3,000) wins, ties to the smaller k; the winner is refined on the whole sample;
4. every customer is assigned to the nearest centre (in batches); segments are numbered by size (1 = largest);
5. each segment is described by standardised mean differences against all other customers, a deterministic
   name from its most distinctive features, its conversion rate and revenue, and its most common stage path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError, DataError
from tools.features import CustomerFeatures, Scaler, customer_features, feature_slug, fit_scaler
from tools.registry import ToolSpec
from tools.result import ToolResult
from tools.segment_profiles import Effects, effect_sizes, segment_names, stage_path_codes, typical_paths

K_RANGE = (2, 8)
SILHOUETTE_SAMPLE = 3_000
SELECTION_SAMPLE = 10_000
SELECTION_INITS = 4
DEFAULT_SAMPLE = 50_000
PREDICT_BATCH = 200_000
PROFILE_FEATURES = 4


@dataclass
class Segmentation:
    """Every customer's segment, with what is needed to describe the segments.

    Attributes:
        features: the per-customer feature table the segments were fitted on.
        labels: segment per customer (``1..k``, 1 = largest), aligned with ``features.customer_ids``.
        k: number of segments.
        names: descriptive name per segment (index 0 = segment 1).
        effects: per-segment effect sizes of every feature.
        selection: the model-selection table, ``[{k, silhouette}]`` (one row when k was given).
        fitted_on: customers in the fitting sample.
        seed: the seed used for sampling and k-means.
    """

    features: CustomerFeatures
    labels: np.ndarray
    k: int
    names: list[str]
    effects: Effects
    selection: list[dict[str, Any]]
    fitted_on: int
    seed: int

    def label_of(self, segment: int) -> str:
        """``"2 · product-view-heavy slow browsers"``."""
        return f"{segment} · {self.names[segment - 1]}"


def _parse_k(k: int | str) -> int | None:
    if isinstance(k, str):
        if k.strip().lower() == "auto":
            return None
        if not k.strip().isdigit():
            raise ArgumentError(f"k {k!r} is not 'auto' or a number of segments between {K_RANGE[0]} and {K_RANGE[1]}")
        k = int(k)
    if not K_RANGE[0] <= k <= K_RANGE[1]:
        raise ArgumentError(f"k must be 'auto' or between {K_RANGE[0]} and {K_RANGE[1]}, got {k}")
    return k


def _fit(x: np.ndarray, k_fixed: int | None, seed: int) -> tuple[Any, list[dict[str, Any]]]:
    """k-means on the (scaled, block-weighted) fitting sample; with ``k_fixed`` None, choose k by silhouette.

    Each candidate k is fitted (best of ``SELECTION_INITS`` k-means++ starts) on a seeded sub-sample of at most
    ``SELECTION_SAMPLE`` customers and scored by mean silhouette on at most ``SILHOUETTE_SAMPLE`` of them; the
    chosen k's centres then seed one refining k-means run on the whole fitting sample.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = x.shape[0]
    rng = np.random.default_rng(seed)
    sub = x[np.sort(rng.choice(n, size=min(SELECTION_SAMPLE, n), replace=False))]
    probe = np.sort(rng.choice(len(sub), size=min(SILHOUETTE_SAMPLE, len(sub)), replace=False))
    distinct = len(np.unique(x, axis=0)) if n <= 200_000 else n
    if k_fixed and k_fixed > distinct:
        raise DataError(
            f"only {distinct} distinct behaviour profiles among the customers: cannot form {k_fixed} segments; "
            f"use --k {distinct} or fewer"
        )
    if distinct < K_RANGE[0]:
        raise DataError("every customer has the same behaviour profile: there is nothing to segment")
    top = min(K_RANGE[1], len(sub) - 1, distinct)
    candidates = [k_fixed] if k_fixed else list(range(K_RANGE[0], top + 1))
    table: list[dict[str, Any]] = []
    best: tuple[float, Any] | None = None
    for k in candidates:
        model = KMeans(n_clusters=k, n_init=SELECTION_INITS, random_state=seed).fit(sub)
        labels = model.labels_[probe]
        score = float(silhouette_score(sub[probe], labels)) if len(set(labels.tolist())) > 1 else -1.0
        table.append({"k": k, "silhouette": round(score, 4)})
        # Strictly greater: ties keep the smaller k (the simpler description).
        if best is None or score > best[0] + 1e-9:
            best = (score, model)
    assert best is not None
    chosen = best[1]
    final = KMeans(n_clusters=chosen.n_clusters, init=chosen.cluster_centers_, n_init=1, random_state=seed).fit(x)
    for row in table:
        row["chosen"] = row["k"] == chosen.n_clusters
    return final, table


def _cluster_space(scaler: Scaler, features: CustomerFeatures, values: np.ndarray) -> np.ndarray:
    """Scaled values of the segment-defining features, each multiplied by its block weight."""
    index, weights = features.cluster_columns()
    return np.ascontiguousarray(scaler.scale(values)[:, index] * weights)


def _predict(model: Any, features: CustomerFeatures, scaler: Scaler) -> np.ndarray:
    out = np.empty(features.n, dtype=np.int64)
    for start in range(0, features.n, PREDICT_BATCH):
        stop = min(start + PREDICT_BATCH, features.n)
        out[start:stop] = model.predict(_cluster_space(scaler, features, features.values[start:stop]))
    return out


def segment(
    dataset: Dataset,
    k: int | str = "auto",
    seed: int = 7,
    sample: int = DEFAULT_SAMPLE,
    stages: tuple[str, ...] | list[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    conversion: str = "purchase",
) -> Segmentation:
    """Segment every customer (cached on the dataset per argument set).

    Args:
        dataset: the loaded events.
        k: ``"auto"`` (2..8 by silhouette) or a fixed number of segments in 2..8.
        seed: seed for the fitting sample, the silhouette sub-sample and k-means.
        sample: customers in the fitting sample (all customers when there are fewer).
        stages: the ordered journey stages.
        conversion: the conversion event.

    Raises:
        ArgumentError: bad ``k``/``sample`` or the conversion event does not occur.
        DataError: too few customers to segment.
    """
    k_fixed = _parse_k(k)
    if sample < 100:
        raise ArgumentError(f"sample must be at least 100 customers, got {sample}")
    dataset.require_events([conversion], what="conversion event")
    key = f"segmentation:{k_fixed}:{seed}:{sample}:{','.join(stages)}:{conversion}"
    if key in dataset._cache:
        cached: Segmentation = dataset._cache[key]
        return cached
    features = customer_features(dataset, tuple(stages), conversion)
    if features.n < max(20, 3 * (k_fixed or K_RANGE[0])):
        raise DataError(f"only {features.n} customers: too few to segment (need at least 20)")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(features.n, size=min(sample, features.n), replace=False))
    scaler = fit_scaler(features, rows)
    model, selection = _fit(_cluster_space(scaler, features, features.values[rows]), k_fixed, seed)
    raw = _predict(model, features, scaler)
    # Number segments by size (largest first; ties by the centre's coordinates) so ids do not depend on k-means;
    # a centre that wins no customer at all is dropped.
    sizes = np.bincount(raw, minlength=model.n_clusters)
    order = sorted(
        (c for c in range(model.n_clusters) if sizes[c] > 0),
        key=lambda c: (-sizes[c], tuple(model.cluster_centers_[c])),
    )
    remap = np.zeros(model.n_clusters, dtype=np.int64)
    remap[order] = np.arange(1, len(order) + 1)
    labels = remap[raw].astype(np.int32)
    k_final = len(order)
    effects = effect_sizes(features, scaler.transform(features.values), labels, k_final)
    converted = features.column("converted").astype(np.float64)
    rates = np.bincount(labels - 1, weights=converted, minlength=k_final) / np.maximum(
        np.bincount(labels - 1, minlength=k_final), 1
    )
    stages_reached = features.column("stages_reached")
    median_stages = np.array([float(np.median(stages_reached[labels == s])) for s in range(1, k_final + 1)])
    conversion_features = (f"events_{feature_slug(conversion)}", f"reached_{feature_slug(conversion)}")
    names = segment_names(
        features, effects, rates, float(converted.mean()), median_stages, conversion_features=conversion_features
    )
    result = Segmentation(
        features=features,
        labels=labels,
        k=k_final,
        names=names,
        effects=effects,
        selection=selection,
        fitted_on=len(rows),
        seed=seed,
    )
    dataset._cache[key] = result
    return result


def _family(name: str) -> str:
    """Features that restate one another share a family, so a profile shows distinct traits."""
    if name.startswith("hours_") or name == "median_gap_hours":
        return "pace"
    for prefix in ("reached_", "events_"):
        if name.startswith(prefix) and name != "events_total":
            return "stage:" + name[len(prefix) :]
    return name


def _profile(seg: Segmentation, s: int, top: int) -> list[tuple[str, float, float, float]]:
    """The ``top`` most distinctive traits of segment ``s``: (feature, effect, segment mean, rest mean).

    Families are ranked by their largest |effect size| (ties by name); each is shown once (five stage-to-stage
    gaps are one trait, pace, shown by ``median_gap_hours``).
    """
    row = seg.effects.smd[s - 1]
    names = seg.features.names
    chosen: list[int] = []
    families: set[str] = set()
    for j in sorted(range(len(row)), key=lambda j: (-abs(row[j]), names[j])):
        family = _family(names[j])
        if family in families:
            continue
        families.add(family)
        # The pace family is shown by the customer-level pace (every multi-stage customer has one), not by
        # whichever single gap happens to differ most (the last gaps exist only for a few converters).
        chosen.append(names.index("median_gap_hours") if family == "pace" and "median_gap_hours" in names else j)
        if len(chosen) == top:
            break
    chosen.sort(key=lambda j: (-abs(row[j]), names[j]))
    return [
        (names[j], float(row[j]), float(seg.effects.mean_in[s - 1, j]), float(seg.effects.mean_out[s - 1, j]))
        for j in chosen
    ]


def write_assignments(seg: Segmentation, path: str | Path) -> Path:
    """Write ``customer_id,segment`` (one row per customer) to a CSV file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    target = Path(path)
    if target.parent and not target.parent.exists():
        raise ArgumentError(
            f"cannot write assignments to {str(target)!r}: folder {str(target.parent)!r} does not exist"
        )
    table = pa.table({"customer_id": seg.features.customer_ids.astype(str), "segment": seg.labels})
    pacsv.write_csv(table, target)
    return target


def segments(
    dataset: Dataset,
    k: int | str = "auto",
    seed: int = 7,
    sample: int = DEFAULT_SAMPLE,
    stages: tuple[str, ...] | list[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    conversion: str = "purchase",
    assignments: str | Path | None = None,
) -> ToolResult:
    """Behavioural segments: who they are, how big, how they convert, their typical path and what sets them apart.

    Args:
        dataset: the loaded events.
        k: ``"auto"`` (choose 2..8 by silhouette) or a number of segments in 2..8.
        seed: seed for sampling and k-means (same seed, same segments).
        sample: customers used to fit the model (everyone is assigned).
        stages: the ordered journey stages (for stage features and typical paths).
        conversion: the conversion event.
        assignments: optional CSV path; ``customer_id,segment`` for every customer is written there.
    """
    seg = segment(dataset, k=k, seed=seed, sample=sample, stages=stages, conversion=conversion)
    features = seg.features
    n = features.n
    counts = np.bincount(seg.labels - 1, minlength=seg.k)
    converted = features.column("converted").astype(np.float64)
    revenue = features.column("revenue").astype(np.float64)
    conv = np.bincount(seg.labels - 1, weights=converted, minlength=seg.k)
    rev = np.bincount(seg.labels - 1, weights=revenue, minlength=seg.k)
    paths = typical_paths(stage_path_codes(features.stage_first_seconds), seg.labels, seg.k, features.stages)
    rows: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for s in range(1, seg.k + 1):
        top = _profile(seg, s, 6)
        rows.append(
            {
                "segment": s,
                "name": seg.names[s - 1],
                "customers": int(counts[s - 1]),
                "share": float(counts[s - 1] / n),
                "conversion_rate": float(conv[s - 1] / max(counts[s - 1], 1)),
                "revenue": round(float(rev[s - 1]), 2),
                "typical_path": paths[s - 1][0],
                "typical_path_share": paths[s - 1][1],
                "profile": {f: round(d, 2) for f, d, _, _ in top[:PROFILE_FEATURES]},
            }
        )
        profiles.extend(
            {
                "segment": s,
                "feature": f,
                "effect_size": round(d, 3),
                "segment_mean": round(m_in, 4),
                "rest_mean": round(m_out, 4),
            }
            for f, d, m_in, m_out in top
        )
    notes = [
        f"{seg.k} segments of {n:,} customers; model fitted on {seg.fitted_on:,} customers (seed {seg.seed}) and "
        "applied to everyone",
        "profile values are standardised mean differences (segment vs all other customers, log1p scale): "
        "|0.2| small, |0.5| medium, |0.8|+ large",
        "segments describe behaviour, not causes: a channel that marks a segment did not necessarily make it convert",
    ]
    if len(seg.selection) > 1:
        chosen = next(r for r in seg.selection if r["chosen"])
        notes.append(
            f"k = {seg.k} chosen automatically: highest silhouette ({chosen['silhouette']:.3f}) among k = 2..8"
        )
        if chosen["silhouette"] < 0.15:
            notes.append("silhouette below 0.15: the segments overlap strongly; treat them as broad tendencies")
    missing = features.definition.get("stages_not_in_data")
    if missing:
        notes.append(f"stages not in the data were skipped: {', '.join(missing)}")
    written = None
    if assignments is not None:
        written = write_assignments(seg, assignments)
        notes.append(f"assignments written to {written} (customer_id,segment)")
    return ToolResult(
        tool="segments",
        definition={
            **definition(dataset),
            **features.definition,
            "k": "auto" if _parse_k(k) is None else _parse_k(k),
            "k_chosen": seg.k,
            "k_selection": f"each k in {K_RANGE[0]}..{K_RANGE[1]} fitted on a seeded sub-sample of at most "
            f"{SELECTION_SAMPLE:,} fitting customers; highest mean silhouette on at most {SILHOUETTE_SAMPLE:,} of "
            "them wins, ties to the smaller k"
            if len(seg.selection) > 1
            else "given",
            "algorithm": f"k-means (scikit-learn): best of {SELECTION_INITS} k-means++ starts on a seeded "
            f"sub-sample of at most {SELECTION_SAMPLE:,} customers, refined on the whole fitting sample; every "
            "customer assigned to the nearest centre",
            "scaling": "log1p of counts, durations, gaps and revenue; absent gaps imputed with the median; "
            "standardised; clipped to +-5 SD; each feature block weighted 1/sqrt(block size)",
            "sample": sample,
            "fitted_on": seg.fitted_on,
            "seed": seed,
            "segment_numbering": "by size, 1 = largest",
            "effect_size": "standardised mean difference vs all other customers, pooled SD, log1p scale; time "
            "gaps over customers who have them",
            "profile": f"the {PROFILE_FEATURES} most distinctive features by |effect size|, one per family (the "
            "stage gaps are one family, a stage's count and reach flag another)",
            "typical_path": "most common sequence of stages in order of first occurrence (repeats collapsed)",
            "naming": "up to two modifiers from the most distinctive features (|effect| >= 0.3) + a noun from "
            "the conversion rate: converters (>= 1.5x overall), bouncers (median customer reaches <= 1 stage), "
            "non-converters (<= 0.5x overall), else browsers",
            "assignments": str(written) if written else None,
        },
        result={
            "customers": n,
            "k": seg.k,
            "segments": rows,
            "profiles": profiles,
            "k_selection": seg.selection,
        },
        notes=notes,
    )


def _engine_table(table: Any) -> Any:
    """A small pyarrow table as an in-memory engine table (Ibis registers it with whichever backend joins it)."""
    import ibis

    return ibis.memtable(table)


def read_assignments(path: str | Path) -> Any:
    """Read a ``customer_id,segment`` CSV (as written by ``--assignments``) into a pyarrow table of strings."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = Path(path)
    if not source.is_file():
        raise ArgumentError(
            f"segment assignments file {str(source)!r} does not exist; write one with "
            "`journey segments --assignments FILE`"
        )
    options = pacsv.ConvertOptions(column_types={"customer_id": pa.string(), "segment": pa.string()})
    try:
        table = pacsv.read_csv(source, convert_options=options)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read segment assignments {str(source)!r}: {exc}") from exc
    if not {"customer_id", "segment"} <= set(table.column_names):
        found = ", ".join(table.column_names)
        raise DataError(f"segment assignments {str(source)!r} need columns customer_id,segment; found {found}")
    return table.select(["customer_id", "segment"])


def with_segments(
    dataset: Dataset,
    k: int | str = "auto",
    seed: int = 7,
    assignments: str | Path | None = None,
    stages: tuple[str, ...] | list[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    conversion: str = "purchase",
) -> Dataset:
    """The dataset with a ``segment`` column on every event (for ``journey funnel --by segment``).

    The column is joined in the engine from ``assignments`` (a ``customer_id,segment`` CSV written by
    ``journey segments --assignments``) when given, else from a segmentation computed here. Computed labels
    read ``"1 · email-driven fast converters"``; customers missing from an assignments file get NULL.
    """
    import pyarrow as pa

    if assignments is not None:
        table = read_assignments(assignments)
        source = f"{dataset.source} + segments from {assignments}"
    else:
        seg = segment(dataset, k=k, seed=seed, stages=stages, conversion=conversion)
        names = np.array([seg.label_of(s) for s in range(1, seg.k + 1)], dtype=object)
        table = pa.table(
            {"customer_id": seg.features.customer_ids.astype(str), "segment": names[seg.labels - 1].astype(str)}
        )
        source = f"{dataset.source} + segments (k={seg.k}, seed={seed})"
    mapping = _engine_table(table)
    events = dataset.events
    columns = [c for c in events.columns if c != "segment"]
    joined = events.select(*columns).left_join(mapping, "customer_id")
    joined = joined.select(*columns, "segment")
    return Dataset(
        con=dataset.con,
        events=joined,
        source=source,
        source_format=dataset.source_format,
        timezone=dataset.timezone,
        quality=dataset.quality,
    )


class SegmentsArgs(BaseModel):
    """Arguments of the ``segments`` tool."""

    model_config = ConfigDict(extra="forbid")
    k: Literal["auto"] | int = Field(
        "auto", description="Number of segments (2-8), or 'auto' to choose it by silhouette."
    )
    seed: int | None = Field(None, description="Random seed (default: the configured seed); same seed, same segments.")
    sample: int = Field(
        DEFAULT_SAMPLE, ge=100, le=2_000_000, description="Customers used to fit the model; everyone is assigned."
    )


def _run(context: ToolContext, args: SegmentsArgs) -> ToolResult:
    return segments(
        context.dataset(),
        k=args.k,
        seed=context.defaults.seed if args.seed is None else args.seed,
        sample=args.sample,
        stages=context.defaults.stages,
        conversion=context.defaults.conversion,
    )


SPECS = [
    ToolSpec(
        name="segments",
        description=(
            "Behavioural customer segments (k-means on per-customer journey features: events by type, touches by "
            "channel, stages reached, journey length and duration, time between stages, recency, conversion, "
            "revenue). Returns each segment's descriptive name, size and share, conversion rate, revenue, most "
            "common stage path and its most distinctive features with effect sizes (standardised mean "
            "differences vs the other customers). Use it for 'what kinds of customers do we have' questions; "
            "it describes behaviour, not causes."
        ),
        args=SegmentsArgs,
        run=_run,
        examples=(
            "what kinds of customers do we have?",
            "segment our customers by behaviour",
            "which customer groups convert best?",
            "who are our fast converters and how do they get here?",
            "cluster customers into personas",
            "which segment brings the most revenue?",
        ),
    )
]
