"""Exporting the loaded tables to files: Parquet (zstd, hive-partitioned by host and, for
tables with a time, the event's UTC date), CSV or JSON lines (one file per table), or a
Timesketch timeline of the events. Beside them, `export.json` says what was written.

Layout of DIR:
    parquet     <table>/host=<host>/date=<YYYY-MM-DD>/data_<n>.parquet   (tables with `ts`)
                <table>/host=<host>/data_<n>.parquet                     (the others)
    csv, jsonl  <table>.csv, <table>.jsonl
    timesketch  timeline.jsonl
"""
from dataclasses import dataclass
import datetime as dt
import json
import os

import duckdb

from scapula import __version__
from scapula.errors import OutputError, UsageError, first_line
from scapula.query import export_sql, timesketch
from scapula.query import schema as qs
from scapula.query.export_target import MANIFEST

FORMATS = ("parquet", "csv", "jsonl", "timesketch")
TIMELINE = "timeline.jsonl"


@dataclass(frozen=True)
class Written:
    table: str
    name: str        # the file or directory in DIR
    rows: int
    partition_by: tuple[str, ...] = ()


def check_request(fmt: str, wanted: list[str] | None) -> None:
    """Usage errors in --format and --table, found before anything is loaded."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if fmt == "timesketch" and wanted and set(wanted) != {"events"}:
        raise UsageError("--format timesketch exports the events table only")
    unknown = [t for t in wanted or () if t not in qs.TABLES]
    if unknown:
        raise UsageError(f"--table: unknown table(s) {', '.join(unknown)} "
                         f"(tables: {', '.join(qs.TABLES)})")


def choose_tables(con, fmt: str, wanted: list[str] | None) -> list[str]:
    """The tables to export: those asked for (default: all the database has), in the
    schema's order."""
    check_request(fmt, wanted)
    present = {r[0] for r in con.execute(   # events is a view over Parquet in a bounded load
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND database_name = current_database() UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' "
        "AND database_name = current_database()").fetchall()}
    if fmt == "timesketch":
        return ["events"]
    return [t for t in qs.TABLES if t in present and (not wanted or t in wanted)]


def write(con, stage: str, fmt: str, tables: list[str]) -> list[Written]:
    """Write every table into `stage` (a fresh directory) in `fmt`."""
    check_request(fmt, tables)
    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ <-> text in UTC, whatever the host's
    try:
        if fmt == "timesketch":
            return [Written("events", TIMELINE,
                            timesketch.write(con, os.path.join(stage, TIMELINE)))]
        return [_copy(con, stage, fmt, t) for t in tables]
    except duckdb.IOException as e:
        raise OutputError(f"{stage}: cannot write: {first_line(e)}") from None
    except OSError as e:
        raise OutputError(f"{e.filename or stage}: cannot write: {e.strerror}") from None


def _copy(con, stage: str, fmt: str, table: str) -> Written:
    sql = export_sql.table_sql(con, table, fmt)
    if fmt == "parquet":
        name, options = table, "FORMAT PARQUET, COMPRESSION ZSTD"
        target = os.path.join(stage, name)
        if sql.partition_by:
            options += f", PARTITION_BY ({', '.join(sql.partition_by)})"
        else:  # no host column: one file, in a directory all the same
            os.makedirs(target)
            target = os.path.join(target, "data_0.parquet")
    else:
        name = f"{table}.{fmt}"
        options = "FORMAT CSV, HEADER" if fmt == "csv" else "FORMAT JSON"
        target = os.path.join(stage, name)
    (rows,) = con.execute(f"COPY ({sql.select}) TO {qs.sql_text(target)} ({options})").fetchone()
    if fmt == "parquet" and sql.partition_by and not rows:
        # no rows, no partition, no file: one empty file, its columns all in it (the
        # partition columns too), so that a reader of the directory finds the table
        empty = os.path.join(target, "data_0.parquet")
        os.makedirs(target, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM ({sql.select}) LIMIT 0) TO {qs.sql_text(empty)} "
                    "(FORMAT PARQUET, COMPRESSION ZSTD)")
    return Written(table, name, rows, sql.partition_by)


def manifest(con, fmt: str, written: list[Written]) -> dict:
    """What export.json holds: the tool, the format, the captures, and per table its
    place, row count, partitioning and column descriptions."""
    captures = con.execute(
        f"SELECT capture, host, path, {export_sql.iso_ns('first')}, "
        f"{export_sql.iso_ns('last')}, events, dropped, complete, warnings "
        "FROM captures ORDER BY capture").fetchall()
    return {
        "scapula": __version__,
        "format": fmt,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "captures": [dict(zip(("capture", "host", "path", "first", "last", "events",
                               "dropped", "complete", "warnings"), c))
                      for c in captures],
        "tables": {w.table: {"path": w.name, "rows": w.rows,
                             "partition_by": list(w.partition_by),
                             "columns": _column_docs(w.table)} for w in written},
        "outputs": [w.name for w in written] + [MANIFEST],
    }


def write_manifest(stage: str, data: dict) -> None:
    with open(os.path.join(stage, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def _column_docs(table: str) -> dict[str, str]:
    _desc, cols = qs.TABLES.get(table, ("", ()))
    docs = {c.name: c.desc for c in cols}
    if "ts" in docs:
        docs["date"] = "the event's UTC date (a partition column in Parquet)"
    return docs

