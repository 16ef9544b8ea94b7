"""glibc's heap made to keep what a load frees, for the next window to reuse.

A load makes and drops the same large buffers window after window (joined columns,
decompressed chunks, numpy temporaries). By default glibc maps each buffer above
128 KB on its own and unmaps it when freed, and gives the top of the heap back, so
the next window's buffers fault their pages in again: on this VM a page fault costs
~3 µs, and a 1.2M-event load took 130k of them. With large buffers taken from the
heap and the heap kept, 109k (the rest is DuckDB's tables and Arrow's own pool,
which glibc does not serve), for ~15 MB more peak memory. Process-wide and for the
rest of the process: scapula's commands are short-lived."""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1   # mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_ABOVE = 64 << 20    # buffers above this are still mapped on their own
KEEP_UP_TO = 1 << 30     # free heap top kept up to this much
_done = False


def keep_freed_memory() -> None:
    """Once per process; nothing where the C library is not glibc."""
    global _done
    if _done:
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE)
    mallopt(_M_TRIM_THRESHOLD, KEEP_UP_TO)
