"""Lists: their items, with references to other lists expanded, and list names in
condition text replaced by those items.

Falco expands lists in the condition *text*, before parsing: wherever a list's
name stands between delimiters (blanks, parentheses, commas, '='), the name
and the blanks around it become the items joined by ", ". So `in (shells,
sudo)` and `pmatch (shell_paths)` both work, and so would a list name in any
other place. Lists are applied in definition order, each to the text the
previous one left, which is how a list can use a list defined after it. We do
the same, keeping a log of the edits so parse errors still point into the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scapula.replay.rules.exceptions import quoted
from scapula.replay.rules.model import ListInfo
from scapula.replay.rules.sourcetext import Rewritten

_BLANKS = " \t\n\r"
_DELIMITERS = _BLANKS + "(),="


@dataclass
class CompiledList:
    name: str
    items: list[str]
    lists: list[str] = field(default_factory=list)  # the lists whose items it took
    used: bool = False

    @property
    def text(self) -> str:
        """What the name becomes in a condition."""
        return ", ".join(quoted(item) for item in self.items)


def compile_lists(infos: dict[str, ListInfo]) -> dict[str, CompiledList]:
    """Each list with items naming an earlier list (one defined before it was last
    written) replaced by that list's own items, one level deep, as Falco does."""
    out: dict[str, CompiledList] = {}
    for info in infos.values():
        compiled = CompiledList(info.name, [])
        for item in info.items:
            ref = infos.get(item)
            if ref is not None and ref.index < info.visibility:
                compiled.items.extend(ref.items)
                compiled.lists.append(ref.name)
            else:
                compiled.items.append(item)
        out[info.name] = compiled
    for compiled in list(out.values()):
        for name in compiled.lists:
            out[name].used = True
    return out


def expand_lists(text: str, lists: dict[str, CompiledList]) -> tuple[Rewritten, list[str]]:
    """The text with every list name replaced, and the names that were."""
    rewritten, used = Rewritten(text), []
    for lst in lists.values():
        if lst.name in rewritten.text and _substitute(rewritten, lst):
            used.append(lst.name)
    return rewritten, used


def _substitute(rw: Rewritten, lst: CompiledList) -> bool:
    name, sub = lst.name, lst.text
    found = False
    start = rw.text.find(name)
    while start >= 0:
        text = rw.text
        end = start + len(name)
        if (start == 0 or text[start - 1] in _DELIMITERS) and \
                (end >= len(text) or text[end] in _DELIMITERS):
            blame = start
            while start > 0 and text[start - 1] in _BLANKS:
                start -= 1
            while end < len(text) and text[end] in _BLANKS:
                end += 1
            if not sub:  # an empty list takes a comma with it: "(a, empty)" -> "(a )"
                if start > 0 and text[start - 1] == ",":
                    start -= 1
                elif end < len(text) and text[end] == ",":
                    end += 1
            new = (" " if start > 0 else "") + sub + " "
            rw.replace(start, end, new, blame)
            found = True
            start += len(new) - 1
        start = rw.text.find(name, start + 1)
    return found
