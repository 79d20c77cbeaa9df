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

**Consistency loss**: the shipped recipe vs the same recipe with ``--consistency-weight 0``,
compared at the same training step (both exported from checkpoints of equal step and schedule).

Results: ``benchmarks/results/ablation_*.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_heads import _devbench, _weights_info, _write

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
    out = {}
    for pert in (None, args.perturbation):
        suffix = f"oracle~{pert}" if pert else "oracle"
        methods = [
            _method(f"with consistency/{suffix}", pert, weights=args.with_),
            _method(f"without consistency/{suffix}", pert, weights=args.without),
        ]
        report = evaluate(bench, methods, metrics=METRICS, progress=print)
        name = "ablation_consistency" + ("_perturbed" if pert else "")
        out[name] = report
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
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="dev benchmark folder (default ~/.cache/sam2matting/devbench)",
    )
    p.add_argument(
        "--weights", default="default", help="weights for the ROI ablation (default: shipped)"
    )
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
        "--frames", type=int, default=None, help="score only the first N frames of each clip"
    )
    p.add_argument("--clips", nargs="*", default=None, help="only clips whose names contain these")
    args = p.parse_args(argv)
    {"roi": roi, "consistency": consistency}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
