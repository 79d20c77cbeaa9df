"""Where the built-in tracker's error comes from: J and the error split per stage of its
per-frame update, on the DAVIS *tuning* sequences only (dog, kite-surf, libby).

    python benchmarks/bench_builtin_anatomy.py                      # writes results/builtin_anatomy.{json,md}
    python benchmarks/bench_builtin_anatomy.py --seq dog --frames 20 --opt regrow=false --out /tmp/a

Three views, every mask scored at the frame's resolution against the ground truth:

- **resolution floor**: the true mask of each frame resampled to the working resolution and
  back, as the tracker reads a mask prompt and returns logits (the best any tracker working at
  that resolution can do);
- **one step from the truth** (oracle): for each frame t, a session anchored on the *true* mask
  of frame t − 1 takes one step to t; the stages of that step (see ``STAGES``) are scored. The
  ``warp`` stage of this view is the true mask warped by the flow: how good warping alone can be;
- **chained** (the tracker as used): one session from the true first mask, every stage of every
  frame scored.

Errors are split into false positives (FP: marked object, is background) and false negatives
(FN), each near the true boundary (within ``NEAR_PX`` px at the frame's resolution) or far,
as a percentage of the true object's area. Held-out DAVIS sequences are refused: settings are
chosen on the tuning split only.
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

#: the stages of BuiltinSession._step, in order (each reported through ``session.trace``)
STAGES = ("warp", "prior", "refit", "edge", "regrow", "graphcut", "components", "final")
#: an error pixel within this distance (px, frame resolution) of the true boundary is "near"
NEAR_PX = 3
#: parts of the true mask that an opening with a disc this wide (px, frame resolution) removes
#: count as thin
THIN_PX = 7


def _upsample(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A working-resolution bool mask at the frame's size, as ``ObjectTrack.mask`` does it
    (bilinear on a ±1 map, then > 0)."""
    if mask.shape == (height, width):
        return mask
    z = np.where(mask, 1.0, -1.0).astype(np.float32)
    return cv2.resize(z, (width, height), interpolation=cv2.INTER_LINEAR) > 0


def error_split(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """J and FP / FN near / far (percent of the true area) of ``pred`` against ``truth``."""
    t = truth.astype(bool)
    p = pred.astype(bool)
    t8 = t.astype(np.uint8)
    # distance to the true boundary: inside, to the nearest background pixel; outside, to the
    # nearest object pixel
    dist = np.where(
        t, cv2.distanceTransform(t8, cv2.DIST_L2, 3), cv2.distanceTransform(1 - t8, cv2.DIST_L2, 3)
    )
    near = dist <= NEAR_PX
    area = max(float(t.sum()), 1.0)
    fp, fn = p & ~t, t & ~p
    union = float((p | t).sum())
    return {
        "j": float((p & t).sum()) / union if union else 1.0,
        "fp_near": 100 * float((fp & near).sum()) / area,
        "fp_far": 100 * float((fp & ~near).sum()) / area,
        "fn_near": 100 * float((fn & near).sum()) / area,
        "fn_far": 100 * float((fn & ~near).sum()) / area,
        "area_ratio": float(p.sum()) / area,
    }


def _traced(options: dict[str, Any], frames: list[np.ndarray], first: np.ndarray) -> Any:
    """Run a session from mask ``first`` over ``frames``: yields (index, {stage: mask})."""
    from sam2matting.io.readers import ArraySource
    from sam2matting.trackers.builtin import build
    from sam2matting.types import MaskPrompt

    session = build(**options).open(ArraySource(frames))
    stages: dict[int, dict[str, np.ndarray]] = {}

    def trace(index: int, obj: int, stage: str, mask: np.ndarray) -> None:
        stages.setdefault(index, {})[stage] = mask.copy()

    session.trace = trace
    session.add_prompt(MaskPrompt(first, frame=0, object_id=1))
    for tf in session.propagate(0):
        got = stages.pop(tf.index, {})
        track = tf.objects.get(1)
        h, w = first.shape
        got["final"] = track.mask(h, w) if track is not None else np.zeros((h, w), bool)
        yield tf.index, got
    session.close()


def _score_stages(got: dict[str, np.ndarray], truth: np.ndarray) -> dict[str, dict[str, float]]:
    h, w = truth.shape
    return {s: error_split(_upsample(got[s], h, w), truth) for s in STAGES if s in got}


def _mean_rows(rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        vals = [r[stage] for r in rows if stage in r]
        if vals:
            out[stage] = {k: float(np.mean([v[k] for v in vals])) for k in vals[0]}
    return out


def anatomy(
    data: Path, seq: str, options: dict[str, Any], max_frames: int | None, oracle_every: int
) -> dict[str, Any]:
    from sam2matting.eval.datasets import read_davis
    from sam2matting.trackers.builtin import working_size

    (clip,) = read_davis(data / "davis", [seq])
    with clip.source() as src:
        frames = [im for _, im in src.iter_frames(0, max_frames)]
    gts = [clip.read_ground_truth(i)[1][1] for i in range(len(frames))]
    h, w = gts[0].shape
    ww, wh = working_size(w, h, int(options.get("max_side", 512)))
    # how much the object moves: the previous true mask taken as this frame's
    static = [error_split(gts[t - 1], gts[t]) for t in range(1, len(gts))]
    # share of the true object in parts thinner than THIN_PX (lines, tails, strings)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (THIN_PX, THIN_PX))
    thin = [
        float((g & ~(cv2.morphologyEx(g.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0)).sum())
        / max(float(g.sum()), 1.0)
        for g in gts
    ]
    floor = []
    for gt in gts:
        small = cv2.resize(gt.astype(np.float32), (ww, wh), interpolation=cv2.INTER_AREA)
        back = cv2.resize(_logit_like(small), (w, h), interpolation=cv2.INTER_LINEAR) > 0
        floor.append(error_split(back, gt))
    oracle: list[dict[str, dict[str, float]]] = []
    for t in range(1, len(frames), oracle_every):
        for index, got in _traced(options, [frames[t - 1], frames[t]], gts[t - 1]):
            if index == 1:
                oracle.append(_score_stages(got, gts[t]))
    chained: list[dict[str, dict[str, float]]] = []
    for index, got in _traced(options, frames, gts[0]):
        if index > 0:
            chained.append(_score_stages(got, gts[index]))
    inner = chained[:-1] if len(chained) > 1 else chained  # DAVIS: the last frame excluded
    return {
        "frames": len(frames),
        "resolution_floor": {k: float(np.mean([f[k] for f in floor])) for k in floor[0]},
        "static": {k: float(np.mean([f[k] for f in static])) for k in static[0]},
        "thin_share": float(np.mean(thin)),
        "oracle_one_step": _mean_rows(oracle),
        "chained": _mean_rows(inner),
        "chained_j_curve": {
            s: [round(r[s]["j"], 3) for r in chained if s in r] for s in ("warp", "final")
        },
        "oracle_j_curve": {
            s: [round(r[s]["j"], 3) for r in oracle if s in r] for s in ("warp", "final")
        },
    }


def _logit_like(p: np.ndarray) -> np.ndarray:
    """Area-resampled mask (fraction inside) → a signed map whose bilinear upsampling > 0 is
    the tracker's output for that soft mask (sign of p − 0.5)."""
    return (p - 0.5).astype(np.float32)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Built-in tracker: error anatomy per stage (DAVIS tuning sequences)",
        "",
        f"Errors in % of the true object's area; near = within {NEAR_PX} px of the true boundary "
        "(frame resolution). `oracle`: one step from the true mask of the previous frame; "
        "`chained`: the tracker run from the true first mask (frames 1 … n−2). "
        "Resolution floor: the true mask through the working resolution and back. "
        "Stages: warp = flow warp (affine where the flow fails), prior = blurred vote of "
        "flow and affine warps, refit = + colour + motion log-odds, edge = guided filter, "
        "regrow, graphcut = GrabCut band, components = blobs not touching the prediction "
        "dropped, final = the returned logits upsampled.",
        "",
    ]
    for seq, r in result["sequences"].items():
        fl = r["resolution_floor"]
        lines += [
            f"### {seq} ({r['frames']} frames); resolution floor J {fl['j']:.3f} "
            f"(FP {fl['fp_near'] + fl['fp_far']:.1f} %, FN {fl['fn_near'] + fl['fn_far']:.1f} %); "
            f"previous true mask as the prediction J {r['static']['j']:.3f}; "
            f"{100 * r['thin_share']:.1f} % of the object thinner than {THIN_PX} px",
            "",
            "| view | stage | J | FP near | FP far | FN near | FN far | area / true |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for view in ("oracle_one_step", "chained"):
            for stage, v in r[view].items():
                lines.append(
                    f"| {view.split('_')[0]} | {stage} | {v['j']:.3f} | {v['fp_near']:.1f} | "
                    f"{v['fp_far']:.1f} | {v['fn_near']:.1f} | {v['fn_far']:.1f} | {v['area_ratio']:.3f} |"
                )
        lines.append("")
    lines += run_footer(result)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="shared data folder (default: ../shared/data)")
    ap.add_argument("--seq", default=",".join(TUNE), help="tuning sequences (comma-separated)")
    ap.add_argument("--frames", type=int, help="only the first N frames of each sequence")
    ap.add_argument(
        "--oracle-every", type=int, default=2, help="one-step oracle on every Nth frame pair"
    )
    ap.add_argument("--opt", action="append", default=[], help="tracker option NAME=VALUE")
    ap.add_argument(
        "--out", type=Path, help="write <out>.json/.md (default: results/builtin_anatomy)"
    )
    args = ap.parse_args(argv)
    from sam2matting.cli import parse_key_values

    data = davis_data_root(args.data)
    if data is None:
        return 0
    seqs = args.seq.split(",")
    held_out = [s for s in seqs if s not in TUNE]
    if held_out:
        print(f"error: {', '.join(held_out)} held out; anatomy runs on {', '.join(TUNE)} only")
        return 2
    options = parse_key_values(args.opt, "--opt")
    result = run_header("bench_builtin_anatomy.py", argv, options=options, near_px=NEAR_PX)
    result["sequences"] = {}
    for seq in seqs:
        result["sequences"][seq] = anatomy(data, seq, options, args.frames, args.oracle_every)
        c = result["sequences"][seq]["chained"]
        o = result["sequences"][seq]["oracle_one_step"]
        print(
            f"{seq:10s} "
            + " ".join(f"{s}: oracle {o[s]['j']:.3f} chained {c[s]['j']:.3f};" for s in c),
            flush=True,
        )
    md = markdown(result)
    print(md)
    out = args.out or HERE / "results" / "builtin_anatomy"
    write_results(out, result, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
