"""Finding input files, telling their format, and reading them into a raw engine table."""

from __future__ import annotations

import glob
import gzip
import json
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from tools.errors import DataError

SourceFormat = Literal["auto", "csv", "parquet", "json", "ga4", "segment"]
FileFormat = Literal["csv", "parquet", "json"]
SOURCE_FORMATS: tuple[str, ...] = ("auto", "csv", "parquet", "json", "ga4", "segment")

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


def resolve_files(path: str | Path) -> list[Path]:
    """Expand a file, a glob or a folder into the data files it names, sorted.

    Raises:
        DataError: nothing matches, or a folder holds no data files.
    """
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = [Path(p) for p in sorted(glob.glob(text, recursive=True)) if Path(p).is_file()]
        if not files:
            raise DataError(f"no files match {text!r}; check the pattern given to --data")
        return files
    target = Path(text)
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and _file_format(p) is not None)
        if not files:
            raise DataError(
                f"folder {text!r} holds no .csv/.tsv/.parquet/.json/.jsonl files; point --data at the data files"
            )
        return files
    if not target.exists():
        raise DataError(f"data file {text!r} does not exist; fix --data or [data] path in config.toml")
    return [target]


def _file_format(path: Path) -> FileFormat | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


def file_format(files: list[Path]) -> FileFormat:
    """The one storage format shared by ``files`` (by extension).

    Raises:
        DataError: unknown extension or a mix of formats.
    """
    formats = {_file_format(f) for f in files}
    if None in formats:
        bad = next(f for f in files if _file_format(f) is None)
        raise DataError(
            f"cannot tell the format of {str(bad)!r} from its extension; use --source-format csv|parquet|json"
        )
    if len(formats) > 1:
        raise DataError(
            f"the input mixes formats ({', '.join(sorted(str(f) for f in formats))}); load one format at a time"
        )
    return formats.pop()  # type: ignore[return-value]


def _first_json_record(path: Path) -> dict[str, Any] | None:
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        head = handle.read(65536).lstrip()
    if not head:
        return None
    if head.startswith("["):
        head = head[1:].lstrip()
    line = head.splitlines()[0].rstrip(",")
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def looks_like(keys: set[str]) -> Literal["ga4", "segment"] | None:
    """Recognise a GA4 BigQuery export row or a Segment-spec call by its keys."""
    if {"event_timestamp", "event_name", "user_pseudo_id"} <= keys:
        return "ga4"
    if "type" in keys and ({"anonymousId", "userId"} & keys) and ({"timestamp", "event"} & keys):
        return "segment"
    return None


def sniff(files: list[Path], storage: FileFormat, con: Any) -> Literal["csv", "parquet", "json", "ga4", "segment"]:
    """Decide the source format for ``--source-format auto``: an adapter when the content looks like one."""
    if storage == "json":
        record = _first_json_record(files[0])
        if record is not None:
            return looks_like(set(record)) or "json"
        return "json"
    if storage == "parquet":
        schema = read_raw(con, files, "parquet").schema()
        return looks_like(set(schema.names)) or "parquet"  # type: ignore[return-value]
    return "csv"


def read_raw(con: Any, files: list[Path], storage: FileFormat, id_columns: tuple[str, ...] = ()) -> ir.Table:
    """Read files into a raw (unmapped) engine table without copying them through pandas.

    Args:
        con: the Ibis backend.
        files: the data files, all of one storage format.
        storage: csv, parquet or json.
        id_columns: columns to keep as text (so ids such as ``00123`` keep their leading zeros).
    """
    paths = [str(f) for f in files]
    backend = con.name
    if storage == "parquet":
        return con.read_parquet(paths if len(paths) > 1 else paths[0])
    if storage == "json":
        if backend == "duckdb":
            return con.read_json(paths if len(paths) > 1 else paths[0], format="newline_delimited")
        return con.read_json(paths if len(paths) > 1 else paths[0])
    if backend == "duckdb":
        return _read_csv_duckdb(con, paths, id_columns)
    # Everything as text: the loader parses timestamps and numbers itself and ids keep their leading zeros.
    return con.read_csv(paths if len(paths) > 1 else paths[0], header=True, inferSchema=False)


REJECTS_SUFFIX = "_rejects"


def _read_csv_duckdb(con: Any, paths: list[str], id_columns: tuple[str, ...]) -> ir.Table:
    """One file: lines with too many or too few fields are set aside in a rejects table (``csv_rejects`` counts
    them). Several files are aligned by column name instead (DuckDB cannot do both); a malformed line there is
    an error naming the file and line."""
    name = ibis.util.gen_name("raw_csv")
    rejects = (
        f", store_rejects=true, rejects_table='{name}{REJECTS_SUFFIX}', rejects_scan='{name}_scans'"
        if len(paths) == 1
        else ", union_by_name=true"
    )
    # Sniff the header first so that id columns can be pinned to VARCHAR.
    header = con.con.sql(f"SELECT * FROM read_csv({paths!r}, auto_detect=true{rejects}) LIMIT 0").columns
    types = {c: "VARCHAR" for c in id_columns if c in header}
    options = "auto_detect=true" + rejects + (f", types={types!r}" if types else "")
    con.con.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_csv({paths!r}, {options})")
    return con.table(name)


def csv_rejects(con: Any, raw: ir.Table) -> tuple[int, str | None]:
    """Malformed lines DuckDB set aside while reading ``raw`` (after it was scanned), and the first of them.

    Every scan of the view appends to the rejects table, so lines are counted once per (file, line) of the
    latest scan.
    """
    if con.name != "duckdb":
        return 0, None
    try:
        table = f"{raw.get_name()}{REJECTS_SUFFIX}"
    except AttributeError:  # an adapter's derived table, not a file read by _read_csv_duckdb
        return 0, None
    if not con.con.sql(f"SELECT 1 FROM duckdb_tables() WHERE table_name = '{table}'").fetchall():
        return 0, None
    rows = con.con.sql(
        f"SELECT count(DISTINCT (file_id, line)), min(line), arg_min(error_message, line) FROM {table} "
        f"WHERE scan_id = (SELECT max(scan_id) FROM {table})"
    ).fetchall()
    row = rows[0] if rows else None
    if not row or not row[0]:
        return 0, None
    return int(row[0]), f"line {row[1]}: {row[2]}"


def check_empty(files: list[Path]) -> None:
    """An input made only of empty files is a clear error, not an empty analysis."""
    if all(f.stat().st_size == 0 for f in files):
        names = ", ".join(str(f) for f in files[:3])
        raise DataError(f"the input is empty ({names}); point --data at a file with events")
