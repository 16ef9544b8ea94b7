"""Writing .scapula files: preamble, header, schema, snapshot, event chunks, stats, footer.

Everything is written front to back, so a pipe works as well as a file; the footer's
offsets come from counting bytes, not from seeking.
"""
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

    def __init__(self, stream, name: str = "capture"):
        self._out = stream
        self.name = name
        self.offset = 0
        self.chunks: list[list] = []   # footer index: offset, first ts, last ts, count
        self.events = 0
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._write(fmt.PREAMBLE.pack(fmt.FILE_MAGIC, fmt.FORMAT_MAJOR, fmt.FORMAT_MINOR, 0))

    def _write(self, data: bytes) -> None:
        try:
            self._out.write(data)
        except OSError as e:
            raise WriteError(f"{self.name}: write failed at byte {self.offset}: {e.strerror}") from None
        self.offset += len(data)

    def _block(self, btype: int, obj, compress: bool = True, prefix: bytes = b"") -> int:
        raw = self._pack(obj)
        body = self._zstd.compress(raw) if compress else raw
        payload = prefix + body
        start = self.offset
        flags = fmt.FLAG_ZSTD if compress else 0
        self._write(fmt.block_header(btype, flags, payload, len(prefix) + len(raw)) + payload)
        return start

    def header(self, info: dict, processes: list[dict], fds: list[list]) -> None:
        self._block(fmt.HEADER, info, compress=False)
        self._block(fmt.SCHEMA, schema.as_dict())
        self._block(fmt.PROCESSES, processes)
        self._block(fmt.FDS, fds)

    def chunk(self, rows: list[tuple]) -> None:
        """Rows sorted by time; written as one independent chunk."""
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        summary = fmt.CHUNK_SUMMARY.pack(first, last, len(rows))
        start = self._block(fmt.CHUNK, encode_chunk(rows), prefix=summary)
        self.chunks.append([start, first, last, len(rows)])
        self.events += len(rows)

    def stats(self, stats: dict) -> None:
        self._block(fmt.STATS, stats, compress=False)

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as e:
            raise WriteError(f"{self.name}: write failed: {e.strerror}") from None

    def close(self, stats: dict) -> None:
        """Final stats, the footer index and the trailer: the file is complete."""
        self.stats(stats)
        footer = {"chunks": self.chunks, "events": self.events, "stats": stats}
        footer_at = self._block(fmt.FOOTER, footer, compress=False)
        self._write(fmt.TRAILER.pack(footer_at, fmt.END_MAGIC))
        self.flush()
        if self._out is not sys.stdout.buffer:
            self._out.close()
