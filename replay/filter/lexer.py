"""The filter language's scanner: a cursor over the condition text that takes one
token at a time, with libsinsp's token shapes and its habit of remembering the last
token taken (error messages quote it)."""
from bisect import bisect_left
import re
from typing import NoReturn

from .ast import Pos
from .errors import FilterSyntaxError
from .escaping import unescape

# Token shapes, as parser.cpp's RGX_* (POSIX [:space:] is " \t\n\v\f\r"). RE2 matches
# them leftmost-longest; for these patterns Python's greedy match takes the same text.
NOT_BLANK = re.compile(r"not[ \t\n\v\f\r]+")
IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
FIELD_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")
FIELD_ARG_BARE = re.compile(r"[^\]\[\"' \t\n\v\f\r]+")
HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+")
NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
BARE_STRING = re.compile(r"[^()\"' \t\n\v\f\r=,]+")

# What libsinsp skips between tokens: not quite [:space:] (\b yes, \v and \f no).
# (Inside a character class \b is a backspace.)
BLANKS = re.compile(r"[ \t\b\r\n]+")
_BREAKS = re.compile(r"[\r\n]")


class Scanner:
    """`idx` is the cursor; `last` the last token taken (lex_blank() leaves it alone,
    as libsinsp's does). Every take_*() moves the cursor only when it succeeds."""

    def __init__(self, text: str):
        self.text = text
        self.idx = 0
        self.last = ""
        self._breaks = [m.start() for m in _BREAKS.finditer(text)]

    def pos(self, idx: int | None = None) -> Pos:
        """Line and column of `idx` (the cursor by default), computed on demand."""
        idx = self.idx if idx is None else idx
        before = bisect_left(self._breaks, idx)
        col = idx - self._breaks[before - 1] if before else idx + 1
        return Pos(idx, before + 1, col)

    def fail(self, message: str) -> NoReturn:
        raise FilterSyntaxError(message, self.pos())

    def blank(self) -> bool:
        m = BLANKS.match(self.text, self.idx)
        if m:
            self.idx = m.end()
        return m is not None

    def take(self, word: str) -> bool:
        if self.text.startswith(word, self.idx):
            self.idx += len(word)
            self.last = word
            return True
        return False

    def take_re(self, pattern: re.Pattern) -> bool:
        m = pattern.match(self.text, self.idx)
        if m:
            self.idx = m.end()
            self.last = m.group()
        return m is not None

    def take_quoted(self) -> bool:
        """A '..' or ".." literal; `last` becomes its unescaped value.

        The literal ends at the first quote not preceded by a backslash (libsinsp looks
        only one character back, so "a\\\\" does not end at its last quote). A literal
        left open takes nothing, but `last` keeps the text it ran over, as in libsinsp."""
        text, start = self.text, self.idx
        quote = text[start:start + 1]
        if quote not in ("'", '"'):
            return False
        close = text.find(quote, start + 1)
        while close > 0 and text[close - 1] == "\\":
            close = text.find(quote, close + 1)
        nul = text.find("\0", start, close if close > 0 else len(text))
        if close < 0 or nul >= 0:     # libsinsp reads a C string: NUL ends it too
            self.last = text[start:nul if nul >= 0 else len(text)]
            return False
        self.idx = close + 1          # an escape error points after the literal
        try:
            self.last = unescape(text[start + 1:close], quote)
        except FilterSyntaxError as e:
            raise FilterSyntaxError(e.message, self.pos()) from None
        return True
