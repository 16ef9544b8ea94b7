"""The `scapula` command: a click group; each subcommand lives beside the code it drives."""
import functools
import sys

import click

from scapula.errors import ScapulaError

EXIT_CODES = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 bad input (damaged or unsupported
capture), 4 the kernel lacks something, 5 cannot write the output."""


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


@click.group(epilog=EXIT_CODES)
@click.version_option(package_name="scapula")
def main():
    """Record, replay and query what Linux processes do."""


def _register():
    from scapula.capture.commands import record
    from scapula.replay.commands import info, print_events
    main.add_command(record)
    main.add_command(info)
    main.add_command(print_events)


_register()
