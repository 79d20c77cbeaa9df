#!/usr/bin/env bash
# The built-in tracker's learned refiner
# (src/sam2matting/weights/sam2matting-propagation-refiner-v1.safetensors): 240 synthetic
# 8-frame clips from the training split tracked by the built-in tracker, 3000 Adam steps on
# 64-px windows along the tracker's outline, then 120 more clips tracked with that refiner in
# the loop and 1500 more steps on all. CPU, ~10 min on a busy 2-core machine, one torch thread
# (two threads on a busy 2-core machine are ~10x slower: OpenMP oversubscription).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$PY" -m sam2matting.train.propagation_refiner \
  --data-root "${DATA:-../shared/data}" --out runs/propagation-refiner-v1 --threads 1 \
  --clips 240 --steps 3000 --rounds 2 --quiet
cp runs/propagation-refiner-v1/sam2matting-propagation-refiner-v1.safetensors \
  runs/propagation-refiner-v1/sam2matting-propagation-refiner-v1.json src/sam2matting/weights/
