"""SQL loading: events per CPU-second of `scapula query`'s loader, capture to DuckDB, end to end and by phase; its peak memory; the views' latency.

1. Captures of --sizes events (default 1.2M and 5M) recorded with `scapula record --all`
   around bench/replay_workload.sh, made and cached like bench/replay_throughput.py's
   (the 1.2M one is the same file).
2. Each measurement runs in a fresh Python process, so its peak RSS (getrusage maxrss)
   is the measurement's own: `decode` reads every chunk (decompress, unpack), `arrow`
   also builds the loader's Arrow batches (each event's process image included), `load`
   is `loader.load` as `scapula query` does it (query/storage.py): the other tables in
   memory and the events held as Arrow (query/event_sink.py), or for a capture of more
   than IN_MEMORY_EVENTS the events in Parquet files and the other tables in a
   temporary database file under a memory limit; `memory` loads
   every table into DuckDB's memory (`--in-memory`), for comparison. Phases are
   differences of medians: Arrow = arrow - decode, DuckDB = load - arrow (writing the
   events, the process table, the small tables). Rates are
   events per second of the process's CPU time, DuckDB's threads included, so "one
   core" means one core's worth of CPU. --rounds rounds, the order rotating; medians.
   --baseline REV measures that git revision's loader too, interleaved in the same
   rounds (its tree is unpacked into a temporary folder put first on PYTHONPATH).
3. Views on the largest capture, loaded as `scapula query` does: each query run
   --view-rounds times after one load, the result fetched as Arrow; median wall seconds.
4. Where DuckDB's insert time and memory go: the same batches taken into a table
   whole, `args` alone, and without it (memory: duckdb_memory()).

Run: `make bench-query` or `.venv/bin/python bench/query_load.py [--rounds N]
[--baseline REV]`; recording a missing capture needs root.
"""
import argparse
import json
import os
from pathlib import Path
import resource
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))
from syscall_overhead import ROOT, med, profile_top  # noqa: E402

# scapula sets Arrow's memory pool when imported (scapula/__init__.py) and this process
# imports it: a baseline tree's measurements must not inherit that unless the user set it
_USER_POOL = os.environ.get("ARROW_DEFAULT_MEMORY_POOL")

TARGET_RATE = 1_000_000   # events/s on one core, end to end (issue 5)
TARGET_RSS_MB = 500       # peak while loading a 5M-event capture
TARGET_VIEW_S = 1.0
PHASES = ("decode", "arrow", "load")
# (name, SQL) run on the loaded database; $pid / $prefix are filled in from the data.
VIEWS = (
    ("process_tree", "SELECT * FROM process_tree"),
    ("file_activity, path prefix", "SELECT * FROM file_activity WHERE path LIKE $prefix"),
    ("process_ancestors(pid)", "SELECT * FROM process_ancestors($pid)"),
    ("exec_timeline", "SELECT * FROM exec_timeline"),
    ("network_activity", "SELECT * FROM network_activity"),
    ("privilege_changes", "SELECT * FROM privilege_changes"),
    ("suspicious", "SELECT * FROM suspicious"),
    ("typed.procexec", "SELECT pid, args.filename, args.argv FROM typed.procexec"),
)


# --- one measurement, in its own process -------------------------------------------

def measure(kind: str, path: str) -> dict:
    from scapula.query import loader
    from scapula.replay.reader import Capture
    t0, w0 = time.process_time(), time.perf_counter()
    if kind == "decode":
        with Capture(path) as cap:
            try:   # as the loader reads them (older loaders: comm only, or nothing raw)
                chunks = cap.chunks(raw=True)
            except TypeError:
                chunks = cap.chunks(**{"raw_comm": True})
            events = sum(len(order) for _groups, order in chunks)
    elif kind == "arrow":
        with Capture(path) as cap:
            events = sum(b.num_rows for b in _stream(loader, cap))
    elif kind in ("load", "memory", "views"):
        # "load" and "views" as `scapula query` does: a temporary database file under a
        # memory limit for a large capture (query/storage.py); "memory": in memory anyway
        store = None
        here = Path(loader.__file__).parent
        if kind != "memory" and (here / "storage.py").exists():   # older: memory only
            from scapula.query import storage
            store = storage.Storage([path], None)
        events_dir = getattr(store, "events_dir", None)   # older: events in DuckDB only
        if hasattr(store, "load"):   # as `scapula query` loads for SQL without fds
            con = store.connect()
            store.load(con, [path], warn=lambda _message: None)
        else:   # older trees spelled it out
            con = (loader.connect(store.db, events_dir) if events_dir else
                   loader.connect(store.db if store else None))
            if store:
                store.configure(con)
            try:
                if events_dir:
                    loader.load(con, [path], fd_lifetimes=False,
                                window_rows=store.window_rows, events_dir=events_dir)
                elif store:
                    loader.load(con, [path], fd_lifetimes=False,
                                window_rows=store.window_rows)
                else:
                    loader.load(con, [path], fd_lifetimes=False)
            except TypeError:   # a loader from before fd lifetimes were put off
                loader.load(con, [path])
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        rest = (f"file, limit {store.memory_limit}" if store and store.memory_limit
                else "memory")
        sink = getattr(store, "events", None)
        held = sink is not None and bool(getattr(sink, "held", None))
        spilled = sink is not None and getattr(sink, "spilled", True)
        where = ("Arrow" if held and not spilled else "Arrow + Parquet" if held
                 else "Parquet") + f" + {rest}" if events_dir else rest
        if store and kind == "views":   # as scapula query does before the user's SQL
            store.loaded(con)
        if kind == "load" and hasattr(loader, "build_fds"):   # timed apart, after
            load_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            cpu = time.process_time()
            loader.build_fds(con, [1])
            fds_cpu = time.process_time() - cpu
    elif kind == "columns":
        return insert_shares(path)
    else:
        raise SystemExit(f"bench: unknown measurement {kind}")
    out = {"events": events, "cpu": time.process_time() - t0, "wall": time.perf_counter() - w0,
           "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if kind in ("load", "memory"):
        out["where"] = where
    if kind == "load" and hasattr(loader, "build_fds"):
        out["cpu"] -= fds_cpu
        out["wall"] -= fds_cpu
        out["fds_cpu"] = fds_cpu
        out["fds_rss_mb"] = out["rss_mb"]   # the peak with the fds built too
        out["rss_mb"] = load_rss
    if kind == "views":
        out["views"] = view_latencies(con, int(os.environ.get("VIEW_ROUNDS", "5")))
    if kind in ("load", "memory", "views"):   # the temporary directory goes (GBs a run)
        con.close()
        if store is not None and hasattr(store, "close"):
            store.close()
    return out


def view_latencies(con, rounds: int) -> dict:
    pid = con.execute("SELECT pid FROM processes WHERE execs > 0 ORDER BY start_ns DESC "
                      "LIMIT 1").fetchone()[0]
    params = {"$pid": str(pid), "$prefix": "'/usr/%'"}
    out = {}
    try:   # the typed.<type> views, made as a query naming them makes them
        from scapula.query import typed_views
    except ImportError:   # a tree from before them
        typed_views = None
    if typed_views:
        w0 = time.perf_counter()
        typed_views.create(con)
        made = con.execute("SELECT count(*) FROM duckdb_views() "
                           "WHERE schema_name = 'typed'").fetchone()[0]
        out["typed views, made"] = {"rows": made, "wall": time.perf_counter() - w0,
                                    "sql": "typed_views.create(con), once"}
    for name, sql in VIEWS:
        if "typed." in sql and not typed_views:
            continue
        for k, v in params.items():
            sql = sql.replace(k, v)
        walls = []
        for _ in range(rounds):
            w0 = time.perf_counter()
            rows = _arrow(con.execute(sql)).num_rows
            walls.append(time.perf_counter() - w0)
        out[name] = {"rows": rows, "wall": med(walls), "sql": sql}
    return out


def insert_shares(path: str) -> dict:
    """DuckDB's CPU seconds to take the loader's batches (built beforehand, not timed)
    into a new table: all columns, `args` alone, all but `args`; on one thread."""
    import pyarrow as pa
    from scapula.query import loader
    from scapula.replay.reader import Capture
    with Capture(path) as cap:
        built = list(_stream(loader, cap))
    out = {"events": sum(b.num_rows for b in built)}
    for name, cols in (("all columns", "*"), ("args alone", "args"),
                       ("all but args", "* EXCLUDE (args)")):
        con = loader.connect()
        con.execute("SET threads = 1")
        con.register("_b", pa.RecordBatchReader.from_batches(built[0].schema, iter(built)))
        t0 = time.process_time()
        con.execute(f"CREATE TABLE t AS SELECT {cols} FROM _b").fetchall()
        out[name] = time.process_time() - t0
        out[name + " MB"] = con.execute(
            "SELECT sum(memory_usage_bytes) / 1e6 FROM duckdb_memory()").fetchone()[0]
        con.close()
    return out


def _stream(loader, cap):
    """The loader's Arrow batches as it gives them to DuckDB (with each event's image
    since images are computed while streaming; older loaders took a lifecycle list)."""
    try:
        return loader._batches(cap)
    except TypeError:
        return loader._batches(cap, [])


def _arrow(result):
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()


def spawn(kind: str, path: Path, tree: Path | None, env_extra=None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        if _USER_POOL is None and "ARROW_DEFAULT_MEMORY_POOL" not in (env_extra or {}):
            env.pop("ARROW_DEFAULT_MEMORY_POOL", None)   # as that tree sets it, or not
    proc = subprocess.run([sys.executable, __file__, "--measure", kind, str(path)],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench: {kind} of {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def baseline_tree(rev: str, into: Path) -> Path:
    """The package as of `rev`, laid out as installed (scapula/, scapula/query/, ...)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                          capture_output=True).stdout
    src = into / "src"
    src.mkdir()
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(src, filter="data")
    pkg = into / "scapula"
    (src / "scapula").rename(pkg)
    for sub in ("capture", "replay", "query", "bpf", "schemas"):
        (src / sub).rename(pkg / sub)
    return into


# --- main ---------------------------------------------------------------------------

def captures(sizes, data: Path) -> list[Path]:
    from replay_throughput import capture_path, record_capture
    out = []
    for n in sizes:
        path = capture_path(data, n)
        if not path.exists():
            record_capture(path, n)
        out.append(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1200000,5000000", help="events per capture")
    ap.add_argument("--data", type=Path, default=Path("/var/tmp/scapula-bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--view-rounds", type=int, default=5)
    ap.add_argument("--baseline", help="also measure this git revision's loader")
    ap.add_argument("--profile", action="store_true", help="cProfile one load of the first")
    ap.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    paths = captures([int(s) for s in args.sizes.split(",")], args.data)
    with tempfile.TemporaryDirectory(prefix="scapula-qbench-") as tmp:
        trees = {"this tree": None}
        if args.baseline:
            trees[args.baseline] = baseline_tree(args.baseline, Path(tmp))
        print(f"SQL load: {args.rounds} rounds, medians; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.2f} at the start; each figure a fresh process")
        for path in paths:
            results = rounds(path, trees, args.rounds)
            report(path, results, trees)
        print(f"\nviews on {paths[-1].name}, one load, {args.view_rounds} runs each, "
              "fetched as Arrow:")
        got = spawn("views", paths[-1], None, {"VIEW_ROUNDS": str(args.view_rounds)})
        for name, v in got["views"].items():
            print(f"  {name:<28}{v['rows']:>10,} rows {v['wall']:8.3f} s   ({v['sql']})")
        got = [spawn("columns", paths[0], None) for _ in range(args.rounds)]
        print(f"\nwhere DuckDB's insert time goes, {paths[0].name}: the loader's batches "
              f"(built first) into a new table on one thread, {args.rounds} runs, medians; "
              "`args` is JSON text")
        for name in ("all columns", "args alone", "all but args"):
            s = med([g[name] for g in got])
            mb = med([g[name + " MB"] for g in got])
            print(f"  {name:<16}{s:6.2f} CPU s {1e6 * s / got[0]['events']:6.2f} us/event "
                  f"{mb:8.0f} MB in DuckDB's memory")
        if args.profile:
            print(f"\ncProfile of one load of {paths[0].name}, top 20 by own time:")
            from scapula.query import loader
            con = loader.connect()
            print(profile_top(loader.load, con, [str(paths[0])], lines=20)
                  .replace(str(ROOT) + "/", ""))


def rounds(path: Path, trees: dict, n: int) -> dict:
    """n rounds of every phase of every tree, the order rotating, and the load with
    every table in DuckDB's memory ("memory")."""
    kinds = PHASES + ("memory",)
    configs = [(tree, kind) for tree in trees for kind in kinds]
    out = {c: [] for c in configs}
    for r in range(n):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for tree, kind in order:
            out[(tree, kind)].append(spawn(kind, path, trees[tree]))
        loads = "; ".join(f"{tree} {rate(out[(tree, 'load')][-1]):,.0f}" for tree in trees)
        print(f"  {path.name} round {r + 1}/{n}: load {loads} ev/s", flush=True)
    return out


def rate(m: dict) -> float:
    return m["events"] / m["cpu"]


def report(path: Path, results: dict, trees: dict) -> None:
    for tree in trees:
        cpu = {k: med([m["cpu"] for m in results[(tree, k)]]) for k in PHASES}
        wall = med([m["wall"] for m in results[(tree, "load")]])
        rss = {k: max(m["rss_mb"] for m in results[(tree, k)]) for k in PHASES}
        events = results[(tree, "load")][0]["events"]
        rates = [rate(m) for m in results[(tree, "load")]]
        print(f"\n{path.name} ({path.stat().st_size / 1e6:.0f} MB, {events:,} events), {tree}:")
        where = results[(tree, "load")][0].get("where", "memory")
        print(f"  end to end, into {where}: {events / cpu['load']:,.0f} ev/s of CPU (rounds "
              f"{min(rates):,.0f} to {max(rates):,.0f}); {cpu['load']:.2f} CPU s, {wall:.2f} "
              f"wall s; target >= {TARGET_RATE:,}")
        mem = results.get((tree, "memory"))
        if mem:
            m_cpu = med([m["cpu"] for m in mem])
            print(f"  every table in memory (--in-memory): {events / m_cpu:,.0f} ev/s of CPU "
                  f"(rounds "
                  f"{min(rate(m) for m in mem):,.0f} to {max(rate(m) for m in mem):,.0f}); "
                  f"peak RSS {max(m['rss_mb'] for m in mem):.0f} MB")
        parts = (("decompress + unpack", cpu["decode"]),
                 ("Arrow batches", cpu["arrow"] - cpu["decode"]),
                 ("events written, processes, setup", cpu["load"] - cpu["arrow"]))
        for name, s in parts:
            print(f"    {name:<34}{s:7.2f} CPU s {1e6 * s / events:7.2f} us/event "
                  f"{100 * s / cpu['load']:5.1f}%")
        print(f"  peak RSS: decode {rss['decode']:.0f} MB, arrow {rss['arrow']:.0f} MB, "
              f"load {rss['load']:.0f} MB (the database's memory included; target < "
              f"{TARGET_RSS_MB} MB at 5M events)")
        fds = [m["fds_cpu"] for m in results[(tree, "load")] if "fds_cpu" in m]
        if fds:
            fds_rss = max(m.get("fds_rss_mb", 0) for m in results[(tree, "load")])
            print(f"  the fds table on top (built when a query names fds or connections): "
                  f"{med(fds):.2f} CPU s, {1e6 * med(fds) / events:.2f} us/event, peak "
                  f"RSS with it {fds_rss:.0f} MB")


if __name__ == "__main__":
    main()
