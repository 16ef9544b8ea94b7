"""The live probe as a context manager: program loaded, snapshot taken, ring read.

`poll()` hands back decoded rows as they arrive; `ready()` puts them in time order,
resolves their paths and returns those old enough to be final. The recorder and the
live tests both use it, so what a test sees is what a recording writes.
"""
from bisect import bisect_right
from operator import itemgetter
import os

from scapula.capture.decoder import Decoder
from scapula.capture.paths import PathResolver
from scapula.capture.program import Program, ProgramConfig
from scapula.capture.ringbuf import RingReader
from scapula.capture import snapshot

# Events from different CPUs reach the ring slightly out of order; rows this recent
# wait for the next call, so every batch handed out is in time order after the last.
HOLD_BACK_NS = 50_000_000
_TS = itemgetter(0)


class Probe:
    def __init__(self, config: ProgramConfig):
        self.config = config
        self.program = Program(config)
        self.decoder = Decoder()
        self.processes: list[dict] = []
        self.fds: list[list] = []
        self._ring = None
        self._resolver = None
        self._pending: list[tuple] = []

    def __enter__(self):
        self.program.load()
        try:
            self.processes, self.fds = snapshot.take(self.program.boot_ns)
            self._resolver = PathResolver(self.processes, self.fds)
            self._ring = RingReader(self.program.ring_fd, self.config.buffer_size)
        except BaseException:
            self.program.close()
            raise
        return self

    def __exit__(self, *exc):
        if self._ring is not None:
            self._ring.close()
            self._ring = None
        self.program.close()

    @property
    def boot_ns(self) -> int:
        return self.program.boot_ns

    def poll(self, timeout: float = 0.1) -> int:
        """Wait up to `timeout` for events and take in all there are; returns how many."""
        self._ring.wait(timeout)
        return self.drain()

    def drain(self) -> int:
        n = 0
        while True:
            got = self._ring.read(self.decoder.decode, self._pending)
            if not got:
                return n
            n += got

    @property
    def pending(self) -> int:
        return len(self._pending)

    def ready(self, final: bool = False) -> list[tuple]:
        """Rows in time order with their paths resolved. Unless `final`, the newest
        HOLD_BACK_NS of rows stay behind for the next call."""
        pending = self._pending
        if not pending:
            return []
        pending.sort(key=_TS)
        if final:
            out, self._pending = pending, []
        else:
            i = bisect_right(pending, pending[-1][0] - HOLD_BACK_NS, key=_TS)
            out, self._pending = pending[:i], pending[i:]
        return self._resolver.apply(out)

    def tables(self, previous: tuple[list[dict], list[list]]) -> tuple[list[dict], list[list]]:
        """(processes, fds) as of the last row handed out, for a file that starts there.

        A fresh /proc read, with the cwds and fds the resolver knows laid over it (the
        events kept those exact as of that row; /proc has moved on since). /proc's other
        fds stay: the resolver misses fds made by calls it does not follow (fcntl). A
        process the events say is alive but that has left /proc since keeps its entries
        from `previous` (the last file's tables). The recorder's own entries come from
        /proc: it is never recorded."""
        processes, fds = snapshot.take(self.boot_ns)
        r, me = self._resolver, os.getpid()
        present = {p["pid"] for p in processes}
        gone = (r.fds.keys() | r.cwd.keys()) - present - {me}
        processes += [dict(p) for p in previous[0] if p["pid"] in gone]
        fds += [f for f in previous[1] if f[0] in gone]
        for p in processes:
            cwd = r.cwd.get(p["pid"])
            if cwd and p["pid"] != me:
                p["cwd"] = cwd
        table: dict[tuple[int, int], bytes] = {(pid, fd): target for pid, fd, target in fds}
        for pid in ({p["pid"] for p in processes} - {me}) & r.fds.keys():
            for fd, target in r.fds[pid].items():
                table[pid, fd] = target
        processes.sort(key=lambda p: p["pid"])
        return processes, [[pid, fd, target] for (pid, fd), target in sorted(table.items())]

    def counters(self) -> dict:
        return {"drops": self.program.counters("drops"), "sent": self.program.counters("sent"),
                "retries": self.program.counters("retries"),
                "unknown_records": self.decoder.unknown}

