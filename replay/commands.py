"""`scapula info` and `scapula print`."""
import json
import time

import click

from scapula.console import clean_errors, warn
from scapula.errors import UsageError
from scapula.replay.event import Event, text
from scapula.replay.reader import Capture
from scapula.replay.summary import summarize
from scapula.schemas import events as schema


def clock(ns: int) -> str:
    """Local wall-clock time with nanoseconds, as sysdig prints it."""
    return time.strftime("%H:%M:%S", time.localtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}"


def iso(ns: int | None) -> str:
    if ns is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + \
        f".{ns % 1_000_000_000:09d}Z"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@clean_errors
def info(file, as_json):
    """Describe a capture: host, time range, events per type, drops."""
    with Capture(file) as cap:
        s = summarize(cap)
    for w in s["warnings"]:
        warn(w)
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    state = "complete" if s["complete"] else ("TRUNCATED" if s["truncated"] else "incomplete")
    click.echo(f"file      {s['file']}  (format {s['format']}, {state})")
    click.echo(f"host      {s['host']}  kernel {s['kernel']}  {s['cpus']} cpus  {s['tool']}")
    click.echo(f"time      {iso(s['first_ns'])} .. {iso(s['last_ns'])}")
    click.echo(f"events    {s['events']}")
    drops = " ".join(f"cpu{i}={d}" for i, d in enumerate(s["drops"]))
    retried = f"; {sum(s['retries'])} outputs needed a second try" if sum(s["retries"]) else ""
    click.echo(f"dropped   {s['dropped']}  ({drops or 'no counts recorded'}{retried})")
    click.echo(f"snapshot  {s['processes']} processes, {s['fds']} open fds")
    config = s["config"]
    syscalls = config.get("syscalls", [])
    every = " and every other as a generic event" if config.get("all") else ""
    io = [n for n in syscalls if n in schema.IO_SYSCALLS]
    snap = f", I/O data up to {config['snaplen']} bytes" if io and "snaplen" in config else ""
    click.echo(f"recorded  {len(syscalls)} syscalls{every}{snap}, buffer "
               f"{config.get('buffer_size')} bytes")
    if s["counts"]:
        click.echo("per type:")
        for name, n in s["counts"].items():
            click.echo(f"  {name:<14} {n}")


# Parameters too long for a readable line; --json keeps them.
TEXT_OMITS = {"envp"}


def event_line(num: int, ev) -> str:
    parts = [str(num), clock(ev.ts), str(ev.cpu), f"{text(ev.comm)} ({ev.tid})", ev.name]
    if ev.etype.returns:
        parts.append(f"res={ev.res}" + (f" {ev.errno}" if ev.errno else ""))
    for p in ev.etype.params:
        if p.derived or p.name in TEXT_OMITS:
            continue
        value = ev.render(p.name)
        absolute = next((d for d in ev.etype.derived if d.source == p.name), None)
        if absolute is not None:
            resolved = ev.param(absolute.name)
            if resolved is not None and resolved != ev.param(p.name):
                value += f"({text(resolved)})"
        if p.name == "nr" and ev.syscall_name:
            value += f"({ev.syscall_name})"
        parts.append(f"{p.name}={value}")
    # one event, one line: control characters a process put in its argv or a file
    # name are shown escaped, not obeyed
    return " ".join(parts).translate(_CONTROLS)


_CONTROLS = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


@click.command("print")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one event each.")
@click.option("--type", "types", multiple=True, metavar="NAME",
              help="Only these event types (repeat or comma-separate).")
@click.option("--pid", "pids", multiple=True, type=int, help="Only these processes (repeatable).")
@click.option("--filter", "expr", metavar="EXPR",
              help="Only events matching EXPR, a condition in Falco's language "
                   "(e.g. \"evt.type=openat and fd.name startswith /etc\").")
@clean_errors
def print_events(file, as_json, types, pids, expr):
    """Print a capture's events, one per line (or JSON lines)."""
    from scapula.replay.run import event_filter
    keep = event_filter(expr)
    wanted = {t.strip() for arg in types for t in arg.split(",") if t.strip()} or None
    if wanted:
        unknown = wanted - set(schema.BY_NAME)
        if unknown:
            raise UsageError(f"--type: unknown event type(s) {', '.join(sorted(unknown))}")
    pid_set = set(pids) or None
    with Capture(file) as cap:
        # each event's number is its place in the capture whatever is left out: evt.num
        # in rule outputs, and seq + 1 in SQL (query's events.seq counts from 0)
        events = _numbered(cap, wanted) if keep is None else _matching(cap, keep, wanted)
        for num, ev in events:
            if pid_set is not None and ev.pid not in pid_set:
                continue
            click.echo(json.dumps({"seq": num - 1, **ev.as_dict()}) if as_json
                       else event_line(num, ev))
        for w in cap.report_warnings():
            warn(w)


def _numbered(cap, wanted):
    for num, (group, i) in enumerate(cap.rows(), 1):
        if wanted is None or group.etype.name in wanted:
            yield num, Event(group, i)


def _matching(cap, keep, wanted):
    """Events matching a --filter condition: every event keeps the state its fields
    read (fd names, process lineage) up to date, only the matches come out."""
    from scapula.replay.fields import Context
    from scapula.replay.state import State
    state = State(cap.processes, cap.fds)
    for num, ev in enumerate(cap.events(), 1):
        state.update(ev)
        if (wanted is None or ev.name in wanted) and keep(Context(ev, state, cap.header, num)):
            yield num, ev
