"""Falco rules files: read, merged and compiled into a rule set.

    from scapula.replay.rules import load_files
    ruleset = load_files(["falco_rules.yaml", "local_rules.yaml"])
    for problem in ruleset.problems: print(problem.long())
    ruleset.rules["Terminal shell in container"].condition_compiled

Loading goes in stages, as Falco's does: source (YAML with positions) ->
reader (each item checked) -> collector (definitions, appends, overrides merged)
-> compiler (lists expanded, conditions parsed, macros resolved, exceptions
added: exceptions, lists, macros, analysis) -> ruleset. problems holds the
messages, each with file, line and column.
"""
from scapula.replay.rules.loader import ENGINE_VERSION, Loader, load_files, load_text
from scapula.replay.rules.model import ExtraField, ExtraOutput, Priority
from scapula.replay.rules.problems import Problem, RulesError
from scapula.replay.rules.ruleset import List, Macro, Rule, RuleSet
from scapula.replay.rules.source import Location

__all__ = ["ENGINE_VERSION", "Loader", "load_files", "load_text", "ExtraField", "ExtraOutput",
           "Priority", "Problem", "RulesError", "List", "Macro", "Rule", "RuleSet", "Location"]
