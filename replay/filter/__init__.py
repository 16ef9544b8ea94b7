"""The condition language of Falco rules: libsinsp's filter grammar parsed to an AST.

    from scapula.replay.filter import parse, as_string, FilterSyntaxError, unescape
    node = parse("proc.name in (cat, nginx) and not fd.name exists")
    as_string(node)   # '(proc.name in (cat, nginx) and not fd.name exists)'

Modules: lexer (the scanner), parser (the grammar), ast (the nodes), printer
(as_string), escaping (string literals), errors (FilterSyntaxError).
"""
from . import ast
from .errors import FilterSyntaxError
from .escaping import unescape
from .parser import parse
from .printer import as_string

__all__ = ["ast", "parse", "as_string", "FilterSyntaxError", "unescape"]
