"""How commands talk to the user: clean one-line errors with exit codes, and warnings."""
import functools
import sys

import click

from scapula.errors import ScapulaError

# A rules file is checked by the loader, not by click: a directory or an unreadable
# file is bad input (exit 3, one line naming it), as a missing or broken one is.
RULES_FILE = click.Path()


def clean_errors(fn):
    """Turn scapula's exceptions into one line on stderr and their exit code."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ScapulaError as e:
            click.echo(f"scapula: {e}", err=True)
            sys.exit(e.exit_code)
        except BrokenPipeError:
            sys.stderr.close()  # `scapula print | head`: not an error
            sys.exit(0)
    return wrapper


def warn(message: str) -> None:
    click.echo(f"scapula: warning: {message}", err=True)
