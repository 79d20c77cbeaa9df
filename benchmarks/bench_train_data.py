"""Training-data throughput: composited samples per second with N data workers (issue 10).

    python benchmarks/bench_train_data.py                  # workers 0 (one thread), 1, 2
    python benchmarks/bench_train_data.py --workers 0 4 8  # on a bigger machine

Each run composes ``--batches`` batches of ``--batch-size`` through the training loop's
:class:`~sam2matting.train.loop.BatchLoader` (guided prior and GT ROI included, as a training
step needs them), after one warm-up batch per worker; prints samples/s per setting and writes
``benchmarks/results/train_data.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)

    from sam2matting.train.data import CompositeSampler, DataConfig
    from sam2matting.train.loop import BatchLoader

    root = Path(args.data_root)
    have = (root / "matting").is_dir()
    data = DataConfig(
        data_root=str(root) if have else None,
        cache_dir="runs/cache",
        use_cutouts=have,
        video_bg_share=0.5 if have else 0.0,
        distractor_share=0.2 if have else 0.0,
        synthetic_share=0.5,
        mask_noise="mild",
    )
    sampler = CompositeSampler(data, seed=0)
    rows = []
    for n in args.workers:
        loader = BatchLoader(sampler, data, 0, args.batch_size, 8, 3, workers=n, prefetch=n == 0)
        try:
            for w in range(max(1, n)):  # warm-up: worker start-up is not throughput
                loader.get(w, max(1, n) + args.batches)
            first = max(1, n)
            t0 = time.perf_counter()
            for s in range(first, first + args.batches):
                loader.get(s, first + args.batches)
            dt = time.perf_counter() - t0
        finally:
            loader.close()
        rate = args.batches * args.batch_size / dt
        rows.append({"workers": n, "seconds": round(dt, 2), "samples_per_second": round(rate, 2)})
        print(
            f"workers {n}: {rate:.1f} samples/s ({args.batches} batches of {args.batch_size} in {dt:.1f} s)",
            flush=True,
        )
    info = {
        "data": "shared cutouts + videos + synthetic" if have else "synthetic only",
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "batch_size": args.batch_size,
        "rows": rows,
    }
    if not args.no_write:
        (HERE / "results" / "train_data.json").write_text(json.dumps(info, indent=1) + "\n")
        lines = [
            f"## Training data throughput ({info['data']}, {info['cpus']} CPUs, batch {args.batch_size})",
            "",
            "| workers | samples/s |",
            "|---:|---:|",
            *[f"| {r['workers']} | {r['samples_per_second']} |" for r in rows],
            "",
            "workers 0 = one prefetch thread in the training process; N > 0 = N worker processes.",
        ]
        (HERE / "results" / "train_data.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
