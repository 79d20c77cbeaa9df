#!/usr/bin/env bash
# Set up a virtual environment (if missing), install sam2matting and run the demo: a generated
# sample clip with a known matte, matted with the built-in tracker and the default head.
# Usage: bash scripts/demo.sh [demo args, e.g. -o out]   (VENV=path to use another venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -c constraints.txt .
"$VENV/bin/sam2matting" demo "$@"
