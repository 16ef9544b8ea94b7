"""Live per-syscall tests of open, openat, openat2, creat and close: every recorded field."""
import ctypes
import errno
import mmap
import os
from pathlib import Path
import struct

from tests.conftest import raw_syscall

# x86_64 numbers, written out rather than taken from the event table so the table is checked too.
NR = {"open": 2, "close": 3, "pipe": 22, "dup": 32, "dup2": 33, "chdir": 80, "fchdir": 81,
      "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86, "unlink": 87,
      "symlink": 88, "chmod": 90, "fchmod": 91, "openat": 257, "mkdirat": 258, "unlinkat": 263,
      "renameat": 264, "linkat": 265, "symlinkat": 266, "fchmodat": 268, "dup3": 292,
      "pipe2": 293, "renameat2": 316, "memfd_create": 319, "openat2": 437}
AT_FDCWD = -100
BAD_FD = 12345             # never open in a child
BAD_PTR = ctypes.c_void_p(8)  # unmapped: the kernel answers EFAULT, the filler cannot read it
COMM = Path("/proc/self/comm").read_bytes().rstrip(b"\n")  # a forked child keeps it


def sys(name: str, *args) -> int:
    return raw_syscall(NR[name], *args)


def record(run_child, child):
    """Runs child(out) in a recorded child. The child keeps its syscalls' results in
    out[i] (shared memory, so the test knows the fds it got); returns (run, out)."""
    out = (ctypes.c_int64 * 32).from_buffer(mmap.mmap(-1, 8 * 32))
    run = run_child(lambda: child(out))
    assert run.status == 0
    return run, list(out)


def check(run, e, res: int, **params) -> None:
    """`e` is exactly what the child did: result, errno, who did it, and every parameter
    of its table entry, derived ones included (no more, no fewer)."""
    assert (e.res, e.errno) == (res, errno.errorcode[-res] if res < 0 else None)
    assert (e.pid, e.tid, e.ppid, e.uid, e.gid, e.comm) == \
        (run.pid, run.pid, os.getpid(), os.getuid(), os.getgid(), COMM)
    assert e.params == params


def b(path) -> bytes:
    return os.fsencode(path)


def test_open(run_child, tmp_path):
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("open", b"new.txt", flags, 0o640)
        out[1] = sys("open", b"missing/x", os.O_RDONLY, 0)
        out[2] = sys("open", None, os.O_RDONLY, 0)

    run, out = record(run_child, child)
    assert out[0] >= 3 and (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
    check(run, run.one("open", name=b"new.txt"), out[0],
          name=b"new.txt", flags=flags, mode=0o640, name_abs=b(tmp_path / "new.txt"))
    check(run, run.one("open", name=b"missing/x"), -errno.ENOENT,
          name=b"missing/x", flags=os.O_RDONLY, mode=0, name_abs=b(tmp_path / "missing/x"))
    check(run, run.one("open", name=None), -errno.EFAULT,
          name=None, flags=os.O_RDONLY, mode=0, name_abs=None)


def test_openat(run_child, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/f.txt").write_text("x")
    dflags, flags = os.O_RDONLY | os.O_DIRECTORY, os.O_RDONLY | os.O_CLOEXEC

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "sub"), dflags, 0)
        out[1] = sys("openat", out[0], b"f.txt", flags, 0)
        out[2] = sys("openat", out[0], b"../sub/./missing", flags, 0)
        out[3] = sys("openat", BAD_FD, b"f.txt", flags, 0)
        # Absolute: dirfd is unused, and Linux reads a leading "//" as "/".
        out[4] = sys("openat", BAD_FD, b"/" + b(tmp_path / "sub/f.txt"), flags, 0)
        out[5] = sys("openat", AT_FDCWD, BAD_PTR, flags, 0)
        out[6] = sys("openat", out[0], b"", flags, 0)  # read fine, and empty: not None

    run, out = record(run_child, child)
    dirfd, sub = out[0], tmp_path / "sub"
    check(run, run.one("openat", name=b(sub)), dirfd,
          dirfd=AT_FDCWD, name=b(sub), flags=dflags, mode=0, name_abs=b(sub))
    check(run, run.one("openat", name=b"f.txt", dirfd=dirfd), out[1],
          dirfd=dirfd, name=b"f.txt", flags=flags, mode=0, name_abs=b(sub / "f.txt"))
    check(run, run.one("openat", name=b"../sub/./missing"), -errno.ENOENT,
          dirfd=dirfd, name=b"../sub/./missing", flags=flags, mode=0,
          name_abs=b(sub / "missing"))
    check(run, run.one("openat", name=b"f.txt", dirfd=BAD_FD), -errno.EBADF,
          dirfd=BAD_FD, name=b"f.txt", flags=flags, mode=0, name_abs=None)
    check(run, run.one("openat", name=b"/" + b(sub / "f.txt")), out[4],
          dirfd=BAD_FD, name=b"/" + b(sub / "f.txt"), flags=flags, mode=0,
          name_abs=b(sub / "f.txt"))
    check(run, run.one("openat", name=None), -errno.EFAULT,
          dirfd=AT_FDCWD, name=None, flags=flags, mode=0, name_abs=None)
    check(run, run.one("openat", name=b""), -errno.ENOENT,
          dirfd=dirfd, name=b"", flags=flags, mode=0, name_abs=b(sub))


RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 0x04, 0x08


def open_how(flags: int, mode: int, resolve: int) -> ctypes.Array:
    return ctypes.create_string_buffer(struct.pack("<QQQ", flags, mode, resolve), 24)


def test_openat2(run_child, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "outside.txt").write_text("x")
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "sub"), os.O_RDONLY | os.O_DIRECTORY, 0)
        out[1] = sys("openat2", out[0], b"made.txt", open_how(flags, 0o600, resolve), 24)
        # The file exists: only RESOLVE_BENEATH refuses it.
        out[2] = sys("openat2", out[0], b"../outside.txt", open_how(os.O_RDONLY, 0, resolve), 24)

    run, out = record(run_child, child)
    dirfd = out[0]
    assert out[1] >= 0 and (tmp_path / "sub/made.txt").stat().st_mode & 0o777 == 0o600
    check(run, run.one("openat2", name=b"made.txt"), out[1],
          dirfd=dirfd, name=b"made.txt", flags=flags, mode=0o600, resolve=resolve,
          name_abs=b(tmp_path / "sub/made.txt"))
    check(run, run.one("openat2", name=b"../outside.txt"), -errno.EXDEV,
          dirfd=dirfd, name=b"../outside.txt", flags=os.O_RDONLY, mode=0, resolve=resolve,
          name_abs=b(tmp_path / "outside.txt"))


def test_creat(run_child, tmp_path):
    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("creat", b"c.txt", 0o604)
        out[1] = sys("creat", b"nodir/c.txt", 0o600)

    run, out = record(run_child, child)
    assert out[0] >= 3 and (tmp_path / "c.txt").stat().st_mode & 0o777 == 0o604
    check(run, run.one("creat", name=b"c.txt"), out[0],
          name=b"c.txt", mode=0o604, name_abs=b(tmp_path / "c.txt"))
    check(run, run.one("creat", name=b"nodir/c.txt"), -errno.ENOENT,
          name=b"nodir/c.txt", mode=0o600, name_abs=b(tmp_path / "nodir/c.txt"))


def test_close(run_child, tmp_path):
    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path), os.O_RDONLY | os.O_DIRECTORY, 0)
        out[1] = sys("close", out[0])
        out[2] = sys("close", BAD_FD)
        # After the close, out[0] names nothing: a path relative to it cannot resolve.
        out[3] = sys("openat", out[0], b"x", os.O_RDONLY, 0)

    run, out = record(run_child, child)
    check(run, run.one("close", fd=out[0]), 0, fd=out[0])
    check(run, run.one("close", fd=BAD_FD), -errno.EBADF, fd=BAD_FD)
    check(run, run.one("openat", name=b"x"), -errno.EBADF,
          dirfd=out[0], name=b"x", flags=os.O_RDONLY, mode=0, name_abs=None)
