#!/bin/bash
# tests/demo/demo_collector.sh: `make demo` — a real crash streamed to corecastd on loopback, then listed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
TBIN=$ROOT/build/tests
WORK=$(mktemp -d /tmp/corecast-demo.XXXXXX)
CCD_PID=

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	if [ -n "$CCD_PID" ] && kill -0 "$CCD_PID" 2>/dev/null; then
		kill -KILL "$CCD_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

step "1. Start the collector on 127.0.0.1 (ephemeral port) with a fresh store"
"$BIN/corecastd" --listen udp://127.0.0.1:0 --store "$WORK/store" \
	--port-file "$WORK/port" 2>"$WORK/corecastd.log" &
CCD_PID=$!
for _ in $(seq 100); do
	[ -s "$WORK/port" ] && break
	kill -0 "$CCD_PID" 2>/dev/null || { cat "$WORK/corecastd.log"; exit 1; }
	sleep 0.05
done
PORT=$(cat "$WORK/port")
echo "corecastd pid $CCD_PID listening on udp://127.0.0.1:$PORT, store $WORK/store"

step "2. Crash a multi-threaded sample program (main -> level1 -> level2 -> level3: SIGSEGV)"
mkdir -p "$WORK/crash"
# The machine's core_pattern decides where the kernel writes the core; a relative
# pattern such as "core" puts it in the crashing program's working directory.
echo "core_pattern: $(cat /proc/sys/kernel/core_pattern)"
(cd "$WORK/crash" && ulimit -c unlimited && "$TBIN/crasher") || true
CORE=$(ls "$WORK"/crash/core* 2>/dev/null | head -n1 || true)
if [ -z "$CORE" ]; then
	echo "no core file appeared: core_pattern must be a relative file name for this demo" >&2
	exit 1
fi
ls -l "$CORE"

step "3. Stream the core to the collector with corecast-send"
run "$BIN/corecast-send" --endpoint "udp://127.0.0.1:$PORT" --device demo-board-1 \
	--exe "$TBIN/crasher" "$CORE"

step "4. List what the collector stored"
run "$BIN/corecastctl" --store "$WORK/store" list
ID=$("$BIN/corecastctl" --store "$WORK/store" --json list |
	/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d.get("dumps",[d]); print(d[0]["id"])')

step "5. Show dump $ID (after the collector's worker has symbolized it)"
# Symbolization runs in a worker after the dump is stored; give it a few seconds.
for _ in $(seq 1 50); do
	"$BIN/corecastctl" --store "$WORK/store" --json info "$ID" |
		/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit((r.get("symbolization") or {}).get("status","pending") == "pending")' && break
	sleep 0.2
done
run "$BIN/corecastctl" --store "$WORK/store" info "$ID"

step "6. Check: the stored dump is byte-identical to the core file"
run "$BIN/corecastctl" --store "$WORK/store" dump "$ID" -o "$WORK/dumped.core"
sha256sum "$CORE" "$WORK/dumped.core"
cmp "$CORE" "$WORK/dumped.core" && echo "identical"

step "7. Stop the collector (SIGTERM drains and exits 0)"
kill -TERM "$CCD_PID"
RC=0
wait "$CCD_PID" || RC=$?
CCD_PID=
echo "corecastd exited $RC; its log:"
sed 's/^/    /' "$WORK/corecastd.log"
exit "$RC"
