"""`scapula export` without a kernel: two synthetic captures of two hosts (written by the
real writer) exported in every format and read back: Parquet by DuckDB (hive partitions)
and by pyarrow, CSV and JSON lines by DuckDB and Python, the Timesketch timeline's keys,
the manifest, --table, --db and --overwrite."""
import csv
import datetime as dt
import json
import os

import duckdb
import pyarrow.dataset as ds
import pytest

from scapula.query import export_sql
from scapula.query import schema as qs
from tests.conftest import scapula
from tests.unit.test_query import ev, workload, write

# Beside the query tests' workload: bytes that are not UTF-8 (write's data), a path
# a CSV must quote, a rename, and an event on the next UTC day.
DAY = 86_400 * 10**9
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
EXTRA = [
    ev("write", 1500, 100, res=4, fd=1, size=4, data=b"\x00\xffhi"),
    ev("openat", 1600, 100, res=5, dirfd=-100, name=b'a,"b"', flags=0, name_abs=b'/root/a,"b"'),
    ev("rename", DAY + 5, 100, oldpath=b"a", newpath=b"b", oldpath_abs=b"/root/a",
       newpath_abs=b"/root/b"),
]


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    a = write(tmp / "a.scapula", workload() + EXTRA, host="web1")
    b = write(tmp / "b.scapula", workload(), host="web2")
    db = tmp / "case.duckdb"
    r = scapula("query", "--db", db, a, b, "SELECT count(*) AS n FROM events", "--json")
    assert r.returncode == 0, r.stderr
    return tmp, a, b, db


def export(*args):
    r = scapula("export", *args)
    assert r.returncode == 0, r.stderr
    return r


def db_con(db):
    """The case database, read-only (close it before the next export opens it)."""
    return duckdb.connect(str(db), read_only=True)


def test_parquet_layout_and_round_trip(captures, tmp_path):
    tmp, a, b, db = captures
    out = tmp_path / "pq"
    r = export("--db", db, "--out", out)
    assert "events" in r.stdout and "by host, date" in r.stdout
    days = sorted(p.relative_to(out / "events").parent.as_posix()
                  for p in (out / "events").rglob("*.parquet"))
    assert sorted(set(days)) == ["host=web1/date=1970-01-01", "host=web1/date=1970-01-02",
                                 "host=web2/date=1970-01-01"]
    assert sorted(p.name for p in (out / "processes").iterdir()) == ["host=web1", "host=web2"]
    con = db_con(db)
    glob = f"read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)"
    # every value, args included: the database's rows and the files' are the same rows
    cols = ", ".join(f'"{n}"' for n, _ in export_sql.columns(con, "events") if n != "ts")
    # (ts is in microseconds in Parquet, truncated; ts_ns keeps the nanoseconds)
    ours, theirs = (f"SELECT {cols}, ts_ns // 1000 FROM events",
                    f"SELECT {cols}, epoch_us(ts) FROM {glob}")
    for x, y in ((ours, theirs), (theirs, ours)):
        assert con.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone() == (0,)
    assert con.execute(f"SELECT count(*) FROM {glob}").fetchone() == \
        con.execute("SELECT count(*) FROM events").fetchone()
    assert con.execute(f"SELECT count(*) FROM {glob} WHERE date <> CAST(to_timestamp("
                       "ts_ns / 1e9) AS DATE)").fetchone() == (0,)
    for table in ("processes", "captures", "drops", "snapshot_fds"):
        n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/{table}/**/*.parquet', "
                        "hive_partitioning=true)").fetchone()
        assert n == con.execute(f"SELECT count(*) FROM {table}").fetchone() and n[0] > 0
    # a table without rows (no rules were run): one empty file, every column in it,
    # the partition columns (host, date) too
    assert [p.name for p in (out / "alerts").iterdir()] == ["data_0.parquet"]
    empty = f"read_parquet('{out}/alerts/**/*.parquet', hive_partitioning=true)"
    assert con.execute(f"SELECT count(*) FROM {empty}").fetchone() == (0,)
    assert {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {empty}").fetchall()} == \
        {n for n, _ in export_sql.columns(con, "alerts")} | {"date"}


def test_parquet_reads_with_pyarrow_hive_partitioning(captures, tmp_path):
    """A second reader (Arrow's datasets, as Spark and Trino read hive layouts)."""
    tmp, a, b, db = captures
    out = tmp_path / "pq"
    export(a, b, "--out", out, "--table", "events")
    table = ds.dataset(out / "events", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 2 * len(workload()) + len(EXTRA)
    by_host = {}
    for h in table.column("host").to_pylist():
        by_host[h] = by_host.get(h, 0) + 1
    assert by_host == {"web1": len(workload()) + len(EXTRA), "web2": len(workload())}
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    (data,) = [d for d in table.column("data").to_pylist() if d]
    assert data == b"\x00\xffhi"
    assert sorted(p.name for p in out.iterdir()) == ["events", "export.json"]


def test_csv_and_jsonl_round_trip(captures, tmp_path):
    tmp, a, b, db = captures
    for fmt in ("csv", "jsonl"):
        export("--db", db, "--out", tmp_path / fmt, "--format", fmt)
    con = db_con(db)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in qs.TABLES}
    for fmt in ("csv", "jsonl"):
        out = tmp_path / fmt
        assert sorted(p.name for p in out.iterdir()) == sorted(
            [f"{t}.{fmt}" for t in counts] + ["export.json"])
        for table, n in counts.items():
            assert len(_rows(out / f"{table}.{fmt}", fmt)) == n, (fmt, table)
        events = _rows(out / f"events.{fmt}", fmt)
        # lists and args are JSON in a CSV cell, native in JSON lines
        args = lambda r: json.loads(r["args"]) if fmt == "csv" else r["args"]  # noqa: E731
        (exe,) = [r for r in events if r["type"] == "procexec" and r["host"] == "web1"]
        assert args(exe)["argv"] == ["cat", "x y"] and args(exe)["envp"] is None
        (wr,) = [r for r in events if r["type"] == "write"]
        assert wr["data"] == "\\x00\\xFFhi"
        assert {r["path"] for r in events if r["type"] == "openat"} >= {'/root/a,"b"'}
        assert events[0]["ts"] == "1970-01-01T00:00:00.000001000Z"
        got = {(r["host"], int(r["seq"]), int(r["ts_ns"])) for r in events}
        want = set(con.execute("SELECT host, seq, ts_ns FROM events").fetchall())
        assert got == want
        processes = _rows(out / f"processes.{fmt}", fmt)
        argv = [p["argv"] for p in processes if p["pid"] in ("200", 200)][0]
        assert (json.loads(argv) if fmt == "csv" else argv) == ["cat", "x y"]


def _rows(path, fmt):
    if fmt == "csv":
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_timesketch_timeline(captures, tmp_path):
    tmp, a, b, db = captures
    out = tmp_path / "ts"
    export(a, b, "--out", out, "--format", "timesketch")
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "timeline.jsonl"]
    lines = [json.loads(x) for x in (out / "timeline.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * len(workload()) + len(EXTRA)
    for line in lines:
        assert {"message", "datetime", "timestamp_desc", "timestamp", "host"} <= set(line)
        when = dt.datetime.fromisoformat(line["datetime"])
        assert when.utcoffset() == dt.timedelta(0)
        micros = (when - EPOCH) // dt.timedelta(microseconds=1)
        assert micros == line["timestamp"] == line["ts_ns"] // 1000
        assert None not in line.values() and not any(isinstance(v, dict) for v in line.values())
    assert [x["ts_ns"] for x in lines] == sorted(x["ts_ns"] for x in lines)
    messages = {x["message"] for x in lines if x["host"] == "web1"}
    assert messages >= {
        "cat (200) procexec /usr/bin/cat argv=cat x y",
        "cat (200) openat /root/x y res=3",
        "cat (200) openat /root/nope res=-2 ENOENT",
        "cat (200) procexit status=5",
        "sh (100) connect fd=4 127.0.0.1:40000 -> 127.0.0.1:80 res=0",
        "sh (100) rename /root/a -> /root/b res=0",
        "sh (100) procfork child=200",
    }
    (exe,) = [x for x in lines if x["type"] == "procexec" and x["host"] == "web2"]
    assert exe["arg_argv"] == ["cat", "x y"] and exe["arg_exe"] == exe["exe"] == "/usr/bin/cat"


def test_manifest_says_what_was_written(captures, tmp_path):
    tmp, a, b, db = captures
    out = tmp_path / "m"
    export(a, b, "--out", out, "--format", "jsonl", "-t", "events,captures")
    m = json.loads((out / "export.json").read_text())
    assert (m["format"], sorted(m["tables"]), sorted(m["outputs"])) == (
        "jsonl", ["captures", "events"], ["captures.jsonl", "events.jsonl", "export.json"])
    assert m["tables"]["events"]["rows"] == 2 * len(workload()) + len(EXTRA)
    assert "path" in m["tables"]["events"]["columns"]
    assert [(c["capture"], c["host"], c["path"]) for c in m["captures"]] == [
        (1, "web1", str(a)), (2, "web2", str(b))]
    # what the load found wrong with each file goes with it
    assert [(c["complete"], c["warnings"]) for c in m["captures"]] == [(True, [])] * 2


def test_the_manifest_keeps_a_damaged_captures_warnings(tmp_path):
    from tests.unit.test_format import chunked, write as write_chunks
    path = tmp_path / "cut.scapula"
    w = write_chunks(path, chunked())
    os.truncate(path, w.chunks[3][0] + 40)   # inside the last chunk
    out = tmp_path / "o"
    export(path, "--out", out, "--format", "csv", "-t", "captures")
    [c] = json.loads((out / "export.json").read_text())["captures"]
    assert c["complete"] is False and len(c["warnings"]) == 1
    assert "truncated at offset" in c["warnings"][0]


def test_overwrite_replaces_an_earlier_export_only(captures, tmp_path):
    tmp, a, b, db = captures
    out = tmp_path / "ow"
    export(a, "--out", out)
    (out / "notes.txt").write_text("mine")
    r = scapula("export", a, "--out", out, "--format", "csv")
    assert r.returncode == 2 and "not empty" in r.stderr
    export(a, "--out", out, "--format", "csv", "--table", "events", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "export.json", "notes.txt"]


def test_odd_directory_names_and_private_files(captures, tmp_path):
    """A quote and a space in DIR reach DuckDB's COPY intact; what is written is the
    owner's alone, as capture files are."""
    tmp, a, b, db = captures
    out = tmp_path / "it's a case" / "out"
    export(a, "--out", out, "--table", "events,captures")
    written = [out, *out.rglob("*")]
    assert {p.name for p in out.iterdir()} == {"events", "captures", "export.json"}
    for p in written:
        assert p.stat().st_mode & 0o077 == 0, p


def test_export_with_rules_writes_the_alerts(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: Cat opens\n  desc: d\n  condition: evt.type = openat and "
                     "proc.name = cat\n  output: \"%fd.name\"\n  priority: WARNING\n")
    out = tmp_path / "o"
    export(a, "--out", out, "--format", "jsonl", "-t", "alerts,alert_runs", "-r", rules)
    got = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    assert [(x["rule"], x["output"]) for x in got] == [("Cat opens", "/root/x y"),
                                                      ("Cat opens", "<NA>")]
    [run] = [json.loads(line) for line in (out / "alert_runs.jsonl").read_text().splitlines()]
    assert (run["rules"], run["alerts"]) == ([str(rules)], 2)
