#!/usr/bin/env bash
# Fine-tune the default heads on one GPU inside a 10-minute lease (issue 10).
#
# On the GPU machine, from the repository root, with the training data carried as .gpu-data/
# (here: `mkdir -p .gpu-data && cp -r ../shared/data/matting ../shared/data/videos .gpu-data/`,
# `echo /.gpu-data/ >> .git/info/exclude`, then name `.gpu-data` in the device tool's carry)
# and the wheels the project needs beside torch (PyAV, OpenCV, PyMatting, safetensors, tqdm,
# scipy, numba) installed or on PYTHONPATH:
#
#   bash runs/train-gpu.sh                     # ~8 min of training, then export
#   SMOKE=1 DEVICE=cpu bash runs/train-gpu.sh  # 3 steps on the CPU: checks the script itself
#
# Data workers are processes (the GPU step is ~5x faster than one thread can composite a
# batch); bf16 autocast; a checkpoint every 250 steps, and a rerun resumes from runs/train-gpu/last.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
DATA="${DATA_ROOT:-.gpu-data}"
[ -d "$DATA/matting" ] || DATA=../shared/data
DEVICE="${DEVICE:-cuda}"
OUT="${OUT_DIR:-runs/train-gpu}"
WORKERS="${WORKERS:-$(( $(nproc) > 2 ? $(nproc) - 2 : 1 ))}"
INIT=src/sam2matting/weights/sam2matting-compact-guided-v3.safetensors
[ -f "$INIT" ] || INIT=src/sam2matting/weights/sam2matting-compact-guided-v2.safetensors
if [ "${SMOKE:-0}" = 1 ]; then
  EXTRA=(--steps 3 --batch-size 2 --workers 1 --synthetic-only)
else
  EXTRA=(--data-root "$DATA" --steps 6000 --batch-size 32 --workers "$WORKERS" --max-minutes 8 --time-schedule)
fi
PRECISION=bf16
[ "$DEVICE" = cpu ] && PRECISION=fp32
PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} "$PY" -m sam2matting train --out "$OUT" \
  --model compact-guided --init-from "$INIT" --device "$DEVICE" --precision "$PRECISION" \
  --mask-noise mild --lr 5e-4 --warmup 50 --teacher-forcing 0 \
  --synthetic-share 0.5 --gradient-weight 0.5 --quiet "${EXTRA[@]}" \
  --export "$OUT/sam2matting-compact-guided-gpu.safetensors"
