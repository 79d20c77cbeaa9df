"""The dev-benchmark comparison in one command, plus the DAVIS J&F table of the built-in tracker.

    python benchmarks/eval_dev.py                 # build the dev benchmark if missing, then evaluate
    python benchmarks/eval_dev.py --quick         # 3 clips × 20 frames, no closed-form (a smoke run)
    python benchmarks/eval_dev.py --hr            # also the 1920×1080 clips (ours, mask-only, rvm)

Matting at 512×288 (10 clips × 100 frames from ``sam2matting.eval.synth``): ours (built-in
pipeline, default head) vs mask-only vs morphological trimap + closed-form vs Robust Video
Matting (ONNX, skipped with a message when absent), each prompted method with the oracle tracker
(ground-truth masks) and the built-in tracker (first-frame mask only). Tracking: J&F per DAVIS
sequence for the built-in tracker from the first-frame mask.

Prints the tables and writes them to benchmarks/results/ (markdown + summary JSON, committed);
the per-frame JSON goes next to the benchmark (``<bench>/../results/``), not into the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


NOTES = """
Notes: the ground truth is exact (composites of soft cutouts, `sam2matting.eval.synth`); the
cutouts' own alphas are model predictions (P3M-Net, GFM), so they are realistic, not hand-made.
Held-out foregrounds only (`DEV_FOREGROUNDS`: 5 animals from AM-2k/GFM, 3 portraits from P3M;
the learned heads never train on them). RVM is a *human* matting model run without a prompt: on the
animal clips it mattes nothing (or the people in the background), hence its large means; compare
it on the portrait clips (05–07). Grad and Grad-HR coincide whenever both mattes span 0…1 (the
min–max normalisation is then the identity), which is almost every frame here.
"""


def _summary(report: Any) -> dict[str, Any]:
    """The report without per-frame records (those go outside the repository)."""
    data = report.to_json()
    data["results"] = {
        label: {clip: {k: v for k, v in r.items() if k != "frames"} for clip, r in clips.items()}
        for label, clips in data["results"].items()
    }
    return data


def _compact_per_clip(report: Any) -> str:
    """Clips × methods, cells 'MAD / dtSSD'."""
    labels = list(report.results)
    lines = ["| clip | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for clip in report.benchmark["clips"]:
        cells = []
        for label in labels:
            m = report.results[label].get(clip, {}).get("mean", {})
            cells.append(f"{m.get('mad', float('nan')):.2f} / {m.get('dtssd', float('nan')):.2f}")
        lines.append(f"| {clip} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from sam2matting.eval import bench, synth
    from sam2matting.eval.datasets import default_data_root, read_davis, read_rvm
    from sam2matting.eval.metrics import MASK_METRICS, MATTING_METRICS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_root(),
        help="shared data folder (default ../shared/data)",
    )
    parser.add_argument(
        "--bench",
        type=Path,
        default=synth.default_cache_dir() / "devbench",
        help="dev benchmark folder (built there if missing)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results",
        help="where the markdown/JSON tables go (default benchmarks/results)",
    )
    parser.add_argument(
        "--method", action="append", help="methods (default: ours, mask-only, trimap+cf, rvm)"
    )
    parser.add_argument("--tracker", action="append", help="trackers (default: oracle, builtin)")
    parser.add_argument("--clips", type=int, help="only the first N clips")
    parser.add_argument("--no-conn", action="store_true", help="skip Conn")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 clips, mattes of the first 20 frames only, no closed-form; results to <out>/quick_*",
    )
    parser.add_argument(
        "--hr", action="store_true", help="also evaluate the 1920×1080 clips (ours, mask-only, rvm)"
    )
    parser.add_argument(
        "--no-lr", action="store_true", help="skip the 512×288 evaluation (e.g. with --hr)"
    )
    parser.add_argument("--skip-davis", action="store_true", help="skip the DAVIS J&F table")
    args = parser.parse_args(argv)

    methods_names = args.method or (
        ["ours", "mask-only", "rvm"] if args.quick else ["ours", "mask-only", "trimap+cf", "rvm"]
    )
    trackers = args.tracker or ["oracle", "builtin"]
    metrics = [
        m
        for m in (*MATTING_METRICS, "flicker_gt", *MASK_METRICS)
        if not (args.no_conn and m == "conn")
    ]
    prefix = "quick_" if args.quick else ""
    args.out.mkdir(parents=True, exist_ok=True)
    frames_out = args.bench / "results"
    frames_out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()

    lr = args.bench / "512x288"
    if not (lr / "SHA256SUMS").is_file():
        print(f"building the dev benchmark into {args.bench} …", flush=True)
        synth.build_dev_benchmark(
            args.data,
            args.bench,
            resolutions=["512x288", *(["1920x1080"] if args.hr else [])],
            progress=print,
        )
    rvm_path = args.data / "baselines" / "rvm_mnv3_dr025.onnx"
    command = "python benchmarks/eval_dev.py " + " ".join(sys.argv[1:] if argv is None else argv)

    def publish(report: Any, name: str, title: str) -> None:
        """Write <out>/<name>.md (+ notes, command) and the summary JSON; per-frame JSON outside."""
        md = (
            bench.markdown_report(report, title=title) + NOTES + f"\nCommand: `{command.strip()}`\n"
        )
        (args.out / f"{prefix}{name}.md").write_text(md)
        summary = _summary(report)
        summary["command"] = command.strip()
        (args.out / f"{prefix}{name}.json").write_text(
            json.dumps(summary, indent=1, default=str) + "\n"
        )
        report.write_json(frames_out / f"{prefix}{name}_frames.json")
        print()
        print(bench.markdown_report(report, per_clip=False, title=title))
        print("Per clip, MAD / dtSSD:\n")
        print(_compact_per_clip(report))
        print()

    if not args.no_lr:
        benchmark = read_rvm(lr)
        limit = args.clips or (3 if args.quick else None)
        if limit is not None:
            benchmark = benchmark.select(limit=limit)
        if args.quick:
            benchmark.clips = [
                dataclasses.replace(c, image_paths=c.image_paths[:20], gt_paths=c.gt_paths[:20])
                for c in benchmark.clips
            ]
        methods = bench.make_methods(methods_names, trackers)
        print(
            f"evaluating {', '.join(m.label for m in methods)} on {len(benchmark)} clips of {lr} …",
            flush=True,
        )
        report = bench.evaluate(
            benchmark, methods, metrics=metrics, rvm_path=rvm_path, progress=print
        )
        publish(report, "dev_512x288", "Dev benchmark (composites with exact alpha)")

    if args.hr:
        hr = args.bench / "1920x1080"
        if not (hr / "SHA256SUMS").is_file():
            synth.build_dev_benchmark(
                args.data, args.bench, resolutions=["1920x1080"], progress=print
            )
        hr_methods = bench.make_methods([m for m in methods_names if m != "trimap+cf"], trackers)
        print(f"evaluating {', '.join(m.label for m in hr_methods)} on {hr} …", flush=True)
        hr_report = bench.evaluate(
            read_rvm(hr), hr_methods, metrics=metrics, rvm_path=rvm_path, progress=print
        )
        publish(
            hr_report,
            "dev_1920x1080",
            "Dev benchmark, 1920×1080 (trimap+cf left out: too slow on CPU at this size)",
        )

    if not args.skip_davis:
        davis = read_davis(args.data / "davis")
        treport = bench.evaluate_tracking(davis, ["builtin"], progress=print)
        md_t = bench.markdown_tracking(treport) + f"\nCommand: `{command.strip()}`\n"
        (args.out / f"{prefix}davis_jf.md").write_text(md_t)
        data = treport.to_json()
        (args.out / f"{prefix}davis_jf.json").write_text(
            json.dumps(data, indent=1, default=str) + "\n"
        )
        print(md_t)
    print(
        f"total {time.perf_counter() - t_all:.0f} s; tables in {args.out}, per-frame JSON in {frames_out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
