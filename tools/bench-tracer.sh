#!/usr/bin/env bash
# What `mapsrace record -- CMD` costs next to strace, on the seed's own
# program (tools/seed-rolling-mmap.c: 65000 pages, 130 000 mprotect calls in
# its loop, a forked child copying the maps 20 times).
#
# hyperfine runs, side by side in one invocation, RUNS runs each (default 3):
#   bare       ./rolling-mmap
#   mapsrace   mapsrace record -o t.mrtrace -- ./rolling-mmap
#   strace     strace -f -e trace=mprotect,read -o /dev/null ./rolling-mmap
# and prints the added wall time of each (mean minus bare), their ratio
# (goal: mapsrace's added time <= 1/5 of strace's), and the added time per
# syscall the tracer stopped at (record --json's traced_syscalls).
#
# Usage: tools/bench-tracer.sh [RUNS]
set -euo pipefail

runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mapsrace-bench-tracer.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "building (release) ..." >&2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# mapsrace and the fast path's preload library (found next to it; without
# it every mutation would stop).
(cd "$root" && swift build -c release --product mapsrace >/dev/null \
    && swift build -c release --product mapsrace-preload >/dev/null)
mapsrace="$root/.build/release/mapsrace"
cc -std=gnu11 -O2 -o "$work/rolling-mmap" "$root/tools/seed-rolling-mmap.c"
cd "$work"

# One recording for the count of traced syscalls.
"$mapsrace" record --json -o t.mrtrace -- ./rolling-mmap >record.json
traced=$(sed -n 's/.*"traced_syscalls":\([0-9]*\).*/\1/p' record.json)
fast=$(sed -n 's/.*"fast_path_syscalls":\([0-9]*\).*/\1/p' record.json)

hyperfine --runs "$runs" --warmup 1 --export-json times.json \
    -n bare './rolling-mmap' \
    -n mapsrace "$mapsrace record -o t.mrtrace -- ./rolling-mmap" \
    -n strace 'strace -f -e trace=mprotect,read -o /dev/null ./rolling-mmap' >hyperfine.txt
cat hyperfine.txt >&2

mean() { python3 -c "import json,sys; print([r['mean'] for r in json.load(open('times.json'))['results'] if r['command']=='$1'][0])"; }
# CPU time (user + system of the command and its children, mean over the
# runs): on a machine shared with other work a ptrace stop also waits for a
# CPU, which inflates wall time but not CPU time.
cpu() { python3 -c "import json,sys; print([r['user'] + r['system'] for r in json.load(open('times.json'))['results'] if r['command']=='$1'][0])"; }
bare=$(mean bare)
traced_mean=$(mean mapsrace)
strace_mean=$(mean strace)
echo
echo "## record -- CMD next to strace (seed program, 65000 pages, $runs runs each, hyperfine)"
echo
echo "| command | mean s | added over bare s | CPU s (user+sys) | added CPU s |"
echo "| --- | --- | --- | --- | --- |"
awk -v b="$bare" -v m="$traced_mean" -v s="$strace_mean" \
    -v cb="$(cpu bare)" -v cm="$(cpu mapsrace)" -v cs="$(cpu strace)" 'BEGIN {
    printf "| bare | %.3f | - | %.3f | - |\n", b, cb
    printf "| mapsrace record -- | %.3f | %.3f | %.3f | %.3f |\n", m, m - b, cm, cm - cb
    printf "| strace -f -e trace=mprotect,read | %.3f | %.3f | %.3f | %.3f |\n", s, s - b, cs, cs - cb
}'
awk -v b="$bare" -v m="$traced_mean" -v s="$strace_mean" -v n="$traced" -v f="${fast:-0}" \
    -v cb="$(cpu bare)" -v cm="$(cpu mapsrace)" -v cs="$(cpu strace)" 'BEGIN {
    printf "\nmapsrace added / strace added: %.3f wall, %.3f CPU (goal <= 0.200)\n", (m - b) / (s - b), (cm - cb) / (cs - cb)
    printf "traced syscalls: %d (%d by the fast path, %d at stops); mapsrace added per traced syscall: %.2f us wall, %.2f us CPU\n", n, f, n - f, (m - b) / n * 1e6, (cm - cb) / n * 1e6
}'
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
