"""scapula: record, replay and query what Linux processes do."""
import os

__version__ = "0.1.0"

# Arrow's buffers from glibc's heap (query/heap.py keeps it while loading), not from
# its bundled mimalloc, which faulted in fresh pages for batch after batch: 1.2M
# events held, 1.41 -> 1.23 CPU s and 446 -> 366 MB peak (6 rounds); 5M (64 MB of its
# events held then), the same CPU and 394 -> 348 MB (4 rounds). Read when pyarrow
# loads: before any of scapula does.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
