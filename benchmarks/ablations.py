"""Ablations of the learned matting stage on the 512×288 dev benchmark (as in the paper).

    python benchmarks/ablations.py roi                 # learned ROI vs morphological trimap vs raw mask
    python benchmarks/ablations.py consistency --without runs/train-nocons/nocons.safetensors \\
                                               --with runs/train-v1/step-matched.safetensors

**ROI** (inference-time swap, same trained heads): the pseudo-trimap's unknown region is the
learned ROI (the method), the classical morphological band ``dilate − erode`` of the mask
(:func:`sam2matting.bridge.trimap.morphological_trimap`), or empty (the raw binary mask is the
trimap). Run with the clean oracle tracker and with an oracle perturbed like a real tracker
(``--perturbation``, :mod:`sam2matting.degrade`), where a detector that finds the mask's errors
matters most.

**Consistency loss**: two arms trained identically except ``--consistency-weight`` (0.2 vs 0),
compared at the same step. Frugal on CPU: both arms fine-tune the shipped recipe's stage-1
checkpoint for 500 steps with stage 2's settings (so stage 1 had the loss in both)::

    sam2matting train --out runs/abl-with --init-from runs/train-v1/last.pt --mask-noise mild \
        --lr 7e-4 --warmup 20 --teacher-forcing 0 --steps 500 --threads 1 --consistency-weight 0.2 \
        --export runs/abl-with/abl-with.safetensors     # and --consistency-weight 0 → abl-without

    python benchmarks/ablations.py consistency --with runs/abl-with/abl-with.safetensors \
        --without runs/abl-without/abl-without.safetensors --roi-threshold 0.8 --frames 50

Both paste modes are scored: the known region from the mask (default) and the heads' alpha
everywhere (``paste_known=False``, the paper's output, where holes would show).

Results: ``benchmarks/results/ablation_*.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_heads import _devbench, _weights_info, _write, add_benchmark_arguments

METRICS = ("mad", "mse", "grad", "dtssd")


def _method(label: str, perturbation: str | None, **head_options: Any) -> Any:
    from sam2matting.eval.bench import Method

    opts = {"perturbation": perturbation} if perturbation else {}
    return Method(
        label, head="sam2matting", tracker="oracle", tracker_options=opts, head_options=head_options
    )


def roi(args: argparse.Namespace) -> None:
    from sam2matting.eval.bench import Method, evaluate

    bench = _devbench("512x288", args.root, args.frames, args.clips)
    for pert in (None, args.perturbation):
        suffix = f"oracle~{pert}" if pert else "oracle"
        methods = [
            _method(f"learned ROI/{suffix}", pert, weights=args.weights, roi_mode="learned"),
            _method(
                f"morphological trimap/{suffix}",
                pert,
                weights=args.weights,
                roi_mode="morphological",
            ),
            _method(f"raw mask/{suffix}", pert, weights=args.weights, roi_mode="mask"),
        ]
        if pert:  # the reference: the mask itself, equally perturbed
            methods.append(
                Method(
                    f"mask-only/{suffix}",
                    head="mask",
                    tracker="oracle",
                    tracker_options={"perturbation": pert},
                )
            )
        report = evaluate(bench, methods, metrics=METRICS, progress=print)
        name = "ablation_roi" + ("_perturbed" if pert else "")
        title = "ROI ablation (same heads): learned ROI vs morphological trimap vs raw mask" + (
            f", oracle perturbed by {pert}" if pert else ""
        )
        _write(name, report, title, {"weights": _weights_info(args.weights), "perturbation": pert})


def consistency(args: argparse.Namespace) -> None:
    from sam2matting.eval.bench import evaluate

    if not args.without or not args.with_:
        sys.exit("consistency ablation needs --without WEIGHTS and --with WEIGHTS (same step)")
    bench = _devbench("512x288", args.root, args.frames, args.clips)
    extra = {} if args.roi_threshold is None else {"roi_threshold": args.roi_threshold}
    for pert in (None, args.perturbation):
        suffix = f"oracle~{pert}" if pert else "oracle"
        methods = []
        for paste in (True, False):
            tag = "" if paste else ", heads' alpha everywhere"
            for label, weights in (("with", args.with_), ("without", args.without)):
                methods.append(
                    _method(
                        f"{label} consistency{tag}/{suffix}",
                        pert,
                        weights=weights,
                        paste_known=paste,
                        **extra,
                    )
                )
        report = evaluate(bench, methods, metrics=METRICS, progress=print)
        name = "ablation_consistency" + ("_perturbed" if pert else "")
        title = "Consistency-loss ablation (equal steps)" + (
            f", oracle perturbed by {pert}" if pert else ""
        )
        _write(
            name,
            report,
            title,
            {
                "with": _weights_info(args.with_),
                "without": _weights_info(args.without),
                "perturbation": pert,
            },
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("what", choices=["roi", "consistency"])
    add_benchmark_arguments(p)
    p.add_argument(
        "--with", dest="with_", default=None, help="weights trained with the consistency loss"
    )
    p.add_argument("--without", default=None, help="weights trained without it (same step)")
    p.add_argument(
        "--perturbation",
        default="blocky:0.6,dilate:0.3,thin:0.5",
        help="oracle perturbation for the second table",
    )
    p.add_argument(
        "--roi-threshold",
        type=float,
        default=None,
        help="ROI threshold for both consistency arms (default: each weights' own)",
    )
    args = p.parse_args(argv)
    {"roi": roi, "consistency": consistency}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
