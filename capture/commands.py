"""`scapula record`."""
import os
import shutil
import sys

import click

from scapula.capture.program import (DEFAULT_SNAPLEN, MAX_PATH, ProgramConfig, boot_epoch_ns,
                                      filler_names, resolve_offsets, source, validate)
from scapula.capture.btf import BTF
from scapula.capture.recorder import Recorder, RecordOptions
from scapula.capture.rotation import RotationPolicy
from scapula.console import RULES_FILE, clean_errors
from scapula.errors import UsageError
from scapula.schemas import events as schema


def parse_size(text: str, option: str = "--buffer-size") -> int:
    """8M, 512K, 1G or a plain number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise UsageError(f"{option} {text}: not a size (examples: 8M, 512K, 1048576)") from None


def _positive(option: str, text: str | None, parse):
    """`text` parsed and above zero, or None when the option was not given."""
    if text is None:
        return None
    try:
        value = parse(text)
    except (ValueError, UsageError):
        raise UsageError(f"record: {option} {text}: not a positive number") from None
    if not value > 0:
        raise UsageError(f"record: {option} {text}: must be more than 0")
    return value


def rotation_options(output: str, rotate_size, rotate_time, rotate_events, keep,
                     max_size) -> tuple[RotationPolicy, int | None]:
    """The rotation policy and --max-size, checked: bad values are one-line usage errors."""
    policy = RotationPolicy(
        size=_positive("--rotate-size", rotate_size, lambda t: parse_size(t, "--rotate-size")),
        seconds=_positive("--rotate-time", rotate_time, float),
        events=_positive("--rotate-events", rotate_events, int),
        keep=_positive("--keep", keep, int))
    limit = _positive("--max-size", max_size, lambda t: parse_size(t, "--max-size"))
    if policy.keep is not None and not policy.active:
        raise UsageError("record: --keep needs --rotate-size, --rotate-time or --rotate-events")
    if policy.active and output == "-":
        raise UsageError("record: rotation writes several files; it cannot write to -w -")
    return policy, limit


def choose_syscalls(syscalls: str | None, all_: bool, io: bool = False) -> tuple[str, ...]:
    """The syscalls with a filler to record: --all's, --syscalls' or the default set,
    plus the I/O ones with --io."""
    recordable = filler_names()
    if all_:
        return tuple(sorted(recordable))
    if not syscalls:
        names = schema.DEFAULT_SYSCALLS
    else:
        names = tuple(n.strip() for n in syscalls.split(",") if n.strip())
        unknown = [n for n in names if n not in recordable]
        if unknown:
            raise UsageError(f"--syscalls: unknown or unsupported: {', '.join(unknown)} "
                             f"(supported: {', '.join(sorted(recordable))})")
    if io:
        names += tuple(n for n in schema.IO_SYSCALLS if n not in names)
    return names


def parse_snaplen(text: str) -> int:
    """--snaplen: a whole number of bytes the kernel side can copy (0 to MAX_PATH)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_PATH:
        raise UsageError(f"record: --snaplen {text}: must be a whole number from 0 to {MAX_PATH}")
    return value


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("-w", "--write", "output", metavar="FILE", help="Capture file to write ('-' for stdout).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop after this long.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Stop after N events.")
@click.option("--follow", is_flag=True, help="With a COMMAND: keep only its process tree.")
@click.option("--syscalls", metavar="LIST",
              help="Comma-separated syscalls to record (default: all supported but the I/O ones).")
@click.option("--io", is_flag=True,
              help="Also record read, write, pread64, pwrite64, readv and writev, with their data.")
@click.option("--snaplen", default=str(DEFAULT_SNAPLEN), show_default=True, metavar="N",
              help=f"Bytes of read/write data kept per call, 0 to {MAX_PATH}.")
@click.option("--all", "all_", is_flag=True,
              help="Record every syscall: its own event where scapula has one (I/O included), "
                   "else a generic event with its number and result.")
@click.option("--buffer-size", default="8M", show_default=True, metavar="SIZE",
              help="Ring buffer size, a power of two (8M, 512K...).")
@click.option("--rotate-size", metavar="SIZE", help="Start a new file when this one reaches SIZE (10M, 1G...).")
@click.option("--rotate-time", metavar="SECONDS", help="Start a new file every SECONDS.")
@click.option("--rotate-events", metavar="N", help="Start a new file after N events.")
@click.option("--keep", metavar="N", help="With rotation: keep only the newest N files.")
@click.option("--max-size", metavar="SIZE",
              help="Stop when the file (with rotation, the current file) would pass SIZE.")
@click.option("--rules", "rule_files", multiple=True, type=RULES_FILE,
              help="Judge events with these Falco rules files while recording, printing alerts "
                   "as they happen; unless --syscalls/--io/--all say otherwise, record only "
                   "what the rules and the process/fd state need.")
@click.option("--print-bpf", is_flag=True, help="Print the C program BCC would compile, and exit.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@clean_errors
def record(output, duration, count, follow, syscalls, io, snaplen, all_, buffer_size, rotate_size,
           rotate_time, rotate_events, keep, max_size, rule_files, print_bpf, command):
    """Record the host (or COMMAND and what it starts) into a capture file.

    With --rotate-size/--rotate-time/--rotate-events the recording goes to a series of
    files named after FILE, each complete on its own (header, process and fd tables as of
    its start, footer): host.scapula gives host.000001.20261122T001500Z.scapula,
    host.000002.<UTC start time>.scapula, ... FILE itself is not written.

    \b
    Examples:
      scapula record -w host.scapula --duration 10
      scapula record -w build.scapula --follow -- make -j2
      scapula record -w host.scapula --rotate-size 100M --keep 5
      scapula record -w web.scapula --io --snaplen 256 --follow -- curl -s example.org
    """
    names = choose_syscalls(syscalls, all_, io)
    engine = None
    if rule_files:
        from scapula.replay.live import syscalls_for
        from scapula.replay.replay_command import engine_for, load_rules
        engine = engine_for(load_rules(rule_files))
        needed = None if (syscalls or all_) else syscalls_for(engine, set(filler_names()))
        if needed is not None:
            names = needed + tuple(n for n in schema.IO_SYSCALLS if io and n not in needed)
    # The default set leaves out the data path of connected sockets, as it leaves
    # out read and write; asking for syscalls by name, --io or --all brings it in.
    net_data = bool(syscalls or io or all_)
    config = ProgramConfig(syscalls=names, buffer_size=parse_size(buffer_size),
                           self_tgid=os.getpid(), snaplen=parse_snaplen(snaplen), generic=all_,
                           net_data=net_data)
    validate(config)
    if print_bpf:
        click.echo(source(config, resolve_offsets(BTF.load()), boot_epoch_ns()))
        return
    if not output:
        raise UsageError("record: -w FILE is required (use -w - for stdout)")
    if follow and not command:
        raise UsageError("record: --follow needs a COMMAND after --")
    rotation, limit = rotation_options(output, rotate_size, rotate_time, rotate_events, keep,
                                       max_size)
    if output == "-" and sys.stdout.isatty():
        raise UsageError("record: -w - would write binary data to a terminal; redirect it")
    if command and shutil.which(command[0]) is None:
        raise UsageError(f"record: {command[0]}: command not found")
    if os.geteuid() != 0:
        raise UsageError("record: needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs")
    options = RecordOptions(output=output, syscalls=names, buffer_size=config.buffer_size,
                            snaplen=config.snaplen, generic=config.generic,
                            net_data=net_data, engine=engine, duration=duration,
                            count=count, command=tuple(command), follow=follow,
                            status=sys.stderr.isatty(), rotation=rotation, max_size=limit)
    summary = Recorder(options).run()
    drops = ", ".join(f"cpu{i}: {d}" for i, d in enumerate(summary.drops))
    where = "stdout" if output == "-" else output
    if rotation.active:
        kept = len(summary.files)
        where = f"{kept + len(summary.removed)} files" + \
            (f" ({len(summary.removed)} removed by --keep)" if summary.removed else "") + \
            (f", last {summary.files[-1]}" if kept else "")
    click.echo(f"recorded {summary.events} events in {summary.seconds:.1f}s to {where} "
               f"({summary.bytes:,} bytes); dropped {summary.dropped} ({drops})", err=True)
    if summary.alerts is not None:
        click.echo(f"{summary.alerts} alerts", err=True)
    if summary.stopped:
        click.echo(f"scapula: stopped: {summary.stopped}", err=True)
    if summary.command_status is not None:
        click.echo(f"{command[0]} exited with status {summary.command_status}", err=True)
    if summary.dropped:
        click.echo(f"scapula: warning: {summary.dropped} events were lost: the ring buffer had no "
                   "room for them; try a larger --buffer-size or fewer --syscalls", err=True)
