"""Reading .scapula files: the header blocks at open, then events lazily, chunk by chunk.

Damage is survived, not hidden: a chunk whose checksum fails is skipped and reported
with its offset, a damaged block header is skipped by searching for the next block,
and a file that ends early (the recorder was killed) is read to its last whole chunk
and reported as truncated. Every such finding is in `Capture.warnings`.
"""
import os
import stat
import struct
import sys
import zlib

import msgpack
import numpy as np
import zstandard

from scapula.errors import InputError
from scapula.schemas import events as schema
from scapula.schemas import format as fmt
from scapula.replay.event import Event, ChunkGroup

_HEADER_COLUMNS = set(fmt.HEADER_DTYPES)


class Capture:
    """An open capture file. `events()` iterates its events in time order."""

    def __init__(self, path: str):
        self.path = path
        self.warnings: list[str] = []
        self.truncated = False
        self.footer: dict | None = None
        self._scan_end: int | None = None   # where a scan stops short of the trailer
        self._scanned_stats: dict | None = None
        self._scanned = False
        try:
            # a pipe (record -w - | ..., <(cat f)) or a FIFO: the footer is at the end,
            # so a capture is read with seeks; and opening a FIFO waits for a writer
            mode = os.stat(path).st_mode
            if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise InputError(f"{path}: a pipe, not a file: captures are read from files "
                                 "(write it to one first, e.g. record -w FILE)")
            self._f = open(path, "rb")
            if not self._f.seekable():
                self._f.close()
                raise InputError(f"{path}: cannot seek in it: captures are read from files")
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror}") from None
        self._zstd = zstandard.ZstdDecompressor()
        try:
            self._read_preamble()
            self.header = self._expect(fmt.HEADER)
            schema_data = self._expect(fmt.SCHEMA)
            try:
                self.schema = {e.id: e for e in schema.from_dict(schema_data)}
            except (KeyError, TypeError, ValueError, AttributeError):
                raise InputError(f"{path}: the embedded event schema is malformed") from None
            # facts the recording kernel could not give: their placeholders read as None
            self._absent = set(self.header.get("absent_params") or ())
            self.processes = self._expect(fmt.PROCESSES, spare="processes alive at the "
                                          "start are not known")
            self.fds = self._expect(fmt.FDS, spare="fds open at the start are not known")
            self._first_chunk = self._f.tell()
            self.footer = self._read_footer()
        except BaseException:
            self._f.close()
            raise

    def _warn(self, message: str) -> None:
        # chunks() may run more than once (info, then events): say each thing once
        if message not in self.warnings:
            self.warnings.append(message)

    # --- framing ------------------------------------------------------------------
    def _read_preamble(self) -> None:
        data = self._f.read(fmt.PREAMBLE.size)
        if len(data) < fmt.PREAMBLE.size or not data.startswith(fmt.FILE_MAGIC):
            raise InputError(f"{self.path}: not a scapula capture (bad magic at offset 0)")
        _magic, major, minor, _flags = fmt.PREAMBLE.unpack(data)
        if major > fmt.FORMAT_MAJOR:
            raise InputError(f"{self.path}: format version {major}.{minor} is newer than this "
                             f"scapula reads ({fmt.FORMAT_MAJOR}.x); upgrade scapula")
        if major != fmt.FORMAT_MAJOR:
            raise InputError(f"{self.path}: format version {major}.{minor} is not supported "
                             f"(this scapula reads {fmt.FORMAT_MAJOR}.x)")
        self.version = (major, minor)

    def _read_block(self, at: int, skip_chunk=None):
        """(type, payload object, next offset) of the block at `at`.

        Returns None at a clean end of file. Raises _Truncated when the file ends
        inside the block, _Damage for a bad block, with the offset to resume from.
        `skip_chunk(first_ts, last_ts)` true: a chunk's object is None, not decoded.
        """
        self._f.seek(at)
        head = self._f.read(fmt.BLOCK_HEADER.size)
        if not head:
            return None
        if len(head) < fmt.BLOCK_HEADER.size:
            raise _Truncated(at)
        sync, btype, flags, length, raw_len, crc, hcrc = fmt.BLOCK_HEADER.unpack(head)
        if sync != fmt.SYNC or zlib.crc32(head[:-4]) != hcrc:
            raise _Damage(at, "damaged block header", None)
        name = fmt.BLOCK_NAMES.get(btype, f"type-{btype} block")
        payload = self._f.read(length)
        nxt = at + fmt.BLOCK_HEADER.size + length
        if len(payload) < length:
            raise _Truncated(at)
        if zlib.crc32(payload) != crc:
            raise _Damage(at, f"{name} checksum mismatch", nxt)
        if flags & ~fmt.KNOWN_FLAGS:
            raise _Damage(at, f"{name} has flags {flags:#x} this version cannot read", nxt)
        prefix = fmt.CHUNK_SUMMARY.size if btype == fmt.CHUNK else 0
        try:
            if prefix:
                first, last, _count = fmt.CHUNK_SUMMARY.unpack_from(payload)
                if skip_chunk is not None and skip_chunk(first, last):
                    return btype, None, nxt
            body = payload[prefix:]
            if flags & fmt.FLAG_ZSTD:
                body = self._zstd.decompress(body, max_output_size=raw_len)
            if prefix + len(body) != raw_len:
                raise ValueError(f"{prefix + len(body)} bytes where the header says {raw_len}")
            obj = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, struct.error, zstandard.ZstdError, msgpack.UnpackException) as e:
            # the checksum matched, so the writer itself wrote something unreadable
            raise _Damage(at, f"{name} cannot be decoded ({e})", nxt) from None
        return btype, obj, nxt

    def _expect(self, btype: int, spare: str | None = None):
        """The block of `btype` at the current offset. `spare`: the block can be done
        without (the start snapshot): a damaged one is skipped with a warning that
        says what is lost (`spare`), and reads as empty."""
        at = self._f.tell()
        try:
            got = self._read_block(at)
        except _Damage as d:
            if spare is None or d.resume is None:
                got = None
            else:
                self._warn(f"{self.path}: offset {at}: {d.what}; read without it "
                           f"({spare})")
                self._f.seek(d.resume)
                return []
        except _Truncated:
            got = None
        if got is None or got[0] != btype:
            raise InputError(f"{self.path}: offset {at}: expected the {fmt.BLOCK_NAMES[btype]} "
                             "block; the file is damaged or cut before its first events")
        self._f.seek(got[2])
        return got[1]

    def _read_footer(self) -> dict | None:
        try:
            size = os.fstat(self._f.fileno()).st_size
            if size < self._first_chunk + fmt.TRAILER.size:
                return None
            self._f.seek(size - fmt.TRAILER.size)
            footer_at, magic = fmt.TRAILER.unpack(self._f.read(fmt.TRAILER.size))
        except OSError:
            return None
        if magic != fmt.END_MAGIC or not self._first_chunk <= footer_at < size:
            return None
        try:
            got = self._read_block(footer_at)
        except (_Damage, _Truncated):
            got = None
        if got is None or got[0] != fmt.FOOTER or not _valid_footer(got[1]):
            # the recording finished but its index is unreadable: scan the blocks instead
            self._scan_end = footer_at
            self._warn(f"{self.path}: offset {footer_at}: damaged footer; "
                       "scanning the file's blocks instead")
            return None
        return got[1]

    # --- blocks after the header ----------------------------------------------------
    def _blocks(self, skip_chunk=None):
        """(type, object, offset) of every readable block after the snapshot."""
        at = self._first_chunk
        while True:
            if self._scan_end is not None and at >= self._scan_end:
                return
            try:
                got = self._read_block(at, skip_chunk)
            except _Truncated as t:
                self.truncated = True
                self._warn(f"{self.path}: truncated at offset {t.at}: the file ends inside a "
                           "block (was the recorder killed?); read up to the last whole chunk")
                return
            except _Damage as d:
                self._warn(f"{self.path}: offset {d.at}: {d.what}; skipped")
                at = d.resume if d.resume is not None else self._resync(d.at + 1)
                if at is None:
                    return
                continue
            if got is None:
                if self._scan_end is None:
                    self.truncated = True
                    self._warn(f"{self.path}: no footer: the recording did not finish "
                               "(was the recorder killed?); read up to the last whole chunk")
                return
            btype, obj, nxt = got
            if btype == fmt.FOOTER:
                if self.footer is None and self._scan_end is None:
                    # the recording finished, but the file's last bytes (the trailer
                    # that points at this footer) are damaged
                    self._warn(f"{self.path}: offset {at}: damaged trailer; the footer "
                               "was found by reading every block")
                    if _valid_footer(obj):
                        self.footer = obj
                return
            yield btype, obj, at
            at = nxt

    def _resync(self, start: int) -> int | None:
        """Offset of the next block sync marker at or after `start`, or None."""
        self._f.seek(start)
        carry = b""
        pos = start
        while True:
            data = self._f.read(1 << 20)
            if not data:
                return None
            buf = carry + data
            i = buf.find(fmt.SYNC)
            if i >= 0:
                return pos - len(carry) + i
            carry = buf[-(len(fmt.SYNC) - 1):]
            pos += len(data)

    def chunks(self, since: int | None = None, until: int | None = None, raw: bool = False):
        """Decoded chunks (dict of type id -> ChunkGroup, and the order array).
        `raw`: packed columns stay their bytes (event.Packed), for a reader that wraps
        them whole (the SQL loader does, in Arrow); on a little-endian host only, as
        the file is little-endian."""
        raw = raw and sys.byteorder == "little"
        def outside(first, last):
            return (since is not None and last < since) or (until is not None and first > until)

        if self.footer is not None:
            for entry in self.footer["chunks"]:
                at, first, last = entry[0], entry[1], entry[2]
                if outside(first, last):
                    continue
                try:
                    got = self._read_block(at)
                    if got is None or got[0] != fmt.CHUNK:
                        raise _Damage(at, "the footer points at no chunk", None)
                    yield self._groups(got[1], at, raw)
                except _Truncated as t:
                    self._warn(f"{self.path}: offset {t.at}: chunk cut short; skipped")
                except _Damage as d:
                    self._warn(f"{self.path}: offset {d.at}: {d.what}; skipped")
            return
        for btype, obj, at in self._blocks(skip_chunk=outside):
            if btype == fmt.STATS:
                self._scanned_stats = obj
            elif btype == fmt.CHUNK and obj is not None:
                try:
                    yield self._groups(obj, at, raw)
                except _Damage as d:
                    self._warn(f"{self.path}: offset {d.at}: {d.what}; skipped")
        self._scanned = True

    def _groups(self, chunk: dict, at: int, raw: bool = False):
        """A chunk's groups and order, checked so that reassembly cannot go wrong."""
        try:
            order = fmt.unpack_array("u16", chunk["order"])
            # counted in numpy: a Counter took 0.56 ms a 16k-event chunk, this 0.02
            counts = np.bincount(np.frombuffer(order, np.uint16))
            per_type = dict(zip(np.flatnonzero(counts).tolist(),
                                counts[counts > 0].tolist()))
            groups = {}
            for tid, g in chunk["groups"].items():
                if per_type.get(tid) != g["n"]:
                    raise ValueError(f"type {tid}: {g['n']} rows, {per_type.get(tid, 0)} in order")
                etype = self.schema.get(tid)
                if etype is None:
                    continue  # a type this file's own schema does not list: nothing to name it
                groups[tid] = group = ChunkGroup(etype, g, raw)
                missing = _HEADER_COLUMNS - group.cols.keys()
                if missing:
                    raise ValueError(f"type {tid}: no {', '.join(sorted(missing))} column")
                columns = list(group.cols.values()) + list(group.params.values())
                if any(len(col) != group.n for col in columns):
                    raise ValueError(f"type {tid}: columns of unequal length")
                for name in self._absent & group.params.keys():
                    group.params[name] = [None] * group.n
            if len(order) != sum(per_type.get(t, 0) for t in chunk["groups"]):
                raise ValueError("the order array names types the chunk lacks")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise _Damage(at, f"chunk malformed ({e})", None) from None
        return groups, order

    def rows(self, since: int | None = None, until: int | None = None):
        """(group, index) of every event in time order: what Event views, without
        making one (replay passes over most events without reading them)."""
        for groups, order in self.chunks(since, until):
            counters = {t: iter(range(g.n)).__next__ for t, g in groups.items()}
            bounded = since is not None or until is not None
            for t in order:
                g = groups.get(t)
                if g is None:
                    continue
                i = counters[t]()
                if bounded:
                    ts = g.cols["ts"][i]
                    if (since is not None and ts < since) or (until is not None and ts > until):
                        continue
                yield g, i

    def events(self, since: int | None = None, until: int | None = None, types=None):
        """Every event in time order; `types` is a set of event names to keep."""
        for g, i in self.rows(since, until):
            if types is not None and g.etype.name not in types:
                continue
            yield Event(g, i)

    @property
    def stats(self) -> dict:
        """Drop and loss statistics: the footer's, or the last stats block seen."""
        if self.footer is not None:
            return self.footer.get("stats", {})
        if not self._scanned:
            for btype, obj, _at in self._blocks(skip_chunk=lambda first, last: True):
                if btype == fmt.STATS:
                    self._scanned_stats = obj
            self._scanned = True
        return self._scanned_stats or {}

    def report_warnings(self) -> list[str]:
        """What a report made from this file says after reading it: what was wrong
        with the file, and what the kernel could not hand over while recording."""
        drops = [d for d in (self.stats.get("drops") or []) if isinstance(d, int)]
        if not sum(drops):
            return list(self.warnings)
        per_cpu = ", ".join(f"cpu{i} {n:,}" for i, n in enumerate(drops) if n)
        return self.warnings + [f"{self.path}: {sum(drops):,} events were dropped while "
                                f"recording ({per_cpu}; the ring buffer was full): "
                                "nothing here includes them"]

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _valid_footer(footer) -> bool:
    chunks = footer.get("chunks") if isinstance(footer, dict) else None
    return isinstance(chunks, list) and all(
        isinstance(c, list) and len(c) >= 4 and all(isinstance(v, int) for v in c[:4])
        for c in chunks)


class _Truncated(Exception):
    def __init__(self, at):
        self.at = at


class _Damage(Exception):
    def __init__(self, at, what, resume):
        self.at, self.what, self.resume = at, what, resume


