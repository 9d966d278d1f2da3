#!/usr/bin/env bash
# Creates the private Python virtual environment the survey's `real-psutil`
# reader runs (Sources/MapsSurvey/RealReaders.swift): Debian's python3 with
# `python3 -m venv`, then psutil from PyPI with that environment's pip.
# Where: $MAPSRACE_VENV, else $HOME/.cache/mapsrace/venv (never in the tree).
# Does nothing when psutil already imports there.
set -euo pipefail
venv="${MAPSRACE_VENV:-${HOME:-/root}/.cache/mapsrace/venv}"
if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c 'import psutil' 2>/dev/null; then
    exit 0
fi
echo "psutil-venv: creating $venv with psutil from PyPI" >&2
mkdir -p "$(dirname "$venv")"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/python3" -m pip install -q --disable-pip-version-check psutil
"$venv/bin/python3" -c 'import psutil; print("psutil-venv: psutil", psutil.__version__, "in", "'"$venv"'")' >&2
