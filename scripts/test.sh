#!/usr/bin/env bash
# Set up a virtual environment (if missing), install sam2matting with its test extras, and run
# the checks CI runs: torchvision guard, ruff (lint + format), mypy over src/, pytest.
# Usage: bash scripts/test.sh [extra pytest args]      (VENV=path to use another venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# torch first, pinned, so nothing else can pull a CUDA build
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -c constraints.txt -e ".[dev]"
if "$VENV/bin/python" -c "import torchvision" 2>/dev/null; then
  echo "error: torchvision is importable; it must not be installed (it pulls a CUDA torch and breaks transformers' SAM imports)" >&2
  exit 1
fi
# the browser tests drive Debian's Chromium through Playwright (never `playwright install`):
# install it once, quietly, where apt-get can; the tests skip with the reason where it cannot
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && SUDO="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "installing chromium for the browser tests (apt-get)" >&2
    { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
      { $SUDO apt-get update -q >/dev/null 2>&1 &&
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; } ||
      echo "warning: could not install chromium; the browser tests will be skipped" >&2
  fi
fi
"$VENV/bin/ruff" check src tests benchmarks
"$VENV/bin/ruff" format --check src tests benchmarks
"$VENV/bin/mypy" src/sam2matting
"$VENV/bin/python" -m pytest -q "$@"
