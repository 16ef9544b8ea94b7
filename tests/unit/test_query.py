"""scapula.query without a kernel: synthetic captures (written by the real writer) loaded
into DuckDB, the process table, views, several hosts, damage, and the CLI's errors."""
import json
import os

import pytest

from scapula.capture.decoder import row_columns
from scapula.capture.writer import CaptureWriter, open_output
from scapula.errors import InputError
from scapula.query import event_sink, loader
from scapula.query.event_sink import EventSink
from scapula.query import schema as qs
from scapula.schemas import events as schema
from scapula.schemas import sockaddr
from tests.conftest import scapula
from tests.unit.test_format import chunked, expected, row

SNAPSHOT = [
    {"pid": 1, "ppid": 0, "comm": b"init", "exe": b"/sbin/init", "args": [b"/sbin/init"],
     "cwd": b"/", "uid": 0, "start_ns": 10},
    {"pid": 100, "ppid": 1, "comm": b"sh", "exe": b"/bin/sh", "args": [b"sh"],
     "cwd": b"/root", "uid": 0, "start_ns": 20},
]


def ev(etype, ts, pid, tid=None, res=0, **params):
    """One kernel row of `etype`; parameters not given are 0 or None."""
    evt = schema.BY_NAME[etype]
    header = {"ts": ts, "cgroup": 0, "res": res, "tid": tid or pid, "pid": pid,
              "ppid": params.pop("ppid", 1),
              "uid": 0, "gid": 0, "type": evt.id, "cpu": 0, "comm": params.pop("comm", b"sh")}
    values = {p.name: params.get(p.name, 0 if p.scalar else None) for p in evt.params}
    out = [header[n] for n in schema.HEADER_FIELDS]
    for n in row_columns(evt)[len(out):]:
        v = values[n]
        out.append(b"\0".join(v) + b"\0" if isinstance(v, list) else v)
    return tuple(out)


def workload():
    """sh (100) forks 200, which execs cat, opens a file and exits 5; sh connects out."""
    inet = b"\x02\x00\x00\x50\x7f\x00\x00\x01" + bytes(8)  # 127.0.0.1:80
    return [
        ev("procfork", 1000, 100, child_pid=200, child_tid=200, exe=b"/bin/sh", cwd=b"/root"),
        ev("procexec", 1100, 200, comm=b"cat", filename=b"cat", argv=[b"cat", b"x y"],
           exe=b"/usr/bin/cat", cwd=b"/root"),
        ev("openat", 1200, 200, res=3, comm=b"cat", dirfd=-100, name=b"x y", flags=0,
           name_abs=b"/root/x y"),
        ev("openat", 1250, 200, res=-2, comm=b"cat", dirfd=-100, name=b"nope", flags=0o1101,
           name_abs=b"/root/nope"),
        ev("procexit", 1300, 200, comm=b"cat", exit_code=5 << 8, status=5),
        ev("connect", 1400, 100, fd=4, addr=inet, local=b"\x02\x00\x9c\x40\x7f\x00\x00\x01"),
    ]


def write(path, rows, host="h1", drops=(0, 0)):
    """A capture of `rows` on `host`; `drops`: what each CPU lost (said on every load)."""
    w = CaptureWriter(open_output(str(path)), str(path))
    w.header({"host": host, "config": {}}, SNAPSHOT, [[100, 0, b"/dev/pts/0"]])
    w.chunk(rows)
    w.close({"drops": list(drops), "sent": [5, 6]})
    return path


@pytest.fixture
def con(tmp_path):
    c = loader.connect()
    loader.load(c, [write(tmp_path / "a.scapula", workload(), drops=(0, 2))])
    yield c
    c.close()


def rows(con, sql, params=None):
    return con.execute(sql, params).fetchall()


def test_processes_from_snapshot_and_events(con):
    got = rows(con, "SELECT pid, ppid, exe, argv, cmdline, cwd, exit_code, origin, execs, "
                    "start_ns, end_ns FROM processes ORDER BY pid")
    assert got == [
        (1, 0, "/sbin/init", ["/sbin/init"], "/sbin/init", "/", None, "snapshot", 0, 10, None),
        (100, 1, "/bin/sh", ["sh"], "sh", "/root", None, "snapshot", 0, 20, None),
        (200, 100, "/usr/bin/cat", ["cat", "x y"], "cat x y", "/root", 5, "fork", 1, 1000, 1300),
    ]


def test_events_get_their_image(con):
    # the fork's child ran sh's image until its exec, then cat
    got = rows(con, "SELECT type, pid, exe, comm, errno FROM events ORDER BY seq")
    assert got == [("procfork", 100, "/bin/sh", "sh", None),
                   ("procexec", 200, "/usr/bin/cat", "cat", None),
                   ("openat", 200, "/usr/bin/cat", "cat", None),
                   ("openat", 200, "/usr/bin/cat", "cat", "ENOENT"),
                   ("procexit", 200, "/usr/bin/cat", "cat", None),
                   ("connect", 100, "/bin/sh", "sh", None)]


def test_ancestors_and_tree(con):
    got = rows(con, "SELECT level, pid FROM process_ancestors(200)")
    assert got == [(0, 200), (1, 100), (2, 1)]
    assert rows(con, "SELECT depth, pid FROM process_tree") == [(0, 1), (1, 100), (2, 200)]
    assert rows(con, "SELECT level, pid FROM process_descendants(100)") == [(0, 100), (1, 200)]


def test_file_and_network_views(con):
    assert rows(con, "SELECT pid, action, path, path_raw, fd, errno FROM file_activity") == [
        (200, "read", "/root/x y", "x y", 3, None),
        (200, "write", "/root/nope", "nope", None, "ENOENT")]
    assert rows(con, "SELECT direction, family, local_addr, local_port, remote_addr, "
                     "remote_port FROM connections") == [
        ("out", "AF_INET", "127.0.0.1", 40000, "127.0.0.1", 80)]
    assert rows(con, "SELECT pid, exe, cmdline FROM exec_timeline") == \
        [(200, "/usr/bin/cat", "cat x y")]


def test_privilege_changes_view(tmp_path):
    # whom ptrace and capset aimed at (their `target` parameter), the ids asked for
    c = loader.connect()
    loader.load(c, [write(tmp_path / "p.scapula", [
        ev("ptrace", 1000, 100, res=0, request=16, target=4242, addr=0, data=0),
        ev("setresuid", 1100, 100, res=0, ruid=0, euid=0, suid=1000),
        ev("capset", 1200, 100, res=-1, target=0, effective=1 << 39, permitted=1 << 21,
           inheritable=0),
        ev("setresgid", 1300, 100, res=0, rgid=5, egid=6, sgid=7)])])
    assert rows(c, "SELECT type, ptrace_request, target_pid, new_uid, new_euid, new_suid, "
                   "cap_effective, errno FROM privilege_changes") == [
        ("ptrace", 16, 4242, None, None, None, None, None),
        ("setresuid", None, None, 0, 0, 1000, None, None),
        ("capset", None, 0, None, None, None, 1 << 39, "EPERM"),   # CAP_BPF: above 31
        ("setresgid", None, None, None, None, None, None, None)]
    assert rows(c, "SELECT new_gid, new_egid, new_sgid FROM privilege_changes "
                   "WHERE type = 'setresgid'") == [(5, 6, 7)]


def test_captures_drops_and_snapshot_fds(con):
    assert rows(con, "SELECT host, events, dropped, complete FROM captures") == \
        [("h1", 6, 2, True)]
    # the first and last event's times to the nanosecond (ev() times are ns)
    assert rows(con, "SELECT epoch_ns(first), epoch_ns(last) FROM captures") == \
        rows(con, "SELECT epoch_ns(min(ts)), epoch_ns(max(ts)) FROM events") == [(1000, 1400)]
    assert rows(con, "SELECT cpu, dropped, sent FROM drops ORDER BY cpu") == [(0, 0, 5), (1, 2, 6)]
    assert rows(con, "SELECT pid, fd, target FROM snapshot_fds") == [(100, 0, "/dev/pts/0")]


def args_value(p, value, typed: bool = False):
    """What `qs.arg` should give back for a parameter written as `value`; `typed`: what
    a typed.<type> view gives, in the type's own kind (ptrace's `target` a number, though
    the name is text in the JSON's casts, being kill's pid too)."""
    if p.kind == "sockaddr":
        return sockaddr.text(value)
    if p.kind == "argv":
        return [v.decode("utf-8", "backslashreplace") for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value) if qs.ARG_TYPES[p.name] == "VARCHAR" and not typed else value


def test_every_event_type_loads_with_every_parameter(tmp_path):
    path = tmp_path / "all.scapula"
    evts = [e for e in schema.EVENTS]
    values = {e.name: expected(e, 100 + i) for i, e in enumerate(evts)}
    write(path, [row(e, values[e.name]) for e in evts])
    c = loader.connect()
    loader.load(c, [path])
    got = dict(rows(c, "SELECT type, count(*) FROM events GROUP BY type"))
    assert got == {e.name: 1 for e in evts}
    # the loader's JSON goes in unchecked (Arrow's JSON type): it must be valid
    assert rows(c, "SELECT count(*) FROM events WHERE json_valid(args::VARCHAR)") == \
        [(len(evts),)]
    checked = 0
    for e in evts:   # each parameter left to args comes back, cast to its type, unchanged
        params = qs.args_params(e)
        if not params:
            assert rows(c, f"SELECT args FROM events WHERE type = '{e.name}'") == [("{}",)]
            continue
        sql = ", ".join(qs.arg(p.name) for p in params)
        back = rows(c, f"SELECT {sql} FROM events WHERE type = '{e.name}'")[0]
        want = tuple(args_value(p, values[e.name][1][p.name]) for p in params)
        assert back == want, e.name
        checked += len(params)
    assert checked > 100   # most parameters are left to args
    (data,) = rows(c, "SELECT data FROM events WHERE type = 'read'")[0]
    assert data == b"/d\xff/read.data"


def test_args_text_that_json_must_escape(tmp_path):
    odd = b'a"b\\c\nd\te\x01f\x1f\xc3\xa9\xff'
    path = write(tmp_path / "odd.scapula", [
        ev("execve", 1000, 100, filename=b"/bin/x", argv=[odd, b"", b'"'], envp=b""),
        ev("execve", 1010, 101, filename=b"/bin/y", argv=b"a\0b", envp=b"\0"),
        ev("memfd_create", 1050, 100, name=odd),
        ev("kill", 1100, 100, target=-1, sig=9)])
    c = loader.connect()
    loader.load(c, [path])
    text = odd.decode("utf-8", "backslashreplace")
    assert rows(c, f"SELECT {qs.arg('argv')}, {qs.arg('envp')} FROM events "
                   "WHERE type = 'execve' ORDER BY seq") == [
        ([text, "", '"'], []),
        (["a", "b"], [""])]   # a block cut short (no last NUL) keeps its partial argument
    assert rows(c, f"SELECT {qs.arg('name')} FROM events WHERE type = 'memfd_create'") == \
        [(text,)]
    assert rows(c, "SELECT json_valid(args), CAST(args->>'sig' AS BIGINT) FROM events "
                   "WHERE type = 'kill'") == [(True, 9)]


def test_several_hosts_stay_apart(tmp_path):
    a = write(tmp_path / "a.scapula", workload(), host="alpha")
    b = write(tmp_path / "b.scapula", workload()[:2], host="beta")
    c = loader.connect()
    assert loader.load(c, [a, b]) == [1, 2]
    assert rows(c, "SELECT host, count(*) FROM events GROUP BY host ORDER BY host") == \
        [("alpha", 6), ("beta", 2)]
    # the same pids on two hosts: two lifetimes, each under its own parent
    assert rows(c, "SELECT host, level, pid FROM process_ancestors(200) "
                   "ORDER BY host, level") == [
        ("alpha", 0, 200), ("alpha", 1, 100), ("alpha", 2, 1),
        ("beta", 0, 200), ("beta", 1, 100), ("beta", 2, 1)]
    assert len(set(r[0] for r in rows(c, "SELECT proc_id FROM processes"))) == 6


def test_a_database_file_loads_each_capture_once(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    db = str(tmp_path / "q.duckdb")
    for _ in range(2):
        c = loader.connect(db)
        loader.load(c, [a])
        assert rows(c, "SELECT count(*) FROM events") == [(6,)]
        c.close()
    os.utime(a, ns=(1, 1))  # changed since: loaded again, replacing its rows
    c = loader.connect(db)
    loader.load(c, [a])
    assert rows(c, "SELECT count(*), count(DISTINCT capture) FROM events") == [(6, 1)]


def test_damaged_capture_loads_up_to_the_damage(tmp_path):
    from tests.unit.test_format import write as write_chunks
    path = tmp_path / "cut.scapula"
    w = write_chunks(path, chunked())
    os.truncate(path, w.chunks[3][0] + 40)
    warnings = []
    c = loader.connect()
    loader.load(c, [path], warnings.append)
    assert rows(c, "SELECT count(*) FROM events") == [(75,)]
    assert len(warnings) == 1 and "truncated" in warnings[0]
    assert rows(c, "SELECT complete FROM captures") == [(False,)]


def test_a_time_out_of_range_is_one_line_naming_the_file(tmp_path):
    # 2^63 ns and on (the year 2262) does not fit TIMESTAMP_NS: refused, not wrapped
    rows_ = workload()
    bad = list(rows_[2])
    bad[schema.HEADER_FIELDS.index("ts")] = 2**63 + 5
    path = write(tmp_path / "bad.scapula", rows_[:2] + [tuple(bad)] + rows_[3:])
    r = scapula("query", path, "SELECT count(*) FROM events")
    assert r.returncode == 3, r.stderr
    assert r.stderr == (f"scapula: {path}: events 0 to 5: a time out of range "
                        "(after the year 2262)\n")


def test_schema_columns_are_documented_and_args_cover_every_parameter():
    for _table, (_desc, cols) in qs.TABLES.items():
        assert all(c.desc for c in cols)
    for e in schema.EVENTS:
        fam = set(qs.family_params(e).values())
        left = {p.name for p in qs.args_params(e)}
        for p in e.params:
            assert (p.name in fam) != (p.name in left), (e.name, p.name)
            assert p.name in fam or p.name in qs.ARG_TYPES, (e.name, p.name)


# --- the command ------------------------------------------------------------------------

def test_query_command_formats(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT pid, exit_code FROM processes WHERE pid = $p", "-p", "p=200",
                "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"pid": 200, "exit_code": 5}]
    r = scapula("query", a, "SELECT pid, ts FROM events ORDER BY seq LIMIT 1", "--csv")
    assert r.stdout.splitlines() == ["pid,ts", "100,1970-01-01 00:00:00.000001000"]
    # JSON's times are ISO 8601, the zone's offset with its colon
    r = scapula("query", a, "SELECT ts, ts::TIMESTAMPTZ AS z FROM events ORDER BY seq "
                "LIMIT 1", "--nl")
    assert json.loads(r.stdout) == {"ts": "1970-01-01T00:00:00.000001000",
                                    "z": "1970-01-01T00:00:00.000001+00:00"}
    r = scapula("query", a, "--view", "process_ancestors", "--pid", 200, "--nl")
    assert [json.loads(x)["pid"] for x in r.stdout.splitlines()] == [200, 100, 1]
    r = scapula("query", a, "SELECT 1 AS one, 'x' AS two")
    assert r.stdout.splitlines() == ["one  two", "---  ---", "1    x"]
    # intervals as DuckDB writes them (a Python MonthDayNano otherwise)
    r = scapula("query", a, "SELECT interval '1 month 2 days 3 hours' + interval 7 "
                "microseconds AS i, interval 1500 milliseconds AS j, interval '-14 months' "
                "AS k", "--nl")
    assert json.loads(r.stdout) == {"i": "1 month 2 days 03:00:00.000007",
                                    "j": "00:00:01.5", "k": "-1 year -2 months"}
    # bytes as hex in every format, as the table shows them
    r = scapula("query", a, "SELECT 'a\\x01b'::BLOB AS d, ['\\xff'::BLOB] AS l", "--nl")
    assert json.loads(r.stdout) == {"d": "610162", "l": ["ff"]}


def test_sql_error_is_one_message_and_exit_2(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT * FROM nothing_here")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "Table with name nothing_here does not exist! Did you mean" in r.stderr
    assert "Traceback" not in r.stderr
    # no statement, or rows that would go unseen
    r = scapula("query", a, "  -- nothing")
    assert r.returncode == 2 and r.stderr == \
        "scapula: no SQL statement to run (the SQL is empty)\n"
    r = scapula("query", a, "SELECT 1; SELECT 2")
    assert r.returncode == 2 and r.stderr.startswith(
        "scapula: several statements give rows (SELECT 1; is not the last)")
    r = scapula("query", a, "SET threads = 1; CREATE VIEW v AS SELECT 7 AS n; "
                "SELECT n FROM v", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"n": 7}]
    # DuckDB's caret under the place becomes (line, column)
    r = scapula("query", a, "SELECT 1,\n  2 +")
    assert r.returncode == 2 and r.stderr == (
        'scapula: Parser Error: syntax error at or near "+" (line 2, column 5)\n'), r.stderr
    r = scapula("query", a, "--view", "process_ancestors")
    assert r.returncode == 2 and "needs --pid" in r.stderr
    r = scapula("query", a, "--view", "process_ancestors", "--pid", 200, "-p", "pid=100")
    assert r.returncode == 2 and "--pid and -p pid=... both name the process" in r.stderr
    r = scapula("query", tmp_path / "missing.scapula", "SELECT 1")
    assert r.returncode == 3 and "Traceback" not in r.stderr
    r = scapula("query", a)   # the SQL forgotten
    assert r.returncode == 2 and r.stderr == (f"scapula: {a}: no SQL after the capture "
                                              "files (the last argument is the SQL)\n")
    r = scapula("query")
    assert r.returncode == 2 and "no SQL: give capture files" in r.stderr


def test_a_view_over_a_database_alone(tmp_path):
    # --db keeps the captures: a view then needs no file named
    a = write(tmp_path / "a.scapula", workload())
    db = str(tmp_path / "case.duckdb")
    assert scapula("query", "--db", db, a, "SELECT 1").returncode == 0
    assert os.stat(db).st_mode & 0o777 == 0o600   # what the captures hold, kept as they are
    r = scapula("query", "--db", db, "--view", "exec_timeline", "--json")
    assert r.returncode == 0, r.stderr
    assert [x["cmdline"] for x in json.loads(r.stdout)] == ["cat x y"]
    r = scapula("query", "--view", "exec_timeline")
    assert r.returncode == 2 and "no capture files (and no --db)" in r.stderr


# --- loading: gathered batches, packed comm, settings ------------------------------------

@pytest.mark.parametrize("hold", [4096, 3])   # rare types held to the end; or a few rows
def test_rows_gathered_over_chunks_load_as_the_reader_reads_them(tmp_path, monkeypatch, hold):
    """Types gathered over several chunks (small flushes here, so some flush mid-file)
    keep each event's seq, time, header and comm as the reader's events() gives them;
    a comm with bytes that are not UTF-8, and bytes after its NUL, included. Types held
    over windows (query/images.py) come out the same, with the same images."""
    from scapula.query import images
    monkeypatch.setattr(images, "HOLD_ROWS", 0)   # the reference: nothing held
    from tests.unit.test_format import write as write_chunks
    from scapula.replay.reader import Capture
    chunks = chunked(n_chunks=6, per_chunk=40)
    odd = list(chunks[2][5])
    odd[schema.HEADER_FIELDS.index("comm")] = b"b\xffd\0junk\0\0\0\0\0\0\0"
    chunks[2][5] = tuple(odd)
    path = tmp_path / "many.scapula"
    write_chunks(path, chunks)
    whole = loader.connect()
    loader.load(whole, [path])
    monkeypatch.setattr(loader, "WINDOW_ROWS", 50)
    monkeypatch.setattr(images, "HOLD_ROWS", hold)
    c = loader.connect()
    loader.load(c, [path])
    got = rows(c, "SELECT seq, ts_ns, type, pid, tid, comm, result FROM events ORDER BY seq")
    for sql in ("SELECT seq, proc_id, exe FROM events ORDER BY seq",   # windows do not
                "SELECT * FROM processes ORDER BY proc_id"):          # change the images
        assert rows(c, sql) == rows(whole, sql)
    with Capture(str(path)) as cap:
        want = [(i, e.ts, e.etype.name, e.pid, e.tid,
                 e.comm.decode("utf-8", "backslashreplace"), e.res)
                for i, e in enumerate(cap.events())]
    assert got == want and len(got) == 240
    assert ("b\\xffd",) in rows(c, "SELECT DISTINCT comm FROM events")


def test_raw_chunks_keep_the_packed_bytes_and_check_them(tmp_path):
    from tests.unit.test_format import write as write_chunks
    from scapula.replay.event import Packed
    from scapula.replay.reader import Capture
    path = tmp_path / "c.scapula"
    write_chunks(path, chunked(n_chunks=1, per_chunk=5))
    with Capture(str(path)) as cap:
        (groups, _order), = list(cap.chunks(raw=True))
        (plain, _order), = list(cap.chunks())
    packed = 0
    for tid, g in groups.items():
        comm = g.cols["comm"]
        assert isinstance(comm, Packed) and len(comm.data) == 16 * g.n == 16 * len(comm)
        for cols, want in ((g.cols, plain[tid].cols), (g.params, plain[tid].params)):
            for name, col in cols.items():
                got = col.decoded() if isinstance(col, Packed) else col
                assert list(got) == list(want[name]), (tid, name)
                packed += isinstance(col, Packed)
    assert packed > 10
    with pytest.raises(ValueError, match="u64 column of 12 bytes"):
        Packed("u64", bytes(12))


def test_loading_leaves_the_thread_setting_as_it_was(tmp_path):
    c = loader.connect()
    c.execute("SET threads = 2")
    loader.load(c, [write(tmp_path / "a.scapula", workload())])
    assert rows(c, "SELECT current_setting('threads')") == [(2,)]


def test_a_load_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("stop")
    c = loader.connect()
    monkeypatch.setattr(loader, "_small_tables", broken)
    with pytest.raises(RuntimeError):
        loader.load(c, [write(tmp_path / "a.scapula", workload())])
    for table in qs.TABLES:
        assert rows(c, f"SELECT count(*) FROM {table}") == [(0,)], table
    monkeypatch.undo()
    assert loader.load(c, [tmp_path / "a.scapula"]) == [1]
    assert rows(c, "SELECT count(*) FROM events") == [(6,)]


def reuse_workload():
    """Chunks (each sorted by time) of a history that tests each event's image: pid 150
    (in the snapshot, started at 500) has rows from before; sh (100) forks 300, which
    execs /bin/a and exits; 400 shows up without a fork (child of that 300); 401's
    first row comes before its fork row (the clocks of two CPUs); 300 is forked anew."""
    return [
        [ev("openat", 100, 150, comm=b"old"),              # before any image of 150
         ev("openat", 600, 150, comm=b"snap"),
         ev("procfork", 1000, 100, child_pid=300, child_tid=300, exe=b"/bin/sh"),
         ev("openat", 1050, 300),                          # fork and first row, one window
         ev("procexec", 1100, 300, comm=b"a", exe=b"/bin/a", filename=b"/bin/a",
            argv=[b"a"]),
         ev("openat", 1150, 300, comm=b"a"),               # after the exec, same window
         ev("procexit", 1200, 300, comm=b"a")],
        [ev("openat", 2000, 400, ppid=300, comm=b"lost"),  # never forked: first seen
         ev("openat", 2100, 401, comm=b"early"),           # before its fork row
         ev("procfork", 2150, 100, child_pid=401, child_tid=401, exe=b"/bin/sh"),
         ev("openat", 2200, 401)],
        [ev("procfork", 3000, 100, child_pid=300, child_tid=300, exe=b"/bin/sh"),
         ev("openat", 3100, 300),                          # the pid reused after exit
         ev("openat", 3200, 400, ppid=300, comm=b"lost")],
    ]


@pytest.mark.parametrize("window", [1 << 18, 1])   # one window; a window per chunk
def test_each_event_gets_the_image_its_pid_ran_then(tmp_path, monkeypatch, window):
    monkeypatch.setattr(loader, "WINDOW_ROWS", window)
    path = tmp_path / "r.scapula"
    w = CaptureWriter(open_output(str(path)), str(path))
    w.header({"host": "h", "config": {}}, SNAPSHOT + [
        {"pid": 150, "ppid": 1, "comm": b"snap", "exe": b"/bin/snap", "start_ns": 500}], [])
    for chunk in reuse_workload():
        w.chunk(chunk)
    w.close({})
    c = loader.connect()
    loader.load(c, [path])
    # an fd opened by an event without a lifetime (seq 0) has none either
    assert rows(c, "SELECT pid, proc_id FROM fds WHERE opened_seq = 0") == [(150, None)]
    life = ("(SELECT pid || ' ' || origin || ' ' || start_ns FROM processes l "
            "WHERE l.proc_id = {})")
    got = rows(c, f"SELECT seq, type, pid, {life.format('e.proc_id')}, exe FROM events e "
                  "ORDER BY seq")
    assert got == [
        (0, "openat", 150, None, None),
        (1, "openat", 150, "150 snapshot 500", "/bin/snap"),
        (2, "procfork", 100, "100 snapshot 20", "/bin/sh"),
        (3, "openat", 300, "300 fork 1000", "/bin/sh"),
        (4, "procexec", 300, "300 fork 1000", "/bin/a"),
        (5, "openat", 300, "300 fork 1000", "/bin/a"),
        (6, "procexit", 300, "300 fork 1000", "/bin/a"),
        (7, "openat", 400, "400 seen 2000", None),
        (8, "openat", 401, "401 seen 2100", None),
        (9, "procfork", 100, "100 snapshot 20", "/bin/sh"),
        (10, "openat", 401, "401 fork 2150", "/bin/sh"),
        (11, "procfork", 100, "100 snapshot 20", "/bin/sh"),
        (12, "openat", 300, "300 fork 3000", "/bin/sh"),
        (13, "openat", 400, "400 seen 2000", None),
    ]
    got = rows(c, f"SELECT pid, origin, start_ns, end_ns, exe, comm, "
                  f"{life.format('p.parent_id')} FROM processes p ORDER BY start_ns, pid")
    assert got == [
        (1, "snapshot", 10, None, "/sbin/init", "init", None),
        (100, "snapshot", 20, None, "/bin/sh", "sh", "1 snapshot 10"),
        (150, "snapshot", 500, None, "/bin/snap", "snap", "1 snapshot 10"),
        (300, "fork", 1000, 1200, "/bin/a", "a", "100 snapshot 20"),
        # its parent is the process that pid 300 was then (the loader before streaming
        # looked for a first-seen process's parent among snapshot and first-seen ones)
        (400, "seen", 2000, None, None, "lost", "300 fork 1000"),
        (401, "seen", 2100, None, None, "early", "1 snapshot 10"),
        (401, "fork", 2150, None, "/bin/sh", "sh", "100 snapshot 20"),
        (300, "fork", 3000, None, "/bin/sh", "sh", "100 snapshot 20"),
    ]


def test_gathered_groups_join_end_to_end_with_nulls_where_a_group_lacks_a_column():
    from array import array
    from types import SimpleNamespace
    from scapula.query.batches import Gathered
    from scapula.replay.event import Packed
    from scapula.schemas.format import pack_array
    etype = schema.BY_NAME["openat"]
    u64 = lambda *v: Packed("u64", pack_array("u64", v))  # noqa: E731
    a = SimpleNamespace(etype=etype, n=2, cols={"ts": u64(1, 2), "cgroup": array("Q", [5, 6]),
                                                "comm": Packed("bytes16", b"a" * 32)},
                        params={"flags": u64(7, 8), "name": [b"x", None]})
    b = SimpleNamespace(etype=etype, n=1, cols={"ts": u64(3), "cgroup": array("Q", [7]),
                                                "comm": [b"c"]},
                        params={"flags": u64(9)})
    g = Gathered([a, b])
    assert g.n == 3 and isinstance(g.cols["ts"], Packed)
    assert list(g.cols["ts"].decoded()) == [1, 2, 3]
    assert list(g.cols["cgroup"]) == [5, 6, 7]
    assert g.cols["comm"] == [b"a" * 16, b"a" * 16, b"c"]
    assert list(g.params["flags"].decoded()) == [7, 8, 9]
    assert g.params["name"] == [b"x", None, None]


def test_comm_column_cuts_at_the_first_nul():
    from scapula.query.batches import comm_column
    packed = [b"sh", b"ab\0junk", b"\xff-x", b"sixteen-bytes-xx"]
    raw = b"".join(c.ljust(16, b"\0") for c in packed)
    assert comm_column(raw, 4).to_pylist() == ["sh", "ab", "\\xff-x", "sixteen-bytes-xx"]
    assert comm_column(raw[:16], 1).to_pylist() == ["sh"]


def test_event_types_name_each_type_and_its_args(con):
    assert rows(con, "SELECT category, syscall, args FROM event_types WHERE type = 'openat'") \
        == [("file", 257, {"dirfd": "BIGINT"})]
    assert rows(con, "SELECT args['euid'] FROM event_types WHERE type = 'setresuid'") \
        == [("BIGINT",)]
    assert rows(con, "SELECT count(*) FROM event_types") == [(len(schema.EVENTS),)]
    # one row per type however many captures: joining it does not multiply events
    assert rows(con, "SELECT count(*) FROM events JOIN event_types USING (type)") == [(6,)]


def test_a_database_from_another_version_is_refused_in_one_line(tmp_path):
    import duckdb
    db = str(tmp_path / "old.duckdb")
    old = duckdb.connect(db)
    old.execute("CREATE TABLE events (capture INTEGER, host VARCHAR, args STRUCT(a INT))")
    old.close()
    r = scapula("query", "--db", db, "SELECT 1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "old.duckdb: its events table lacks seq" in r.stderr
    assert "another scapula version" in r.stderr and "Traceback" not in r.stderr


def test_a_database_that_is_not_one_or_cannot_be_made(tmp_path):
    # a file that is not a DuckDB database: the user named the wrong file (usage, 2)
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n" * 100)
    r = scapula("query", "--db", other, "SELECT 1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "notes.txt: cannot open the database" in r.stderr
    # one that cannot be created where it was asked for: output (5), as --out's
    r = scapula("query", "--db", tmp_path / "no" / "such" / "dir.duckdb", "SELECT 1")
    assert r.returncode == 5 and r.stderr.count("\n") == 1, r.stderr
    assert "dir.duckdb: cannot create the database" in r.stderr
    assert "Traceback" not in r.stderr


def test_params_are_numbers_only_as_plain_integers():
    from scapula.query.commands import parse_params
    got = parse_params(["a=5", "b=007", "c=-12", "d=0", "e=+5", "f=1_000", "g= 5", "h=x=1",
                        "i=", "j=1.5"])
    assert got == {"a": 5, "b": "007", "c": -12, "d": 0, "e": "+5", "f": "1_000", "g": " 5",
                   "h": "x=1", "i": "", "j": "1.5"}
    assert all(type(got[k]) is int for k in "acd")


def test_memory_limit_loads_into_a_temporary_directory_then_removes_it(tmp_path, monkeypatch):
    from scapula.query import storage
    a = write(tmp_path / "a.scapula", workload())
    assert storage.events_in([a]) == 6
    small = storage.Storage([a], None)   # small: the events held, the rest in memory
    assert small.db is None and not small.bounded and os.path.isdir(small.tmp)
    assert os.path.dirname(small.events_dir) == small.tmp
    c = small.connect()
    small.load(c, [a], warn=print)
    assert small.events.budget == event_sink.BUDGET and list(small.events.held) == [1]
    assert os.listdir(small.events_dir) == ["empty.parquet"]
    assert rows(c, "SELECT count(*) FROM events") == [(6,)]
    c.close()
    small.close()
    assert not os.path.exists(small.events_dir)
    monkeypatch.setattr(storage, "IN_MEMORY_EVENTS", 5)
    every = storage.Storage([a], None, in_memory=True)   # asked for: all in memory
    assert (every.db, every.events_dir, every.tmp) == (None, None, None)
    kept = storage.Storage([a], str(tmp_path / "k.duckdb"))   # --db: all in its file
    assert kept.events_dir is None and kept.tmp is None
    store = storage.Storage([a], None)
    assert store.bounded and store.memory_limit == storage.BOUNDED_LIMIT
    c = store.connect()
    store.load(c, [a], warn=print)
    assert store.events.budget == 0 and not store.events.held   # its memory: the tables
    assert rows(c, "SELECT current_setting('memory_limit')")[0][0].startswith("244")  # MiB
    assert rows(c, "SELECT count(*) FROM events") == [(6,)] and os.path.exists(store.db)
    # the events are a view of the capture's Parquet file (and an empty one)
    assert sorted(os.listdir(store.events_dir)) == ["capture-1.parquet", "empty.parquet"]
    assert rows(c, "SELECT table_type FROM information_schema.tables "
                   "WHERE table_name = 'events'") == [("VIEW",)]
    store.loaded(c)   # a limit scapula chose holds for the load only
    assert not rows(c, "SELECT current_setting('memory_limit')")[0][0].startswith("244")
    c.close()
    store.close()
    assert not os.path.exists(os.path.dirname(store.db))
    # for the duckdb command (another process) or under the user's limit: no events held
    shared = storage.Storage([a], None)
    shared.use_file()
    c = shared.connect()
    shared.load(c, [a], warn=print)
    assert shared.events.budget == 0 and not shared.events.held
    assert sorted(os.listdir(shared.events_dir)) == ["capture-1.parquet", "empty.parquet"]
    c.close()
    shared.close()
    limited = storage.Storage([a], None, memory_limit="300MB")
    c = limited.connect()
    assert limited.events.budget == 0
    c.close()
    limited.close()
    # a file without a footer is counted by its size
    os.truncate(a, os.path.getsize(a) - 16)
    assert storage.events_in([a]) == os.path.getsize(a) // storage.BYTES_PER_EVENT


def _sink_load(tmp_path, name, budget, files):
    """`files` loaded into a new in-memory database whose events go to a sink of
    `budget` bytes; the connection and the sink."""
    sink = EventSink(str(tmp_path / name), budget)
    c = loader.connect(None, sink)
    loader.load(c, files, events=sink)
    return c, sink


@pytest.mark.parametrize("where", ["parquet", "held", "held then parquet"])
def test_events_out_of_a_table_are_the_events_a_table_holds(tmp_path, where):
    # the same captures loaded into a table and into a sink: its Parquet files, its
    # held batches, or the first capture held and the second past the budget (its
    # first batch held, the others in its file)
    a = write(tmp_path / "a.scapula", workload())
    b = write(tmp_path / "b.scapula", workload()[:4], host="h2")
    _c, first = _sink_load(tmp_path, "first", 1 << 30, [a])
    budget = {"parquet": 0, "held": 1 << 30, "held then parquet": first.size + 1}[where]
    c, sink = _sink_load(tmp_path, "events", budget, [a, b])
    assert list(sink.held) == {"parquet": [], "held": [1, 2], "held then parquet": [1, 2]}[where]
    if where == "held then parquet":
        assert len(sink.held[2]) == 1 and rows(c, "SELECT count(*) FROM read_parquet("
                                                  f"'{tmp_path}/events/capture-2.parquet')")[0][0]
    files = {"parquet": ["capture-1.parquet", "capture-2.parquet"], "held": [],
             "held then parquet": ["capture-2.parquet"]}[where]
    assert sorted(os.listdir(tmp_path / "events")) == files + ["empty.parquet"]
    t = loader.connect()
    loader.load(t, [a, b])
    assert rows(c, "DESCRIBE events") == rows(t, "DESCRIBE events")
    doc = "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'events'"
    assert rows(c, doc) == rows(t, doc)
    every = "SELECT * FROM events ORDER BY capture, seq"
    assert rows(c, every) == rows(t, every) and len(rows(c, every)) == 10
    views = "SELECT * FROM file_activity ORDER BY ALL"
    assert rows(c, views) == rows(t, views) and rows(c, views)


@pytest.mark.parametrize("budget", [0, 1 << 30])
def test_a_capture_that_fails_out_of_a_table_leaves_nothing(tmp_path, budget):
    rows_ = workload()
    bad = list(rows_[2])
    bad[schema.HEADER_FIELDS.index("ts")] = 2**63 + 5
    path = write(tmp_path / "bad.scapula", rows_[:2] + [tuple(bad)] + rows_[3:])
    good = write(tmp_path / "good.scapula", workload())
    events = tmp_path / "events"
    sink = EventSink(str(events), budget)
    c = loader.connect(str(tmp_path / "p.duckdb") if not budget else None, sink)
    with pytest.raises(InputError, match="bad.scapula: events 0 to 5: a time out of range"):
        loader.load(c, [good, path], events=sink)   # the good one's events stay
    assert sorted(os.listdir(events)) == (["capture-1.parquet"] if not budget else []) + [
        "empty.parquet"]
    assert list(sink.held) == ([1] if budget else [])
    assert rows(c, "SELECT DISTINCT capture FROM captures") == [(1,)]
    assert rows(c, "SELECT count(*), min(capture) FROM events") == [(6, 1)]


def test_events_that_cannot_be_written_are_one_error_and_no_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    from scapula.errors import OutputError

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(pq.ParquetWriter, "write_batch", full)
    a = write(tmp_path / "a.scapula", workload())
    events = tmp_path / "events"
    sink = EventSink(str(events))
    c = loader.connect(str(tmp_path / "p.duckdb"), sink)
    with pytest.raises(OutputError) as e:
        loader.load(c, [a], events=sink)
    assert str(e.value) == (f"{events}/capture-1.parquet: cannot write the events: "
                            "No space left on device (TMPDIR chooses where they go; "
                            "--db puts every table in a file you name)")
    assert e.value.exit_code == 5
    assert os.listdir(events) == ["empty.parquet"]
    assert rows(c, "SELECT count(*) FROM captures") == [(0,)]


def test_duckdb_out_of_memory_or_disk_is_one_line(tmp_path):
    import duckdb
    from scapula.errors import OutputError, UsageError
    from scapula.query import storage
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT count(*) FROM events", "--memory-limit", "1KB")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("scapula: DuckDB ran out of memory (its limit: 1KB; "
                               "--memory-limit sets it): Out of Memory Error")
    store = storage.Storage([a], None)
    with pytest.raises(OutputError) as e, store.failures():
        raise duckdb.IOException('IO Error: Could not write file "x.duckdb": No space '
                                 'left on device\nmore')
    assert str(e.value) == (f'{store.tmp}: cannot write the database: IO Error: Could not '
                            'write file "x.duckdb": No space left on device')
    assert e.value.exit_code == 5
    # a commit that cannot write its log, and what DuckDB says from then on
    for failure in (duckdb.TransactionException, duckdb.FatalException):
        with pytest.raises(OutputError) as e, store.failures():
            raise failure("Failed to commit: x.duckdb.wal: No space left on device")
        assert e.value.exit_code == 5 and "x.duckdb.wal: No space left" in str(e.value)
    with pytest.raises(UsageError), store.failures():
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate")
    store.close()


def test_memory_limit_from_the_command_line(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT current_setting('memory_limit') AS m, count(*) AS n "
                "FROM events", "--memory-limit", "300MB", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"m": "286.1 MiB", "n": 6}]   # the user's: kept
    r = scapula("query", a, "SELECT 1", "--memory-limit", "lots")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "--memory-limit lots: expected a size such as 400MB" in r.stderr
    r = scapula("query", a, "SELECT count(*) AS n FROM events", "--in-memory", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"n": 6}]
    r = scapula("query", a, "SELECT 1", "--memory-limit", "1GB", "--in-memory")
    assert r.returncode == 2 and "--in-memory goes without --db and --memory-limit" in r.stderr


def test_a_link_loads_its_file_once_and_a_copy_is_said(tmp_path):
    import shutil
    a = tmp_path / "a.scapula"
    w = CaptureWriter(open_output(str(a)), str(a))
    w.header({"host": "h1", "config": {}, "start_ns": 123}, SNAPSHOT, [])
    w.chunk(workload())
    w.close({"drops": [0], "sent": [6]})
    (tmp_path / "link.scapula").symlink_to(a)
    copy = tmp_path / "copy.scapula"
    shutil.copy(a, copy)
    r = scapula("query", a, tmp_path / "link.scapula", "SELECT count(*) AS n FROM captures",
                "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"n": 1}] and r.stderr == ""
    r = scapula("query", a, copy, "SELECT count(*) AS n FROM captures", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"n": 2}]
    assert r.stderr == (f"scapula: warning: {copy}: the same recording as capture 1 ({a}): "
                        "its events are in the database twice\n")


def test_print_numbers_events_by_their_place_as_seq_does(tmp_path):
    a = write(tmp_path / "a.scapula", workload())
    r = scapula("query", a, "SELECT seq FROM events WHERE type = 'openat' ORDER BY seq",
                "--json")
    seqs = [x["seq"] for x in json.loads(r.stdout)]
    assert seqs == [2, 3]
    for args in (["--type", "openat"], ["--filter", "evt.type = openat"]):
        r = scapula("print", a, *args)
        assert [int(line.split()[0]) for line in r.stdout.splitlines()] == [s + 1 for s in seqs]
        r = scapula("print", a, *args, "--json")
        assert [json.loads(line)["seq"] for line in r.stdout.splitlines()] == seqs


def test_events_dropped_while_recording_are_said_on_load(tmp_path):
    a = write(tmp_path / "a.scapula", workload(), drops=(0, 2))
    r = scapula("query", a, "SELECT dropped FROM captures", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == [{"dropped": 2}]
    assert r.stderr == (f"scapula: warning: {a}: 2 events were dropped while recording "
                        "(cpu1 2; the ring buffer was full): nothing here includes them\n")
