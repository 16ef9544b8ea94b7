"""Shared test fixtures. The live probe is loaded once per test session (BCC takes
about a second to compile it) and every live test subscribes to it."""
from contextlib import contextmanager
import ctypes
import json
import os
from pathlib import Path
import subprocess
import sys
import time

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCAPULA = str(Path(sys.executable).with_name("scapula"))
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI") == "true"


def live_unavailable() -> str | None:
    """Why live (BPF) tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "live tests load BPF programs and need root"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return "the bcc module is not importable (run `make setup`)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF"
    return None


def skip_or_fail(reason: str):
    """Under CI a live test that cannot run is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"live test cannot run in CI: {reason}")
    pytest.skip(reason)


def scapula(*args, **kw) -> subprocess.CompletedProcess:
    """The installed `scapula` command, as a user runs it; output as text."""
    return subprocess.run([SCAPULA, *map(str, args)], capture_output=True, text=True,
                          errors="surrogateescape", timeout=120, **kw)


def scapula_info(path) -> dict:
    r = scapula("info", "--json", path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def require_live() -> None:
    """Root and BPF, or a skip (a failure in CI): for module-scoped fixtures that
    record, where the `live` fixture cannot be used."""
    reason = live_unavailable()
    if reason:
        skip_or_fail(reason)


@pytest.fixture
def live():
    """For tests that run the recorder as a command: root and BPF, or skip (fail in CI)."""
    require_live()


@contextmanager
def live_probe(syscalls: tuple[str, ...], **config):
    """A loaded probe recording `syscalls` (and ProgramConfig's other fields from
    `config`), or a skip (a failure in CI) where BPF cannot run."""
    require_live()
    from scapula.capture.probe import Probe
    from scapula.capture.program import ProgramConfig
    with Probe(ProgramConfig(syscalls=syscalls, buffer_size=16 << 20, self_tgid=os.getpid(),
                             **config)) as p:
        yield p


@pytest.fixture(scope="session")
def probe():
    """The default set (every syscall with a filler but the I/O ones), as `record`
    records without options. test_io.py and test_generic.py load their own, for a
    module only: --io and --all record far more of the machine."""
    from scapula.schemas import events as schema
    with live_probe(schema.DEFAULT_SYSCALLS) as p:
        yield p


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the shared corpus sits beside the checkout)")
    return SHARED


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def raw_syscall(nr: int, *args) -> int:
    """The syscall itself (not a libc wrapper that may pick another one): its
    return value, or -errno on failure, as the kernel reports it."""
    res = libc.syscall(ctypes.c_long(nr), *args)
    return -ctypes.get_errno() if res == -1 else res


class Run:
    """The events of one child process (and its descendants), read back from a
    capture file written by the real writer."""

    def __init__(self, pid: int, status: int, events: list, path: Path):
        self.pid, self.status, self.events, self.path = pid, status, events, path

    def of(self, name: str, pid: int | None = None) -> list:
        return [e for e in self.events if e.name == name and (pid is None or e.pid == pid)]

    def one(self, event_type: str, /, **params):
        """The single event of `event_type` whose parameters equal `params`."""
        found = [e for e in self.of(event_type)
                 if all(e.param(k) == v for k, v in params.items())]
        assert len(found) == 1, f"expected one {event_type} {params}, got {len(found)}: " + \
            "; ".join(str(e.as_dict()) for e in self.of(event_type))
        return found[0]


@pytest.fixture
def run_child(probe, tmp_path):
    """run_child(fn) forks a child that calls fn() and exits with its return value
    (0 if None); returns a Run with everything that child tree did."""
    return child_runner(probe, tmp_path)


def child_runner(probe, tmp_path):
    """run_child's function, on any probe."""
    from scapula.capture.decoder import TID, TYPE
    from scapula.capture.recorder import ProcessTree
    from scapula.capture.writer import CaptureWriter, open_output
    from scapula.replay.reader import Capture
    from scapula.schemas import events as schema

    def run(fn, timeout: float = 5.0) -> Run:
        probe.drain()
        probe.ready(final=True)  # forget what came before
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = fn() or 0
            finally:
                os._exit(code if isinstance(code, int) else 0)
        _, status = os.waitpid(pid, 0)
        rows, tree, deadline = [], ProcessTree(pid), time.monotonic() + timeout
        exit_id = schema.BY_NAME["procexit"].id
        while True:
            probe.poll(0.05)
            rows += tree.keep(probe.ready(final=True))
            if any(r[TYPE] == exit_id and r[TID] == pid for r in rows) \
                    or time.monotonic() > deadline:
                break
        path = tmp_path / f"run-{pid}.scapula"
        writer = CaptureWriter(open_output(str(path)), str(path))
        writer.header({"host": "test"}, probe.processes, probe.fds)
        writer.chunk(rows)
        writer.close(probe.counters())
        with Capture(str(path)) as cap:
            events = list(cap.events())
        return Run(pid, os.waitstatus_to_exitcode(status), events, path)

    return run
