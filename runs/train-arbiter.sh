#!/usr/bin/env bash
# The shipped edge arbiter (src/sam2matting/weights/sam2matting-edge-arbiter-v1.safetensors):
# 600 training-split composites answered by the shipped learned head, then 3000 Adam steps on
# 80-px windows along the outline. CPU, ~5 min on an idle 2-core machine. One torch thread:
# with two threads on a busy 2-core machine a step was ~10x slower (OpenMP oversubscription).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$PY" -m sam2matting.train.arbiter --data-root "${DATA:-../shared/data}" \
  --out runs/arbiter-v1c --threads 1 --exact-mask-share 0.25 --steps 3000
cp runs/arbiter-v1c/sam2matting-edge-arbiter-v1.safetensors src/sam2matting/weights/
