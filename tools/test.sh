#!/usr/bin/env bash
# Runs every test: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bootstrap.sh
swift build --build-tests
swift test "$@"
