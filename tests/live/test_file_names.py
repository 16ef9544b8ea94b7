"""Live per-syscall tests of rename*, link*, symlink*, chmod* and non-UTF-8 names: every field."""
import errno
import os

from tests.live.test_file_open import AT_FDCWD, BAD_FD, b, check, record, sys

RENAME_NOREPLACE = 1
AT_SYMLINK_FOLLOW = 0x400
O_DIR = os.O_RDONLY | os.O_DIRECTORY


def files(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


def test_rename(run_child, tmp_path):
    files(tmp_path, "a")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("rename", b"a", b"b")
        out[1] = sys("rename", b"a", b"c")  # a is gone

    run, out = record(run_child, child)
    assert (tmp_path / "b").read_text() == "a"
    check(run, run.one("rename", newpath=b"b"), 0, oldpath=b"a", newpath=b"b",
          oldpath_abs=b(tmp_path / "a"), newpath_abs=b(tmp_path / "b"))
    check(run, run.one("rename", newpath=b"c"), -errno.ENOENT, oldpath=b"a", newpath=b"c",
          oldpath_abs=b(tmp_path / "a"), newpath_abs=b(tmp_path / "c"))


def test_renameat(run_child, tmp_path):
    files(tmp_path, "src/a")
    (tmp_path / "dst").mkdir()

    def child(out):
        os.chdir(tmp_path / "dst")
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "src"), O_DIR, 0)
        out[1] = sys("renameat", out[0], b"a", AT_FDCWD, b"moved")
        out[2] = sys("renameat", BAD_FD, b"a", AT_FDCWD, b"moved2")

    run, out = record(run_child, child)
    src = out[0]
    assert (tmp_path / "dst/moved").exists()
    check(run, run.one("renameat", olddirfd=src), 0,
          olddirfd=src, oldpath=b"a", newdirfd=AT_FDCWD, newpath=b"moved",
          oldpath_abs=b(tmp_path / "src/a"), newpath_abs=b(tmp_path / "dst/moved"))
    check(run, run.one("renameat", olddirfd=BAD_FD), -errno.EBADF,
          olddirfd=BAD_FD, oldpath=b"a", newdirfd=AT_FDCWD, newpath=b"moved2",
          oldpath_abs=None, newpath_abs=b(tmp_path / "dst/moved2"))


def test_renameat2(run_child, tmp_path):
    files(tmp_path, "a", "b", "taken")

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path), O_DIR, 0)
        out[1] = sys("renameat2", out[0], b"a", out[0], b"fresh", RENAME_NOREPLACE)
        out[2] = sys("renameat2", out[0], b"b", out[0], b"taken", RENAME_NOREPLACE)

    run, out = record(run_child, child)
    d = out[0]
    assert (tmp_path / "fresh").read_text() == "a" and (tmp_path / "taken").read_text() == "taken"
    check(run, run.one("renameat2", oldpath=b"a"), 0,
          olddirfd=d, oldpath=b"a", newdirfd=d, newpath=b"fresh", flags=RENAME_NOREPLACE,
          oldpath_abs=b(tmp_path / "a"), newpath_abs=b(tmp_path / "fresh"))
    check(run, run.one("renameat2", oldpath=b"b"), -errno.EEXIST,
          olddirfd=d, oldpath=b"b", newdirfd=d, newpath=b"taken", flags=RENAME_NOREPLACE,
          oldpath_abs=b(tmp_path / "b"), newpath_abs=b(tmp_path / "taken"))


def test_link(run_child, tmp_path):
    files(tmp_path, "a", "taken")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("link", b"a", b"hard")
        out[1] = sys("link", b"a", b"taken")

    run, out = record(run_child, child)
    assert (tmp_path / "hard").stat().st_ino == (tmp_path / "a").stat().st_ino
    check(run, run.one("link", newpath=b"hard"), 0, oldpath=b"a", newpath=b"hard",
          oldpath_abs=b(tmp_path / "a"), newpath_abs=b(tmp_path / "hard"))
    check(run, run.one("link", newpath=b"taken"), -errno.EEXIST, oldpath=b"a", newpath=b"taken",
          oldpath_abs=b(tmp_path / "a"), newpath_abs=b(tmp_path / "taken"))


def test_linkat(run_child, tmp_path):
    files(tmp_path, "src/a")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "src"), O_DIR, 0)
        out[1] = sys("linkat", out[0], b"a", AT_FDCWD, b"hard", AT_SYMLINK_FOLLOW)
        out[2] = sys("linkat", out[0], b"missing", AT_FDCWD, b"hard2", 0)

    run, out = record(run_child, child)
    src = out[0]
    assert (tmp_path / "hard").stat().st_ino == (tmp_path / "src/a").stat().st_ino
    check(run, run.one("linkat", oldpath=b"a"), 0,
          olddirfd=src, oldpath=b"a", newdirfd=AT_FDCWD, newpath=b"hard", flags=AT_SYMLINK_FOLLOW,
          oldpath_abs=b(tmp_path / "src/a"), newpath_abs=b(tmp_path / "hard"))
    check(run, run.one("linkat", oldpath=b"missing"), -errno.ENOENT,
          olddirfd=src, oldpath=b"missing", newdirfd=AT_FDCWD, newpath=b"hard2", flags=0,
          oldpath_abs=b(tmp_path / "src/missing"), newpath_abs=b(tmp_path / "hard2"))


def test_symlink(run_child, tmp_path):
    files(tmp_path, "taken")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("symlink", b"../nowhere/./x", b"ln")  # the target is text, never resolved
        out[1] = sys("symlink", b"x", b"taken")

    run, out = record(run_child, child)
    assert os.readlink(tmp_path / "ln") == "../nowhere/./x"
    check(run, run.one("symlink", linkpath=b"ln"), 0,
          target=b"../nowhere/./x", linkpath=b"ln", linkpath_abs=b(tmp_path / "ln"))
    check(run, run.one("symlink", linkpath=b"taken"), -errno.EEXIST,
          target=b"x", linkpath=b"taken", linkpath_abs=b(tmp_path / "taken"))


def test_symlinkat(run_child, tmp_path):
    (tmp_path / "d").mkdir()

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "d"), O_DIR, 0)
        out[1] = sys("symlinkat", b"/etc/hostname", out[0], b"ln")
        out[2] = sys("symlinkat", b"/etc/hostname", BAD_FD, b"ln")

    run, out = record(run_child, child)
    d = out[0]
    assert os.readlink(tmp_path / "d/ln") == "/etc/hostname"
    check(run, run.one("symlinkat", linkdirfd=d), 0,
          target=b"/etc/hostname", linkdirfd=d, linkpath=b"ln", linkpath_abs=b(tmp_path / "d/ln"))
    check(run, run.one("symlinkat", linkdirfd=BAD_FD), -errno.EBADF,
          target=b"/etc/hostname", linkdirfd=BAD_FD, linkpath=b"ln", linkpath_abs=None)


def test_chmod(run_child, tmp_path):
    files(tmp_path, "f")

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("chmod", b"f", 0o4640)
        out[1] = sys("chmod", b"missing", 0o600)

    run, out = record(run_child, child)
    assert (tmp_path / "f").stat().st_mode & 0o7777 == 0o4640
    check(run, run.one("chmod", filename=b"f"), 0,
          filename=b"f", mode=0o4640, filename_abs=b(tmp_path / "f"))
    check(run, run.one("chmod", filename=b"missing"), -errno.ENOENT,
          filename=b"missing", mode=0o600, filename_abs=b(tmp_path / "missing"))


def test_fchmod(run_child, tmp_path):
    files(tmp_path, "f")

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "f"), os.O_RDONLY, 0)
        out[1] = sys("fchmod", out[0], 0o604)
        out[2] = sys("fchmod", BAD_FD, 0o600)

    run, out = record(run_child, child)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o604
    check(run, run.one("fchmod", fd=out[0]), 0, fd=out[0], mode=0o604)
    check(run, run.one("fchmod", fd=BAD_FD), -errno.EBADF, fd=BAD_FD, mode=0o600)


def test_fchmodat(run_child, tmp_path):
    files(tmp_path, "d/f")

    def child(out):
        out[0] = sys("openat", AT_FDCWD, b(tmp_path / "d"), O_DIR, 0)
        out[1] = sys("fchmodat", out[0], b"f", 0o610)
        out[2] = sys("fchmodat", out[0], b"missing", 0o600)

    run, out = record(run_child, child)
    d = out[0]
    assert (tmp_path / "d/f").stat().st_mode & 0o777 == 0o610
    check(run, run.one("fchmodat", filename=b"f"), 0,
          dirfd=d, filename=b"f", mode=0o610, filename_abs=b(tmp_path / "d/f"))
    check(run, run.one("fchmodat", filename=b"missing"), -errno.ENOENT,
          dirfd=d, filename=b"missing", mode=0o600, filename_abs=b(tmp_path / "d/missing"))


def test_non_utf8_names_round_trip(run_child, tmp_path):
    """Names are bytes end to end: nothing decodes, replaces or drops an invalid byte."""
    dirname, name = b"d\xff\xfe", b"caf\xe9\xff.txt"
    flags = os.O_WRONLY | os.O_CREAT

    def child(out):
        os.chdir(tmp_path)
        out[0] = sys("mkdir", dirname, 0o755)
        out[1] = sys("chdir", dirname)
        out[2] = sys("openat", AT_FDCWD, name, flags, 0o644)

    run, out = record(run_child, child)
    where = b(tmp_path) + b"/" + dirname
    assert os.path.exists(where + b"/" + name)
    check(run, run.one("mkdir", path=dirname), 0, path=dirname, mode=0o755, path_abs=where)
    check(run, run.one("chdir", path=dirname), 0, path=dirname, path_abs=where)
    check(run, run.one("openat", name=name), out[2],
          dirfd=AT_FDCWD, name=name, flags=flags, mode=0o644, name_abs=where + b"/" + name)
