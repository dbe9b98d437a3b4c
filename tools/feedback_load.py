"""Reading feedback files (CSV/TSV, Parquet, JSON/JSONL) and inferring a missing journey stage.

Canonical feedback fields (mapped from the file's columns like events: a ``columns`` dict, CLI ``--map``):

| field | required | meaning |
|---|---|---|
| customer_id | yes (column) | who wrote it; joins feedback to the customer's events |
| timestamp | yes (column) | when; parsed exactly like event timestamps (offsets honoured, naive = ``timezone``) |
| text | yes | the feedback; rows with empty text are excluded (counted) |
| feedback_id | no | the record's id; without it the id is a hash of customer, timestamp and text |
| stage | no | the journey stage it is about; inferred from events when missing |
| channel | no | where it came from (survey, review site, ticket …) or the customer's channel |
| rating | no | a numeric score (e.g. 1-5) |

Feedback files are small (up to a few hundred thousand rows), so after parsing in the engine they come back
as one pandas frame. Stage inference is an engine join against the (large) event table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from tools.errors import DataError
from tools.sources import check_empty, file_format, read_raw, resolve_files
from tools.timeparse import naive_range, to_utc

if TYPE_CHECKING:
    import pandas as pd

    from tools.dataset import Dataset

FIELDS = ("feedback_id", "customer_id", "timestamp", "text", "stage", "channel", "rating")
REQUIRED = ("customer_id", "timestamp", "text")
STAGE_RULE = (
    "a missing stage is the customer's furthest configured stage (by stage order) among their events at or "
    "before the feedback time"
)


@dataclass
class FeedbackFile:
    """A loaded feedback file.

    Attributes:
        frame: columns ``id, fingerprint, feedback_id, customer_id, timestamp (naive UTC), text, stage,
            stage_source, channel, rating``, one row per usable, distinct record. ``fingerprint`` is
            ``record_id`` of the content; ``id`` is the file's feedback_id, or the fingerprint without one.
        source: the path read.
        counts: rows read, excluded and why, duplicates, stages given/inferred/unknown.
        notes: plain-language caveats.
    """

    frame: pd.DataFrame
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def record_id(customer_id: Any, timestamp: Any, text: str) -> str:
    """The stable id of a record without a feedback_id: a hash of customer, time and text."""
    key = f"{customer_id or ''}\x1f{timestamp.isoformat() if hasattr(timestamp, 'isoformat') else timestamp}\x1f{text}"
    return "h" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:24]


def _read(path: str | Path, columns: dict[str, str], timezone: str) -> tuple[pd.DataFrame, list[str]]:
    """Parse the file in DuckDB (formats, gzip and timestamps as for events) and return a small frame."""
    from tools.dataset import connect

    files = resolve_files(path)
    check_empty(files)
    con = connect("duckdb")
    mapping = {f: columns.get(f, f) for f in FIELDS}
    try:
        raw = read_raw(con, files, file_format(files), id_columns=(mapping["customer_id"], mapping["feedback_id"]))
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"cannot read feedback file {str(path)!r} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "use a CSV/TSV, Parquet or JSON-lines file"
        ) from exc
    found = list(raw.columns)
    for name in REQUIRED:
        if mapping[name] not in found:
            raise DataError(
                f"required feedback column {mapping[name]!r} (for {name}) is not in {str(path)!r}; columns found: "
                f"{', '.join(found)} — map it with --map {name}=COLUMN"
            )
    missing = [f for f in FIELDS if f not in REQUIRED and mapping[f] not in found]
    ts = raw[mapping["timestamp"]]
    probe = naive_range(ts)
    data_range = None
    if probe is not None and not probe.type().is_null():
        row = raw.aggregate(lo=probe.min(), hi=probe.max()).to_pyarrow().to_pylist()[0]
        data_range = (row["lo"], row["hi"]) if row["lo"] is not None else None

    def text_of(name: str) -> Any:
        if mapping[name] not in found:
            return ibis.null("string")
        return raw[mapping[name]].cast("string").strip().nullif("")

    rating = ibis.null("float64")
    if mapping["rating"] in found:
        column = raw[mapping["rating"]]
        rating = column.cast("float64") if column.type().is_numeric() else column.cast("string").try_cast("float64")
    table = raw.select(
        feedback_id=text_of("feedback_id"),
        customer_id=text_of("customer_id"),
        timestamp=to_utc(ts, timezone, data_range),
        text=text_of("text"),
        stage=text_of("stage"),
        channel=text_of("channel"),
        rating=rating,
    )
    return table.to_pandas(), [mapping[f] for f in missing]


def load_feedback(
    path: str | Path,
    columns: dict[str, str] | None = None,
    timezone: str = "UTC",
    dataset: Dataset | None = None,
    stages: tuple[str, ...] = (),
) -> FeedbackFile:
    """Load a feedback file, give every record a stable id, and infer missing stages from events.

    Args:
        path: a file, glob or folder of CSV/TSV, Parquet or JSON-lines feedback.
        columns: canonical field -> column in the file, for fields named differently.
        timezone: the IANA zone assumed for timestamps without an offset.
        dataset: the customers' events; when given, missing stages are inferred (``STAGE_RULE``).
        stages: the ordered journey stages used for inference.

    Raises:
        DataError: missing file or required column, unknown mapping field, or no usable rows.
    """
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise DataError(f"unknown feedback field {unknown[0]!r} in --map; fields are: {', '.join(FIELDS)}")
    frame, missing = _read(path, columns, timezone)
    counts = {"rows_read": len(frame)}
    notes = [f"optional feedback column {c!r} not in the file; treated as empty" for c in missing]
    if counts["rows_read"] == 0:
        raise DataError(f"the feedback file {str(path)!r} has no rows")
    empty = frame["text"].isna()
    counts["excluded_empty_text"] = int(empty.sum())
    frame = frame.loc[~empty].reset_index(drop=True)
    counts["missing_customer_id"] = int(frame["customer_id"].isna().sum())
    counts["missing_timestamp"] = int(frame["timestamp"].isna().sum())
    if frame.empty:
        raise DataError(f"no usable feedback in {str(path)!r}: every row has an empty text column")
    frame["fingerprint"] = [
        record_id(cid, ts, text)
        for cid, ts, text in zip(frame["customer_id"], frame["timestamp"], frame["text"], strict=True)
    ]
    # The file's own id wins within one file; the store tells same-id, other-content records apart by
    # fingerprint (see tools.feedback.index_feedback).
    frame["id"] = [
        str(fid) if isinstance(fid, str) else fp
        for fid, fp in zip(frame["feedback_id"], frame["fingerprint"], strict=True)
    ]
    before = len(frame)
    frame = frame.drop_duplicates("id", keep="first").reset_index(drop=True)
    counts["duplicate_ids"] = before - len(frame)
    frame["stage_source"] = frame["stage"].notna().map({True: "file", False: "unknown"})
    needs = frame["stage"].isna() & frame["customer_id"].notna() & frame["timestamp"].notna()
    if needs.any() and dataset is not None and stages:
        inferred = infer_stages(frame.loc[needs, ["customer_id", "timestamp"]], dataset, stages)
        frame.loc[inferred.index, "stage"] = inferred
        frame.loc[inferred.index, "stage_source"] = "inferred"
    elif needs.any():
        notes.append(
            f"{int(needs.sum()):,} records have no stage and no event data was given to infer it; "
            "pass --data EVENTS to infer stages"
        )
    counts["stage_from_file"] = int((frame["stage_source"] == "file").sum())
    counts["stage_inferred"] = int((frame["stage_source"] == "inferred").sum())
    counts["stage_unknown"] = int(frame["stage"].isna().sum())
    frame["stage"] = frame["stage"].fillna("unknown")
    if counts["excluded_empty_text"]:
        notes.append(f"{counts['excluded_empty_text']:,} rows excluded: empty text")
    if counts["duplicate_ids"]:
        notes.append(f"{counts['duplicate_ids']:,} duplicate records in the file (same id) kept once")
    if counts["stage_inferred"]:
        notes.append(f"{counts['stage_inferred']:,} stages inferred from events: {STAGE_RULE}")
    return FeedbackFile(frame, str(path), counts, notes)


def infer_stages(rows: pd.DataFrame, dataset: Dataset, stages: tuple[str, ...]) -> pd.Series:
    """The furthest stage each (customer_id, timestamp) row had reached at that time, as an engine join.

    Args:
        rows: a frame with ``customer_id`` and ``timestamp`` (naive UTC), any index.
        dataset: the events.
        stages: ordered stage event names.

    Returns:
        Stage names indexed like ``rows``; rows with no stage event before their time are absent.
    """
    import pandas as pd

    con = dataset.con
    probe = pd.DataFrame(
        {
            "_row": range(len(rows)),
            "_cid": rows["customer_id"].astype(str).to_numpy(),
            "_fts": rows["timestamp"].to_numpy(),
        }
    )
    ranks = pd.DataFrame({"_event": list(stages), "_rank": list(range(len(stages)))})
    feedback = _engine_table(con, probe)
    rank_table = _engine_table(con, ranks)
    events = dataset.events
    staged = events.join(rank_table, events.event == rank_table._event).select(
        _ecid=events.customer_id, _ets=events.timestamp, _rank=rank_table._rank
    )
    joined = feedback.join(staged, [feedback._cid == staged._ecid, staged._ets <= feedback._fts])
    result = joined.group_by("_row").agg(_rank=joined._rank.max()).to_pandas()
    names = result["_rank"].map(dict(enumerate(stages)))
    positions = rows.index.to_numpy()[result["_row"].to_numpy()]
    return pd.Series(names.to_numpy(), index=positions, dtype=object)


def _engine_table(con: Any, frame: pd.DataFrame) -> Any:
    """A small frame as a table on ``con`` (a memtable on DuckDB; a temp table elsewhere, e.g. Spark)."""
    if con.name == "duckdb":
        return ibis.memtable(frame)
    name = ibis.util.gen_name("feedback")
    return con.create_table(name, frame, temp=True)
