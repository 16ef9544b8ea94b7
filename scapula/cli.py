"""The `scapula` command: a click group; each subcommand lives beside the code it drives."""
import os

# numpy's OpenBLAS starts a thread per core that spins when numpy is imported (~0.1 s of
# CPU each command); scapula calls no BLAS routine. Read when numpy loads: set first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys  # noqa: E402

import click  # noqa: E402


class _Scapula(click.Group):
    """Usage errors like every other error: one line on stderr, exit 2 (click's own
    take four lines: the usage, a hint, a blank, the error)."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as e:
            sub = e.ctx.command_path.partition(" ")[2] if e.ctx is not None else ""
            where = f"{sub}: " if sub else ""
            click.echo(f"scapula: {where}{e.format_message()} (--help says more)", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"scapula: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            click.echo("scapula: interrupted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)   # --help, --version: an Exit's code


EXIT_CODES = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 bad input (damaged or unsupported
capture), 4 the kernel lacks something, 5 cannot write the output."""


@click.group(cls=_Scapula, epilog=EXIT_CODES)
@click.version_option(package_name="scapula")
def main():
    """Record, replay and query what Linux processes do."""


def _register():
    from scapula.capture.commands import record
    from scapula.replay.commands import info, print_events
    from scapula.replay.replay_command import replay_command
    from scapula.replay.rules_cli import rules_group
    from scapula.query.commands import query_command, shell_command
    from scapula.query.export_command import export_command
    main.add_command(record)
    main.add_command(replay_command)
    main.add_command(rules_group)
    main.add_command(info)
    main.add_command(print_events)
    main.add_command(query_command)
    main.add_command(shell_command)
    main.add_command(export_command)


_register()
