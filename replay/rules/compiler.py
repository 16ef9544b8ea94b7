"""Compiling collected items: lists expanded, conditions parsed, macros resolved,
exceptions added, and the checks Falco makes at that point.

Unlike Falco, which stops at the first error, every rule and macro is compiled
on its own and each broken one is reported: a rule writer sees all of them at
once. A rule using a macro that failed is left out without a second error.
"""
from __future__ import annotations

import re

from scapula.replay.filter import FilterSyntaxError, as_string, parse
from scapula.replay.rules import problems as P
from scapula.replay.rules.analysis import DEPRECATED_FIELDS, Uses, event_types, uses
from scapula.replay.rules.collector import Collector
from scapula.replay.rules.exceptions import with_exceptions
from scapula.replay.rules.falco_fields import is_falco_field
from scapula.replay.rules.lists import CompiledList, compile_lists, expand_lists
from scapula.replay.rules.macros import MacroTable, Resolution
from scapula.replay.rules.model import DEFAULT_SOURCE, ExtraField, ExtraOutput, RuleInfo
from scapula.replay.rules.problems import LoadFailed, Report
from scapula.replay.rules.ruleset import List, Macro, Rule, RuleSet
from scapula.replay.rules.sourcetext import Rewritten, SourcedText

MAX_DEPTH = 1000  # Falco parses rule conditions with this nesting limit
_CONTAINER_INFO = "%container.info"
_OUTPUT_FIELD = re.compile(r"%\(?([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+)")


class Compiler:
    """One compilation of everything a collector holds into a RuleSet."""

    def __init__(self, collector: Collector, report: Report, known_field=None,
                 extra_outputs: tuple[ExtraOutput, ...] = (),
                 extra_fields: tuple[ExtraField, ...] = (), falco_field=is_falco_field):
        self.collector, self.report = collector, report
        self.known_field, self.falco_field = known_field, falco_field
        self.extra_outputs, self.extra_fields = extra_outputs, extra_fields
        self.lists: dict[str, CompiledList] = {}
        self.macros = MacroTable()
        self.macro_uses: dict[str, Uses] = {}
        self.used_macros: set[str] = set()
        self.label = ""

    def compile(self, ruleset: RuleSet) -> None:
        self.lists = compile_lists(self.collector.lists)
        self.compile_macros()
        self.macro_uses = {name: uses(tree, self.known_field)
                           for name, tree in self.macros.trees.items() if tree is not None}
        for info in self.collector.rules.values():
            if not info.unknown_source:
                rule = self.attempt(f"rule '{info.name}'", self.compile_rule, info)
                if rule is not None:
                    ruleset.rules[rule.name] = rule
        self.label = ""
        self.report_unused(ruleset)

    def attempt(self, label: str, compile_item, *args):
        """compile_item(*args), or None when it fails (its error reported under `label`)."""
        self.label = label
        try:
            return compile_item(*args)
        except LoadFailed as e:
            self.report.error(e.code, e.message, e.location, label)
            return None

    # --- conditions ----------------------------------------------------------

    def parse(self, text: SourcedText) -> tuple[object, Rewritten, list[str]]:
        """Lists expanded, then parsed; a syntax error points into the file.
        Returns the tree, the expanded text and the lists it used."""
        rewritten, used = expand_lists(text.text, self.lists)
        for name in used:
            self.lists[name].used = True
        try:
            return parse(rewritten.text, max_depth=MAX_DEPTH), rewritten, used
        except FilterSyntaxError as e:
            idx = e.pos.idx if e.pos is not None else 0
            raise LoadFailed(e.message, text.location(rewritten.original_offset(idx)),
                             P.ERR_COMPILE_CONDITION) from None

    def check_resolution(self, res: Resolution, text: SourcedText, rewritten: Rewritten) -> bool:
        """Raises for an undefined macro or a loop; False if a macro used had failed."""
        for kind, nodes in (("Undefined macro '{}' used in filter.", res.unknown),
                            ("reference loop in macro '{}'", res.loops)):
            if nodes:
                raise LoadFailed(kind.format(nodes[0].name),
                                 self.locate(text, rewritten, nodes[0]), P.ERR_VALIDATE)
        return not res.broken

    @staticmethod
    def locate(text: SourcedText, rewritten: Rewritten, node):
        idx = node.pos.idx if getattr(node, "pos", None) is not None else 0
        return text.location(rewritten.original_offset(idx))

    def compile_macros(self) -> None:
        """All macros parsed first, then resolved in definition order: a macro may
        use the macros that existed when it was last written, earlier ones being
        already resolved by then."""
        infos = self.collector.macros
        parsed = {}
        for info in infos.values():
            parsed[info.name] = self.attempt(f"macro '{info.name}'", self.parse, info.condition)
            self.macros.trees[info.name] = parsed[info.name] and parsed[info.name][0]
        for info in infos.values():
            if parsed[info.name] is None:
                continue
            tree, rewritten, _ = parsed[info.name]
            visibility = info.visibility
            res = self.macros.resolve(tree, lambda n: infos[n].index < visibility)
            complete = self.attempt(f"macro '{info.name}'", self.check_resolution, res,
                                    info.condition, rewritten)
            self.macros.trees[info.name] = res.node if complete else None
            if complete:
                self.macros.closed[info.name] = tuple(dict.fromkeys(res.used))
                self.used_macros.update(res.used)

    def compile_rule(self, info: RuleInfo) -> Rule | None:
        condition = info.condition
        if info.exceptions:
            condition = with_exceptions(condition, info.exceptions)
        output, extra = self.compile_output(info)
        tree, rewritten, used_lists = self.parse(condition)
        res = self.macros.resolve(tree)
        if not self.check_resolution(res, condition, rewritten):
            return None
        self.used_macros.update(res.used)
        found = uses(tree, self.known_field, macro_uses=self.macro_uses)
        for code, findings in ((P.DEPRECATED_ITEM, found.deprecated),
                               (P.COMPILE_CONDITION, found.values)):
            for finding in findings:
                self.warn(code, finding.message, self.locate(condition, rewritten, finding.node))
        enabled = self.fields_known(info, found, output, condition, rewritten)
        if enabled is None:
            return None
        types = event_types(res.node)
        if info.source == DEFAULT_SOURCE and info.warn_evttypes and types.is_all:
            self.warn(P.NO_EVTTYPE, P.WARNING_NO_EVTTYPE, info.location)
        return Rule(
            name=info.name, source=info.source, description=info.desc, priority=info.priority,
            enabled=info.enabled and enabled, tags=tuple(sorted(info.tags)),
            condition=info.condition.text, output=info.output.text, condition_ast=res.node,
            condition_compiled=as_string(res.node), output_compiled=output,
            event_types=types, location=info.location, extra_fields=extra,
            macros=tuple(dict.fromkeys(res.used)), lists=tuple(used_lists),
            fields=frozenset(found.fields), warn_evttypes=info.warn_evttypes,
            skip_if_unknown_filter=info.skip_if_unknown_filter, capture=info.capture,
            capture_duration=info.capture_duration)

    def fields_known(self, info: RuleInfo, found, output: str, condition, rewritten) -> bool | None:
        """The field hook: True when every field is known. A field no Falco defines
        is an error, as in Falco; one that Falco has and scapula lacks is a warning,
        and False (load the rule disabled). With skip-if-unknown-filter either is a
        warning, and None (leave the rule out)."""
        if self.known_field is None:
            return True
        unknown = [(n, node) for n, node in found.fields.items() if not self.known_field(n)]
        unknown += [(n, None) for n in sorted(_output_fields(output)) if not self.known_field(n)]
        if not unknown:
            return True
        nowhere = [(n, node) for n, node in unknown if not self.falco_field(n)]
        name, node = (nowhere or unknown)[0]
        where = self.locate(condition, rewritten, node) if node else \
            info.output.location(max(0, info.output.text.find(name)))
        if info.skip_if_unknown_filter:
            self.warn(P.UNKNOWN_FILTER, f"nonexistent field '{name}': the rule is skipped "
                      "(skip-if-unknown-filter)", where)
            return None
        if nowhere:
            code = P.ERR_COMPILE_CONDITION if node else P.ERR_COMPILE_OUTPUT
            raise LoadFailed(f"filter_check called with nonexistent field {name}", where, code)
        self.warn(P.UNKNOWN_FILTER, f"field '{name}' needs data scapula does not have: "
                  "the rule is loaded disabled", where)
        return False

    # --- outputs -------------------------------------------------------------

    def compile_output(self, info: RuleInfo) -> tuple[str, dict[str, str]]:
        """The output with extra outputs appended, %container.info dropped (the
        container plugin adds its fields itself now), and deprecated fields flagged."""
        output = info.output.text
        for extra in self.extra_outputs:
            if extra.selects(info):
                output = f"{output} {extra.format}"
        if _CONTAINER_INFO in output:
            self.warn(P.DEPRECATED_ITEM, "%container.info is deprecated and no more useful, and "
                      "will be dropped by Falco 1.0.0. The container plugin will automatically "
                      "add required fields to the output message.", info.location)
            output = output.replace(_CONTAINER_INFO, "")
        fields = {f.key: f.format for f in self.extra_fields if f.selects(info)}
        for text in (output, *fields.values()):
            for name in sorted(_output_fields(text) & set(DEPRECATED_FIELDS)):
                self.warn(P.DEPRECATED_ITEM, f"usage of deprecated field '{name}' has been "
                          "detected in the rule output",
                          info.output.location(max(0, info.output.text.find(name))))
        return output, fields

    # --- the end -------------------------------------------------------------

    def warn(self, code: str, message: str, location) -> None:
        self.report.warn(code, message, location, self.label)

    def report_unused(self, ruleset: RuleSet) -> None:
        for info in self.collector.macros.values():
            used = info.name in self.used_macros
            if not used:
                self.report.warn(P.UNUSED_MACRO, "Macro not referred to by any other rule/macro",
                                 info.location, f"macro '{info.name}'")
            ruleset.macros[info.name] = Macro(info.name, info.condition.text,
                                              self.macros.trees.get(info.name), used,
                                              info.location)
        for info in self.collector.lists.values():
            compiled = self.lists[info.name]
            if not compiled.used:
                self.report.warn(P.UNUSED_LIST, "List not referred to by any other rule/macro",
                                 info.location, f"list '{info.name}'")
            ruleset.lists[info.name] = List(info.name, tuple(compiled.items),
                                            tuple(compiled.lists), compiled.used, info.location)


def _output_fields(output: str) -> set[str]:
    return set(_OUTPUT_FIELD.findall(output))

