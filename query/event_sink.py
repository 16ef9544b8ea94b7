"""Where a load's `events` go when they do not go into a DuckDB table: held in this
process's memory as the loader's own Arrow batches, which DuckDB reads in place through
a registered Arrow table, up to a budget; past it, to Parquet files
(query/parquet_events.py). `events` is a view over both.

Why hold them: writing the Parquet file was a third of a load whose other tables are in
memory (1.2M events: 1.38-1.60 CPU s with it, 0.97-1.04 holding the batches), and the
batches are already made. They cost ~80 bytes an event of RSS (the all-null columns of a
batch are slices of one shared array). The budget keeps a load's memory bounded whatever
its captures hold: the capture that crosses it keeps what is held, its other batches go
to its Parquet file, and so do every later capture's.

A registered table lives in its connection only: a database another process opens (the
duckdb shell's) gets a budget of 0, and a view over the Parquet files alone. So does a
load above storage.IN_MEMORY_EVENTS: holding its first 64 MB of events gained 0-9% a
round on 5M events (median 3%, 6 rounds) for ~60 MB more peak memory."""
import pyarrow as pa

from scapula.query import parquet_events

NAME = "_scapula_held_events"   # the registered table the view reads
# Arrow bytes of the batches held (shared null columns not counted): ~145 an event on
# the bench captures, so ~1.8M events. Two copies of the 1.2M-event bench capture
# loaded together (the 2M threshold lifted) peaked at 519 MB, the second crossing it;
# 271 MB with every event in Parquet.
BUDGET = 256 << 20


class EventSink:
    """Where one connection's events go: `directory` for the Parquet files, `budget`
    bytes of Arrow batches held first (0: every capture to its file)."""

    def __init__(self, directory: str, budget: int = 0):
        self.directory, self.budget = directory, budget
        self.held: dict[int, list[pa.RecordBatch]] = {}   # capture -> its batches
        self.size = 0
        self.spilled = budget <= 0   # from now on, every capture to its file
        self._con = None

    def view_sql(self) -> str:
        """The `events` view's SELECT (parquet_events.prepare makes the directory)."""
        return parquet_events.prepare(self.directory,
                                      also=NAME if self.budget > 0 else None)

    def attach(self, con) -> None:
        """Before the views are made: the held table, empty, so that they bind."""
        # Every statement naming `events` reads the files' footers again (~8 ms each on
        # 5M events): binding the typed views took 0.73 s, a small count 30 ms. Cached,
        # 0.06 s and 3 ms. A file is never rewritten under the same name while cached
        # (DuckDB checks its modification time anyway).
        con.execute("SET parquet_metadata_cache = true").fetchall()
        if self.budget > 0:
            self._con = con
            self.publish()

    def publish(self) -> None:
        """The batches held so far, to the connection (after each capture's events)."""
        if self._con is not None:
            batches = [b for kept in self.held.values() for b in kept]
            self._con.register(NAME, pa.Table.from_batches(batches,
                                                           parquet_events.FILE_SCHEMA))

    def write(self, capture: int, host: str, stream) -> None:
        if self.spilled:
            parquet_events.write(self.directory, capture, host, stream)
            return
        kept = self.held[capture] = []
        stream = iter(stream)
        for batch in stream:
            kept.append(parquet_events.file_batch(batch, capture, host))
            self.size += _own_bytes(kept[-1])
            if self.size > self.budget:   # what is held stays; the rest to the file
                self.spilled = True
                break
        # now: the rest of the load (the `captures` row) reads them through the view;
        # a load that fails is rolled back, and so is this registration
        self.publish()
        if self.spilled:
            parquet_events.write(self.directory, capture, host, stream)

    def discard(self, capture: int) -> None:
        """A capture whose load failed, or that is loaded again: its batches dropped,
        its file removed."""
        kept = self.held.pop(capture, None)
        if kept:
            self.size -= sum(_own_bytes(b) for b in kept)
        parquet_events.discard(self.directory, capture)


def _own_bytes(batch: pa.RecordBatch) -> int:
    """The batch's bytes but those of its all-null columns, which are slices of arrays
    every batch shares (batches.nulls)."""
    return sum(c.nbytes for c in batch.columns if c.null_count != len(c))
