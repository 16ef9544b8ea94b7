"""Live tests of record --all: a syscall without a filler becomes the generic event with its
number, name and result; one with a filler keeps its own event; exec and exit still work."""
import ctypes
import errno
import json
import os
import signal
import sys as _sys

import pytest

from scapula.capture.commands import choose_syscalls
from scapula.schemas import events as schema
from tests.conftest import child_runner, live_probe, raw_syscall, scapula, scapula_info
from tests.live.test_file_open import BAD_FD, BAD_PTR, check, record
from tests.live.test_process_exec import ENVP, cstrings

# x86_64 numbers, written out rather than taken from the tables so the tables are checked too.
NR = {"close": 3, "rt_sigaction": 13, "rt_sigreturn": 15, "execve": 59, "exit": 60,
      "uname": 63, "getppid": 110, "exit_group": 231, "execveat": 322}
UNUSED = 500  # no x86_64 syscall has this number: the kernel answers ENOSYS
AT_FDCWD = -100


def sys(name: str, *args) -> int:
    return raw_syscall(NR[name], *args)


@pytest.fixture(scope="module")
def all_probe():
    """What `record --all` records: every filler, and the generic one everywhere else."""
    with live_probe(choose_syscalls(None, True), generic=True) as p:
        yield p


@pytest.fixture
def run_all(all_probe, tmp_path):
    return child_runner(all_probe, tmp_path)


def generic(run, nr: int) -> list:
    return [e for e in run.of("syscall") if e.param("nr") == nr]


def test_a_syscall_without_a_filler_is_the_generic_event(run_all):
    uts = ctypes.create_string_buffer(390)  # struct utsname: 6 fields of 65 bytes

    def child(out):
        out[0] = sys("getppid")
        out[1] = sys("uname", uts)
        out[2] = sys("uname", BAD_PTR)
        out[3] = raw_syscall(UNUSED)
        out[4] = sys("close", BAD_FD)

    run, out = record(run_all, child)
    assert out[:4] == [os.getpid(), 0, -errno.EFAULT, -errno.ENOSYS]
    [ppid] = generic(run, 110)
    check(run, ppid, os.getpid(), nr=110)
    assert ppid.syscall_name == "getppid" and ppid.as_dict()["syscall"] == "getppid"
    ok, bad = sorted(generic(run, 63), key=lambda e: -e.res)
    check(run, ok, 0, nr=63)
    check(run, bad, -errno.EFAULT, nr=63)
    assert bad.syscall_name == "uname" and bad.as_dict()["errno"] == "EFAULT"
    [unused] = generic(run, UNUSED)
    check(run, unused, -errno.ENOSYS, nr=UNUSED)
    assert unused.syscall_name is None and unused.as_dict()["syscall"] is None
    # close has a filler: its own event, never a generic one
    check(run, run.one("close", fd=BAD_FD), -errno.EBADF, fd=BAD_FD)
    assert not generic(run, 3)
    assert not [e for e in run.of("syscall") if e.param("nr") in schema.BY_SYSCALL]


def test_exit_and_sigreturn_have_no_generic_event(run_all):
    """exit_group never returns (procexit stands for it); rt_sigreturn does return, but
    with the saved registers put back, orig_ax = -1 among them, so sys_exit cannot
    tell which syscall it was and the dispatcher has no slot to call."""
    def child(out):
        signal.signal(signal.SIGUSR1, lambda *_: None)
        os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs and returns: rt_sigreturn
        out[0] = 1

    run, out = record(run_all, child)
    assert out[0] == 1
    assert run.one("kill", target=run.pid).res == 0
    assert generic(run, NR["rt_sigaction"])  # the generic filler was there all along
    for name in ("rt_sigreturn", "exit", "exit_group"):
        assert not generic(run, NR[name]), name
    exit_ = run.one("procexit")
    assert (exit_.tid, exit_.param("status")) == (run.pid, 0)


def test_exec_keeps_its_own_events(run_all):
    """The exec stash works under --all: a failed execve and a successful execveat,
    each its own event with its arguments, and no generic event for either."""
    argv, envp = cstrings([b"true", b"x"]), cstrings(ENVP)

    def child(out):
        out[0] = sys("execve", b"/nonexistent/true", argv, envp)
        sys("execveat", AT_FDCWD, b"/bin/true", argv, envp, 0)

    run, out = record(run_all, child)
    assert out[0] == -errno.ENOENT
    failed = run.one("execve")
    assert (failed.res, failed.param("filename"), failed.param("argv")) == \
        (-errno.ENOENT, b"/nonexistent/true", [b"true", b"x"])
    done = run.one("execveat")
    assert (done.res, done.param("dirfd"), done.param("filename"), done.param("argv"),
            done.param("envp"), done.comm) == (0, AT_FDCWD, b"/bin/true", [b"true", b"x"],
                                               ENVP, b"true")
    assert not generic(run, NR["execve"]) and not generic(run, NR["execveat"])
    # the new image's own start-up calls are recorded too (brk, mmap, ... as generic)
    assert [e for e in run.of("syscall") if e.ts > done.ts and e.comm == b"true"]


@pytest.mark.usefixtures("live")
def test_record_all_names_the_syscalls(tmp_path):
    """`record --all` end to end: generic events print with their syscall's name in
    text and JSON, and I/O events come with --all too."""
    path = tmp_path / "all.scapula"
    program = ("import ctypes, os; libc = ctypes.CDLL(None); libc.syscall(110); "
               "libc.syscall(63, None); os.write(1, b'all of it')")
    r = scapula("record", "-w", path, "--all", "--follow", "--", _sys.executable, "-c", program)
    assert r.returncode == 0, r.stderr
    s = scapula_info(path)
    assert s["config"]["all"] is True and s["counts"]["syscall"] > 0 and s["counts"]["read"] > 0
    assert "and every other as a generic event" in scapula("info", path).stdout
    lines = scapula("print", "--json", "--type", "syscall,write", path).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    getppid = [e for e in events if e["type"] == "syscall" and e["nr"] == 110]
    # the command's parent is the recorder, which is never recorded itself
    assert getppid and all(e["syscall"] == "getppid" and e["res"] == e["ppid"] and
                           "errno" not in e for e in getppid)
    assert any(e["type"] == "syscall" and (e["nr"], e["syscall"], e["res"], e.get("errno")) ==
               (63, "uname", -errno.EFAULT, "EFAULT") for e in events)
    assert any(e["type"] == "write" and e["data"] == "all of it" for e in events)
    text = scapula("print", "--type", "syscall", path).stdout
    assert f" syscall res={-errno.EFAULT} EFAULT nr=63(uname)" in text

