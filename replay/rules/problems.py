"""Errors and warnings met while loading rules, each with where and what.

The codes are Falco's load-result codes, and the texts are Falco's where a
rule writer (or a test) may search for them, so a message seen with one
engine can be looked up with the other.
"""
from __future__ import annotations

from dataclasses import dataclass

from scapula.errors import InputError
from scapula.replay.rules.source import Location, Source, snippet

# errors
ERR_FILE_READ = "LOAD_ERR_FILE_READ"
ERR_YAML_PARSE = "LOAD_ERR_YAML_PARSE"
ERR_YAML_VALIDATE = "LOAD_ERR_YAML_VALIDATE"
ERR_COMPILE_CONDITION = "LOAD_ERR_COMPILE_CONDITION"
ERR_COMPILE_OUTPUT = "LOAD_ERR_COMPILE_OUTPUT"
ERR_VALIDATE = "LOAD_ERR_VALIDATE"

# warnings
UNKNOWN_SOURCE = "LOAD_UNKNOWN_SOURCE"
NO_EVTTYPE = "LOAD_NO_EVTTYPE"
UNKNOWN_FILTER = "LOAD_UNKNOWN_FILTER"
UNUSED_MACRO = "LOAD_UNUSED_MACRO"
UNUSED_LIST = "LOAD_UNUSED_LIST"
UNKNOWN_ITEM = "LOAD_UNKNOWN_ITEM"
DEPRECATED_ITEM = "LOAD_DEPRECATED_ITEM"
APPEND_NO_VALUES = "LOAD_APPEND_NO_VALUES"
EXCEPTION_NAME_NOT_UNIQUE = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
INVALID_MACRO_NAME = "LOAD_INVALID_MACRO_NAME"
INVALID_LIST_NAME = "LOAD_INVALID_LIST_NAME"
COMPILE_CONDITION = "LOAD_COMPILE_CONDITION"
UNKNOWN_KEY = "LOAD_UNKNOWN_KEY"
# ours: Falco makes a too-new engine requirement fatal, and yaml-cpp silently takes
# the first of two equal keys
ENGINE_VERSION = "LOAD_ENGINE_VERSION"
DUPLICATE_KEY = "LOAD_DUPLICATE_KEY"

# texts a rule writer meets often enough that tests look for them
WARNING_APPEND = ("'append' key is deprecated. Add an 'append' entry "
                  "(e.g. 'condition: append') under 'override' instead.")
WARNING_ENABLED = ("The standalone 'enabled' key usage is deprecated. The correct approach "
                   "requires also a 'replace' entry under the 'override' key "
                   "(i.e. 'enabled: replace').")
ERROR_OVERRIDE_APPEND = ("Keys 'override' and 'append: true' cannot be used together. Add an "
                         "'append' entry (e.g. 'condition: append') under 'override' instead.")
ERROR_NO_PREVIOUS_MACRO = ("Macro uses 'append' or 'override.condition: append' "
                           "but no macro by that name already exists")
ERROR_NO_PREVIOUS_LIST = ("List uses 'append' or 'override.items: append' "
                          "but no list by that name already exists")
ERROR_NO_PREVIOUS_RULE_APPEND = ("Rule uses 'append' or 'override.<key>: append' "
                                 "but no rule by that name already exists")
ERROR_NO_PREVIOUS_RULE_REPLACE = ("An 'override.<key>: replace' to a rule was requested "
                                  "but no rule by that name already exists")
ERROR_SOURCE_CHANGED = "Rule has been re-defined with a different source"
WARNING_INVALID_MACRO_NAME = ("Macro has an invalid name. "
                              "Macro names should match a regular expression: ")
WARNING_INVALID_LIST_NAME = ("List has an invalid name. "
                             "List names should match a regular expression: ")
WARNING_NO_EVTTYPE = ("Rule matches too many evt.type values. "
                      "This has a significant performance penalty.")


@dataclass(frozen=True)
class Problem:
    """One error or warning: severity, code, message, where, and which item."""
    severity: str          # "error" or "warning"
    code: str
    message: str
    location: Location | None = None
    item: str = ""         # e.g. "rule 'Terminal shell in container'"
    snippet: str = ""      # the offending line with a caret under the column

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{self.item}: " if self.item else ""
        return f"{where}{self.severity}: {what}{self.message}"

    def long(self) -> str:
        """The one-line form followed by the snippet, for a terminal."""
        return str(self) + ("\n" + self.snippet if self.snippet else "")


class Problems:
    """Errors and warnings of a `problems` list (a report, a rule set)."""
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


class Report(Problems):
    """The problems of one load, in the order met; knows the sources for snippets."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.sources: dict[str, Source] = {}

    def add(self, severity: str, code: str, message: str, location: Location | None = None,
            item: str = "") -> None:
        source = self.sources.get(location.file) if location else None
        self.problems.append(Problem(severity, code, message, location, item,
                                     snippet(source, location)))

    def warn(self, code: str, message: str, location: Location | None = None,
             item: str = "") -> None:
        self.add("warning", code, message, location, item)

    def error(self, code: str, message: str, location: Location | None = None,
              item: str = "") -> None:
        self.add("error", code, message, location, item)


class LoadFailed(Exception):
    """Raised inside the loader to abandon an item; becomes one error Problem."""

    def __init__(self, message: str, location: Location | None = None,
                 code: str = ERR_YAML_VALIDATE):
        super().__init__(message)
        self.message, self.location, self.code = message, location, code


class RulesError(InputError):
    """Rules that did not load, for the CLI: every error, one per line."""

    def __init__(self, errors: list[Problem]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors
