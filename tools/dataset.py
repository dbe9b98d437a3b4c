"""The canonical event table: loading, adapters, validation, identity stitching, engine connection.

Canonical columns (ARCHITECTURE.md): ``customer_id`` (string), ``timestamp`` (naive UTC), ``event`` (string),
``channel`` (string, NULL for non-touch events), ``campaign`` (string), ``revenue`` (float64); any other column
of the input is kept as a property usable for breakdowns.

The whole table lives in the engine (DuckDB by default, any Ibis backend by URL); nothing here copies it into
pandas. Rows that cannot be used are counted in ``QualityReport`` and excluded, never silently.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from tools import adapters
from tools.errors import ConfigError, DataError
from tools.sources import SOURCE_FORMATS, check_empty, csv_rejects, file_format, read_raw, resolve_files, sniff
from tools.timeparse import TIMESTAMP_RULES, naive_range, to_utc

CANONICAL = ("customer_id", "timestamp", "event", "channel", "campaign", "revenue")
REQUIRED = ("customer_id", "timestamp", "event")
_TYPES = {"customer_id": "string", "event": "string", "channel": "string", "campaign": "string", "revenue": "float64"}


@dataclass(frozen=True)
class ColumnMap:
    """Names of the user's columns for each canonical field (``[data.columns]`` or flags)."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    event: str = "event"
    channel: str = "channel"
    campaign: str = "campaign"
    revenue: str = "revenue"
    anonymous_id: str = "anonymous_id"


@dataclass
class QualityReport:
    """What happened to every input row."""

    rows_read: int = 0
    rows_loaded: int = 0
    malformed_lines: int = 0
    malformed_example: str | None = None
    unusable_rows: int = 0  # rows with at least one of the four problems below (a row may have several)
    null_customer_id: int = 0
    null_timestamp: int = 0
    unparseable_timestamp: int = 0
    null_event: int = 0
    duplicate_events: int = 0
    unparseable_revenue: int = 0
    identity_calls: int = 0
    stitched_anonymous_ids: int = 0
    stitch_conflicts: int = 0
    missing_optional_columns: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def rows_excluded(self) -> int:
        """Every input row not loaded: malformed lines, unusable rows and exact duplicates."""
        return self.malformed_lines + self.unusable_rows + self.duplicate_events

    def notes(self) -> list[str]:
        """Plain-language lines for every non-zero count."""
        out = []
        if self.malformed_lines:
            out.append(
                f"{self.malformed_lines:,} malformed CSV line(s) excluded (first: {self.malformed_example}); "
                "quote fields that contain the delimiter"
            )
        if self.null_customer_id:
            out.append(f"{self.null_customer_id:,} rows excluded: no customer id")
        if self.null_timestamp:
            out.append(f"{self.null_timestamp:,} rows excluded: no timestamp")
        if self.unparseable_timestamp:
            out.append(f"{self.unparseable_timestamp:,} rows excluded: timestamp could not be parsed")
        if self.null_event:
            out.append(f"{self.null_event:,} rows excluded: no event name")
        reasons = self.null_customer_id + self.null_timestamp + self.unparseable_timestamp + self.null_event
        if reasons > self.unusable_rows:
            out.append(f"{self.unusable_rows:,} rows excluded in all for the reasons above (a row can have several)")
        if self.duplicate_events:
            out.append(f"{self.duplicate_events:,} exact duplicate events excluded (first copy kept)")
        if self.unparseable_revenue:
            out.append(f"{self.unparseable_revenue:,} revenue values were not numbers and were set to empty")
        if self.identity_calls:
            out.append(f"{self.identity_calls:,} identify/alias calls used only for identity stitching")
        if self.stitched_anonymous_ids:
            out.append(f"{self.stitched_anonymous_ids:,} anonymous ids merged into known customers")
        if self.stitch_conflicts:
            out.append(
                f"{self.stitch_conflicts:,} anonymous ids were seen with several customer ids; "
                "each was merged into the earliest one"
            )
        for column in self.missing_optional_columns:
            out.append(f"optional column {column!r} not in the data; treated as empty")
        return out

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_excluded"] = self.rows_excluded
        return data


@dataclass
class Dataset:
    """Loaded events on an engine.

    Attributes:
        con: the Ibis backend holding the table.
        events: the canonical event table (an Ibis expression; heavy work stays in the engine).
        source: what was loaded (path or description).
        source_format: the format used after ``auto`` detection.
        timezone: the zone assumed for naive timestamps.
        quality: counts of rows read, loaded and excluded.
    """

    con: Any
    events: ir.Table
    source: str = "<memory>"
    source_format: str = "memory"
    timezone: str = "UTC"
    quality: QualityReport = field(default_factory=QualityReport)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def backend(self) -> str:
        return str(self.con.name)

    @property
    def property_columns(self) -> list[str]:
        """Columns beyond the canonical ones (usable as breakdowns)."""
        return [c for c in self.events.columns if c not in CANONICAL]

    def event_counts(self) -> dict[str, int]:
        """Events by name, most frequent first (cached)."""
        if "event_counts" not in self._cache:
            t = self.events
            frame = t.group_by("event").agg(n=t.count()).order_by([ibis.desc("n"), "event"]).to_pyarrow()
            self._cache["event_counts"] = dict(zip(frame["event"].to_pylist(), frame["n"].to_pylist(), strict=True))
        return dict(self._cache["event_counts"])

    def channel_counts(self) -> dict[str, int]:
        """Touch events by channel, most frequent first (cached)."""
        if "channel_counts" not in self._cache:
            t = self.events.filter(self.events.channel.notnull())
            frame = t.group_by("channel").agg(n=t.count()).order_by([ibis.desc("n"), "channel"]).to_pyarrow()
            self._cache["channel_counts"] = dict(zip(frame["channel"].to_pylist(), frame["n"].to_pylist(), strict=True))
        return dict(self._cache["channel_counts"])

    def summary(self) -> dict[str, Any]:
        """Customers, events and the time range (cached)."""
        if "summary" not in self._cache:
            t = self.events
            row = (
                t.aggregate(
                    customers=t.customer_id.nunique(),
                    events=t.count(),
                    first=t.timestamp.min(),
                    last=t.timestamp.max(),
                    touches=t.channel.notnull().sum(),
                    revenue=t.revenue.sum(),
                )
                .to_pyarrow()
                .to_pylist()[0]
            )
            self._cache["summary"] = row
        return dict(self._cache["summary"])

    def require_events(self, names: list[str] | tuple[str, ...], what: str = "step") -> None:
        """Raise an ``ArgumentError`` listing the known event names if any of ``names`` never occurs."""
        from tools.errors import ArgumentError

        known = self.event_counts()
        missing = [n for n in names if n not in known]
        if missing:
            listed = ", ".join(list(known)[:40])
            raise ArgumentError(
                f"{what} {missing[0]!r} does not occur in the data; events are: {listed}"
                + (" …" if len(known) > 40 else "")
            )

    def require_column(self, name: str) -> None:
        """Raise an ``ArgumentError`` listing the columns if ``name`` is not one."""
        from tools.errors import ArgumentError

        if name not in self.events.columns:
            raise ArgumentError(
                f"column {name!r} is not in the data; breakdown columns are: "
                + ", ".join(c for c in self.events.columns if c not in ("timestamp", "customer_id", "revenue"))
            )


def connect(backend: str = "duckdb", threads: int = 0) -> Any:
    """Open the engine: ``duckdb`` (embedded, in memory) or any Ibis connection URL.

    Raises:
        ConfigError: the URL cannot be opened.
    """
    try:
        if backend in ("duckdb", "duckdb://", ""):
            con = ibis.duckdb.connect()
        elif backend in ("pyspark", "spark", "pyspark://"):
            from pyspark.sql import SparkSession

            session = SparkSession.builder.master("local[2]").appName("journey").getOrCreate()
            con = ibis.pyspark.connect(session)
        else:
            con = ibis.connect(backend)
    except Exception as exc:
        raise ConfigError(
            f"cannot open engine {backend!r} ({type(exc).__name__}: {exc}); fix [engine] backend in config.toml"
        ) from exc
    set_utc(con)
    if con.name == "duckdb":
        # Progress bars would break the one-line stderr contract of the CLI.
        con.raw_sql("SET enable_progress_bar=false")
        if threads:
            con.raw_sql(f"SET threads={int(threads)}")
    return con


def set_utc(con: Any) -> None:
    """Run the engine session in UTC so casts between zoned and naive timestamps are exact."""
    if con.name == "duckdb":
        con.raw_sql("SET TimeZone='UTC'")
        con.raw_sql("SET enable_progress_bar=false")
    elif con.name == "pyspark":
        con._session.conf.set("spark.sql.session.timeZone", "UTC")


def _materialize(con: Any, expr: ir.Table) -> ir.Table:
    name = ibis.util.gen_name("events")
    if con.name == "duckdb":
        return con.create_table(name, expr, temp=True)
    if con.name == "pyspark":
        view = con.create_view(name, expr, overwrite=True)
        con._session.table(name).cache()
        return view
    return con.create_table(name, expr, temp=True)


def _data_range(con: Any, raw_ts: ir.Value, table: ir.Table) -> tuple[datetime, datetime] | None:
    probe = naive_range(raw_ts)
    if probe is None:
        return None
    row = table.aggregate(lo=probe.min(), hi=probe.max()).to_pyarrow().to_pylist()[0]
    if row["lo"] is None:
        return None
    return row["lo"], row["hi"]


def map_columns(raw: ir.Table, columns: ColumnMap, quality: QualityReport) -> ir.Table:
    """Rename the user's columns to canonical names; missing required columns are a ``DataError``."""
    found = list(raw.columns)
    mapping = asdict(columns)
    for canonical in REQUIRED:
        if mapping[canonical] not in found:
            raise DataError(
                f"required column {mapping[canonical]!r} (for {canonical}) is not in the data; columns found: "
                f"{', '.join(found)} — map it with --map {canonical}=COLUMN or [data.columns] in config.toml"
            )
    renames = {canonical: source for canonical, source in mapping.items() if source in found}
    sources = set(renames.values())
    extras = [c for c in found if c not in sources and c not in mapping]
    selected: dict[str, Any] = {canonical: raw[source] for canonical, source in renames.items()}
    for canonical in CANONICAL:
        if canonical not in selected:
            quality.missing_optional_columns.append(mapping[canonical])
            selected[canonical] = ibis.null(_TYPES[canonical])
    for extra in extras:
        selected[extra] = raw[extra]
    return raw.select(**selected)


def _stitch(con: Any, table: ir.Table, links: ir.Table | None, quality: QualityReport) -> ir.Table:
    """Merge each anonymous id seen together with a customer id into that customer (earliest link wins)."""
    if "anonymous_id" not in table.columns:
        return table
    pairs = table.filter(
        table.anonymous_id.notnull() & table.customer_id.notnull() & (table.customer_id != table.anonymous_id)
    ).select("anonymous_id", "customer_id", "timestamp")
    if links is not None:
        pairs = pairs.union(links.select("anonymous_id", "customer_id", timestamp=ibis.null("timestamp")))
    mapping = pairs.group_by("anonymous_id").agg(
        _user=pairs.customer_id.argmin(pairs.timestamp.fill_null(ibis.timestamp("9999-12-31 00:00:00"))),
        _users=pairs.customer_id.nunique(),
    )
    stats = mapping.aggregate(n=mapping.count(), conflicts=(mapping._users > 1).sum()).to_pyarrow().to_pylist()[0]
    quality.stitched_anonymous_ids = int(stats["n"] or 0)
    quality.stitch_conflicts = int(stats["conflicts"] or 0)
    joined = table.left_join(mapping.select("anonymous_id", "_user"), "anonymous_id")
    merged = ibis.cases(
        ((joined.customer_id == joined.anonymous_id) & joined._user.notnull(), joined._user),
        else_=joined.customer_id,
    )
    keep = [c for c in table.columns if c not in ("customer_id", "anonymous_id", "anonymous_id_right")]
    return joined.select(customer_id=merged, **{c: joined[c] for c in keep})


def _prepare(
    con: Any,
    raw: ir.Table,
    columns: ColumnMap,
    timezone: str,
    quality: QualityReport,
    links: ir.Table | None = None,
) -> ir.Table:
    mapped = map_columns(raw, columns, quality)
    data_range = _data_range(con, mapped.timestamp, mapped)
    customer = mapped.customer_id.cast("string").strip().nullif("")
    if "anonymous_id" in mapped.columns:
        anon = mapped.anonymous_id.cast("string").strip().nullif("")
        customer = ibis.coalesce(customer, anon)
    parsed = to_utc(mapped.timestamp, timezone, data_range)
    revenue_raw = mapped.revenue
    revenue = revenue_raw if revenue_raw.type().is_floating() else revenue_raw.try_cast("float64")
    staged = mapped.mutate(
        customer_id=customer,
        _ts_present=mapped.timestamp.notnull(),
        timestamp=parsed,
        event=mapped.event.cast("string").strip().nullif(""),
        channel=mapped.channel.cast("string").strip().nullif(""),
        campaign=mapped.campaign.cast("string").strip().nullif(""),
        revenue=revenue.cast("float64"),
        _revenue_bad=revenue_raw.notnull() & revenue.isnull(),
    )
    if "anonymous_id" in staged.columns:
        staged = staged.mutate(anonymous_id=staged.anonymous_id.cast("string").strip().nullif(""))
    counts = (
        staged.aggregate(
            rows=staged.count(),
            no_id=staged.customer_id.isnull().sum(),
            no_ts=(~staged._ts_present).sum(),
            bad_ts=(staged._ts_present & staged.timestamp.isnull()).sum(),
            no_event=staged.event.isnull().sum(),
            unusable=(staged.customer_id.isnull() | staged.timestamp.isnull() | staged.event.isnull()).sum(),
            bad_revenue=staged._revenue_bad.sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    quality.malformed_lines, quality.malformed_example = csv_rejects(con, raw)
    quality.rows_read = int(counts["rows"]) + quality.malformed_lines
    if quality.rows_read == quality.malformed_lines:
        raise DataError("the input has no rows; point --data at a file with events")
    quality.null_customer_id = int(counts["no_id"] or 0)
    quality.null_timestamp = int(counts["no_ts"] or 0)
    quality.unparseable_timestamp = int(counts["bad_ts"] or 0)
    quality.null_event = int(counts["no_event"] or 0)
    quality.unusable_rows = int(counts["unusable"] or 0)
    quality.unparseable_revenue = int(counts["bad_revenue"] or 0)
    valid = staged.filter(staged.customer_id.notnull() & staged.timestamp.notnull() & staged.event.notnull()).drop(
        "_ts_present", "_revenue_bad"
    )
    valid = _stitch(con, valid, links, quality)
    ordered = ["customer_id", "timestamp", "event", "channel", "campaign", "revenue"]
    rest = [c for c in valid.columns if c not in ordered]
    return valid.select(*ordered, *rest).distinct()


def load_table(
    con: Any,
    raw: ir.Table,
    columns: ColumnMap | None = None,
    timezone: str = "UTC",
    source: str = "<memory>",
    source_format: str = "memory",
    links: ir.Table | None = None,
    quality: QualityReport | None = None,
) -> Dataset:
    """Validate, normalise and materialise a raw engine table into a ``Dataset``."""
    started = time.perf_counter()
    quality = quality or QualityReport()
    prepared = _prepare(con, raw, columns or ColumnMap(), timezone, quality, links)
    table = _materialize(con, prepared)
    quality.rows_loaded = int(table.count().to_pyarrow().as_py())
    valid_rows = quality.rows_read - quality.malformed_lines - quality.unusable_rows
    quality.duplicate_events = valid_rows - quality.rows_loaded
    if quality.rows_loaded == 0:
        raise DataError(
            f"no usable events in {source}: all {quality.rows_read:,} rows were excluded ("
            + "; ".join(quality.notes())
            + ") — check the column mapping and timestamp format"
        )
    quality.load_seconds = round(time.perf_counter() - started, 3)
    return Dataset(con, table, source, source_format, timezone, quality)


def load_events(
    path: str | Path,
    source_format: str = "auto",
    columns: ColumnMap | None = None,
    timezone: str = "UTC",
    con: Any = None,
    backend: str = "duckdb",
) -> Dataset:
    """Load event files (a file, glob or folder of CSV/TSV/Parquet/JSON[L], optionally .gz) into a ``Dataset``.

    Args:
        path: the data location.
        source_format: ``auto`` (by extension, then content for GA4/Segment), ``csv``, ``parquet``, ``json``,
            ``ga4`` (BigQuery export rows) or ``segment`` (Segment-spec calls).
        columns: the column mapping; adapters ignore it (their columns are fixed by the export format).
        timezone: the IANA zone assumed for timestamps without an offset.
        con: an open Ibis backend; a new one from ``backend`` when omitted.
        backend: ``duckdb`` or an Ibis connection URL (used when ``con`` is omitted).

    Raises:
        DataError: no files, empty input, missing required column, or no usable rows.
    """
    if source_format not in SOURCE_FORMATS:
        raise DataError(f"unknown --source-format {source_format!r}; use one of {', '.join(SOURCE_FORMATS)}")
    files = resolve_files(path)
    check_empty(files)
    con = con if con is not None else connect(backend)
    storage = file_format(files) if source_format in ("auto", "ga4", "segment") else source_format
    if storage not in ("csv", "parquet", "json"):
        raise DataError(f"cannot read {storage!r} files")
    fmt = sniff(files, storage, con) if source_format == "auto" else source_format  # type: ignore[arg-type]
    columns = columns or ColumnMap()
    id_cols = (columns.customer_id, columns.anonymous_id, "user_id", "user_pseudo_id", "userId", "anonymousId")
    try:
        raw = read_raw(con, files, storage, id_columns=id_cols)  # type: ignore[arg-type]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"cannot read {str(path)!r} as {storage} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "check the file or pass --source-format"
        ) from exc
    quality = QualityReport()
    links = None
    if fmt == "ga4":
        raw, columns = adapters.ga4(raw), ColumnMap()
    elif fmt == "segment":
        raw, links = adapters.segment(raw)
        columns = ColumnMap()
        quality.identity_calls = int(links.count().to_pyarrow().as_py())
    try:
        return load_table(con, raw, columns, timezone, str(path), fmt, links, quality)
    except duckdb.Error as exc:  # raised while scanning: e.g. a malformed line when several CSVs are read
        first = str(exc).splitlines()[0]
        raise DataError(
            f"cannot read {str(path)!r} ({first}); fix the file (quote fields that contain the delimiter) "
            "or load the files one at a time to have malformed lines counted and skipped"
        ) from exc


def from_records(
    records: Any,
    columns: ColumnMap | None = None,
    timezone: str = "UTC",
    con: Any = None,
) -> Dataset:
    """Load small in-memory data (a pandas DataFrame, a dict of lists or a list of dicts) — tests and fixtures."""
    import pandas as pd

    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    con = con if con is not None else connect("duckdb")
    raw = ibis.memtable(frame)
    if con.name != "duckdb":
        name = ibis.util.gen_name("records")
        raw = con.create_view(name, ibis.memtable(frame), overwrite=True)
    return load_table(con, raw, columns, timezone)


def definition(dataset: Dataset) -> dict[str, Any]:
    """The loading choices, for a tool result's ``definition``."""
    return {
        "source": dataset.source,
        "source_format": dataset.source_format,
        "engine": dataset.backend,
        "timezone_assumed_for_naive_timestamps": dataset.timezone,
        "timestamps": TIMESTAMP_RULES,
        "touch": "an event with a non-empty channel",
    }
