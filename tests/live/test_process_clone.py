"""clone, clone3, fork and vfork seen from both sides, with their procfork events."""
import ctypes
import mmap
import os
import signal
import struct
import time

from tests.conftest import raw_syscall

NR_CLONE, NR_FORK, NR_VFORK, NR_CLONE3 = 56, 57, 58, 435
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_THREAD, CLONE_SYSVSEM, CLONE_PARENT_SETTID = 0x10000, 0x40000, 0x100000
CLONE_CLEAR_SIGHAND = 0x100000000  # clone3 only: a flag above bit 31
THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM
CLONE_ARGS_SIZE = 88  # struct clone_args up to cgroup (CLONE_ARGS_SIZE_VER2)

_pages = []  # stubs and stacks must outlive any task that runs on them


def syscall_then_exit(code: int):
    """x86_64 code for `long f(nr, a1..a5)`: makes the syscall; the new task (result 0)
    calls exit(code) at once, before any Python or libc runs in it (a vfork child or
    a thread shares this memory and stack), and the caller gets the result."""
    text = bytes.fromhex(
        "4889f8 4889f7 4889d6 4889ca 4d89c2 4d89c8"  # rax=nr, then di si dx r10 r8
        "0f05 4885c0 750c"                             # syscall; a nonzero result returns
        ) + b"\xbf" + struct.pack("<I", code) + bytes.fromhex("b83c000000 0f05 c3")
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(text)
    _pages.append(page)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_long, *[ctypes.c_long] * 6)(addr)


def new_stack() -> int:
    stack = mmap.mmap(-1, 65536, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    _pages.append(stack)
    return ctypes.addressof(ctypes.c_char.from_buffer(stack)) + 65536


def clone_args(flags: int, exit_signal: int = signal.SIGCHLD) -> ctypes.Array:
    """struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, ..."""
    return ctypes.create_string_buffer(struct.pack("<11Q", flags, 0, 0, 0, exit_signal,
                                                   *[0] * 6), CLONE_ARGS_SIZE)


def check_pair(run, name, child, code, tid=None):
    """The caller's event (result: the new tid), the new task's (result 0), procfork
    and the new task's procexit."""
    tid = tid or child
    # res 0 with tid run.pid is the fixture's own fork (glibc's clone) arriving.
    parent_evt = [e for e in run.of(name, run.pid) if e.tid == run.pid and e.res != 0]
    assert len(parent_evt) == 1, parent_evt
    p = parent_evt[0]
    assert p.res == tid and p.errno is None
    assert (p.pid, p.tid, p.ppid, p.uid) == (run.pid, run.pid, os.getpid(), os.getuid())
    c = [e for e in run.of(name) if e.tid == tid]
    assert len(c) == 1
    c = c[0]
    assert c.res == 0 and c.errno is None
    assert (c.pid, c.tid, c.uid, c.comm) == (child, tid, p.uid, p.comm)
    # A thread's parent is its leader's parent; a process's is the caller.
    assert c.ppid == (os.getpid() if child == run.pid else run.pid)
    f = run.one("procfork", child_tid=tid)
    assert f.param("child_pid") == child and (f.pid, f.tid) == (run.pid, run.pid)
    x = [e for e in run.of("procexit") if e.tid == tid]
    assert len(x) == 1 and x[0].param("status") == code and x[0].param("sig") == 0
    return p, c


def test_fork(run_child):
    def child():
        pid = syscall_then_exit(11)(NR_FORK, 0, 0, 0, 0, 0)
        assert os.waitpid(pid, 0)[1] == 11 << 8
        return pid & 0x7f  # hand the child's pid back through the exit status

    run = run_child(child)
    pid = run.one("procfork").param("child_pid")
    assert run.status == pid & 0x7f
    check_pair(run, "fork", pid, 11)


def test_vfork(run_child):
    def child():
        pid = syscall_then_exit(12)(NR_VFORK, 0, 0, 0, 0, 0)
        os.waitpid(pid, 0)

    run = run_child(child)
    check_pair(run, "vfork", run.one("procfork").param("child_pid"), 12)


def test_clone_process(run_child):
    flags = signal.SIGCHLD | CLONE_PARENT_SETTID
    ptid = ctypes.c_int(0)

    def child():
        pid = syscall_then_exit(13)(NR_CLONE, flags, 0, ctypes.addressof(ptid), 0, 0)
        os.waitpid(pid, 0)
        assert ptid.value == pid

    run = run_child(child)
    p, c = check_pair(run, "clone", run.one("procfork").param("child_pid"), 13)
    assert p.param("flags") == c.param("flags") == flags


def test_clone_thread(run_child):
    def child():
        tid = syscall_then_exit(14)(NR_CLONE, THREAD_FLAGS, new_stack(), 0, 0, 0)
        assert tid > 0
        while os.path.exists(f"/proc/self/task/{tid}"):
            time.sleep(0.001)

    run = run_child(child)
    tid = run.one("procfork").param("child_tid")
    assert tid != run.pid
    p, c = check_pair(run, "clone", run.pid, 14, tid=tid)
    assert p.param("flags") == c.param("flags") == THREAD_FLAGS


def test_clone3(run_child):
    args = clone_args(CLONE_CLEAR_SIGHAND)

    def child():
        pid = syscall_then_exit(15)(NR_CLONE3, ctypes.addressof(args), CLONE_ARGS_SIZE, 0, 0, 0)
        os.waitpid(pid, 0)

    run = run_child(child)
    p, c = check_pair(run, "clone3", run.one("procfork").param("child_pid"), 15)
    # The flags word is 64 bits wide: the one flag set sits above bit 31.
    assert p.param("flags") == c.param("flags") == CLONE_CLEAR_SIGHAND
    assert p.param("size") == c.param("size") == CLONE_ARGS_SIZE


def test_clone_failures(run_child):
    args = clone_args(CLONE_CLEAR_SIGHAND)

    def child():
        assert raw_syscall(NR_CLONE3, args, 8) == -22           # size below VER0
        assert raw_syscall(NR_CLONE, CLONE_THREAD, 0, 0, 0, 0) == -22  # needs SIGHAND
        assert raw_syscall(NR_CLONE3, ctypes.c_void_p(1), CLONE_ARGS_SIZE) == -14

    run = run_child(child)
    assert run.of("procfork") == []
    small = run.one("clone3", size=8)
    assert small.res == -22 and small.errno == "EINVAL"
    assert small.param("flags") == CLONE_CLEAR_SIGHAND
    bad = run.one("clone", flags=CLONE_THREAD)
    assert bad.res == -22 and bad.errno == "EINVAL" and bad.param("flags") == CLONE_THREAD
    fault = run.one("clone3", size=CLONE_ARGS_SIZE)
    assert fault.res == -14 and fault.errno == "EFAULT"
    # Unreadable flags: a scalar slot cannot say None, so 0 stands in.
    assert fault.param("flags") == 0
    for e in (small, bad, fault):
        assert (e.pid, e.tid, e.ppid) == (run.pid, run.pid, os.getpid())
