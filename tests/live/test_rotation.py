"""The real `scapula record` with rotation and limits: size, events, time, --keep, --max-size, a full disk."""
import json
from pathlib import Path
import re
import subprocess

import pytest

from scapula.replay.reader import Capture
from tests.conftest import scapula, scapula_info as info

NAME = re.compile(r"^h\.(\d{6})\.(\d{8}T\d{6}Z)\.scapula$")


pytestmark = pytest.mark.usefixtures("live")


@pytest.fixture
def busy(tmp_path):
    """Something on the host to record, the whole time."""
    loop = subprocess.Popen(["sh", "-c", f"while :; do cat /etc/hostname > {tmp_path}/o; done"])
    yield
    loop.kill()
    loop.wait()


def rotated(directory: Path) -> list[Path]:
    """The files of a rotated recording to DIR/h.scapula, in sequence order; checks
    their names, and that each is complete and readable on its own."""
    files = sorted(p for p in directory.iterdir() if p.suffix == ".scapula")
    assert not (directory / "h.scapula").exists()
    for p in files:
        assert NAME.match(p.name), p.name
        s = info(p)
        assert s["complete"] and not s["truncated"] and not s["warnings"], (p, s)
        assert s["processes"] > 0 and s["fds"] > 0
        assert s["sequence"] == int(NAME.match(p.name).group(1))
    return files


def check_chain(files: list[Path]) -> None:
    """Consecutive sequence numbers, each naming the file before it."""
    seqs = [info(p)["sequence"] for p in files]
    assert seqs == list(range(seqs[0], seqs[0] + len(files)))
    for before, after in zip(files, files[1:]):
        assert info(after)["previous"] == before.name
    if seqs[0] == 1:
        assert info(files[0])["previous"] is None


def test_rotate_by_events_loses_and_repeats_nothing(tmp_path):
    """Every open of the marker is in exactly one file; later files start with the live
    process and fd tables (the shell's fd 7 and cwd, made after the recording began).
    The tables are those of the end of the batch a file is cut in (within a second), so
    the shell pauses half way: files cut before the pause must show it."""
    out, marker, work = tmp_path / "out", tmp_path / "marker", tmp_path / "work"
    out.mkdir()
    work.mkdir()
    marker.write_text("x")
    opens = 150
    loop = f"i=0; while [ $i -lt {opens // 2} ]; do cat {marker} >/dev/null; i=$((i+1)); done"
    script = f"cd {work}; exec 7< {marker}; {loop}; sleep 1.5; {loop}"
    r = scapula("record", "-w", out / "h.scapula", "--rotate-events", 400, "--follow", "--",
                "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    files = rotated(out)
    assert len(files) >= 5, files
    check_chain(files)
    counts = [info(p)["events"] for p in files]
    assert all(n == 400 for n in counts[:-1]) and 0 < counts[-1] <= 400, counts
    assert f"recorded {sum(counts)} events" in r.stderr and f"to {len(files)} files" in r.stderr

    seen, sh, shown = 0, None, 0
    for p in files:
        lines = scapula("print", "--json", "--type", "openat", p).stdout.splitlines()
        events = [json.loads(line) for line in lines]
        seen += sum(e["name"] == str(marker) for e in events if e["res"] >= 0)
        with Capture(str(p)) as cap:
            if sh is None:
                execs = [e for e in cap.events() if e.name == "execve" and e.res == 0]
                sh = execs[0].pid
                continue
            # a later file: its own snapshot knows the shell, its cwd and its fd 7
            procs = {proc["pid"]: proc for proc in cap.processes}
            if sh in procs:
                shown += 1
                assert procs[sh]["cwd"] == bytes(work)
                assert [sh, 7, bytes(marker)] in [list(f) for f in cap.fds]
    assert seen == opens + 1  # and the shell's own `exec 7<`
    assert shown >= 1


def test_rotate_by_size(tmp_path, busy):
    out = tmp_path / "out"
    out.mkdir()
    r = scapula("record", "-w", out / "h.scapula", "--rotate-size", "40K", "--duration", 4)
    assert r.returncode == 0, r.stderr
    files = rotated(out)
    assert len(files) >= 2, (files, r.stderr)
    check_chain(files)
    # a file is cut at the first chunk boundary past the size
    assert all(p.stat().st_size >= 40 << 10 for p in files[:-1])
    assert info(files[0])["sequence"] == 1


def test_rotate_by_time(tmp_path, busy):
    out = tmp_path / "out"
    out.mkdir()
    r = scapula("record", "-w", out / "h.scapula", "--rotate-time", 1, "--duration", 3.5)
    assert r.returncode == 0, r.stderr
    files = rotated(out)
    assert 3 <= len(files) <= 5, files
    check_chain(files)
    starts = [info(p)["start_ns"] for p in files]
    gaps = [(b - a) / 1e9 for a, b in zip(starts, starts[1:])]
    assert all(0.9 <= g <= 2.0 for g in gaps), gaps
    assert all(info(p)["events"] > 0 for p in files[:-1])


def test_keep_removes_the_oldest(tmp_path, busy):
    out = tmp_path / "out"
    out.mkdir()
    r = scapula("record", "-w", out / "h.scapula", "--rotate-events", 300, "--keep", 2,
                "--duration", 3)
    assert r.returncode == 0, r.stderr
    files = rotated(out)
    assert len(files) == 2
    check_chain(files)
    m = re.search(r"to (\d+) files \((\d+) removed by --keep\)", r.stderr)
    assert m, r.stderr
    total, removed = int(m.group(1)), int(m.group(2))
    assert removed == total - 2 > 0
    assert info(files[-1])["sequence"] == total


def test_max_size_stops_with_a_complete_file(tmp_path, busy):
    path = tmp_path / "h.scapula"
    r = scapula("record", "-w", path, "--max-size", "200K", "--duration", 60)
    assert r.returncode == 0, r.stderr
    assert f"scapula: stopped: {path} reached --max-size 204,800 bytes" in r.stderr
    assert path.stat().st_size <= 200 << 10
    s = info(path)
    assert s["complete"] and not s["warnings"] and s["events"] > 0


def test_max_size_with_rotation_stops_at_the_current_file(tmp_path, busy):
    out = tmp_path / "out"
    out.mkdir()
    # files would rotate every 500000 events; the first one reaches --max-size before
    r = scapula("record", "-w", out / "h.scapula", "--rotate-events", 500000, "--max-size", "200K",
                "--duration", 60)
    assert r.returncode == 0, r.stderr
    assert "reached --max-size" in r.stderr
    files = rotated(out)
    assert files and all(p.stat().st_size <= 200 << 10 for p in files)
    assert all(info(p)["events"] > 0 for p in files)


def test_full_disk_ends_cleanly(tmp_path, busy):
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)], check=True)
    try:
        path = disk / "h.scapula"
        r = scapula("record", "-w", path, "--duration", 60)
        assert r.returncode == 5, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"scapula: {path}: No space left on device"), r.stderr
        s = info(path)
        # complete when the footer fitted after cutting back to the last whole block,
        # truncated (everything up to its last whole chunk) when it did not
        assert s["events"] > 0 and (s["complete"] or s["truncated"]), s
        p = scapula("print", path)
        assert p.returncode == 0 and len(p.stdout.splitlines()) == s["events"]
    finally:
        subprocess.run(["umount", str(disk)], check=True)
