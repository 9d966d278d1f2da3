#!/usr/bin/env bash
# Runs every test: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh
swift build --build-tests
# Every test is a Swift Testing test; skipping the empty XCTest pass keeps
# its "Executed 0 tests" line out of the output.
# The QEMU guests (GuestBootTests: two emulated CPUs) run alone after the
# rest, so that they do not starve the timing-sensitive tests; with
# arguments (a --filter), exactly what they select runs.
if [ $# -eq 0 ]; then
    swift test --disable-xctest --skip GuestBootTests
    swift test --disable-xctest --skip-build --filter GuestBootTests
else
    swift test --disable-xctest "$@"
fi
# A short fuzzing run (about a minute in all) of every decoder of untrusted
# input, from the seeds and the regression inputs; a finding fails the run.
# MAPSRACE_FUZZ_MINUTES=0 skips it (e.g. when re-running one filter).
if [ "${MAPSRACE_FUZZ_MINUTES:-1}" != 0 ]; then
    tools/fuzz.sh "${MAPSRACE_FUZZ_MINUTES:-1}"
fi
