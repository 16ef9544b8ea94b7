"""`scapula replay`: captures judged by Falco rules, alerts printed as Falco prints them."""
import json
import sys

import click

from scapula.console import RULES_FILE, clean_errors, warn
from scapula.errors import InputError, UsageError
from scapula.replay.commands import iso
from scapula.replay.engine import Engine
from scapula.replay.fields import lookup
from scapula.replay.run import check_paths, event_filter, replay

PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational",
              "info", "debug")


def default_rules_path() -> str:
    """scapula's own rules (replay/default_rules.yaml, shipped with the package)."""
    from importlib import resources
    return str(resources.files("scapula.replay").joinpath("default_rules.yaml"))


def load_rules(paths):
    """The rules files, loaded in order; a file with errors is bad input (exit 3)."""
    from scapula.replay.rules.loader import load_files
    ruleset = load_files(paths, known_field=lambda name: lookup(name) is not None)
    for p in ruleset.warnings:   # "FILE:L:C: warning: ...", said once
        click.echo(f"scapula: {p}", err=True)
    if not ruleset.ok:
        for p in ruleset.errors[1:]:
            click.echo(f"scapula: {p}", err=True)
        raise InputError(str(ruleset.errors[0]))
    return ruleset


def engine_for(ruleset, profile: bool = False) -> Engine:
    """The rules compiled to run; a rule that cannot (wrong operator for its field's
    type, a value that does not fit) makes the file bad input (exit 3)."""
    engine = Engine(ruleset.enabled_rules(), profile=profile)
    if engine.errors:
        for e in engine.errors[1:]:
            click.echo(f"scapula: {e}", err=True)
        raise InputError(engine.errors[0])
    return engine


def parse_time(text: str | None, option: str) -> int | None:
    """--since/--until: ns since the epoch, or an ISO 8601 time (UTC unless it says)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    from datetime import datetime, timezone
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text}: not a time (ns since the epoch or ISO 8601, "
                         "e.g. 2026-11-22T10:00:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


@click.command("replay")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-r", "--rules", "rule_files", multiple=True, type=RULES_FILE,
              help="Rules file (repeat; loaded in order). Default: scapula's own rules.")
@click.option("--since", metavar="TIME", help="Judge only events at or after TIME (ns or ISO 8601); "
              "earlier ones still build the state.")
@click.option("--until", metavar="TIME", help="Only events at or before TIME.")
@click.option("--filter", "expr", metavar="EXPR", help="Judge only events matching EXPR.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines with the output fields.")
@click.option("--fail-on", type=click.Choice(PRIORITIES, case_sensitive=False),
              help="Exit 1 when an alert at or above this priority fires.")
@click.option("--profile", is_flag=True, help="Print time spent per rule.")
@clean_errors
def replay_command(files, rule_files, since, until, expr, as_json, fail_on, profile):
    """Judge captures with Falco rules, offline.

    \b
    Exit codes: 0 ok, 1 an alert at or above --fail-on, 2 usage, 3 bad input
    (a damaged capture or a rules file with errors)."""
    check_paths(files)
    ruleset = load_rules(rule_files or [default_rules_path()])
    engine = engine_for(ruleset, profile=profile)
    keep = event_filter(expr)
    from scapula.replay.rules.model import Priority
    threshold = Priority.parse(fail_on) if fail_on else None
    failed = []

    def on_alert(alert, ctx):
        if threshold is not None and alert.priority <= threshold:
            failed.append(alert)
        if as_json:
            click.echo(json.dumps({
                "time": iso(alert.ts), "priority": str(alert.priority), "rule": alert.rule,
                "output": alert.output, "hostname": ctx.header.get("host"),
                "tags": sorted(alert.tags), "output_fields": {
                    k: v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
                    for k, v in alert.fields.items()}}, default=str))
        else:
            click.echo(alert_line(alert))

    progress = _progress if sys.stderr.isatty() else None
    stats = replay(list(files), engine, on_alert, since=parse_time(since, "--since"),
                   until=parse_time(until, "--until"), keep=keep, progress=progress)
    for w in stats.warnings:
        warn(w)
    _summary(stats, engine, profile)
    if failed:
        sys.exit(1)


def alert_line(alert) -> str:
    """An alert as Falco prints one: time, priority, output."""
    return f"{iso(alert.ts)}: {alert.priority} {alert.output}"


def _progress(num: int, ts: int) -> None:
    sys.stderr.write(f"\r{num:,} events ({iso(ts)}) ")
    sys.stderr.flush()


def _summary(stats, engine, profile: bool) -> None:
    rate = stats.events / stats.seconds if stats.seconds else 0
    total = sum(stats.alerts.values())
    click.echo(f"{'' if not sys.stderr.isatty() else chr(13)}replayed {stats.events:,} events in "
               f"{stats.seconds:.1f}s ({rate:,.0f}/s); {len(engine.compiled)} rules; "
               f"{total} alerts", err=True)
    for rule, n in sorted(stats.alerts.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {n:>6}  {rule}", err=True)
    if profile:
        click.echo("time per rule (evaluations, seconds):", err=True)
        for c in sorted(engine.compiled, key=lambda c: -c.seconds)[:30]:
            if c.evaluations:
                click.echo(f"  {c.seconds:8.3f}s {c.evaluations:>9,}  {c.rule.name}", err=True)
