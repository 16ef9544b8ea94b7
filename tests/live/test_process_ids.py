"""setuid, setgid, setresuid and setresgid: parameters, results, and the header ids after."""
import os

import pytest

from tests.conftest import raw_syscall

NR_SETUID, NR_SETGID, NR_SETRESUID, NR_SETRESGID = 105, 106, 117, 119
EPERM, EINVAL = -1, -22


@pytest.fixture(autouse=True)
def as_root():
    if os.getuid() != 0:
        pytest.skip("the success cases change identity, which needs root")


def calls(run, name):
    # In time order, all from the child's one thread.
    evts = run.of(name, run.pid)
    assert all(e.tid == run.pid and e.ppid == os.getpid() for e in evts)
    return evts


def test_setuid_setgid(run_child):
    def child():
        assert raw_syscall(NR_SETUID, -1) == EINVAL     # -1 is no uid for setuid
        assert raw_syscall(NR_SETGID, 1234) == 0         # gid first: it needs root
        assert raw_syscall(NR_SETUID, 1000) == 0
        assert raw_syscall(NR_SETUID, 0) == EPERM
        assert raw_syscall(NR_SETGID, 0) == EPERM

    run = run_child(child)
    assert run.status == 0
    u = calls(run, "setuid")
    assert [(e.param("new_uid"), e.res) for e in u] == [(-1, EINVAL), (1000, 0), (0, EPERM)]
    assert [e.errno for e in u] == ["EINVAL", None, "EPERM"]
    g = calls(run, "setgid")
    assert [(e.param("new_gid"), e.res) for e in g] == [(1234, 0), (0, EPERM)]
    assert [e.errno for e in g] == [None, "EPERM"]
    # Events are taken at sys_exit: a successful call already shows the new ids.
    assert (u[0].uid, u[0].gid) == (0, 0)
    assert (g[0].uid, g[0].gid) == (0, 1234)
    assert (u[1].uid, u[1].gid) == (1000, 1234)
    assert (u[2].uid, g[1].uid, g[1].gid) == (1000, 1000, 1234)
    exit_evt = run.one("procexit")
    assert (exit_evt.uid, exit_evt.gid) == (1000, 1234)


def test_setresuid_setresgid(run_child):
    def child():
        assert raw_syscall(NR_SETRESGID, -1, 2000, -1) == 0
        assert raw_syscall(NR_SETRESUID, -1, 1000, -1) == 0   # euid only: ruid, suid stay 0
        assert os.getresuid() == (0, 1000, 0)
        assert raw_syscall(NR_SETRESUID, -1, 0, -1) == 0      # back, via the saved uid
        assert raw_syscall(NR_SETRESGID, 3000, 3001, 3002) == 0
        assert raw_syscall(NR_SETRESUID, 1000, 1001, 1002) == 0
        assert raw_syscall(NR_SETRESUID, 0, -1, -1) == EPERM
        assert raw_syscall(NR_SETRESGID, -1, -1, 0) == EPERM

    run = run_child(child)
    assert run.status == 0
    u = calls(run, "setresuid")
    assert [(e.param("ruid"), e.param("euid"), e.param("suid"), e.res) for e in u] == [
        (-1, 1000, -1, 0), (-1, 0, -1, 0), (1000, 1001, 1002, 0), (0, -1, -1, EPERM)]
    assert [e.errno for e in u] == [None, None, None, "EPERM"]
    g = calls(run, "setresgid")
    assert [(e.param("rgid"), e.param("egid"), e.param("sgid"), e.res) for e in g] == [
        (-1, 2000, -1, 0), (3000, 3001, 3002, 0), (-1, -1, 0, EPERM)]
    assert [e.errno for e in g] == [None, None, "EPERM"]
    # The header carries the real ids: an euid/egid-only change leaves them alone.
    assert [(e.uid, e.gid) for e in u] == [(0, 0), (0, 0), (1000, 3000), (1000, 3000)]
    assert [(e.uid, e.gid) for e in g] == [(0, 0), (0, 3000), (1000, 3000)]
