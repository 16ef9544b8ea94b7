"""Loading captures into DuckDB: events streamed through Arrow into a stage table, then
joined with the process lifetimes into `events`; the small tables beside them."""
from importlib import resources
import os

import duckdb
import pyarrow as pa

from scapula.errors import InputError, UsageError
from scapula.query import accounts, batches, fds
from scapula.query import schema as qs
from scapula.query.processes import Lifetimes
from scapula.replay.reader import Capture
from scapula.schemas.flags import errno_name


def connect(db: str | None = None) -> duckdb.DuckDBPyConnection:
    """A database with scapula's tables and views: in memory, or the file `db`."""
    try:
        con = duckdb.connect(db or ":memory:")
    except duckdb.Error as e:
        raise UsageError(f"{db}: cannot open the database: {e}") from None
    try:
        for stmt in qs.ddl():
            run(con, stmt)
    except duckdb.Error as e:   # an old file's table lacks a column to comment on
        _check_columns(con, db)
        con.close()
        raise UsageError(f"{db}: cannot set up the tables: {e}") from None
    _check_columns(con, db)
    create_views(con)
    return con


def _check_columns(con, db) -> None:
    """A database file from another scapula version may lack columns this one loads."""
    have = {}
    for table, column in con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                      "WHERE schema_name = 'main'").fetchall():
        have.setdefault(table, set()).add(column)
    for table, (_desc, cols) in qs.TABLES.items():
        missing = [c.name for c in cols if c.name not in have.get(table, ())]
        if missing:
            con.close()
            raise UsageError(f"{db}: its {table} table lacks {', '.join(missing)}: made by "
                             "another scapula version; use a new database file")


def create_views(con) -> None:
    sql = resources.files("scapula.query").joinpath("views.sql").read_text()
    run(con, sql)


def load(con, paths, warn=lambda message: None) -> list[int]:
    """Load capture files (those already in the database, unchanged, are skipped).
    Returns the capture ids loaded or found."""
    return [load_one(con, os.path.abspath(p), warn) for p in paths]


def load_one(con, path: str, warn) -> int:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}") from None
    found = one(con, "SELECT capture, size, mtime_ns FROM captures WHERE path = ?", [path])
    if found and (found[1], found[2]) == (st.st_size, st.st_mtime_ns):
        return found[0]
    if found:  # the file changed since: replace what it loaded
        for table in qs.TABLES:
            run(con, f"DELETE FROM {table} WHERE capture = ?", [found[0]])
    capture = found[0] if found else one(
        con, "SELECT coalesce(max(capture), 0) + 1 FROM captures")[0]
    with Capture(path) as cap:
        _load_capture(con, cap, capture, st)
        host = str(cap.header.get("host", ""))
        accounts.load(con, cap, capture, host, _insert)
        fds.load(con, cap, capture, host, _insert)
        for w in cap.warnings:
            warn(w)
    return capture


def _load_capture(con, cap: Capture, capture: int, st) -> None:
    host = str(cap.header.get("host", ""))
    lifecycle: list[dict] = []
    reader = pa.RecordBatchReader.from_batches(qs.STAGE_ARROW, _batches(cap, lifecycle))
    con.register("_batches", reader)
    try:
        run(con, "CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM _batches")
    finally:
        con.unregister("_batches")
    lives = Lifetimes(capture)
    lives.snapshot(cap.processes)
    first = {row[0]: row[1:] for row in con.execute(
        "SELECT pid, min(ts_ns), arg_min(ppid, seq), arg_min(comm, seq), arg_min(uid, seq), "
        "arg_min(gid, seq) FROM _stage GROUP BY pid").fetchall()}
    lifecycle.sort(key=lambda r: r["seq"])
    forks = {}
    for r in lifecycle:
        if r["type"] == "procfork" and r.get("child_pid") not in (None, r["pid"]):
            forks.setdefault(r["child_pid"], r["ts"])
    lives.seen({pid: (ts, ppid, comm.encode() if comm else None, uid, gid)
                for pid, (ts, ppid, comm, uid, gid) in first.items()}, forks)
    for r in lifecycle:
        lives.event(r)
    _insert(con, "processes", lives.table(host))
    _join_events(con, cap, lives, capture, host)
    _small_tables(con, cap, capture, host, st)
    run(con, "DROP TABLE _stage")


def _batches(cap: Capture, lifecycle: list):
    endpoints = batches.Endpoints()
    base = 0
    for groups, order in cap.chunks():
        for g, batch in batches.chunk_batches(groups, order, base, endpoints):
            if g.etype.name in batches.LIFECYCLE:
                lifecycle += batches.lifecycle_rows(g, batch.column("seq"))
            yield batch
        base += len(order)


def _join_events(con, cap, lives: Lifetimes, capture: int, host: str) -> None:
    """Stage rows to `events`: each gets its process lifetime and exe (the image it ran
    at that moment: an as-of join on pid and time), its type's name and its errno."""
    con.register("_images_arrow", lives.images_table())
    run(con, "CREATE OR REPLACE TEMP TABLE _images AS SELECT * FROM _images_arrow")
    con.unregister("_images_arrow")
    types = pa.table({
        "id": pa.array([e.id for e in cap.schema.values()], pa.uint16()),
        "name": [e.name for e in cap.schema.values()],
        "category": [e.category for e in cap.schema.values()],
        "returns": [e.returns for e in cap.schema.values()],
    })
    con.register("_types", types)
    errnos = pa.table({"code": pa.array(list(range(1, 4096)), pa.int64()),
                       "name": [errno_name(-c) for c in range(1, 4096)]})
    con.register("_errnos", errnos)
    common = [c.name for c in qs.EVENTS]
    select = {
        "capture": f"{capture}::INTEGER", "host": "$host", "exe": "i.exe",
        "proc_id": "i.proc_id", "type": "t.name", "category": "t.category",
        "errno": "CASE WHEN t.returns AND s.result < 0 THEN x.name END",
    }
    cols = ", ".join(select.get(c, f's."{c}"') for c in common)
    try:
        run(con, f"""
            INSERT INTO events
            SELECT {cols}
            FROM _stage s
            ASOF LEFT JOIN _images i ON s.pid = i.pid AND s.ts_ns >= i.since_ns
            LEFT JOIN _types t ON t.id = s.type_id
            LEFT JOIN _errnos x ON x.code = -s.result
            """, {"host": host})
    finally:
        con.unregister("_types")
        con.unregister("_errnos")
        run(con, "DROP TABLE _images")


def _small_tables(con, cap, capture: int, host: str, st) -> None:
    h = cap.header
    stats = cap.stats
    drops = list(stats.get("drops") or [])
    sent = list(stats.get("sent") or [])
    span = one(con, "SELECT min(ts), max(ts), count(*) FROM events WHERE capture = ?",
               [capture])
    run(con, "INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, make_timestamp_ns(?), "
                "?, ?, ?, ?, ?, ?, ?, ?)", [
                    capture, os.path.abspath(cap.path), host, h.get("kernel"), h.get("arch"),
                    h.get("cpus"), h.get("tool"), h.get("start_ns"), span[0], span[1], span[2],
                    sum(drops), cap.footer is not None, list(cap.warnings), st.st_size,
                    st.st_mtime_ns])
    if drops:
        _insert(con, "drops", pa.table({
            "capture": pa.array([capture] * len(drops), pa.int32()),
            "host": [host] * len(drops), "cpu": pa.array(range(len(drops)), pa.int32()),
            "dropped": pa.array(drops, pa.int64()),
            "sent": pa.array(sent if len(sent) == len(drops) else [None] * len(drops),
                             pa.int64())}))
    fds = cap.fds or []
    if fds:
        _insert(con, "snapshot_fds", pa.table({
            "capture": pa.array([capture] * len(fds), pa.int32()), "host": [host] * len(fds),
            "pid": pa.array([f[0] for f in fds], pa.int64()),
            "fd": pa.array([f[1] for f in fds], pa.int64()),
            "target": batches.text_column([f[2] for f in fds])}))


def run(con, sql: str, params=None) -> None:
    """A statement whose result nobody reads (DuckDB wants every result finished)."""
    con.execute(sql, params).fetchall()


def one(con, sql: str, params=None):
    """The first row of a query (None: no rows), the result finished."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _insert(con, table: str, data: pa.Table) -> None:
    con.register("_rows", data)
    try:
        run(con, f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")
