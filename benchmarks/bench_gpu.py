"""GPU streaming speed, side by side in one run (issue 11's benchmark).

On a bare GPU machine, from the repository root, one command::

    PYTHONPATH=src python3 benchmarks/bench_gpu.py

(PyAV and PyMatting travel as wheels when the machine lacks them: see
``benchmarks/gpu_wheels.sh``; without PyAV the clip is fed from memory and ``decode`` is 0.)
On any machine, small and quick, on the CPU::

    PYTHONPATH=src python3 benchmarks/bench_gpu.py --smoke

What it runs: the synthetic sample clip (a subject with hair-like strands; 24 distinct frames
cycled) at 1920×1080 and 3840×2160, encoded to H.264, matted end to end by
:func:`sam2matting.matte_video` to 8-bit alpha PNGs, for

- SAM 2.1-tiny + learned head, SAM 2.1-base-plus + learned head (random weights, real size:
  the speed of a real checkpoint, without downloading one),
- built-in tracker + learned head, built-in tracker + guided head,

each in fp32 and in bf16 (``--dtype`` for tracker and head alike). Per run: per-stage ms/frame
(decode, track, matte, encode; with the pipelined engine the stages overlap, so they add up to
more than the wall time), end-to-end frames/s over the timed frames (after a warm-up clip, which
builds cuDNN plans and caches), peak GPU memory, and for bf16 the mean |Δα| against fp32 on the
same frames (the tolerance the default dtype is chosen by). ``--compile`` also times
``torch.compile`` of the SAM image encoder and reports its warm-up cost.

Results: stdout (a markdown table) and ``benchmarks/results/bench_gpu[_smoke].{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    name: str
    tracker: str  # "builtin" or a SAM size for hf_sam2.sam2_config
    head: str  # "sam2matting" or "guided"


CASES = [
    Case("SAM 2.1-tiny + learned", "tiny", "sam2matting"),
    Case("SAM 2.1-base+ + learned", "base-plus", "sam2matting"),
    Case("built-in + learned", "builtin", "sam2matting"),
    Case("built-in + guided", "builtin", "guided"),
]


@dataclass
class Result:
    case: str
    size: str
    dtype: str
    frames: int
    fps: float
    stage_ms: dict[str, float]
    peak_gpu_mib: float | None
    warmup_s: float
    alpha_mad_vs_fp32: float | None = None
    notes: list[str] = field(default_factory=list)


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def make_clip(width: int, height: int, frames: int, folder: Path, period: int = 24) -> Any:
    """An H.264 file of ``frames`` frames of the sample clip (or the frames themselves, as a
    list, when PyAV is missing) and the box prompt of frame 0."""
    from sam2matting import Box
    from sam2matting.samples import make_sample_clip

    clip = make_sample_clip(width, height, min(period, frames))
    rendered = [clip.frame(t)[0] for t in range(min(period, frames))]
    box = Box(*clip.box(0))
    if not have("av"):
        return [rendered[i % len(rendered)] for i in range(frames)], box
    from fractions import Fraction

    import av

    path = folder / f"clip_{width}x{height}_{frames}.mp4"
    if not path.exists():
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=Fraction(24))
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
            s.options = {"crf": "16", "preset": "ultrafast"}
            for i in range(frames):
                vf = av.VideoFrame.from_ndarray(rendered[i % len(rendered)], format="rgb24")
                for p in s.encode(vf):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    return path, box


def build_tracker(case: Case, device: str, dtype: str, smoke: bool, compile_: bool) -> Any:
    from sam2matting.trackers.registry import build_tracker

    if case.tracker == "builtin":
        return build_tracker("builtin")
    from sam2matting.trackers import hf_sam2

    config = hf_sam2.tiny_sam2_config(128) if smoke else hf_sam2.sam2_config(case.tracker)
    tracker = hf_sam2.build(
        f"sam2.1-hiera-{case.tracker}", config=config, device=device, dtype=dtype
    )
    if compile_:
        import torch

        model = tracker.backend.model
        model.vision_encoder = torch.compile(model.vision_encoder)
    return tracker


def build_head(case: Case, device: str, dtype: str, tensor_ops: bool | None) -> Any:
    """``tensor_ops``: None → the device's default (tensor ops on CUDA / MPS, OpenCV on the
    CPU); True → the tensor-op (GPU) code path on any device (``--smoke --tensor-ops``)."""
    from sam2matting.matting.classical import ClassicalConfig
    from sam2matting.matting.guided_head import build_guided
    from sam2matting.matting.weights import build_learned_head as build

    if case.head == "guided":
        if tensor_ops:
            import torch

            from sam2matting.matting.device_ops import TensorGuidedMatting

            return TensorGuidedMatting(ClassicalConfig(), torch.device(device))
        return build_guided(device=device)
    return build(device=device, dtype=dtype, tensor_ops=tensor_ops)


def run_case(
    case: Case,
    size: tuple[int, int],
    dtype: str,
    args: argparse.Namespace,
    clips: dict[tuple[int, int, int], Any],
    keep: dict[str, list[np.ndarray]],
    tmp: Path,
) -> Result:
    import torch

    from sam2matting import matte_video

    cuda = args.device.startswith("cuda")
    tracker = build_tracker(case, args.device, dtype, args.smoke, args.compile)
    head = build_head(case, args.device, dtype, True if args.tensor_ops else None)
    # the learned head's own stage times (prepare, heads, upsample, refine, paste), summed
    head_ms: dict[str, float] = {}
    if hasattr(head, "last_timings"):
        inner, timed_head = head.matte, head

        def timed_matte(*a: Any, **k: Any) -> Any:
            out = inner(*a, **k)
            for name, sec in timed_head.last_timings.items():
                head_ms[name] = head_ms.get(name, 0.0) + 1e3 * sec
            return out

        head.matte = timed_matte
    w, h = size
    warm_src, box = clips[(w, h, args.warmup)]
    src, _ = clips[(w, h, args.frames)]
    seen: list[np.ndarray] = []

    def on_frame(result: Any) -> None:
        if len(seen) < 8:  # a few frames at quarter size, for the bf16-vs-fp32 difference
            seen.append(np.asarray(result.alphas[1][::4, ::4], np.float32).copy())

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    matte_video(warm_src, [box], tmp / "warm", tracker=tracker, head=head, progress=False)
    sync()
    warmup_s = time.perf_counter() - t0
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    head_ms.clear()
    t0 = time.perf_counter()
    res = matte_video(
        src, [box], tmp / "timed", tracker=tracker, head=head, progress=False, on_frame=on_frame
    )
    sync()
    wall = time.perf_counter() - t0
    key = f"{case.name}@{w}x{h}"
    mad = None
    if dtype == "float32":
        keep[key] = seen
    elif key in keep:
        mad = float(np.mean([np.abs(a - b).mean() for a, b in zip(keep[key], seen, strict=False)]))
    notes = [] if have("av") else ["frames from memory (no PyAV): decode not measured"]
    stage = {k: round(1e3 * v / res.num_frames, 2) for k, v in res.times.seconds.items()}
    stage.update({f"head.{k}": round(v / res.num_frames, 2) for k, v in head_ms.items()})
    result = Result(
        case=case.name,
        size=f"{w}x{h}",
        dtype=dtype,
        frames=res.num_frames,
        fps=round(res.num_frames / wall, 2),
        stage_ms=stage,
        peak_gpu_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        warmup_s=round(warmup_s, 2),
        alpha_mad_vs_fp32=None if mad is None else round(mad, 5),
        notes=notes,
    )
    del tracker, head
    if cuda:
        torch.cuda.empty_cache()
    return result


def table(results: list[Result]) -> str:
    stages = ["decode", "track", "matte", "foreground", "encode"]
    head_stages = sorted({k for r in results for k in r.stage_ms if k.startswith("head.")})
    cols = ["run", "size", "dtype", "frames/s", *stages, *head_stages, "peak GPU MiB"]
    cols += ["warm-up s", "mean |Δα| vs fp32"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        cells = [r.case, r.size, r.dtype, f"{r.fps:.1f}"]
        cells += [f"{r.stage_ms[s]:.1f}" if s in r.stage_ms else "–" for s in stages]
        cells += [f"{r.stage_ms[s]:.1f}" if s in r.stage_ms else "–" for s in head_stages]
        cells.append("–" if r.peak_gpu_mib is None else f"{r.peak_gpu_mib:.0f}")
        cells.append(f"{r.warmup_s:.1f}")
        cells.append("–" if r.alpha_mad_vs_fp32 is None else f"{r.alpha_mad_vs_fp32:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--smoke", action="store_true", help="CPU, 256×144 and 320×180, tiny SAM")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --smoke)")
    p.add_argument("--sizes", default=None, help="e.g. 1920x1080,3840x2160 (the default)")
    p.add_argument("--frames", type=int, default=None, help="timed frames (default 48; smoke 6)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up frames (default 8; smoke 2)")
    p.add_argument("--dtypes", default="fp32,bf16", help="comma-separated (default fp32,bf16)")
    p.add_argument("--cases", default=None, help="substring filter on the run names")
    p.add_argument("--compile", action="store_true", help="torch.compile the SAM image encoder")
    p.add_argument(
        "--tensor-ops",
        action="store_true",
        help="the heads' tensor-op (GPU) path even on the CPU (default: the device's own)",
    )
    p.add_argument("--out", default=None, help="results stem (default benchmarks/results/...)")
    args = p.parse_args(argv)

    import torch

    from sam2matting import __version__
    from sam2matting.device import resolve_device, resolve_dtype

    args.device = args.device or ("cpu" if args.smoke else "cuda")
    device = resolve_device(args.device)  # a clear error on a machine without the device
    args.device = str(device)
    args.frames = args.frames or (6 if args.smoke else 48)
    args.warmup = args.warmup or (2 if args.smoke else 8)
    sizes_text = args.sizes or ("256x144,320x180" if args.smoke else "1920x1080,3840x2160")
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in sizes_text.split(",")]
    dtypes = [resolve_dtype(d, device) for d in args.dtypes.split(",")]
    cases = [c for c in CASES if not args.cases or args.cases.lower() in c.name.lower()]
    if not have("transformers"):
        cases = [c for c in cases if c.tracker == "builtin"]
        print("transformers missing: SAM runs skipped")
    env = {
        "sam2matting": __version__,
        "torch": torch.__version__,
        "device": args.device
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "cpu": platform.processor() or platform.machine(),
        "pyav": have("av"),
        "frames": args.frames,
        "warmup": args.warmup,
        "compile": args.compile,
        "tensor_ops": args.tensor_ops,
        "smoke": args.smoke,
    }
    print(json.dumps(env))
    results: list[Result] = []
    keep: dict[str, list[np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp_name:
        tmp = Path(tmp_name)
        clips: dict[tuple[int, int, int], Any] = {}
        for w, h in sizes:
            for n in (args.warmup, args.frames):
                clips[(w, h, n)] = make_clip(w, h, n, tmp)
        for w, h in sizes:
            for case in cases:
                for dtype in dtypes:
                    try:
                        r = run_case(case, (w, h), dtype, args, clips, keep, tmp / "out")
                    except Exception as exc:  # one failing run must not end the table
                        print(f"{case.name} {w}x{h} {dtype}: FAILED: {type(exc).__name__}: {exc}")
                        continue
                    results.append(r)
                    print(json.dumps(r.__dict__), flush=True)
    md = table(results)
    print()
    print(md)
    stem = (
        Path(args.out)
        if args.out
        else HERE / "results" / ("bench_gpu_smoke" if args.smoke else "bench_gpu")
    )
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(
        json.dumps({"env": env, "results": [r.__dict__ for r in results]}, indent=1)
    )
    title = "# bench_gpu" + (" (smoke: CPU, tiny SAM config)" if args.smoke else "") + "\n\n"
    notes = (
        "\n\nms/frame per stage; the stages overlap (pipelined engine), so they add up to more "
        "than 1000 / frames/s. `head.*`: the learned head's own steps inside `matte`. "
        "Mean |Δα| vs fp32: bf16 against fp32 on the same 8 frames (quarter resolution); with "
        "random-weight SAM trackers it measures the tracker's masks diverging, the built-in "
        "rows measure the head alone.\n"
    )
    env_block = "```\n" + json.dumps(env) + "\n```\n\n"
    stem.with_suffix(".md").write_text(title + env_block + md + notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
