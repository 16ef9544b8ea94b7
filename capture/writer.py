"""Writing .scapula files: preamble, header, schema, snapshot, event chunks, stats, footer.

Everything is written front to back, so a pipe works as well as a file; the footer's
offsets come from counting bytes, not from seeking.
"""
import io
from itertools import groupby
from operator import itemgetter
import os
import stat
import sys

import msgpack
import zstandard

from scapula.capture.decoder import TYPE, row_columns
from scapula.errors import ScapulaError
from scapula.schemas import events as schema
from scapula.schemas import format as fmt

ZSTD_LEVEL = 3


class WriteError(ScapulaError):
    exit_code = 5

    def __init__(self, message: str, path: str = "", strerror: str | None = None):
        super().__init__(message)
        self.path, self.strerror = path, strerror


class SizeLimit(Exception):
    """The next block would take the file past its size limit (--max-size); nothing
    of it was written, so the file can still be closed within the limit."""


# Room kept below a size limit for what close() adds: two STATS blocks (drops, sent and
# retries per CPU), the FOOTER's fixed part and the trailer. Each footer index entry
# (at most 4 ints of 9 bytes, plus framing) is counted on top, per chunk.
_TAIL_FIXED = 512
_TAIL_PER_CPU = 3 * 2 * 9
_TAIL_PER_CHUNK = 40


def open_output(path: str):
    """A binary stream for `path`; '-' is stdout. Files are created 0600."""
    if path == "-":
        return sys.stdout.buffer
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # an existing file keeps its mode through O_TRUNC; a device or fifo (-w /dev/null)
        # is not ours to chmod
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
    except OSError as e:
        raise WriteError(f"{path}: cannot create capture file: {e.strerror}") from None
    return os.fdopen(fd, "wb", buffering=1 << 20)


def _column_encoders(evt: schema.EventType):
    """(name, is a param, dtype or None) per row position; None means a msgpack list."""
    kinds = {p.name: p for p in evt.params}
    out = []
    for i, name in enumerate(row_columns(evt)):
        if i < len(schema.HEADER_FIELDS):
            out.append((name, False, "skip" if name == "type" else fmt.HEADER_DTYPES[name]))
        elif kinds[name].scalar:
            out.append((name, True, fmt.SCALAR_DTYPES[schema.SCALAR_KINDS[kinds[name].kind]]))
        else:
            out.append((name, True, None))
    return out


def encode_chunk(rows: list[tuple]) -> dict:
    """Rows in time order to the column-per-type chunk map (see FORMAT.md)."""
    order = [row[TYPE] for row in rows]
    out = {}
    # a stable sort by type keeps each group in time order; sorting and grouping
    # run in C, which beats appending row by row in Python
    for t, group in groupby(sorted(rows, key=_BY_TYPE), key=_BY_TYPE):
        grows = list(group)
        # header and params in separate maps: setuid's `uid` param is not the header's uid
        g = {"n": len(grows), "cols": {}, "dtypes": {}, "params": {}, "param_dtypes": {}}
        for (name, is_param, dtype), values in zip(_ENCODERS[t], zip(*grows)):
            cols, dtypes = (g["params"], g["param_dtypes"]) if is_param else (g["cols"], g["dtypes"])
            if dtype == "skip":
                continue
            if dtype is None:
                cols[name] = list(values)
            elif dtype == "bytes16":
                cols[name] = _comm_column(values)
                dtypes[name] = dtype
            else:
                cols[name] = fmt.pack_array(dtype, values)
                dtypes[name] = dtype
        out[t] = g
    return {"n": len(rows), "order": fmt.pack_array("u16", order), "groups": out}


def _comm_column(values) -> bytes:
    """Every field exactly 16 bytes, or the column's rows would shift. Rows from the
    kernel always are (the header's comm is char[16]), so join them at once."""
    size = fmt.COMM_SIZE
    joined = b"".join(values)
    if len(joined) == size * len(values):
        return joined
    return b"".join(v[:size].ljust(size, b"\0") for v in values)


_BY_TYPE = itemgetter(TYPE)
_ENCODERS = {e.id: _column_encoders(e) for e in schema.EVENTS}


class CaptureWriter:
    """One capture file. Call header() once, then chunks and stats, then close()."""

    def __init__(self, stream, name: str = "capture", limit: int | None = None):
        self._out = stream
        self.name = name
        self.limit = limit             # bytes the finished file may take (--max-size)
        self.offset = 0
        self._flushed = 0              # bytes known to be on disk: written and flushed
        self.header_end = None         # where the events start, once header() is done
        self.removed = False           # salvage() deleted a file that had no whole header
        self.chunks: list[list] = []   # footer index: offset, first ts, last ts, count
        self.events = 0
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._write(fmt.PREAMBLE.pack(fmt.FILE_MAGIC, fmt.FORMAT_MAJOR, fmt.FORMAT_MINOR, 0))

    def _write(self, data: bytes) -> None:
        try:
            self._out.write(data)
        except OSError as e:
            raise WriteError(f"{self.name}: write failed at byte {self.offset}: {e.strerror}",
                             self.name, e.strerror) from None
        self.offset += len(data)

    def _block(self, btype: int, obj, compress: bool = True, prefix: bytes = b"",
               limited: bool = False) -> int:
        raw = self._pack(obj)
        body = self._zstd.compress(raw) if compress else raw
        payload = prefix + body
        flags = fmt.FLAG_ZSTD if compress else 0
        block = fmt.block_header(btype, flags, payload, len(prefix) + len(raw)) + payload
        if limited and self.limit is not None \
                and self.offset + len(block) + self._tail_room(1) > self.limit:
            raise SizeLimit(self.name)
        start = self.offset
        self._write(block)
        return start

    def _tail_room(self, more_chunks: int = 0) -> int:
        """Bytes close() may add after the current offset (an upper bound)."""
        return (_TAIL_FIXED + _TAIL_PER_CPU * (os.cpu_count() or 1)
                + _TAIL_PER_CHUNK * (len(self.chunks) + more_chunks))

    def header(self, info: dict, processes: list[dict], fds: list[list]) -> None:
        self._block(fmt.HEADER, info, compress=False)
        self._block(fmt.SCHEMA, schema.as_dict())
        self._block(fmt.PROCESSES, processes)
        self._block(fmt.FDS, fds)
        self.header_end = self.offset
        if self.limit is not None and self.offset + self._tail_room() > self.limit:
            raise WriteError(f"{self.name}: --max-size {self.limit} is smaller than the file's "
                             f"header and snapshot ({self.offset} bytes)", self.name)

    def chunk(self, rows: list[tuple]) -> None:
        """Rows sorted by time; written as one independent chunk."""
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        summary = fmt.CHUNK_SUMMARY.pack(first, last, len(rows))
        start = self._block(fmt.CHUNK, encode_chunk(rows), prefix=summary, limited=True)
        self.chunks.append([start, first, last, len(rows)])
        self.events += len(rows)

    def stats(self, stats: dict) -> None:
        self._block(fmt.STATS, stats, compress=False)

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as e:
            raise WriteError(f"{self.name}: write failed: {e.strerror}", self.name,
                             e.strerror) from None
        self._flushed = self.offset

    def close(self, stats: dict) -> None:
        """Final stats, the footer index and the trailer: the file is complete."""
        self._finish(stats)
        self.flush()
        if self._out is not sys.stdout.buffer:
            self._out.close()

    def _finish(self, stats: dict) -> None:
        self.stats(stats)
        footer = {"chunks": self.chunks, "events": self.events, "stats": stats}
        footer_at = self._block(fmt.FOOTER, footer, compress=False)
        self._write(fmt.TRAILER.pack(footer_at, fmt.END_MAGIC))

    def salvage(self, stats: dict) -> bool:
        """After a failed write (a full disk): cut the file back to the blocks known to be
        on disk and, if there is room for them, add the footer and trailer. Returns True
        when the file is complete; otherwise it ends after its last whole block, which a
        reader reads as truncated. A pipe is only closed."""
        out = self._out
        try:
            fd = os.dup(out.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            fd = None
        try:
            out.close()  # its buffer cannot be written; closing still releases the fd
        except OSError:
            pass
        if fd is None:
            return False
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            good = self._flushed
            if self.header_end is None or good < self.header_end:
                # without its header blocks no reader can open it: not worth keeping
                os.unlink(self.name)
                self.removed, self.chunks, self.events, self.offset = True, [], 0, 0
                return False
            os.ftruncate(fd, good)  # a block cut short would hide the footer after it
            # the tail is built in memory and written in one go at `good`
            self._out, self.offset = io.BytesIO(), good
            self.chunks = [c for c in self.chunks if c[0] < good]
            self.events = sum(c[3] for c in self.chunks)
            self._finish(stats | {"events": self.events})
            tail = self._out.getvalue()
            try:
                written = 0
                while written < len(tail):
                    written += os.pwrite(fd, tail[written:], good + written)
                os.fsync(fd)
                self.offset = good + len(tail)
                return True
            except OSError:
                os.ftruncate(fd, good)
                self.offset = good
                return False
        finally:
            os.close(fd)
