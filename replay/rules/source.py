"""Rules files as YAML node trees that still know where each value came from.

PyYAML's composer keeps a mark (line, column) on every node, which is what lets
every problem name its file, line and column. Values are read from a node's
text as yaml-cpp (Falco's YAML library) reads them: `items: [1, 2]` holds the
strings "1" and "2", and a quoted "yes" is still a true boolean.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# libyaml composes the upstream rules ten times faster than the pure-Python parser.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_NOT_UTF8 = re.compile("[\ud800-\udfff]")


def _byte(char: str) -> str:
    """The byte a surrogateescape'd character stands for (0xE9), or the character's code."""
    code = ord(char)
    return f"0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"


@dataclass(frozen=True)
class Location:
    """A place in a rules file; line and column count from 1, as editors do."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class YamlSyntaxError(Exception):
    """The text is not YAML; `location` is where the YAML parser gave up."""

    def __init__(self, message: str, location: Location):
        super().__init__(message)
        self.message, self.location = message, location


class Source:
    """One rules file's text: parses it and turns node marks into locations."""

    def __init__(self, name: str, text: str):
        self.name, self.text = name, text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def documents(self) -> list[Node | None]:
        bad = _NOT_UTF8.search(self.text)
        if bad:
            # a file is read with surrogateescape, so a byte that is not UTF-8 is a
            # lone surrogate here; YAML is UTF-8, and libyaml would only choke on it
            raise YamlSyntaxError(f"not valid UTF-8: byte {_byte(bad.group())}",
                                  self.offset_location(bad.start()))
        try:
            return list(yaml.compose_all(self.text, Loader=_LOADER))
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = self.location(mark.line, mark.column) if mark else Location(self.name, 1, 1)
            what = " ".join(p for p in (e.context, e.problem) if p)
            raise YamlSyntaxError(what or "invalid YAML", where) from None
        except yaml.YAMLError as e:
            raise YamlSyntaxError(str(e), Location(self.name, 1, 1)) from None

    def location(self, line0: int, column0: int) -> Location:
        return Location(self.name, line0 + 1, column0 + 1)

    def at(self, node: Node) -> Location:
        return self.location(node.start_mark.line, node.start_mark.column)

    def offset_location(self, offset: int) -> Location:
        line = bisect_right(self._line_starts, offset) - 1
        return Location(self.name, line + 1, offset - self._line_starts[line] + 1)

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def in_scalar(self, node: ScalarNode, offset: int) -> Location:
        """Where character `offset` of a scalar's value sits in the file.

        Folding (`>`), indentation and quoting change whitespace only, so the
        value's other characters appear in the file in the same order: walk
        both, matching them one by one. An escape the walk cannot follow makes
        it stop at the value's start, which is still the right line.
        """
        start = self._mark_offset(node.start_mark)
        end = self._mark_offset(node.end_mark)
        src = start
        if node.style in ("|", ">"):
            src = self.text.find("\n", start, end) + 1 or start
        elif node.style in ('"', "'"):
            src += 1
        value = node.value
        target = max(0, min(offset, len(value)))
        for i, ch in enumerate(value[:target + 1]):
            if ch.isspace():
                continue
            found = self.text.find(ch, src, end)
            if found < 0:
                return self.offset_location(start)
            if i == target:
                return self.offset_location(found)
            src = found + 1
        return self.offset_location(src)

    def _mark_offset(self, mark) -> int:
        line = min(mark.line, len(self._line_starts) - 1)
        return self._line_starts[line] + mark.column


def snippet(source: Source | None, location: Location | None) -> str:
    """The line a problem is on with a caret under its column, as compilers print it."""
    if source is None or location is None:
        return ""
    line = source.line_text(location.line).rstrip()
    if not line:
        return ""
    return line + "\n" + " " * (location.column - 1) + "^"


# --- reading values the way yaml-cpp does -----------------------------------

def is_null(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG and node.style is None


def is_scalar(node: Node | None) -> bool:
    return isinstance(node, ScalarNode) and not is_null(node)


def is_sequence(node: Node | None) -> bool:
    return isinstance(node, SequenceNode)


def is_mapping(node: Node | None) -> bool:
    return isinstance(node, MappingNode)


def keyed(node: MappingNode) -> dict[str, tuple[Node, Node]]:
    """A mapping's entries by key text: (key node, value node). yaml-cpp's
    lookup finds the first of duplicate keys, so the first one wins here too."""
    out: dict[str, tuple[Node, Node]] = {}
    for key, value in node.value:
        if isinstance(key, ScalarNode):
            out.setdefault(key.value, (key, value))
    return out


def duplicate_keys(node: MappingNode) -> list[Node]:
    seen, dups = set(), []
    for key, _ in node.value:
        if isinstance(key, ScalarNode):
            if key.value in seen:
                dups.append(key)
            seen.add(key.value)
    return dups


def to_bool(text: str) -> bool | None:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def to_uint32(text: str) -> int | None:
    try:
        value = int(text, 0) if text[:2].lower() in ("0x", "0o") else int(text, 10)
    except ValueError:
        return None
    return value if 0 <= value < 1 << 32 else None
