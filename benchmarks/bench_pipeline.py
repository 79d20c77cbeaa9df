"""Pipeline speed per stage and memory vs clip length (issue 2's benchmark).

    python benchmarks/bench_pipeline.py                 # speed at 512×288 and 1280×720, RSS 300 vs 3000 frames
    python benchmarks/bench_pipeline.py --skip-memory   # speed only

Speed: a generated clip (known subject, box prompt), encoded to H.264, matted end to end with
the built-in tracker and the default head, writing alpha PNGs + an H.264 composite (a lossless
and a lossy output). Per-stage frames/s: decode, track, matte, foreground (colour estimation for
the composite), encode. Memory: peak RSS of separate processes matting 300 and 3,000 frames of
the same clip; bounded streaming means the two agree within 10 %.
Results go to stdout and benchmarks/results/pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_video(path: Path, width: int, height: int, frames: int, period: int = 60) -> Path:
    """Encode ``frames`` frames of the sample clip, cycling its ``period`` rendered frames."""
    from fractions import Fraction

    import av

    from sam2matting.samples import make_sample_clip

    clip = make_sample_clip(width, height, period)
    rendered = [clip.frame(t)[0] for t in range(period)]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(24))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "16", "preset": "veryfast"}
        for i in range(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(rendered[i % period], format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def run_once(
    video: Path, width: int, height: int, out: Path, formats: list[str], head: str | None = None
) -> dict:
    from sam2matting import Box, matte_video
    from sam2matting.samples import make_sample_clip

    box = Box(*make_sample_clip(width, height, 60).box(0))
    t0 = time.perf_counter()
    res = matte_video(video, [box], out, formats=formats, head=head, progress=False)
    wall = time.perf_counter() - t0
    return {
        "frames": res.num_frames,
        "wall_s": wall,
        "fps_end_to_end": res.num_frames / wall,
        "stage_fps": {k: round(v, 1) for k, v in res.times.fps().items()},
        "stage_ms": {k: round(1e3 * v / res.num_frames, 2) for k, v in res.times.seconds.items()},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        r = run_once(
            Path(args.video),
            args.width,
            args.height,
            Path(tmp),
            args.formats.split(","),
            args.heads or None,
        )
    print(json.dumps(r))
    return 0


def spawn(
    video: Path, width: int, height: int, formats: list[str], head: str | None = None
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--video",
        str(video),
        "--width",
        str(width),
        "--height",
        str(height),
        "--formats",
        ",".join(formats),
        *(["--heads", head] if head else []),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--video")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=288)
    p.add_argument("--formats", default="alpha-png,composite")
    p.add_argument("--frames", type=int, default=120, help="frames per speed run (default 120)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--long", type=int, default=3000, help="frames of the long memory run")
    p.add_argument(
        "--heads",
        default=None,
        help="comma-separated matting heads timed side by side (default: the default head and "
        "guided); the memory runs use the first",
    )
    args = p.parse_args()
    if args.child:
        return child(args)

    from sam2matting import __version__
    from sam2matting.matting.registry import DEFAULT_HEAD

    formats = args.formats.split(",")
    heads = args.heads.split(",") if args.heads else [DEFAULT_HEAD, "guided"]
    heads = list(dict.fromkeys(heads))
    lines = [
        "# Pipeline benchmark",
        "",
        f"sam2matting {__version__}, tracker builtin, heads {', '.join(heads)} (default {DEFAULT_HEAD}), outputs {', '.join(formats)}; "
        f"{platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}",
        "",
        "| size | head | frames | end-to-end fps | decode fps | track fps | matte fps | foreground fps | encode fps | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in [(512, 288), (1280, 720)]:
            video = make_video(Path(tmp) / f"clip_{w}.mp4", w, h, args.frames)
            for head in heads:
                r = spawn(video, w, h, formats, head)
                results[f"{w}x{h}" + ("" if head == heads[0] else f" {head}")] = r | {"head": head}
                f = r["stage_fps"]
                lines.append(
                    f"| {w}×{h} | {head} | {r['frames']} | {r['fps_end_to_end']:.1f} | {f.get('decode', 0):.0f} | {f.get('track', 0):.0f} | "
                    f"{f.get('matte', 0):.0f} | {f.get('foreground', 0):.0f} | {f.get('encode', 0):.0f} | {r['peak_rss_mib']:.0f} |"
                )
                print(lines[-1], flush=True)
        if not args.skip_memory:
            lines += [
                "",
                f"| clip length (512×288, head {heads[0]}) | peak RSS MiB | wall s |",
                "|---:|---:|---:|",
            ]
            rss = {}
            for n in (300, args.long):
                video = make_video(Path(tmp) / f"mem_{n}.mp4", 512, 288, n)
                r = spawn(video, 512, 288, ["alpha-png"], heads[0])
                rss[n] = r["peak_rss_mib"]
                lines.append(f"| {n} | {r['peak_rss_mib']:.0f} | {r['wall_s']:.0f} |")
                print(lines[-1], flush=True)
            ratio = rss[args.long] / rss[300]
            lines += ["", f"RSS ratio {args.long} / 300 frames: {ratio:.3f} (target ≤ 1.10)"]
            print(lines[-1])
            results["rss_ratio"] = ratio
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "pipeline.md").write_text("\n".join(lines) + "\n")
    (HERE / "results" / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
