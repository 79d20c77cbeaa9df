"""Foundation-tracker cost and memory: per-frame CPU time of the real-size SAM2.1-tiny
architecture (random weights) and RSS of a long vs a short clip (bounded memory).

    python benchmarks/bench_trackers.py speed          # SAM2.1-tiny, 512² and 1024² frames (→ 1024² model input)
    python benchmarks/bench_trackers.py memory         # tiny config, RSS at 300 vs 3000 frames
    python benchmarks/bench_trackers.py all
    python benchmarks/bench_trackers.py memory --compare-unbounded   # also run with pruning disabled

Speed uses the real SAM2.1 Hiera-T architecture (``sam2_config("tiny", "2.1")``, 38.9 M
parameters) with random weights: cost does not depend on the weights' values. Frames of 512² and
1024² are resized to the model's 1024² input, so the model cost is the same and only the resize
differs. Memory runs each clip length in a fresh subprocess on procedurally generated frames (the
frame source holds nothing), tracks two objects, and reports peak RSS and the RSS growth between
frame 100 and the last frame. GPU figures are not measured by this script unless a CUDA device is
present (``--device cuda``). Results go to ``benchmarks/results/trackers.{json,md}``.
"""

from __future__ import annotations

import os

# OpenMP threads that sleep while they wait (set before torch loads): spinning threads make
# inference several times slower on a shared CPU
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _source(n: int, width: int, height: int) -> Any:
    """A frame source that draws frame i on demand: a bright square sliding over a gradient."""
    from sam2matting.io.readers import FrameSource, VideoInfo

    class Procedural(FrameSource):
        def __init__(self) -> None:
            self.info = VideoInfo(width=width, height=height, num_frames=n)
            ramp = np.linspace(30, 90, width, dtype=np.float32)
            self._base = np.broadcast_to(ramp[None, :, None], (height, width, 3)).astype(np.uint8)

        def iter_frames(
            self, start: int = 0, stop: int | None = None
        ) -> Iterator[tuple[int, np.ndarray]]:
            stop = n if stop is None else min(stop, n)
            side = max(height // 4, 2)
            for i in range(start, stop):
                img = self._base.copy()
                x = (i * 3) % max(width - side, 1)
                img[height // 3 : height // 3 + side, x : x + side] = (230, 120, 40)
                yield i, img

    return Procedural()


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _versions() -> dict[str, str]:
    import torch
    import transformers

    import sam2matting

    return {
        "sam2matting": sam2matting.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


# ----------------------------------------------------------------------------- speed
def bench_speed(
    sizes: list[int], frames: int, warmup: int, device: str, dtype: str
) -> list[dict[str, Any]]:
    import torch

    from sam2matting.trackers.hf_sam2 import build, sam2_config
    from sam2matting.types import Points

    tracker = build(
        "sam2.1-hiera-tiny", config=sam2_config("tiny", "2.1"), device=device, dtype=dtype
    )
    params = sum(p.numel() for p in tracker.backend.model.parameters())
    encode = tracker.backend.encode
    spent = {"encode": 0.0}

    def timed_encode(pixels: Any) -> Any:
        t0 = time.perf_counter()
        out = encode(pixels)
        if tracker.device.type == "cuda":
            torch.cuda.synchronize()
        spent["encode"] += time.perf_counter() - t0
        return out

    tracker.backend.encode = timed_encode  # type: ignore[method-assign,assignment]
    rows = []
    for size in sizes:
        n = warmup + frames
        session = tracker.open(_source(n, size, size))
        session.add_prompt(Points(((size * 0.4, size * 0.4),), (1,), frame=0, object_id=1))
        walls, cpus = [], []
        spent["encode"] = 0.0
        it = session.propagate(0)
        for i in range(n):
            if i == warmup:
                spent["encode"] = 0.0
            w0, c0 = time.perf_counter(), time.process_time()
            tf = next(it)
            if tracker.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
        feats = {k: tuple(v.shape) for k, v in (tf.objects[1].features or {}).items()}
        session.close()
        rows.append(
            {
                "frame_px": f"{size}x{size}",
                "model_input_px": tracker.image_size,
                "frames_timed": frames,
                "wall_ms_per_frame_median": 1000 * statistics.median(walls),
                "wall_ms_per_frame_mean": 1000 * statistics.fmean(walls),
                "cpu_ms_per_frame_mean": 1000 * statistics.fmean(cpus),
                "encoder_ms_per_frame_mean": 1000 * spent["encode"] / frames,
                "features": {str(k): v for k, v in feats.items()},
                "params": params,
                "device": str(tracker.device),
                "dtype": dtype,
                "torch_threads": torch.get_num_threads(),
            }
        )
        print(
            f"speed {size}x{size}: {rows[-1]['wall_ms_per_frame_median']:.0f} ms/frame wall (median), "
            f"{rows[-1]['cpu_ms_per_frame_mean']:.0f} ms CPU, encoder {rows[-1]['encoder_ms_per_frame_mean']:.0f} ms",
            flush=True,
        )
    return rows


# ----------------------------------------------------------------------------- memory
def memory_child(n: int, unbounded: bool) -> dict[str, Any]:
    """Track two objects over ``n`` procedural frames with the tiny config; report RSS."""
    import torch

    from sam2matting.trackers import hf_common
    from sam2matting.trackers.hf_sam2 import build, tiny_sam2_config
    from sam2matting.types import Box, Points

    if unbounded:
        # what keeping every frame's outputs (the transformers session default) costs
        def keep_everything(hf_session: Any, *args: Any) -> int:
            return sum(
                len(s["non_cond_frame_outputs"]) for s in hf_session.output_dict_per_obj.values()
            )

        hf_common.prune_outputs = keep_everything  # type: ignore[assignment]

    torch.set_num_threads(1)
    tracker = build("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu")
    session = tracker.open(_source(n, 96, 64))
    session.add_prompt(Box(20, 20, 40, 40, frame=0, object_id=1))
    session.add_prompt(Points(((60.0, 30.0),), (1,), frame=0, object_id=2))
    t0 = time.perf_counter()
    rss_at = {}
    checkpoints = {min(100, n - 1), n - 1}
    for tf in session.propagate(0):
        assert tf.objects[1].features is not None
        if tf.index in checkpoints:
            rss_at[tf.index] = _rss_kib()
    seconds = time.perf_counter() - t0
    stats = session.memory_stats()
    session.close()
    first, last = min(rss_at), max(rss_at)
    return {
        "frames": n,
        "unbounded": unbounded,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_mib_at_frame": {str(k): v / 1024 for k, v in sorted(rss_at.items())},
        "rss_growth_mib_after_frame_100": (rss_at[last] - rss_at[first]) / 1024,
        "session": stats,
        "seconds": seconds,
        "ms_per_frame": 1000 * seconds / n,
    }


def bench_memory(lengths: list[int], unbounded: bool) -> list[dict[str, Any]]:
    rows = []
    modes = [False, True] if unbounded else [False]
    for mode in modes:
        for n in lengths:
            cmd = [sys.executable, __file__, "_memory_child", str(n)] + (
                ["--unbounded"] if mode else []
            )
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"memory {'unbounded' if mode else 'bounded'} {n} frames: peak RSS {row['peak_rss_mib']:.1f} MiB, "
                f"growth after frame 100 {row['rss_growth_mib_after_frame_100']:+.1f} MiB, "
                f"{row['ms_per_frame']:.1f} ms/frame, kept outputs {row['session']}",
                flush=True,
            )
    return rows


# ----------------------------------------------------------------------------- report
def _markdown(result: dict[str, Any]) -> str:
    lines = ["## Foundation trackers (transformers backends)", ""]
    if result.get("speed"):
        lines += [
            "### Per-frame cost, SAM2.1 Hiera-T architecture (random weights, 1 object, points prompt)",
            "",
            "| frames | model input | wall ms/frame (median) | CPU ms/frame | image encoder ms/frame | device | threads |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        for r in result["speed"]:
            lines.append(
                f"| {r['frame_px']} | {r['model_input_px']}² | {r['wall_ms_per_frame_median']:.0f} | "
                f"{r['cpu_ms_per_frame_mean']:.0f} | {r['encoder_ms_per_frame_mean']:.0f} | {r['device']} ({r['dtype']}) | {r['torch_threads']} |"
            )
        lines.append("")
    if result.get("memory"):
        lines += [
            "### Memory over clip length (tiny config, 2 objects, features on, procedural frames)",
            "",
            "| mode | frames | peak RSS MiB | RSS growth after frame 100 MiB | recent-frame outputs kept | ms/frame |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in result["memory"]:
            lines.append(
                f"| {'unbounded (no pruning)' if r['unbounded'] else 'bounded'} | {r['frames']} | {r['peak_rss_mib']:.1f} | "
                f"{r['rss_growth_mib_after_frame_100']:+.1f} | {r['session']['non_cond_outputs']} | {r['ms_per_frame']:.1f} |"
            )
        bounded = [r for r in result["memory"] if not r["unbounded"]]
        if len(bounded) >= 2:
            short, long = bounded[0], bounded[-1]
            ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
            lines += [
                "",
                f"Peak RSS {long['frames']} vs {short['frames']} frames: ×{ratio:.3f} ({(ratio - 1) * 100:+.1f} %).",
            ]
        lines.append("")
    lines.append(
        "GPU: " + (result.get("gpu_note") or "not measured (no GPU on the machine that ran this).")
    )
    lines += [
        "",
        f"Run {result['when']} on {result['machine']}, load average {result.get('load_average_at_start', float('nan')):.1f} at start; versions: "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        + ".",
        "",
        f"Command: `{result['command']}`",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_memory_child":
        print(json.dumps(memory_child(int(argv[1]), "--unbounded" in argv)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["speed", "memory", "all"])
    ap.add_argument("--sizes", default="512,1024", help="frame sides in px for the speed run")
    ap.add_argument("--frames", type=int, default=5, help="timed frames per size")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lengths", default="300,3000", help="clip lengths for the memory run")
    ap.add_argument(
        "--compare-unbounded", action="store_true", help="also run with pruning disabled"
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": f"{platform.machine()} ({os.cpu_count()} CPUs, {platform.platform()})",
        # other jobs on a shared machine inflate wall times: record how busy it was
        "load_average_at_start": os.getloadavg()[0],
        "versions": _versions(),
        "command": "python benchmarks/bench_trackers.py " + " ".join(argv),
    }
    if args.device.startswith("cuda"):
        import torch

        result["gpu_note"] = f"measured on {torch.cuda.get_device_name(0)}"
    if args.what in ("speed", "all"):
        sizes = [int(s) for s in args.sizes.split(",")]
        result["speed"] = bench_speed(sizes, args.frames, args.warmup, args.device, args.dtype)
    if args.what in ("memory", "all"):
        lengths = [int(s) for s in args.lengths.split(",")]
        result["memory"] = bench_memory(lengths, args.compare_unbounded)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "trackers" if args.what == "all" else f"trackers_{args.what}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{stem}.md").write_text(_markdown(result))
    print(f"wrote {args.out / (stem + '.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
