#!/bin/bash
# tests/kernel/demo_kernel.sh: `make demo` — a multi-threaded crash in the corecast kernel under QEMU,
# its core imported from the console log into the collector's store, and the symbolized backtrace.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
K=$ROOT/build/riscv64-virt
WORK=$(mktemp -d /tmp/corecast-kdemo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STORE=$WORK/store

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

ARGS='run=crashdemo:mode=segv:threads=4:fp=1 corecast.device=qemu-demo-1 poweroff'
step "1. Boot the kernel: crashdemo with 4 helper threads (mutex, condvar, sleep, busy) faults"
printf '$ make qemu BOOTARGS=%q\n' "$ARGS"
timeout 300 qemu-system-riscv64 -M virt -m 128M -smp 1 -bios default -display none \
	-monitor none -serial stdio -no-reboot -kernel "$K/kernel.elf" -append "$ARGS" \
	</dev/null >"$WORK/console.log" 2>&1
# The console without the OpenSBI banner, and the base64 body shortened.
sed -n '/^\[k\] corecast kernel/,$p' "$WORK/console.log" | tr -d '\r' |
	awk 'length($0) >= 60 && /^[A-Za-z0-9+\/=]+$/ { if (!shown++) print "    ... base64 of the core ..."; next } { print "    " $0 }'

step "2. Import the dump from the console log into a fresh store"
run "$BIN/corecastctl" --store "$STORE" import-serial "$WORK/console.log"

step "3. File the program's debug info in the store by build-id"
run "$BIN/corecastctl" --store "$STORE" symbols add "$K/user/crashdemo"
run "$BIN/corecastctl" --store "$STORE" list
run "$BIN/corecastctl" --store "$STORE" info 1

step "4. Symbolized backtrace of every thread"
"$BIN/corecastctl" --store "$STORE" dump 1 -o "$WORK/core"
"$BIN/corecast-symbolize" --core "$WORK/core" --store "$STORE" --json >"$WORK/sym.json"
/usr/bin/python3 - "$WORK/sym.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"signal {d['signal']}, crashed thread {d['crashed_tid']}")
for t in d["threads"]:
    print(f"thread {t['tid']}{' (crashed)' if t['crashed'] else ''}")
    for i, f in enumerate(t["frames"]):
        print(f"  #{i} {f['pc']} {f.get('function') or '??'} at {f.get('file')}:{f.get('line')}")
PY

step "5. The same core in gdb-multiarch"
run gdb-multiarch -nx -batch -ex "file $K/user/crashdemo" -ex "core-file $WORK/core" \
	-ex 'info threads' -ex 'bt' -ex 'p $fs0' 2>&1 | grep -v "^warning: Can't open file"
