"""The `scapula` command: a click group; each subcommand lives beside the code it drives."""
import os

# numpy's OpenBLAS starts a thread per core that spins when numpy is imported (~0.1 s of
# CPU each command); scapula calls no BLAS routine. Read when numpy loads: set first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click  # noqa: E402


EXIT_CODES = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 bad input (damaged or unsupported
capture), 4 the kernel lacks something, 5 cannot write the output."""


@click.group(epilog=EXIT_CODES)
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
