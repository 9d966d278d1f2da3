#!/usr/bin/env bash
# Benchmarks `mapsrace analyze` on a seed-size recording (65 000 pages,
# 20 snapshots, chromium reader) beside `zstd -dc` of the same trace, the
# floor any reader of the file pays, in one hyperfine run; then peak memory
# with /usr/bin/time -v.
#
# Goals (issue 4): analyze in 1 s or less and 256 MiB or less on this
# 2-core machine.
#
# Usage: tools/bench-analyze.sh [hyperfine runs, default 10] [existing trace]
#   KEEP=1 keeps the work directory.
set -euo pipefail

runs=${1:-10}
cd "$(dirname "$0")/.."
for tool in hyperfine zstd /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-analyze: $tool is required" >&2; exit 2; }
done

swift build -c release --product mapsrace >&2
mapsrace="$(swift build -c release --show-bin-path)/mapsrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-analyze.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

trace=${2:-}
if [ -z "$trace" ]; then
    trace="$work/seed.mrtrace"
    echo "== recording the seed experiment"
    "$mapsrace" record -o "$trace" --pages 65000 --snapshots 20 --seed 1 >/dev/null
fi
"$mapsrace" info "$trace" | grep -E "mutations|snapshots|size"

echo
echo "== analyze beside zstd -dc ($runs runs each)"
hyperfine --warmup 2 --runs "$runs" --export-json "$work/hyperfine.json" \
    -n "mapsrace analyze" "'$mapsrace' analyze --brief '$trace' > /dev/null" \
    -n "zstd -dc" "zstd -dc '$trace' > /dev/null"

python3 - "$work/hyperfine.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
analyze, floor = results["mapsrace analyze"], results["zstd -dc"]
print(f"analyze median {analyze['median']:.3f} s (goal <= 1 s): "
      f"{'met' if analyze['median'] <= 1.0 else 'NOT met'}; "
      f"{analyze['median'] / floor['median']:.1f}x the zstd -dc floor ({floor['median'] * 1000:.0f} ms)")
PY

echo
echo "== peak memory"
/usr/bin/time -v "$mapsrace" analyze --brief "$trace" 2> "$work/time.txt" > /dev/null
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
echo "analyze peak RSS $((rss_kb / 1024)) MiB (goal <= 256 MiB): $([ "$rss_kb" -le $((256 * 1024)) ] && echo met || echo NOT met)"
