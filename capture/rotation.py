"""Rotation policy: when a recording moves on to a new file, what it is named, which files to keep.

A rotated recording never writes FILE itself: FILE is the pattern its files are named
after, `DIR/STEM.SEQ.START.EXT` with SEQ a six-digit sequence number from 000001 and START
the file's start time in UTC (`host.scapula` -> `host.000001.20261122T001500Z.scapula`), so
the names sort in the order they were written.
"""
from dataclasses import dataclass
import os
import time


@dataclass(frozen=True)
class RotationPolicy:
    """Limits per file; None is no limit. A file is full when any limit is reached."""
    size: int | None = None        # bytes
    seconds: float | None = None
    events: int | None = None
    keep: int | None = None        # files kept on disk; the oldest beyond it are removed

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.size, self.seconds, self.events))

    def room(self, events: int) -> int | None:
        """Events the current file may still take before it is full; None if unlimited.
        The recorder cuts a chunk there, so a file holds exactly --rotate-events."""
        return None if self.events is None else max(0, self.events - events)

    def due(self, size: int, events: int, seconds: float) -> bool:
        """Whether a file with this many bytes and events, open this long, is full."""
        return ((self.size is not None and size >= self.size)
                or (self.events is not None and events >= self.events)
                or (self.seconds is not None and seconds >= self.seconds))


def rotated_name(pattern: str, sequence: int, start_ns: int) -> str:
    """The name of file number `sequence` (from 1) of a recording to `pattern`."""
    head, tail = os.path.split(pattern)
    # a leading dot is part of the name, not an extension (".scapula" has none)
    stem, ext = os.path.splitext(tail)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start_ns // 1_000_000_000))
    return os.path.join(head, f"{stem}.{sequence:06d}.{stamp}{ext}")


class Ring:
    """The files of one recording, oldest first; with `keep`, at most that many remain."""

    def __init__(self, keep: int | None):
        self.keep = keep
        self.files: list[str] = []
        self.removed: list[str] = []

    def add(self, path: str) -> list[str]:
        """Note a new file; returns the oldest files that now fall outside the ring."""
        self.files.append(path)
        if self.keep is None or len(self.files) <= self.keep:
            return []
        old, self.files = self.files[:-self.keep], self.files[-self.keep:]
        self.removed.extend(old)
        return old

    def prune(self, path: str) -> None:
        """add(path) and delete what falls out. A file already gone (a user removed it)
        is not an error: the ring only promises not to keep more than N."""
        for old in self.add(path):
            try:
                os.unlink(old)
            except FileNotFoundError:
                pass
