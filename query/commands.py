"""`scapula query` and `scapula shell`: captures into DuckDB, then SQL or a shell."""
import code
import os
import re
import shutil
import sys

import click
import duckdb
import pyarrow as pa

from scapula.console import RULES_FILE, clean_errors, warn
from scapula.errors import UsageError, sql_message
from scapula.query import alerts, loader, storage, typed_views
from scapula.query.output import output_options, render
from scapula.query.relations import arrow_table

# --view NAME: the SQL it runs; {pid} marks where --pid goes (NULL without it).
VIEWS = {
    "process_tree": ("SELECT * FROM process_tree",
                     "SELECT * FROM process_descendants($pid)"),
    "process_ancestors": (None, "SELECT * FROM process_ancestors($pid)"),
    "exec_timeline": ("SELECT * FROM exec_timeline", None),
    "file_activity": ("SELECT * FROM file_activity", None),
    "network_activity": ("SELECT * FROM network_activity", None),
    "connections": ("SELECT * FROM connections", None),
    "privilege_changes": ("SELECT * FROM privilege_changes", None),
    "suspicious": ("SELECT * FROM suspicious", None),
}


def view_sql(view: str, pid: int | None) -> str:
    whole, by_pid = VIEWS[view]
    if pid is None:
        if whole is None:
            raise UsageError(f"--view {view} needs --pid")
        return whole
    return by_pid or f"{whole} WHERE pid = $pid"


def parse_params(pairs) -> dict:
    """-p name=value pairs; a value written as an integer is one. Only as a plain
    decimal: 007, +5, 1_000 or ' 5' stay text (an id, a mode), though Python's int()
    would take them."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-p {pair!r}: expected name=value")
        params[name] = int(value) if _INTEGER.fullmatch(value) else value
    return params


_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")


def rules_options(fn):
    """--rules FILE (repeatable) and --default-rules: replay the captures into `alerts`."""
    fn = click.option("--default-rules", is_flag=True,
                      help="Judge with scapula's own rules (with --rules: them first).")(fn)
    fn = click.option("-r", "--rules", "rule_files", multiple=True,
                      type=RULES_FILE,
                      help="Replay the captures through this rules file (repeat; loaded "
                           "in order) into the alerts table.")(fn)
    return fn


def compile_rules(rule_files, default_rules: bool):
    """The rules asked for, compiled before any capture loads (a bad file fails fast)."""
    from scapula.replay.replay_command import default_rules_path
    paths = ([default_rules_path()] if default_rules else []) + list(rule_files)
    return alerts.compile_rules(paths) if paths else None


def uses_fds(sql: str) -> bool:
    """Whether a statement may read the fds table (itself, or the connections view
    built on it): building it takes as long as loading the events, so a query that
    does not name it does not wait for it."""
    return re.search(r"\b(fds|connections)\b", sql, re.IGNORECASE) is not None


def memory_option(fn):
    return click.option(
        "--memory-limit", metavar="SIZE",
        help="DuckDB's memory limit (400MB, 2GB). Without --db the tables beside "
             "events (always Parquet files then) go to a temporary database file, "
             "which DuckDB can page out; this happens anyway above "
             f"{storage.IN_MEMORY_EVENTS:,} events, with {storage.BOUNDED_LIMIT}.")(fn)


def in_memory_option(fn):
    return click.option(
        "--in-memory", is_flag=True,
        help="Every table in DuckDB's memory, events too (not Parquet files), however "
             "large the captures: about 0.3 KB of memory an event.")(fn)


def owner_only() -> None:
    """Files this command makes (a --db database and its write-ahead log, which hold
    what the captures do: argv, environments) readable by the owner only, as captures
    and exports are. The CLI's own process: it ends with the command."""
    os.umask(os.umask(0o077) | 0o077)


def open_db(files, store: storage.Storage, rules=None, fd_lifetimes: bool = True,
            typed: bool = True):
    """The database with `files` loaded (`fd_lifetimes`: with their `fds` rows,
    those of captures already in the database included; `typed`: with the typed.<type>
    views); with `rules`, those
    captures (all in the database when no file is named) judged into `alerts`."""
    if not files and not store.db:
        raise UsageError("no capture files (and no --db) to query")
    with store.failures():
        con = store.connect()
    try:
        with store.failures():
            ids = store.load(con, files, warn)
            if not files:
                ids = loader.capture_ids(con)
            if fd_lifetimes:
                loader.build_fds(con, ids)
            if typed:
                typed_views.create(con)
            store.loaded(con)
            if rules is not None:
                tty = sys.stderr.isatty()
                alerts.judge(con, ids, rules, warn, _progress if tty else None)
                if tty:
                    sys.stderr.write("\r\033[K")   # the progress line goes
    except BaseException:
        con.close()
        raise
    return con


def _statements(sql: str) -> list:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise UsageError(sql_message(e)) from None


def run_script(con, sql: str) -> None:
    """Every statement of `sql` in turn, each result printed as a table; the first
    error stops it (exit 2)."""
    for st in _statements(sql):
        try:
            if st.type in _ROWS:
                render(arrow_table(con.sql(st.query)), None)
            else:   # (DuckDB answers a CREATE with a Count of nothing)
                con.execute(st.query).fetchall()
        except duckdb.Error as e:
            raise UsageError(sql_message(e)) from None


# statements whose rows are what they are run for
_ROWS = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN,
         duckdb.StatementType.PRAGMA, duckdb.StatementType.CALL)


def _check_statements(sql: str) -> None:
    """One query's rows are printed: statements before it may set things up (SET,
    CREATE VIEW) but not give rows of their own, which would be lost unseen."""
    statements = _statements(sql)
    if not statements:
        raise UsageError("no SQL statement to run (the SQL is empty)")
    for st in statements[:-1]:
        if st.type in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            raise UsageError(f"several statements give rows ({st.query.strip()} is not the "
                             "last): run one query at a time; those before it may only "
                             "set things up (SET, CREATE VIEW ...)")


def _progress(events: int, ts: int) -> None:
    # a replay is slower than a load (tens of thousands of events a second): say where it is
    sys.stderr.write(f"\rscapula: judging: {events:,} events ")
    sys.stderr.flush()


def run_sql(con, sql: str, params: dict):
    _check_statements(sql)
    try:
        rel = con.sql(sql, params=params or None)
        if rel is None:  # a statement without rows (CREATE VIEW ..., SET ...)
            return pa.table({})
        return arrow_table(rel)
    except duckdb.Error as e:
        raise UsageError(sql_message(e)) from None


@click.command("query")
@click.argument("args", nargs=-1)
@click.option("--db", type=click.Path(dir_okay=False),
              help="Keep the database in this file; captures already in it load once.")
@click.option("--view", type=click.Choice(sorted(VIEWS)),
              help="Run a ready-made view instead of SQL (every ARG is then a capture).")
@click.option("--pid", type=int, help="With --view: that process (the tree under it, its "
              "ancestors, or its rows).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A named parameter, used in the SQL as $NAME.")
@rules_options
@memory_option
@in_memory_option
@output_options
@clean_errors
def query_command(args, db, view, pid, params, rule_files, default_rules, memory_limit,
                  in_memory, fmt=None):
    """Load capture files into DuckDB and run SQL over them.

    ARGS are capture files followed by one SQL statement (with --view: files only).
    Tables: events, processes, fds, captures, drops, snapshot_fds, users, groups,
    event_types, and alerts and alert_runs (from --rules, kept in --db until other
    rules replace them); views: process_tree,
    exec_timeline, file_activity, network_activity, connections, privilege_changes,
    suspicious; table macros process_ancestors(pid) and process_descendants(pid);
    typed.<type>: one event type's events, args a STRUCT of its typed parameters.
    """
    if view:
        files, sql = list(args), view_sql(view, pid)
        values = {"pid": pid} if "$pid" in sql else {}
    else:
        if pid is not None:
            raise UsageError("--pid goes with --view")
        if not args:
            raise UsageError("no SQL: give capture files, then one SQL statement")
        files, sql = list(args[:-1]), args[-1]
        if not files and not db and os.path.isfile(sql):
            raise UsageError(f"{sql}: no SQL after the capture files (the last argument "
                             "is the SQL)")
        values = {}
    named = parse_params(params)
    if view and pid is not None and "pid" in named:
        raise UsageError("--pid and -p pid=... both name the process: give one")
    values.update(named)
    rules = compile_rules(rule_files, default_rules)
    owner_only()
    store = storage.Storage(files, db, memory_limit, in_memory)
    try:
        con = open_db(files, store, rules, uses_fds(sql), typed_views.uses_typed(sql))
        try:
            render(run_sql(con, sql, values), fmt)
        finally:
            con.close()
    finally:
        store.close()


@click.command("shell")
@click.argument("files", nargs=-1)
@click.option("--db", type=click.Path(dir_okay=False),
              help="Keep the database in this file (default: a temporary one).")
@click.option("--python", "python_repl", is_flag=True,
              help="A Python prompt with the connection as `con`, even where the duckdb "
                   "command is installed.")
@rules_options
@memory_option
@clean_errors
def shell_command(files, db, python_repl, rule_files, default_rules, memory_limit):
    """Load capture files and open DuckDB's shell on them (or a Python prompt with
    the connection as `con` when the duckdb command is not installed; without it, SQL
    piped in runs statement by statement)."""
    if not files and not db:
        raise UsageError("no capture files (and no --db) to open")
    rules = compile_rules(rule_files, default_rules)
    owner_only()
    store = storage.Storage(files, db, memory_limit)
    if store.db is None:   # the duckdb command needs a file to open
        store.use_file()
    db = store.db
    try:
        con = open_db(files, store, rules)
    except BaseException:
        store.close()
        raise
    duckdb_cli = shutil.which("duckdb")
    try:
        if duckdb_cli and not python_repl:
            con.close()
            os.spawnv(os.P_WAIT, duckdb_cli, [duckdb_cli, db])
        elif not python_repl and not sys.stdin.isatty():
            run_script(con, sys.stdin.read())   # SQL piped in, as duckdb's shell takes it
        else:
            code.interact(banner=f"scapula shell: DuckDB database {db}\n"
                                 "con.sql('SELECT ...').show(), tables: con.sql('SHOW TABLES')",
                          local={"con": con, "duckdb": duckdb}, exitmsg="")
    finally:
        con.close()
        store.close()
