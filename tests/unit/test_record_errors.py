"""`scapula record` refuses bad options and unwritable outputs with one line, before loading anything."""
import os
import subprocess

import pytest

from tests.conftest import SCAPULA


def record(*args):
    return subprocess.run([SCAPULA, "record", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args,code,message", [
    (["--duration", "1"], 2, "-w FILE is required"),
    (["-w", "x", "--syscalls", "openat,bogus"], 2, "unknown or unsupported: bogus"),
    (["-w", "x", "--buffer-size", "3M"], 2, "must be a power of two"),
    (["-w", "x", "--buffer-size", "lots"], 2, "not a size"),
    (["-w", "x", "--duration", "-1"], 2, "--duration"),
    (["-w", "x", "--count", "0"], 2, "--count"),
    (["-w", "x", "--follow"], 2, "--follow needs a COMMAND"),
    (["-w", "x", "--", "/no/such/command"], 2, "/no/such/command: command not found"),
    (["-w", "x", "--io", "--snaplen", "4097"], 2, "--snaplen 4097: must be a whole number from 0"),
    (["-w", "x", "--snaplen", "-1"], 2, "--snaplen -1: must be a whole number from 0 to 4096"),
    (["-w", "x", "--snaplen", "lots"], 2, "--snaplen lots: must be a whole number"),
])
def test_bad_options(tmp_path, args, code, message):
    r = record(*[tmp_path / a if a == "x" else a for a in args])
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("value", ["-1", "4097", "80.5"])
def test_bad_snaplen_is_one_line(tmp_path, value):
    r = record("-w", tmp_path / "x", "--all", "--snaplen", value, "--duration", "1")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"scapula: record: --snaplen {value}: must be a whole number from 0 to 4096\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="record checks for root before the output")
@pytest.mark.parametrize("target", ["/nonexistent/dir/out.scapula", "{tmp}"])
def test_unwritable_output_is_exit_5(tmp_path, target):
    r = record("-w", target.format(tmp=tmp_path), "--duration", "1")
    assert r.returncode == 5, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scapula: ") and "cannot create" in lines[0]
