"""execve and execveat recorded field by field, on success and on failure."""
import ctypes
import os

from tests.conftest import raw_syscall

NR_EXECVE, NR_EXECVEAT = 59, 322
AT_EMPTY_PATH = 0x1000
ENV = {b"A": b"1", b"SCAPULA": b"x y"}
ENVP = [b"A=1", b"SCAPULA=x y"]
# The forked child keeps this process's comm until it execs.
MY_COMM = open("/proc/self/comm", "rb").read().rstrip(b"\n")


def cstrings(items):
    """A NULL-terminated char *[] that stays alive as long as the returned array."""
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)


def assert_header(e, run, comm):
    assert (e.pid, e.tid, e.ppid) == (run.pid, run.pid, os.getpid())
    assert (e.uid, e.gid, e.comm) == (os.getuid(), os.getgid(), comm)


def test_execve_success(run_child):
    run = run_child(lambda: os.execve(b"/bin/true", [b"true", b"--a", b""], ENV))
    assert run.status == 0
    e = run.one("execve")
    assert e.res == 0 and e.errno is None
    assert e.param("filename") == b"/bin/true"
    # An empty argument must survive the NUL-separated encoding.
    assert e.param("argv") == [b"true", b"--a", b""]
    assert e.param("envp") == ENVP
    assert e.param("filename_abs") == b"/bin/true"
    # At sys_exit the new image is in place: its comm, not python's.
    assert_header(e, run, b"true")
    x = run.one("procexec")
    assert (x.param("old_tid"), x.param("filename"), x.pid) == (run.pid, b"/bin/true", run.pid)


def test_execve_script_sees_interpreter_argv(run_child, tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\nexit 7\n")
    script.chmod(0o755)

    def child():
        os.chdir(tmp_path)
        os.execve(b"./s.sh", [b"s.sh", b"one"], ENV)

    run = run_child(child)
    assert run.status == 7
    e = run.one("execve")
    assert e.res == 0 and e.param("filename") == b"./s.sh"
    assert e.param("filename_abs") == str(script).encode()
    # argv as the new image sees it: the kernel put the interpreter first.
    assert e.param("argv") == [b"/bin/sh", b"./s.sh", b"one"]
    assert e.param("envp") == ENVP
    assert_header(e, run, b"s.sh")


def test_execve_enoent_and_efault(run_child, tmp_path):
    argv, envp = cstrings([b"nope", b"arg1"]), cstrings(ENVP)

    def child():
        os.chdir(tmp_path)
        assert raw_syscall(NR_EXECVE, b"missing", argv, envp) == -2
        assert raw_syscall(NR_EXECVE, ctypes.c_void_p(1), argv, envp) == -14

    run = run_child(child)
    bad = run.one("execve", filename=b"missing")
    assert bad.res == -2 and bad.errno == "ENOENT"
    # A failed exec leaves the old image: argv/envp come from the pointers passed.
    assert bad.param("argv") == [b"nope", b"arg1"]
    assert bad.param("envp") == ENVP
    assert bad.param("filename_abs") == str(tmp_path / "missing").encode()
    assert_header(bad, run, MY_COMM)
    fault = run.one("execve", filename=None)
    assert fault.res == -14 and fault.errno == "EFAULT"
    assert fault.param("filename_abs") is None
    assert fault.param("argv") == [b"nope", b"arg1"]
    assert fault.param("envp") == ENVP
    assert_header(fault, run, MY_COMM)


def test_execveat_dirfd_relative(run_child):
    argv, envp = cstrings([b"true", b"rel"]), cstrings(ENVP)

    def child():
        dirfd = os.open("/bin", os.O_RDONLY | os.O_DIRECTORY)
        raw_syscall(NR_EXECVEAT, dirfd, b"true", argv, envp, 0)

    run = run_child(child)
    assert run.status == 0
    dirfd = run.one("openat", name=b"/bin").res
    e = run.one("execveat")
    assert e.res == 0 and e.errno is None
    assert e.param("dirfd") == dirfd
    assert e.param("filename") == b"true"
    assert e.param("flags") == 0
    assert e.param("argv") == [b"true", b"rel"]
    assert e.param("envp") == ENVP
    assert e.param("filename_abs") == b"/bin/true"
    assert_header(e, run, b"true")


def test_execveat_empty_path_and_failure(run_child):
    argv, envp = cstrings([b"viafd"]), cstrings(ENVP)

    def child():
        dirfd = os.open("/bin", os.O_RDONLY | os.O_DIRECTORY)
        # Failure first (the success replaces this image): a name that is not there.
        assert raw_syscall(NR_EXECVEAT, dirfd, b"no-such-tool", argv, envp, 0) == -2
        fd = os.open("/bin/true", os.O_RDONLY)
        raw_syscall(NR_EXECVEAT, fd, b"", argv, envp, AT_EMPTY_PATH)

    run = run_child(child)
    assert run.status == 0
    bad = run.one("execveat", filename=b"no-such-tool")
    assert bad.res == -2 and bad.errno == "ENOENT"
    assert bad.param("dirfd") == run.one("openat", name=b"/bin").res
    assert bad.param("flags") == 0
    assert bad.param("argv") == [b"viafd"] and bad.param("envp") == ENVP
    assert bad.param("filename_abs") == b"/bin/no-such-tool"
    ok = run.one("execveat", filename=b"")
    assert ok.res == 0 and ok.errno is None
    assert ok.param("dirfd") == run.one("openat", name=b"/bin/true").res
    assert ok.param("flags") == AT_EMPTY_PATH
    assert ok.param("argv") == [b"viafd"] and ok.param("envp") == ENVP
    # An empty path with AT_EMPTY_PATH names the fd itself.
    assert ok.param("filename_abs") == b"/bin/true"
    assert_header(ok, run, b"true")


def test_non_utf8_argv_round_trips(run_child):
    args = [b"true", b"\xff\xfe\x80", b"caf\xe9", b"tab\there"]
    env = {b"K\xc3": b"\xff"}
    run = run_child(lambda: os.execve(b"/bin/true", args, env))
    e = run.one("execve")
    assert e.res == 0
    assert e.param("argv") == args
    assert e.param("envp") == [b"K\xc3=\xff"]


def test_execve_from_a_thread(run_child):
    import threading
    t = threading.Thread(target=os.execve, args=(b"/bin/true", [b"true", b"t"], ENV))
    run = run_child(lambda: (t.start(), t.join()) and None)
    assert run.status == 0
    thread_tid = [f.param("child_tid") for f in run.of("procfork", run.pid)]
    assert len(thread_tid) == 1 and thread_tid[0] != run.pid
    e = run.one("execve")
    assert e.res == 0 and e.param("filename") == b"/bin/true"
    assert e.param("argv") == [b"true", b"t"] and e.param("envp") == ENVP
    # The exec'ing thread comes back as the leader: it took over the leader's tid.
    assert_header(e, run, b"true")
    x = run.one("procexec")
    assert (x.param("old_tid"), x.tid, x.pid) == (thread_tid[0], run.pid, run.pid)
    # The old leader dies in the exec, yet the process lives on: the tid that is gone
    # is the exec'ing thread's, and only the real end reports the leader's.
    assert [(x.tid, x.param("exit_code")) for x in run.of("procexit")] == [
        (thread_tid[0], 0), (run.pid, 0)]
    assert run.of("procexit")[1].comm == b"true"
