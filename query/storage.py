"""Where a query's database lives. Unless the user names a database file (--db) or
asks for memory (--in-memory), the events stay out of DuckDB's tables, read through a
view (query/event_sink.py): an in-memory DuckDB table is uncompressed and cannot leave
memory (5M events took 5.9 GB), and a table in a file costs DuckDB's compression. The
other tables stay in memory, and the events are held as Arrow up to a budget, then go
to Parquet files in a temporary directory; or, for a large load, the other tables go
to a DuckDB file in that directory under DuckDB's memory limit and the events to the
Parquet files. See docs/PERFORMANCE.md for what each costs."""
from contextlib import contextmanager
import os
import re
import shutil
import tempfile

import duckdb

from scapula.errors import InputError, OutputError, UsageError, first_line
from scapula.query import event_sink, loader
from scapula.query import schema as qs
from scapula.query.event_sink import EventSink
from scapula.replay.reader import Capture

# Above this many events a load without --db keeps its other tables in a file under a
# memory limit too: they grow with the events (`fds` has a row for about every eighth
# event on the bench captures). `--in-memory`, events included: ~0.3 KB an event.
IN_MEMORY_EVENTS = 2_000_000
# DuckDB's memory limit for such a load: its buffers only; the loader's own batches
# and Python come on top.
BOUNDED_LIMIT = "256MB"
# Events decoded at a time in such a load (as query.loader.WINDOW_ROWS otherwise): on
# 5M events 256k peaked at 329 MB against 128k's 282, and loaded 8-11% faster (14
# interleaved rounds, 2026-11-22: fewer, larger batches).
BOUNDED_WINDOW = 1 << 18
# A capture cut short has no footer to count its events: judged by its size
# (recordings of busy hosts run 7 to 9 bytes an event).
BYTES_PER_EVENT = 6
_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?)?B", re.IGNORECASE)


def events_in(paths) -> int:
    """How many events the files hold: their footers' counts, else a guess by size."""
    total = 0
    for path in paths:
        try:
            with Capture(str(path)) as cap:
                footer = cap.footer
        except (InputError, OSError):   # the load itself says what is wrong with it
            footer = None
        if footer is not None and isinstance(footer.get("events"), int):
            total += footer["events"]
        else:
            try:
                total += os.path.getsize(path) // BYTES_PER_EVENT
            except OSError:
                pass
    return total


class Storage:
    """The database for one command. `db`: a file the user keeps, every table in it.
    Else the other tables go to memory, the events are held as Arrow up to a budget
    and then go to Parquet files in a temporary directory (`events_dir`) removed by
    close(); or, for a large load, the other tables go to a database file in that
    directory under a memory limit and the events to the Parquet files. `memory_limit`
    (DuckDB's size syntax, 400MB) caps DuckDB's memory; given without --db, it also
    sends the other tables to the file. `in_memory`: every table in memory whatever
    the size."""

    def __init__(self, files, db: str | None, memory_limit: str | None = None,
                 in_memory: bool = False):
        if memory_limit is not None and not _SIZE.fullmatch(memory_limit.strip()):
            raise UsageError(f"--memory-limit {memory_limit}: expected a size such as "
                             "400MB or 2GB")
        if in_memory and (db or memory_limit):
            raise UsageError("--in-memory goes without --db and --memory-limit")
        self.db, self.memory_limit, self.tmp, self.events_dir = db, memory_limit, None, None
        self.events = None   # the EventSink, made by connect()
        self.chosen = memory_limit is not None   # by the user, for the queries too
        if in_memory or db is not None:   # the user's choice
            return
        self.tmp = tempfile.mkdtemp(prefix="scapula-")
        self.events_dir = os.path.join(self.tmp, "events")
        if memory_limit or events_in(files) > IN_MEMORY_EVENTS:
            self.use_file()
            self.memory_limit = memory_limit or BOUNDED_LIMIT

    def use_file(self) -> None:
        """The tables in a database file in the temporary directory (made if need be),
        not in memory: for a large load, and for the duckdb command, which opens the
        file in a process of its own."""
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="scapula-")
        self.db = os.path.join(self.tmp, "captures.duckdb")

    @property
    def bounded(self) -> bool:
        return self.memory_limit is not None

    @property
    def window_rows(self) -> int | None:
        return BOUNDED_WINDOW if self.bounded else None

    def connect(self):
        """The database as this storage has it (loader.connect), configured. Events
        not bound for a table are held in memory (query/event_sink.py) up to a budget
        when the other tables are in memory too; else (a large load, or a file another
        process opens) they go to Parquet files: held batches live in this process
        only, and a large load keeps its memory for the other tables."""
        if self.events_dir:
            self.events = EventSink(self.events_dir,
                                    event_sink.BUDGET if self.db is None else 0)
        con = loader.connect(self.db, self.events)
        try:
            self.configure(con)
        except BaseException:
            con.close()
            raise
        return con

    def load(self, con, files, warn) -> list[int]:
        """loader.load with this storage's window and events directory; no fds (the
        command builds them when it needs them). Returns the capture ids."""
        return loader.load(con, files, warn, fd_lifetimes=False,
                           window_rows=self.window_rows, events=self.events)

    @contextmanager
    def failures(self):
        """DuckDB failing to write its database (loader.WRITE_FAILURES) or to stay
        under its memory limit while setting up or loading: one line, not its
        exception."""
        try:
            yield
        except duckdb.OutOfMemoryException as e:
            limit = self.memory_limit or "none set"
            raise UsageError(f"DuckDB ran out of memory (its limit: {limit}; "
                             f"--memory-limit sets it): {first_line(e)}") from None
        except loader.WRITE_FAILURES as e:
            where = self.db or self.tmp   # no file: what DuckDB spills, in TMPDIR
            raise OutputError(f"{where}: cannot write the database: {first_line(e)}"
                              if where else f"cannot write the database: {first_line(e)}") \
                from None

    def configure(self, con) -> None:
        """DuckDB's memory limit, and where it spills (the temporary folder)."""
        if self.memory_limit is None:
            return
        con.execute(f"SET memory_limit = '{self.memory_limit.strip()}'")   # checked: _SIZE
        if self.tmp:
            spill = os.path.join(self.tmp, "spill")
            con.execute(f"SET temp_directory = {qs.sql_text(spill)}")

    def loaded(self, con) -> None:
        """After the load: a limit the user did not choose is lifted for the queries
        (the data is compressed in the file by now; a query's own working memory, a
        join's or a sort's, is the user's to spend: 256MB failed the views on 5M)."""
        if self.memory_limit is not None and not self.chosen:
            con.execute("RESET memory_limit")

    def close(self) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
