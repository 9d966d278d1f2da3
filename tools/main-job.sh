#!/usr/bin/env bash
# The main job: record the seed's experiment with the built-in defaults
# (rolling workload, 65000 pages, chromium reader, 20 snapshots) and analyze it.
# Extra arguments go to `mapsrace record` (e.g. --seed 42 --reader pmap).
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what building and running needs (not the tests' browser, tracers and readers).
MAPSRACE_BOOTSTRAP=build source tools/bootstrap.sh
swift build -c release --product mapsrace
# The fast path of `record -- CMD` (found next to mapsrace; docs/recording.md).
swift build -c release --product mapsrace-preload
bin="$(swift build -c release --show-bin-path)/mapsrace"
mkdir -p out
trace="out/main-job.mrtrace"
"$bin" record -o "$trace" "$@"
echo
"$bin" analyze --brief "$trace"
echo
echo "Each anomaly with its boundary and culprits: $bin analyze $trace"
echo "A snapshot against the truth, read boundaries marked: $bin diff $trace --snapshot 0"
