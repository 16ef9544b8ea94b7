"""The probe loads and sees a child's openat with every parameter right."""
import os

from tests.conftest import raw_syscall

NR_OPENAT = 257
AT_FDCWD = -100


def test_openat_success_and_failure(run_child, tmp_path):
    target = tmp_path / "smoke.txt"
    target.write_text("x")

    def child():
        os.chdir(tmp_path)
        fd = raw_syscall(NR_OPENAT, AT_FDCWD, b"smoke.txt", os.O_RDONLY | os.O_CLOEXEC, 0)
        assert fd >= 0
        raw_syscall(NR_OPENAT, AT_FDCWD, b"missing.txt", os.O_RDONLY, 0)

    run = run_child(child)
    ok = run.one("openat", name=b"smoke.txt")
    assert ok.res >= 3 and ok.errno is None
    assert ok.param("dirfd") == AT_FDCWD
    assert ok.param("flags") == os.O_RDONLY | os.O_CLOEXEC
    assert ok.param("mode") == 0
    assert ok.param("name_abs") == str(target).encode()
    assert (ok.pid, ok.tid, ok.ppid, ok.uid) == (run.pid, run.pid, os.getpid(), os.getuid())
    bad = run.one("openat", name=b"missing.txt")
    assert bad.res == -2 and bad.errno == "ENOENT"
    assert bad.param("name_abs") == str(tmp_path / "missing.txt").encode()
