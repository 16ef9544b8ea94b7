"""Live per-syscall tests of chdir, fchdir, mkdir(at), rmdir, unlink(at): every recorded field."""
import errno
import os

from tests.live.test_file_open import AT_FDCWD, BAD_FD, b, check, record, sys

AT_REMOVEDIR = 0x200
O_DIR = os.O_RDONLY | os.O_DIRECTORY


def opened_at(run, name: bytes):
    """Where the recorder says the child's openat of `name` went."""
    return run.one("openat", name=name).param("name_abs")


def test_chdir(run_child, tmp_path):
    (tmp_path / "a/b").mkdir(parents=True)

    def child(out):
        out[0] = sys("chdir", b(tmp_path))
        out[1] = sys("chdir", b"a/./b/..")
        out[2] = sys("chdir", b"missing")
        out[3] = sys("chdir", None)
        # Only the two that succeeded moved the cwd.
        sys("openat", AT_FDCWD, b"here", os.O_RDONLY, 0)

    run, out = record(run_child, child)
    check(run, run.one("chdir", path=b(tmp_path)), 0, path=b(tmp_path), path_abs=b(tmp_path))
    check(run, run.one("chdir", path=b"a/./b/.."), 0, path=b"a/./b/..", path_abs=b(tmp_path / "a"))
    check(run, run.one("chdir", path=b"missing"), -errno.ENOENT,
          path=b"missing", path_abs=b(tmp_path / "a/missing"))
    check(run, run.one("chdir", path=None), -errno.EFAULT, path=None, path_abs=None)
    assert opened_at(run, b"here") == b(tmp_path / "a/here")


def test_fchdir(run_child, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")

    def child(out):
        os.chdir("/")
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "d"), O_DIR, 0)
        out[1] = sys("openat", AT_FDCWD, b(tmp_path / "f"), os.O_RDONLY, 0)
        out[2] = sys("fchdir", out[0])
        out[3] = sys("fchdir", BAD_FD)
        out[4] = sys("fchdir", out[1])  # a file: ENOTDIR, the cwd stays
        sys("openat", AT_FDCWD, b"rel", os.O_RDONLY, 0)

    run, out = record(run_child, child)
    check(run, run.one("fchdir", fd=out[0]), 0, fd=out[0])
    check(run, run.one("fchdir", fd=BAD_FD), -errno.EBADF, fd=BAD_FD)
    check(run, run.one("fchdir", fd=out[1]), -errno.ENOTDIR, fd=out[1])
    assert opened_at(run, b"rel") == b(tmp_path / "d/rel")


def test_mkdir(run_child, tmp_path):
    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("mkdir", b"new", 0o750)
        out[1] = sys("mkdir", b"new", 0o700)

    run, out = record(run_child, child)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o750
    check(run, run.one("mkdir", mode=0o750), 0,
          path=b"new", mode=0o750, path_abs=b(tmp_path / "new"))
    check(run, run.one("mkdir", mode=0o700), -errno.EEXIST,
          path=b"new", mode=0o700, path_abs=b(tmp_path / "new"))


def test_mkdirat(run_child, tmp_path):
    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path), O_DIR, 0)
        out[1] = sys("mkdirat", out[0], b"made", 0o711)
        out[2] = sys("mkdirat", out[0], b"missing/made", 0o700)
        out[3] = sys("mkdirat", BAD_FD, b"made", 0o700)

    run, out = record(run_child, child)
    dirfd = out[0]
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o711
    check(run, run.one("mkdirat", path=b"made", dirfd=dirfd), 0,
          dirfd=dirfd, path=b"made", mode=0o711, path_abs=b(tmp_path / "made"))
    check(run, run.one("mkdirat", path=b"missing/made"), -errno.ENOENT,
          dirfd=dirfd, path=b"missing/made", mode=0o700, path_abs=b(tmp_path / "missing/made"))
    check(run, run.one("mkdirat", dirfd=BAD_FD), -errno.EBADF,
          dirfd=BAD_FD, path=b"made", mode=0o700, path_abs=None)


def test_rmdir(run_child, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full/f").write_text("x")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("rmdir", b"empty")
        out[1] = sys("rmdir", b"full")

    run, out = record(run_child, child)
    assert not (tmp_path / "empty").exists()
    check(run, run.one("rmdir", path=b"empty"), 0, path=b"empty", path_abs=b(tmp_path / "empty"))
    check(run, run.one("rmdir", path=b"full"), -errno.ENOTEMPTY,
          path=b"full", path_abs=b(tmp_path / "full"))


def test_unlink(run_child, tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("unlink", b"f")
        out[1] = sys("unlink", b"d")

    run, out = record(run_child, child)
    assert not (tmp_path / "f").exists()
    check(run, run.one("unlink", path=b"f"), 0, path=b"f", path_abs=b(tmp_path / "f"))
    check(run, run.one("unlink", path=b"d"), -errno.EISDIR, path=b"d", path_abs=b(tmp_path / "d"))


def test_unlinkat(run_child, tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d2").mkdir()

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path), O_DIR, 0)
        out[1] = sys("unlinkat", out[0], b"f", 0)
        out[2] = sys("unlinkat", out[0], b"d", AT_REMOVEDIR)
        out[3] = sys("unlinkat", out[0], b"d2", 0)  # a directory, without AT_REMOVEDIR

    run, out = record(run_child, child)
    dirfd = out[0]
    assert not (tmp_path / "f").exists() and not (tmp_path / "d").exists()
    check(run, run.one("unlinkat", name=b"f"), 0,
          dirfd=dirfd, name=b"f", flags=0, name_abs=b(tmp_path / "f"))
    check(run, run.one("unlinkat", name=b"d"), 0,
          dirfd=dirfd, name=b"d", flags=AT_REMOVEDIR, name_abs=b(tmp_path / "d"))
    check(run, run.one("unlinkat", name=b"d2"), -errno.EISDIR,
          dirfd=dirfd, name=b"d2", flags=0, name_abs=b(tmp_path / "d2"))
