"""`scapula rules`: validate rules files, list the fields, test rules against captures."""
import json
import sys
from pathlib import Path

import click

from scapula.console import RULES_FILE, clean_errors
from scapula.errors import InputError, UsageError
from scapula.replay.engine import Engine
from scapula.replay.fields import FIELDS_LIST, lookup
from scapula.replay.run import replay


@click.group("rules")
def rules_group():
    """Work with Falco rules files."""


@rules_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=RULES_FILE)
@clean_errors
def validate(files):
    """Load and compile rules files (in order); report every problem.

    Exit 0 when they load, 3 when any has an error."""
    from scapula.replay.rules.loader import load_files
    ruleset = load_files(files, known_field=lambda name: lookup(name) is not None)
    for p in ruleset.problems:
        click.echo(str(p), err=True)
    engine = Engine(ruleset.enabled_rules()) if ruleset.ok else None
    for e in (engine.errors if engine else ()):
        click.echo(e, err=True)
    n_err = len(ruleset.errors) + (len(engine.errors) if engine else 0)
    click.echo(f"{', '.join(files)}: {len(ruleset.rules)} rules "
               f"({len(engine.compiled) if engine else 0} runnable), {len(ruleset.macros)} "
               f"macros, {len(ruleset.lists)} lists; {n_err} errors, "
               f"{len(ruleset.warnings)} warnings")
    if n_err:
        sys.exit(InputError.exit_code)


@rules_group.command("fields")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def fields(as_json):
    """The fields conditions and outputs can use, with their types."""
    if as_json:
        click.echo(json.dumps([{"name": f.name, "type": f.type, "desc": f.desc,
                                "arg": f.arg} for f in FIELDS_LIST], indent=2))
        return
    for f in FIELDS_LIST:
        arg = {"required": "[ARG]", "optional": "[ARG?]"}.get(f.arg, "")
        click.echo(f"{f.name + arg:<44} {f.type:<9} {f.desc}")


@rules_group.command("test")
@click.argument("spec", type=click.Path())
@clean_errors
def test(spec):
    """Run a rules test spec (YAML): capture files, rules files and what must fire.

    \b
    captures: [attack.scapula]        # paths relative to the spec
    rules: [my_rules.yaml]
    expect:
      - rule: Read sensitive file untrusted
        count: 1                      # exactly; or at_least: N; or never: true
        output_fields: {proc.name: cat, fd.name: /etc/shadow}   # for at least one alert
    Exit 0 when every expectation holds, 1 when one fails, 2/3 for a bad spec."""
    from scapula.replay.replay_command import engine_for, load_rules
    spec_data, base = _read_spec(spec)
    captures = [str(base / c) for c in spec_data["captures"]]
    ruleset = load_rules([str(base / r) for r in spec_data["rules"]])
    for i, exp in enumerate(spec_data["expect"], 1):
        if exp["rule"] not in ruleset.rules:   # it would pass as never firing
            raise UsageError(f"{spec}: expectation {i}: no rule named {exp['rule']!r} in "
                             "the rules files")
    engine = engine_for(ruleset)
    fired: dict[str, list] = {}
    replay(captures, engine, lambda alert, ctx: fired.setdefault(alert.rule, []).append(alert))
    failures = 0
    for i, exp in enumerate(spec_data["expect"], 1):
        ok, detail = _check(exp, fired.get(exp["rule"], []))
        if not ruleset.rules[exp["rule"]].enabled:   # its never holds for nothing
            ok, detail = False, "the rule is loaded disabled: it cannot fire"
        failures += not ok
        click.echo(f"{'PASS' if ok else 'FAIL'}  {exp['rule']}: {detail}")
    total = len(spec_data["expect"])
    click.echo(f"{total - failures} passed, {failures} failed")
    if failures:
        sys.exit(1)


def _read_spec(path: str):
    import yaml
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid UTF-8: byte 0x{e.object[e.start]:02X} at "
                         f"offset {e.start}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InputError(f"{path}{where}: not YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a spec is a mapping with captures, rules and expect")
    for key in ("captures", "rules", "expect"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise UsageError(f"{path}: '{key}' must be a non-empty list")
    for i, exp in enumerate(data["expect"], 1):
        if not isinstance(exp, dict) or "rule" not in exp:
            raise UsageError(f"{path}: expectation {i} has no 'rule'")
        unknown = set(exp) - {"rule", "count", "at_least", "never", "output_fields"}
        if unknown:
            raise UsageError(f"{path}: expectation {i}: unknown key(s) {', '.join(sorted(unknown))}")
    return data, Path(path).resolve().parent


def _check(exp: dict, alerts: list) -> tuple[bool, str]:
    n = len(alerts)
    if exp.get("never"):
        return n == 0, f"fired {n} times, expected never"
    if "count" in exp and n != exp["count"]:
        return False, f"fired {n} times, expected {exp['count']}"
    if n < exp.get("at_least", 1 if "count" not in exp else 0):
        return False, f"fired {n} times, expected at least {exp.get('at_least', 1)}"
    wanted = exp.get("output_fields")
    if wanted:
        def matches(alert):
            return all(str(_plain(alert.fields.get(k))) == str(v) for k, v in wanted.items())
        if not any(matches(a) for a in alerts):
            seen = [{k: _plain(a.fields.get(k)) for k in wanted} for a in alerts[:3]]
            return False, f"no alert with output fields {wanted}; saw {seen}"
    return True, f"fired {n} times"


def _plain(value):
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
