"""Describing segments: effect sizes, deterministic names and typical stage paths (numpy on small arrays).

Kept apart from the clustering in ``tools.segments`` so the wording rules can be read (and tested) alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.features import CustomerFeatures

# Features that restate the outcome; they decide the noun of a name ("converters") but never its modifiers.
_OUTCOME = ("converted", "revenue")
# Order in which modifiers are written, so names read naturally ("highly active email-driven fast converters").
_CATEGORY_ORDER = ("volume", "event", "channel", "stage", "speed", "duration", "recency")
# A stage's count says "repeats it" only when its effect clearly exceeds the effect of merely reaching it.
REPEAT_MARGIN = 0.3
MIN_EFFECT_FOR_NAME = 0.3


@dataclass(frozen=True)
class Effects:
    """Per-segment statistics of every feature.

    Attributes:
        smd: (k, p) standardised mean differences, segment vs the rest, on the log1p scale (pooled SD).
        mean_in: (k, p) raw means in the segment (time gaps: over customers who have the gap).
        mean_out: (k, p) raw means among the other customers.
    """

    smd: np.ndarray
    mean_in: np.ndarray
    mean_out: np.ndarray


def effect_sizes(features: CustomerFeatures, transformed: np.ndarray, labels: np.ndarray, k: int) -> Effects:
    """Standardised mean difference of each feature for each segment against all other customers.

    ``d = (mean_in - mean_out) / sqrt((var_in + var_out) / 2)`` on the log1p-transformed values (so a few huge
    counts do not dominate); customers without a time gap are left out of that gap's statistics rather than
    imputed. Segments are ``1..k`` in ``labels``.
    """
    p = len(features.names)
    smd = np.zeros((k, p))
    mean_in = np.zeros((k, p))
    mean_out = np.zeros((k, p))
    index = labels.astype(np.int64) - 1
    for j in range(p):
        raw = features.values[:, j].astype(np.float64)
        valid = ~np.isnan(raw)
        x = np.where(valid, transformed[:, j].astype(np.float64), 0.0)
        r = np.where(valid, raw, 0.0)
        n = np.bincount(index, weights=valid.astype(np.float64), minlength=k)
        s1 = np.bincount(index, weights=x, minlength=k)
        s2 = np.bincount(index, weights=x * x, minlength=k)
        raw_sum = np.bincount(index, weights=r, minlength=k)
        n_out, s1_out, s2_out = n.sum() - n, s1.sum() - s1, s2.sum() - s2
        raw_out = raw_sum.sum() - raw_sum
        with np.errstate(invalid="ignore", divide="ignore"):
            m_in, m_out = s1 / n, s1_out / n_out
            v_in = np.maximum(s2 / n - m_in**2, 0.0)
            v_out = np.maximum(s2_out / n_out - m_out**2, 0.0)
            pooled = np.sqrt((v_in + v_out) / 2.0)
            d = np.where(pooled > 1e-12, (m_in - m_out) / pooled, 0.0)
            mean_in[:, j] = raw_sum / n
            mean_out[:, j] = raw_out / n_out
        smd[:, j] = np.nan_to_num(d, nan=0.0)
    return Effects(smd=smd, mean_in=np.nan_to_num(mean_in), mean_out=np.nan_to_num(mean_out))


def _words(label: str) -> str:
    return label.replace("_", "-").replace(" ", "-")


def phrase(feature: str, effect: float, features: CustomerFeatures, row: dict[str, float]) -> tuple[str, str] | None:
    """The (category, wording) a distinctive feature contributes to a name, or None if it says nothing useful.

    ``row`` holds the segment's effect for every feature: a stage's event count only reads as "<stage>-heavy"
    when it stands out more than reaching the stage does (repeat views, not depth; depth is ``stages_reached``).
    """
    up = effect > 0
    if feature.startswith("touches_"):
        return ("channel", f"{_words(features.labels.get(feature, feature[8:]))}-driven") if up else None
    if feature == "events_total":
        return ("volume", "highly active" if up else "low-activity")
    if feature.startswith("events_"):
        label = features.labels.get(feature, feature[7:])
        reach = row.get(f"reached_{feature[7:]}")
        if reach is not None and effect - reach < REPEAT_MARGIN:
            return None
        return ("event", f"{_words(label)}-heavy") if up else None
    if feature.startswith("hours_") or feature == "median_gap_hours":
        return ("speed", "slow" if up else "fast")
    if feature == "duration_days":
        return ("duration", "long-journey" if up else "short-journey")
    if feature == "recency_days":
        return ("recency", "lapsed" if up else "recent")
    if feature == "stages_reached":
        return ("stage", "deep-funnel" if up else "shallow")
    return None


def noun(conversion_rate: float, overall_rate: float, median_stages: float) -> str:
    """The head noun: converters, bouncers (most reach at most one stage), non-converters or browsers."""
    if overall_rate > 0 and conversion_rate >= 1.5 * overall_rate and conversion_rate > 0:
        return "converters"
    if median_stages <= 1:
        return "bouncers"
    if conversion_rate <= 0.5 * overall_rate:
        return "non-converters"
    return "browsers"


def segment_names(
    features: CustomerFeatures,
    effects: Effects,
    conversion_rates: np.ndarray,
    overall_rate: float,
    median_stages: np.ndarray,
    conversion_features: tuple[str, ...] = (),
) -> list[str]:
    """Deterministic descriptive names, one per segment (segment 1 first).

    A name is up to two modifiers from the segment's most distinctive features (|effect| >= 0.3, largest first,
    ties by feature name), written in a fixed category order, followed by a noun from the conversion rate
    (see ``noun``). Outcome features (converted, revenue, the conversion event) never become modifiers. If two
    segments would share a name, the later (smaller) one takes further modifiers, else a ``#n`` suffix.
    """
    skip = set(_OUTCOME) | set(conversion_features)
    names: list[str] = []
    for s in range(effects.smd.shape[0]):
        head = noun(float(conversion_rates[s]), overall_rate, float(median_stages[s]))
        ranked = sorted(
            (
                (-abs(effects.smd[s, j]), name)
                for j, name in enumerate(features.names)
                if name not in skip and abs(effects.smd[s, j]) >= MIN_EFFECT_FOR_NAME
            ),
        )
        row = dict(zip(features.names, effects.smd[s].tolist(), strict=True))
        candidates: list[tuple[str, str]] = []
        for _, name in ranked:
            if head == "bouncers" and name in ("stages_reached",):
                continue
            found = phrase(name, row[name], features, row)
            if found and found[1] not in (c[1] for c in candidates) and found[0] not in (c[0] for c in candidates):
                candidates.append(found)
        name = ""
        for used in range(min(2, len(candidates)), len(candidates) + 1):
            chosen = sorted(candidates[:used], key=lambda c: _CATEGORY_ORDER.index(c[0]))
            trial = " ".join([c[1] for c in chosen] + [head])
            if trial not in names:
                name = trial
                break
        if not name:
            chosen = sorted(candidates[:2], key=lambda c: _CATEGORY_ORDER.index(c[0]))
            name = " ".join([c[1] for c in chosen] + [head]) + f" #{s + 1}"
        names.append(name)
    return names


def stage_path_codes(stage_first_seconds: np.ndarray) -> np.ndarray:
    """Each customer's stages in order of first occurrence, encoded as one integer (0 = no stage)."""
    n, stages = stage_first_seconds.shape
    if stages == 0:
        return np.zeros(n, dtype=np.int64)
    times = np.where(np.isnan(stage_first_seconds), np.inf, stage_first_seconds)
    # Stable sort: stages first seen at the same instant keep their configured order.
    order = np.argsort(times, axis=1, kind="stable")
    reached = np.isfinite(np.take_along_axis(times, order, axis=1))
    base = stages + 1
    codes = np.zeros(n, dtype=np.int64)
    for position in range(stages):
        digit = np.where(reached[:, position], order[:, position] + 1, 0).astype(np.int64)
        codes += digit * (base**position)
    return codes


def decode_path(code: int, stages: tuple[str, ...]) -> str:
    """``visit > product_view > signup`` from a code of ``stage_path_codes``."""
    base = len(stages) + 1
    parts = []
    while code:
        code, digit = divmod(code, base)
        parts.append(stages[digit - 1])
    return " > ".join(parts) if parts else "(no stage)"


def typical_paths(codes: np.ndarray, labels: np.ndarray, k: int, stages: tuple[str, ...]) -> list[tuple[str, float]]:
    """Per segment: the most common stage path (ties: the shorter/smaller code) and its share of the segment."""
    out: list[tuple[str, float]] = []
    for s in range(1, k + 1):
        values, counts = np.unique(codes[labels == s], return_counts=True)
        if not len(values):
            out.append(("(no customers)", 0.0))
            continue
        best = int(np.argmax(counts))  # np.unique sorts codes, so ties resolve to the smallest code
        out.append((decode_path(int(values[best]), stages), float(counts[best] / counts.sum())))
    return out
