"""`scapula export` on what a user can get wrong: one line on stderr naming the place and
the problem, the documented exit code (2 usage, 3 bad input, 5 cannot write), no
traceback, and the output directory left as it was."""
import os

import pytest

from tests.conftest import scapula
from tests.unit.test_query import workload, write


@pytest.fixture
def cap(tmp_path):
    return write(tmp_path / "a.scapula", workload())


def fails(code: int, *args, message: str):
    r = scapula("export", *args)
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stderr.startswith("scapula: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    return r.stderr


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "--format xml: expected one of parquet, csv, jsonl, timesketch"),
    (["--table", "events,bogus"], "--table: unknown table(s) bogus (tables: events,"),
    (["--format", "timesketch", "--table", "processes"],
     "--format timesketch exports the events table only"),
])
def test_bad_options_are_usage_errors(cap, tmp_path, args, message):
    fails(2, cap, "--out", tmp_path / "out", *args, message=message)
    assert not (tmp_path / "out").exists()


def test_out_is_required(cap):
    fails(2, cap, message="--out DIR is required")


def test_nothing_to_export(tmp_path):
    fails(2, "--out", tmp_path / "out", message="no capture files (and no --db) to export")
    fails(3, "--db", tmp_path / "none.duckdb", "--out", tmp_path / "out",
          message=f"{tmp_path / 'none.duckdb'}: no such database")


@pytest.mark.parametrize("kind, message", [
    ("missing", "cannot open: No such file or directory"),
    ("not-capture", "not a scapula capture"),
])
def test_bad_capture_is_bad_input_and_leaves_no_directory(cap, tmp_path, kind, message):
    bad = tmp_path / f"{kind}.scapula"
    if kind == "not-capture":
        bad.write_text("just some text\n")
    out = tmp_path / "out"
    err = fails(3, cap, bad, "--out", out, message=message)
    assert str(bad) in err
    assert not out.exists()  # made for the export, removed when it failed


def test_out_that_is_a_file(cap, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    fails(2, cap, "--out", f, message=f"{f}: exists and is not a directory")
    fails(5, cap, "--out", f / "sub", message=f"{f / 'sub'}: cannot write there: Not a directory")
    assert f.read_text() == "x"


def test_out_not_empty_needs_overwrite_and_an_earlier_export(cap, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "evidence.txt").write_text("keep")
    fails(2, cap, "--out", out, message=f"{out}: exists and is not empty "
          "(--overwrite replaces an earlier export there)")
    fails(2, cap, "--out", out, "--overwrite",
          message=f"{out}: is not empty and holds no scapula export (no readable export.json)")
    assert [p.name for p in out.iterdir()] == ["evidence.txt"]


def test_overwrite_never_removes_what_the_earlier_export_did_not_write(cap, tmp_path):
    out = tmp_path / "out"
    r = scapula("export", cap, "--out", out, "--format", "csv", "--table", "events")
    assert r.returncode == 0, r.stderr
    # a directory of the user's where this export would put a table
    (out / "processes").mkdir()
    (out / "processes" / "analysis.md").write_text("mine")
    fails(2, cap, "--out", out, "--overwrite", "--table", "events,processes",
          message=f"{out / 'processes'}: exists and is not from the earlier export "
                  "(its export.json does not list it); move it away first")
    assert (out / "processes" / "analysis.md").read_text() == "mine"
    # a note of the user's inside a table directory an earlier export wrote
    out2 = tmp_path / "out2"
    r = scapula("export", cap, "--out", out2, "--table", "events")
    assert r.returncode == 0, r.stderr
    [part] = [p for p in (out2 / "events").iterdir()]
    (part / "notes.txt").write_text("mine")
    before = sorted(str(p) for p in out2.rglob("*"))
    fails(2, cap, "--out", out2, "--overwrite", "--table", "events",
          message=f"{part / 'notes.txt'}: not written by a scapula export; --overwrite "
                  "would remove it with its directory: move it away first")
    assert sorted(str(p) for p in out2.rglob("*")) == before
    # with the note moved away, the export is replaced
    (part / "notes.txt").unlink()
    r = scapula("export", cap, "--out", out2, "--overwrite", "--table", "events")
    assert r.returncode == 0, r.stderr


def test_a_refused_out_leaves_no_temporary_directory(cap, tmp_path):
    # the load's temporary directory (the events' Parquet files) goes on any error
    temp = tmp_path / "temp"
    temp.mkdir()
    f = tmp_path / "file"
    f.write_text("x")
    r = scapula("export", cap, "--out", f, env={**os.environ, "TMPDIR": str(temp)})
    assert r.returncode == 2, r.stderr
    r = scapula("export", cap, "--out", tmp_path / "ok", env={**os.environ, "TMPDIR": str(temp)})
    assert r.returncode == 0, r.stderr
    assert list(temp.iterdir()) == []


def test_a_bad_format_is_found_before_loading(tmp_path):
    """Option errors come first: the capture is not even opened."""
    fails(2, tmp_path / "missing.scapula", "--out", tmp_path / "o", "--format", "parquet,csv",
          message="--format parquet,csv: expected one of")
