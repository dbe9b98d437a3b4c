"""Seeded synthetic demo data with planted, documented truths (events, feedback, truth.json).

``generate`` simulates the world of ``tools.demo_world`` (segments, journeys, a randomised email, a
zero-effect retargeting, a friction step, an anomalous day) and the feedback of ``tools.demo_feedback``,
then writes

- events.csv / events.parquet: customer_id, timestamp (UTC), event, channel, campaign, revenue, device,
  country
- feedback.csv / feedback.parquet: feedback_id, customer_id, timestamp, text, stage, channel, rating
- segments_truth.parquet (customer_id, segment), feedback_truth.csv (feedback_id, topic, sentiment)
- truth.json: every planted number, the realised effects and plain-language descriptions

and returns the truth dict. Same seed, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tools import demo_feedback as fb
from tools import demo_world as w

# The PCG64 stream for feedback is separate so that changing feedback never changes the events.
FEEDBACK_STREAM = 1


def _names(codes: np.ndarray, names: tuple[str | None, ...]) -> pa.Array:
    """Codes (-1 = null) to a string array via a small dictionary."""
    dictionary = pa.array(list(names), type=pa.string())
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pc.take(dictionary, indices)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array((w.PERIOD_START + seconds).astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC"))


def iso_utc(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """ISO-8601 UTC text (``2024-01-01T00:00:00Z``) of whole-second timestamps.

    Arrow's naive cast gives ``YYYY-MM-DD HH:MM:SS`` quickly (strftime is ~20x slower); as every value has
    the same 19 bytes, the 'T' and 'Z' are patched into the byte matrix directly.
    """
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    naive = ts.cast(pa.timestamp("s")).cast(pa.string())
    n = len(naive)
    offsets = np.frombuffer(naive.buffers()[1], dtype=np.int32, count=n + 1)
    if naive.null_count or naive.offset or n == 0 or offsets[-1] != 19 * n or offsets[0] != 0:
        return pc.strftime(ts.cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    chars = np.empty((n, 20), dtype=np.uint8)
    chars[:, :19] = np.frombuffer(naive.buffers()[2], dtype=np.uint8, count=19 * n).reshape(n, 19)
    chars[:, 10] = ord("T")
    chars[:, 19] = ord("Z")
    return _fixed_width_strings(chars)


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 matrix of ASCII bytes (one row per value)."""
    n, width = chars.shape
    offsets = pa.py_buffer(np.arange(0, width * (n + 1), width, dtype=np.int32))
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(np.ascontiguousarray(chars)))


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int = 7) -> pa.Array:
    """``prefix`` + zero-padded decimal numbers (``c0000123``), wider when a number needs it."""
    top = int(numbers.max()) if numbers.size else 0
    width = max(width, len(str(top)))
    chars = np.empty((numbers.size, len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    for j in range(width):  # one digit column at a time keeps the temporaries at one int64 per row
        chars[:, len(prefix) + j] = (numbers // 10 ** (width - 1 - j)) % 10 + ord("0")
    return _fixed_width_strings(chars)


def customer_ids(n: int, which: np.ndarray | None = None) -> pa.Array:
    """``c0000000``-style ids of customers ``which`` (default: all of 0..n-1), all as wide as n needs.

    Formatting the ids per row directly is ~5x faster than taking them from the customer-level array.
    """
    numbers = np.arange(n, dtype=np.int64) if which is None else which
    return prefixed_ids("c", numbers, width=max(7, len(str(max(n - 1, 0)))))


def _write(table: pa.Table, out: Path, stem: str, csv: bool = True) -> None:
    pq.write_table(table, out / f"{stem}.parquet", compression="zstd")
    if csv:
        cols = {
            name: iso_utc(col) if pa.types.is_timestamp(col.type) else col
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
        pacsv.write_csv(pa.table(cols), out / f"{stem}.csv")


def _event_table(world: w.World) -> pa.Table:
    revenue = world.ev_revenue
    return pa.table(
        {
            "customer_id": customer_ids(world.segment.size, world.ev_customer),
            "timestamp": _timestamps(world.ev_time),
            "event": _names(world.ev_event, w.EVENT_NAMES),
            "channel": _names(world.ev_channel, w.CHANNEL_NAMES),
            "campaign": _names(world.ev_campaign, w.CAMPAIGN_NAMES),
            "revenue": pa.array(revenue, mask=np.isnan(revenue), type=pa.float64()),
            "device": _names(world.device[world.ev_customer], w.DEVICES),
            "country": _names(world.country[world.ev_customer], w.COUNTRIES),
        }
    )


def _feedback_tables(feedback: fb.Feedback, world: w.World) -> tuple[pa.Table, pa.Table]:
    n = feedback.customer.size
    fid = prefixed_ids("f", np.arange(1, n + 1, dtype=np.int64))
    table = pa.table(
        {
            "feedback_id": fid,
            "customer_id": customer_ids(world.segment.size, feedback.customer),
            "timestamp": _timestamps(feedback.time),
            "text": pa.array(feedback.text, type=pa.string()),
            "stage": _names(feedback.stage, w.STAGES),
            "channel": _names(world.entry[feedback.customer], w.ENTRY_CHANNELS),
            "rating": pa.array(feedback.rating.astype(np.int64)),
        }
    )
    truth = pa.table(
        {
            "feedback_id": fid,
            "topic": _names(feedback.topic, fb.TOPICS),
            "sentiment": _names(feedback.sentiment, fb.SENTIMENTS),
        }
    )
    return table, truth


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _realised(world: w.World, feedback: fb.Feedback) -> dict[str, Any]:
    """Realised figures of this draw (for checks): step conversion, effects, exposure, feedback shares."""
    reached = ~np.isnan(world.stage_time)
    counts = reached.sum(axis=0)
    steps = {t: _rate(int(counts[i + 1]), int(counts[i])) for i, t in enumerate(w.TRANSITIONS)}
    by_segment = {}
    for si, s in enumerate(w.SEGMENTS):
        c = reached[world.segment == si].sum(axis=0)
        by_segment[s] = {t: _rate(int(c[i + 1]), int(c[i])) for i, t in enumerate(w.TRANSITIONS)}
    signups = reached[:, 2]
    purchase = reached[:, 5]
    pricing = reached[:, 3]
    rt = world.retargeted
    neg_idx = fb.SENTIMENTS.index("negative")
    neg_by_stage = {}
    for k, s in enumerate(w.STAGES):
        m = feedback.stage == k
        neg_by_stage[s] = _rate(int((feedback.sentiment[m] == neg_idx).sum()), int(m.sum()))
    return {
        "customers_by_segment": {s: int((world.segment == i).sum()) for i, s in enumerate(w.SEGMENTS)},
        "events": int(world.ev_customer.size),
        "customers_reaching_stage": {s: int(counts[i]) for i, s in enumerate(w.STAGES)},
        "step_conversion": steps,
        "step_conversion_by_segment": by_segment,
        "email_exposure_rate_among_signups": _rate(int(world.email.sum()), int(signups.sum())),
        "purchase_rate_email_exposed": _rate(int(purchase[world.email].sum()), int(world.email.sum())),
        "purchase_rate_signups_not_exposed": _rate(
            int(purchase[signups & ~world.email].sum()), int((signups & ~world.email).sum())
        ),
        "retargeting_rate_among_pricing": _rate(int(rt.sum()), int(pricing.sum())),
        "naive_purchase_rate_retargeted": _rate(int(purchase[rt].sum()), int(rt.sum())),
        "naive_purchase_rate_not_retargeted": _rate(int(purchase[~rt].sum()), int((~rt).sum())),
        "purchase_rate_pricing_not_retargeted": _rate(int(purchase[pricing & ~rt].sum()), int((pricing & ~rt).sum())),
        "purchase_rate_pricing_retargeted": _rate(int(purchase[pricing & rt].sum()), int((pricing & rt).sum())),
        "feedback_rows": int(feedback.customer.size),
        "feedback_negative_share_by_stage": neg_by_stage,
        "feedback_with_pii": int(feedback.pii.sum()),
    }


def _description(anomaly: bool, att: float) -> list[str]:
    """Plain sentences describing every planted truth (for people reading truth.json)."""
    anomaly_line = (
        f"On {w.ANOMALY_DATE} signup is broken: product_view -> signup is multiplied by "
        f"{w.ANOMALY_MULTIPLIER} for product views or signup attempts on that day."
        if anomaly
        else "No anomalous day is planted."
    )
    return [
        "Customers arrive uniformly over 2024-01-01..2024-02-18 (UTC), ~30% fewer on weekends.",
        "Journeys go visit -> product_view -> signup -> pricing -> demo -> purchase (purchase has revenue).",
        "Three segments: fast_converters (~20%, hours between stages, one product view, high revenue), "
        "researchers (~35%, 3-8 product views, many page views, days between stages), bouncers (~45%, "
        "mostly a visit and maybe one product view).",
        "pricing -> demo is the planted friction: by far the weakest transition in every segment.",
        f"Email (touch/email) is randomised: {w.EMAIL_PROBABILITY:.0%} of customers who signed up get it "
        f"about a day later; it raises pricing->demo by {w.EMAIL_EFFECT[3]:+.2f} and demo->purchase by "
        f"{w.EMAIL_EFFECT[4]:+.2f}; realised ATT on purchase = {att:.2f} pp.",
        f"Retargeting (touch/retargeting) is shown only to customers who reached pricing "
        f"({w.RETARGETING_PROBABILITY:.0%} of them), a few hours later; its true effect is zero, "
        "although it looks strong in naive comparisons and attribution.",
        anomaly_line,
        "About 15% of customers leave feedback at a stage they reached; negative feedback concentrates "
        "at demo (~70% negative) and topics follow the stage (pricing -> pricing, "
        "demo -> demo_scheduling).",
        "About 3% of feedback texts contain PII (an email address, a phone number or a card-like number).",
        "Events after 2024-02-18T23:59:59Z are dropped: late arrivals are mid-journey (right-censored).",
    ]


def build_truth(customers: int, seed: int, anomaly: bool, world: w.World, feedback: fb.Feedback) -> dict[str, Any]:
    """The truth.json document: planted parameters, realised effects and descriptions."""
    diff = world.y1.astype(np.int64) - world.y0.astype(np.int64)
    signups = ~np.isnan(world.stage_time[:, 2])
    att = float(diff[world.email].mean() * 100) if world.email.any() else 0.0
    ate = float(diff[signups].mean() * 100) if signups.any() else 0.0
    transitions = w.TRANSITIONS
    email_effect = {t: e for t, e in zip(transitions, w.EMAIL_EFFECT, strict=True) if e}
    return {
        "seed": seed,
        "customers": customers,
        "period": {
            "start": "2024-01-01T00:00:00Z",
            "end": "2024-02-18T23:59:59Z",
            "timezone": "UTC",
            "iso_weeks": ["2024-W01", "2024-W07"],
        },
        "stages": list(w.STAGES),
        "conversion_event": w.CONVERSION_EVENT,
        "segments": {
            s: {
                "share": w.SEGMENT_SHARES[i],
                "transition_probabilities": dict(zip(transitions, w.TRANSITION_PROBS[s], strict=True)),
                "gap_median_hours": w.GAP_MEDIAN_HOURS[s],
                "revenue_mean": w.REVENUE_MEAN[s],
                "filler_rates": w.FILLER_RATES[s],
            }
            for i, s in enumerate(w.SEGMENTS)
        },
        "friction": {"from": w.FRICTION[0], "to": w.FRICTION[1]},
        "entry_channels": dict(zip(w.ENTRY_CHANNELS, w.ENTRY_SHARES, strict=True)),
        "entry_channel_signup_shift": w.ENTRY_SIGNUP_SHIFT,
        "channels": {
            "email": {
                "event": "touch",
                "assignment": "randomised among customers who reached signup",
                "probability": w.EMAIL_PROBABILITY,
                "campaigns": list(w.EMAIL_CAMPAIGNS),
                "timing": "about 1 day after signup, before pricing",
                "effect_on_transitions": email_effect,
                "att_pp": round(att, 3),
                "ate_pp_signups": round(ate, 3),
                "outcome": "purchase within the period; potential outcomes with common random numbers",
            },
            "retargeting": {
                "event": "touch",
                "assignment": "targeted: only customers who reached pricing",
                "probability": w.RETARGETING_PROBABILITY,
                "campaign": w.RETARGETING_CAMPAIGN,
                "timing": "a few hours after pricing",
                "true_effect_pp": 0,
            },
            "paid_search": {
                "retouch_probability": w.PAID_RETOUCH_PROBABILITY,
                "retouch_assignment": "random among all customers, 1-24 hours after arrival",
                "campaigns": list(w.PAID_SEARCH_CAMPAIGNS),
                "true_effect_pp": 0,
            },
        },
        "anomaly": (
            {
                "date": w.ANOMALY_DATE,
                "metric": "signup",
                "transition": ["product_view", "signup"],
                "multiplier": w.ANOMALY_MULTIPLIER,
                "applies_to": "customers whose product_view or signup attempt falls on that UTC day",
            }
            if anomaly
            else None
        ),
        "feedback": {
            "negative_stage": "demo",
            "negative_share_by_stage": fb.NEGATIVE_SHARE_BY_STAGE,
            "topics": list(fb.TOPICS),
            "topic_by_stage": {s: dict(zip(fb.TOPICS, p, strict=True)) for s, p in fb.TOPIC_BY_STAGE.items()},
            "pii_share": fb.PII_SHARE,
            "pii_kinds": ["email address", "phone number", "card-like number"],
            "channel": "the customer's entry channel",
        },
        "realised": _realised(world, feedback),
        "description": _description(anomaly, att),
    }


def simulate(customers: int, seed: int, anomaly: bool = True) -> tuple[w.World, fb.Feedback]:
    """The seeded world and its feedback, in memory (``generate`` writes them; benchmarks time them)."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers!r}")
    world = w.simulate(customers, np.random.Generator(np.random.PCG64(seed)), anomaly=anomaly)
    feedback_rng = np.random.Generator(np.random.PCG64([seed, FEEDBACK_STREAM]))
    return world, fb.simulate_feedback(feedback_rng, world.stage_time)


def write_events(world: w.World, out: Path) -> None:
    """events.parquet + events.csv, and segments_truth.parquet."""
    _write(_event_table(world), out, "events")
    segments = pa.table({"customer_id": customer_ids(world.segment.size), "segment": _names(world.segment, w.SEGMENTS)})
    pq.write_table(segments, out / "segments_truth.parquet", compression="zstd")


def write_feedback(world: w.World, feedback: fb.Feedback, out: Path) -> None:
    """feedback.parquet + feedback.csv, and feedback_truth.csv."""
    table, labels = _feedback_tables(feedback, world)
    _write(table, out, "feedback")
    pacsv.write_csv(labels, out / "feedback_truth.csv")


def generate(customers: int = 20_000, seed: int = 42, out: Path | str = "demo", anomaly: bool = True) -> dict[str, Any]:
    """Generate the demo data into ``out`` and return the truth (also written to truth.json).

    Args:
        customers: number of simulated customers (~10 events each).
        seed: the random seed; the same seed gives byte-identical files.
        out: output folder (created if missing).
        anomaly: plant the broken-signup day 2024-02-14; ``False`` gives a calm dataset.

    Raises:
        ValueError: ``customers`` is below 1.
    """
    world, feedback = simulate(customers, seed, anomaly)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_events(world, out)
    write_feedback(world, feedback, out)
    truth = build_truth(customers, seed, anomaly, world, feedback)
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth
