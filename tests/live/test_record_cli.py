"""The real `scapula record` command: summary, file mode, stdout output, and how kills and signals end it."""
import json
import os
from pathlib import Path
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from scapula.schemas import format as fmt
from tests.conftest import SCAPULA, scapula, scapula_info as info

SUMMARY = re.compile(r"^recorded (\d+) events in [\d.]+s to (\S+) \(([\d,]+) bytes\); "
                     r"dropped (\d+) \((cpu\d+: \d+(?:, cpu\d+: \d+)*)\)$", re.M)


pytestmark = pytest.mark.usefixtures("live")


def test_record_a_command(tmp_path):
    path, marker = tmp_path / "cmd.scapula", tmp_path / "marker"
    r = scapula("record", "-w", path, "--", "sh", "-c", f"echo hi > {marker}; cat {marker}")
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stderr)
    assert m, r.stderr
    events, where, size, dropped, per_cpu = m.groups()
    assert where == str(path) and int(size.replace(",", "")) == path.stat().st_size
    assert len(per_cpu.split(", ")) == os.cpu_count()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    s = info(path)
    assert s["complete"] and not s["truncated"] and not s["warnings"]
    assert s["events"] == int(events) > 0 and s["dropped"] == int(dropped)
    assert s["counts"].get("execve", 0) >= 1 and s["counts"].get("openat", 0) >= 1
    opened = scapula("print", "--json", "--type", "openat", path).stdout
    assert str(marker) in opened


def test_record_to_stdout(tmp_path):
    path = tmp_path / "stdout.scapula"
    with open(path, "wb") as out:
        r = subprocess.run([SCAPULA, "record", "-w", "-", "--", "true"], stdout=out,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stderr)
    assert m and m.group(2) == "stdout", r.stderr
    assert int(m.group(3).replace(",", "")) == path.stat().st_size
    s = info(path)
    assert s["complete"] and s["events"] == int(m.group(1)) > 0


def start_recording(path: Path, tmp_path: Path):
    """A whole-host recorder with a busy loop to record; returns once the recorder
    has written its header (BCC has compiled and the probe is attached)."""
    loop = subprocess.Popen(["sh", "-c", f"while :; do cat /etc/hostname > {tmp_path}/o; done"])
    rec = subprocess.Popen([SCAPULA, "record", "-w", str(path), "--duration", "30"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (path.exists() and path.stat().st_size > fmt.PREAMBLE.size):
        assert rec.poll() is None, rec.stderr.read()
        assert time.monotonic() < deadline, "the recorder never wrote its header"
        time.sleep(0.05)
    return rec, loop


def test_sigkill_leaves_a_readable_truncated_file(tmp_path):
    path = tmp_path / "killed.scapula"
    rec, loop = start_recording(path, tmp_path)
    try:
        time.sleep(2.5)
        rec.kill()
        assert rec.wait(10) == -signal.SIGKILL
    finally:
        loop.kill()
        loop.wait()
    s = info(path)
    assert s["truncated"] and not s["complete"] and s["events"] > 0, s
    assert s["warnings"] and all("kill" in w for w in s["warnings"])
    r = scapula("print", path)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert len(r.stdout.splitlines()) == s["events"]
    assert r.stderr.startswith("scapula: warning: ") and "was the recorder killed?" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_finishes_the_file(tmp_path, sig):
    path = tmp_path / "stopped.scapula"
    rec, loop = start_recording(path, tmp_path)
    try:
        time.sleep(1.5)
        rec.send_signal(sig)
        assert rec.wait(20) == 0, rec.stderr.read()
    finally:
        loop.kill()
        loop.wait()
    assert SUMMARY.search(rec.stderr.read())
    s = info(path)
    assert s["complete"] and not s["truncated"] and not s["warnings"] and s["events"] > 0
    with open(path, "rb") as f:
        f.seek(-fmt.TRAILER.size, os.SEEK_END)
        assert fmt.TRAILER.unpack(f.read())[1] == fmt.END_MAGIC


def test_follow_keeps_only_the_command_tree_and_count_stops_it(tmp_path):
    path = tmp_path / "follow.scapula"
    script = "for i in 1 2 3 4 5 6; do cat /etc/hostname; done"
    # a process outside the tree, busy the whole time
    with subprocess.Popen(["sh", "-c", "while :; do cat /etc/hostname >/dev/null; done"]) as noise:
        try:
            r = scapula("record", "-w", path, "--follow", "--", "sh", "-c", script)
            assert r.returncode == 0, r.stderr
            lines = scapula("print", "--json", path).stdout.splitlines()
            events = [json.loads(line) for line in lines]
            root = next(e["pid"] for e in events if e["type"] == "execve" and e["res"] == 0)
            tree = {root} | {e["child_pid"] for e in events if e["type"] == "procfork"}
            assert {e["pid"] for e in events} <= tree
            assert noise.pid not in {e["pid"] for e in events}
            assert sum(e["type"] == "execve" and e["res"] == 0 for e in events) == 7

            counted = tmp_path / "count.scapula"
            r = scapula("record", "-w", counted, "--count", "25", "--follow", "--", "sh", "-c", script)
            assert r.returncode == 0, r.stderr
            assert info(counted)["events"] == 25
        finally:
            noise.kill()


def test_status_line_on_a_terminal(tmp_path):
    """On a terminal, record keeps a status line going (script(1) provides the tty)."""
    if not shutil.which("script"):
        pytest.skip("script(1) from util-linux is not installed")
    path = tmp_path / "tty.scapula"
    r = subprocess.run(["script", "-qec", f"{SCAPULA} record -w {path} --duration 1.5",
                        "/dev/null"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout
    status = [part for part in r.stdout.split("\r") if "dropped" in part and "MB written" in part]
    assert status, r.stdout
    assert re.search(r"\d+ events\s+[\d,]+/s\s+\d+ dropped\s+[\d.]+ MB written", status[-1])


def test_print_bpf_shows_the_program_with_btf_offsets():
    r = scapula("record", "--print-bpf", "--syscalls", "openat,close")
    assert r.returncode == 0, r.stderr
    assert "RAW_TRACEPOINT_PROBE(sys_exit)" in r.stdout
    assert re.search(r"^#define OFF_TASK_REAL_PARENT \d+$", r.stdout, re.M)
    assert "int sys_openat_x(" in r.stdout
