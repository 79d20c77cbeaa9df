"""Batch matting on a local Dask cluster: 1 vs 2 workers, a killed worker, an interrupted batch.

    python benchmarks/bench_batch.py                       # 8 clips of 48 frames, 320×180
    python benchmarks/bench_batch.py --clips 8 --frames 48 --size 320x180 --head guided

Runs :func:`sam2matting.matte_batch` on generated sample clips (no downloads) with its own local
cluster each time:

1. ``scaling``: every clip with 1 worker process, then with 2 (alternating, ``--repeats``
   times each); wall time of the whole call
   (cluster start and shutdown included) and of the batch itself (``report.seconds``).
2. ``kill``: the same batch on 2 workers; the first worker to report 5 frames is killed with
   SIGKILL (by its pid). Its job must be re-run elsewhere and end ``done`` after 2 attempts.
3. ``resume``: the batch on 2 workers is interrupted (the CLI's Ctrl-C path) once 3 jobs have
   ended, then run again: the finished jobs are skipped, the rest complete.

Writes ``benchmarks/results/batch.{json,md}`` (settings, machine and versions embedded) and
each run's batch report next to them (``batch_*_report.{json,md}``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import platform
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(__file__).resolve().parent / "_work" / "batch"


def _clips(n: int, frames: int, width: int, height: int) -> list[dict[str, Any]]:
    from sam2matting.samples import make_sample_clip, write_sample_video

    folder = WORK / f"clips_{width}x{height}_{frames}"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i in range(n):
        clip = make_sample_clip(width, height, frames, seed=i)
        path = folder / f"shot{i:02d}.mp4"
        if not path.is_file():
            write_sample_video(clip, path, audio=False)
        box = ",".join(f"{v:.0f}" for v in clip.box(0))
        jobs.append({"input": str(path), "box": box})
    return jobs


def _run(
    name: str, jobs: list[dict[str, Any]], workers: int, head: str | None, **kwargs: Any
) -> tuple[Any, float]:
    from sam2matting import matte_batch

    out = WORK / name
    options = {"head": head} if head else {}
    t0 = time.perf_counter()
    report = matte_batch(
        jobs,
        output=out,
        workers=workers,
        report=RESULTS / f"batch_{name}_report",
        progress=True,
        **options,
        **kwargs,
    )
    return report, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--head", default=None, help="matting head (default: the library's)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per worker count")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    import distributed

    import sam2matting
    from sam2matting.cancel import request_cancel

    shutil.rmtree(WORK / "scaling1", ignore_errors=True)
    jobs = _clips(args.clips, args.frames, width, height)
    results: dict[str, Any] = {
        "settings": {
            "clips": args.clips,
            "frames": args.frames,
            "repeats": args.repeats,
            "size": args.size,
            "head": args.head or "default",
            "tracker": "builtin",
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_before": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "sam2matting": sam2matting.__version__,
            "distributed": distributed.__version__,
        },
    }
    # alternate 1, 2, 1, 2 workers: the machine's other load drifts between runs
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        for workers in (1, 2):
            name = f"scaling{workers}"
            shutil.rmtree(WORK / name, ignore_errors=True)
            report, wall = _run(name, jobs, workers, args.head)
            assert report.ok, report.to_markdown()
            run = {
                "wall_seconds": round(wall, 2),
                "batch_seconds": round(report.seconds, 2),
                "fps": round(report.frames / report.seconds, 2),
                "load_average": round(os.getloadavg()[0], 1),
            }
            runs[workers].append(run)
            print(f"{workers} worker(s), run {repeat + 1}: {run}", file=sys.stderr)
    scaling = {
        w: {
            "runs": r,
            "wall_seconds": round(statistics.mean(x["wall_seconds"] for x in r), 2),
            "batch_seconds": round(statistics.mean(x["batch_seconds"] for x in r), 2),
            "fps": round(statistics.mean(x["fps"] for x in r), 2),
        }
        for w, r in runs.items()
    }
    results["scaling"] = {
        **{f"{k}_workers": v for k, v in scaling.items()},
        "speedup_wall": round(scaling[1]["wall_seconds"] / scaling[2]["wall_seconds"], 2),
        "speedup_batch": round(scaling[1]["batch_seconds"] / scaling[2]["batch_seconds"], 2),
    }

    # a worker killed mid-job
    killed: list[int] = []

    def kill_one(event: dict[str, Any]) -> None:
        if event["kind"] == "frames" and event["frames"] >= 5 and not killed:
            killed.append(event["pid"])
            print(f"killing worker pid {event['pid']} running {event['name']}", file=sys.stderr)
            os.kill(event["pid"], signal.SIGKILL)

    shutil.rmtree(WORK / "kill", ignore_errors=True)
    report, wall = _run("kill", jobs, 2, args.head, on_event=kill_one)
    results["kill"] = {"killed_pid": killed[0] if killed else None, **report.to_dict()["summary"]}
    results["kill"]["retried"] = [
        {"job": j.name, "attempts": j.attempts, "status": j.status, "workers": j.workers}
        for j in report.jobs
        if j.attempts > 1
    ]

    # interrupted, then resumed
    ended: list[str] = []

    def interrupt(event: dict[str, Any]) -> None:
        if event["kind"] == "end":
            ended.append(event["name"])
            if len(ended) == 3:
                print("interrupting (as Ctrl-C does)", file=sys.stderr)
                request_cancel("interrupted")

    shutil.rmtree(WORK / "resume", ignore_errors=True)
    try:
        _run("resume", jobs, 2, args.head, on_event=interrupt)
        raise SystemExit("the batch finished before it was interrupted")
    except KeyboardInterrupt:
        pass
    first = json.loads((RESULTS / "batch_resume_report.json").read_text())
    shutil.copy(RESULTS / "batch_resume_report.json", RESULTS / "batch_interrupted_report.json")
    shutil.copy(RESULTS / "batch_resume_report.md", RESULTS / "batch_interrupted_report.md")
    report, wall = _run("resume", jobs, 2, args.head)
    results["resume"] = {
        "interrupted": first["summary"],
        "rerun": report.to_dict()["summary"],
        "rerun_status": {j.name: j.status for j in report.jobs},
    }
    results["machine"]["load_average_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(results, indent=2) + "\n")
    s1, s2 = scaling[1], scaling[2]
    lines = [
        "# Batch matting on a local Dask cluster",
        "",
        f"{args.clips} clips × {args.frames} frames, {args.size}, builtin tracker, head "
        f"{args.head or 'default'}; {os.cpu_count()} cores shared with other jobs (load average "
        f"{results['machine']['load_average_before'][0]:.1f} before, "
        f"{results['machine']['load_average_after'][0]:.1f} after).",
        "",
        f"Mean of {args.repeats} runs per worker count, alternating 1, 2, 1, 2:",
        "",
        "| workers | wall s (incl. cluster start) | batch s | frames/s |",
        "|---:|---:|---:|---:|",
        f"| 1 | {s1['wall_seconds']} | {s1['batch_seconds']} | {s1['fps']} |",
        f"| 2 | {s2['wall_seconds']} | {s2['batch_seconds']} | {s2['fps']} |",
        "",
        f"Speed-up 1 → 2 workers: {results['scaling']['speedup_wall']}× wall, "
        f"{results['scaling']['speedup_batch']}× batch. Local workers split the cores' threads "
        f"(1 worker: {os.cpu_count()} threads; 2 workers: {max(1, (os.cpu_count() or 1) // 2)} "
        "each). On a machine whose cores are shared with other busy processes, the batch's CPU "
        "share follows its number of busy threads, which is the same for both, so this ratio "
        "says little about scaling on an idle multi-core machine.",
        "",
        f"Killed worker: pid {results['kill']['killed_pid']}; retried jobs: "
        f"{results['kill']['retried']}; {results['kill']['done']} done, "
        f"{results['kill']['failed']} failed (`batch_kill_report.md`).",
        "",
        f"Interrupted after 3 jobs: {first['summary']['done']} done, "
        f"{first['summary']['cancelled']} cancelled (`batch_interrupted_report.md`); re-run: "
        f"{results['resume']['rerun']['skipped']} skipped, {results['resume']['rerun']['done']} "
        f"done, {results['resume']['rerun']['failed']} failed (`batch_resume_report.md`).",
    ]
    (RESULTS / "batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
