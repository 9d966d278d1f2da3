#!/usr/bin/env bash
# What following PROCMAP_QUERY costs `record -- CMD`: a program that walks
# its own maps with PROCMAP_QUERY WALKS times (tools/test-programs/
# procmap-walk.c, mode `walks`), side by side in one hyperfine run:
#   bare       ./procmap-walk walks WALKS
#   mapsrace   mapsrace record -o t.mrtrace -- ./procmap-walk walks WALKS
#   [base]     the same with BASE_MAPSRACE (another build, e.g. one that
#              logs the ioctl without copying the query), when set
# and prints the added wall time per query (mean minus bare, divided by the
# queries the program made). mapsrace exits 28 under a build without walk
# snapshots, so failures are ignored (-i).
#
# Usage: tools/bench-procmap-query.sh [WALKS] [RUNS]
set -euo pipefail

walks=${1:-500}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mapsrace-bench-pq.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
(cd "$root" && swift build -c release --product mapsrace >/dev/null \
    && swift build -c release --product mapsrace-preload >/dev/null)
mapsrace="$root/.build/release/mapsrace"
cc -std=gnu11 -O2 -o "$work/procmap-walk" "$root/tools/test-programs/procmap-walk.c"
cd "$work"
queries=$(./procmap-walk walks "$walks" | sed -n 's/^walks //p')
# hyperfine -i ignores failures (for the base build): this build must succeed,
# or its times would be those of a failing run.
if ! "$mapsrace" record -o check.mrtrace -- ./procmap-walk walks 1 >/dev/null; then
    echo "bench-procmap-query: this build's record -- procmap-walk failed" >&2
    exit 1
fi

commands=(-n bare "./procmap-walk walks $walks" -n mapsrace "$mapsrace record -o t.mrtrace -- ./procmap-walk walks $walks")
if [ -n "${BASE_MAPSRACE:-}" ]; then
    commands+=(-n base "$BASE_MAPSRACE record -o b.mrtrace -- ./procmap-walk walks $walks")
fi
hyperfine -i -N --runs "$runs" --warmup 1 --export-json times.json "${commands[@]}" >hyperfine.txt
cat hyperfine.txt
python3 - "$queries" <<'PY'
import json, sys
queries = int(sys.argv[1])
results = {r["command"]: r for r in json.load(open("times.json"))["results"]}
bare = results["bare"]["mean"]
print(f"queries per run: {queries}")
for name in ("mapsrace", "base"):
    if name in results:
        added = results[name]["mean"] - bare
        print(f"{name}: mean {results[name]['mean']:.3f} s, added {added:.3f} s, {added / queries * 1e6:.2f} us per query")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
