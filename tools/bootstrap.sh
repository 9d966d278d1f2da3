#!/usr/bin/env bash
# Installs what building and testing mapsrace needs on a fresh Debian machine
# that already has the Swift toolchain: libzstd-dev (through pkg-config), the
# zstd command the tests use to check traces, Debian's chromium and
# python3, with which the tests open `mapsrace report` pages headless and
# check their screenshots (tools/png-stats.py), strace, gcc, g++, procps
# and gawk for the tool-profile and `record -- CMD` tests, and the survey's
# real readers (elfutils, linux-perf, gdb, python3-venv, and psutil from PyPI
# into a private virtual environment, tools/psutil-venv.sh). Does nothing when
# all are there. Needs root (or sudo) only when something is missing.
# MAPSRACE_BOOTSTRAP=build (tools/main-job.sh) installs only what building and
# running mapsrace needs: libzstd-dev, pkg-config and zstd.
set -euo pipefail

missing=()
pkg-config --exists libzstd 2>/dev/null || missing+=(libzstd-dev pkg-config)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
if [ "${MAPSRACE_BOOTSTRAP:-tests}" != build ]; then
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The tool-profile tests strace C reproductions of real tools' read loops
# (tools/reader-loops/), one C++ (libstdc++'s ifstream) and CPython's readall;
# `record -- CMD`'s tests compare with strace, run pmap and the seed's gawk
# script, and compile small C programs.
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v pmap >/dev/null 2>&1 || missing+=(procps)
command -v gawk >/dev/null 2>&1 || missing+=(gawk)
# The survey's real readers (Sources/MapsSurvey/RealReaders.swift): Debian's
# python3 with venv (psutil goes into a private environment, below),
# elfutils' eu-stack, perf and gdb.
[ -x /usr/bin/python3 ] || missing+=(python3)
/usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v eu-stack >/dev/null 2>&1 || missing+=(elfutils)
command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
command -v gdb >/dev/null 2>&1 || missing+=(gdb)
fi

if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# psutil from PyPI into $MAPSRACE_VENV or ~/.cache/mapsrace/venv; QEMU 10
# from bookworm-backports (pinned) and the guest test's 6.1 kernel for
# `mapsrace kernels` (tools/kernels-bootstrap.sh).
if [ "${MAPSRACE_BOOTSTRAP:-tests}" != build ]; then
    "$(dirname "${BASH_SOURCE[0]}")/psutil-venv.sh"
    "$(dirname "${BASH_SOURCE[0]}")/kernels-bootstrap.sh"
fi

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin; do
        if [ -x "$candidate/swift" ]; then export PATH="$candidate:$PATH"; fi
    done
fi
command -v swift >/dev/null 2>&1 || { echo "bootstrap: no swift toolchain on PATH" >&2; exit 1; }
