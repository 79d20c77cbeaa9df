#!/usr/bin/env bash
# The built-in tracker's pixel embedder
# (src/sam2matting/weights/sam2matting-pixel-embedder-v1.safetensors): 1200 Adam steps on
# batches of 8 pairs of 128-px views of still composites from the training split (label
# transfer by attention). CPU, one torch thread (two threads on a busy 2-core machine are
# ~10x slower: OpenMP oversubscription): 709 s on the busy shared 2-core machine (load 4-8)
# that trained v1; deterministic in the seed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$PY" -m sam2matting.train.pixel_embedder \
  --data-root "${DATA:-../shared/data}" --out runs/pixel-embedder-v1 --threads 1 --quiet
cp runs/pixel-embedder-v1/sam2matting-pixel-embedder-v1.safetensors \
  runs/pixel-embedder-v1/sam2matting-pixel-embedder-v1.json src/sam2matting/weights/
