"""`scapula export` on two real recordings made on two "hosts" (the recorder run in its own
UTS namespace with its own host name): Parquet read back with DuckDB's hive partitioning
holds the same rows and values as `scapula query`, hosts kept apart; CSV and JSON lines
hold every row; the Timesketch timeline's lines say what happened."""
import csv
import datetime as dt
import json
import re
import shlex
import subprocess

import duckdb
import pytest

from tests.conftest import SCAPULA, require_live, scapula, skip_or_fail

HOSTS = ("scapula-a", "scapula-b")
TABLES = ("events", "processes", "captures", "drops", "snapshot_fds")


def record_as(host: str, cap, script: str) -> None:
    """Record `script` with the recorder's host name set to `host`."""
    cmd = (f"hostname {host} && exec {SCAPULA} record -w {shlex.quote(str(cap))} --follow "
           f"-- /bin/sh -c {shlex.quote(script)}")
    try:
        r = subprocess.run(["unshare", "--uts", "/bin/sh", "-c", cmd], capture_output=True,
                           text=True, timeout=120)
    except FileNotFoundError:
        skip_or_fail("unshare (util-linux) is not installed")
    if "unshare failed" in r.stderr:
        skip_or_fail(f"cannot make a UTS namespace: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    require_live()
    tmp = tmp_path_factory.mktemp("export")
    caps = []
    for host in HOSTS:
        cap = tmp / f"{host}.scapula"
        script = (f"cd {tmp}; echo {host} > {host}.txt; cat {host}.txt > /dev/null; "
                  f"mv {host}.txt {host}.old; rm {host}.old; /bin/sh -c 'exit 4'")
        record_as(host, cap, script)
        caps.append(cap)
    db = tmp / "case.duckdb"
    exports = {}
    for fmt in ("parquet", "csv", "jsonl", "timesketch"):
        exports[fmt] = tmp / fmt
        r = scapula("export", "--db", db, *caps, "--format", fmt, "--out", exports[fmt])
        assert r.returncode == 0, r.stderr
    return tmp, caps, db, exports


def query(db, sql):
    r = scapula("query", "--db", db, sql, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_hosts_stay_apart(case):
    tmp, caps, db, exports = case
    rows = query(db, "SELECT c.capture, c.host, c.path, count(e.seq) AS n FROM captures c "
                     "JOIN events e USING (capture) GROUP BY ALL ORDER BY c.capture")
    assert [(r["capture"], r["host"], r["path"]) for r in rows] == [
        (1, HOSTS[0], str(caps[0])), (2, HOSTS[1], str(caps[1]))]
    assert all(r["n"] > 0 for r in rows)
    # each host's own files, recorded by its own recorder
    for host in HOSTS:
        got = query(db, f"SELECT DISTINCT host FROM file_activity WHERE path LIKE '%/{host}.txt'")
        assert got == [{"host": host}]


def test_parquet_round_trips_rows_and_values(case):
    tmp, caps, db, exports = case
    out = exports["parquet"]
    glob = f"read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)"
    days = query(db, "SELECT DISTINCT host, CAST(ts AS DATE)::VARCHAR AS d FROM events")
    parts = {p.parent.relative_to(out / "events").as_posix()
             for p in (out / "events").rglob("*.parquet")}
    assert parts == {f"host={r['host']}/date={r['d']}" for r in days}
    assert {r["host"] for r in days} == set(HOSTS)
    con = duckdb.connect()
    per_host = dict(con.execute(f"SELECT host, count(*) FROM {glob} GROUP BY host").fetchall())
    want = {r["host"]: r["n"] for r in query(db, "SELECT host, count(*) AS n FROM events "
                                                 "GROUP BY host")}
    assert per_host == want and set(want) == set(HOSTS)
    # the values `scapula query` shows are the values in the files
    cols = "host, capture, seq, ts_ns, pid, tid, comm, exe, type, result, errno, path, path2"
    ours = query(db, f"SELECT {cols} FROM events ORDER BY capture, seq")
    theirs = con.execute(f"SELECT {cols} FROM {glob} ORDER BY capture, seq").fetchall()
    assert [tuple(r.values()) for r in ours] == theirs
    con.close()
    # and every column of every table, args included (ts to the microsecond)
    con = duckdb.connect(str(db), read_only=True)
    for table in TABLES:
        src = f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning=true)"
        names = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND data_type NOT LIKE 'TIMESTAMP%' ORDER BY column_index", [table]).fetchall()]
        cols = ", ".join(f'"{n}"' for n in names)
        for x, y in ((f"FROM {table}", f"FROM {src}"), (f"FROM {src}", f"FROM {table}")):
            diff = con.execute(f"SELECT count(*) FROM (SELECT {cols} {x} "
                               f"EXCEPT ALL SELECT {cols} {y})").fetchone()[0]
            assert diff == 0, table
    assert con.execute(f"SELECT count(*) FROM events e JOIN {glob} p USING (capture, seq) "
                       "WHERE e.ts_ns // 1000 <> epoch_us(p.ts)").fetchone() == (0,)
    con.close()


def test_csv_and_jsonl_hold_every_row(case):
    tmp, caps, db, exports = case
    counts = {t: query(db, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}
    paths = {r["path"] for r in query(db, "SELECT DISTINCT path FROM events "
                                          "WHERE path IS NOT NULL")}
    for fmt in ("csv", "jsonl"):
        for table, n in counts.items():
            path = exports[fmt] / f"{table}.{fmt}"
            if fmt == "csv":
                with open(path, newline="", errors="surrogateescape") as f:
                    rows = list(csv.DictReader(f))
            else:
                rows = [json.loads(x) for x in path.read_text().splitlines()]
            assert len(rows) == n, (fmt, table)
            if table == "events":
                assert {r["path"] for r in rows if r["path"]} == paths
                assert {r["host"] for r in rows} == set(HOSTS)


def test_timesketch_lines(case):
    tmp, caps, db, exports = case
    lines = [json.loads(x) for x in
             (exports["timesketch"] / "timeline.jsonl").read_text().splitlines()]
    assert len(lines) == query(db, "SELECT count(*) AS n FROM events")[0]["n"]
    for line in lines:
        assert {"message", "datetime", "timestamp_desc", "timestamp"} <= set(line)
        when = dt.datetime.fromisoformat(line["datetime"])
        assert when.utcoffset() == dt.timedelta(0) and when.year >= 2024
    for host in HOSTS:
        mine = [x["message"] for x in lines if x["host"] == host]
        (cat,) = [x["pid"] for x in lines if x["host"] == host and x["type"] == "procexec"
                  and x.get("arg_argv") == ["cat", f"{host}.txt"]]
        # (res: the fd, 3 unless the shell left more open)
        assert any(re.fullmatch(rf"cat \({cat}\) openat {re.escape(str(tmp))}/{host}\.txt "
                                r"res=\d+", m) for m in mine)
        assert any(m.startswith("mv (") and
                   f" {tmp}/{host}.txt -> {tmp}/{host}.old res=0" in m for m in mine)
        assert any(m.startswith("sh (") and m.endswith("procexit status=4") for m in mine)
