#!/usr/bin/env bash
# Set up a virtual environment (if missing), install sam2matting and run the demo: a generated
# sample clip with a known matte, matted with the built-in tracker and the default head.
# Usage: bash scripts/demo.sh [demo args, e.g. -o out]   (VENV=path to use another venv)
# The demo runs in the folder you call it from, so -o and the printed paths are relative to it.
set -euo pipefail
HERE="$PWD"
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -c constraints.txt .
cd "$HERE"
"$VENV/bin/sam2matting" demo "$@"
