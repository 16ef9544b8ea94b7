"""The file(s) a recording writes: one CaptureWriter at a time, switched as the rotation policy says.

Every file is complete on its own: it gets its own header (with its sequence number and
the name of the file before it), the process and fd tables as of its start, its own
loss counters (counted from its start) and its footer.
"""
import os
import time

from scapula.capture.rotation import RotationPolicy, Ring, rotated_name
from scapula.capture.writer import CaptureWriter, open_output

CHUNK_EVENTS = 16384        # rows per chunk, at most


class Output:
    """The current file of a recording and the totals of those already closed."""

    def __init__(self, pattern: str, policy: RotationPolicy = RotationPolicy(),
                 max_size: int | None = None):
        self.pattern, self.policy, self.max_size = pattern, policy, max_size
        self.probe = self._header = None
        self._first = None                # (path, stream) opened by prepare()
        self._tables = ([], [])           # the current file's processes and fds
        self.ring = Ring(policy.keep)
        self.writer: CaptureWriter | None = None
        self.sequence = 0
        self.events = self.bytes = 0      # in files already closed
        self._base: dict = {}             # the counters when the current file started
        self._opened_at = 0.0

    def prepare(self) -> None:
        """Create the first file now, so that an unwritable path fails before the BPF
        program loads (its name's time stamp is then a second or two early)."""
        path = self._path(1, time.time_ns())
        self._first = path, open_output(path)

    def start(self, probe, header) -> None:
        """Write the first file's header. `header(start_ns)` makes a file's HEADER map;
        `probe` gives the process and fd tables and the loss counters."""
        self.probe, self._header = probe, header
        self.open()

    def _path(self, sequence: int, start_ns: int) -> str:
        if not self.policy.active:
            return self.pattern
        path = rotated_name(self.pattern, sequence, start_ns)
        self.ring.prune(path)
        return path

    def open(self) -> None:
        """Start the next file."""
        previous = self.writer.name if self.writer is not None else None
        self.sequence += 1
        start_ns = time.time_ns()
        info = self._header(start_ns)
        if self.sequence == 1:
            path, stream = self._first
        else:
            path = self._path(self.sequence, start_ns)
            stream = open_output(path)
        if self.policy.active:
            info |= {"sequence": self.sequence,
                     "previous": os.path.basename(previous) if previous else None}
        # the first file has the snapshot taken at start; later ones the live tables
        tables = self._tables = (self.probe.processes, self.probe.fds) if self.sequence == 1 \
            else self.probe.tables(self._tables)
        self.writer = CaptureWriter(stream, path, self.max_size)
        # The first file counts from the probe's load: what the ring lost while the
        # snapshot was taken belongs to it (its first chunk has the events around it).
        self._base = self.probe.counters() if self.sequence > 1 else {}
        self._opened_at = time.monotonic()
        self.writer.header(info, *tables)
        self.writer.flush()

    def write(self, rows: list[tuple]) -> None:
        """Rows in time order, as chunks; a full file is rotated before the next chunk,
        and a chunk is cut where --rotate-events says the file is full."""
        while rows:
            if self._full():
                self.rotate()
            room = self.policy.room(self.writer.events)
            n = CHUNK_EVENTS if room is None else min(room, CHUNK_EVENTS)
            self.writer.chunk(rows[:n])
            rows = rows[n:]

    def tick(self) -> None:
        """Between batches: rotate a file whose time is up even if no event came."""
        if self.policy.seconds is not None and self._full():
            self.rotate()

    def checkpoint(self) -> None:
        """Loss counters so far, flushed: a recorder killed later still leaves them."""
        self.writer.stats(self._stats())
        self.writer.flush()

    def rotate(self) -> None:
        self._close_current()
        self.open()

    def close(self, counters: dict | None = None) -> None:
        """Close the last file; `counters`, if given, are the probe's counters to end it
        with (the summary reports the same reading)."""
        self._close_current(counters)

    def salvage(self) -> tuple[bool, bool, int]:
        """After a write failed: keep what the current file can keep (see CaptureWriter).
        Returns (complete, removed, events kept in it)."""
        w = self.writer
        complete = w.salvage(self._stats())
        self._account()
        return complete, w.removed, w.events

    @property
    def open_file(self) -> bool:
        return isinstance(self.writer, CaptureWriter)

    @property
    def total_events(self) -> int:
        return self.events + (self.writer.events if self.writer else 0)

    @property
    def total_bytes(self) -> int:
        return self.bytes + (self.writer.offset if self.writer else 0)

    def _full(self) -> bool:
        w = self.writer
        return self.policy.due(w.offset, w.events, time.monotonic() - self._opened_at)

    def _stats(self, now: dict | None = None) -> dict:
        """The probe's counters since this file started, and this file's event count."""
        now = self.probe.counters() if now is None else now
        out = {}
        for key, value in now.items():
            base = self._base.get(key)
            if isinstance(value, list) and isinstance(base, list) and len(base) == len(value):
                out[key] = [v - b for v, b in zip(value, base)]
            elif isinstance(value, int) and isinstance(base, int):
                out[key] = value - base
            else:
                out[key] = value
        return out | {"events": self.writer.events}

    def _close_current(self, counters: dict | None = None) -> None:
        w = self.writer
        w.close(self._stats(counters) | {"seconds": time.monotonic() - self._opened_at})
        self._account()

    def _account(self) -> None:
        """Move the current file's totals to the closed files' (it is done with)."""
        self.events += self.writer.events
        self.bytes += self.writer.offset
        self.writer = _Closed(self.writer.name)


class _Closed:
    """Stands in for a writer that is done, so totals and names still read."""
    events = offset = 0

    def __init__(self, name: str):
        self.name = name
