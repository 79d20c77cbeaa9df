"""``sam2matting batch``: matte many clips from a job file or a glob on a Dask cluster.

A thin client of :func:`sam2matting.batch.matte_batch`; importing this module imports no Dask.
Exit status: 0 when every job is done or already complete, 1 when any job failed, 2 for a
usage or job-file error (nothing ran), 130 / 143 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

_EXAMPLES = """examples:
  sam2matting batch jobs.yaml -o out --head guided
  sam2matting batch --glob 'shots/*.mov' --mask-dir masks/ -o out -f prores
  sam2matting batch jobs.csv -o out --scheduler tcp://10.0.0.5:8786

job file (YAML; JSON and CSV take the same keys; paths are relative to the file):
  jobs:
    - input: shots/a.mov
      mask: masks/a.png                    # or point / box / text, frame / object
    - input: shots/b.mov
      prompts: --frame 10 --box 40,20,300,260 --object 2 --point 120,80
      head: guided                         # any of: tracker, head, formats, device, dtype,
      formats: [prores, alpha-png]         #   combined, background, alpha_bits, lossless,
      frames: "100:250"                    #   backward, masks_dir, exr_colour, exr_compression,
      output: out/b-v2                     #   contact_sheet, frames, output, name, stem
"""


def add_parser(sub: Any) -> None:
    from .cli import FORMAT_HELP

    p = sub.add_parser(
        "batch",
        help="matte many clips at once (job file or glob) on a local or Dask cluster",
        description=(
            "Matte every job of JOBS (a .yaml, .json or .csv file) or every clip matching --glob, "
            "several at once on a local Dask cluster (one worker per GPU, or worker processes "
            "sized to the CPU cores) or on an existing one (--scheduler). Jobs whose outputs are "
            "complete are skipped, so an interrupted batch resumes; a failing job never stops "
            "the others. Writes a report (JSON + Markdown). Needs: pip install "
            "'sam2matting[batch]'."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("jobs", nargs="?", help="job file: .yaml/.yml, .json or .csv")
    p.add_argument(
        "-o",
        "--output",
        help="base output folder: jobs without their own 'output' write to OUTPUT/<name>",
    )
    g = p.add_argument_group("jobs from a glob")
    g.add_argument(
        "--glob", metavar="PATTERN", help="one job per matching clip, e.g. 'shots/*.mov'"
    )
    g.add_argument(
        "--mask-dir", metavar="DIR", help="first-frame mask of each clip: DIR/<clip stem>.png"
    )
    g.add_argument(
        "--text", metavar="PHRASE", help="a phrase for every clip (needs a text tracker)"
    )
    g.add_argument(
        "--prompts",
        metavar="PROMPTS",
        help="prompts for every clip in the matte command's syntax, e.g. '--box 10,10,200,300'",
    )
    d = p.add_argument_group("defaults for jobs that do not set them")
    d.add_argument(
        "-f", "--format", dest="formats", action="append", metavar="FMT", help=FORMAT_HELP
    )
    d.add_argument("--tracker", help="tracker name or local model path (default builtin)")
    d.add_argument("--head", help="matting head (default sam2matting; guided is ~15x faster)")
    d.add_argument("--device", help="cpu, cuda, cuda:N, mps or auto")
    d.add_argument("--dtype", help="compute precision: auto (default), fp32, bf16 or fp16")
    d.add_argument("--combined", action="store_true", default=None, help="also merge all objects")
    d.add_argument("--background", metavar="COLOUR|FILE", help="for 'composite'")
    d.add_argument("--alpha-bits", type=int, choices=(8, 16), help="PNG alpha bit depth")
    d.add_argument("--lossless", action="store_true", default=None, help="lossless video alpha")
    d.add_argument(
        "--no-backward",
        dest="backward",
        action="store_false",
        default=None,
        help="do not track backward from prompts on later frames",
    )
    d.add_argument("--masks-dir", help="for --tracker oracle: ground-truth masks, one per frame")
    d.add_argument("--exr-colour", help="EXR colour: linear (default) or display")
    d.add_argument(
        "--exr-compression",
        help="EXR compression: zip (default), zips, piz, rle, none, pxr24, dwaa, dwab or b44",
    )
    d.add_argument(
        "--contact-sheet",
        action="store_true",
        default=None,
        help="also write <stem>.contact.png per job",
    )
    d.add_argument(
        "--frames",
        metavar="START:END",
        help="only input frames START..END-1 of every clip (END exclusive; either may be empty)",
    )
    e = p.add_argument_group("engine")
    e.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    e.add_argument(
        "--workers", type=int, help="local worker processes (default: one per GPU, else per core)"
    )
    e.add_argument(
        "--retries",
        type=int,
        default=2,
        help="re-runs of a job whose worker died or that crashed (default 2)",
    )
    e.add_argument(
        "--rerun", action="store_true", help="run every job, even those whose outputs are complete"
    )
    e.add_argument(
        "--report",
        metavar="PREFIX",
        help="write PREFIX.json and PREFIX.md (default OUTPUT/batch-report, or next to JOBS)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or per-job lines")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    from .batch_jobs import JobFileError, jobs_from_glob, load_jobs
    from .errors import Sam2MattingError

    defaults = {
        k: v
        for k, v in {
            "formats": args.formats,
            "tracker": args.tracker,
            "head": args.head,
            "device": args.device,
            "dtype": args.dtype,
            "combined": args.combined,
            "background": args.background,
            "alpha_bits": args.alpha_bits,
            "lossless": args.lossless,
            "backward": args.backward,
            "masks_dir": args.masks_dir,
            "exr_colour": args.exr_colour,
            "exr_compression": args.exr_compression,
            "contact_sheet": args.contact_sheet,
            "frames": args.frames,
        }.items()
        if v is not None
    }
    if (args.jobs is None) == (args.glob is None):
        raise Sam2MattingError("give a job file or --glob PATTERN (one of them)")
    if args.glob is None and (args.mask_dir or args.text or args.prompts):
        raise Sam2MattingError("--mask-dir, --text and --prompts go with --glob")
    if args.glob is not None and args.output is None:
        raise Sam2MattingError("--glob needs an output folder: -o OUT")
    try:
        if args.glob is not None:
            jobs = jobs_from_glob(
                args.glob,
                mask_dir=args.mask_dir,
                text=args.text,
                prompts=args.prompts,
                defaults=defaults,
                output=args.output,
            )
        else:
            jobs = load_jobs(args.jobs, defaults=defaults, output=args.output)
    except JobFileError as exc:
        for line in exc.errors:
            print(f"sam2matting: error: {line}", file=sys.stderr)
        return exc.exit_code
    if args.report is not None:
        prefix = Path(args.report)
    elif args.output is not None:
        prefix = Path(args.output) / "batch-report"
    else:
        jobs_file = Path(args.jobs)
        prefix = jobs_file.with_name(f"{jobs_file.stem}.report")

    from .batch import matte_batch

    report = matte_batch(
        jobs,
        scheduler=args.scheduler,
        workers=args.workers,
        retries=args.retries,
        skip_complete=not args.rerun,
        report=prefix,
        progress=not args.quiet,
    )
    s = report.to_dict()["summary"]
    print(
        f"{s['jobs']} jobs: {s['done']} done, {s['skipped']} skipped, {s['failed']} failed; "
        f"{s['frames']} frames in {s['seconds']:.1f} s ({s['fps']:.1f} frames/s) on "
        f"{s['workers']} workers; report {prefix}.json, {prefix}.md"
    )
    return 0 if report.ok else 1
