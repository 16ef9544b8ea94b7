"""as_string(): a condition written back in libsinsp's canonical form (ast::as_string()),
which is also how the conformance corpus names every parse."""
from . import ast
from .escaping import escape


def as_string(node: ast.Node) -> str:
    return _WRITERS[type(node)](node)


def _junction(word: str):
    joiner = f" {word} "
    return lambda n: "(" + joiner.join(map(as_string, n.children)) + ")"


def _arg(arg: str | None) -> str:
    # An empty argument still shows, as [""]; an absent one does not.
    if arg is None:
        return ""
    return "[" + (escape(arg) or '""') + "]"


_WRITERS = {
    ast.And: _junction("and"),
    ast.Or: _junction("or"),
    ast.Not: lambda n: "not " + as_string(n.child),
    ast.Identifier: lambda n: n.name,
    ast.UnaryCheck: lambda n: f"{as_string(n.left)} {n.op}",
    ast.BinaryCheck: lambda n: f"{as_string(n.left)} {n.op} {as_string(n.right)}",
    ast.Field: lambda n: n.name + _arg(n.arg),
    ast.Transformer: lambda n: (n.name + "(" + ",".join(map(as_string, n.values)) + ")"
                                + _arg(n.arg)),
    ast.TransformerList: lambda n: "(" + ",".join(map(as_string, n.children)) + ")",
    ast.Value: lambda n: escape(n.value),
    ast.ListValue: lambda n: "(" + ", ".join(map(escape, n.values)) + ")",
}
