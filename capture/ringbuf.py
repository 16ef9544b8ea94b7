"""Reading the BPF ring buffer through mmap, a batch of records per wake-up.

BCC's callback consumer costs a ctypes call per event; here one drain copies every
committed record with a single slice and hands back their offsets.
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

    def drain(self, limit: int = 4 << 20) -> tuple[bytes, list[int]]:
        """Committed records as one blob and the offsets of their headers in it.

        Headers are walked in the shared mapping first and the blob is copied
        after, so every byte copied belongs to a record the kernel had finished.
        """
        cons = _U64.unpack_from(self._cons, 0)[0]
        prod = _U64.unpack_from(self._prod, 0)[0]
        if cons == prod:
            return b"", []
        mem, base, mask = self._prod, self._page, self._mask
        start = base + (cons & mask)
        pos, end = cons, min(prod, cons + limit)
        offsets = []
        unpack = _U32.unpack_from
        while pos < end:
            hdr = unpack(mem, base + (pos & mask))[0]
            if hdr & BUSY:
                break
            length = hdr & ~(BUSY | DISCARD)
            if not hdr & DISCARD:
                offsets.append(pos - cons)
            pos += (length + 8 + 7) & ~7
        blob = mem[start:start + (pos - cons)]
        _U64.pack_into(self._cons, 0, pos)
        return blob, offsets

    def close(self) -> None:
        self._poll.close()
        self._cons.close()
        self._prod.close()
