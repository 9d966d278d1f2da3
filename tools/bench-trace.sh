#!/usr/bin/env bash
# Benchmarks the trace library against the zstd tool on a synthetic trace the
# size of the seed experiment (130 000 mutations, 20 snapshots of 1-3 MB read in
# ~4 KiB chunks, two quiescent maps).
#
#   reading: `mapsrace info F` (decodes every record)  vs  `zstd -dc F`
#   writing: `mapsrace _synth-trace` (generates and writes)  vs  `zstd -3` of the raw stream
#
# Goals: mapsrace reads at >= 0.8x the speed of `zstd -dc`; its file is within
# 10% of `zstd -3` of the same raw stream.
#
# With a real recording as second argument (e.g. from
# `mapsrace record --seed 42 -o /tmp/seed.mrtrace`), also times `info` and
# `analyze --brief` on it side by side with `zstd -dc`.
#
# Usage: tools/bench-trace.sh [hyperfine runs, default 10] [recording.mrtrace]
set -euo pipefail

runs=${1:-10}
recording=${2:-}
cd "$(dirname "$0")/.."
for tool in hyperfine zstd python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-trace: $tool is required" >&2; exit 2; }
done

swift build -c release --product mapsrace >&2
mapsrace="$(swift build -c release --show-bin-path)/mapsrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-trace.XXXXXX")
trap 'rm -rf "$work"' EXIT
trace="$work/synth.mrtrace"
raw="$work/synth.raw"

echo "== writing the synthetic trace"
"$mapsrace" _synth-trace -o "$trace"
zstd -q -dc "$trace" > "$raw"
zstd -q -3 -c "$raw" > "$work/raw.zst"

echo
echo "== peak memory of a full read"
/usr/bin/time -v "$mapsrace" info "$trace" 2>&1 >/dev/null | grep -E "Maximum resident|Elapsed"

echo
echo "== hyperfine ($runs runs each)"
hyperfine --warmup 2 --runs "$runs" --export-json "$work/bench.json" \
    -n "mapsrace info" "'$mapsrace' info '$trace' > /dev/null" \
    -n "zstd -dc" "zstd -q -dc '$trace' > /dev/null" \
    -n "mapsrace _synth-trace" "'$mapsrace' _synth-trace -o '$work/again.mrtrace' > /dev/null" \
    -n "zstd -3 raw" "zstd -q -3 -c '$raw' > /dev/null"

echo
python3 - "$work/bench.json" "$raw" "$trace" "$work/raw.zst" <<'PY'
import json, os, sys
bench, raw, trace, zst = sys.argv[1:5]
raw_mb = os.path.getsize(raw) / 1e6
mean = {r["command"]: r["mean"] for r in json.load(open(bench))["results"]}
print(f"raw stream {raw_mb:.1f} MB; mean wall time and raw MB/s:")
for name, seconds in mean.items():
    print(f"  {name:24s} {seconds * 1000:8.1f} ms  {raw_mb / seconds:8.1f} MB/s")
read_ratio = mean["zstd -dc"] / mean["mapsrace info"]
size_ratio = os.path.getsize(trace) / os.path.getsize(zst)
print(f"read speed, mapsrace info / zstd -dc: {read_ratio:.2f}x (goal >= 0.80x)")
print(f"write time, _synth-trace (incl. generation) / zstd -3: {mean['mapsrace _synth-trace'] / mean['zstd -3 raw']:.2f}x")
print(f"file size, mapsrace / zstd -3 raw: {os.path.getsize(trace)} / {os.path.getsize(zst)} = {size_ratio:.3f} (goal <= 1.10)")
PY

if [[ -n "$recording" ]]; then
    echo
    echo "== the recording $recording: info and analyze --brief vs zstd -dc ($runs runs each)"
    hyperfine --warmup 2 --runs "$runs" --export-json "$work/recording.json" \
        -n "mapsrace info" "'$mapsrace' info '$recording' > /dev/null" \
        -n "mapsrace analyze --brief" "'$mapsrace' analyze '$recording' --brief > /dev/null" \
        -n "zstd -dc" "zstd -q -dc '$recording' > /dev/null"
    python3 - "$work/recording.json" <<'PY'
import json, sys
mean = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
for name in ("mapsrace info", "mapsrace analyze --brief"):
    print(f"{name} / zstd -dc: {mean['zstd -dc'] / mean[name]:.2f}x the speed ({mean[name] * 1000:.1f} ms vs {mean['zstd -dc'] * 1000:.1f} ms)")
PY
fi
