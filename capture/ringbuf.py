"""Reading the BPF ring buffer through mmap, a batch of records per wake-up.

BCC's callback consumer costs a ctypes call per event; here each wake-up walks the
committed records' headers once and they are decoded where they lie in the mapping.
"""
import mmap
import select
import struct

BUSY = 1 << 31
DISCARD = 1 << 30
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class RingReader:
    def __init__(self, fd: int, size: int):
        page = mmap.PAGESIZE
        self._page = page
        self._mask = size - 1
        self._cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        # The data area is mapped twice in a row, so any record (and any run of
        # records shorter than the ring) is contiguous in this mapping.
        self._prod = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._poll = select.epoll()
        self._poll.register(fd, select.EPOLLIN)

    def wait(self, timeout: float) -> None:
        """Sleep until the kernel signals data, or `timeout` seconds pass."""
        self._poll.poll(timeout)

    def _walk(self, limit: int) -> tuple[int, list[int], int]:
        """(consumer position, mapping offsets of the committed records' headers,
        position just past them). Stops at the first record still being written."""
        cons = _U64.unpack_from(self._cons, 0)[0]
        prod = _U64.unpack_from(self._prod, 0)[0]
        mem, base, mask = self._prod, self._page, self._mask
        pos, end = cons, min(prod, cons + limit)
        offsets = []
        unpack = _U32.unpack_from
        while pos < end:
            at = base + (pos & mask)
            hdr = unpack(mem, at)[0]
            if hdr & BUSY:
                break
            if not hdr & DISCARD:
                offsets.append(at)
            pos += ((hdr & ~(BUSY | DISCARD)) + 8 + 7) & ~7
        return cons, offsets, pos

    def read(self, decode, out: list, limit: int = 4 << 20) -> int:
        """Decode the committed records where they lie, `decode(mapping, offsets, out)`
        with offsets of their ring headers, then give their space back to the kernel.
        No copy: the kernel does not touch a committed record until it is released."""
        _cons, offsets, pos = self._walk(limit)
        if offsets:
            decode(self._prod, offsets, out)
            _U64.pack_into(self._cons, 0, pos)
        return len(offsets)

    def drain(self, limit: int = 4 << 20) -> tuple[bytes, list[int]]:
        """The committed records copied out as one blob, with the offsets of their
        headers in it, and released (for keeping raw records, as the benchmarks do)."""
        cons, offsets, pos = self._walk(limit)
        if not offsets and pos == cons:
            return b"", []
        start = self._page + (cons & self._mask)
        blob = self._prod[start:start + (pos - cons)]
        _U64.pack_into(self._cons, 0, pos)
        return blob, [off - start for off in offsets]

    def close(self) -> None:
        self._poll.close()
        self._cons.close()
        self._prod.close()
