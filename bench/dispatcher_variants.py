"""Where scapula's cost on an unrecorded syscall goes: variants of bpf/dispatcher.c's sys_exit, timed side by side.

Every variant is scapula's own program (default syscall set) with only the body of
the sys_exit hook replaced, loaded once; then, round after round in rotating order,
one variant at a time is attached and getppid (never recorded) is timed. The files
in bpf/ are not touched: the variants are made from the text capture/program.py
generates.

Run as root: `.venv/bin/python bench/dispatcher_variants.py [--rounds N]`.
"""
import argparse
import os
import re
from pathlib import Path
import statistics
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from syscall_overhead import CONTAMINATED, clean_run, run_workload, workdir  # noqa: E402

from scapula.capture.program import Program, ProgramConfig  # noqa: E402
from scapula.schemas import events as schema  # noqa: E402

# The sys_exit hook's body, whatever bpf/dispatcher.c has there today.
SYS_EXIT = re.compile(r"(RAW_TRACEPOINT_PROBE\(sys_exit\)\n\{\n).*?(\n\}\n)", re.S)

# name -> replacement body of sys_exit (None: leave it as it is).
VARIANTS = {
    "scapula": None,
    "return_at_once": "    return 0;",
    "read_id_only": """    long id = syscall__id(REGS_OF(ctx));
    asm volatile("" :: "r"(id));
    return 0;""",
    # How the id was read before TASK_BTF: a probe read through the raw pointer.
    "read_id_probe": """    long id = 0;
    bpf_probe_read_kernel(&id, sizeof(id), (const void *)(ctx->args[0] + OFF_PT_REGS_ORIG_AX));
    asm volatile("" :: "r"(id));
    return 0;""",
    "tail_call_only": "    fillers.call(ctx, 511);\n    return 0;",
    # A compiled-in bitmap of recorded syscalls checked before the tail call.
    "id_bitmap_filter": """    long id = syscall__id(REGS_OF(ctx));
    u64 RECORDED_MASK[8] = RECORDED_MASK_INIT;
    if ((u64)id >= 512 || !((RECORDED_MASK[(u64)id >> 6] >> (id & 63)) & 1))
        return 0;
    fillers.call(ctx, id);
    return 0;""",
}

EMPTY_ENTER = "RAW_TRACEPOINT_PROBE(sys_enter)\n{\n    return 0;\n}\n"


def recorded_mask(names) -> str:
    words = [0] * 8
    for n in names:
        nr = schema.BY_NAME[n].syscall
        words[nr >> 6] |= 1 << (nr & 63)
    return ("#define RECORDED_MASK_INIT {"
            + ", ".join(f"0x{w:x}ULL" for w in words) + "}\n")


def load_variant(name: str, body: str | None) -> Program:
    prog = Program(ProgramConfig(syscalls=schema.DEFAULT_SYSCALLS, self_tgid=os.getpid()))
    if body is not None:
        prog.text, n = SYS_EXIT.subn(lambda m: m[1] + body + m[2], prog.text)
        if n != 1:
            sys.exit("bench: cannot find sys_exit's body in the generated program")
        if "RECORDED_MASK" in body:
            prog.text = prog.text.replace("RAW_TRACEPOINT_PROBE(sys_exit)",
                                          recorded_mask(schema.DEFAULT_SYSCALLS)
                                          + "RAW_TRACEPOINT_PROBE(sys_exit)", 1)
    try:
        prog.load()
    except Exception as e:
        sys.exit(f"bench: variant {name} does not load: {e}")
    return prog


def attach(prog: Program, on: bool, enter: bool = True) -> None:
    b = prog.bpf
    for tp in ((b"sys_enter", b"sys_exit") if enter else (b"sys_exit",)):
        if on:
            b.attach_raw_tracepoint(tp=tp, fn_name=b"raw_tracepoint__" + tp)
        else:
            b.detach_raw_tracepoint(tp=tp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--getppid", type=int, default=2_000_000)
    args = ap.parse_args()
    with workdir() as (tmp, exe, target):
        from bcc import BPF
        progs = {name: load_variant(name, body) for name, body in VARIANTS.items()}
        for p in progs.values():
            attach(p, False)
        floor = BPF(text=EMPTY_ENTER + EMPTY_ENTER.replace("sys_enter", "sys_exit"))
        floor.detach_raw_tracepoint(tp=b"sys_enter")
        floor.detach_raw_tracepoint(tp=b"sys_exit")

        def run(name):
            return clean_run(lambda: run_attached(name), 0 if name == "none" else 2)

        def run_attached(name):
            if name == "none":
                return run_workload(exe, target, args.getppid, 0)["getppid"]
            if name == "floor":
                for tp in (b"sys_enter", b"sys_exit"):
                    floor.attach_raw_tracepoint(tp=tp, fn_name=b"raw_tracepoint__" + tp)
                try:
                    return run_workload(exe, target, args.getppid, 0)["getppid"]
                finally:
                    for tp in (b"sys_enter", b"sys_exit"):
                        floor.detach_raw_tracepoint(tp=tp)
            attach(progs[name], True)
            try:
                return run_workload(exe, target, args.getppid, 0)["getppid"]
            finally:
                attach(progs[name], False)

        names = ["none", "floor", *VARIANTS]
        samples = {n: [] for n in names}
        ratios = {n: [] for n in names}
        for r in range(args.rounds):
            k = r % len(names)
            this = {n: run(n) for n in names[k:] + names[:k]}
            for n, v in this.items():
                samples[n].append(v)
                fl = this["floor"] - this["none"]
                ratios[n].append((v - this["none"]) / fl if fl > 0 else float("nan"))
            print(f"round {r + 1}/{args.rounds}: " +
                  " ".join(f"{n} {this[n]:.1f}" for n in names), flush=True)
        for p in progs.values():
            p.close()
        floor.cleanup()
    if CONTAMINATED:
        print(f"warning: {len(CONTAMINATED)} samples ran while someone else's program was on "
              "the syscall hooks")

    none = statistics.median(samples["none"])
    print(f"\ngetppid ns, {args.rounds} interleaved rounds, medians; ratio = added cost / floor's "
          "added cost, median of per-round ratios")
    for n in names:
        m = statistics.median(samples[n])
        print(f"  {n:18}{m:8.1f} ns   added {m - none:6.1f} ns   ratio "
              f"{statistics.median(ratios[n]):5.2f}")


if __name__ == "__main__":
    main()
