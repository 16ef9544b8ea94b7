"""A recording from start to finish: load, snapshot, consume the ring, write, summarise."""
from dataclasses import dataclass, field
import os
import platform
import signal
import socket
import sys
import time

from scapula import __version__
from scapula.capture.accounts import host_accounts
from scapula.capture.decoder import PID, TYPE, row_columns
from scapula.capture.probe import Probe
from scapula.console import warn
from scapula.capture.program import DEFAULT_SNAPLEN, MAX_PATH, ProgramConfig, absent_params
from scapula.capture.output import CHUNK_EVENTS, Output
from scapula.capture.rotation import RotationPolicy
from scapula.capture.writer import SizeLimit, WriteError
from scapula.schemas import events as schema

CHUNK_SECONDS = 1.0         # a chunk is written at least this often
POLL_SECONDS = 0.1


@dataclass
class RecordOptions:
    output: str
    syscalls: tuple[str, ...] = schema.DEFAULT_SYSCALLS
    buffer_size: int = 8 << 20
    snaplen: int = DEFAULT_SNAPLEN  # bytes of I/O data kept per call
    generic: bool = False           # every other syscall as the generic event (--all)
    net_data: bool = True           # see ProgramConfig.net_data
    engine: object = None           # replay.engine.Engine: rules judged live (--rules)
    duration: float | None = None
    count: int | None = None
    command: tuple[str, ...] = ()
    follow: bool = False
    status: bool = False          # live status line on stderr
    rotation: RotationPolicy = field(default_factory=RotationPolicy)
    max_size: int | None = None   # bytes per file; the recording stops before passing it


@dataclass
class RecordSummary:
    path: str
    events: int = 0
    drops: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    command_status: int | None = None
    files: list[str] = field(default_factory=list)    # rotated files still on disk
    removed: list[str] = field(default_factory=list)  # rotated files --keep removed
    stopped: str | None = None                        # why a limit ended the recording
    alerts: int | None = None                         # with --rules: how many fired

    @property
    def dropped(self) -> int:
        return sum(self.drops)


_FORK = schema.BY_NAME["procfork"]
_CHILD_PID = row_columns(_FORK).index("child_pid")


class ProcessTree:
    """The pids of one command's process tree, grown by its fork events."""

    def __init__(self, root: int):
        self.pids = {root}

    def keep(self, rows: list[tuple]) -> list[tuple]:
        out = []
        for row in rows:
            if row[PID] in self.pids:
                out.append(row)
                if row[TYPE] == _FORK.id:
                    self.pids.add(row[_CHILD_PID])
        return out


class Recorder:
    def __init__(self, options: RecordOptions):
        self.opt = options
        self._stop = False
        self._finished = False
        self.judge = None
        self.summary = RecordSummary(options.output)

    def _request_stop(self, *_):
        self._stop = True

    def run(self) -> RecordSummary:
        opt = self.opt
        # the output first: a path that cannot be written fails before anything loads
        out = Output(opt.output, opt.rotation, opt.max_size)
        out.prepare()
        child = HeldCommand(opt.command) if opt.command else None
        config = ProgramConfig(syscalls=opt.syscalls, buffer_size=opt.buffer_size,
                               self_tgid=os.getpid(), snaplen=opt.snaplen, generic=opt.generic,
                               net_data=opt.net_data)
        old = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with Probe(config) as probe:
                self._record(probe, child, out)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if child is not None:
                child.stop()
        if child is not None:
            self.summary.command_status = child.returncode
        return self.summary

    def _record(self, probe: Probe, child, output: Output) -> None:
        opt = self.opt
        for fact in probe.program.missing:  # said once, at the start
            warn(fact)
        follow = ProcessTree(child.pid) if (child is not None and opt.follow) else None
        self.judge = self._judge(probe) if opt.engine is not None else None
        started = time.monotonic()
        try:
            output.start(probe, lambda start_ns: self._header(probe, start_ns))
            if child is not None:
                child.release()
            try:
                self._loop(probe, child, output, follow, started)
            except SizeLimit:
                # the chunk that did not fit was not written: the file closes within the limit
                self.summary.stopped = (f"{output.writer.name} reached --max-size "
                                        f"{opt.max_size:,} bytes")
            self._finish(probe, output, started)
        except WriteError as e:
            if output.open_file:
                self._salvaged(output, e)
            raise
        finally:
            # again after an unexpected error: the file is still closed complete
            self._finish(probe, output, started)
            if opt.status:
                sys.stderr.write("\n")

    def _finish(self, probe: Probe, output: Output, started: float) -> None:
        """Close the last file and fill in the summary, once: a second call (the finally
        after a clean finish) would read counters that have moved on since the file got
        its own, and the summary would disagree with the file."""
        if self._finished:
            return
        s = self.summary
        counters = probe.counters()
        s.drops, s.sent = counters["drops"], counters["sent"]
        s.seconds = time.monotonic() - started
        if output.open_file:
            output.close(counters)
        s.events, s.bytes = output.total_events, output.total_bytes
        s.files, s.removed = output.ring.files, output.ring.removed
        self._finished = True

    def _loop(self, probe: Probe, child, output: Output, follow, started: float) -> None:
        opt = self.opt
        last_chunk = last_status = started
        child_done_at = None
        while True:
            probe.poll(POLL_SECONDS)
            now = time.monotonic()
            if child is not None and child_done_at is None and child.poll() is not None:
                child_done_at = now
            finished = (self._stop
                        or (opt.duration is not None and now - started >= opt.duration)
                        or (opt.count is not None and self._counted(output, probe, follow) >= opt.count)
                        or (child_done_at is not None and now - child_done_at >= 2 * POLL_SECONDS))
            if finished:
                probe.drain()
                self._write(output, probe.ready(final=True), follow)
                return
            if probe.pending >= CHUNK_EVENTS or now - last_chunk >= CHUNK_SECONDS:
                self._write(output, probe.ready(), follow)
                output.checkpoint()
                output.tick()
                last_chunk = now
            if opt.status and now - last_status >= 0.5:
                self._status(probe, output, now - started)
                last_status = now

    def _salvaged(self, output: Output, error: WriteError) -> None:
        """Close the file a write failed on as well as it can be, and say what it holds."""
        name = output.writer.name
        complete, removed, events = output.salvage()
        if removed:
            what = "removed (it had no whole header)"
        elif complete:
            what = f"closed complete with {events:,} events"
        else:
            what = f"readable up to its last whole chunk ({events:,} events)"
        if error.strerror is None:  # not the disk: the message already says what went wrong
            error.args = (f"{error}; file {what}",)
        else:
            error.args = (f"{name}: {error.strerror}; recording stopped, file {what}",)

    @staticmethod
    def _counted(output: Output, probe: Probe, follow) -> int:
        """Events toward --count: with --follow, only the ones written (rows still
        pending may belong to other processes)."""
        return output.total_events + (0 if follow is not None else probe.pending)

    def _write(self, output: Output, rows: list[tuple], follow) -> None:
        if follow is not None:
            rows = follow.keep(rows)
        if self.opt.count is not None:
            rows = rows[:max(0, self.opt.count - output.total_events)]
        if self.judge is not None:
            self.judge.feed(rows)
            self.summary.alerts = self.judge.alerts
        output.write(rows)

    def _judge(self, probe: Probe):
        """--rules: the recorded rows judged as they are written; alerts go to stdout
        (stderr when the capture itself goes to stdout)."""
        from scapula.replay.live import LiveJudge
        from scapula.replay.replay_command import alert_line
        to_stderr = self.opt.output == "-"
        users, groups = host_accounts()
        header = {"host": socket.gethostname(), "users": users, "groups": groups}
        self.summary.alerts = 0

        def on_alert(alert):
            print(alert_line(alert), file=sys.stderr if to_stderr else sys.stdout, flush=True)
        return LiveJudge(self.opt.engine, probe.processes, probe.fds, header, on_alert)

    def _header(self, probe: Probe, start_ns: int) -> dict:
        opt = self.opt
        # read again for every rotated file: users added meanwhile get their names
        users, groups = host_accounts()
        return {
            "host": socket.gethostname(),
            "kernel": platform.release(),
            "arch": platform.machine(),
            "boot_ns": probe.boot_ns,
            "cpus": os.cpu_count(),
            "tool": f"scapula {__version__}",
            "start_ns": start_ns,
            "absent_params": absent_params(probe.program.offsets),
            "users": users,
            "groups": groups,
            "config": {
                "syscalls": list(opt.syscalls),
                "buffer_size": opt.buffer_size,
                "command": list(opt.command),
                "follow": opt.follow,
                "max_path": MAX_PATH,
                "snaplen": opt.snaplen,
                "all": opt.generic,
                "net_data": opt.net_data,
            },
        }

    def _status(self, probe: Probe, output: Output, elapsed: float) -> None:
        drops = sum(probe.counters()["drops"])
        events = output.total_events
        rate = events / elapsed if elapsed > 0 else 0
        sys.stderr.write(f"\r{events} events  {rate:,.0f}/s  {drops} dropped  "
                         f"{output.total_bytes / 1e6:.1f} MB written ")
        sys.stderr.flush()


class HeldCommand:
    """A command forked now and held before exec until `release()`, so the
    recording sees it from its very first syscall."""

    def __init__(self, command: tuple[str, ...]):
        self._r, self._w = os.pipe()
        self.returncode = None
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self._w)
                os.read(self._r, 1)
                os.close(self._r)
                os.execvp(command[0], list(command))
            except OSError as e:
                os.write(2, f"scapula record: {command[0]}: cannot run: {e.strerror}\n".encode())
            os._exit(127)
        os.close(self._r)

    def release(self) -> None:
        os.write(self._w, b"g")
        os.close(self._w)
        self._w = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def stop(self) -> None:
        if self._w is not None:
            os.close(self._w)  # an unreleased child reads EOF and exits
            self._w = None
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
