"""scapula's own rules ship with the package and load cleanly against the field table."""
from scapula.replay.engine import Engine
from scapula.replay.fields import lookup
from scapula.replay.replay_command import default_rules_path
from scapula.replay.rules.loader import load_files


def test_default_rules_load_without_a_problem_and_all_run():
    ruleset = load_files([default_rules_path()], known_field=lambda n: lookup(n) is not None)
    assert [str(p) for p in ruleset.problems] == []
    engine = Engine(ruleset.enabled_rules())
    assert engine.errors == []
    assert len(engine.compiled) == len(ruleset.rules) >= 15
    # every rule is indexed by event type: none costs an evaluation on every event
    assert engine.any_type == []
