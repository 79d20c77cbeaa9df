"""The validation protocol of the matting heads, in one command (issue 10).

    python benchmarks/eval_validation.py                    # build if missing, evaluate, write tables
    python benchmarks/eval_validation.py --set tuning       # the *tuning* clips (training sources)
    python benchmarks/eval_validation.py --head-option temporal=0  # an ablation of the default head

Validation (``sam2matting.eval.validation``): 16 clips × 30 frames at 512×288 from sources
training never touches, in six categories (hard edges, hair, fur, transparent, thin, motion);
scored under two mask conditions, *clean* (oracle: α > 0.5 per frame) and *tracker-like*
(oracle with ``--perturbation sam2:0.5``: SAM 2's 256² logits upsampled and thresholded, thin
parts missed, boundary offsets). Methods: ours (default head), ours:guided, mask-only,
trimap+cf. It is never used to choose a setting; ``--set tuning`` is (training-split cutouts
over training backgrounds).

The per-frame JSON goes next to the benchmark; the markdown tables and a summary JSON go to
``benchmarks/results/validation_*`` (committed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONDITIONS = {"clean": None, "tracker-like": "sam2:0.5"}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument(
        "--set",
        choices=("validation", "tuning", "dev-512x288", "dev-1920x1080"),
        default="validation",
        help="dev-*: the dev benchmark (build it first: benchmarks/build_dev_benchmark.py)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="benchmark folder (default ~/.cache/sam2matting/<set>)",
    )
    p.add_argument("--condition", action="append", choices=list(CONDITIONS), help="default: both")
    p.add_argument(
        "--method", action="append", help="default: ours, ours:guided, mask-only, trimap+cf"
    )
    p.add_argument(
        "--head-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option of the default head (JSON values), e.g. temporal=0",
    )
    p.add_argument(
        "--weights", help="weights file for the default head (e.g. a new training run's)"
    )
    p.add_argument("--tag", default="", help="suffix of the result files")
    p.add_argument("--clip", action="append", help="only clips containing TEXT")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)

    from sam2matting.cli import parse_key_values
    from sam2matting.errors import Sam2MattingError
    from sam2matting.eval import bench
    from sam2matting.eval.datasets import open_benchmark
    from sam2matting.eval.synth import default_cache_dir
    from sam2matting.eval.validation import build_validation, tuning_clips

    root = Path(args.data_root)
    if not (root / "davis").is_dir():
        print(
            f"error: {root} has no davis/ (the shared data); nothing to evaluate", file=sys.stderr
        )
        return 2
    default = (
        default_cache_dir() / "devbench" / args.set[4:]
        if args.set.startswith("dev-")
        else default_cache_dir() / args.set
    )
    out = args.out or default
    if args.set.startswith("dev-") and not (out / "benchmark.json").is_file():
        print(
            f"error: no dev benchmark at {out}; run benchmarks/build_dev_benchmark.py",
            file=sys.stderr,
        )
        return 2
    if not (out / "benchmark.json").is_file():
        clips = tuning_clips() if args.set == "tuning" else None
        print(f"building the {args.set} set in {out} …", file=sys.stderr)
        build_validation(root, out, clips=clips, progress=lambda m: print(m, file=sys.stderr))
    benchmark = open_benchmark(out)
    if args.clip:
        benchmark = benchmark.select(args.clip)
    head_options = parse_key_values(args.head_option, "--head-option")
    if args.weights:
        head_options["weights"] = args.weights
    summary: dict[str, Any] = {"set": args.set, "head_options": head_options, "conditions": {}}
    texts = []
    try:
        for cond in args.condition or list(CONDITIONS):
            methods = bench.make_methods(
                args.method or ["ours", "ours:guided", "mask-only", "trimap+cf"],
                ["oracle"],
                perturbation=CONDITIONS[cond],
            )
            for m in methods:
                if m.label.startswith("ours[sam2matting]"):
                    m.head_options.update(head_options)
            metrics = [
                "mad",
                "mse",
                "grad",
                "dtssd",
                "j",
                "f",
            ]  # flicker: its flow costs ~0.5 s/frame
            report = bench.evaluate(
                benchmark,
                methods,
                metrics=metrics,
                progress=lambda m: print(m, file=sys.stderr, flush=True),
            )
            text = bench.markdown_report(report, per_clip=False, title=f"{args.set}, {cond} masks")
            print(text, flush=True)
            texts.append(text)
            summary["conditions"][cond] = {
                "means": report.means,
                "category_means": report.category_means(),
                "seconds_per_frame": report.seconds_per_frame,
            }
            report.write_json(out.parent / f"{out.name}-results" / f"{cond}{args.tag}.json")
    except Sam2MattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not args.no_write:
        res = HERE / "results"
        name = f"{args.set}{args.tag}"
        (res / f"{name}.md").write_text("\n".join(texts))
        (res / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {res / name}.md / .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
