"""Rotation policy, file names and the ring of --keep files; the CLI's checks of the rotation options."""
import calendar
import os
import subprocess

import pytest

from scapula.capture.rotation import Ring, RotationPolicy, rotated_name

from tests.conftest import SCAPULA
START = calendar.timegm((2026, 11, 22, 0, 15, 0)) * 1_000_000_000 + 123


@pytest.mark.parametrize("pattern, expected", [
    ("host.scapula", "host.000001.20261122T001500Z.scapula"),
    ("/var/log/x/host.scapula", "/var/log/x/host.000001.20261122T001500Z.scapula"),
    ("capture", "capture.000001.20261122T001500Z"),
    ("a.b.scapula", "a.b.000001.20261122T001500Z.scapula"),
    (".scapula", ".scapula.000001.20261122T001500Z"),
])
def test_names(pattern, expected):
    assert rotated_name(pattern, 1, START) == expected


def test_names_sort_in_writing_order():
    names = [rotated_name("h.scapula", seq, START + seq * 10**9) for seq in (1, 2, 9, 10, 11, 999999)]
    assert sorted(names) == names
    assert rotated_name("h.scapula", 42, START).split(".")[1] == "000042"


def test_policy_due():
    assert not RotationPolicy().active and not RotationPolicy(keep=3).active
    assert not RotationPolicy().due(10**12, 10**9, 10**6)
    p = RotationPolicy(size=1000, seconds=5, events=10)
    assert p.active
    assert not p.due(999, 9, 4.9)
    assert p.due(1000, 0, 0) and p.due(0, 10, 0) and p.due(0, 0, 5.0)


def test_policy_room():
    assert RotationPolicy(size=10).room(5) is None
    p = RotationPolicy(events=100)
    assert p.room(0) == 100 and p.room(60) == 40 and p.room(100) == 0 and p.room(150) == 0


def test_ring_without_keep_keeps_everything():
    r = Ring(None)
    for i in range(5):
        assert r.add(f"f{i}") == []
    assert r.files == [f"f{i}" for i in range(5)] and r.removed == []


def test_ring_keeps_the_newest_n():
    r = Ring(2)
    assert r.add("a") == [] and r.add("b") == []
    assert r.add("c") == ["a"]
    assert r.add("d") == ["b"]
    assert r.files == ["c", "d"] and r.removed == ["a", "b"]


def test_ring_prune_deletes_files(tmp_path):
    r = Ring(2)
    paths = [tmp_path / f"{i}.scapula" for i in range(4)]
    for p in paths:
        r.prune(str(p))
        p.write_bytes(b"x")
    assert sorted(tmp_path.iterdir()) == paths[2:]
    os.unlink(paths[2])  # a user removed one: the ring still goes on
    r.prune(str(tmp_path / "4.scapula"))
    assert r.files == [str(paths[3]), str(tmp_path / "4.scapula")]


def record(*args):
    return subprocess.run([SCAPULA, "record", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, message", [
    (["-w", "-", "--rotate-size", "10M"], "cannot write to -w -"),
    (["-w", "-", "--rotate-events", "10"], "cannot write to -w -"),
    (["-w", "x", "--keep", "3"], "--keep needs --rotate-size"),
    (["-w", "x", "--rotate-size", "lots"], "--rotate-size lots: not a positive number"),
    (["-w", "x", "--rotate-size", "0"], "--rotate-size 0: must be more than 0"),
    (["-w", "x", "--rotate-time", "soon"], "--rotate-time soon: not a positive number"),
    (["-w", "x", "--rotate-time", "-5"], "--rotate-time -5: must be more than 0"),
    (["-w", "x", "--rotate-events", "1.5"], "--rotate-events 1.5: not a positive number"),
    (["-w", "x", "--rotate-events", "0"], "--rotate-events 0: must be more than 0"),
    (["-w", "x", "--rotate-events", "9", "--keep", "0"], "--keep 0: must be more than 0"),
    (["-w", "x", "--max-size", "big"], "--max-size big: not a positive number"),
    (["-w", "x", "--max-size", "0"], "--max-size 0: must be more than 0"),
])
def test_bad_rotation_options_are_one_line_usage_errors(tmp_path, args, message):
    r = record(*[tmp_path / a if a == "x" else a for a in args], "--duration", "1")
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("scapula: record: "), r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []
