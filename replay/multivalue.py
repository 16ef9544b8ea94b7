"""The transformers that take several arguments: join(sep, (a, b)), concat(a, b, ...) and
getopt((args...), "optstring")[opt], compiled for condition.py as it compiles the others.

Arguments are literals, fields and transformers; a parenthesised list is a LIST. An
argument with no value makes the result unknown (None), which compares false.
"""
from scapula.replay import fields as F
from scapula.replay.filter import ast

NAMES = ("join", "concat", "getopt")


def compile_transformer(node: ast.Transformer, operand):
    """(getter ctx -> value, type); `operand` compiles a field or a transformer."""
    return _COMPILERS[node.name](node, [argument(v, operand) for v in node.values])


def _error(message: str, node):
    from scapula.replay.condition import CompileError   # condition.py imports this module
    return CompileError(message, node)


# --- arguments --------------------------------------------------------------------

def argument(node, operand):
    """(getter, type) of one argument: a LIST for a parenthesised list."""
    if type(node) is ast.Value:
        value = node.value
        return (lambda ctx: value), F.CHARBUF
    if type(node) is ast.TransformerList:
        items = [argument(child, operand) for child in node.children]
        if any(t == F.LIST for _g, t in items):
            raise _error("a list cannot hold a list", node)
        getters = [g for g, _t in items]

        def get(ctx):
            values = [g(ctx) for g in getters]
            return None if None in values else [_text(v) for v in values]
        return get, F.LIST
    return operand(node)


def _scalar(node, argument, what: str):
    get, type_ = argument
    if type_ == F.LIST:
        raise _error(f"'{node.name}' takes {what}, not a list", node)
    return get


def _list(node, argument, what: str):
    get, type_ = argument
    if type_ != F.LIST:
        raise _error(f"'{node.name}' takes {what}, a list such as (a, b)", node)
    return get


def _count(node, args, low: int, high: int | None = None) -> None:
    if len(args) < low or (high is not None and len(args) > high):
        wanted = str(low) if high == low else f"at least {low}" if high is None \
            else f"{low} to {high}"
        raise _error(f"'{node.name}' takes {wanted} arguments, not {len(args)}", node)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the transformers ---------------------------------------------------------------

def _join(node, args):
    """join(sep, (a, b, ...)): the items' text with sep between them."""
    _count(node, args, 2, 2)
    sep = _scalar(node, args[0], "a separator first")
    items = _list(node, args[1], "its items second")

    def get(ctx):
        s, values = sep(ctx), items(ctx)
        return None if s is None or values is None else _text(s).join(values)
    return get, F.CHARBUF


def _concat(node, args):
    """concat(a, b, ...): the arguments' text end to end."""
    _count(node, args, 2)
    parts = [_scalar(node, a, "single values") for a in args]

    def get(ctx):
        values = [p(ctx) for p in parts]
        return None if None in values else "".join(_text(v) for v in values)
    return get, F.CHARBUF


def _getopt(node, args):
    """getopt((args...), optstring): the values of the options found, as a list (a
    flag's value is its own letter); getopt(...)[o]: option o's value."""
    _count(node, args, 2, 2)
    argv = _list(node, args[0], "the arguments first")
    spec = _scalar(node, args[1], "an option string second")
    if node.arg == "":
        raise _error("getopt's [option] cannot be empty", node)
    wanted = node.arg

    def get(ctx):
        values, optstring = argv(ctx), spec(ctx)
        if values is None or optstring is None:
            return None
        found = getopt(values, _text(optstring))
        if wanted is None:
            return [value for _opt, value in found]
        return next((value for opt, value in reversed(found) if opt == wanted), None)
    return get, (F.LIST if wanted is None else F.CHARBUF)


def getopt(args: list[str], optstring: str) -> list[tuple[str, str]]:
    """POSIX getopt over `args` (no program name first): (option, value) in order, the
    value being the option's argument ('' when a required one is missing) or, for a
    flag, the option itself. Parsing stops at the first operand, at '-' and after '--';
    unknown options are skipped, and so are long ones (--name). A ':' leading the
    option string only changes how getopt(3) reports errors, which are not reported."""
    spec = optstring[1:] if optstring.startswith(":") else optstring
    found, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or len(arg) < 2 or arg[0] != "-":
            break
        i += 1
        if arg.startswith("--"):
            continue
        j = 1
        while j < len(arg):
            opt, j = arg[j], j + 1
            k = spec.find(opt)
            if opt == ":" or k < 0:
                continue
            if spec[k + 1:k + 2] != ":":
                found.append((opt, opt))
            elif j < len(arg):
                found.append((opt, arg[j:]))
                break
            elif i < len(args):
                found.append((opt, args[i]))
                i += 1
                break
            else:
                found.append((opt, ""))
    return found


_COMPILERS = {"join": _join, "concat": _concat, "getopt": _getopt}
