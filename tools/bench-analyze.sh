#!/usr/bin/env bash
# Benchmarks `mapsrace analyze --json` against the floor any reader of the
# trace pays, `zstd -dc`, and against `mapsrace info` (one decoding pass over
# every record), side by side in one run: the three commands run in turn,
# round after round, in an order that rotates each round, so that a busy
# machine slows them alike; each figure is the median over the rounds, with
# the peak RSS of the process (wait4's ru_maxrss).
#
# Then a scale table: rolling recordings of 16 000, 65 000 and 250 000 pages
# (20 snapshots, chromium reader, seed 1), analyze's median time and peak RSS
# for each, and their ratios to the 16 000-page row beside the ratio of pages.
#
# Goals (issue 12): seed-size (65 000 pages) analyze / zstd -dc <= 5; time and
# peak RSS grow at most 1.2x faster than the pages (4x pages: <= 4.8x);
# 250 000 pages under 1 GiB.
#
# Recording 250 000 pages needs about 250 000 map entries, more than the
# default vm.max_map_count (65530). `mapsrace record` refuses with exit 20 and
# says which limit it needs; run as root, this script then raises the limit
# with `sysctl -w vm.max_map_count=N` for the recording and puts the old value
# back when it exits. Otherwise it prints the command and leaves the row out.
#
# Then a traced recording (`record -- ./rolling-mmap`, the seed program of
# tools/seed-rolling-mmap.c under the tracer), whose analysis also models every
# address space whole: zstd -dc, info and analyze --json side by side, and,
# with BASE=/path/to/another/mapsrace (e.g. a release build of main copied
# aside), that binary's analyze --json beside this one's, as a ratio.
#
# Usage: tools/bench-analyze.sh [rounds, default 10] [existing seed-size trace]
#   SCALE=0 skips the scale table; TRACED=0 the traced recording; KEEP=1
#   keeps the work directory.
set -euo pipefail

rounds=${1:-10}
cd "$(dirname "$0")/.."
for tool in zstd python3; do
    command -v "$tool" >/dev/null || { echo "bench-analyze: $tool is required" >&2; exit 2; }
done

swift build -c release --product mapsrace >&2
mapsrace="$(swift build -c release --show-bin-path)/mapsrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-analyze.XXXXXX")
original_map_count=$(sysctl -n vm.max_map_count)
cleanup() {
    if [ "$(sysctl -n vm.max_map_count)" != "$original_map_count" ]; then
        sysctl -q -w vm.max_map_count="$original_map_count" || true
        echo "(vm.max_map_count put back to $original_map_count)"
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Records a rolling trace of $1 pages into $2, raising vm.max_map_count when
# the recorder asks for it and this script may. Returns 1 when it cannot.
record() {
    local pages=$1 out=$2 status=0
    "$mapsrace" record -o "$out" --pages "$pages" --snapshots 20 --seed 1 >/dev/null 2>"$work/record.err" || status=$?
    if [ "$status" = 20 ]; then
        local wanted
        wanted=$(grep -o 'vm.max_map_count=[0-9]*' "$work/record.err" | head -1 | cut -d= -f2)
        if [ "$(id -u)" = 0 ] && [ -n "$wanted" ]; then
            echo "   (raising vm.max_map_count from $(sysctl -n vm.max_map_count) to $wanted: sysctl -w vm.max_map_count=$wanted)"
            sysctl -q -w vm.max_map_count="$wanted"
            status=0
            "$mapsrace" record -o "$out" --pages "$pages" --snapshots 20 --seed 1 >/dev/null 2>"$work/record.err" || status=$?
        else
            echo "   $pages pages: $(cat "$work/record.err")"
            echo "   (run as root, or first: sudo sysctl -w vm.max_map_count=${wanted:-300000})"
            return 1
        fi
    fi
    if [ "$status" != 0 ]; then
        echo "   recording $pages pages failed (exit $status): $(cat "$work/record.err")"
        return 1
    fi
}

# Times commands (name=command, run with sh -c, output discarded) in rotating
# order for $rounds rounds; prints one JSON object: name -> [median seconds,
# median peak RSS KiB].
measure() {
    python3 - "$rounds" "$@" <<'PY'
import json, os, statistics, subprocess, sys, time
rounds = int(sys.argv[1])
commands = [argument.split("=", 1) for argument in sys.argv[2:]]
times = {name: [] for name, _ in commands}
rss = {name: [] for name, _ in commands}
null = open(os.devnull, "wb")
for round_index in range(rounds):
    shift = round_index % len(commands)
    for name, command in commands[shift:] + commands[:shift]:
        start = time.perf_counter()
        process = subprocess.Popen(["sh", "-c", "exec " + command], stdout=null)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench-analyze: `{command}` failed")
        times[name].append(elapsed)
        rss[name].append(usage.ru_maxrss)
print(json.dumps({name: [statistics.median(times[name]), statistics.median(rss[name])] for name, _ in commands}))
PY
}

trace=${2:-}
if [ -z "$trace" ]; then
    trace="$work/seed.mrtrace"
    echo "== recording the seed experiment (65 000 pages, 20 snapshots, chromium reader, seed 1)"
    record 65000 "$trace"
fi
"$mapsrace" info "$trace" | grep -E "^(mutations|snapshots|size) "
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== side by side, $rounds rounds in rotating order (median wall time, median peak RSS)"
measure "zstd -dc=zstd -dc '$trace'" "mapsrace info=$mapsrace info '$trace'" \
    "mapsrace analyze --json=$mapsrace analyze --json '$trace'" > "$work/seed.json"
python3 - "$work/seed.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
floor = results["zstd -dc"][0]
for name, (seconds, rss) in results.items():
    print(f"{name:<24} {seconds * 1000:8.1f} ms  {seconds / floor:5.2f}x zstd -dc  {rss / 1024:7.1f} MiB")
ratio = results["mapsrace analyze --json"][0] / floor
print(f"analyze / zstd -dc = {ratio:.2f} (goal <= 5): {'met' if ratio <= 5 else 'NOT met'}")
PY

if [ "${TRACED:-1}" = 1 ]; then
    echo
    echo "== traced recording: record -- ./rolling-mmap (tools/seed-rolling-mmap.c), $rounds rounds in rotating order"
    command -v cc >/dev/null || { echo "bench-analyze: cc is required for the traced recording" >&2; exit 2; }
    cc -std=gnu11 -O2 -o "$work/rolling-mmap" tools/seed-rolling-mmap.c
    # The program writes its saved maps into the current directory.
    (cd "$work" && "$mapsrace" record -o "$work/traced.mrtrace" -- ./rolling-mmap >/dev/null 2>"$work/record.err") \
        || { echo "bench-analyze: the traced recording failed: $(cat "$work/record.err")" >&2; exit 1; }
    "$mapsrace" info "$work/traced.mrtrace" | grep -E "^(mutations|snapshots|size) "
    echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    commands=("zstd -dc=zstd -dc '$work/traced.mrtrace'" "mapsrace info=$mapsrace info '$work/traced.mrtrace'"
        "mapsrace analyze --json=$mapsrace analyze --json '$work/traced.mrtrace'")
    if [ -n "${BASE:-}" ]; then
        "$BASE" analyze --json "$work/traced.mrtrace" > "$work/traced-base.json"
        "$mapsrace" analyze --json "$work/traced.mrtrace" > "$work/traced-new.json"
        if cmp -s "$work/traced-base.json" "$work/traced-new.json"; then
            echo "analyze --json of BASE and this build: byte-identical"
        else
            echo "analyze --json of BASE and this build: DIFFERENT"
        fi
        commands+=("BASE analyze --json=$BASE analyze --json '$work/traced.mrtrace'")
    fi
    measure "${commands[@]}" > "$work/traced.json"
    python3 - "$work/traced.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
floor = results["zstd -dc"][0]
for name, (seconds, rss) in results.items():
    print(f"{name:<24} {seconds * 1000:8.1f} ms  {seconds / floor:5.2f}x zstd -dc  {rss / 1024:7.1f} MiB")
if "BASE analyze --json" in results:
    new, base = results["mapsrace analyze --json"], results["BASE analyze --json"]
    print(f"analyze --json: BASE / this build = {base[0] / new[0]:.2f}x time, {base[1] / new[1]:.2f}x peak RSS")
PY
fi

[ "${SCALE:-1}" = 1 ] || exit 0
echo
echo "== scale: rolling, 20 snapshots, chromium reader, seed 1 ($rounds rounds each, analyze --json)"
rows=()
for pages in 16000 65000 250000; do
    file="$work/rolling-$pages.mrtrace"
    if [ "$pages" = 65000 ] && [ -z "${2:-}" ]; then file=$trace; elif ! record "$pages" "$file"; then continue; fi
    raw=$("$mapsrace" info "$file" | awk '/^size / {print $5}')
    measure "analyze=$mapsrace analyze --json '$file'" > "$work/scale-$pages.json"
    rows+=("$pages $raw $work/scale-$pages.json")
done
python3 - "${rows[@]}" <<'PY'
import json, sys
rows = []
for row in sys.argv[1:]:
    pages, raw, path = row.split(" ", 2)
    seconds, rss = json.load(open(path))["analyze"]
    rows.append((int(pages), int(raw), seconds, rss))
if not rows:
    sys.exit(0)
base = rows[0]
print(f"{'pages':>7} {'raw bytes':>11} {'time':>9} {'peak RSS':>10} {'x pages':>8} {'x time':>7} {'x RSS':>7} {'time/pages':>10} {'RSS/pages':>9}")
verdicts = []
for pages, raw, seconds, rss in rows:
    grow = pages / base[0]
    time_ratio = seconds / base[2]
    rss_ratio = rss / base[3]
    print(f"{pages:>7} {raw:>11} {seconds * 1000:7.0f}ms {rss / 1024:7.1f}MiB {grow:8.2f} {time_ratio:7.2f} {rss_ratio:7.2f} "
          f"{time_ratio / grow:10.2f} {rss_ratio / grow:9.2f}")
    if pages != base[0]:
        verdicts.append(time_ratio / grow <= 1.2 and rss_ratio / grow <= 1.2)
    if pages == 250000:
        print(f"250 000 pages peak RSS {rss / 1024:.0f} MiB (goal < 1024 MiB): {'met' if rss < 1024 * 1024 else 'NOT met'}")
print(f"growth at most 1.2x the pages' (time/pages and RSS/pages <= 1.2): {'met' if verdicts and all(verdicts) else 'NOT met'}")
PY
