#!/usr/bin/env bash
# candidate stage after compact-guided-v3: fine-tuned from v3 with hard-edged shapes that carry a
# real frame's texture (--textured-hard-share) besides the v3 data; CPU, time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1
.venv/bin/sam2matting train --out runs/train-v4tex --data-root ../shared/data \
  --model compact-guided --init-from src/sam2matting/weights/sam2matting-compact-guided-v3.safetensors \
  --mask-noise mild --lr 4e-4 --warmup 20 --teacher-forcing 0 --seed 2 \
  --synthetic-share 0.5 --textured-hard-share 0.2 --gradient-weight 0.5 --workers 1 --threads 2 \
  --steps 2500 --max-minutes 35 --time-schedule --quiet \
  --export runs/train-v4tex/sam2matting-compact-guided-v4.safetensors
