"""The built-in tracker on *windows* of the DAVIS tuning sequences, several configurations side
by side: the figure issue 14's fifth-session defaults (``motion_strength``, ``box_motion_*``)
were chosen on.

- *mask windows*: 24-frame runs from the true mask started every 8 frames, J&F averaged over
  their frames (start frames excluded) — one run through a sequence is chaotic (a change that
  moves an early frame by a few pixels decides whether a later occlusion is survived), many
  starting states are not (see ``bench_builtin_memory.py``);
- *box windows* / *click windows*: the same runs started from the true mask's bounding box
  or one click at its most interior point: the first-frame J (20 first masks over the four
  tuning sequences instead of 4) and J&F over the window.

    python benchmarks/bench_builtin_windows.py                               # the defaults
    python benchmarks/bench_builtin_windows.py --config motion_strength=1 --config ""
    python benchmarks/bench_builtin_windows.py --config init_motion_frames=0 --config "" --kinds box,click
    python benchmarks/bench_builtin_windows.py --strides 1,2,3          # also 2× / 3× as fast

Each ``--config`` is a comma-separated list of tracker options NAME=VALUE ("" = the defaults).
Held-out DAVIS sequences are never run here: settings are chosen on the tuning split only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_builtin import (  # noqa: E402
    TUNE,
    _box_of,
    davis_data_root,
    interior_point,
    run_footer,
    run_header,
    write_results,
)

WINDOW, STEP = 24, 8


#: window length (frames) when every 2nd or 3rd frame is kept: a sequence of 40–50 frames
#: then has 13–25 per phase, too few for 24-frame windows
FAST_WINDOW = 16


def window_starts(frames: int, stride: int, step: int = STEP) -> list[list[int]]:
    """The frame indices of every window: ``WINDOW``-frame runs started every ``step``
    frames (stride 1), or with every ``stride``-th frame kept (motion ``stride`` × as fast),
    ``FAST_WINDOW``-frame runs started every ``step`` kept frames in each of the ``stride``
    phases (frames 0, s, 2s, … then 1, 1 + s, …)."""
    length = WINDOW if stride == 1 else FAST_WINDOW
    out = []
    for phase in range(stride):
        kept = list(range(phase, frames, stride))
        out += [kept[s : s + length] for s in range(0, len(kept) - length + 1, step)]
    return out


def run_prompt_windows(
    data: Path, options: dict[str, Any], kind: str = "box", stride: int = 1, step: int = STEP
) -> dict[str, dict[str, float]]:
    """Per tuning sequence: mean first-frame J and mean J&F over the windows of
    :func:`window_starts` (start frames excluded) started from the true mask's bounding box
    (``kind`` "box"), one click at its most interior point ("click") or the true mask
    ("mask", first J 1 by construction)."""
    from sam2matting.eval.datasets import read_davis
    from sam2matting.eval.metrics import boundary_f, jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import Box, MaskPrompt, Points

    out: dict[str, dict[str, float]] = {}
    for clip in read_davis(data / "davis", list(TUNE)):
        with clip.source() as src:
            frames = [im for _, im in src.iter_frames(0, None)]
        truth = [clip.read_ground_truth(i)[1][1] for i in range(len(frames))]
        first, values = [], []
        for kept in window_starts(len(frames), stride, step):
            session = build(**options).open(ArraySource([frames[i] for i in kept]))
            start = truth[kept[0]]
            if kind == "box":
                prompt: Box | Points | MaskPrompt = Box(*_box_of(start), frame=0, object_id=1)
            elif kind == "click":
                prompt = Points((interior_point(start),), (1,), frame=0, object_id=1)
            else:
                prompt = MaskPrompt(start, frame=0, object_id=1)
            session.add_prompt(prompt)
            for tf in session.propagate(0):
                gt = truth[kept[tf.index]]
                pred = tf.objects[1].mask(*gt.shape)
                if tf.index == 0:
                    first.append(jaccard(pred, gt))
                else:
                    values.append((jaccard(pred, gt) + boundary_f(pred, gt)) / 2)
            session.close()
        if not first:  # too short for one window at this stride
            continue
        out[clip.name] = {"first_j": float(np.mean(first)), "jf": float(np.mean(values))}
        print(
            f"  {kind} windows {clip.name:12s} (every {stride}) first J "
            f"{out[clip.name]['first_j']:.3f} J&F {out[clip.name]['jf']:.3f}",
            flush=True,
        )
    return out


def parse_config(text: str) -> dict[str, Any]:
    from sam2matting.cli import parse_key_values

    items = [part for part in text.split(",") if part.strip()]
    return parse_key_values(items, "--config")


#: the table's column groups: (title, row key, value key or None for a plain figure)
GROUPS = (
    ("mask windows J&F", "mask", None),
    ("box first J", "box", "first_j"),
    ("box windows J&F", "box", "jf"),
    ("click first J", "click", "first_j"),
    ("click windows J&F", "click", "jf"),
)


def markdown(result: dict[str, Any]) -> str:
    seqs = list(TUNE)
    step = result.get("step", STEP)
    header = ["configuration"]
    for title, _, _ in GROUPS:
        header += [f"{s} {title}" for s in seqs] + ["**mean**"]
    lines = [
        "## Built-in tracker on windows of the DAVIS tuning sequences",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for label, row in result["rows"].items():
        config = row.get("config", label)
        cells = [f"`{config}`" if config else "defaults"]
        if row.get("stride", 1) > 1:
            cells[0] += f", every {row['stride']}th frame".replace("2th", "2nd").replace(
                "3th", "3rd"
            )
        for _, kind, key in GROUPS:
            found = row.get(kind)
            if not found:
                cells += ["–"] * (len(seqs) + 1)
                continue
            values = [
                (found[s] if key is None else found[s][key]) if s in found else None for s in seqs
            ]
            present = [v for v in values if v is not None]
            cells += ["–" if v is None else f"{v:.3f}" for v in values]
            cells += [f"**{np.mean(present):.3f}**"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Windows: {WINDOW}-frame runs started every {step} frames, from the true mask (mask), "
        "its bounding box (box) or one click at its most interior point (click); J&F averaged "
        "over the windows' frames, start frames excluded; first J averaged over the windows' "
        "first frames. With every 2nd / 3rd frame kept (motion 2× / 3× as fast): "
        f"{FAST_WINDOW}-frame runs every {step} kept frames, in every phase; a sequence too "
        "short for one is '–' and left out of the mean. Tuning sequences only.",
        "",
        *run_footer(result),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="shared data folder (default: ../shared/data)")
    ap.add_argument(
        "--config",
        action="append",
        help='tracker options NAME=VALUE,NAME=VALUE ("" = defaults); repeat to compare',
    )
    ap.add_argument(
        "--kinds",
        default="mask,box,click",
        help="comma-separated window kinds: mask, box, click (default: all three)",
    )
    ap.add_argument(
        "--strides",
        default="1",
        help="comma-separated: keep every Nth frame (1 = as filmed; 2, 3: motion 2× / 3× as "
        "fast, the unseen-fast-footage check); one row per configuration and stride",
    )
    ap.add_argument(
        "--step",
        type=int,
        default=STEP,
        help=f"start a window every N (kept) frames (default {STEP}; 4 doubles the windows and "
        "halves the noise of a sequence with few of them, at twice the time)",
    )
    ap.add_argument("--out", type=Path, help="write <out>.json/.md")
    args = ap.parse_args(argv)
    if args.step < 1:
        print(f"error: --step must be a positive integer, got {args.step}")
        return 2
    try:
        strides = [int(x) for x in args.strides.split(",")]
    except ValueError:
        strides = []
    if not strides or min(strides) < 1:
        print(f"error: --strides must be positive integers, got {args.strides!r}")
        return 2
    data = davis_data_root(args.data)
    if data is None:
        return 0
    configs = args.config or [""]
    parsed = [(label, parse_config(label)) for label in configs]
    result = run_header("bench_builtin_windows.py", argv)
    result["rows"] = {}
    result["step"] = args.step
    kinds = args.kinds.split(",")
    unknown = [k for k in kinds if k not in ("mask", "box", "click")]
    if unknown:
        print(f"error: unknown window kind {unknown[0]!r} (mask, box, click)")
        return 2
    for label, options in parsed:
        for stride in strides:
            print(f"configuration: {label or 'defaults'}, every {stride} frame(s)", flush=True)
            row: dict[str, Any] = {"options": options, "config": label, "stride": stride}
            for kind in kinds:
                if kind == "mask":
                    found = run_prompt_windows(data, options, "mask", stride, args.step)
                    row["mask"] = {name: v["jf"] for name, v in found.items()}
                else:
                    row[kind] = run_prompt_windows(data, options, kind, stride, args.step)
            result["rows"][label if stride == 1 else f"{label}@{stride}"] = row
    md = markdown(result)
    print(md)
    out = args.out or HERE / "results" / "builtin_tracker_windows"
    write_results(out, result, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
