#!/usr/bin/env bash
# What recording costs, on the seed-size experiment (65000 pages, 20 snapshots).
#
# 1. Logging overhead: `mapsrace record` with logging and with --no-log,
#    alternated, RUNS runs each; medians of mutator_loop_ns (the rolling loop
#    alone) and their ratio (goal: <= 1.05).
# 2. Wall time next to strace: tools/rolling-mmap.c (the same experiment in
#    plain C, no logging) bare and under `strace -f -e trace=mprotect,read`,
#    and mapsrace record with and without logging, with hyperfine.
#
# Usage: tools/bench-record.sh [RUNS]   (default 7; PAGES, SNAPSHOTS, SEED env)
set -euo pipefail

runs=${1:-7}
pages=${PAGES:-65000}
snapshots=${SNAPSHOTS:-20}
seed=${SEED:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mapsrace-bench-record.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "building (release) ..." >&2
(cd "$root" && swift build -c release --product mapsrace >/dev/null)
mapsrace="$root/.build/release/mapsrace"
cc -O2 -o "$work/rolling-mmap" "$root/tools/rolling-mmap.c"

loop_ns() { sed -n 's/.*"mutator_loop_ns": \([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

common=(record --pages "$pages" --snapshots "$snapshots" --seed "$seed" --json)
: >"$work/logged"
: >"$work/unlogged"
for ((i = 1; i <= runs; i++)); do
    "$mapsrace" "${common[@]}" -o "$work/t.mrtrace" | loop_ns >>"$work/logged"
    "$mapsrace" "${common[@]}" --no-log | loop_ns >>"$work/unlogged"
done
logged=$(median <"$work/logged")
unlogged=$(median <"$work/unlogged")

echo
echo "## Logging overhead ($pages pages, $snapshots snapshots, seed $seed, $runs runs each, alternated)"
echo
echo "| mutator loop | median ms | runs (ms) |"
echo "| --- | --- | --- |"
for kind in logged unlogged; do
    printf '| %s | %s | %s |\n' "$kind" \
        "$(awk -v n="$(median <"$work/$kind")" 'BEGIN { printf "%.1f", n / 1e6 }')" \
        "$(awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1e6 }' "$work/$kind")"
done
awk -v a="$logged" -v b="$unlogged" 'BEGIN { printf "\nratio of the medians, logged / --no-log: %.3f\n", a / b }'
# Each logged run is paired with the unlogged run right after it, so slow
# drifts of the machine's load cancel out; the median of the pair ratios is
# the figure the goal applies to.
pair_ratio=$(paste "$work/logged" "$work/unlogged" | awk '{ printf "%.6f\n", $1 / $2 }' | median)
awk -v r="$pair_ratio" 'BEGIN { printf "median of the %s pair ratios, logged / --no-log: %.3f (goal <= 1.05)\n", "'"$runs"'", r }'

echo
echo "## Wall time (hyperfine, $runs runs each)"
echo
hyperfine --runs "$runs" --warmup 1 --style none --export-markdown "$work/wall.md" \
    -n "C, no tracing" "$work/rolling-mmap --pages $pages --snapshots $snapshots --seed $seed" \
    -n "C under strace -f -e trace=mprotect,read" \
    "strace -f -e trace=mprotect,read -o /dev/null $work/rolling-mmap --pages $pages --snapshots $snapshots --seed $seed" \
    -n "mapsrace record --no-log" "$mapsrace ${common[*]} --no-log" \
    -n "mapsrace record (full trace)" "$mapsrace ${common[*]} -o $work/t.mrtrace" \
    >/dev/null
cat "$work/wall.md"
