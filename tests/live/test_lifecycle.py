"""The fork/exec/exit tree of real programs, and how processes and threads end."""
import os
import signal
import time

from tests.conftest import raw_syscall
from tests.live.test_process_clone import NR_CLONE, THREAD_FLAGS, new_stack, syscall_then_exit

NR_EXIT_GROUP = 231


def exits(run, pid):
    return [(e.tid, e.param("exit_code"), e.param("status"), e.param("sig"), e.param("core"))
            for e in run.of("procexit", pid)]


def test_shell_pipeline_tree(run_child):
    cmd = b"cat /etc/hostname | wc -c"
    run = run_child(lambda: os.execv(b"/bin/sh", [b"sh", b"-c", cmd]))
    assert run.status == 0
    sh = run.one("execve", filename=b"/bin/sh")
    assert sh.res == 0 and sh.param("argv") == [b"sh", b"-c", cmd]
    assert (sh.pid, sh.ppid, sh.comm) == (run.pid, os.getpid(), b"sh")
    # The shell forks one process per pipeline stage.
    kids = {f.param("child_pid") for f in run.of("procfork", run.pid)}
    assert len(kids) == 2 and all(f.param("child_tid") == f.param("child_pid")
                                  for f in run.of("procfork", run.pid))
    stages = {}
    for kid in kids:
        (e,) = [e for e in run.of("execve", kid) if e.res == 0]
        assert (e.pid, e.tid, e.ppid) == (kid, kid, run.pid)
        assert e.param("filename").endswith(b"/" + e.param("argv")[0]) and e.comm == e.param("argv")[0]
        assert e.param("filename_abs") == e.param("filename")
        (x,) = run.of("procexec", kid)
        assert x.param("old_tid") == kid and x.param("filename") == e.param("filename")
        assert exits(run, kid) == [(kid, 0, 0, 0, 0)]
        stages[e.param("argv")[0]] = e.param("argv")
    assert stages == {b"cat": [b"cat", b"/etc/hostname"], b"wc": [b"wc", b"-c"]}
    assert exits(run, run.pid) == [(run.pid, 0, 0, 0, 0)]
    # Each exit is reported by the exiting task, still under its parent.
    for x in run.of("procexit"):
        assert x.ppid == (os.getpid() if x.pid == run.pid else run.pid)


def test_killed_by_sigkill(run_child):
    def child():
        pid = os.fork()
        if pid == 0:
            time.sleep(10)
            os._exit(0)
        os.kill(pid, signal.SIGKILL)
        assert os.waitpid(pid, 0)[1] == signal.SIGKILL
        return pid & 0x7f

    run = run_child(child)
    (fork,) = run.of("procfork", run.pid)
    gc = fork.param("child_pid")
    assert gc & 0x7f == run.status
    # exit_code is the wait status word: the signal in its low 7 bits, no status.
    assert exits(run, gc) == [(gc, signal.SIGKILL, 0, signal.SIGKILL, 0)]
    assert run.one("procexit", exit_code=signal.SIGKILL).ppid == run.pid


def test_exit_group_status(run_child):
    run = run_child(lambda: raw_syscall(NR_EXIT_GROUP, 3))
    assert run.status == 3
    assert exits(run, run.pid) == [(run.pid, 3 << 8, 3, 0, 0)]


def test_thread_exit_then_exit_group(run_child):
    def child():
        tid = syscall_then_exit(5)(NR_CLONE, THREAD_FLAGS, new_stack(), 0, 0, 0)
        while os.path.exists(f"/proc/self/task/{tid}"):
            time.sleep(0.001)
        raw_syscall(NR_EXIT_GROUP, 3)

    run = run_child(child)
    assert run.status == 3
    tid = run.one("procfork").param("child_tid")
    # The thread's exit(5) ends only the thread; exit_group(3) then ends the leader.
    assert exits(run, run.pid) == [(tid, 5 << 8, 5, 0, 0), (run.pid, 3 << 8, 3, 0, 0)]
    for x in run.of("procexit"):
        assert x.ppid == os.getpid()
