#!/usr/bin/env bash
# Runs `mapsrace survey` (every reader against every workload) at a size that
# finishes in a few minutes on this 2-core machine, prints its Markdown table,
# then what each reader costs per snapshot beside the plain `chromium` reader,
# from the survey's own medians (one run, so every reader shares the same
# machine state), and the survey's wall time and peak memory (/usr/bin/time -v).
#
# Usage: tools/bench-survey.sh [repeat, default 5] [pages, default 8000] [snapshots, default 20]
#   KEEP=1 keeps the work directory (the traces, survey.json, survey.md).
#   MAPSRACE=path uses that binary instead of building a release one.
set -euo pipefail

repeat=${1:-5}
pages=${2:-8000}
snapshots=${3:-20}
cd "$(dirname "$0")/.."
for tool in jq /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-survey: $tool is required" >&2; exit 2; }
done

if [ -z "${MAPSRACE:-}" ]; then
    swift build -c release --product mapsrace >&2
    MAPSRACE="$(swift build -c release --show-bin-path)/mapsrace"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-survey.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
survey="$work/survey"

echo "== mapsrace survey --repeat $repeat --pages $pages --snapshots $snapshots"
/usr/bin/time -v -o "$work/time.txt" \
    "$MAPSRACE" survey --repeat "$repeat" --pages "$pages" --snapshots "$snapshots" --dir "$survey" --markdown
echo

echo "== cost per snapshot beside chromium (median read time; ratio to chromium on the same workload)"
jq -r '
  def time(ns): if ns == null then "-"
    elif ns < 1000000 then "\((ns / 1000) | round) µs"
    else "\((ns / 10000 | round) / 100) ms" end;
  def ratio(ns; base): if ns == null or base == null or base == 0 then "" else " (\((ns * 100 / base | round) / 100)×)" end;
  .parameters.workloads as $workloads
  | (.cells | map({key: "\(.workload)/\(.reader)", value: .}) | from_entries) as $cell
  | "| reader | " + ($workloads | join(" | ")) + " | pause (median) |",
    "|---|" + ($workloads | map("---:|") | join("")) + "---:|",
    (.parameters.readers[] as $reader
      | "| \($reader) | "
        + ([$workloads[] as $w
            | $cell["\($w)/\($reader)"].median_snapshot_ns as $ns
            | $cell["\($w)/chromium"].median_snapshot_ns as $base
            | time($ns) + (if $reader == "chromium" then "" else ratio($ns; $base) end)] | join(" | "))
        + " | "
        + ([$workloads[] | $cell["\(.)/\($reader)"].median_target_pause_ns | select(. != null)]
           | if length == 0 then "-" else (sort | .[length / 2 | floor] | time(.)) end)
        + " |")
' "$survey/survey.json"
echo

echo "== the survey itself"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$work/time.txt" | sed 's/^[[:space:]]*//'
jq -r '"recordings: \([.cells[].recordings] | add), failed: \([.cells[].failed_recordings] | add)"' "$survey/survey.json"
