#!/bin/bash
# tests/net/demo_knet.sh: `make demo` — the collector on the host, the kernel in QEMU with the endpoint on
# its command line, a crash streamed over virtio-net + lwIP + netdump, and the symbolized backtrace.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
K=$ROOT/build/riscv64-virt
WORK=$(mktemp -d /tmp/corecast-netdemo.XXXXXX)
STORE=$WORK/store
CCD=
cleanup() { [ -n "$CCD" ] && kill "$CCD" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. The collector on the host (loopback; QEMU's user network forwards 10.0.2.2 to it)"
printf '$ corecastd --store %s --listen udp://127.0.0.1:0 &\n' "$STORE"
"$BIN/corecastd" --store "$STORE" --listen udp://127.0.0.1:0 --port-file "$WORK/port" \
	2>"$WORK/corecastd.log" &
CCD=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
run "$BIN/corecastctl" --store "$STORE" symbols add "$K/user/crashdemo"

ARGS="run=crashdemo:mode=segv:threads=4:fp=1 corecast.device=qemu-net-demo-1 corecast.endpoint=udp://10.0.2.2:$PORT corecast.endpoint=serial poweroff"
step "2. Boot the kernel with the endpoint on its command line; crashdemo faults"
printf '$ qemu-system-riscv64 -M virt ... -device virtio-net-device,netdev=n0 -netdev user,id=n0 -append %q\n' "$ARGS"
timeout 300 qemu-system-riscv64 -M virt -m 128M -smp 1 -bios default -display none \
	-monitor none -serial stdio -no-reboot -kernel "$K/kernel.elf" \
	-device virtio-net-device,netdev=n0 -netdev user,id=n0 -append "$ARGS" \
	</dev/null >"$WORK/console.log" 2>&1
sed -n '/^\[k\] corecast kernel/,$p' "$WORK/console.log" | tr -d '\r' | sed 's/^/    /'

step "3. The collector verified, stored and symbolized it"
for _ in $(seq 200); do
	"$BIN/corecastctl" --store "$STORE" --json info 1 2>/dev/null |
		grep -q '"symbolization":{"status":"\(done\|partial\|failed\)' && break
	sleep 0.1
done
run "$BIN/corecastctl" --store "$STORE" list
run "$BIN/corecastctl" --store "$STORE" info 1
kill -TERM "$CCD"; wait "$CCD" || true; CCD=
