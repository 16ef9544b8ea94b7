"""`scapula info` and `print` on bad input: one clean line on stderr and the documented exit code."""
import os
from pathlib import Path
import subprocess

import pytest

from scapula.schemas import format as fmt
from tests.unit.test_format import chunked, damage, write

from tests.conftest import SCAPULA


def scapula(*args) -> subprocess.CompletedProcess:
    return subprocess.run([SCAPULA, *map(str, args)], capture_output=True, text=True,
                          errors="surrogateescape", timeout=60)


def make(tmp_path, kind: str) -> Path:
    path = tmp_path / f"{kind}.scapula"
    if kind == "not-capture":
        path.write_text("just some text\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind in ("newer", "truncated", "cut-header"):
        w = write(path, chunked())
        if kind == "newer":
            damage(path, 0, fmt.PREAMBLE.pack(fmt.FILE_MAGIC, 2, 0, 0))
        elif kind == "truncated":
            os.truncate(path, w.chunks[3][0] + 40)  # inside the last chunk
        else:
            os.truncate(path, fmt.PREAMBLE.size + 20)
    return path


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["print"], ["print", "--json"]])
@pytest.mark.parametrize("kind, message", [
    ("missing", "cannot open: No such file or directory"),
    ("not-capture", "not a scapula capture"),
    ("empty", "not a scapula capture"),
    ("newer", "format version 2.0 is newer than this scapula reads"),
    ("cut-header", "expected the header block"),
    # a FIFO nobody writes to: refused without opening it (which would wait for ever)
    ("fifo", "a pipe, not a file: captures are read from files"),
])
def test_bad_input_is_one_clean_line(tmp_path, command, kind, message):
    path = make(tmp_path, kind)
    r = scapula(*command, path)
    assert r.returncode == 3, r.stderr
    assert r.stderr == f"scapula: {path}: {r.stderr.split(': ', 2)[2]}"
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["print"], ["print", "--json"]])
def test_truncated_file_prints_what_is_there_and_warns(tmp_path, command):
    path = make(tmp_path, "truncated")
    r = scapula(*command, path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("scapula: warning: ") and "truncated at offset" in r.stderr
    if command[0] == "print":
        assert len(r.stdout.splitlines()) == 75  # the three whole chunks
    elif "--json" in command:
        assert '"events": 75' in r.stdout and '"truncated": true' in r.stdout
    else:
        assert "TRUNCATED" in r.stdout and "events    75" in r.stdout


def test_unknown_type_is_a_usage_error(tmp_path):
    r = scapula("print", "--type", "bogus", make(tmp_path, "truncated"))
    assert r.returncode == 2
    assert r.stderr == "scapula: --type: unknown event type(s) bogus\n"


def test_a_capture_through_a_pipe_is_one_clean_line(tmp_path):
    # record -w - | scapula print /dev/stdin: the footer is at the end, so refused
    path = tmp_path / "a.scapula"
    write(path, chunked())
    for command in (["info"], ["print"], ["replay"]):
        r = subprocess.run([SCAPULA, *command, "/dev/stdin"], input=path.read_bytes(),
                           capture_output=True, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 3, err
        assert err == ("scapula: /dev/stdin: a pipe, not a file: captures are read from "
                       "files (write it to one first, e.g. record -w FILE)\n")


def test_a_damaged_trailer_warns_and_still_finds_the_footer(tmp_path):
    path = tmp_path / "a.scapula"
    write(path, chunked())
    damage(path, os.path.getsize(path) - 4, b"XXXX")   # inside the end magic
    r = scapula("info", "--json", path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("scapula: warning: ") and "damaged trailer; the footer was " \
        "found by reading every block" in r.stderr and r.stderr.count("\n") == 1
    assert '"events": 100' in r.stdout and '"truncated": false' in r.stdout


def test_a_damaged_start_snapshot_is_skipped_and_the_events_still_load(tmp_path):
    from tests.unit.test_query import workload, write as write_query
    path = write_query(tmp_path / "a.scapula", workload())
    data = path.read_bytes()
    at = fmt.PREAMBLE.size
    for _ in range(2):   # past the header and schema blocks, to the process snapshot
        at += fmt.BLOCK_HEADER.size + fmt.BLOCK_HEADER.unpack_from(data, at)[3]
    payload = at + fmt.BLOCK_HEADER.size
    damage(path, payload, bytes([data[payload] ^ 0xFF]))
    r = scapula("info", "--json", path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"scapula: warning: {path}: offset {at}: processes checksum "
                        "mismatch; read without it (processes alive at the start are not "
                        "known)\n")
    r = subprocess.run([SCAPULA, "query", path, "SELECT count(*) AS n, count(DISTINCT pid) "
                        "AS p FROM events"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.splitlines()[-1].split() == ["6", "2"], r.stderr


def test_events_dropped_while_recording_are_said_by_print_and_replay(tmp_path):
    from tests.unit.test_query import workload, write as write_query
    path = write_query(tmp_path / "a.scapula", workload(), drops=(0, 2))
    said = (f"scapula: warning: {path}: 2 events were dropped while recording (cpu1 2; "
            "the ring buffer was full): nothing here includes them\n")
    r = scapula("print", path)
    assert r.returncode == 0 and r.stderr == said, r.stderr
    r = scapula("replay", path)
    assert r.returncode == 0 and said in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    (["print"], "scapula: print: Missing argument 'FILE'. (--help says more)"),
    (["bogus"], "scapula: No such command 'bogus'. (--help says more)"),
    (["record", "--duration", "0"], "scapula: record: Invalid value for '--duration': 0.0 "
     "is not in the range x>0. (--help says more)"),
])
def test_usage_errors_are_one_line_too(args, message):
    r = scapula(*args)
    assert r.returncode == 2 and r.stderr == message + "\n" and r.stdout == ""
