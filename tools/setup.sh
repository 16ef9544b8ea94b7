#!/usr/bin/env bash
# Idempotent set-up: Debian packages, kernel headers for BCC, tracefs, and the venv.
# Every step checks before it acts, so a second run only checks and says so.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv"
did=()

fail() { echo "setup: $*" >&2; exit 1; }

# --- what cannot be fixed from here -------------------------------------------
[ "$(id -u)" = 0 ] || fail "run as root (BPF needs CAP_BPF+CAP_PERFMON, apt needs root): sudo $0"
[ "$(uname -s)" = Linux ] || fail "scapula records Linux kernels only"
read -r kmaj kmin _ < <(uname -r | tr '.-' '  ')
if [ "$kmaj" -lt 5 ] || { [ "$kmaj" -eq 5 ] && [ "$kmin" -lt 8 ]; }; then
    fail "kernel $(uname -r) is too old: BPF ring buffers need Linux >= 5.8"
fi
[ -r /sys/kernel/btf/vmlinux ] || fail "no BTF at /sys/kernel/btf/vmlinux: boot a kernel built with CONFIG_DEBUG_INFO_BTF=y"
command -v apt-get >/dev/null || fail "apt-get not found: this set-up installs BCC from Debian's packages"

# --- Debian packages ----------------------------------------------------------
arch=$(dpkg --print-architecture)
want=(python3-bpfcc libbpfcc "linux-headers-$arch")
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    did+=("installed ${missing[*]}")
fi

# --- kernel headers where BCC looks for them ----------------------------------
# Our programs take no struct layout from headers (offsets come from BTF), so
# Debian's headers serve for any running kernel: BCC only needs them to compile.
mods="/lib/modules/$(uname -r)"
if [ ! -e "$mods/build/include/generated/autoconf.h" ] && [ ! -e "$mods/build/Makefile" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n 1)
    [ -n "$hdr" ] || fail "no Debian kernel headers under /usr/src after installing linux-headers-$arch"
    common="${hdr%-"$arch"}-common"
    mkdir -p "$mods"
    ln -sfn "$hdr" "$mods/build"
    ln -sfn "$common" "$mods/source"
    did+=("linked $mods/build -> $hdr")
fi

# --- tracefs ------------------------------------------------------------------
if ! mountpoint -q /sys/kernel/tracing; then
    mount -t tracefs tracefs /sys/kernel/tracing || fail "cannot mount tracefs at /sys/kernel/tracing"
    did+=("mounted tracefs")
fi

# --- the venv -----------------------------------------------------------------
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$PY is $("$PY" -V 2>&1); scapula needs Python >= 3.11 (set PYTHON=/path/to/python3.11)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    did+=("created $VENV")
fi
stamp="$VENV/.scapula-installed"
sig=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sig" ]; then
    log="$VENV/pip.log"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip &&
           "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        fail "pip could not install scapula into $VENV (full log: $log)"
    fi
    echo "$sig" > "$stamp"
    did+=("installed scapula into $VENV")
fi

# BCC's Python module is pure Python in Debian's dist-packages; expose only it
# (not all of dist-packages) to whatever Python built the venv.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
bccdir=$(/usr/bin/python3 -c 'import bcc, os; print(os.path.dirname(os.path.dirname(bcc.__file__)))' 2>/dev/null) \
    || fail "Debian's python3-bpfcc is installed but /usr/bin/python3 cannot import bcc"
shim="$VENV/bcc-only"
if [ ! -e "$shim/bcc" ] || [ ! -e "$site/scapula-bcc.pth" ]; then
    mkdir -p "$shim"
    ln -sfn "$bccdir/bcc" "$shim/bcc"
    echo "$shim" > "$site/scapula-bcc.pth"
    did+=("made bcc importable in the venv")
fi
"$VENV/bin/python" -c 'import bcc' 2>/dev/null || fail "bcc does not import in $VENV"

# Once per kernel: can BCC compile and load a raw tracepoint program here?
checked="$VENV/.bpf-ok-$(uname -r)"
if [ ! -e "$checked" ]; then
    if ! err=$("$VENV/bin/python" -c '
from bcc import BPF
BPF(text="RAW_TRACEPOINT_PROBE(sys_exit) { return 0; }").cleanup()' 2>&1); then
        echo "$err" | tail -n 3 >&2
        fail "BCC cannot load a BPF program into this kernel (needs CONFIG_BPF_SYSCALL, raw tracepoints, and root or CAP_BPF+CAP_PERFMON)"
    fi
    touch "$checked"
    did+=("checked that BPF programs load")
fi

if [ ${#did[@]} -eq 0 ]; then
    echo "setup: already set up, nothing to do"
else
    printf 'setup: %s\n' "${did[@]}"
fi
