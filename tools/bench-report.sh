#!/usr/bin/env bash
# Benchmarks `mapsrace report` and `mapsrace export` on a seed-size recording
# (`mapsrace record` with its default settings: 65 000 pages, 20 snapshots,
# chromium reader), and the page's load time in headless chromium.
#
# - making the page and the export, beside `analyze --brief` of the same
#   trace (the analysis both of them run), in one hyperfine run;
# - their sizes (goal: the page at most 5 MB) and peak memory (/usr/bin/time -v);
# - load time: the page records performance.now() at its load event (time
#   from navigation start, its script's drawing included) as data-load-ms,
#   read back with `chromium --headless --dump-dom`; goal under 2 s. The
#   wall time of each chromium run is shown beside that of a one-line page
#   (the browser's own start-up).
#
# Usage: tools/bench-report.sh [runs, default 5] [existing trace]
#   KEEP=1 keeps the work directory (with the page and the export).
set -euo pipefail

runs=${1:-5}
cd "$(dirname "$0")/.."
for tool in hyperfine chromium python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-report: $tool is required (tools/bootstrap.sh installs chromium)" >&2; exit 2; }
done

swift build -c release --product mapsrace >&2
mapsrace="$(swift build -c release --show-bin-path)/mapsrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-report.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

trace=${2:-}
if [ -z "$trace" ]; then
    trace="$work/seed.mrtrace"
    echo "== recording with mapsrace record's defaults"
    "$mapsrace" record -o "$trace" >/dev/null
fi
"$mapsrace" info "$trace" | grep -E "workload|mutations|snapshots|size"

echo
echo "== report and export beside analyze --brief ($runs runs each)"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/hyperfine.json" \
    -n "mapsrace report" "'$mapsrace' report '$trace' -o '$work/seed.html' 2>/dev/null" \
    -n "mapsrace export" "'$mapsrace' export '$trace' -o '$work/seed.json' 2>/dev/null" \
    -n "mapsrace analyze --brief" "'$mapsrace' analyze --brief '$trace' >/dev/null"
python3 - "$work/hyperfine.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
analyze = results["mapsrace analyze --brief"]["median"]
for name in ("mapsrace report", "mapsrace export"):
    median = results[name]["median"]
    print(f"{name}: median {median:.3f} s, {median / analyze:.2f}x analyze --brief ({analyze:.3f} s)")
PY

echo
echo "== sizes and peak memory"
page_bytes=$(stat -c %s "$work/seed.html")
export_bytes=$(stat -c %s "$work/seed.json")
echo "page   $page_bytes bytes (goal <= 5000000): $([ "$page_bytes" -le 5000000 ] && echo met || echo NOT met)"
echo "export $export_bytes bytes"
for command in report export; do
    /usr/bin/time -v "$mapsrace" "$command" "$trace" -o "$work/rss.out" 2> "$work/time.txt" >/dev/null
    rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    echo "$command peak RSS $((rss_kb / 1024)) MiB"
done

echo
echo "== page load in headless chromium ($runs runs)"
printf '<!DOCTYPE html><title>blank</title><p>blank</p>\n' > "$work/blank.html"
browse() {
    local started ended
    started=$(date +%s%N)
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$work/profile" --dump-dom "file://$1" 2>/dev/null > "$work/dom.html"
    ended=$(date +%s%N)
    echo $(( (ended - started) / 1000000 ))
}
browse "$work/blank.html" >/dev/null  # a warm profile for both
loads=(); walls=(); blanks=()
for _ in $(seq "$runs"); do
    walls+=("$(browse "$work/seed.html")")
    load=$(grep -o 'data-load-ms="[0-9.]*"' "$work/dom.html" | head -1 | tr -dc '0-9.')
    render=$(grep -o 'data-render-ms="[0-9.]*"' "$work/dom.html" | head -1 | tr -dc '0-9.')
    [ -n "$load" ] || { echo "bench-report: the page did not record its load time" >&2; exit 1; }
    loads+=("$load/$render")
    blanks+=("$(browse "$work/blank.html")")
done
python3 - "${loads[*]}" "${walls[*]}" "${blanks[*]}" <<'PY'
import statistics, sys
loads = [tuple(map(float, pair.split("/"))) for pair in sys.argv[1].split()]
walls = list(map(int, sys.argv[2].split()))
blanks = list(map(int, sys.argv[3].split()))
load = statistics.median(l for l, _ in loads)
render = statistics.median(r for _, r in loads)
print(f"load event at {load:.0f} ms median (runs: {', '.join(f'{l:.0f}' for l, _ in loads)}; goal < 2000 ms): "
      f"{'met' if load < 2000 else 'NOT met'}; the page's script drew everything in {render:.0f} ms")
print(f"chromium --dump-dom wall time: report {statistics.median(walls)} ms, one-line page {statistics.median(blanks)} ms (median)")
PY
