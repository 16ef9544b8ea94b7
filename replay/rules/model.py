"""What the reader makes of rules-file items, before merging and compiling."""
from __future__ import annotations

from dataclasses import dataclass, field
import enum

from scapula.replay.rules.source import Location
from scapula.replay.rules.sourcetext import SourcedText

DEFAULT_SOURCE = "syscall"


class Priority(enum.IntEnum):
    """Falco's priorities, most severe first (syslog order)."""
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @classmethod
    def parse(cls, text: str) -> Priority | None:
        """Case-insensitive name; "info" is short for Informational."""
        name = text.strip().upper()
        if name == "INFO":
            return cls.INFORMATIONAL
        return cls.__members__.get(name)

    def __str__(self) -> str:
        return self.name.capitalize()


@dataclass
class Entry:
    """An exception's fields, comps or one of its values: a string or a list of entries."""
    item: str | None = None
    items: list[Entry] = field(default_factory=list)
    is_list: bool = False
    location: Location | None = None

    @property
    def is_valid(self) -> bool:
        return self.is_list or self.item is not None


@dataclass
class ExceptionInfo:
    name: str
    location: Location | None
    fields: Entry = field(default_factory=Entry)
    comps: Entry = field(default_factory=Entry)
    values: list[Entry] = field(default_factory=list)


@dataclass
class ListInfo:
    name: str
    items: list[str]
    location: Location | None
    index: int = 0        # order of first definition: later definitions keep it
    visibility: int = 0   # when it was last defined or appended to


@dataclass
class MacroInfo:
    name: str
    condition: SourcedText
    location: Location | None
    index: int = 0
    visibility: int = 0


@dataclass
class RuleInfo:
    name: str
    location: Location | None
    condition: SourcedText | None = None
    output: SourcedText | None = None
    desc: str = ""
    priority: Priority = Priority.DEBUG
    source: str = DEFAULT_SOURCE
    enabled: bool = True
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


@dataclass
class RuleUpdate:
    """An `append: true` item or one half (append or replace) of an `override:`.
    None means "not given"; only given keys are appended or replaced."""
    name: str
    location: Location | None
    source: str | None = None
    condition: SourcedText | None = None
    output: SourcedText | None = None
    desc: str | None = None
    tags: set[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: Priority | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None
    capture: bool | None = None
    capture_duration: int | None = None

    def has_any_value(self) -> bool:
        return any(getattr(self, k) is not None for k in REPLACEABLE_RULE_KEYS.values())


# override: keys of a rule, and the RuleInfo attribute each one sets
APPENDABLE_RULE_KEYS = {"condition": "condition", "output": "output", "desc": "desc",
                        "tags": "tags", "exceptions": "exceptions"}
REPLACEABLE_RULE_KEYS = {**APPENDABLE_RULE_KEYS, "priority": "priority", "enabled": "enabled",
                         "warn_evttypes": "warn_evttypes",
                         "skip-if-unknown-filter": "skip_if_unknown_filter",
                         "capture": "capture", "capture_duration": "capture_duration"}


@dataclass
class PluginRequirement:
    name: str
    version: str


@dataclass
class EngineRequirement:
    version: tuple[int, int, int]
    text: str
    location: Location | None


@dataclass(frozen=True)
class ExtraOutput:
    """Text appended to the output of the rules it selects (Falco's append_output):
    every rule, or those of one source, carrying all of `tags`, or of one name."""
    format: str
    source: str = ""
    tags: frozenset[str] = frozenset()
    rule: str = ""

    def selects(self, rule: RuleInfo) -> bool:
        return ((not self.source or self.source == rule.source)
                and self.tags <= rule.tags
                and (not self.rule or self.rule == rule.name))


@dataclass(frozen=True)
class ExtraField(ExtraOutput):
    """A named extra output field (Falco's append_output with extra_output_fields)."""
    key: str = ""
