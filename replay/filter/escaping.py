"""String literals of the filter language: unescaping a quoted literal's body, and
escaping a value back for as_string(), as libsinsp's escaping.cpp does."""
import re

from .errors import FilterSyntaxError

# \<c> -> what it stands for. '\ ' means a backslash: libsinsp keeps it for rules
# that were written with a wrongly escaped space.
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
           " ": "\\", "\\": "\\", "/": "/"}
_HEX = frozenset("0123456789abcdefABCDEF")
_OTHER_QUOTE = {'"': "'", "'": '"'}


def unescape(body: str, quote: str = '"') -> str:
    """The value of a literal whose text between the quotes is `body`.

    A \\xHH escape stands for one byte. Text is bytes in libsinsp and UTF-8 decoded with
    surrogateescape here (as event strings are), so "\\xc3\\xa9" is 'é' and a lone
    "\\xff" is '\\udcff': either way it compares equal to what the kernel reported."""
    if "\\" not in body:
        return body
    pieces: list[str | bytes] = []
    i, end = 0, len(body)
    while (j := body.find("\\", i)) >= 0:
        pieces.append(body[i:j])
        if j + 1 == end:        # a trailing lone backslash: libsinsp's loop just ends
            i = end
            break
        c = body[j + 1]
        i = j + 2
        if c in _SIMPLE:
            pieces.append(_SIMPLE[c])
        elif c == quote:
            pieces.append(c)
        elif c == _OTHER_QUOTE.get(quote):
            raise FilterSyntaxError(f"invalid \\{c} escape in {quote}-quoted string")
        elif c == "x":
            pieces.append(_hex_byte(body[i:i + 2]))
            i += 2
        else:
            raise FilterSyntaxError(f"unsupported string escape sequence: \\{c}")
    pieces.append(body[i:])
    if all(isinstance(p, str) for p in pieces):
        return "".join(pieces)
    return b"".join(p if isinstance(p, bytes) else p.encode("utf-8", "surrogateescape")
                    for p in pieces).decode("utf-8", "surrogateescape")


def _hex_byte(digits: str) -> str | bytes:
    """The character (below 0x80) or byte (0x80 and up) two hex digits stand for."""
    if len(digits) < 2:
        raise FilterSyntaxError("truncated hex char escape sequence")
    if not _HEX.issuperset(digits):
        raise FilterSyntaxError(f"invalid hex char escape sequence: {digits}")
    byte = int(digits, 16)
    return chr(byte) if byte < 0x80 else bytes((byte,))


# A value is quoted when it holds a blank, a quote, a backslash or '='; only control
# characters, backslashes and double quotes are escaped inside the quotes.
_NEEDS_QUOTES = re.compile(r"[\b\f\n\r\t \\\"'=]")
_ESCAPES = str.maketrans({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                          "\t": "\\t", "\\": "\\\\", '"': '\\"'})


def escape(value: str) -> str:
    """`value` as as_string() writes it (libsinsp's escape_str)."""
    if not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.translate(_ESCAPES) + '"'
