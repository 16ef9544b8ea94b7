"""Reading one rules file: every item checked for shape and handed to the collector.

Like Falco, reading a file stops at its first error: the items after a broken
one often depend on it, and a cascade of follow-on errors hides the real one.
Warnings (unknown keys, deprecated forms, odd names) never stop anything.
"""
from __future__ import annotations

import re

from yaml.nodes import Node, ScalarNode

from scapula.replay.rules import problems as P
from scapula.replay.rules.collector import Collector, parse_version
from scapula.replay.rules.model import (
    APPENDABLE_RULE_KEYS, DEFAULT_SOURCE, REPLACEABLE_RULE_KEYS, EngineRequirement, Entry,
    ExceptionInfo, ListInfo, MacroInfo, PluginRequirement, Priority, RuleInfo, RuleUpdate,
)
from scapula.replay.rules.problems import LoadFailed, Report
from scapula.replay.rules.source import (
    Source, YamlSyntaxError, duplicate_keys, is_mapping, is_null, is_sequence, keyed, to_bool,
    to_uint32,
)
from scapula.replay.rules.sourcetext import SourcedText

# The names the condition grammar can refer to (libsinsp's identifier and bare string).
MACRO_NAME = "([a-zA-Z]+[a-zA-Z0-9_]*)"
LIST_NAME = "([^()\"'[:space:]=,]+)"
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME = re.compile(r"[^()\"'\s=,]+")

RULE_KEYS = frozenset({"rule", "append", "override", "source", *REPLACEABLE_RULE_KEYS})
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
LIST_KEYS = frozenset({"list", "items", "append", "override"})
EXCEPTION_KEYS = frozenset({"name", "fields", "comps", "values"})
PLUGIN_KEYS = frozenset({"name", "version", "alternatives"})


class Item:
    """One YAML mapping with typed access to its keys, failing with Falco's messages."""

    def __init__(self, source: Source, node: Node):
        self.source, self.node = source, node
        self.entries = keyed(node)
        self.location = source.at(node)

    def has(self, key: str) -> bool:
        return key in self.entries

    def value_node(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def at(self, node: Node):
        return self.source.at(node)

    def scalar(self, key: str, required: bool = True) -> ScalarNode | None:
        entry = self.entries.get(key)
        if entry is None:
            if required:
                raise LoadFailed(f"Item has no mapping for key '{key}'", self.location)
            return None
        key_node, value = entry
        if is_null(value):
            raise LoadFailed(f"Mapping for key '{key}' is empty", self.at(key_node))
        if not isinstance(value, ScalarNode):
            raise LoadFailed("Value is not a scalar value", self.at(value))
        if value.value == "":
            raise LoadFailed("Value must be non-empty", self.at(value))
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        node = self.scalar(key, required)
        return None if node is None else node.value

    def sourced(self, key: str) -> SourcedText:
        return SourcedText.scalar(self.source, self.scalar(key))

    def boolean(self, key: str, required: bool = False) -> bool | None:
        return self._decoded(key, required, to_bool)

    def uint(self, key: str) -> int | None:
        return self._decoded(key, False, to_uint32)

    def _decoded(self, key, required, decode):
        node = self.scalar(key, required)
        if node is None:
            return None
        value = decode(node.value)
        if value is None:
            raise LoadFailed("Can't decode YAML scalar value", self.at(node))
        return value

    def strings(self, key: str, required: bool) -> list[str] | None:
        entry = self.entries.get(key)
        if entry is None:
            if required:
                raise LoadFailed(f"Item has no mapping for key '{key}'", self.location)
            return None
        seq = entry[1]
        if not is_sequence(seq):
            raise LoadFailed("Value is not a sequence", self.at(seq))
        out = []
        for v in seq.value:
            if not isinstance(v, ScalarNode) or is_null(v):
                raise LoadFailed("sequence value is not scalar", self.at(v))
            out.append(v.value)
        return out


class Reader:
    """Reads files into one collector, reporting problems as it goes."""

    def __init__(self, collector: Collector, report: Report):
        self.collector, self.report = collector, report
        self.label = ""  # the item being read, e.g. "rule 'x'", for messages

    def read(self, source: Source) -> bool:
        """Reads one file; False if it had an error (and was not read further)."""
        self.report.sources[source.name] = source
        try:
            documents = source.documents()
        except YamlSyntaxError as e:
            self.report.error(P.ERR_YAML_PARSE, e.message, e.location)
            return False
        for doc in documents:
            if doc is None or is_null(doc):
                continue
            try:
                if not is_sequence(doc):
                    raise LoadFailed("Rules content is not yaml array of objects", source.at(doc))
                for node in doc.value:
                    if not is_null(node):
                        self.label = ""
                        self.read_item(source, node)
            except LoadFailed as e:
                self.report.error(e.code, e.message, e.location, self.label)
                return False
        return True

    def warn(self, code: str, message: str, location) -> None:
        self.report.warn(code, message, location, self.label)

    def check_keys(self, item: Item, allowed: frozenset[str]) -> None:
        for key, (key_node, _) in item.entries.items():
            if key not in allowed:
                self.warn(P.UNKNOWN_KEY, f"Unknown key '{key}'", item.at(key_node))
        for key_node in duplicate_keys(item.node):
            self.warn(P.DUPLICATE_KEY, f"Duplicate key '{key_node.value}': the first one is used",
                      item.at(key_node))

    def read_item(self, source: Source, node: Node) -> None:
        if not is_mapping(node):
            raise LoadFailed("Unexpected element type. Each element should be a yaml "
                             "associative array.", source.at(node))
        item = Item(source, node)
        if item.has("required_engine_version"):
            self.read_engine_version(item)
        elif item.has("required_plugin_versions"):
            self.read_plugin_versions(item)
        elif item.has("list"):
            self.read_list(item)
        elif item.has("macro"):
            self.read_macro(item)
        elif item.has("rule"):
            self.read_rule(item)
        else:
            self.warn(P.UNKNOWN_ITEM, "Unknown top level item", item.location)

    # --- versions ------------------------------------------------------------

    def read_engine_version(self, item: Item) -> None:
        text = item.text("required_engine_version")
        number = to_uint32(text) if text.isdigit() else None
        version = (0, number, 0) if number is not None else parse_version(text)
        if version is None:
            raise LoadFailed(f"Unable to parse engine version '{text}' as a semver string. "
                             "Expected \"x.y.z\" semver format.", item.location)
        self.collector.require_engine(EngineRequirement(version, text, item.location))

    def read_plugin_versions(self, item: Item) -> None:
        seq = item.value_node("required_plugin_versions")
        if not is_sequence(seq):
            raise LoadFailed("Value of required_plugin_versions must be a sequence", item.at(seq))
        for node in seq.value:
            if not is_mapping(node):
                raise LoadFailed("Plugin version must be a mapping", item.at(node))
            plugin = Item(item.source, node)
            alternatives = [PluginRequirement(plugin.text("name"), plugin.text("version"))]
            more = plugin.value_node("alternatives")
            if more is not None:
                if not is_sequence(more):
                    raise LoadFailed("Value of plugin version alternatives must be a sequence",
                                     plugin.location)
                for alt in more.value:
                    if not is_mapping(alt):
                        raise LoadFailed("Plugin version alternative must be a mapping",
                                         item.at(alt))
                    alt_item = Item(item.source, alt)
                    alternatives.append(PluginRequirement(alt_item.text("name"),
                                                          alt_item.text("version")))
            self.check_keys(plugin, PLUGIN_KEYS)
            self.collector.require_plugins(alternatives, plugin.location)

    # --- lists and macros ----------------------------------------------------

    def read_append_flag(self, item: Item) -> bool:
        append = bool(item.boolean("append"))
        if append:
            self.warn(P.DEPRECATED_ITEM, P.WARNING_APPEND, item.location)
        return append

    def read_overrides(self, item: Item, appendable, replaceable) -> tuple[set[str], set[str]]:
        node = item.value_node("override")
        appends, replaces = set(), set()
        if node is None:
            return appends, replaces
        if not is_mapping(node):
            raise LoadFailed("Value of 'override' must be a mapping of keys to 'append' or "
                             "'replace'", item.at(node))
        for key_node, op_node in node.value:
            key, op = key_node.value, getattr(op_node, "value", "")
            if op == "append":
                if key not in appendable:
                    raise LoadFailed(f"Key '{key}' cannot be appended to, use 'replace' instead"
                                     if key in replaceable else f"Key '{key}' cannot be overridden",
                                     item.at(key_node))
                appends.add(key)
            elif op == "replace":
                if key not in replaceable:
                    raise LoadFailed(f"Key '{key}' cannot be replaced", item.at(key_node))
                replaces.add(key)
            else:
                allowed = [w for w, keys in (("append", appendable), ("replace", replaceable))
                           if key in keys]
                raise LoadFailed(f"Invalid override operation for key '{key}': '{op}'. "
                                 f"Allowed values are: {', '.join(allowed) or 'none'}",
                                 item.at(op_node))
        return appends, replaces

    def read_list(self, item: Item) -> None:
        name = item.text("list")
        self.label = f"list '{name}'"
        if not _LIST_NAME.fullmatch(name):
            self.warn(P.INVALID_LIST_NAME, P.WARNING_INVALID_LIST_NAME + LIST_NAME, item.location)
        info = ListInfo(name, item.strings("items", required=True), item.location)
        if self.merges(item, "items"):
            self.collector.append_list(info)
        else:
            self.collector.define_list(info)

    def read_macro(self, item: Item) -> None:
        name = item.text("macro")
        self.label = f"macro '{name}'"
        if not _MACRO_NAME.fullmatch(name):
            self.warn(P.INVALID_MACRO_NAME, P.WARNING_INVALID_MACRO_NAME + MACRO_NAME,
                      item.location)
        info = MacroInfo(name, item.sourced("condition"), item.location)
        if self.merges(item, "condition"):
            self.collector.append_macro(info)
        else:
            self.collector.define_macro(info)

    def merges(self, item: Item, key: str) -> bool:
        """For a list or macro (one value each): is this item an append to an earlier one?
        A `replace` override is the same as a new definition."""
        append = self.read_append_flag(item)
        appends, replaces = self.read_overrides(item, {key}, {key})
        if append and (appends or replaces):
            raise LoadFailed(P.ERROR_OVERRIDE_APPEND, item.location)
        self.check_keys(item, LIST_KEYS if key == "items" else MACRO_KEYS)
        return append or key in appends

    # --- rules ---------------------------------------------------------------

    def read_rule(self, item: Item) -> None:
        name = item.text("rule")
        self.label = f"rule '{name}'"
        append = self.read_append_flag(item)
        appends, replaces = self.read_overrides(item, APPENDABLE_RULE_KEYS, REPLACEABLE_RULE_KEYS)
        if append and (appends or replaces):
            raise LoadFailed(P.ERROR_OVERRIDE_APPEND, item.location)
        self.check_keys(item, RULE_KEYS)
        if appends or replaces:
            self.read_rule_override(item, name, appends, replaces)
        elif append:
            update = RuleUpdate(name, item.location, source=self.update_source(item))
            if item.has("condition"):
                update.condition = item.sourced("condition")
            if item.has("exceptions"):
                update.exceptions = self.read_exceptions(item, appending=True)
            self.collector.append_rule(update)
        elif not any(item.has(k) for k in ("condition", "output", "desc", "priority")):
            enabled = item.boolean("enabled", required=True)
            self.warn(P.DEPRECATED_ITEM, P.WARNING_ENABLED, item.location)
            self.collector.enable_rule(name, enabled, item.location)
        else:
            self.collector.define_rule(self.read_full_rule(item, name))

    @staticmethod
    def update_source(item: Item) -> str | None:
        """An append or override may restate the source; empty means "unchanged"."""
        node = item.value_node("source")
        if isinstance(node, ScalarNode) and not is_null(node) and node.value:
            return node.value
        return None

    def read_full_rule(self, item: Item, name: str) -> RuleInfo:
        rule = RuleInfo(name, item.location)
        rule.condition = item.sourced("condition")
        rule.output = item.sourced("output").stripped()
        rule.desc = item.text("desc")
        rule.priority = self.read_priority(item)
        rule.source = item.text("source", required=False) or DEFAULT_SOURCE
        for key, attr in (("enabled", "enabled"), ("warn_evttypes", "warn_evttypes"),
                          ("skip-if-unknown-filter", "skip_if_unknown_filter"),
                          ("capture", "capture")):
            value = item.boolean(key)
            if value is not None:
                setattr(rule, attr, value)
        rule.capture_duration = item.uint("capture_duration") or 0
        rule.tags = set(item.strings("tags", required=False) or ())
        rule.exceptions = self.read_exceptions(item, appending=False)
        return rule

    @staticmethod
    def read_priority(item: Item) -> Priority:
        node = item.scalar("priority")
        priority = Priority.parse(node.value)
        if priority is None:
            raise LoadFailed(f"Invalid priority '{node.value}' (expected one of Emergency, "
                             "Alert, Critical, Error, Warning, Notice, Informational, Debug)",
                             item.at(node))
        return priority

    def read_rule_override(self, item: Item, name: str, appends: set, replaces: set) -> None:
        expected = {k for k in REPLACEABLE_RULE_KEYS if item.has(k)}
        for kind, keys in (("append", appends), ("replace", replaces)):
            if not keys:
                continue
            update = RuleUpdate(name, item.location, source=self.update_source(item))
            for key in REPLACEABLE_RULE_KEYS:
                if key not in keys:
                    continue
                if key not in expected:
                    article = "An" if kind == "append" else "A"
                    raise LoadFailed(f"{article} {kind} override for '{key}' was specified but "
                                     f"'{key}' is not defined", item.location)
                expected.discard(key)
                setattr(update, REPLACEABLE_RULE_KEYS[key],
                        self.read_rule_value(item, key, appending=kind == "append"))
            if kind == "append":
                self.collector.append_rule(update)
            else:
                self.collector.replace_rule(update)
        if expected:
            key = min(expected)
            raise LoadFailed(f"Unexpected key '{key}': no corresponding entry under 'override' "
                             "is defined.", item.at(item.entries[key][0]))

    def read_rule_value(self, item: Item, key: str, appending: bool):
        if key in ("condition", "output"):
            return item.sourced(key)
        if key == "desc":
            return item.text(key)
        if key == "tags":
            return set(item.strings(key, required=False) or ())
        if key == "exceptions":
            return self.read_exceptions(item, appending)
        if key == "priority":
            return self.read_priority(item)
        if key == "capture_duration":
            return item.uint(key)
        return item.boolean(key, required=True)

    # --- exceptions ----------------------------------------------------------

    def read_exceptions(self, item: Item, appending: bool) -> list[ExceptionInfo]:
        """fields may be left out only when appending values to an existing exception."""
        seq = item.value_node("exceptions")
        if seq is None or is_null(seq):
            return []
        if not is_sequence(seq):
            raise LoadFailed("Rule exceptions must be a sequence", item.at(seq))
        out: list[ExceptionInfo] = []
        for node in seq.value:
            if not is_mapping(node):
                raise LoadFailed("Rule exception must be a mapping", item.at(node))
            ex_item = Item(item.source, node)
            ex = ExceptionInfo(ex_item.text("name"), ex_item.location)
            if any(e.name == ex.name for e in out):
                self.warn(P.EXCEPTION_NAME_NOT_UNIQUE,
                          f"Multiple definitions of exception '{ex.name}' in the same rule",
                          ex.location)
            ex.fields = self.read_entry(ex_item, "fields", required=not appending)
            ex.comps = self.read_entry(ex_item, "comps", required=False)
            values = ex_item.value_node("values")
            if values is not None:
                if not is_sequence(values):
                    raise LoadFailed("Rule exception values must be a sequence",
                                     item.at(values))
                ex.values = [self.entry(item.source, v) for v in values.value]
            elif appending:
                self.warn(P.APPEND_NO_VALUES, "Overriding/appending exception with no values",
                          ex.location)
            self.check_keys(ex_item, EXCEPTION_KEYS)
            out.append(ex)
        return out

    def read_entry(self, item: Item, key: str, required: bool) -> Entry:
        node = item.value_node(key)
        if node is None:
            if required:
                raise LoadFailed(f"Item has no mapping for key '{key}'", item.location)
            return Entry()
        if is_null(node) or is_mapping(node):
            return Entry(location=item.at(node))
        return self.entry(item.source, node)

    def entry(self, source: Source, node: Node) -> Entry:
        location = source.at(node)
        if is_sequence(node):
            return Entry(items=[self.entry(source, v) for v in node.value], is_list=True,
                         location=location)
        if not isinstance(node, ScalarNode) or is_null(node) or node.value == "":
            raise LoadFailed("Value must be non-empty", location)
        return Entry(node.value, location=location)
