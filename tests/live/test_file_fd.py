"""Live per-syscall tests of dup, dup2, dup3, pipe, pipe2 and memfd_create: every recorded field."""
import ctypes
import errno
import os
from sys import executable

from tests.live.test_file_open import AT_FDCWD, BAD_FD, BAD_PTR, b, check, record, sys

O_DIR = os.O_RDONLY | os.O_DIRECTORY


def dirfd_child(tmp_path, then):
    """A child that opens tmp_path as out[0] and then runs then(out, dirfd)."""
    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path), O_DIR, 0)
        then(out, out[0])
    return child


def test_dup(run_child, tmp_path):
    def then(out, fd):
        out[1] = sys("dup", fd)
        out[2] = sys("dup", BAD_FD)
        # The copy names the same directory, so paths relative to it resolve.
        out[3] = sys("openat", out[1], b"via-dup", os.O_RDONLY, 0)

    run, out = record(run_child, dirfd_child(tmp_path, then))
    assert out[1] > out[0]
    check(run, run.one("dup", oldfd=out[0]), out[1], oldfd=out[0])
    check(run, run.one("dup", oldfd=BAD_FD), -errno.EBADF, oldfd=BAD_FD)
    assert run.one("openat", name=b"via-dup").param("name_abs") == b(tmp_path / "via-dup")


def test_dup2(run_child, tmp_path):
    pipe = (ctypes.c_int * 2)()

    def then(out, fd):
        out[1] = sys("dup2", fd, 50)
        out[2] = sys("dup2", BAD_FD, 51)
        # Replacing 50 with a pipe end: 50 no longer names the directory.
        sys("pipe", pipe)
        out[3] = sys("dup2", pipe[0], 50)
        out[4] = sys("openat", 50, b"not-a-dir", os.O_RDONLY, 0)
        # Nor with an fd the recorder never saw made (eventfd2 is not recorded).
        sys("dup2", fd, 53)
        out[5] = sys("dup2", os.eventfd(0), 53)
        out[6] = sys("openat", 53, b"unknown", os.O_RDONLY, 0)

    run, out = record(run_child, dirfd_child(tmp_path, then))
    check(run, run.one("dup2", oldfd=out[0], newfd=50), 50, oldfd=out[0], newfd=50)
    check(run, run.one("dup2", oldfd=BAD_FD), -errno.EBADF, oldfd=BAD_FD, newfd=51)
    assert out[3] == 50
    not_dir = run.one("openat", name=b"not-a-dir")
    assert (not_dir.res, not_dir.param("name_abs")) == (-errno.ENOTDIR, None)
    unknown = run.one("openat", name=b"unknown")
    assert (out[5], unknown.res, unknown.param("name_abs")) == (53, -errno.ENOTDIR, None)


def test_dup3(run_child, tmp_path):
    def then(out, fd):
        out[1] = sys("dup3", fd, 52, os.O_CLOEXEC)
        out[2] = sys("dup3", fd, fd, 0)  # dup3, unlike dup2, refuses oldfd == newfd
        out[3] = sys("openat", 52, b"via-dup3", os.O_RDONLY, 0)

    run, out = record(run_child, dirfd_child(tmp_path, then))
    check(run, run.one("dup3", newfd=52), 52, oldfd=out[0], newfd=52, flags=os.O_CLOEXEC)
    check(run, run.one("dup3", newfd=out[0]), -errno.EINVAL, oldfd=out[0], newfd=out[0], flags=0)
    assert run.one("openat", name=b"via-dup3").param("name_abs") == b(tmp_path / "via-dup3")


def test_pipe(run_child):
    fds = (ctypes.c_int * 2)(-7, -7)

    def child(out):
        out[0] = sys("pipe", fds)
        out[1], out[2] = fds
        out[3] = sys("pipe", BAD_PTR)

    run, out = record(run_child, child)
    assert out[0] == 0 and 3 <= out[1] < out[2]
    check(run, run.one("pipe", fd1=out[1]), 0, fd1=out[1], fd2=out[2])
    check(run, run.one("pipe", fd1=-1), -errno.EFAULT, fd1=-1, fd2=-1)


def test_pipe2(run_child):
    fds = (ctypes.c_int * 2)(-7, -7)
    flags = os.O_CLOEXEC | os.O_NONBLOCK

    def child(out):
        out[0] = sys("pipe2", fds, flags)
        out[1], out[2] = fds
        out[3] = sys("pipe2", fds, 0x1)  # not a pipe2 flag

    run, out = record(run_child, child)
    assert out[0] == 0 and 3 <= out[1] < out[2]
    check(run, run.one("pipe2", flags=flags), 0, fd1=out[1], fd2=out[2], flags=flags)
    check(run, run.one("pipe2", flags=0x1), -errno.EINVAL, fd1=-1, fd2=-1, flags=0x1)


MFD_CLOEXEC, MFD_ALLOW_SEALING = 1, 2


def test_memfd_create(run_child):
    flags = MFD_CLOEXEC | MFD_ALLOW_SEALING

    def child(out):
        out[0] = sys("memfd_create", b"scapula-test", flags)
        out[1] = sys("memfd_create", b"bad-flags", 0x80)  # an undefined flag bit
        out[2] = sys("memfd_create", None, 0)

    run, out = record(run_child, child)
    assert out[0] >= 3
    check(run, run.one("memfd_create", name=b"scapula-test"), out[0],
          name=b"scapula-test", flags=flags)
    check(run, run.one("memfd_create", name=b"bad-flags"), -errno.EINVAL,
          name=b"bad-flags", flags=0x80)
    check(run, run.one("memfd_create", name=None), -errno.EFAULT, name=None, flags=0)


def test_child_inherits_cwd_and_fds_as_at_fork(run_child, tmp_path, monkeypatch):
    """The recorder's own state moved on after its start-up snapshot; its child starts
    from that state as it was at the fork."""
    (tmp_path / "inh").mkdir()
    monkeypatch.chdir(tmp_path)
    inherited = os.open(tmp_path / "inh", O_DIR)

    def child(out):
        sys("openat", AT_FDCWD, b"rel", os.O_RDONLY, 0)
        sys("openat", inherited, b"x", os.O_RDONLY, 0)

    try:
        run, _ = record(run_child, child)
    finally:
        os.close(inherited)
    assert run.one("openat", name=b"rel").param("name_abs") == b(tmp_path / "rel")
    assert run.one("openat", name=b"x").param("name_abs") == b(tmp_path / "inh/x")


def test_exec_closes_cloexec_fds(run_child, tmp_path):
    """After exec, an O_CLOEXEC fd names nothing; a plain one still names its directory."""
    # High numbers, so the new program's own opens do not take them first.
    program = ("import os\n"
               "for fd in (90, 91):\n"
               "    try: os.close(os.open('x', os.O_RDONLY, dir_fd=fd))\n"
               "    except OSError: pass\n")

    def then(out, fd):
        sys("dup3", fd, 90, os.O_CLOEXEC)
        sys("dup2", fd, 91)
        os.execv(executable, [executable, "-c", program])

    run, _ = record(run_child, dirfd_child(tmp_path, then))
    gone, kept = run.one("openat", name=b"x", dirfd=90), run.one("openat", name=b"x", dirfd=91)
    assert (gone.res, gone.param("name_abs")) == (-errno.EBADF, None)
    assert kept.param("name_abs") == b(tmp_path / "x")
