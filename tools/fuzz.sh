#!/usr/bin/env bash
# Fuzzes the decoders of untrusted input with libFuzzer for MINUTES minutes in
# all, split evenly between the targets (default: every target):
#   trace       a trace file (zstd frames, then records), read and analysed
#   raw-trace   a raw record stream, framed by the harness with valid
#               checksums so that mutations reach the records; read, analysed, diffed
#   maps        maps / smaps / procstat text parsers and the read-write count
#   reader-log  the reader process's log as the recorder decodes it
#
#   tools/fuzz.sh MINUTES [TARGET...]
#
# Builds Sources/mapsrace-fuzz with AddressSanitizer and the fuzzer's coverage
# instrumentation into .build-fuzz/, seeds each target from traces/ and from
# tiny recordings, keeps the growing corpus in .build-fuzz/corpus/TARGET, and
# prints executions, time, coverage and findings per target. Any input that
# crashes, hangs (> 10 s), or takes more than 1 GiB in one allocation or 2.5 GiB
# in all is saved in .build-fuzz/findings/TARGET/ and makes the script exit 1:
# copy it to Tests/MapsFuzzingTests/Regressions/TARGET/ once it is fixed.
# MAPSRACE=path/to/mapsrace uses that binary to record the seeds instead of
# building one.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh

minutes=${1:?usage: tools/fuzz.sh MINUTES [TARGET...]}
shift
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(trace raw-trace maps reader-log); fi
seconds_each=$(awk -v m="$minutes" -v n="${#targets[@]}" 'BEGIN { s = int(m * 60 / n); print (s < 1 ? 1 : s) }')

work=.build-fuzz
runtime=$(dirname "$(swiftc -print-target-info >/dev/null 2>&1; command -v swift)")/../lib/clang
fuzzer_lib=$(ls "$runtime"/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1)
[ -n "$fuzzer_lib" ] || { echo "fuzz: libclang_rt.fuzzer_no_main not found under $runtime" >&2; exit 2; }

echo "fuzz: building the instrumented driver (release, AddressSanitizer)" >&2
nice swift build -c release --scratch-path "$work" --product mapsrace-fuzz \
    -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xswiftc -DMAPSRACE_LIBFUZZER \
    -Xlinker "$fuzzer_lib" -Xlinker -lstdc++ 2>&1 | grep -v "Cannot export local symbol" >&2
driver="$work/release/mapsrace-fuzz"

# Seeds, made once: the sample traces and a few tiny recordings (every
# workload and a few readers, 2 snapshots each).
seeds="$work/seeds"
if [ ! -f "$seeds/.done" ]; then
    echo "fuzz: making seeds" >&2
    rm -rf "$seeds"
    mkdir -p "$seeds"/{trace,raw-trace,maps,reader-log}
    mapsrace=${MAPSRACE:-}
    if [ -z "$mapsrace" ]; then
        swift build --product mapsrace >&2
        mapsrace=.build/debug/mapsrace
    fi
    cp traces/*.mrtrace "$seeds/trace/"
    for reader in chromium pmap smaps procmap-query retry-stable frozen; do
        for workload in rolling split-merge resize remap churn; do
            name="$workload-$reader"
            "$mapsrace" record -o "$seeds/trace/$name.mrtrace" --workload "$workload" --pages 64 \
                --reader "$reader" --snapshots 2 --seed 1 >/dev/null 2>&1 || rm -f "$seeds/trace/$name.mrtrace"
        done
    done
    # Traced recordings (`record -- CMD`): the records 10-15, 0x40, 0x44 and
    # the whole-address-space model are reached only from these. A shell
    # and two children (fork, exec, file-backed mmaps, brk, reads of its own
    # and its parent's maps), and a PROCMAP_QUERY walk when the kernel has it.
    "$mapsrace" record -o "$seeds/trace/traced-shell.mrtrace" -- /bin/sh -c \
        'cat /proc/self/maps >/dev/null; cat /proc/$$/maps >/dev/null' >/dev/null 2>&1 \
        || rm -f "$seeds/trace/traced-shell.mrtrace"
    if cc -std=gnu11 -O1 -o "$seeds/procmap-walk" tools/test-programs/procmap-walk.c 2>/dev/null; then
        "$mapsrace" record -o "$seeds/trace/traced-walk.mrtrace" -- "$seeds/procmap-walk" self "$seeds/walk.txt" \
            >/dev/null 2>&1 || rm -f "$seeds/trace/traced-walk.mrtrace"
        rm -f "$seeds/procmap-walk" "$seeds/walk.txt"
    fi
    for trace in "$seeds"/trace/*.mrtrace; do
        # The raw target's first byte picks the framing: 0 = one frame.
        { printf '\0'; zstd -dcq "$trace"; } > "$seeds/raw-trace/$(basename "$trace" .mrtrace).raw"
    done
    for trace in "$seeds"/trace/{rolling-chromium,split-merge-smaps,churn-pmap}.mrtrace; do
        [ -f "$trace" ] || continue
        dir=$(mktemp -d)
        "$mapsrace" extract "$trace" -o "$dir" >/dev/null 2>&1 || true
        for file in "$dir"/*.txt; do [ -f "$file" ] && cp "$file" "$seeds/maps/$(basename "$trace" .mrtrace)-$(basename "$file")"; done
        rm -rf "$dir"
    done
    cp /proc/self/maps "$seeds/maps/self-maps.txt"
    head -c 16384 /proc/self/smaps > "$seeds/maps/self-smaps.txt"
    cp Tests/MapsFuzzingTests/Regressions/maps/* "$seeds/maps/" 2>/dev/null || true
    # A real reader log: the reader process reading a sleeping process's maps.
    sleep 60 & sleeper=$!
    for reader in cat procmap-query; do
        "$mapsrace" _reader --pid "$sleeper" --reader "$reader" --snapshots 2 --log-fd 3 --ready-fd 4 \
            --buffer-bytes 1048576 3<>"$seeds/reader-log/$reader.log" 4>/dev/null || true
    done
    kill "$sleeper"
    touch "$seeds/.done"
fi

max_len() {
    case $1 in
        trace) echo 32768 ;;
        raw-trace) echo 65536 ;;
        *) echo 65536 ;;
    esac
}

summary=()
found=0
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    findings="$work/findings/$target"
    mkdir -p "$corpus" "$findings"
    log="$work/$target.log"
    # New inputs go to the corpus (the first directory); libFuzzer refuses a
    # directory that does not exist (git keeps no empty regression folder).
    inputs=("$corpus")
    for extra in "$seeds/$target" "Tests/MapsFuzzingTests/Regressions/$target"; do
        [ -d "$extra" ] && inputs+=("$extra")
    done
    echo "fuzz: $target for ${seconds_each}s" >&2
    before=$(ls "$findings" | wc -l)
    started=$(date +%s)
    MAPSRACE_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 \
        nice -n 10 "$driver" -max_total_time="$seconds_each" -timeout=10 \
        -rss_limit_mb=2560 -malloc_limit_mb=1024 -max_len="$(max_len "$target")" \
        -print_final_stats=1 -artifact_prefix="$findings/" \
        "${inputs[@]}" > "$log" 2>&1 || true
    elapsed=$(( $(date +%s) - started ))
    after=$(ls "$findings" | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1 || true)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
    if [ -z "$execs" ]; then
        echo "fuzz: $target did not run; its log ($log) ends:" >&2
        tail -3 "$log" >&2
        found=1
    fi
    units=$(ls "$corpus" | wc -l)
    new=$((after - before))
    ((new == 0)) || found=1
    summary+=("$(printf '%-11s %6ss %12s execs %8s/s  %-20s corpus %5s  peak %5s MB  findings %s' \
        "$target" "$elapsed" "${execs:-?}" "$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))" \
        "${cov:-cov: ?}" "$units" "${rss:-?}" "$new")")
    if ((new > 0)); then
        echo "fuzz: $target: $new new finding(s) in $findings (log: $log)" >&2
        grep -m3 -E 'ERROR|Fatal error|deadly signal|out-of-memory|timeout' "$log" >&2 || true
        ls "$findings" >&2
    fi
done
printf '%s\n' "${summary[@]}"
exit $found
