"""CPU end to end against Robust Video Matting's ONNX model, paired and interleaved (issue 11).

    python benchmarks/bench_cpu_rvm.py                       # 512×288 (120 frames), 1280×720 (60)
    python benchmarks/bench_cpu_rvm.py --base /tmp/base/src  # also an older checkout ("today")

Each run is a separate process (whole process: imports, model load, decode, matte, PNG
encode) on the same H.264 clip of the sample subject, writing 8-bit alpha PNGs:

- ``ours``: ``matte_video`` with the defaults (built-in tracker, default learned head,
  pipelined engine),
- ``ours-1thread``: the same with ``pipeline=False``,
- ``base``: ``matte_video`` from the ``--base`` source tree (e.g. the commit before a change),
- ``rvm``: RVM MobileNetV3 through onnxruntime (``sam2matting.eval.baselines``; the input
  scale the evaluation uses), frames from the same reader, PNGs from the same writer.

The machine is shared, so runs are interleaved in rotating order and repeated; the table gives
the median wall and CPU seconds (user + system of the process) and the ratios to RVM's medians.
Results: stdout and ``benchmarks/results/cpu_vs_rvm.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def child(method: str, video: str, width: int, height: int) -> int:
    t0 = time.perf_counter()
    from sam2matting.samples import make_sample_clip

    with tempfile.TemporaryDirectory() as tmp:
        if method == "rvm":
            from sam2matting.eval.baselines import RobustVideoMatting
            from sam2matting.io.readers import open_source
            from sam2matting.io.writers import open_writer

            rvm = RobustVideoMatting()
            src = open_source(video)
            with src, open_writer("alpha-png", Path(tmp) / "a.alpha-png", src.info) as wr:
                for _, frame in src.iter_frames():
                    wr.write(frame, rvm(frame))
            n = wr.frames_written
        else:
            from sam2matting import Box, matte_video

            box = Box(*make_sample_clip(width, height, 60).box(0))
            # (no pipeline argument by default, so an older checkout runs too)
            extra = {"pipeline": False} if method == "ours-1thread" else {}
            res = matte_video(video, [box], tmp, progress=False, **extra)
            n = res.num_frames
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "frames": n,
                "inner_wall_s": wall,
                "peak_rss_mib": ru.ru_maxrss / 1024,
            }
        )
    )
    return 0


def spawn(method: str, video: Path, width: int, height: int, src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_WAIT_POLICY="PASSIVE", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, __file__, "--child", method, "--video", str(video)]
    cmd += ["--width", str(width), "--height", str(height)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["wall_s"] = wall
    r["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--video")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=288)
    p.add_argument("--sizes", default="512x288x120,1280x720x60", help="WxHxFRAMES,...")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--base", default=None, help="src folder of an older checkout to compare")
    p.add_argument("--methods", default="ours,ours-1thread,rvm")
    args = p.parse_args()
    if args.child:
        return child(args.child, args.video, args.width, args.height)

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(SRC))
    from bench_pipeline import make_video

    from sam2matting import __version__

    methods = args.methods.split(",") + (["base"] if args.base else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cpu-rvm-") as tmp:
        for spec in args.sizes.split(","):
            w, h, n = (int(v) for v in spec.lower().split("x"))
            video = make_video(Path(tmp) / f"clip_{w}x{h}.mp4", w, h, n)
            runs: dict[str, list[dict]] = {m: [] for m in methods}
            for rep in range(args.repeats):
                order = methods[rep % len(methods) :] + methods[: rep % len(methods)]
                for m in order:
                    src = Path(args.base) if m == "base" else SRC
                    r = spawn("ours" if m == "base" else m, video, w, h, src)
                    runs[m].append(r)
                    print(
                        f"{w}x{h} {m}: wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s", flush=True
                    )
            rvm_wall = (
                statistics.median(r["wall_s"] for r in runs["rvm"]) if "rvm" in runs else None
            )
            rvm_cpu = statistics.median(r["cpu_s"] for r in runs["rvm"]) if "rvm" in runs else None
            for m in methods:
                wall = statistics.median(r["wall_s"] for r in runs[m])
                cpu = statistics.median(r["cpu_s"] for r in runs[m])
                rows.append(
                    {
                        "size": f"{w}x{h}",
                        "frames": n,
                        "method": m,
                        "wall_s": round(wall, 2),
                        "cpu_s": round(cpu, 2),
                        "fps": round(n / wall, 2),
                        "wall_vs_rvm": round(wall / rvm_wall, 3) if rvm_wall else None,
                        "cpu_vs_rvm": round(cpu / rvm_cpu, 3) if rvm_cpu else None,
                        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs[m]), 1),
                        "walls": [round(r["wall_s"], 2) for r in runs[m]],
                    }
                )
    cols = ["size", "frames", "method", "wall_s", "cpu_s", "fps", "wall_vs_rvm", "cpu_vs_rvm"]
    cols += ["peak_rss_mib", "walls"]
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    text = "\n".join(md)
    print(text)
    env = {
        "sam2matting": __version__,
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "base": args.base,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cpu_vs_rvm.json").write_text(
        json.dumps({"env": env, "rows": rows}, indent=1)
    )
    (HERE / "results" / "cpu_vs_rvm.md").write_text(
        "# CPU end to end vs RVM (ONNX), paired interleaved runs, medians\n\n"
        f"```\n{json.dumps(env)}\n```\n\n{text}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
