"""Loading rules files in order into one rule set: read, merge, then compile."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from scapula.replay.rules import problems as P
from scapula.replay.rules.collector import Collector
from scapula.replay.rules.compiler import Compiler
from scapula.replay.rules.model import DEFAULT_SOURCE, ExtraField, ExtraOutput
from scapula.replay.rules.problems import Report
from scapula.replay.rules.reader import Reader
from scapula.replay.rules.ruleset import RuleSet
from scapula.replay.rules.source import Source

# The Falco rules-engine version whose language this loader follows. A file that
# requires a newer one is loaded anyway, with a warning (Falco refuses it).
ENGINE_VERSION = (0, 57, 0)


class Loader:
    """Add files (or texts) in order, then take the result.

    known_field(name) -> bool says whether scapula has a field. When it is None
    every field is accepted; with it, a rule using a field that no Falco defines
    (falco_fields.py) is an error, one using a field that Falco has and scapula
    lacks is loaded disabled with a warning (either is left out with a warning
    when the rule says skip-if-unknown-filter), and string values that name a
    field draw libsinsp's "misused as a const string value" warning.
    """

    def __init__(self, *, known_field: Callable[[str], bool] | None = None,
                 sources: Iterable[str] = (DEFAULT_SOURCE,),
                 extra_outputs: Iterable[ExtraOutput] = (),
                 extra_fields: Iterable[ExtraField] = ()):
        self.report = Report()
        self.collector = Collector(frozenset(sources), self.report.warn)
        self.reader = Reader(self.collector, self.report)
        self.known_field = known_field
        self.extra_outputs, self.extra_fields = tuple(extra_outputs), tuple(extra_fields)
        self.failed = False

    def add_text(self, text: str, name: str = "<rules>") -> bool:
        """Reads one file's content; once a file has failed, later ones are not read
        (their overrides would only fail against what is missing)."""
        if not self.failed:
            self.failed = not self.reader.read(Source(name, text))
        return not self.failed

    def add_file(self, path: str | Path) -> bool:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as e:
            self.report.error(P.ERR_FILE_READ, f"cannot read {path}: {e.strerror or e}")
            self.failed = True
            return False
        return self.add_text(text, str(path))

    def result(self) -> RuleSet:
        """Compiles what was read so far, unless reading failed (then nothing is to be
        trusted). It may be called again after adding more files, as Falco's
        engine compiles again after each load."""
        report = Report()
        report.problems, report.sources = list(self.report.problems), self.report.sources
        ruleset = RuleSet()
        self.check_engine_version(ruleset, report)
        ruleset.required_plugin_versions = list(self.collector.plugin_requirements)
        if not self.failed:
            Compiler(self.collector, report, self.known_field, self.extra_outputs,
                     self.extra_fields).compile(ruleset)
        ruleset.problems = report.problems
        return ruleset

    def check_engine_version(self, ruleset: RuleSet, report: Report) -> None:
        requirements = self.collector.engine_requirements
        if not requirements:
            return
        highest = max(requirements, key=lambda r: r.version)
        ruleset.required_engine_version = ".".join(map(str, highest.version))
        for req in requirements:
            if req.version[0] != ENGINE_VERSION[0] or req.version > ENGINE_VERSION:
                report.warn(P.ENGINE_VERSION, f"Rules require engine version {req.text}, "
                            f"but engine version is {'.'.join(map(str, ENGINE_VERSION))}",
                            req.location)


def load_files(paths: Iterable[str | Path], **options) -> RuleSet:
    """Loads rules files in order (later definitions override earlier ones)."""
    loader = Loader(**options)
    for path in paths:
        loader.add_file(path)
    return loader.result()


def load_text(text: str, name: str = "<rules>", **options) -> RuleSet:
    loader = Loader(**options)
    loader.add_text(text, name)
    return loader.result()
