"""Macro resolution: every bare name in a condition replaced by its macro's tree.

A bare name can only stand where a check could (under and/or/not, or alone),
so only those places are searched. Trees are immutable: a resolved tree shares
its macros' subtrees instead of copying them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from scapula.replay.filter import ast


@dataclass
class Resolution:
    node: ast.Node
    used: list[str] = field(default_factory=list)          # macros substituted
    unknown: list[ast.Identifier] = field(default_factory=list)
    loops: list[ast.Identifier] = field(default_factory=list)
    broken: list[ast.Identifier] = field(default_factory=list)  # macros that failed themselves

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.loops or self.broken)


class MacroTable:
    """Macro trees by name; `closed` names hold no bare names any more, so
    substituting them needs no second look."""

    def __init__(self):
        self.trees: dict[str, ast.Node | None] = {}  # None: the macro failed to compile
        self.closed: dict[str, tuple[str, ...]] = {}  # closed name -> the macros inside it

    def resolve(self, node: ast.Node, visible=None) -> Resolution:
        """`visible(name)` says whether a macro may be used here (a macro sees only
        macros defined before it); None means all of them."""
        res = Resolution(node)
        res.node = self._walk(node, visible, (), res)
        return res

    def _walk(self, node, visible, path, res):
        kind = type(node)
        if kind is ast.And or kind is ast.Or:
            children = tuple(self._walk(c, visible, path, res) for c in node.children)
            if all(a is b for a, b in zip(children, node.children)):
                return node
            return replace(node, children=children)
        if kind is ast.Not:
            child = self._walk(node.child, visible, path, res)
            return node if child is node.child else replace(node, child=child)
        if kind is not ast.Identifier:
            return node
        name = node.name
        if name not in self.trees or (visible is not None and not visible(name)):
            res.unknown.append(node)
            return node
        if name in path:
            res.loops.append(node)
            return node
        tree = self.trees[name]
        if tree is None:  # its own error was reported already
            res.broken.append(node)
            return node
        res.used.append(name)
        if name in self.closed:
            res.used.extend(self.closed[name])
        else:
            tree = self._walk(tree, visible, path + (name,), res)
        return tree
