#!/usr/bin/env bash
# Regenerates traces/*.analysis.json, the expected analysis of each committed
# sample trace (checked by GoldenTraceTests). Run it after a deliberate change
# to the analysis, and review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product mapsrace
bin="$(swift build --show-bin-path)/mapsrace"
for trace in traces/*.mrtrace; do
    "$bin" analyze --json "$trace" > "${trace%.mrtrace}.analysis.json"
    echo "wrote ${trace%.mrtrace}.analysis.json"
done
