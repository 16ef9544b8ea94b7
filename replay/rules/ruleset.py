"""The loaded rule set: compiled rules, macros and lists, and every problem met."""
from __future__ import annotations

from dataclasses import dataclass, field

from scapula.replay.filter import ast
from scapula.replay.rules.analysis import EventTypes
from scapula.replay.rules.model import PluginRequirement, Priority
from scapula.replay.rules.problems import Problem, Problems, RulesError
from scapula.replay.rules.source import Location


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    description: str
    priority: Priority
    enabled: bool
    tags: tuple[str, ...]
    condition: str              # as written, appends joined
    output: str                 # as written, appends joined
    condition_ast: ast.Node     # lists expanded, macros resolved, exceptions added
    condition_compiled: str     # as_string(condition_ast): Falco's condition_compiled
    output_compiled: str        # with extra outputs appended
    event_types: EventTypes
    location: Location | None = None
    extra_fields: dict[str, str] = field(default_factory=dict)
    macros: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    fields: frozenset[str] = frozenset()
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0


@dataclass(frozen=True)
class Macro:
    name: str
    condition: str
    condition_ast: ast.Node | None   # resolved; None when it did not compile
    used: bool
    location: Location | None = None


@dataclass(frozen=True)
class List:
    name: str
    items: tuple[str, ...]           # other lists' items already in
    lists: tuple[str, ...]           # the lists it took items from
    used: bool
    location: Location | None = None


@dataclass
class RuleSet(Problems):
    """What loading produced. `ok` is False when there is any error; the rules are
    then whatever compiled before loading stopped, and should not be run."""
    rules: dict[str, Rule] = field(default_factory=dict)
    macros: dict[str, Macro] = field(default_factory=dict)
    lists: dict[str, List] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    required_engine_version: str | None = None
    required_plugin_versions: list[list[PluginRequirement]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def enabled_rules(self) -> list[Rule]:
        return [r for r in self.rules.values() if r.enabled]

    def raise_for_errors(self) -> RuleSet:
        if self.errors:
            raise RulesError(self.errors)
        return self

    def describe(self) -> dict:
        """The shape of Falco's `--list`/describe_rule JSON, for tools that read it."""
        return {
            "required_engine_version": self.required_engine_version or "",
            "required_plugin_versions": [[{"name": r.name, "version": r.version} for r in alts]
                                         for alts in self.required_plugin_versions],
            "lists": [{"info": {"name": lst.name, "items": list(lst.items)},
                       "details": {"used": lst.used, "lists": list(lst.lists),
                                   "items_compiled": list(lst.items)}}
                      for lst in self.lists.values()],
            "macros": [{"info": {"name": m.name, "condition": m.condition},
                        "details": {"used": m.used}} for m in self.macros.values()],
            "rules": [_describe_rule(r) for r in self.rules.values()],
        }


def _describe_rule(r: Rule) -> dict:
    return {
        "info": {"name": r.name, "condition": r.condition, "output": r.output,
                 "description": r.description, "priority": str(r.priority), "source": r.source,
                 "enabled": r.enabled, "tags": list(r.tags), "capture": r.capture,
                 "capture_duration": r.capture_duration},
        "details": {"condition_compiled": r.condition_compiled,
                    "output_compiled": r.output_compiled, "macros": list(r.macros),
                    "lists": list(r.lists), "condition_fields": sorted(r.fields),
                    "events": None if r.event_types.is_all else sorted(r.event_types.names)},
    }
