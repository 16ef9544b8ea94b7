"""What `scapula info` reports about a capture: header, time range, counts, losses."""
from collections import Counter

from scapula.replay.reader import Capture


def summarize(cap: Capture) -> dict:
    counts = Counter()
    first = last = None
    for groups, _order in cap.chunks():
        for g in groups.values():
            counts[g.etype.name] += g.n
            ts = g.cols["ts"]
            lo, hi = min(ts), max(ts)
            first = lo if first is None else min(first, lo)
            last = hi if last is None else max(last, hi)
    stats = cap.stats
    drops = stats.get("drops", [])
    return {
        "file": cap.path,
        "format": ".".join(map(str, cap.version)),
        "host": cap.header.get("host"),
        "kernel": cap.header.get("kernel"),
        "cpus": cap.header.get("cpus"),
        "tool": cap.header.get("tool"),
        "start_ns": cap.header.get("start_ns"),
        "boot_ns": cap.header.get("boot_ns"),
        "config": cap.header.get("config", {}),
        "sequence": cap.header.get("sequence"),      # rotated files only
        "previous": cap.header.get("previous"),
        "first_ns": first,
        "last_ns": last,
        "events": sum(counts.values()),
        "counts": dict(counts.most_common()),
        "drops": drops,
        "dropped": sum(drops),
        "sent": stats.get("sent", []),
        "retries": stats.get("retries", []),
        "processes": len(cap.processes),
        "fds": len(cap.fds),
        "complete": cap.footer is not None,
        "truncated": cap.truncated,
        "warnings": list(cap.warnings),
    }
