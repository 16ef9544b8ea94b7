"""A full disk under `scapula query`: one line naming the file, exit 5, no traceback.
Needs root to mount a tiny tmpfs in a mount namespace of its own (as live tests do)."""
import os
import shutil
import subprocess

from tests.conftest import SCAPULA, require_live
from tests.unit.test_query import workload, write


def scapula_in_tmpfs(mnt, size: str, *args, env=None):
    """scapula run where `mnt` is a tmpfs of `size`, seen by that command only."""
    cmd = " ".join(["mount -t tmpfs -o size=" + size, "tmpfs", str(mnt), "&&", "exec",
                    str(SCAPULA), *[f"'{a}'" for a in args]])
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                          env=env or os.environ)


def test_a_full_disk_is_one_line_and_exit_5(tmp_path):
    require_live()
    if shutil.which("unshare") is None:
        raise AssertionError("unshare (util-linux) is missing")
    cap = write(tmp_path / "a.scapula", workload())
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # the database file itself on the full disk
    r = scapula_in_tmpfs(mnt, "16k", "query", "--db", f"{mnt}/x.duckdb", str(cap), "SELECT 1")
    assert r.returncode == 5, r.stderr
    assert r.stderr.startswith(f"scapula: {mnt}/x.duckdb: cannot write the database: ")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    # DuckDB's files for a load under a memory limit (TMPDIR) on the full disk
    r = scapula_in_tmpfs(mnt, "16k", "query", "--memory-limit", "400MB", str(cap),
                         "SELECT count(*) FROM fds", env={**os.environ, "TMPDIR": str(mnt)})
    assert r.returncode == 5, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "No space left on device" in r.stderr
