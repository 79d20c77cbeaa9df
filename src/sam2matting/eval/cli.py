"""``sam2matting eval``: score methods on a benchmark folder (matting metrics or tracker J&F).

Called by the main CLI (:mod:`sam2matting.cli`) through :func:`add_parser` and :func:`run`.
Importing this module is cheap: the evaluation code loads in :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

_DESCRIPTION = """\
Score video-matting methods against ground truth and print a table of the standard metrics.

BENCHMARK is a folder in one of these layouts (detected automatically):
  RVM / MatAnyone  <clip>/com/0000.png (frames) + <clip>/pha/0000.png (true alpha),
                   optional <clip>/mask/0000.png (first-frame mask the trackers start from)
                   — what benchmarks/build_dev_benchmark.py writes
  V-HIM60          <split>/fgr/<video>/<frame>.jpg + <split>/pha/<video>/<frame>/<instance>.png
  DAVIS            JPEGImages/<seq>/*.jpg + Annotations/<seq>/*.png (masks, not alphas:
                   evaluated as tracking, J&F per tracker)

Methods: ours (this project's pipeline: tracker + default matting head; ours:<head> for
another head), mask-only (the tracker's mask as alpha), trimap+cf (morphological trimap +
closed-form matting), rvm (Robust Video Matting ONNX; needs onnxruntime and the model file,
skipped with a message otherwise). Trackers start from the first-frame mask of each object;
"oracle" then follows the true masks (alpha > 0.5), optionally --perturbation'ed.

Metrics (RVM's protocol, alphas as 8-bit): MAD and MSE ×1e3, Grad and Conn /1e3, dtSSD ×1e2,
flow-compensated flicker ×1e3, J and F of alpha > 0.5. Conn is the slowest (--no-conn skips it).
"""

_EPILOG = """\
examples:
  sam2matting eval ~/.cache/sam2matting/devbench/512x288 --method ours --tracker oracle
  sam2matting eval BENCH --method ours --method mask-only --method trimap+cf --method rvm \\
      --tracker oracle --tracker builtin --json results.json --markdown results.md
  sam2matting eval ../shared/data/davis --tracker builtin          (J&F table)
Build the synthetic dev benchmark first with: python benchmarks/build_dev_benchmark.py
"""


def add_parser(subparsers: Any) -> None:
    """Add the ``eval`` subcommand to the main CLI's subparsers."""
    p = subparsers.add_parser(
        "eval",
        help="score methods on a benchmark (MAD, MSE, Grad, Conn, dtSSD, flicker; J&F)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("benchmark", metavar="BENCHMARK", help="benchmark folder (see above)")
    p.add_argument(
        "--layout",
        choices=("auto", "rvm", "vhim", "davis"),
        default="auto",
        help="folder layout (default: detect)",
    )
    p.add_argument(
        "--method",
        action="append",
        metavar="NAME",
        help="ours, ours:<head>, mask-only, trimap+cf or rvm (repeatable; default: ours)",
    )
    p.add_argument(
        "--tracker",
        action="append",
        metavar="NAME",
        help="tracker for the prompted methods: builtin, oracle, or a foundation "
        "tracker name (repeatable; default: builtin)",
    )
    p.add_argument(
        "--perturbation",
        metavar="NAME",
        help="degrade the oracle's true masks like real trackers err (see sam2matting.degrade)",
    )
    p.add_argument("--device", help="device for learned models (cpu, cuda, mps, auto)")
    p.add_argument(
        "--clip",
        action="append",
        metavar="TEXT",
        help="only the clip called TEXT, or else the clips whose name contains it (repeatable)",
    )
    p.add_argument(
        "--set",
        dest="image_set",
        metavar="NAME",
        help="DAVIS: only the sequences of an ImageSets list, e.g. val, 2017/val or a .txt file",
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N clips")
    p.add_argument("--no-conn", action="store_true", help="skip the Conn metric (the slowest)")
    p.add_argument(
        "--task",
        choices=("auto", "matting", "tracking"),
        default="auto",
        help="matting metrics or tracker J&F (default: tracking for DAVIS, else matting)",
    )
    p.add_argument(
        "--json", type=Path, metavar="FILE", help="write per-frame metrics and settings as JSON"
    )
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write the tables as markdown")
    p.add_argument(
        "--per-clip", action="store_true", help="also print one table per method over the clips"
    )
    p.add_argument(
        "--rvm-onnx",
        type=Path,
        metavar="FILE",
        help="Robust Video Matting ONNX file (default: $SAM2MATTING_RVM_ONNX or "
        "../shared/data/baselines/rvm_mnv3_dr025.onnx)",
    )
    p.add_argument(
        "--masks-root",
        type=Path,
        metavar="DIR",
        help="RVM layout: folder of first-frame masks, <clip>/<first>.png or <clip>.png",
    )
    p.add_argument(
        "--mask-dir",
        metavar="NAME",
        help="V-HIM60: folder of instance masks next to pha/ (e.g. xmem)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the tables")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    """Run ``sam2matting eval`` with parsed ``args``; returns the exit status."""

    from ..errors import InputError
    from . import bench
    from .datasets import open_benchmark
    from .metrics import MASK_METRICS, MATTING_METRICS

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    kwargs: dict[str, Any] = {
        "masks_root": args.masks_root,
        "mask_dir": args.mask_dir,
        "image_set": args.image_set,
    }
    benchmark = open_benchmark(
        args.benchmark, args.layout, **{k: v for k, v in kwargs.items() if v is not None}
    )
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    if args.clip or args.limit is not None:
        benchmark = benchmark.select(args.clip, args.limit)
    trackers = args.tracker or ["builtin"]
    task = args.task
    if task == "auto":
        task = "tracking" if benchmark.layout == "davis" else "matting"
    if task == "tracking":
        if args.method:
            say("note: --method is ignored for tracking (J&F of the trackers' masks)")
        options = {"oracle": {"perturbation": args.perturbation}} if args.perturbation else None
        treport = bench.evaluate_tracking(
            benchmark, trackers, tracker_options=options, progress=say
        )
        text = bench.markdown_tracking(treport)
        print(text)
        if args.json:
            say(f"wrote {treport.write_json(args.json)}")
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(text)
            say(f"wrote {args.markdown}")
        if treport.failed:
            return _failed("tracking", treport.failed, "sequences'", "masks")
        return 0 if treport.results else 1

    if benchmark.clips and benchmark.clips[0].ground_truth == "mask":
        say(
            "note: this benchmark has masks, not alphas: matting metrics compare against binary ground truth"
        )
    methods = bench.make_methods(
        args.method or ["ours"], trackers, perturbation=args.perturbation, device=args.device
    )
    metrics = [
        m
        for m in (*MATTING_METRICS, "flicker_gt", *MASK_METRICS)
        if not (args.no_conn and m == "conn")
    ]
    report = bench.evaluate(
        benchmark, methods, metrics=metrics, rvm_path=args.rvm_onnx, progress=say
    )
    print(bench.markdown_report(report, per_clip=args.per_clip))
    if args.json:
        say(f"wrote {report.write_json(args.json)}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(bench.markdown_report(report, per_clip=True))
        say(f"wrote {args.markdown}")
    if report.failed:
        return _failed("matting", report.failed, "clips'", "mattes")
    return 0 if report.means else 1


def _failed(task: str, failed: dict[str, dict[str, str]], whose: str, empty: str) -> int:
    """One error line naming every method that failed on a clip (``failed``: method → clip →
    why); status 1. Those clips' frames after the failure were scored as empty ``empty``."""
    names = [f"{method} on {clip}" for method, clips in failed.items() for clip in clips]
    print(
        f"sam2matting: error: {task} failed ({', '.join(names)}); those {whose} frames after "
        f"the failure are scored as empty {empty}",
        file=sys.stderr,
    )
    return 1
