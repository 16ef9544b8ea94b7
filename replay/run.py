"""Replaying captures through the rule engine: files merged in time order, each with
its own state (they may come from different hosts), every event judged once."""
from dataclasses import dataclass, field
import heapq
import time

from scapula.errors import InputError, UsageError
from scapula.replay.condition import CompileError, compile_condition
from scapula.replay.engine import Engine
from scapula.replay.fields import Context
from scapula.replay.filter import FilterSyntaxError, parse
from scapula.replay.reader import Capture
from scapula.replay.state import State


@dataclass
class ReplayStats:
    events: int = 0
    judged: int = 0            # events that passed --filter
    alerts: dict = field(default_factory=dict)   # rule -> count
    seconds: float = 0.0
    warnings: list = field(default_factory=list)


def event_filter(expr: str | None):
    """--filter: the condition language, over the same fields as rules."""
    if not expr:
        return None
    try:
        return compile_condition(parse(expr, max_depth=1000))
    except FilterSyntaxError as e:
        raise UsageError(f"--filter: {e}") from None
    except CompileError as e:
        raise UsageError(f"--filter: {e.message}") from None


class _Source:
    """One capture being replayed: its events and its own state."""

    def __init__(self, path: str, since, until, types):
        self.cap = Capture(path)
        self.state = State(self.cap.processes, self.cap.fds)
        self.events = self.cap.events(since=since, until=until, types=types)


def replay(paths: list[str], engine: Engine | None, on_alert, *, since=None, until=None,
           keep=None, progress=None) -> ReplayStats:
    """Feed every event of `paths`, in time order, to the state and the engine;
    `on_alert(alert)` for each alert. `keep(ctx)` (from --filter) selects the events
    that are judged; every event still updates the state."""
    stats = ReplayStats()
    sources = [_Source(p, since, until, None) for p in paths]
    started = time.perf_counter()
    try:
        streams = [((ev.ts, i, ev) for ev in s.events) for i, s in enumerate(sources)]
        merged = heapq.merge(*streams) if len(streams) > 1 else streams[0]
        num = 0
        for _ts, i, ev in merged:
            src = sources[i]
            num += 1
            src.state.update(ev)
            ctx = Context(ev, src.state, src.cap.header, num)
            if keep is not None and not keep(ctx):
                continue
            stats.judged += 1
            if engine is not None:
                for alert in engine.judge(ctx):
                    stats.alerts[alert.rule] = stats.alerts.get(alert.rule, 0) + 1
                    on_alert(alert, ctx)
            if progress is not None and num % 100_000 == 0:
                progress(num, ev.ts)
        stats.events = num
    finally:
        for s in sources:
            stats.warnings += [f"{s.cap.path}: {w}" for w in s.cap.warnings]
            s.cap.close()
    stats.seconds = time.perf_counter() - started
    return stats


def check_paths(paths) -> None:
    if not paths:
        raise UsageError("replay: give at least one capture file")
    for p in paths:
        try:
            open(p, "rb").close()
        except OSError as e:
            raise InputError(f"{p}: cannot open: {e.strerror}") from None
