"""Pick the learned head's ROI threshold on validation composites — never on the dev benchmark.

    python benchmarks/tune_roi_threshold.py                       # shipped default weights
    python benchmarks/tune_roi_threshold.py --weights runs/x/w.safetensors --composites 96

The composites come from the training sampler (training-split cutouts and synthetic
foregrounds over the training background videos, mild simulated tracker-mask errors) with a
seed the training runs never use, so the threshold is chosen without looking at the dev
benchmark's held-out cutouts. Prints MAD / MSE (×1e3) per threshold and writes
``benchmarks/results/roi_threshold.{json,md}``. Needs ``../shared/data`` (the cutouts).
"""

from __future__ import annotations

import os

# OpenMP threads that sleep while they wait (set before torch loads), as in the other scripts
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
#: the sampler seed of the validation composites (training uses 0 and the run's --seed)
VALIDATION_SEED = 90_001


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--weights", default="default", help="weights of the sam2matting head")
    p.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9],
        help="ROI thresholds to try",
    )
    p.add_argument("--composites", type=int, default=64, help="validation composites (x4)")
    p.add_argument("--data-root", default=None, help="shared data folder (default ../shared/data)")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from sam2matting.matting.weights import build_learned_head as build
    from sam2matting.train.cli import _default_data_root
    from sam2matting.train.data import CompositeSampler, DataConfig
    from sam2matting.types import ObjectTrack

    root = args.data_root or _default_data_root()
    if root is None:
        sys.exit("../shared/data not found (the training-split cutouts are needed): --data-root")
    sampler = CompositeSampler(
        DataConfig(data_root=root, cache_dir="runs/cache", mask_noise="mild"),
        seed=VALIDATION_SEED,
    )
    samples = []
    for step in range(-(-args.composites // 4)):
        b = sampler.batch(step, 4)
        for i in range(len(b.kinds)):
            samples.append((b.native[i], b.native_alpha[i], b.mask[i]))
    samples = samples[: args.composites]
    t0 = time.perf_counter()
    rows: dict[str, dict[str, float]] = {}
    for thr in args.thresholds:
        stage = build(weights=args.weights, roi_threshold=thr)
        mad, mse = [], []
        for image, alpha, mask in tqdm(samples, desc=f"ROI > {thr}", leave=False):
            logits = np.where(mask > 0.5, 10.0, -10.0).astype(np.float32)
            pred = stage.matte(image, {1: ObjectTrack(logits=logits)})[1]
            err = pred - alpha
            mad.append(float(np.abs(err).mean()) * 1e3)
            mse.append(float((err**2).mean()) * 1e3)
        rows[str(thr)] = {"mad": float(np.mean(mad)), "mse": float(np.mean(mse))}
        print(f"ROI > {thr:<5}  MAD {rows[str(thr)]['mad']:.3f}  MSE {rows[str(thr)]['mse']:.3f}")
    best = min(rows, key=lambda k: rows[k]["mad"])
    info = {
        "command": "python " + " ".join(sys.argv),
        "weights": args.weights,
        "composites": len(samples),
        "validation_seed": VALIDATION_SEED,
        "mask_noise": "mild",
        "results": rows,
        "best_by_mad": float(best),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "roi_threshold.json").write_text(json.dumps(info, indent=1) + "\n")
    lines = [
        "## ROI threshold of the learned head on validation composites (not the dev benchmark)",
        "",
        f"{len(samples)} composites of training-split cutouts / synthetic foregrounds, sampler "
        f"seed {VALIDATION_SEED}, mild simulated mask errors; weights `{args.weights}`.",
        "",
        "| ROI threshold | MAD ×1e3 | MSE ×1e3 |",
        "|---:|---:|---:|",
        *[f"| {k} | {v['mad']:.3f} | {v['mse']:.3f} |" for k, v in rows.items()],
        "",
        f"Lowest MAD at {best}.",
        "",
        f"Command: `{info['command']}`",
        "",
    ]
    (RESULTS / "roi_threshold.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
