"""`make demo`: record a scripted workload live, then show what the capture holds."""
import os
import sys
import tempfile

from scapula.capture.recorder import Recorder, RecordOptions
from scapula.errors import ScapulaError
from scapula.replay.commands import event_line
from scapula.replay.event import text
from scapula.replay.reader import Capture
from scapula.replay.summary import summarize

# A shell doing what an intruder might: read a sensitive file, look around,
# drop a file, make it executable, run it, and remove it again.
WORKLOAD = r"""#!/bin/sh
cd "$1"
cat /etc/shadow > /dev/null
id > /dev/null
ls /root > /dev/null 2>&1
printf '#!/bin/sh\necho dropped payload ran\n' > payload.sh
chmod 755 payload.sh
./payload.sh > /dev/null
mv payload.sh .payload.sh
rm .payload.sh
cat /nonexistent 2>/dev/null
exit 0
"""

OUTPUT = "demo.scapula"
SHOWN = {"execve", "procexit", "chdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
         "chmod", "fchmodat", "creat", "mkdir", "mkdirat"}


def interesting(ev) -> bool:
    """Execs, exits and file changes; opens only of /etc, or to write, or failed."""
    if ev.name in SHOWN:
        return ev.name != "execve" or ev.res == 0
    if ev.name in ("openat", "open"):
        path = ev.param("name_abs") or b""
        writing = ev.param("flags") & 3 != 0 and path != b"/dev/null"
        return path.startswith(b"/etc/") and not path.startswith(b"/etc/ld.so") or writing \
            or (ev.res < 0 and not path.startswith((b"/usr/", b"/lib")))
    return False


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="scapula-demo-") as workdir:
        script = os.path.join(workdir, "workload.sh")
        with open(script, "w") as f:
            f.write(WORKLOAD)
        print(f"scapula demo: recording a scripted shell session ({script}) ...")
        options = RecordOptions(output=OUTPUT, command=("sh", script, workdir), follow=True)
        try:
            summary = Recorder(options).run()
        except ScapulaError as e:
            print(f"scapula: {e}", file=sys.stderr)
            return e.exit_code
    print(f"recorded {summary.events} events, {summary.dropped} dropped, "
          f"{summary.bytes:,} bytes -> {OUTPUT}\n")
    with Capture(OUTPUT) as cap:
        s = summarize(cap)
        print(f"host {s['host']}, kernel {s['kernel']}, {s['processes']} processes in the "
              f"start snapshot")
        print("events per type: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items()))
        print("\nwhat the workload did (execs, exits, sensitive reads, file changes):")
        for n, ev in enumerate(cap.events(), 1):   # numbered as scapula print numbers them
            if interesting(ev):
                print("  " + event_line(n, ev))
        tree = [ev for ev in cap.events(types={"procexit"})]
        print(f"\n{len(tree)} processes ran and exited; exit codes: "
              + ", ".join(f"{text(e.comm)}={e.param('status')}" for e in tree))
    print(f"\nnext: scapula print {OUTPUT} | less     scapula info {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
