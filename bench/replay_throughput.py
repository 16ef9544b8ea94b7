"""Replay throughput: events per CPU-second of `replay.run.replay` over a large recorded capture, by rule set and by number of rules, and where the time goes.

1. A capture of at least --events events is recorded once with `scapula record --all
   --follow` while bench/replay_workload.sh runs (a compile, an import-heavy Python
   run, loopback TCP/UDP/unix/HTTP, an archive made, unpacked, searched and copied,
   git, shell pipelines, a command as another user, the demo's shell session). It is
   kept under --data, named after a hash of the workload and the event count, and
   reused while they do not change; what it holds is printed (events per type).
2. It is replayed through the library (replay.run.replay with an Engine, so no
   process start-up is timed) with no rules (state only), scapula's default rules,
   Falco's stable rules, and Falco's three upstream files together; --rounds times
   each, the order rotating every round; medians. Rates are events per second of this
   process's CPU time: the replay is single threaded, so other load on the machine
   does not count against it (the wall-clock time is printed beside it).
3. Scaling: the first N enabled rules of the three files, and N copies of a rule on
   an event type the capture never has (event-type indexing: they should cost
   nothing), against N copies of a rule on its most frequent file-opening type that
   never matches.
4. Where the time goes: seconds per rule with Engine(profile=True), and cProfile of
   one replay with the three files and one with no rules (top functions by own time).

Run as root (recording loads BPF): `make bench-replay` or
`.venv/bin/python bench/replay_throughput.py [--rounds N]`.
"""
import argparse
from collections import Counter
import hashlib
import os
from pathlib import Path
import subprocess
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))
from syscall_overhead import HERE, SCAPULA, cpu_rate, med, profile_top, workdir  # noqa: E402

from scapula.demo import WORKLOAD as DEMO_SESSION  # noqa: E402
from scapula.replay.engine import Engine  # noqa: E402
from scapula.replay.fields import lookup  # noqa: E402
from scapula.replay.reader import Capture  # noqa: E402
from scapula.replay.replay_command import default_rules_path  # noqa: E402
from scapula.replay.rules.loader import load_files, load_text  # noqa: E402
from scapula.replay.run import replay  # noqa: E402
from scapula.schemas import syscalls  # noqa: E402

WORKLOAD = HERE / "replay_workload.sh"
LOOPBACK = HERE / "loopback.py"
UPSTREAM = Path(os.environ.get("SCAPULA_CORPUS", HERE.parent.parent / "shared" / "corpus")) / "rules"
UPSTREAM_FILES = [UPSTREAM / f for f in ("falco_rules.yaml", "falco-incubating_rules.yaml",
                                         "falco-sandbox_rules.yaml")]
TARGET = 300_000   # events/s on one core with the three upstream files (issue 4)
MAX_ROUNDS = 500   # workload rounds; the recorder's --count stops it long before
# Types no workload here makes (module loads, kexec, mounts...); the first one the
# capture lacks carries the "never" rules.
NEVER_TYPES = ("finit_module", "init_module", "kexec_load", "delete_module", "pivot_root",
               "umount2", "mount", "setns", "unshare", "ptrace")


# --- the capture -------------------------------------------------------------

def capture_path(data: Path, events: int) -> Path:
    """Named after what makes it: the workload's files and the event count."""
    h = hashlib.sha256(f"{events}".encode())
    for text in (WORKLOAD.read_bytes(), LOOPBACK.read_bytes(), DEMO_SESSION.encode()):
        h.update(text)
    return data / f"replay-{events}-{h.hexdigest()[:12]}.scapula"


def record_capture(path: Path, events: int) -> None:
    """`scapula record --all --follow --count EVENTS` around the workload's rounds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with workdir() as (tmp, _exe, _target):
        (tmp / "demo.sh").write_text(DEMO_SESSION)
        argv = [str(SCAPULA), "record", "--all", "--follow", "--buffer-size", "64M",
                "--count", str(events), "-w", str(partial), "--",
                "sh", str(WORKLOAD), str(tmp), sys.executable, str(HERE), str(MAX_ROUNDS)]
        print(f"recording {events:,} events of bench/replay_workload.sh into {path} ...",
              flush=True)
        started = time.monotonic()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    summary = next((l for l in proc.stderr.splitlines() if l.startswith("recorded ")), "")
    if proc.returncode not in (0, 143) or not summary:   # 143: the workload, stopped by --count
        sys.exit(f"bench: scapula record failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    print(f"  {summary} (took {time.monotonic() - started:.0f}s)", flush=True)
    with Capture(str(partial)) as cap:
        got = sum(g.n for groups, _ in cap.chunks() for g in groups.values())
    if got < events:
        partial.unlink()
        sys.exit(f"bench: the capture holds {got:,} events, fewer than {events:,}: the "
                 "workload ended early")
    partial.rename(path)


def describe(path: Path) -> tuple[Counter, set[str], dict]:
    """Events per type as the engine sees them (a generic event by its syscall's
    name), the names that are generic, and the capture's facts."""
    counts, generic = Counter(), set()
    span = (float("inf"), 0)
    with Capture(str(path)) as cap:
        for groups, _order in cap.chunks():
            for g in groups.values():
                if g.etype.category == "generic":
                    names = [syscalls.name(nr) or f"syscall {nr}" for nr in g.params["nr"]]
                    counts.update(names)
                    generic.update(names)
                else:
                    counts[g.etype.name] += g.n
                ts = g.cols["ts"]
                span = (min(span[0], min(ts)), max(span[1], max(ts)))
        facts = {"kernel": cap.header.get("kernel"), "processes": len(cap.processes),
                 "fds": len(cap.fds), "dropped": sum(cap.stats.get("drops", [])),
                 "seconds": (span[1] - span[0]) / 1e9}
    return counts, generic, facts


def print_capture(path: Path, counts: Counter, facts: dict, generic: set[str]) -> None:
    total = sum(counts.values())
    print(f"1. capture {path} ({path.stat().st_size / 1e6:.1f} MB): {total:,} events of "
          f"{len(counts)} types in {facts['seconds']:.0f}s, {facts['dropped']} dropped; "
          f"{counts['procexec']:,} execs, {counts['procfork']:,} forks, "
          f"{counts['connect']:,} connects; snapshot {facts['processes']} processes, "
          f"{facts['fds']} fds; recorded with --all on {facts['kernel']}")
    print("  top 10 types (generic: no event of its own, recorded as its number and result):")
    for name, n in counts.most_common(10):
        tag = " (generic)" if name in generic else ""
        print(f"    {name + tag:<22}{n:>10,}  {100 * n / total:5.1f}%")


# --- rule sets ---------------------------------------------------------------

def known(name: str) -> bool:
    return lookup(name) is not None


def loaded(paths) -> list:
    ruleset = load_files([str(p) for p in paths], known_field=known)
    if not ruleset.ok:
        sys.exit(f"bench: {ruleset.errors[0]}")
    return ruleset.enabled_rules()


def copies(n: int, etype: str, test: str) -> list:
    """n rules alike but for their names: `evt.type = ETYPE and TEST`."""
    text = "".join(
        f"- rule: copy {i}\n  desc: bench\n  condition: evt.type = {etype} and {test}\n"
        f"  output: copy {i} %proc.name %fd.name\n  priority: WARNING\n" for i in range(n))
    ruleset = load_text(text, "<bench>", known_field=known)
    if not ruleset.ok:
        sys.exit(f"bench: {ruleset.errors[0]}")
    return ruleset.enabled_rules()


# --- measuring ---------------------------------------------------------------

def run(path: Path, engine: Engine | None):
    stats = replay([str(path)], engine, lambda alert, ctx: None)
    return stats.events, stats


def rounds(configs: dict, path: Path, n: int, title: str) -> dict:
    """Each configuration once a round, the order rotating; per configuration the
    CPU-time rates, wall seconds and the last run's stats."""
    names = list(configs)
    out = {name: {"rates": [], "wall": []} for name in names}
    for r in range(n):
        order = names[r % len(names):] + names[:r % len(names)]
        line = []
        for name in order:
            wall = time.perf_counter()
            rate, (_events, stats) = cpu_rate(run, path, configs[name])
            out[name]["wall"].append(time.perf_counter() - wall)
            out[name]["rates"].append(rate)
            out[name]["stats"] = stats
            line.append(f"{name} {rate:,.0f}")
        print(f"  {title} round {r + 1}/{n}: " + "; ".join(line) + " ev/s", flush=True)
    return out


def table(configs: dict, results: dict, label: str) -> None:
    print(f"\n  {label:<40}{'rules':>6}{'alerts':>8}{'ev/s (median)':>15}{'min':>10}{'max':>10}"
          f"{'us/event':>10}{'CPU s':>8}{'wall s':>8}")
    for name, engine in configs.items():
        res = results[name]
        rate = med(res["rates"])
        rules = len(engine.compiled) if engine is not None else "-"
        alerts = sum(res["stats"].alerts.values())
        print(f"  {name:<40}{rules:>6}{alerts:>8}{rate:>15,.0f}{min(res['rates']):>10,.0f}"
              f"{max(res['rates']):>10,.0f}{1e6 / rate:>10.2f}{res['stats'].events / rate:>8.2f}"
              f"{med(res['wall']):>8.2f}")
    for name in configs:
        alerts = results[name]["stats"].alerts
        if alerts:
            print(f"  alerts of {name}: " + ", ".join(
                f"{rule} ({n})" for rule, n in sorted(alerts.items(), key=lambda kv: -kv[1])))


def rule_profile(path: Path, rules, top: int) -> None:
    engine = Engine(rules, profile=True)
    t0 = time.process_time()
    stats = replay([str(path)], engine, lambda alert, ctx: None)
    cpu = time.process_time() - t0
    in_rules = sum(c.seconds for c in engine.compiled)
    evaluated = sum(c.evaluations for c in engine.compiled)
    print(f"  one replay with Engine(profile=True): {cpu:.2f} CPU s for {stats.events:,} events; "
          f"{in_rules:.2f} s inside rule conditions ({evaluated:,} evaluations, "
          f"{evaluated / stats.events:.2f} per event; the engine times rules by the wall "
          "clock, and the timer itself adds to both)")
    print(f"  {'seconds':>8}{'share':>7}{'evaluations':>13}{'us/eval':>9}{'matches':>9}  rule")
    for c in sorted(engine.compiled, key=lambda c: -c.seconds)[:top]:
        us = 1e6 * c.seconds / c.evaluations if c.evaluations else 0
        print(f"  {c.seconds:8.3f}{100 * c.seconds / in_rules:6.1f}%{c.evaluations:>13,}"
              f"{us:9.2f}{c.matches:>9,}  {c.rule.name}")


# --- main --------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_200_000, help="events in the capture")
    ap.add_argument("--data", type=Path, default=Path("/var/tmp/scapula-bench"),
                    help="folder of the cached capture")
    ap.add_argument("--capture", type=Path, help="replay this capture instead")
    ap.add_argument("--recapture", action="store_true", help="record the capture again")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the rule-set comparison")
    ap.add_argument("--scale-rounds", type=int, default=3, help="rounds of the scaling runs")
    ap.add_argument("--sizes", default="10,25,50,100", help="first-N-rules sizes (0 and all added)")
    ap.add_argument("--copies", default="10,100,1000", help="numbers of copied rules")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    args = ap.parse_args()

    path = args.capture or capture_path(args.data, args.events)
    if args.capture is None and (args.recapture or not path.exists()):
        record_capture(path, args.events)
    elif args.capture is None:
        print(f"reusing {path} (--recapture records it again)")
    counts, generic, facts = describe(path)
    print_capture(path, counts, facts, generic)

    upstream = loaded(UPSTREAM_FILES)
    sets = {
        "no rules (state only)": None,
        "scapula default rules": Engine(loaded([default_rules_path()])),
        "falco_rules.yaml": Engine(loaded(UPSTREAM_FILES[:1])),
        "falco + incubating + sandbox": Engine(upstream),
    }
    print(f"\n2. replay throughput by rule set: events per CPU-second of one core, "
          f"{args.rounds} interleaved rounds, medians ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at the start)")
    results = rounds(sets, path, args.rounds, "rule sets")
    table(sets, results, "rule set")
    three = med(results["falco + incubating + sandbox"]["rates"])
    print(f"\n  three upstream files: {three:,.0f} ev/s on one core, target >= {TARGET:,} "
          f"({three / TARGET:.2f}x of it)")

    if not args.skip_scaling:
        scaling(path, upstream, counts, args)
    if not args.skip_profile:
        print(f"\n4. where the time goes, three upstream files ({len(upstream)} enabled rules)")
        rule_profile(path, upstream, 10)
        print("\n  cProfile of one replay (no per-rule timing), top 15 by own time:")
        top = profile_top(run, path, Engine(upstream), lines=15)
        print(top.replace(str(HERE.parent) + "/", ""))
        print("\n  cProfile of one replay with no rules (reader, state, contexts), top 10:")
        top = profile_top(run, path, None, lines=10)
        print(top.replace(str(HERE.parent) + "/", ""))


def scaling(path: Path, upstream: list, counts: Counter, args) -> None:
    sizes = [0] + [int(s) for s in args.sizes.split(",") if int(s) < len(upstream)]
    configs = {"no Engine (state only)": None}
    configs.update({(f"first {n} rules" if n else "0 rules (an empty Engine)"): Engine(upstream[:n])
                    for n in sizes})
    configs[f"all {len(upstream)} rules"] = Engine(upstream)
    never = next((t for t in NEVER_TYPES if t not in counts), None)
    frequent = max(("openat", "open"), key=lambda t: counts.get(t, 0))
    for n in [int(s) for s in args.copies.split(",")]:
        if never is not None:
            configs[f"{n} x never-seen type ({never})"] = Engine(
                copies(n, never, "proc.name = nothing"))
    for n in [int(s) for s in args.copies.split(",")][:2]:
        configs[f"{n} x {frequent}, never true"] = Engine(
            copies(n, frequent, f"fd.name = /nonexistent/{n}"))
    print(f"\n3. scaling with the number of rules: the first N enabled rules of the three "
          f"files in load order, and N copies of one rule on an event type the capture "
          f"{'never has (' + never + ')' if never else 'has (no absent type found)'} or on "
          f"its {counts.get(frequent, 0):,} {frequent} events; {args.scale_rounds} rounds")
    results = rounds(configs, path, args.scale_rounds, "scaling")
    table(configs, results, "rules")


if __name__ == "__main__":
    main()
