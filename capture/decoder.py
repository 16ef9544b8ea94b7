"""Kernel records to rows: one tuple per event, laid out as `row_columns(event_type)` says.

A row is the header fields, then the scalar parameters, then the variable ones, then
the derived ones (added by capture/paths.py). Tuples, not dicts: this runs per event.
"""
import struct

from scapula.schemas import events as schema

_TYPE_AT = struct.calcsize("<QQqIIIII")  # offset of `type` in schema.HEADER_FORMAT
RING_HEADER = 8  # the ring buffer's own header before each record

# Positions of the header fields in every row (schema.HEADER_FIELDS order).
TS, CGROUP, RES, TID, PID, PPID, UID, GID, TYPE, CPU, COMM = range(len(schema.HEADER_FIELDS))


def row_columns(evt: schema.EventType) -> tuple[str, ...]:
    return (schema.HEADER_FIELDS + tuple(p.name for p in evt.scalars)
            + tuple(p.name for p in evt.variables) + tuple(p.name for p in evt.derived))


class Decoder:
    """Turns a drained blob of ring records into row tuples."""

    def __init__(self, events=schema.EVENTS):
        self._layouts = {}
        for e in events:
            fixed = struct.Struct(e.kernel_format)
            self._layouts[e.id] = (fixed.unpack_from, fixed.size, len(e.variables))
        self.unknown = 0  # records of a type this table does not know

    def decode(self, blob: bytes, offsets: list[int], out: list) -> None:
        # The hottest loop of the recorder: little-endian u16s are read by indexing
        # the bytes (cheaper than a struct call) and rows grow by tuple concatenation.
        layouts = self._layouts
        get = layouts.get
        append = out.append
        type_at = RING_HEADER + _TYPE_AT
        absent = schema.VAR_ABSENT
        for off in offsets:
            at = off + type_at
            layout = get(blob[at] | blob[at + 1] << 8)
            if layout is None:
                self.unknown += 1
                continue
            unpack, size, nvar = layout
            off += RING_HEADER
            row = unpack(blob, off)
            if nvar:
                pos = off + size
                for _ in range(nvar):
                    n = blob[pos] | blob[pos + 1] << 8
                    pos += 2
                    if n == absent:
                        row += (None,)
                    else:
                        row += (blob[pos:pos + n],)
                        pos += n
            append(row)


def split_argv(block: bytes | None) -> list[bytes] | None:
    """A NUL-separated argv block (as the kernel sends it) to a list of arguments."""
    if block is None:
        return None
    if not block:
        return []
    parts = block.split(b"\0")
    if parts[-1] == b"":
        parts.pop()
    return parts

