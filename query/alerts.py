"""The `alerts` table: loaded captures replayed through Falco rules (`--rules`), one row
per alert, tied to the event that fired it by `seq`.

Each capture is replayed alone, so the replay's event count is the capture's seq (both
count the capture's events in time order from its first chunk). A capture already
judged by rules files of the same content is not replayed again; other rules replace
its alerts (`alert_runs` says which rules made the alerts there are)."""
from dataclasses import dataclass
import hashlib
import json
import os

import pyarrow as pa

from scapula.errors import InputError


@dataclass
class Rules:
    """Rules files loaded and compiled, with what identifies them."""
    paths: list[str]
    digest: str
    engine: object


def compile_rules(paths) -> Rules:
    """The rules files, loaded and compiled; errors in them are bad input (exit 3)."""
    from scapula.replay.replay_command import engine_for, load_rules
    paths = [os.path.abspath(p) for p in paths]
    digest = hashlib.sha256()
    for p in paths:
        try:
            with open(p, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
        except OSError as e:
            raise InputError(f"{p}: cannot read the rules file: {e.strerror}") from None
    return Rules(paths, digest.hexdigest(), engine_for(load_rules(paths)))


def judge(con, captures: list[int], rules: Rules, warn=lambda message: None,
          progress=None) -> None:
    """Replace each capture's alerts by those `rules` raise (unless they made them).
    `progress(events, ts)` is called every 100,000 events of a replay."""
    for capture in captures:
        done = con.execute("SELECT digest, rules FROM alert_runs WHERE capture = ?",
                           [capture]).fetchall()
        if done and done[0][0] == rules.digest:   # the same rules (maybe moved): named now
            con.execute("UPDATE alert_runs SET rules = ? WHERE capture = ?",
                        [rules.paths, capture]).fetchall()
            continue
        [(path, host, size, mtime)] = con.execute(
            "SELECT path, host, size, mtime_ns FROM captures WHERE capture = ?",
            [capture]).fetchall()
        why = _unchanged(path, size, mtime)
        if why:   # the others are judged all the same; this one keeps what it had
            was = f"keeps the alerts of {', '.join(done[0][1])}" if done else "has no alerts"
            warn(f"{path}: {why}; not judged: capture {capture} {was} (see alert_runs)")
            continue
        rows, events = _replay(path, rules.engine, progress)
        for table in ("alerts", "alert_runs"):
            con.execute(f"DELETE FROM {table} WHERE capture = ?", [capture]).fetchall()
        if rows:
            _insert_alerts(con, capture, host, rows)
            untied = _untied(con, capture)
            if untied:
                warn(f"{path}: {untied} alerts do not match the event their seq names "
                     "(the capture's chunks name event types its schema lacks?)")
        con.execute("INSERT INTO alert_runs VALUES (?, ?, ?, ?, ?, ?)",
                    [capture, host, rules.paths, rules.digest, events, len(rows)]).fetchall()


def _unchanged(path: str, size: int, mtime: int) -> str | None:
    """Why the file cannot be replayed for the events loaded from it, or None: alerts
    point at events by seq, so it must be the file that was loaded."""
    try:
        st = os.stat(path)
    except OSError as e:
        return f"cannot open to replay it: {e.strerror}"
    if (st.st_size, st.st_mtime_ns) != (size, mtime):
        return "changed since it was loaded (name it to load it again)"
    return None


def _untied(con, capture: int) -> int:
    """Alerts whose seq names an event of another time or thread: replay and load
    counted the capture's events differently, which they must not."""
    return con.execute("""
        SELECT count(*) FROM alerts a
        LEFT JOIN events e ON e.capture = a.capture AND e.seq = a.seq
        WHERE a.capture = $c AND (e.ts_ns IS DISTINCT FROM a.ts_ns
                                  OR e.tid IS DISTINCT FROM a.tid)
        """, {"c": capture}).fetchone()[0]


def _replay(path: str, engine, progress=None) -> tuple[list[tuple], int]:
    from scapula.replay.run import replay
    rows = []

    def on_alert(alert, ctx):
        ev = alert.event
        rows.append((ctx.num - 1, alert.ts, ev.pid, ev.tid, alert.rule, str(alert.priority),
                     int(alert.priority), sorted(alert.tags), alert.output,
                     json.dumps({k: _plain(v) for k, v in alert.fields.items()})))
    stats = replay([path], engine, on_alert, progress=progress)
    return rows, stats.events


def _plain(value):
    """An output field's value as JSON takes it (bytes as text, as Falco prints them)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape").encode(
            "utf-8", "backslashreplace").decode()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _insert_alerts(con, capture: int, host: str, rows: list[tuple]) -> None:
    cols = list(zip(*rows))
    data = pa.table({
        "seq": pa.array(cols[0], pa.int64()), "ts_ns": pa.array(cols[1], pa.int64()),
        "pid": pa.array(cols[2], pa.int64()), "tid": pa.array(cols[3], pa.int64()),
        "rule": pa.array(cols[4], pa.string()), "priority": pa.array(cols[5], pa.string()),
        "severity": pa.array(cols[6], pa.int32()),
        "tags": pa.array(cols[7], pa.list_(pa.string())),
        "output": pa.array(cols[8], pa.string()),
        "output_fields": pa.array(cols[9], pa.string()),
    })
    con.register("_alert_rows", data)
    try:
        # the event's process lifetime comes from `events`, by the same seq
        con.execute("""
            INSERT INTO alerts BY NAME
            SELECT $capture::INTEGER AS capture, $host AS host, a.seq,
                   make_timestamp_ns(a.ts_ns) AS ts, a.ts_ns, a.pid, a.tid, e.proc_id,
                   a.rule, a.priority, a.severity, a.tags, a.output,
                   a.output_fields::JSON AS output_fields
            FROM _alert_rows a
            LEFT JOIN events e ON e.capture = $capture AND e.seq = a.seq
            """, {"capture": capture, "host": host}).fetchall()
    finally:
        con.unregister("_alert_rows")
