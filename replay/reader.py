"""Reading .scapula files: the header blocks at open, then events lazily, chunk by chunk.

Damage is survived, not hidden: a chunk whose checksum fails is skipped and reported
with its offset, a damaged block header is skipped by searching for the next block,
and a file that ends early (the recorder was killed) is read to its last whole chunk
and reported as truncated. Every such finding is in `Capture.warnings`.
"""
from array import array
import os
import zlib

import msgpack
import zstandard

from scapula.errors import InputError
from scapula.schemas import events as schema
from scapula.schemas import format as fmt
from scapula.replay.event import Event, ChunkGroup


class Capture:
    """An open capture file. `events()` iterates its events in time order."""

    def __init__(self, path: str):
        self.path = path
        self.warnings: list[str] = []
        self.truncated = False
        self.footer: dict | None = None
        try:
            self._f = open(path, "rb")
        except OSError as e:
            raise InputError(f"{path}: cannot open: {e.strerror}") from None
        self._zstd = zstandard.ZstdDecompressor()
        self._read_preamble()
        self.header = self._expect(fmt.HEADER)
        schema_data = self._expect(fmt.SCHEMA)
        self.schema = {e.id: e for e in schema.from_dict(schema_data)}
        self.processes = self._expect(fmt.PROCESSES)
        self.fds = self._expect(fmt.FDS)
        self._first_chunk = self._f.tell()
        self.footer = self._read_footer()
        self._scanned_stats: dict | None = None

    # --- framing ------------------------------------------------------------------
    def _read_preamble(self) -> None:
        data = self._f.read(fmt.PREAMBLE.size)
        if len(data) < fmt.PREAMBLE.size or not data.startswith(fmt.FILE_MAGIC):
            raise InputError(f"{self.path}: not a scapula capture (bad magic at offset 0)")
        _magic, major, minor, _flags = fmt.PREAMBLE.unpack(data)
        if major > fmt.FORMAT_MAJOR:
            raise InputError(f"{self.path}: format version {major}.{minor} is newer than this "
                             f"scapula reads ({fmt.FORMAT_MAJOR}.x); upgrade scapula")
        self.version = (major, minor)

    def _read_block(self, at: int):
        """(type, payload object, next offset) of the block at `at`.

        Returns None at a clean end of file. Raises _Damage for a bad block, with
        the offset to resume from.
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
        payload = self._f.read(length)
        nxt = at + fmt.BLOCK_HEADER.size + length
        if len(payload) < length:
            raise _Truncated(at)
        if zlib.crc32(payload) != crc:
            raise _Damage(at, f"{fmt.BLOCK_NAMES.get(btype, 'block')} checksum mismatch", nxt)
        prefix = fmt.CHUNK_SUMMARY.size if btype == fmt.CHUNK else 0
        body = payload[prefix:]
        if flags & fmt.FLAG_ZSTD:
            body = self._zstd.decompress(body, max_output_size=raw_len)
        obj = msgpack.unpackb(body, raw=False, strict_map_key=False)
        return btype, obj, nxt

    def _expect(self, btype: int):
        at = self._f.tell()
        try:
            got = self._read_block(at)
        except (_Damage, _Truncated):
            got = None
        if got is None or got[0] != btype:
            raise InputError(f"{self.path}: offset {at}: expected the {fmt.BLOCK_NAMES[btype]} "
                             "block; the file is damaged before its first events")
        self._f.seek(got[2])
        return got[1]

    def _read_footer(self) -> dict | None:
        try:
            size = os.fstat(self._f.fileno()).st_size
            if size < self._first_chunk + fmt.TRAILER.size:
                return None
            self._f.seek(size - fmt.TRAILER.size)
            footer_at, magic = fmt.TRAILER.unpack(self._f.read(fmt.TRAILER.size))
            if magic != fmt.END_MAGIC or footer_at >= size:
                return None
            got = self._read_block(footer_at)
        except (OSError, _Damage, _Truncated, ValueError):
            return None
        if got is None or got[0] != fmt.FOOTER:
            return None
        return got[1]

    # --- blocks after the header ----------------------------------------------------
    def _blocks(self):
        """(type, object, offset) of every readable block after the snapshot."""
        at = self._first_chunk
        while True:
            try:
                got = self._read_block(at)
            except _Truncated as t:
                self.truncated = True
                self.warnings.append(f"{self.path}: truncated at offset {t.at}: the file ends "
                                     "inside a block (was the recorder killed?); "
                                     "read up to the last whole chunk")
                return
            except _Damage as d:
                self.warnings.append(f"{self.path}: offset {d.at}: {d.what}; skipped")
                at = d.resume if d.resume is not None else self._resync(d.at + 1)
                if at is None:
                    return
                continue
            if got is None:
                if self.footer is None and not self.truncated:
                    self.truncated = True
                    self.warnings.append(f"{self.path}: no footer: the recording did not finish "
                                         "(was the recorder killed?); read up to the last "
                                         "whole chunk")
                return
            btype, obj, nxt = got
            if btype == fmt.FOOTER:
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

    def chunks(self, since: int | None = None, until: int | None = None):
        """Decoded chunks (dict of type id -> ChunkGroup, and the order array)."""
        if self.footer is not None:
            for at, first, last, _count in self.footer["chunks"]:
                if (since is not None and last < since) or (until is not None and first > until):
                    continue
                try:
                    got = self._read_block(at)
                except (_Damage, _Truncated) as d:
                    self.warnings.append(f"{self.path}: offset {d.at}: damaged chunk; skipped")
                    continue
                yield self._groups(got[1])
            return
        for btype, obj, _at in self._blocks():
            if btype == fmt.STATS:
                self._scanned_stats = obj
            elif btype == fmt.CHUNK:
                yield self._groups(obj)

    def _groups(self, chunk: dict):
        groups = {}
        for tid, g in chunk["groups"].items():
            etype = self.schema.get(tid)
            if etype is None:
                continue  # a type this file's own schema does not list: nothing to name it
            groups[tid] = ChunkGroup(etype, g)
        order = array("H")
        order.frombytes(chunk["order"])
        return groups, order

    def events(self, since: int | None = None, until: int | None = None, types=None):
        """Every event in time order; `types` is a set of event names to keep."""
        for groups, order in self.chunks(since, until):
            cursors = dict.fromkeys(groups, 0)
            for t in order:
                if t not in groups:
                    continue
                i = cursors[t]
                cursors[t] = i + 1
                g = groups[t]
                if types is not None and g.etype.name not in types:
                    continue
                ev = Event(g, i)
                if since is not None and ev.ts < since:
                    continue
                if until is not None and ev.ts > until:
                    continue
                yield ev

    @property
    def stats(self) -> dict:
        """Drop and loss statistics: the footer's, or the last stats block seen."""
        if self.footer is not None:
            return self.footer.get("stats", {})
        if self._scanned_stats is None:
            for btype, obj, _at in self._blocks():
                if btype == fmt.STATS:
                    self._scanned_stats = obj
        return self._scanned_stats or {}

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Truncated(Exception):
    def __init__(self, at):
        self.at = at


class _Damage(Exception):
    def __init__(self, at, what, resume):
        self.at, self.what, self.resume = at, what, resume


