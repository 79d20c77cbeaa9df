"""Where the built-in tracker's error lies on an object with thin parts: the error split by
*part* of the true mask, on the DAVIS tuning sequences only (kite-surf by default).

    python benchmarks/bench_thin_parts.py                                  # kite-surf, defaults
    python benchmarks/bench_thin_parts.py --opt thin_faint_lines=false --out /tmp/parts

Parts, per frame, of the true mask: its opening by a 9-px disc (frame resolution) is the body,
the largest component of it the main body (kite-surf: the rider), the other components
``other`` (the board); the rest is thin: ``near body`` within 60 px of the main body (kite-surf:
the control bar, its sleeves and loops, hands, the harness line) and ``lines`` beyond (the kite
lines). Every error pixel (FP and FN) is charged to the part nearest to it. ``floor``: the true
masks resampled to the working resolution and back (area resampling, as a mask prompt is read;
the best a 512-px tracker that stores area coverage can do). Scores as bench_builtin (frames
1 … n−2). Held-out DAVIS sequences are refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_builtin import (  # noqa: E402
    TUNE,
    davis_data_root,
    run_footer,
    run_header,
    write_results,
)

PARTS = ("main body", "other", "near body", "lines")
#: opening (px, frame resolution) that separates the thin parts, and the reach of "near body"
OPENING, NEAR_BODY = 9, 60


def split_parts(truth: np.ndarray) -> dict[str, np.ndarray]:
    """The parts of a true mask (see the module docstring), as disjoint bool masks."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPENING, OPENING))
    body = cv2.morphologyEx(truth.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    thin = truth & ~body
    n, labels, stats, _ = cv2.connectedComponentsWithStats(body.astype(np.uint8))
    main = labels == (1 + int(np.argmax(stats[1:, 4]))) if n > 1 else np.zeros_like(truth)
    to_main = cv2.distanceTransform((~main).astype(np.uint8), cv2.DIST_L2, 3)
    near = thin & (to_main < NEAR_BODY)
    return {"main body": main, "other": body & ~main, "near body": near, "lines": thin & ~near}


def charge(
    pred: np.ndarray, truth: np.ndarray, parts: dict[str, np.ndarray]
) -> dict[str, tuple[int, int, int]]:
    """(area, FP, FN) pixels per part, each error pixel charged to the nearest part."""
    names = [k for k in PARTS if parts[k].any()]
    dist = np.stack(
        [cv2.distanceTransform((~parts[k]).astype(np.uint8), cv2.DIST_L2, 3) for k in names]
    )
    nearest = np.argmin(dist, axis=0)
    fp, fn = pred & ~truth, truth & ~pred
    return {
        k: (
            int(parts[k].sum()),
            int((fp & (nearest == i)).sum()),
            int((fn & (nearest == i)).sum()),
        )
        for i, k in enumerate(names)
    }


def run(data: Path, seq: str, options: dict[str, Any], floor: bool) -> dict[str, Any]:
    from sam2matting.eval.datasets import read_davis
    from sam2matting.eval.metrics import boundary_f, jaccard
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import BuiltinTrackerConfig, build, working_size
    from sam2matting.types import MaskPrompt, ObjectTrack

    clip = next(iter(read_davis(data / "davis", [seq])))
    with clip.source() as src:
        frames = [im for _, im in src.iter_frames(0, None)]
    truths = [clip.read_ground_truth(i)[1][1] for i in range(len(frames))]
    preds: list[np.ndarray] = []
    if floor:
        max_side = BuiltinTrackerConfig(**options).max_side
        for t in truths:
            h, w = t.shape
            size = working_size(w, h, max_side)
            p = cv2.resize(t.astype(np.float32), size, interpolation=cv2.INTER_AREA)
            p = np.clip(p, 1e-4, 1 - 1e-4)
            preds.append(ObjectTrack(np.log(p / (1 - p)).astype(np.float32)).mask(h, w))
    else:
        session = build(**options).open(ArraySource(frames))
        session.add_prompt(MaskPrompt(truths[0], frame=0, object_id=1))
        preds = [np.zeros_like(t) for t in truths]
        for tf in session.propagate(0):
            h, w = truths[tf.index].shape
            preds[tf.index] = tf.objects[1].mask(h, w)
        session.close()
    totals = {k: [0, 0, 0] for k in PARTS}
    js, fs = [], []
    for i in range(1, len(frames) - 1):
        js.append(jaccard(preds[i], truths[i]))
        fs.append(boundary_f(preds[i], truths[i]))
        for k, v in charge(preds[i], truths[i], split_parts(truths[i])).items():
            totals[k] = [a + b for a, b in zip(totals[k], v, strict=True)]
    area = sum(v[0] for v in totals.values())
    return {
        "j": float(np.mean(js)),
        "f": float(np.mean(fs)),
        "jf": float((np.mean(js) + np.mean(fs)) / 2),
        "parts": {
            k: {
                "area": 100 * a / area,
                "fp": 100 * fp / area,
                "fn": 100 * fn / area,
                "fn_of_part": 100 * fn / max(a, 1),
            }
            for k, (a, fp, fn) in totals.items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Built-in tracker: error per part of the object (DAVIS tuning sequences)",
        "",
        "Error pixels (frames 1 … n−2, frame resolution) charged to the nearest part of the true "
        "mask, in % of the true object's area (`benchmarks/bench_thin_parts.py`).",
        "",
        "| sequence | view | J | F | J&F | part | area | FP | FN | FN % of the part |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for seq, views in result["sequences"].items():
        for view, r in views.items():
            for k, p in r["parts"].items():
                lines.append(
                    f"| {seq} | {view} | {r['j']:.3f} | {r['f']:.3f} | {r['jf']:.3f} | {k} | "
                    f"{p['area']:.1f} | {p['fp']:.2f} | {p['fn']:.2f} | {p['fn_of_part']:.1f} |"
                )
    lines += ["", *run_footer(result)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="shared data folder (default: ../shared/data)")
    ap.add_argument("--seq", default="kite-surf", help="comma-separated tuning sequences")
    ap.add_argument("--opt", action="append", default=[], help="tracker option NAME=VALUE")
    ap.add_argument("--out", type=Path, help="write <out>.json/.md")
    args = ap.parse_args(argv)
    from sam2matting.cli import parse_key_values

    options = parse_key_values(args.opt, "--opt")
    seqs = [s for s in args.seq.split(",") if s]
    held_out = [s for s in seqs if s not in TUNE]
    if held_out:
        print(f"error: {', '.join(held_out)} not a tuning sequence ({', '.join(TUNE)})")
        return 2
    data = davis_data_root(args.data)
    if data is None:
        return 0
    result = run_header(
        "bench_thin_parts.py", sys.argv[1:] if argv is None else argv, options=options
    )
    result["sequences"] = {}
    for seq in seqs:
        result["sequences"][seq] = {
            "floor": run(data, seq, options, floor=True),
            "tracked": run(data, seq, options, floor=False),
        }
        for view, r in result["sequences"][seq].items():
            print(
                f"{seq:10s} {view:8s} J {r['j']:.3f} F {r['f']:.3f} J&F {r['jf']:.3f}  "
                + "  ".join(
                    f"{k}: FP {p['fp']:.2f} FN {p['fn']:.2f}" for k, p in r["parts"].items()
                )
            )
    text = markdown(result)
    print(text)
    if args.out is not None:
        write_results(args.out, result, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
