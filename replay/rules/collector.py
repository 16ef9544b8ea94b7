"""Merging items as they are read: definitions, appends, overrides, `enabled:`.

Order matters in two ways, both Falco's. A later definition replaces an
earlier one but keeps its place (dicts keep a replaced key where it was), and
every item bumps a counter, so each list or macro knows which others existed
when it was last written ("visibility"): a macro sees only macros defined
before it, a rule sees them all.
"""
from __future__ import annotations

from scapula.replay.rules import exceptions as exc
from scapula.replay.rules import problems as P
from scapula.replay.rules.model import (
    EngineRequirement, ListInfo, MacroInfo, PluginRequirement, RuleInfo, RuleUpdate,
)
from scapula.replay.rules.problems import ERR_VALIDATE, LoadFailed


def _fail(message, location):
    raise LoadFailed(message, location, ERR_VALIDATE)


class Collector:
    """Every list, macro and rule read so far, merged, in definition order."""

    def __init__(self, sources: frozenset[str], warn):
        self.sources = sources
        self.warn = warn  # warn(code, message, location, item)
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.engine_requirements: list[EngineRequirement] = []
        self.plugin_requirements: list[list[PluginRequirement]] = []
        self._counter = 0

    def _tick(self) -> int:
        self._counter += 1
        return self._counter - 1

    def _define(self, table: dict, info) -> None:
        tick = self._tick()
        prev = table.get(info.name)
        info.index = prev.index if prev else tick
        info.visibility = tick
        table[info.name] = info

    # --- lists and macros ----------------------------------------------------

    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info)

    def append_list(self, info: ListInfo) -> None:
        prev = self.lists.get(info.name)
        if prev is None:
            _fail(P.ERROR_NO_PREVIOUS_LIST, info.location)
        prev.items = prev.items + info.items
        prev.visibility = self._tick()

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info)

    def append_macro(self, info: MacroInfo) -> None:
        prev = self.macros.get(info.name)
        if prev is None:
            _fail(P.ERROR_NO_PREVIOUS_MACRO, info.location)
        prev.condition = prev.condition.joined(info.condition)
        prev.visibility = self._tick()

    # --- rules ---------------------------------------------------------------

    def define_rule(self, info: RuleInfo) -> None:
        prev = self.rules.get(info.name)
        if prev is not None and prev.source != info.source:
            _fail(P.ERROR_SOURCE_CHANGED, info.location)
        if info.source not in self.sources:
            info.unknown_source = True
            self.warn(P.UNKNOWN_SOURCE, f"Unknown source {info.source}, skipping",
                      info.location, f"rule '{info.name}'")
        for ex in info.exceptions:
            exc.validate(ex)
        self._define(self.rules, info)

    def _previous_rule(self, update: RuleUpdate, missing: str, empty: str) -> RuleInfo:
        prev = self.rules.get(update.name)
        if prev is None:
            _fail(missing, update.location)
        if update.source and update.source != prev.source:
            _fail(P.ERROR_SOURCE_CHANGED, update.location)
        if not update.has_any_value():
            _fail(empty, update.location)
        return prev

    def append_rule(self, update: RuleUpdate) -> None:
        prev = self._previous_rule(update, P.ERROR_NO_PREVIOUS_RULE_APPEND,
                                   "Appended rule must have exceptions or condition property")
        if update.condition is not None and update.condition.text:
            prev.condition = prev.condition.joined(update.condition)
        if update.output is not None and update.output.text:
            prev.output = prev.output.joined(update.output)
        if update.desc:
            prev.desc = f"{prev.desc} {update.desc}"
        if update.tags is not None:
            prev.tags = prev.tags | update.tags
        for ex in update.exceptions or ():
            self._append_exception(prev, ex)
        prev.visibility = self._tick()

    @staticmethod
    def _append_exception(rule: RuleInfo, ex) -> None:
        old = next((e for e in rule.exceptions if e.name == ex.name), None)
        if old is None:
            if not ex.fields.is_valid:
                _fail("Rule exception must have fields property with a list of fields", ex.location)
            if not ex.values:
                _fail("Rule exception must have values property with a list of values", ex.location)
            exc.validate(ex)
            rule.exceptions.append(ex)
            return
        if ex.fields.is_valid:
            _fail("Can not append exception fields to existing exception, only values", ex.location)
        if ex.comps.is_valid:
            _fail("Can not append exception comps to existing exception, only values", ex.location)
        old.values = old.values + ex.values

    def replace_rule(self, update: RuleUpdate) -> None:
        prev = self._previous_rule(update, P.ERROR_NO_PREVIOUS_RULE_REPLACE,
                                   "The rule must have at least one field that can be replaced")
        for ex in update.exceptions or ():
            exc.validate(ex)
        for attr in ("condition", "output", "desc", "tags", "exceptions", "priority", "enabled",
                     "warn_evttypes", "skip_if_unknown_filter", "capture", "capture_duration"):
            value = getattr(update, attr)
            if value is not None:
                setattr(prev, attr, value)
        prev.visibility = self._tick()

    def enable_rule(self, name: str, enabled: bool, location) -> None:
        prev = self.rules.get(name)
        if prev is None:
            _fail("Rule has 'enabled' key but no rule by that name already exists", location)
        prev.enabled = enabled

    # --- requirements --------------------------------------------------------

    def require_engine(self, req: EngineRequirement) -> None:
        self.engine_requirements.append(req)

    def require_plugins(self, alternatives: list[PluginRequirement], location) -> None:
        names = set()
        for req in alternatives:
            if parse_version(req.version) is None:
                _fail(f"Invalid required version '{req.version}' for plugin '{req.name}'", location)
            if req.name in names:
                _fail(f"Defined multiple alternative version requirements for plugin '{req.name}'",
                      location)
            names.add(req.name)
        self.plugin_requirements.append(alternatives)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """"x.y.z" (a pre-release or build suffix allowed and ignored), or None."""
    core = text.strip().split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])
