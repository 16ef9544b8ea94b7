"""Throughput of a real server under scapula: redis-benchmark on loopback, with no tracing, the empty-probe floor and `scapula record`, side by side.

Three configurations are measured in one run, interleaved round by round (the order
rotates each round so none always goes first), as bench/syscall_overhead.py does,
and with its very configurations:

  none     no BPF program attached
  floor    empty raw tracepoints on sys_enter and sys_exit (the cheapest possible hook)
  scapula  `scapula record -w FILE` with its default syscall set, started before the
           round's benchmark and stopped with SIGINT after it

The workload is redis-benchmark against a redis-server this script starts on a free
loopback port, without persistence, and stops at the end. With -P 1 every request is
a round trip of syscalls on both sides. The client (hiredis) sends and receives with
send/recv, that is sendto/recvfrom, which scapula records by default, so every
request also makes recorded events; the server's read/write are not recorded.

By default the server is pinned to CPU 0 and the client to CPU 1. Each is one
thread (the client is the busier: it keeps its CPU at 100%, the server uses about
70% of its own), so on a 2-core machine they take the cores one each, and pinning
stops them from sharing or swapping cores from run to run (unpinned, the untraced
baseline was lower and varied more). The recorder is not pinned: it runs in what
room is left on either core, so its CPU time is paid out of the benchmark's, as on
a busy host. The CPU time of client, server, recorder and every other process is
measured and reported, so neither the recorder's cost nor a busy machine is hidden.

Reported: requests/s per test and configuration per round, medians, the ratios
scapula/none, floor/none and scapula/floor (of the medians, and the median of the
per-round ratios), and for scapula the events it recorded and lost per round
(`scapula info --json` on the file), with a warning when any were lost.

Run as root: `make bench-redis` or `.venv/bin/python bench/redis_throughput.py`.
The Debian packages redis-server and redis-tools are installed when missing; the
system's redis service that the package starts is stopped and disabled again.
"""
import argparse
import csv
import json
import os
import resource
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))
from syscall_overhead import (SCAPULA, Floor, NoTracing, Scapula, med,  # noqa: E402
                              syscall_hooks)

PACKAGES = ("redis-server", "redis-tools")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def installed(package: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                         capture_output=True, text=True).stdout
    return "install ok installed" in out


def apt_candidate(package: str) -> bool:
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    return "Candidate:" in out and "Candidate: (none)" not in out


def apt(*argv: str) -> bool:
    return subprocess.run(["apt-get", *argv], stdout=subprocess.DEVNULL,
                          env=APT_ENV).returncode == 0


def ensure_redis() -> None:
    """Installs redis-server and redis-tools when missing (updating the package lists
    first when they do not know them, or when an install from them fails), then stops
    and disables the system service the package may have started: the bench runs its
    own server, and nothing else should use the CPUs meanwhile."""
    missing = [p for p in PACKAGES if not installed(p)]
    if missing:
        if shutil.which("apt-get") is None:
            sys.exit(f"bench: {', '.join(missing)} missing and no apt-get to install them")
        print(f"bench: installing {' '.join(missing)}", flush=True)
        fresh = not all(apt_candidate(p) for p in missing) and apt("update", "-q")
        if not apt("install", "-y", "-q", *missing):
            if fresh or not (apt("update", "-q") and apt("install", "-y", "-q", *missing)):
                sys.exit(f"bench: apt-get could not install {' '.join(missing)}")
        if "redis-server" in missing:
            stop_system_redis()
    running = system_redis()
    if running:
        print(f"bench: warning: a system redis-server is running (pid {', '.join(running)}); "
              "it was not started by this bench, which leaves it alone, but it shares the "
              "CPUs", flush=True)


def stop_system_redis() -> None:
    """The package starts and enables `redis-server` (systemd or its init script)
    unless a policy forbids it; undo both."""
    if Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "disable", "--now", "redis-server"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elif Path("/etc/init.d/redis-server").exists():
        subprocess.run(["/etc/init.d/redis-server", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["update-rc.d", "redis-server", "disable"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def system_redis() -> list[str]:
    """Pids of live redis-server processes of the package's `redis` user."""
    pids = subprocess.run(["pgrep", "-u", "redis", "-x", "redis-server"],
                          capture_output=True, text=True).stdout.split()
    return [p for p in pids if state(p) not in ("Z", None)]


def state(pid: str) -> str | None:
    try:
        return stat_fields(Path(f"/proc/{pid}/stat"))[0]
    except OSError:
        return None


def stat_fields(path: Path) -> list[str]:
    """The fields of a /proc stat file after the command name: state, ppid, ..."""
    return path.read_text().rsplit(")", 1)[1].split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]


class RedisServer:
    """A redis-server child on a free loopback port, no persistence, stopped on exit."""

    def __init__(self, tmp: Path, cpu: int | None):
        self.tmp, self.cpu, self.port = tmp, cpu, free_port()

    def __enter__(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.tmp),
                "--logfile", str(self.tmp / "redis.log"), "--daemonize", "no"]
        self.proc = subprocess.Popen(pinned(self.cpu, argv), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                log = (self.tmp / "redis.log")
                sys.exit("bench: redis-server did not start:\n"
                         + (log.read_text()[-2000:] if log.exists() else ""))
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def benchmark_argv(port: int, args, requests: int) -> list[str]:
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", args.tests,
            "-n", str(requests), "-c", str(args.clients), "-P", "1", "-q", "--csv"]


def run_benchmark(argv: list[str]) -> dict[str, float]:
    """requests/s per test from redis-benchmark's CSV ("test","rps",...)."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    rows = [r for r in csv.reader(out.splitlines()) if len(r) >= 2 and r[0] != "test"]
    if not rows:
        sys.exit(f"bench: no results from redis-benchmark:\n{out}")
    return {r[0]: float(r[1]) for r in rows}


def cpu_and_wakeups(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and voluntary context switches (sleeps that ended
    in a wake-up) of a process so far, all its threads."""
    cpu = wakeups = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = stat_fields(task / "stat")
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        cpu += int(fields[11]) + int(fields[12])
        wakeups += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return cpu / CLK_TCK, wakeups


def capture_info(path: Path) -> dict:
    out = subprocess.run([str(SCAPULA), "info", "--json", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def busy_seconds() -> float:
    """CPU seconds the machine's CPUs have spent busy since boot (not idle, not waiting
    for I/O, not stolen by the hypervisor)."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq) / CLK_TCK


def children_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# Someone else's program on the syscall hooks taxes every syscall of the run; on a
# shared machine other people's tracers come and go within seconds, so the hooks are
# watched all through a run, not only before and after it (as clean_run does).
HOOK_POLL_SECONDS = 0.5
MAX_RUNS = 3  # a run that met a foreign program is run again, up to this many times


class HookWatch:
    """While entered, checks every HOOK_POLL_SECONDS that exactly `expected` programs
    are on sys_enter/sys_exit; `foreign` says whether another count was ever seen."""

    def __init__(self, expected: int):
        self.expected, self.foreign = expected, False
        self._stop = threading.Event()

    def _check(self) -> None:
        if syscall_hooks() not in (self.expected, None):
            self.foreign = True

    def _watch(self) -> None:
        while not self._stop.wait(HOOK_POLL_SECONDS):
            self._check()

    def __enter__(self):
        self._check()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._check()


def clean_benchmark(argv: list[str], expected: int) -> tuple[dict[str, float], int, bool]:
    """run_benchmark, again while a foreign program was on the hooks at any time of the
    run: (rps per test, runs made, whether the kept run was clean). Waits up to 5 s
    for the hooks to be ours before each run."""
    for n in range(1, MAX_RUNS + 1):
        for _ in range(10):
            if syscall_hooks() in (expected, None):
                break
            time.sleep(0.5)
        with HookWatch(expected) as watch:
            rps = run_benchmark(argv)
        if not watch.foreign:
            return rps, n, True
    return rps, MAX_RUNS, False


def measure(cfg, argv: list[str], server_pid: int) -> dict:
    """One benchmark run under cfg (already entered): rps per test, the seconds it
    took, how often it ran (a run during which someone else's program was on the
    syscall hooks is run again), the recorder's wake-ups, and the CPUs (CPU-seconds a
    second) that the client, the server, the recorder and everything else used."""
    rec = cfg.proc.pid if cfg.name == "scapula" else None

    def sample():
        return (busy_seconds(), children_seconds(), cpu_and_wakeups(server_pid)[0],
                *(cpu_and_wakeups(rec) if rec else (0.0, 0)))

    before, t0 = sample(), time.monotonic()
    rps, runs, clean = clean_benchmark(argv, cfg.hooks)
    wall, after = time.monotonic() - t0, sample()
    busy, client, server, recorder, wakeups = (a - b for a, b in zip(after, before))
    others = max(0.0, busy - client - server - recorder)
    return {"rps": rps, "wall": wall, "runs": runs, "clean": clean, "wakeups": wakeups,
            "cpus": {"client": client / wall, "server": server / wall,
                     "recorder": recorder / wall, "others": others / wall}}


def ratio_table(m, rounds, tests):
    """Lines of the three ratios per test: of the medians / median of per-round ratios."""
    pairs = (("scapula/none", "scapula", "none"), ("floor/none", "floor", "none"),
             ("scapula/floor", "scapula", "floor"))
    lines = []
    for label, x, y in pairs:
        cells = []
        for t in tests:
            per_round = [r[x][t] / r[y][t] for r in rounds]
            cells.append(f"{m[x][t] / m[y][t]:.3f} / {med(per_round):.3f}")
        lines.append(f"{label:14}" + "".join(f"{c:>16}" for c in cells))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--requests", type=int, default=200_000,
                    help="requests per test per run (redis-benchmark -n)")
    ap.add_argument("--clients", type=int, default=50, help="redis-benchmark -c")
    ap.add_argument("--tests", default="set,get", help="redis-benchmark -t")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="let the scheduler place redis-server and redis-benchmark")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root to load BPF programs and install packages")
    started = time.monotonic()
    ensure_redis()
    server_cpu, client_cpu = (0, 1) if args.pin and os.cpu_count() >= 2 else (None, None)
    with tempfile.TemporaryDirectory(prefix="scapula-bench-") as d, \
            RedisServer(Path(d), server_cpu) as server:
        argv = pinned(client_cpu, benchmark_argv(server.port, args, args.requests))
        describe(args, argv, server_cpu, client_cpu)
        # warm-up, not counted: the keys exist and the caches are warm from round 1 on
        run_benchmark(pinned(client_cpu, benchmark_argv(server.port, args, args.requests // 10)))
        configs = [NoTracing(), Floor(), Scapula(Path(d))]
        rounds, cpus, recorder, foreign = rounds_loop(args, configs, argv, server.proc.pid)
    report(rounds, cpus, recorder, foreign)
    print(f"the whole run took {(time.monotonic() - started) / 60:.1f} min")


def describe(args, argv, server_cpu, client_cpu) -> None:
    version = subprocess.run(["redis-server", "--version"], capture_output=True,
                             text=True).stdout.split()
    where = (f"redis-server pinned to CPU {server_cpu}, redis-benchmark to CPU {client_cpu}, "
             "the recorder not pinned (it runs in what room is left on either core)"
             if server_cpu is not None else "nothing pinned (--no-pin)")
    print(f"redis {next((v for v in version if v.startswith('v=')), '?')[2:]}; "
          f"{os.uname().release}, {os.cpu_count()} cpus; {where}")
    print(f"client: {' '.join(argv)}")
    print(f"{args.rounds} rounds, configurations interleaved in rotating order; requests/s",
          flush=True)


def rounds_loop(args, configs, argv, server_pid):
    """Every round runs each configuration once. Returns, per round, requests/s by
    configuration and test, CPUs used by configuration, and the recorder's figures;
    and the configurations of the runs kept with a foreign program on the hooks."""
    rounds, cpus, recorder, foreign = [], [], [], []
    for r in range(args.rounds):
        order = configs[r % 3:] + configs[:r % 3]
        this, used, again, spoiled = {}, {}, [], []
        for cfg in order:
            with cfg:
                got = measure(cfg, argv, server_pid)
            this[cfg.name], used[cfg.name] = got["rps"], got["cpus"]
            again.extend([cfg.name] * (got["runs"] - 1))
            if not got["clean"]:
                spoiled.append(cfg.name)
            if cfg.name == "scapula":
                info = capture_info(cfg.out)
                recorder.append({**got, "events": info["events"], "dropped": info["dropped"],
                                 "retries": sum(info.get("retries") or []),
                                 "complete": info["complete"], "per_type": info["counts"]})
        rounds.append(this)
        cpus.append(used)
        foreign.extend(spoiled)
        print_round(r, args.rounds, order, this, used, recorder[-1], again, spoiled)
    return rounds, cpus, recorder, foreign


def print_round(r, total, order, this, used, rec, again, spoiled) -> None:
    names = ("none", "floor", "scapula")
    cells = "; ".join(f"{t} " + " ".join(f"{n} {this[n][t]:,.0f}" for n in names)
                      for t in this["none"])
    print(f"round {r + 1}/{total} ({' '.join(c.name for c in order)}): {cells}\n"
          f"    scapula recorded {rec['events']:,} events, lost {rec['dropped']:,}, woke "
          f"{rec['wakeups']:,} times in {rec['wall']:.1f}s; CPUs used by others: "
          + " ".join(f"{n} {used[n]['others']:.2f}" for n in names)
          + (f"; run again (foreign program on the hooks): {', '.join(again)}" if again else "")
          + (f"; KEPT WITH A FOREIGN PROGRAM ON THE HOOKS: {', '.join(spoiled)}"
             if spoiled else ""), flush=True)


def report(rounds, cpus, recorder, foreign) -> None:
    tests = list(rounds[0]["none"])
    names = ("none", "floor", "scapula")
    roles = ("client", "server", "recorder", "others")
    m = {n: {t: med(r[n][t] for r in rounds) for t in tests} for n in names}
    print(f"\nmedians of {len(rounds)} rounds: requests/s, and CPUs used (CPU-seconds a second) "
          "by redis-benchmark, redis-server, the recorder and every other process")
    print(f"{'':14}" + "".join(f"{t:>10}" for t in tests) + "".join(f"{x:>10}" for x in roles))
    for n in names:
        print(f"{n:14}" + "".join(f"{m[n][t]:10,.0f}" for t in tests)
              + "".join(f"{med(c[n][x] for c in cpus):10.2f}" for x in roles))
    print("\nratios: of the medians / median of per-round ratios")
    print(f"{'':14}" + "".join(f"{t:>16}" for t in tests))
    for line in ratio_table(m, rounds, tests):
        print(line)
    key = {t: med(r["scapula"][t] / r["floor"][t] for r in rounds) for t in tests}
    print("KEY RATIO scapula/floor throughput (median of per-round ratios): "
          + ", ".join(f"{t} {v:.3f}" for t, v in key.items())
          + " (target >= 0.95: within 5% of the floor)")
    report_recorder(recorder)
    if foreign:
        print(f"warning: {len(foreign)} of {3 * len(rounds)} runs were kept although someone "
              f"else's program was on the syscall hooks during each of {MAX_RUNS} tries "
              f"({', '.join(f'{n} {foreign.count(n)}' for n in names if n in foreign)})")


def report_recorder(recorder) -> None:
    """What scapula recorded and lost over all rounds; losses are never left unsaid."""
    events = sum(x["events"] for x in recorder)
    lost = sum(x["dropped"] for x in recorder)
    wall = sum(x["wall"] for x in recorder)
    wakeups = sum(x["wakeups"] for x in recorder)
    top = sorted(recorder[-1]["per_type"].items(), key=lambda kv: -kv[1])[:4]
    print(f"\nscapula recorded {events:,} events in {len(recorder)} runs "
          f"({events / wall:,.0f} events/s of benchmark time), lost {lost:,}, "
          f"ring retries {sum(x['retries'] for x in recorder):,}; the recorder woke "
          f"{wakeups / wall:,.0f} times a second ({events / max(wakeups, 1):,.0f} events per "
          "wake-up)")
    print("last run's events by type: " + ", ".join(f"{k} {v:,}" for k, v in top))
    if lost:
        bad = sum(1 for x in recorder if x["dropped"])
        print(f"WARNING: scapula lost {lost:,} events ({lost / (events + lost):.3%}) "
              f"in {bad} of {len(recorder)} runs")
    if not all(x["complete"] for x in recorder):
        print("WARNING: some capture files were not complete")


if __name__ == "__main__":
    main()
