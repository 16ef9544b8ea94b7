"""The rule engine: compiled rules indexed by event type, run over events in order.

The same engine judges a capture file and a live recording: it is fed events (with
the replay state already updated for each) and returns the alerts they raise.
"""
from dataclasses import dataclass
import re

from scapula.replay import fields as F
from scapula.replay.codegen import compile_rules
from scapula.replay.condition import CompileError, compile_condition

# %field, %field[arg], %evt.arg.name: what an output string interpolates.
_OUTPUT_FIELD = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\[[^\]]*\])?")


@dataclass
class Alert:
    ts: int
    rule: str
    priority: object          # rules.model.Priority
    output: str
    fields: dict              # the output's fields and their values
    tags: tuple
    event: object


class CompiledRule:
    __slots__ = ("rule", "condition", "render", "seconds", "evaluations", "matches")

    def __init__(self, rule, render):
        self.rule, self.condition, self.render = rule, rule.condition_ast, render
        self.seconds = 0.0
        self.evaluations = self.matches = 0


class Engine:
    def __init__(self, rules, known=F.lookup, profile: bool = False):
        """`rules`: loaded rules (rules.ruleset.Rule). A rule whose condition cannot
        run (an operator its field's type does not take, a value that does not fit
        the type) is left out and said in `errors`, with where the rule is: Falco
        refuses such a file, and so do `rules validate` and `replay`."""
        self.errors: list[str] = []
        self.by_type: dict[str, list[CompiledRule]] = {}
        self.any_type: list[CompiledRule] = []
        self.compiled: list[CompiledRule] = []
        self.known, self.profile = known, profile
        for rule in rules:
            try:
                compile_condition(rule.condition_ast, known)   # the checks, with their errors
            except CompileError as e:
                where = f"{rule.location}: " if rule.location else ""
                self.errors.append(f"{where}error: rule '{rule.name}': {e.message}")
                continue
            compiled = CompiledRule(rule, compile_output(rule.output_compiled, known))
            self.compiled.append(compiled)
            types = rule.event_types
            if types.is_all:
                self.any_type.append(compiled)
            else:
                for name in types.names:
                    self.by_type.setdefault(name, []).append(compiled)
        # rules for every type are met by every event: keep them last in each list
        self._for = {name: lst + self.any_type for name, lst in self.by_type.items()}
        self._judges: dict = {}     # event type -> its generated function, made when first met

    def types(self) -> set[str] | None:
        """Event types some rule can match; None when a rule matches any type."""
        return None if self.any_type else set(self.by_type)

    def judge(self, ctx: F.Context) -> list[Alert]:
        ev = ctx.ev
        name = ev.etype.name
        if name == "syscall":
            name = ev.syscall_name
        judge = self._judges.get(name)
        if judge is None:
            judge = self._judges[name] = self._judge_for(name)
        hits = judge(ctx)
        if not hits:
            return hits
        alerts = []
        for c in hits:
            c.matches += 1
            text, values = c.render(ctx)
            r = c.rule
            alerts.append(Alert(ev.ts, r.name, r.priority, text, values, r.tags, ev))
        return alerts

    def _judge_for(self, name):
        rules = self._for.get(name, self.any_type)
        if not rules:
            return _no_rules
        return compile_rules(rules, name, self.known, self.profile)


def _no_rules(ctx):
    return ()


def compile_output(output: str, known=F.lookup):
    """A function ctx -> (text, {field: value}) for a rule's output string. A field
    scapula lacks, or one without a value, reads <NA>, as in Falco."""
    parts, names, getters = [], [], []
    last = 0
    for m in _OUTPUT_FIELD.finditer(output):
        parts.append(output[last:m.start()])
        name, bracket = m.group(1), m.group(2)
        found = known(name)
        arg = bracket[1:-1] if bracket else None
        if found is not None:
            field, dotted = found
            extract, arg = field.extract, arg if arg is not None else dotted
            getters.append(lambda ctx, e=extract, a=arg: e(ctx, a))
        else:
            getters.append(lambda ctx: None)
        names.append(name + (bracket or ""))
        last = m.end()
    tail = output[last:]

    def render(ctx):
        values = {}
        out = []
        for text, name, get in zip(parts, names, getters):
            value = get(ctx)
            values[name] = value
            out.append(text)
            out.append(_show(value))
        out.append(tail)
        return "".join(out), values
    return render


def _show(value) -> str:
    if value is None:
        return "<NA>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, list):
        return ",".join(_show(v) for v in value)
    return str(value)
