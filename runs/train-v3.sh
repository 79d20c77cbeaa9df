#!/usr/bin/env bash
# compact-guided-v3: fine-tuned from the shipped v2 with hard-edged / wire / glass synthetic
# foregrounds (synthetic share 0.5) and the alpha-gradient loss; CPU, time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1
.venv/bin/sam2matting train --out runs/train-v3 --data-root ../shared/data \
  --model compact-guided --init-from src/sam2matting/weights/sam2matting-compact-guided-v2.safetensors \
  --mask-noise mild --lr 7e-4 --warmup 20 --teacher-forcing 0 \
  --synthetic-share 0.5 --gradient-weight 0.5 --workers 1 --threads 2 \
  --steps 3000 --max-minutes 45 --time-schedule --quiet \
  --export runs/train-v3/sam2matting-compact-guided-v3.safetensors
