"""`events` kept as Parquet files in a directory, one a capture, read through a view:
where a load's events go when they go to no DuckDB table (--db, --in-memory) and are
not held in memory (query/event_sink.py says when).

Why not a DuckDB table: one in a database file costs ~0.6 µs an event for DuckDB's
compression as the row groups are written, which made a memory-bounded load half as
fast as one in memory; one in memory costs ~0.3 KB an event. pyarrow writes the
loader's batches as they come, with dictionary pages and LZ4, for about what DuckDB's
insert into memory costs, holding one batch at a time (5M events, the session this
was written: 1.02M ev/s in 327 MB, against 0.50M in 467 MB into DuckDB's file). DuckDB
reads the files back fast and skips row groups by their statistics: each batch is one
row group, and a flush window's batches hold only its own seq range, so the seq ranges
the fds table is built from prune well."""
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scapula.errors import OutputError
from scapula.query import batches, images
from scapula.query import schema as qs

# Columns the view works out rather than the files holding them: ts_ns is ts's own
# nanoseconds (writing it took ~25 ns an event, 8 bytes uncompressed).
DERIVED = {"ts_ns": 'epoch_ns("ts")'}
# A file's columns: the loader's stream but the derived, then its capture's constants.
_STREAM = [i for i, f in enumerate(images.SCHEMA) if f.name not in DERIVED]
FILE_SCHEMA = pa.schema([images.SCHEMA.field(i) for i in _STREAM]).append(
    pa.field("capture", pa.int32())).append(pa.field("host", qs.TEXT_DICT))
COMPRESSION = "lz4"   # 1.2M events: 28 MB, none: 185 MB, for no less time (ts_ns written)
# Dictionary pages for the columns that come dictionary-encoded (pyarrow would hash
# every value of the others to try), and min/max statistics for the numbers and the
# type, which prune row groups (a batch is one type); those of the text columns (paths,
# args) took a quarter of the writing: 1.2M events, 571 -> 416 ns an event in all.
DICTIONARY = [f.name for f in FILE_SCHEMA if pa.types.is_dictionary(f.type)]
STATISTICS = ["seq", "ts", "capture", "pid", "tid", "ppid", "uid", "gid", "proc_id",
              "result", "fd", "cgroup", "cpu", "type"]
# Version 2 data pages (levels apart from the values, not compressed with them) and
# the rows encoded 8k at a time, not 1k: 1.2M events, ~390 -> ~335 ns an event to write.
WRITER = {"data_page_version": "2.0", "write_batch_size": 8192}
_EMPTY = "empty.parquet"   # no rows: the view has a file to read before any capture


def prepare(directory: str, also: str | None = None) -> str:
    """The directory, with a file of no rows; returns the view's SELECT (in `events`'
    column order, the order a table would have). `also`: a table of the files'
    columns whose rows the view has too (query/event_sink.py's held batches)."""
    empty = os.path.join(directory, _EMPTY)
    try:
        os.makedirs(directory, exist_ok=True)
        pq.write_table(FILE_SCHEMA.empty_table(), empty)
    except OSError as e:
        raise _cannot(empty, e) from None
    glob = os.path.join(directory, "*.parquet")
    cols = ", ".join(f'{DERIVED[c.name]} AS "{c.name}"' if c.name in DERIVED
                     else f'"{c.name}"' for c in qs.EVENTS)
    rows = f"read_parquet({qs.sql_text(glob)})"
    if also:
        names = ", ".join(f'"{f.name}"' for f in FILE_SCHEMA)
        # `also` first: its captures were loaded before any that went to a file
        rows = f"(SELECT {names} FROM {also} UNION ALL SELECT {names} FROM {rows})"
    return f"SELECT {cols} FROM {rows}"


def path_of(directory: str, capture: int) -> str:
    return os.path.join(directory, f"capture-{capture}.parquet")


def write(directory: str, capture: int, host: str, stream) -> None:
    """The capture's batches into its file, as they come. A file that cannot be
    written (a full disk) is an OutputError; the stream's own errors pass as they are."""
    path = path_of(directory, capture)
    try:
        # buffered: the writer's pages came to the file one small write at a time
        sink = pa.output_stream(path, buffer_size=1 << 20)
        out = pq.ParquetWriter(sink, FILE_SCHEMA, compression=COMPRESSION,
                               use_dictionary=DICTIONARY, write_statistics=STATISTICS,
                               **WRITER)
    except OSError as e:
        raise _cannot(path, e) from None
    try:
        for batch in stream:
            batch = file_batch(batch, capture, host)
            try:
                out.write_batch(batch)
            except OSError as e:
                raise _cannot(path, e) from None
    except BaseException:
        try:   # the file goes anyway (discard()); the first error is the one to tell
            _close(out, sink)
        except OSError:
            pass
        raise
    try:
        _close(out, sink)
    except OSError as e:
        raise _cannot(path, e) from None


def _close(writer, sink) -> None:
    """The writer (its footer into the buffer), then the file, even if the first fails."""
    try:
        writer.close()
    finally:
        sink.close()


def _cannot(path: str, e: OSError) -> OutputError:
    # Arrow's strerror is its own sentence with the system's message after it
    reason = os.strerror(e.errno) if e.errno else e.strerror or str(e)
    return OutputError(f"{path}: cannot write the events: {reason} (TMPDIR chooses "
                       "where they go; --db puts every table in a file you name)")


def discard(directory: str, capture: int) -> None:
    """The capture's file gone (a load that failed), if it was made."""
    try:
        os.unlink(path_of(directory, capture))
    except FileNotFoundError:
        pass


def file_batch(batch: pa.RecordBatch, capture: int, host: str) -> pa.RecordBatch:
    """A loader batch in FILE_SCHEMA: the derived columns out, the capture's in."""
    n = batch.num_rows
    cols = [batch.column(i) for i in _STREAM]
    cols = [_null_free(c) if pa.types.is_dictionary(c.type) else c for c in cols]
    cols += [pa.repeat(pa.scalar(capture, pa.int32()), n), batches.repeat_text(host, n)]
    return pa.RecordBatch.from_arrays(cols, schema=FILE_SCHEMA)


def _null_free(col: pa.DictionaryArray) -> pa.DictionaryArray:
    """Parquet's writer takes no null inside a dictionary (errno's entry 0, an unknown
    exe): the rows pointing at one get a null index instead."""
    values = col.dictionary
    if not values.null_count:
        return col
    points_at_null = pc.fill_null(pc.take(pc.is_null(values), col.indices), False)
    indices = pc.if_else(points_at_null, pa.scalar(None, col.indices.type), col.indices)
    return pa.DictionaryArray.from_arrays(indices, pc.fill_null(values, ""))
