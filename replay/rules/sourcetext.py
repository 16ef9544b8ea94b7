"""Condition text that maps every character back to the file it came from.

A rule's condition is rarely one YAML scalar: `append` joins pieces from
several items (even several files), exceptions add generated text, and list
names are replaced by their items before parsing. The parser reports an offset
into the final string; these classes carry it back to a file, line and column.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from yaml.nodes import ScalarNode

from scapula.replay.rules.source import Location, Source


@dataclass(frozen=True)
class _Piece:
    start: int                 # offset of the piece in the joined text
    source: Source | None
    node: ScalarNode | None    # the scalar it was read from, or None for generated text
    location: Location | None  # where generated text is blamed on
    skip: int = 0              # characters of the scalar's value left out in front


class SourcedText:
    """A string made of scalar values and generated glue, each piece with its origin."""

    __slots__ = ("text", "_pieces")

    def __init__(self, text: str, pieces: tuple[_Piece, ...]):
        self.text, self._pieces = text, pieces

    @classmethod
    def scalar(cls, source: Source, node: ScalarNode) -> SourcedText:
        return cls(node.value, (_Piece(0, source, node, None),))

    @classmethod
    def generated(cls, text: str, location: Location | None) -> SourcedText:
        return cls(text, (_Piece(0, None, None, location),))

    def __add__(self, other: SourcedText) -> SourcedText:
        shift = len(self.text)
        moved = tuple(_Piece(p.start + shift, p.source, p.node, p.location, p.skip)
                      for p in other._pieces)
        return SourcedText(self.text + other.text, self._pieces + moved)

    def stripped(self) -> SourcedText:
        """Without surrounding whitespace (Falco trims outputs); one-piece texts only,
        which is all a freshly read value is."""
        lead = len(self.text) - len(self.text.lstrip())
        if len(self._pieces) != 1 or not (lead or self.text != self.text.rstrip()):
            return self
        p = self._pieces[0]
        piece = _Piece(0, p.source, p.node, p.location, p.skip + lead)
        return SourcedText(self.text.strip(), (piece,))

    def joined(self, other: SourcedText, sep: str = " ") -> SourcedText:
        """self + sep + other, the way Falco appends conditions, outputs and descriptions."""
        return self + SourcedText.generated(sep, other.location(0)) + other

    def location(self, offset: int) -> Location | None:
        starts = [p.start for p in self._pieces]
        piece = self._pieces[max(0, bisect_right(starts, offset) - 1)]
        if piece.node is None:
            return piece.location
        return piece.source.in_scalar(piece.node, offset - piece.start + piece.skip)

    def source_at(self, offset: int) -> Source | None:
        starts = [p.start for p in self._pieces]
        return self._pieces[max(0, bisect_right(starts, offset) - 1)].source

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"SourcedText({self.text!r})"


class Rewritten:
    """The text after replacements, with a log to map offsets back to the original."""

    __slots__ = ("text", "_edits")

    def __init__(self, text: str):
        self.text = text
        self._edits: list[tuple[int, int, int, int]] = []

    def replace(self, start: int, end: int, new: str, blame: int) -> None:
        """Replace text[start:end] by `new`; offsets inside `new` map to `blame`."""
        self.text = self.text[:start] + new + self.text[end:]
        self._edits.append((start, end, len(new), blame))

    def original_offset(self, offset: int) -> int:
        for start, end, length, blame in reversed(self._edits):
            if offset >= start + length:
                offset += (end - start) - length
            elif offset >= start:
                offset = blame
        return offset
