"""GPU streaming speed, side by side in one run (issue 11's benchmark).

On a bare GPU machine, from the repository root, one command (≤ 10 minutes: ``--budget-s``)::

    PYTHONPATH=src python3 benchmarks/bench_gpu.py --out $OUT/bench_gpu

(PyAV, PyMatting and transformers travel as wheels when the machine lacks them: see
``benchmarks/gpu_wheels.sh``; without PyAV the clip is fed from memory and ``decode`` is 0;
without transformers the SAM runs are skipped.) On any machine, small and quick, on the CPU::

    PYTHONPATH=src python3 benchmarks/bench_gpu.py --smoke [--compile]

What it runs: the synthetic sample clip (a subject with hair-like strands; 24 distinct frames
cycled) at 1920×1080 and 3840×2160, encoded to H.264, matted end to end by
:func:`sam2matting.matte_video` to 8-bit alpha PNGs, for

- SAM 2.1-tiny + learned head, SAM 2.1-base-plus + learned head (random weights, real size:
  the speed of a real checkpoint, without downloading one),
- built-in tracker + learned head, built-in tracker + guided head,

each in fp32 and in bf16 (``--dtype`` for tracker and head alike), most important first (the
issue's targets: 1080p SAM 2.1-tiny + learned, 2160p built-in + learned), so a run cut short by
``--budget-s`` (default 540 s of the 600 a device command may take) loses the least; results are
rewritten after every run. Per run: per-stage ms/frame (decode, track, matte, encode; with the
pipelined engine the stages overlap, so they add up to more than the wall time), end-to-end
frames/s over the timed frames (after a warm-up clip, which builds cuDNN plans and caches), peak
GPU memory, the learned head's host↔device transfers per frame (2 uploads, 1 download and 2
small syncs on the resident path, :mod:`sam2matting.matting.resident`), and for bf16 the mean
|Δα| against fp32 on the same frames (the tolerance the default dtype is chosen by).

``--compile`` adds, after those, eager vs ``torch.compile`` (:mod:`sam2matting.compiling`) of
the runs that have networks to compile, at the first size: warm-up seconds and steady
frames/s of both, and their ratio.

``--smoke``: CPU, tiny SAM config, 256×144 and 320×180, and the heads' *device* code path
(``tensor_ops``: the resident learned head, the tensor guided filter) — every code path the
GPU run takes, on the CPU.

Results: stdout (a markdown table) and ``<out>.{json,md}`` (default
``$OUT/bench_gpu[_smoke]`` when ``$OUT`` is set, else ``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import json
import os
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


#: (case name, size index) in the order they run: the issue's targets first
PRIORITY = [
    ("SAM 2.1-tiny + learned", 0),
    ("built-in + learned", 1),
    ("built-in + learned", 0),
    ("built-in + guided", 0),
    ("SAM 2.1-tiny + learned", 1),
    ("SAM 2.1-base+ + learned", 0),
    ("built-in + guided", 1),
    ("SAM 2.1-base+ + learned", 1),
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
    transfers_per_frame: dict[str, float] | None = None
    compiled: bool = False
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


_RENDERED: dict[tuple[int, int], tuple[list[np.ndarray], Any]] = {}


def make_clip(width: int, height: int, frames: int, folder: Path, period: int = 24) -> Any:
    """An H.264 file of ``frames`` frames of the sample clip (or the frames themselves, as a
    list, when PyAV is missing) and the box prompt of frame 0. The ``period`` distinct frames
    are rendered once per size (at 2160p that is most of the set-up time)."""
    from sam2matting import Box
    from sam2matting.samples import make_sample_clip

    if (width, height) not in _RENDERED:
        clip = make_sample_clip(width, height, period)
        _RENDERED[(width, height)] = ([clip.frame(t)[0] for t in range(period)], Box(*clip.box(0)))
    rendered, box = _RENDERED[(width, height)]
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


def build_tracker(case: Case, device: str, dtype: str, smoke: bool) -> Any:
    from sam2matting.trackers.registry import build_tracker

    if case.tracker == "builtin":
        return build_tracker("builtin")
    from sam2matting.trackers import hf_sam2

    config = hf_sam2.tiny_sam2_config(128) if smoke else hf_sam2.sam2_config(case.tracker)
    return hf_sam2.build(f"sam2.1-hiera-{case.tracker}", config=config, device=device, dtype=dtype)


def build_head(case: Case, device: str, dtype: str, tensor_ops: bool | None) -> Any:
    """``tensor_ops``: None → the device's default (tensor ops on CUDA / MPS, OpenCV on the
    CPU); True → the tensor-op (GPU) code path on any device (``--smoke``)."""
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
    compiled: bool = False,
) -> Result:
    import torch

    from sam2matting import matte_video

    t_run = time.perf_counter()
    cuda = args.device.startswith("cuda")
    tracker = build_tracker(case, args.device, dtype, args.smoke)
    head = build_head(case, args.device, dtype, args.tensor_ops)
    # the learned head's own stage times (prepare, heads, upsample, refine, paste) and its
    # host↔device transfers, summed over the timed frames
    head_ms: dict[str, float] = {}
    transfers: dict[str, int] = {}
    if hasattr(head, "last_timings"):
        inner, timed_head = head.matte, head

        def timed_matte(*a: Any, **k: Any) -> Any:
            out = inner(*a, **k)
            for name, sec in timed_head.last_timings.items():
                head_ms[name] = head_ms.get(name, 0.0) + 1e3 * sec
            for name, n in getattr(timed_head, "last_transfers", {}).items():
                transfers[name] = transfers.get(name, 0) + n
            return out

        head.matte = timed_matte
    w, h = size
    warm_src, box = clips[(w, h, args.warmup)]
    src, _ = clips[(w, h, args.frames)]
    if compiled:
        # warm up on the timed frames themselves, so every shape they bring is compiled
        # before the timing (and first pass − second pass = the compiler's cost)
        warm_src = src
    seen: list[np.ndarray] = []

    def on_frame(result: Any) -> None:
        if len(seen) < 8:  # a few frames at quarter size, for the bf16-vs-fp32 difference
            seen.append(np.asarray(result.alphas[1][::4, ::4], np.float32).copy())

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    opts = {"tracker": tracker, "head": head, "progress": False, "torch_compile": compiled}
    t0 = time.perf_counter()
    matte_video(warm_src, [box], tmp / "warm", **opts)
    sync()
    warmup_s = time.perf_counter() - t0
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    head_ms.clear()
    transfers.clear()
    opts["torch_compile"] = False  # compiled once, in place, by the warm-up session
    t0 = time.perf_counter()
    res = matte_video(src, [box], tmp / "timed", on_frame=on_frame, **opts)
    sync()
    wall = time.perf_counter() - t0
    key = f"{case.name}@{w}x{h}"
    mad = None
    if dtype == "float32" and not compiled:
        keep[key] = seen
    elif key in keep:
        mad = float(np.mean([np.abs(a - b).mean() for a, b in zip(keep[key], seen, strict=False)]))
    notes = [] if have("av") else ["frames from memory (no PyAV): decode not measured"]
    n = res.num_frames
    stage = {k: round(1e3 * v / n, 2) for k, v in res.times.seconds.items()}
    stage.update({f"head.{k}": round(v / n, 2) for k, v in head_ms.items()})
    result = Result(
        case=case.name,
        size=f"{w}x{h}",
        dtype=dtype,
        frames=n,
        fps=round(n / wall, 2),
        stage_ms=stage,
        peak_gpu_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        warmup_s=round(warmup_s, 2),
        alpha_mad_vs_fp32=None if mad is None else round(mad, 5),
        transfers_per_frame={k: round(v / n, 2) for k, v in transfers.items()} or None,
        compiled=compiled,
        wall_s=round(time.perf_counter() - t_run, 1),
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
    cols += ["warm-up s", "mean |Δα| vs fp32", "transfers/frame"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        name = r.case + (" (compiled)" if r.compiled else "")
        cells = [name, r.size, r.dtype, f"{r.fps:.1f}"]
        cells += [f"{r.stage_ms[s]:.1f}" if s in r.stage_ms else "–" for s in stages]
        cells += [f"{r.stage_ms[s]:.1f}" if s in r.stage_ms else "–" for s in head_stages]
        cells.append("–" if r.peak_gpu_mib is None else f"{r.peak_gpu_mib:.0f}")
        cells.append(f"{r.warmup_s:.1f}")
        cells.append("–" if r.alpha_mad_vs_fp32 is None else f"{r.alpha_mad_vs_fp32:.4f}")
        t = r.transfers_per_frame
        cells.append("–" if not t else " ".join(f"{k} {v:g}" for k, v in sorted(t.items())))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compile_table(results: list[Result]) -> str:
    """Eager vs compiled pairs: steady frames/s and the compiler's warm-up (the compiled
    run's first pass over the timed frames minus its second)."""
    lines = [
        "| run | size | dtype | eager frames/s | compiled frames/s | compiled / eager "
        "| compile warm-up s | mean |Δα| vs eager |",
        "|---|---|---|---|---|---|---|---|",
    ]
    eager = {(r.case, r.size, r.dtype): r for r in results if not r.compiled}
    for c in (r for r in results if r.compiled):
        e = eager.get((c.case, c.size, c.dtype))
        if e is None:
            continue
        cost = c.warmup_s - c.frames / c.fps  # first pass − second pass, same frames
        lines.append(
            f"| {c.case} | {c.size} | {c.dtype} | {e.fps:.1f} | {c.fps:.1f} | "
            f"{c.fps / e.fps:.2f} | {cost:.1f} | "
            + ("–" if c.alpha_mad_vs_fp32 is None else f"{c.alpha_mad_vs_fp32:.5f}")
            + " |"
        )
    return "\n".join(lines)


def write_results(
    stem: Path, env: dict[str, Any], results: list[Result], skipped: list[str], smoke: bool
) -> str:
    """(Re)write ``stem``.json / .md; returns the markdown."""
    md = table(results)
    if any(r.compiled for r in results):
        md += "\n\n### torch.compile\n\n" + compile_table(results)
        md += (
            "\n\nCompile warm-up: the compiled run's first pass over the timed frames minus its "
            "second, from a cold inductor cache unless `TORCHINDUCTOR_CACHE_DIR` was set. A "
            "compiled run reuses what an earlier one in the same process compiled (same code "
            "and shapes), so later rows can show ≈ 0; a later process with the cache kept "
            "loads compiled kernels from disk and pays a fraction of it."
        )
    if skipped:
        md += "\n\nNot run (time budget): " + "; ".join(skipped)
    stem.parent.mkdir(parents=True, exist_ok=True)
    payload = {"env": env, "results": [r.__dict__ for r in results], "skipped": skipped}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    title = "# bench_gpu" + (" (smoke: CPU, tiny SAM config)" if smoke else "") + "\n\n"
    notes = (
        "\n\nms/frame per stage; the stages overlap (pipelined engine), so they add up to more "
        "than 1000 / frames/s. `head.*`: the learned head's own steps inside `matte` (on a GPU "
        "without synchronising: launch time; `matte` is the real cost, it ends with the "
        "download). Mean |Δα| vs fp32: bf16 against fp32 on the same 8 frames (quarter "
        "resolution); with random-weight SAM trackers it measures the tracker's masks diverging, "
        "the built-in rows measure the head alone. transfers/frame: the learned head's "
        "host↔device crossings (resident path).\n"
    )
    env_block = "```\n" + json.dumps(env) + "\n```\n\n"
    stem.with_suffix(".md").write_text(title + env_block + md + notes)
    return md


def main(argv: list[str] | None = None) -> int:
    t_start = time.perf_counter()
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
    p.add_argument(
        "--compile", action="store_true", help="also eager vs torch.compile (first size)"
    )
    p.add_argument(
        "--tensor-ops",
        action="store_true",
        default=None,
        help="the heads' tensor-op (GPU) path on any device (default: on with --smoke, else "
        "the device's own: tensor ops on CUDA / MPS)",
    )
    p.add_argument(
        "--budget-s",
        type=float,
        default=540.0,
        help="start no run that would end past this many seconds (default 540)",
    )
    p.add_argument("--out", default=None, help="results stem (default $OUT/… or benchmarks/…)")
    args = p.parse_args(argv)

    import torch

    from sam2matting import __version__
    from sam2matting.device import resolve_device, resolve_dtype

    args.device = args.device or ("cpu" if args.smoke else "cuda")
    device = resolve_device(args.device)  # a clear error on a machine without the device
    args.device = str(device)
    if args.tensor_ops is None and args.smoke:
        args.tensor_ops = True  # the smoke run takes the GPU's code path
    args.frames = args.frames or (6 if args.smoke else 48)
    args.warmup = args.warmup or (2 if args.smoke else 8)
    sizes_text = args.sizes or ("256x144,320x180" if args.smoke else "1920x1080,3840x2160")
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in sizes_text.split(",")]
    dtypes = [resolve_dtype(d, device) for d in args.dtypes.split(",")]
    cases = {c.name: c for c in CASES if not args.cases or args.cases.lower() in c.name.lower()}
    if not have("transformers"):
        cases = {k: c for k, c in cases.items() if c.tracker == "builtin"}
        print("transformers missing: SAM runs skipped")
    order = [(name, i) for name, i in PRIORITY if name in cases and i < len(sizes)]
    order += [(n, i) for i in range(len(sizes)) for n in cases if (n, i) not in order]
    runs = [(cases[n], sizes[i], d, False) for n, i in order for d in dtypes]
    if args.compile:
        compilable = [c for c in cases.values() if c.tracker != "builtin" or c.head != "guided"]
        runs += [(c, sizes[0], d, True) for c in compilable for d in dtypes[:1]]
    if args.out:
        stem = Path(args.out)
    else:
        name = "bench_gpu_smoke" if args.smoke else "bench_gpu"
        stem = Path(os.environ["OUT"]) / name if os.environ.get("OUT") else HERE / "results" / name
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
        "budget_s": args.budget_s,
    }
    print(json.dumps(env), flush=True)
    results: list[Result] = []
    skipped: list[str] = []
    keep: dict[str, list[np.ndarray]] = {}
    last_wall: dict[tuple[str, bool], float] = {}  # per (size, compiled): longest run so far
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp_name:
        tmp = Path(tmp_name)
        if args.compile and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
            # a cold compiler cache, so the warm-up is what a first run pays (inductor keeps
            # its compiled kernels on disk: a second run would mostly load them)
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(tmp / "inductor")
            env["inductor_cache"] = "cold (fresh folder)"
        clips: dict[tuple[int, int, int], Any] = {}
        for w, h in sizes:
            for n in (args.warmup, args.frames):
                clips[(w, h, n)] = make_clip(w, h, n, tmp)
        print(f"clips ready in {time.perf_counter() - t_start:.1f} s", flush=True)
        if runs and time.perf_counter() - t_start < args.budget_s / 2:
            # one untimed run first: the process's first run paid one-time costs (thread
            # pools, lazy imports, CUDA context) that its own warm-up clip did not absorb
            # (2.0–2.5× slower in the smoke runs), which would bias whichever case ran first
            case, (w, h), dtype, _ = runs[0]
            try:
                run_case(case, (w, h), dtype, args, clips, {}, tmp / "out")
            except Exception as exc:
                print(f"process warm-up failed: {type(exc).__name__}: {exc}", flush=True)
            print(f"process warm-up done at {time.perf_counter() - t_start:.1f} s", flush=True)
        for case, (w, h), dtype, compiled in runs:
            label = f"{case.name} {w}x{h} {dtype}" + (" compiled" if compiled else "")
            expect = last_wall.get((f"{w}x{h}", compiled), 0.0)
            if time.perf_counter() - t_start + 1.2 * expect > args.budget_s:
                print(f"{label}: skipped (time budget)", flush=True)
                skipped.append(label)
                continue
            try:
                r = run_case(case, (w, h), dtype, args, clips, keep, tmp / "out", compiled)
            except Exception as exc:  # one failing run must not end the table
                print(f"{label}: FAILED: {type(exc).__name__}: {exc}", flush=True)
                skipped.append(f"{label} (failed: {type(exc).__name__})")
                continue
            key = (r.size, compiled)
            last_wall[key] = max(last_wall.get(key, 0.0), r.wall_s)
            results.append(r)
            print(json.dumps(r.__dict__), flush=True)
            write_results(stem, env, results, skipped, args.smoke)
    md = write_results(stem, env, results, skipped, args.smoke)
    print()
    print(md)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; results in {stem}.json / .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
