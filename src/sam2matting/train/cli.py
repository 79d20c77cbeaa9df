"""``sam2matting train``: train the learned matting heads on image composites.

The main CLI calls :func:`add_parser` and :func:`run`; ``python -m sam2matting.train.cli`` runs
the same command standalone. The shipped weights come from two runs (their manifest holds the
exact commands): stage 1 from random init with heavy simulated tracker errors
(``--max-minutes 45 --time-schedule``), stage 2 fine-tuning from stage 1 with mild errors
(``--init-from runs/train-v1/last.pt --mask-noise mild --lr 7e-4 --teacher-forcing 0
--max-minutes 25 --time-schedule``). Stage 1 alone hedged: trained to distrust masks that are
often far off, it blurred edges even behind a perfect mask.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "main", "run"]


def _default_data_root() -> str | None:
    here = Path.cwd()
    for cand in (here / ".." / "shared" / "data", here / "shared" / "data"):
        if (cand / "matting").is_dir():
            return str(cand.resolve())
    return None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` sub-command on an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train the learned matting heads (bridge + heads + refiner) on image composites",
        description=(
            "Train SAM2Matting's bridge and heads on composites of the training-split cutouts "
            "and synthetic foregrounds (never the dev benchmark's cutouts, never DAVIS). "
            "Resumes from OUT/last.pt when present. --tiny runs a seconds-long smoke test."
        ),
    )
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        default="runs/train",
        help="run folder: checkpoints, log.jsonl (default runs/train)",
    )
    p.add_argument(
        "--data-root",
        default=None,
        help="the shared data folder (default: ../shared/data if present)",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="cache of decoded cutouts/backgrounds (default OUT/../cache)",
    )
    p.add_argument(
        "--model",
        choices=["compact", "compact-guided"],
        default=None,
        help="network: compact (own encoder + heads) or compact-guided (the same heads also see "
        "the guided filter's alpha: the shipped default); default compact-guided, like the "
        "shipped weights",
    )
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=None, help="composites per step (default 8)")
    p.add_argument(
        "--crop", type=int, default=None, help="working crop side, multiple of 16 (default 192)"
    )
    p.add_argument("--lr", type=float, default=None, help="peak AdamW learning rate (default 2e-3)")
    p.add_argument("--seed", type=int, default=None, help="seed of init and data (default 0)")
    p.add_argument(
        "--consistency-weight",
        type=float,
        default=None,
        help="matte-to-mask consistency weight (0 = ablation)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (with a checkpoint) after this wall time",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop at this step (schedule still spans --steps)",
    )
    p.add_argument(
        "--time-schedule",
        action="store_true",
        help="anneal the learning rate over min(--steps, --max-minutes) (bounded-time CPU runs)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--init-from",
        default=None,
        help="start from this checkpoint (.pt) or weights (.safetensors): fine-tuning",
    )
    p.add_argument(
        "--mask-noise",
        choices=["heavy", "mild"],
        default=None,
        help="simulated tracker-mask errors (default heavy)",
    )
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 40)")
    p.add_argument(
        "--teacher-forcing",
        type=float,
        default=None,
        help="fraction of the run with ground-truth ROIs mixed in (default 0.15)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default auto)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="data worker processes composing batches ahead (default 0: one prefetch thread); "
        "a GPU needs several to stay busy",
    )
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default=None,
        help="autocast precision of the forward pass (default fp32; fp16 needs CUDA)",
    )
    p.add_argument(
        "--gradient-weight",
        type=float,
        default=None,
        help="weight of the alpha-gradient loss that keeps hard edges hard (default 0)",
    )
    p.add_argument(
        "--synthetic-share",
        type=float,
        default=None,
        help="fraction of synthetic foregrounds (default 0.35)",
    )
    p.add_argument(
        "--textured-hard-share",
        type=float,
        default=None,
        help="fraction of foregrounds that are hard-edged shapes with a real frame's texture "
        "(default 0)",
    )
    p.add_argument(
        "--synthetic-only", action="store_true", help="no cutouts or videos: synthetic data only"
    )
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument(
        "--export",
        default=None,
        help="write the final network as .safetensors + .json manifest here",
    )
    p.add_argument(
        "--tiny", action="store_true", help="tiny network, tiny synthetic data, 3 steps (tests)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace) -> Any:
    from ..errors import InputError
    from .data import DataConfig
    from .loop import TrainConfig

    out = Path(args.out)
    cache = args.cache_dir or str(out.parent / "cache")
    if args.tiny:
        data = DataConfig(
            data_root=None,
            cache_dir=cache,
            crop=args.crop or 64,
            native_ratios=(1.0, 2.0),
            use_cutouts=False,
            video_bg_share=0.0,
            distractor_share=0.0,
        )
        cfg = TrainConfig(
            out_dir=str(out),
            model="tiny" if args.model == "compact" else "tiny-guided",
            steps=args.steps or 3,
            batch_size=args.batch_size or 2,
            warmup=1,
            checkpoint_every=2,
            log_every=1,
            refine_tiles=8,
            data=data,
        )
    else:
        root = args.data_root or _default_data_root()
        if root is None and not args.synthetic_only:
            raise InputError(
                "no --data-root given and ../shared/data not found (or use --synthetic-only)"
            )
        data = DataConfig(
            data_root=root,
            cache_dir=cache,
            crop=args.crop or DataConfig.crop,
            use_cutouts=not args.synthetic_only,
            video_bg_share=0.0 if args.synthetic_only else DataConfig.video_bg_share,
            distractor_share=0.0 if args.synthetic_only else DataConfig.distractor_share,
            mask_noise=args.mask_noise or DataConfig.mask_noise,
            synthetic_share=DataConfig.synthetic_share
            if args.synthetic_share is None
            else args.synthetic_share,
            textured_hard_share=args.textured_hard_share or 0.0,
        )
        cfg = TrainConfig(out_dir=str(out), data=data, steps=args.steps or 1000)
        if args.model is not None:  # None: the library's default (the shipped weights' model)
            cfg = dataclasses.replace(cfg, model=args.model)
    overrides = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "consistency_weight": args.consistency_weight,
        "max_minutes": args.max_minutes,
        "stop_after": args.stop_after,
        "init_from": args.init_from,
        "warmup": args.warmup,
        "teacher_forcing": args.teacher_forcing,
        "threads": args.threads,
        "device": args.device,
        "workers": args.workers,
        "precision": args.precision,
        "gradient_weight": args.gradient_weight,
    }
    for k, v in overrides.items():
        if v is not None:  # None = keep the library default (CLI defaults never override it)
            setattr(cfg, k, v)
    if cfg.workers < 0:
        raise InputError("--workers must be 0 or more")
    if not 0.0 <= cfg.data.synthetic_share <= 1.0:
        raise InputError("--synthetic-share must be in [0, 1]")
    if not 0.0 <= cfg.data.textured_hard_share <= 1.0:
        raise InputError("--textured-hard-share must be in [0, 1]")
    if cfg.gradient_weight < 0:
        raise InputError("--gradient-weight must be 0 or more")
    cfg.progress = not args.quiet
    if args.time_schedule:
        if not cfg.max_minutes:
            raise InputError("--time-schedule needs --max-minutes")
        cfg.time_schedule = True
    return cfg


def run(args: argparse.Namespace) -> int:
    """Run ``sam2matting train`` with parsed ``args``; returns the exit code."""
    import os
    import time

    # OpenMP threads that sleep instead of spinning while they wait: on a shared CPU, spinning
    # threads of a 2-thread run were measured 4–10× slower (only effective before torch loads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from .loop import export_weights, train

    cfg = _config(args)
    t0 = time.perf_counter()
    result = train(cfg, resume=not args.no_resume)
    wall = time.perf_counter() - t0
    state = "stopped early" if result.stopped_early else "done"
    print(
        f"train: {state} at step {result.step} in {wall / 60:.1f} min; checkpoint {result.checkpoint}"
    )
    if args.export:
        argv = getattr(args, "_argv", None) or sys.argv[1:]
        command = "sam2matting " + " ".join(shlex.quote(a) for a in argv)
        manifest = export_weights(
            result.checkpoint, args.export, command=command, wall_seconds=round(wall, 1)
        )
        print(
            f"train: exported {args.export} ({manifest['bytes'] / 1e6:.2f} MB, sha256 {manifest['sha256'][:12]}…)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m sam2matting.train.cli [options]``."""
    from ..errors import Sam2MattingError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="sam2matting train", description="train the learned matting heads"
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    args._argv = ["train", *argv]
    try:
        return run(args)
    except Sam2MattingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
