"""The root of scapula's exceptions. Each carries the exit code the CLI uses for it."""


class ScapulaError(Exception):
    """An error a user can cause or fix; printed as one line, never as a traceback."""
    exit_code = 1


class UsageError(ScapulaError):
    exit_code = 2


class InputError(ScapulaError):
    """Bad input: a damaged, truncated or unsupported capture file."""
    exit_code = 3


class OutputError(ScapulaError):
    """The output cannot be written (exit code 5, as for `record` on a full disk)."""
    exit_code = 5


def first_line(e: Exception) -> str:
    """A library's exception message cut to its first line, for a one-line error."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def sql_message(e: Exception) -> str:
    """DuckDB's message on one line: its sentences joined, and where it shows the
    statement with a caret under the place, that place as (line N, column M)."""
    lines = str(e).strip().splitlines()
    words, where = [], ""
    for i, line in enumerate(lines):
        if line.startswith("LINE ") and ":" in line:
            number, _, _text = line.partition(":")
            caret = lines[i + 1] if i + 1 < len(lines) else ""
            column = len(caret) - len(caret.lstrip()) - len(number) - 1
            where = f" (line {number[5:]}, column {column})" if caret.strip() else \
                f" (line {number[5:]})"
            break
        if line.strip():
            words.append(line.strip())
    return " ".join(words) + where if words else type(e).__name__
