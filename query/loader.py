"""Loading captures into DuckDB: events streamed through Arrow into `events`, the process
lifetimes built as they stream, each event given its lifetime before it is written; the
small tables."""
from contextlib import contextmanager
import gc
from importlib import resources
import os

import duckdb
import pyarrow as pa

from scapula.errors import InputError, OutputError, UsageError
from scapula.query import accounts, batches, fds, heap, images
from scapula.query.event_sink import EventSink
from scapula.query import schema as qs
from scapula.query.processes import Lifetimes
from scapula.replay.reader import Capture


# DuckDB failing to write (a full disk): an IOException, or a TransactionException when
# a commit cannot write its log, after which it refuses everything (FatalException).
WRITE_FAILURES = (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException)


def connect(db: str | None = None, events: EventSink | None = None) -> duckdb.DuckDBPyConnection:
    """A database with scapula's tables and views: in memory, or the file `db`.
    `events`: `events` is a view of what that sink holds (query/event_sink.py), for a
    database just made."""
    fresh = db is None or not os.path.exists(db)
    views = {"events": events.view_sql()} if events else None
    try:
        con = duckdb.connect(db or ":memory:")
    except duckdb.Error as e:
        if fresh:   # not there to open: where it goes cannot be written (as --out's)
            raise OutputError(f"{db}: cannot create the database: {e}") from None
        raise UsageError(f"{db}: cannot open the database: {e}") from None
    if events:
        events.attach(con)
    # Its ~190 statements (a comment per column) on one thread: DuckDB's own cost per
    # statement, ~0.3 ms on two threads, is a third less (the setup is ~5% of a 1M-event
    # load). A database just made has nothing to check.
    run(con, "SET threads = 1")
    try:
        con.execute(";\n".join(qs.ddl(views)))
    except WRITE_FAILURES:
        con.close()   # a full disk (Storage.failures says so)
        raise
    except duckdb.Error as e:   # an old file's table lacks a column to comment on
        _check_columns(con, db)
        con.close()
        raise UsageError(f"{db}: cannot set up the tables: {e}") from None
    if not fresh:
        _check_columns(con, db)
    create_views(con)
    run(con, "RESET threads")
    return con


def _check_columns(con, db) -> None:
    """A database file from another scapula version may have other columns than this
    one loads (rows go in by position)."""
    have = {}
    for table, column, typ in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main' ORDER BY table_name, column_index").fetchall():
        have.setdefault(table, []).append((column, typ))
    for table, (_desc, cols) in qs.TABLES.items():
        got = have.get(table, [])
        missing = [c.name for c in cols if c.name not in dict(got)]
        differ = [n for (n, t), c in zip(got, cols) if (n, t) != (c.name, c.sql)]
        if missing or differ or len(got) != len(cols):
            con.close()
            what = f"lacks {', '.join(missing)}" if missing else "has other columns"
            raise UsageError(f"{db}: its {table} table {what}: made by another scapula "
                             "version; use a new database file")


def create_views(con) -> None:
    sql = resources.files("scapula.query").joinpath("views.sql").read_text()
    run(con, sql)


def load(con, paths, warn=lambda message: None, fd_lifetimes: bool = True,
         window_rows: int | None = None, events: EventSink | None = None) -> list[int]:
    """Load capture files (those already in the database, unchanged, are skipped).
    `fd_lifetimes`: also build the `fds` table, the one costly derived table (as long
    as loading the events), for those that lack it. `window_rows`: events decoded at
    a time (WINDOW_ROWS; fewer holds less memory). `events`: the sink connect() was
    given, where the events go instead of a table. Returns the capture ids."""
    heap.keep_freed_memory()
    with _no_cycle_collector():
        ids = []
        try:
            for p in paths:
                # the file a link points at: named twice through links, loaded once
                ids.append(load_one(con, os.path.realpath(p), warn, window_rows, events))
        finally:   # the captures loaded, whatever happened to a later one
            if events:
                events.publish()
        if fd_lifetimes:
            build_fds(con, ids)
    return ids


@contextmanager
def _no_cycle_collector():
    """Python's cycle collector off while loading: decoded chunks are millions of small
    objects, which it walked over and over as batches were made (a fifth of a load's
    time: 1.2M events, 1.73-1.81 CPU s with it, 1.36-1.51 without), and loading makes
    no cycles that need it. Whatever there is, it collects afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def capture_ids(con) -> list[int]:
    """Every capture in the database."""
    return [r[0] for r in con.execute("SELECT capture FROM captures").fetchall()]


def build_fds(con, captures) -> None:
    """The `fds` rows of every capture in `captures` that has none yet (every capture
    with a snapshot has some, so none means not built)."""
    for capture in captures:
        if one(con, "SELECT count(*) FROM fds WHERE capture = ?", [capture])[0]:
            continue
        host = one(con, "SELECT host FROM captures WHERE capture = ?", [capture])[0]
        with _one_thread(con), _transaction(con):
            fds.load(con, capture, host, _insert)


def load_one(con, path: str, warn, window_rows: int | None = None,
             events: EventSink | None = None) -> int:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}") from None
    found = one(con, "SELECT capture, size, mtime_ns FROM captures WHERE path = ?", [path])
    if found and (found[1], found[2]) == (st.st_size, st.st_mtime_ns):
        return found[0]
    if found:  # the file changed since: replace what it loaded
        for table in qs.PER_CAPTURE:
            if table == "events" and events:   # a view: its rows are the sink's
                events.discard(found[0])
                continue
            run(con, f"DELETE FROM {table} WHERE capture = ?", [found[0]])
    capture = found[0] if found else one(
        con, "SELECT coalesce(max(capture), 0) + 1 FROM captures")[0]
    with Capture(path) as cap, _one_thread(con), _transaction(con):
        try:
            _load_capture(con, cap, capture, st, window_rows or WINDOW_ROWS, events)
            accounts.load(con, cap, capture, str(cap.header.get("host", "")), _insert)
            _event_types(con, cap)
        except BaseException:
            if events:   # the rollback cannot take back a file or held batches
                events.discard(capture)
            raise
    for w in cap.report_warnings():
        warn(w)
    _same_recording(con, capture, path, warn)
    return capture


def _same_recording(con, capture: int, path: str, warn) -> None:
    """A copy of a file already loaded (same host, start and size) doubles every
    event: it is loaded, as asked, but said."""
    other = one(con, "SELECT b.capture, b.path FROM captures a JOIN captures b "
                     "ON a.host = b.host AND a.started = b.started AND a.size = b.size "
                     "AND b.capture <> a.capture WHERE a.capture = ? ORDER BY b.capture",
                [capture])
    if other:
        warn(f"{path}: the same recording as capture {other[0]} ({other[1]}): its events "
             "are in the database twice")


@contextmanager
def _transaction(con):
    """All of a capture's rows or none: a load that fails half way (the processes
    after the events, say) must not leave events without their `captures` row."""
    run(con, "BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        run(con, "ROLLBACK")
        raise
    run(con, "COMMIT")


@contextmanager
def _one_thread(con):
    """DuckDB on one thread while loading: the Arrow stream is read by one thread
    anyway, and a second only added coordination (1.2M events: 3.3 CPU s to insert
    on two threads, 1.45 on one). The user's queries get the threads back."""
    threads = one(con, "SELECT current_setting('threads')")[0]
    run(con, "SET threads = 1")
    try:
        yield
    finally:
        run(con, f"SET threads = {int(threads)}")


def _load_capture(con, cap: Capture, capture: int, st, window_rows: int,
                  events: EventSink | None) -> None:
    """Events go straight into `events` (or its sink), written once, each with
    its process lifetime and exe, found while the batches stream (query/images.py);
    then the lifetimes."""
    host = str(cap.header.get("host", ""))
    lives = Lifetimes(capture)
    _insert_events(con, _batches(cap, lives, window_rows), capture, host, cap.path,
                   events)
    _insert(con, "processes", lives.table(host))
    _small_tables(con, cap, capture, host, st)


WINDOW_ROWS = 1 << 18   # rows of all types gathered before a window's batches are built


def _batches(cap: Capture, lives: Lifetimes | None = None, window_rows: int = WINDOW_ROWS):
    """The capture as Arrow batches in images.SCHEMA, one flush window at a time (the
    window's batches are held until its lifecycle rows are through `lives`)."""
    if lives is None:
        lives = Lifetimes(0)
    lives.snapshot(cap.processes)
    gather = batches.Gatherer(window_rows)
    look = images.Images(lives, gather.endpoints)
    base = 0
    for groups, order in cap.chunks(raw=True):
        parts = gather.add(groups, order, base)
        base += len(order)
        if parts:
            yield from look.window(parts)
    yield from look.window(gather.flush(), final=True)


def _insert_events(con, stream, capture: int, host: str, path: str,
                   events: EventSink | None = None) -> None:
    """The Arrow stream into `events`, as it comes (no join: DuckDB would hold the
    whole stream to build a join's hash table), or into the sink.
    Bad input found while streaming (DuckDB wraps it in its own error) is raised
    naming the file."""
    failed = []

    def watched():
        try:
            yield from stream
        except InputError as e:
            failed.append(e)
            raise
    try:
        if events:
            events.write(capture, host, watched())
        else:
            _insert_stream(con, watched(), capture, host)
    except (duckdb.Error, InputError):
        if failed:
            raise InputError(f"{path}: {failed[0]}") from None
        raise


def _insert_stream(con, stream, capture: int, host: str) -> None:
    reader = pa.RecordBatchReader.from_batches(images.SCHEMA, stream)
    select = {"capture": f"{capture}::INTEGER", "host": "$host"}
    cols = ", ".join(select.get(c.name, f'"{c.name}"') for c in qs.EVENTS)
    con.register("_batches", reader)
    try:
        run(con, f"INSERT INTO events SELECT {cols} FROM _batches", {"host": host})
    finally:
        try:
            con.unregister("_batches")
        except duckdb.TransactionException:
            pass   # refused in the failed transaction; its rollback drops the view


def _small_tables(con, cap, capture: int, host: str, st) -> None:
    h = cap.header
    stats = cap.stats
    drops = list(stats.get("drops") or [])
    sent = list(stats.get("sent") or [])
    # as nanoseconds: a TIMESTAMP_NS comes to Python as a datetime, in microseconds
    span = one(con, "SELECT epoch_ns(min(ts)), epoch_ns(max(ts)), count(*) FROM events "
                    "WHERE capture = ?", [capture])
    run(con, "INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, make_timestamp_ns(?), "
                "make_timestamp_ns(?), make_timestamp_ns(?), ?, ?, ?, ?, ?, ?)", [
                    capture, cap.path, host, h.get("kernel"), h.get("arch"),
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


def _event_types(con, cap: Capture) -> None:
    """The capture's event types (its own schema's) that the database lacks."""
    have = {r[0] for r in con.execute("SELECT type FROM event_types").fetchall()}
    new = [e for e in cap.schema.values() if e.name not in have]
    if new:
        _insert(con, "event_types", pa.table({
            "type": [e.name for e in new], "category": [e.category for e in new],
            "syscall": pa.array([e.syscall for e in new], pa.int32()),
            "description": [e.desc or None for e in new],
            "args": pa.array([[(p.name, qs.KIND_SQL[p.kind]) for p in qs.args_params(e)]
                              for e in new], pa.map_(pa.string(), pa.string()))}))


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
    except BaseException:
        try:   # a failed insert aborts the transaction, which refuses this too
            con.unregister("_rows")
        except duckdb.Error:
            pass
        raise
    con.unregister("_rows")
