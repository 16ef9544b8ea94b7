"""The one exception the filter language raises: libsinsp's message, word for word, and where."""
from scapula.errors import ScapulaError

from .ast import Pos


class FilterSyntaxError(ScapulaError):
    """A condition libsinsp's parser would reject. `message` is libsinsp's own text (the
    conformance corpus compares it); `pos` is where libsinsp's cursor stood when it gave
    up, or None when the error has no place (unescape() called on its own)."""

    def __init__(self, message: str, pos: Pos | None = None):
        self.message = message
        self.pos = pos
        where = "" if pos is None else f" (line {pos.line}, column {pos.col})"
        super().__init__(message + where)

    def excerpt(self, text: str) -> str:
        """The line of `text` the error is on, and a caret under its column."""
        if self.pos is None:
            return ""
        line = text.replace("\r", "\n").split("\n")[self.pos.line - 1]
        pad = "".join("\t" if c == "\t" else " " for c in line[:self.pos.col - 1])
        return f"{line}\n{pad}^"
