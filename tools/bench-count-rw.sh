#!/usr/bin/env bash
# Benchmarks `mapsrace count-rw` against the seed's counting pipeline (sed + gawk,
# once per file) on the snapshots of one seed-size recording (65 000 pages,
# 20 snapshots), extracted with `mapsrace extract` as saved-maps-NN.txt.
#
# Goal: count-rw at least 20x faster than the pipeline, same numbers.
#
# The seed's Linux script counts a mapping when start >= START and end < END,
# so it misses a read-write mapping ending exactly at END; count-rw uses
# end <= END. The check below compares count-rw with the pipeline rewritten
# with <= (must be identical) and reports how many files the seed's own <
# counts differently (only possible when a read-write page ends at END).
#
# Usage: tools/bench-count-rw.sh [hyperfine runs, default 10]
#   KEEP=1 keeps the work directory (trace, extracted files, results).
set -euo pipefail

runs=${1:-10}
cd "$(dirname "$0")/.."
for tool in hyperfine gawk sed /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-count-rw: $tool is required" >&2; exit 2; }
done

swift build -c release --product mapsrace >&2
mapsrace="$(swift build -c release --show-bin-path)/mapsrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-count-rw.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

echo "== recording the seed experiment and extracting its snapshots"
"$mapsrace" record -o "$work/seed.mrtrace" --pages 65000 --snapshots 20 --seed 1 | grep -E "mutations|reader" || true
"$mapsrace" extract "$work/seed.mrtrace" -o "$work/maps" > /dev/null
info=$("$mapsrace" info --json "$work/seed.mrtrace")
start=$(grep -o '"arena_start":"0x[0-9a-f]*"' <<<"$info" | grep -o '0x[0-9a-f]*')
end=$(grep -o '"arena_end":"0x[0-9a-f]*"' <<<"$info" | grep -o '0x[0-9a-f]*')
files=("$work"/maps/saved-maps-*.txt)
echo "arena [$start, $end): ${#files[@]} files, $(cat "${files[@]}" | wc -l) lines, $(cat "${files[@]}" | wc -c) bytes"

# The seed's pipeline, one sed + gawk per file. $1 is the comparison for the
# end address ("<" as the seed wrote it, "<=" for count-rw's rule).
cat > "$work/seed-count-rw.sh" <<'EOF'
#!/bin/sh
op=$1 start=$2 end=$3
shift 3
for f in "$@"; do
    <"$f" sed -E -e 's/^([^-]+)-([^ ]+) /0x\1 0x\2 /' |
        gawk -v start="$start" -v end="$end" "BEGIN{c=0}
            strtonum(\$1) >= strtonum(start) && strtonum(\$2) $op strtonum(end) && \$3 ~ /^rw/ {
                c += (strtonum(\$2) - strtonum(\$1)) / 4096
            }
            END{print c}"
done
EOF
chmod +x "$work/seed-count-rw.sh"

echo
echo "== same numbers?"
"$mapsrace" count-rw "${files[@]}" --range "$start" "$end" > "$work/mapsrace.out"
"$work/seed-count-rw.sh" "<=" "$start" "$end" "${files[@]}" > "$work/pipeline-le.out"
"$work/seed-count-rw.sh" "<" "$start" "$end" "${files[@]}" > "$work/pipeline-seed.out"
echo "count-rw: $(tr '\n' ' ' < "$work/mapsrace.out")"
echo "seed (<): $(tr '\n' ' ' < "$work/pipeline-seed.out")"
if ! cmp -s "$work/mapsrace.out" "$work/pipeline-le.out"; then
    echo "MISMATCH: count-rw differs from the pipeline with end <= END" >&2
    diff "$work/mapsrace.out" "$work/pipeline-le.out" >&2 || true
    exit 1
fi
echo "count-rw equals the pipeline with end <= END on all ${#files[@]} files;" \
    "the seed's end < END differs on $(diff "$work/mapsrace.out" "$work/pipeline-seed.out" | grep -c '^<' || true)" \
    "(a read-write page ending exactly at END)"

echo
echo "== peak memory of count-rw"
/usr/bin/time -v "$mapsrace" count-rw "${files[@]}" --range "$start" "$end" 2>&1 >/dev/null |
    grep -E "Maximum resident|Elapsed"

echo
echo "== hyperfine ($runs runs each)"
hyperfine --warmup 2 --runs "$runs" --export-markdown "$work/bench.md" \
    -n "mapsrace count-rw" "$mapsrace count-rw $work/maps/saved-maps-*.txt --range $start $end" \
    -n "seed sed+gawk" "$work/seed-count-rw.sh '<' $start $end $work/maps/saved-maps-*.txt"
