#!/usr/bin/env bash
# The built-in tracker's learned refiner
# (src/sam2matting/weights/sam2matting-propagation-refiner-v1.safetensors): 160 synthetic
# 8-frame clips from the training split (+16 for validation), tracked by the built-in tracker
# from their exact first-frame masks, then 2500 Adam steps on 64-px windows along the tracker's
# outline. CPU, ~3 min on a busy 2-core machine, one torch thread (two threads on a busy
# 2-core machine are ~10x slower: OpenMP oversubscription). Deterministic in the seed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$PY" -m sam2matting.train.propagation_refiner \
  --data-root "${DATA:-../shared/data}" --out runs/propagation-refiner-v1 --threads 1 --quiet
cp runs/propagation-refiner-v1/sam2matting-propagation-refiner-v1.safetensors \
  runs/propagation-refiner-v1/sam2matting-propagation-refiner-v1.json src/sam2matting/weights/
