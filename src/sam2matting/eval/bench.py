"""Run matting methods and trackers over benchmarks; per-frame metrics to JSON, means to markdown.

Methods (:func:`make_methods`):

- ``ours``: the product pipeline, :class:`~sam2matting.api.MattingSession` with a tracker and the
  default matting head (or ``ours:<head>`` for another registered head);
- ``mask-only``: the same tracker, head ``mask`` (the tracker's mask used as alpha);
- ``trimap+cf``: the same tracker, head ``closed-form`` (morphological trimap + closed-form
  matting, pymatting);
- ``rvm``: Robust Video Matting (ONNX, onnxruntime; see :mod:`.baselines`), no tracker, no prompt.

Every tracker starts from the first-frame mask of each object (the benchmark's mask file, else
ground-truth α > 0.5) given as a :class:`~sam2matting.types.MaskPrompt`, on the first frame where
the object is visible. The ``oracle`` tracker then follows the ground-truth masks (α > 0.5) of
every frame, optionally perturbed like real trackers err (``perturbation``).

All methods of a run go through each clip *in lockstep*: frame t of every method is scored before
frame t + 1 is produced, so the optical flow of the flicker metric is computed once per frame and
memory stays bounded by a few frames per method. Times per frame are the method's own (its
decoding, tracking and matting), measured around each frame it produces; metric time is counted
separately, per metric.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, Sam2MattingError, one_line
from .datasets import Benchmark, Clip
from .metrics import (
    MASK_METRICS,
    MATTING_METRICS,
    ClipMetricState,
    boundary_f,
    compute_flow_pair,
    jaccard,
)

log = logging.getLogger("sam2matting")

__all__ = [
    "METHOD_NAMES",
    "EvalReport",
    "Method",
    "TrackingReport",
    "evaluate",
    "evaluate_tracking",
    "make_methods",
    "markdown_report",
    "markdown_tracking",
    "run_info",
]

#: method names understood by :func:`make_methods` (``ours:<head>`` picks another head)
METHOD_NAMES = ("ours", "mask-only", "trimap+cf", "rvm")
_HEAD_OF = {"mask-only": "mask", "trimap+cf": "closed-form"}

#: column titles of the metrics in markdown tables
_TITLES = {
    "mad": "MAD",
    "mse": "MSE",
    "grad": "Grad",
    "grad_hr": "Grad-HR",
    "conn": "Conn",
    "dtssd": "dtSSD",
    "flicker": "Flicker",
    "flicker_gt": "Flicker(GT)",
    "j": "J",
    "f": "F",
}


@dataclass(frozen=True)
class Method:
    """One thing to evaluate. ``kind``: ``"pipeline"`` (MattingSession) or ``"rvm"``.

    ``head``: matting-head name (None = the default head); ``tracker``: tracker name;
    ``label``: its name in tables, e.g. ``ours[guided]/oracle``.
    """

    label: str
    kind: str = "pipeline"
    head: str | None = None
    tracker: str = "builtin"
    tracker_options: dict[str, Any] = field(default_factory=dict)
    head_options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "head": self.head,
            "tracker": None if self.kind == "rvm" else self.tracker,
            "tracker_options": {k: v for k, v in self.tracker_options.items() if k != "masks"},
            "head_options": self.head_options,
        }


def make_methods(
    names: Sequence[str],
    trackers: Sequence[str] = ("builtin",),
    *,
    perturbation: str | None = None,
    device: str | None = None,
    tracker_options: dict[str, Any] | None = None,
    head_options: dict[str, Any] | None = None,
) -> list[Method]:
    """Methods for every ``name`` × ``tracker`` (RVM once: it uses no tracker).

    ``names``: ``ours``, ``ours:<head>``, ``mask-only``, ``trimap+cf``, ``rvm``.
    ``perturbation`` is passed to the oracle tracker only.
    """
    from ..matting.registry import DEFAULT_HEAD, HEADS

    out: list[Method] = []
    for name in names:
        base, _, head_arg = name.partition(":")
        if base not in METHOD_NAMES:
            raise InputError(
                f"unknown method {name!r}; choose from: {', '.join(METHOD_NAMES)} (or ours:<head>)"
            )
        if base == "rvm":
            out.append(Method("rvm", kind="rvm"))
            continue
        head: str | None = _HEAD_OF.get(base, head_arg or None)
        if head is not None and head not in HEADS:
            raise InputError(
                f"unknown matting head {head!r}; choose from: {', '.join(sorted(HEADS))}"
            )
        for tracker in trackers:
            if tracker == "auto":  # rows name the tracker that really runs
                from ..trackers.auto import choose_tracker

                tracker = choose_tracker().name
            opts = dict(tracker_options or {})
            if tracker == "oracle" and perturbation:
                opts["perturbation"] = perturbation
            shown = f"{base}[{head or DEFAULT_HEAD}]" if base == "ours" else base
            suffix = (
                tracker if not (tracker == "oracle" and perturbation) else f"oracle~{perturbation}"
            )
            out.append(
                Method(
                    f"{shown}/{suffix}",
                    head=head,
                    tracker=tracker,
                    tracker_options=opts,
                    head_options=dict(head_options or {}),
                    device=device,
                )
            )
    labels = [m.label for m in out]
    if len(set(labels)) != len(labels):
        raise InputError(f"a method is listed twice: {labels}")
    return out


# -- method runners ------------------------------------------------------------------------------


class _GroundTruthLabels(Sequence[np.ndarray]):
    """Lazy per-frame ground-truth label maps (int32 H×W: object id where α > 0.5, else 0),
    what the oracle tracker follows; read one frame at a time (a frame without annotation
    gets the last annotated frame's)."""

    def __init__(self, clip: Clip) -> None:
        self.clip = clip

    def __len__(self) -> int:
        return len(self.clip)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        # a frame without annotation (annotated every few frames): the last annotated one's
        _, masks = self.clip.read_ground_truth(index)
        back = index
        while not masks and back > 0:
            back -= 1
            _, masks = self.clip.read_ground_truth(back)
        shape = next(iter(masks.values())).shape
        labels = np.zeros(shape, np.int32)
        for obj in self.clip.object_ids:
            labels[masks[obj]] = obj
        return labels


def _prompt_frames(clip: Clip) -> dict[int, tuple[int, np.ndarray]]:
    """Object id → (frame, mask) of the first frame where it is visible (frame 0: the provided mask)."""
    first = clip.first_frame_masks()
    out: dict[int, tuple[int, np.ndarray]] = {o: (0, m) for o, m in first.items() if m.any()}
    missing = [o for o in clip.object_ids if o not in out]
    for i in range(1, len(clip)):
        if not missing:
            break
        _, masks = clip.read_ground_truth(i)
        for o in list(missing):
            if o in masks and masks[o].any():
                out[o] = (i, masks[o])
                missing.remove(o)
    return out


def _oracle_options(clip: Clip, options: dict[str, Any]) -> dict[str, Any]:
    opts = dict(options)
    if "masks" not in opts and "masks_dir" not in opts:
        opts["masks"] = _GroundTruthLabels(clip)
    return opts


def _run_pipeline(method: Method, clip: Clip, stack: ExitStack) -> Iterator[dict[int, np.ndarray]]:
    from ..api import MattingSession
    from ..types import MaskPrompt

    source = stack.enter_context(clip.source())
    opts = (
        _oracle_options(clip, method.tracker_options)
        if method.tracker == "oracle"
        else dict(method.tracker_options)
    )
    session = stack.enter_context(
        MattingSession(
            source,
            tracker=method.tracker,
            head=method.head,
            device=method.device,
            tracker_options=opts,
            head_options=dict(method.head_options),
        )
    )
    for obj, (frame, mask) in sorted(_prompt_frames(clip).items()):
        session.add_prompt(MaskPrompt(mask, frame=frame, object_id=obj))
    for result in session.propagate():
        yield result.alphas


def _run_rvm(model: Any, clip: Clip, stack: ExitStack) -> Iterator[dict[int, np.ndarray]]:
    source = stack.enter_context(clip.source())
    model.reset()
    for _, image in source.iter_frames():
        alpha = model(image)
        yield {obj: alpha for obj in clip.object_ids}


# -- reports -------------------------------------------------------------------------------------


@dataclass
class EvalReport:
    """Per-frame metrics of every method on every clip, plus settings.

    ``results[label][clip]``: ``{"frames": [{"frame", "seconds", "objects": {id: {metric: v}}}],
    "mean": {metric: v}, "seconds_per_frame": s}``; ``means[label]``: pooled over all frames and
    objects of all clips (equal to the mean of clip means when clips are equally long);
    ``metric_seconds``: seconds spent per metric over the whole run; ``skipped``: method label →
    reason (e.g. RVM without its ONNX file); ``failed``: method label → clip → the error that
    stopped the method on that clip (its frames from there on are scored as empty mattes,
    marked ``"empty": true``, as the tracking evaluation scores a failed tracker's frames as
    empty masks: every method is averaged over the same frames).
    """

    benchmark: dict[str, Any]
    methods: list[dict[str, Any]]
    metrics: list[str]
    results: dict[str, dict[str, dict[str, Any]]]
    means: dict[str, dict[str, float]]
    seconds_per_frame: dict[str, float]
    metric_seconds: dict[str, float]
    frames_scored: int
    wall_seconds: float
    skipped: dict[str, str]
    info: dict[str, Any]
    #: clip → category when the benchmark has them (``benchmark.json``); see :meth:`category_means`
    categories: dict[str, str] = field(default_factory=dict)

    def category_means(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{category: {label: {metric: mean}}}`` pooled over the frames of that category's clips."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for cat in dict.fromkeys(self.categories.values()):
            names = {c for c, k in self.categories.items() if k == cat}
            out[cat] = {}
            for label, clips in self.results.items():
                recs = [
                    r
                    for name, c in clips.items()
                    if name in names
                    for f in c["frames"]
                    for r in f["objects"].values()
                ]
                if recs:
                    out[cat][label] = _mean_of(recs, self.metrics)
        return out

    #: method label → clip → why the method stopped on that clip (its frames from there on are
    #: scored as empty mattes; the run goes on)
    failed: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "categories": self.categories,
            "category_means": self.category_means(),
            "methods": self.methods,
            "metrics": self.metrics,
            "failed": self.failed,
            "means": self.means,
            "seconds_per_frame": self.seconds_per_frame,
            "metric_seconds": self.metric_seconds,
            "frames_scored": self.frames_scored,
            "wall_seconds": self.wall_seconds,
            "skipped": self.skipped,
            "info": self.info,
            "results": self.results,
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (folders created)."""
        return _write_json(self.to_json(), path)


def _write_json(data: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1, default=_json_default) + "\n")
    return p


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def run_info() -> dict[str, Any]:
    """Versions, machine and time of a run (embedded in every result file)."""
    import importlib.metadata as md
    import os

    versions: dict[str, str] = {}
    for pkg in (
        "sam2matting",
        "numpy",
        "opencv-python-headless",
        "PyMatting",
        "onnxruntime",
        "torch",
        "av",
    ):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "absent"
    return {
        "versions": versions,
        "python": platform.python_version(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _mean_of(records: Sequence[dict[str, float]], names: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        vals = [r[name] for r in records if name in r]
        if vals:
            out[name] = float(np.mean(vals))
    return out


def evaluate(
    benchmark: Benchmark,
    methods: Sequence[Method],
    *,
    metrics: Sequence[str] = (*MATTING_METRICS, "flicker_gt", *MASK_METRICS),
    rvm_path: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Score every method on every clip of ``benchmark`` (see module docstring)."""
    from .baselines import RobustVideoMatting, rvm_available

    if not methods:
        raise InputError("no method to evaluate")
    metrics = tuple(metrics)
    wants_flow = "flicker" in metrics or "flicker_gt" in metrics
    skipped: dict[str, str] = {}
    active = list(methods)
    rvm_model = None
    if any(m.kind == "rvm" for m in active):
        ok, why = rvm_available(rvm_path)
        if ok:
            rvm_model = RobustVideoMatting(rvm_path)
        else:
            skipped["rvm"] = why
            active = [m for m in active if m.kind != "rvm"]
            if progress is not None:
                progress(why)
    results: dict[str, dict[str, dict[str, Any]]] = {m.label: {} for m in active}
    metric_seconds: dict[str, float] = {}
    method_seconds = dict.fromkeys(results, 0.0)
    frames_done = 0
    failed: dict[str, dict[str, str]] = {}
    t_start = time.perf_counter()
    for clip in benchmark:
        t_clip = time.perf_counter()
        with ExitStack() as stack:
            runners: list[Iterator[dict[int, np.ndarray]]] = []
            for m in active:
                if m.kind == "rvm":
                    runners.append(_run_rvm(rvm_model, clip, stack))
                else:
                    runners.append(_run_pipeline(m, clip, stack))
            states = {
                (m.label, o): ClipMetricState(metrics) for m in active for o in clip.object_ids
            }
            frames: dict[str, list[dict[str, Any]]] = {m.label: [] for m in active}
            broken: dict[str, str] = {}  # method → why it stopped on this clip
            prev_image: np.ndarray | None = None
            for gt in clip.iter_frames():
                flow = None
                if wants_flow and prev_image is not None:
                    t0 = time.perf_counter()
                    flow = compute_flow_pair(gt.image, prev_image)
                    metric_seconds["flow"] = (
                        metric_seconds.get("flow", 0.0) + time.perf_counter() - t0
                    )
                for m, runner in zip(active, runners, strict=True):
                    t0 = time.perf_counter()
                    alphas: dict[int, np.ndarray] = {}
                    if m.label not in broken:
                        try:
                            alphas = next(runner)
                        except StopIteration:
                            raise Sam2MattingError(
                                f"{m.label} stopped after {gt.index} of {len(clip)} frames on {clip.name}"
                            ) from None
                        except Exception as exc:  # one method failing on one clip ends neither
                            broken[m.label] = (
                                f"frame {gt.index}: {type(exc).__name__}: {one_line(exc)}"
                            )
                            log.warning("%s failed on %s (%s)", m.label, clip.name, broken[m.label])
                    # a failed method's frames from the failure on count as empty mattes, as
                    # missing masks do in the tracking evaluation: leaving them out would give
                    # a method that fails on the hardest clip the best mean
                    empty = m.label in broken
                    dt = 0.0 if empty else time.perf_counter() - t0
                    method_seconds[m.label] += dt
                    objs: dict[str, dict[str, float]] = {}
                    for o in clip.object_ids:
                        pred = alphas.get(o)
                        if pred is None:
                            pred = np.zeros_like(gt.alphas[o])
                        objs[str(o)] = states[(m.label, o)].update(
                            pred, gt.alphas[o], gt.image if wants_flow else None, flow=flow
                        )
                    record: dict[str, Any] = {"frame": gt.index, "seconds": dt, "objects": objs}
                    if empty:
                        record["empty"] = True
                    frames[m.label].append(record)
                prev_image = gt.image
                frames_done += 1
            for (_, _), st in states.items():
                for k, v in st.seconds.items():
                    metric_seconds[k] = metric_seconds.get(k, 0.0) + v
        for m in active:
            recs = [r for f in frames[m.label] for r in f["objects"].values()]
            secs = [f["seconds"] for f in frames[m.label] if not f.get("empty")]
            results[m.label][clip.name] = {
                "frames": frames[m.label],
                "mean": _mean_of(recs, metrics),
                "seconds_per_frame": float(np.mean(secs)) if secs else 0.0,
            }
            if m.label in broken:
                failed.setdefault(m.label, {})[clip.name] = broken[m.label]
                results[m.label][clip.name]["failed"] = broken[m.label]
        if progress is not None:
            shown = ", ".join(
                f"{m.label} MAD {results[m.label][clip.name]['mean'].get('mad', float('nan')):.2f}"
                for m in active
            )
            progress(
                f"{clip.name}: {len(clip)} frames in {time.perf_counter() - t_clip:.0f} s — {shown}"
            )
    means: dict[str, dict[str, float]] = {}
    spf: dict[str, float] = {}
    for m in active:
        recs = [
            r for c in results[m.label].values() for f in c["frames"] for r in f["objects"].values()
        ]
        means[m.label] = _mean_of(recs, metrics)
        n = sum(1 for c in results[m.label].values() for f in c["frames"] if not f.get("empty"))
        spf[m.label] = method_seconds[m.label] / max(n, 1)
    w, h = benchmark.clips[0].size if benchmark.clips else (0, 0)
    return EvalReport(
        benchmark={
            "name": benchmark.name,
            "root": str(benchmark.root),
            "layout": benchmark.layout,
            "clips": [c.name for c in benchmark],
            "frames": sum(len(c) for c in benchmark),
            "size": f"{w}x{h}",
        },
        methods=[m.describe() for m in methods],
        metrics=list(metrics),
        results=results,
        means=means,
        seconds_per_frame=spf,
        metric_seconds=metric_seconds,
        frames_scored=frames_done,
        wall_seconds=time.perf_counter() - t_start,
        skipped=skipped,
        info=run_info(),
        categories={
            c.name: benchmark.categories[c.name]
            for c in benchmark
            if c.name in benchmark.categories
        },
        failed=failed,
    )


def _fmt(v: float | None, digits: int = 2) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.{digits}f}"


def _metric_table(
    rows: list[tuple[str, dict[str, float], float | None]], metrics: Sequence[str], first: str
) -> list[str]:
    cols = [m for m in metrics if any(m in r[1] for r in rows)]
    head = f"| {first} | " + " | ".join(_TITLES.get(m, m) for m in cols) + " | ms/frame |"
    sep = "|---|" + "---:|" * (len(cols) + 1)
    lines = [head, sep]
    for label, vals, spf in rows:
        digits = {"j": 3, "f": 3}
        cells = [_fmt(vals.get(m), digits.get(m, 2)) for m in cols]
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {_fmt(None if spf is None else spf * 1e3, 1)} |"
        )
    return lines


def markdown_report(report: EvalReport, *, per_clip: bool = True, title: str | None = None) -> str:
    """Markdown: overall means per method, then (``per_clip``) one table per method over clips."""
    b = report.benchmark
    lines = [
        f"## {title or 'Matting evaluation'}: {b['name']} ({b['size']}, {len(b['clips'])} clips, {b['frames']} frames)",
        "",
    ]
    lines.append(
        "MAD, MSE ×1e3; Grad, Grad-HR (no min–max normalisation), Conn /1e3; dtSSD ×1e2; Flicker: flow-warped "
        "previous matte vs current, MSE ×1e3 (Flicker(GT) = the same for the ground truth: the floor); "
        "J, F of α > 0.5. Means over all frames of all clips; ms/frame = the method's own time per frame "
        "(decode + track + matte), metrics excluded."
    )
    lines.append("")
    rows = [
        (label, report.means[label], report.seconds_per_frame.get(label)) for label in report.means
    ]
    lines += _metric_table(rows, report.metrics, "method")
    for label, why in report.skipped.items():
        lines.append("")
        lines.append(f"*{label}*: {why}")
    by_cat = report.category_means()
    if by_cat:
        shown = [m for m in ("mad", "grad", "dtssd") if m in report.metrics]
        lines += ["", "By category (" + " / ".join(_TITLES.get(m, m) for m in shown) + "):", ""]
        labels = list(report.means)
        lines.append("| category | clips | " + " | ".join(labels) + " |")
        lines.append("|---|---:|" + "---:|" * len(labels))
        for cat, per_label in by_cat.items():
            n = sum(1 for k in report.categories.values() if k == cat)
            cells = [
                " / ".join(_fmt(per_label.get(label, {}).get(m)) for m in shown) for label in labels
            ]
            lines.append(f"| {cat} | {n} | " + " | ".join(cells) + " |")
    for label, failures in report.failed.items():
        for name, why in failures.items():
            lines.append("")
            lines.append(
                f"**{label} failed on {name}** ({why}); its frames from there on are scored as "
                "empty mattes."
            )
    if per_clip:
        for label, clips in report.results.items():
            lines += ["", f"### {label}", ""]
            rows = [(name, c["mean"], c["seconds_per_frame"]) for name, c in clips.items()]
            lines += _metric_table(rows, report.metrics, "clip")
    ms = report.metric_seconds
    if ms and report.frames_scored:
        n_states = max(len(report.results), 1)
        lines += [
            "",
            "Metric cost (ms per frame and method; flow once per frame): "
            + ", ".join(
                f"{k} {1e3 * v / report.frames_scored / (1 if k == 'flow' else n_states):.1f}"
                for k, v in sorted(ms.items())
            ),
        ]
    info = report.info
    lines += [
        "",
        f"Run {info['date']} on {info['machine']['processor']} ({info['machine']['cpus']} CPUs, {info['machine']['platform']}), "
        f"wall {report.wall_seconds:.0f} s; versions: "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


# -- tracking (DAVIS J&F) ------------------------------------------------------------------------


@dataclass
class TrackingReport:
    """J&F per sequence and tracker. ``results[tracker][sequence]`` = ``{"j", "f", "jf",
    "objects": {id: {"j", "f", "jf"}}, "frames": [{"frame", "j", "f", "objects"}],
    "seconds_per_frame"}`` (:func:`sequence_scores`); ``means[tracker]``: ``j``, ``f``, ``jf``
    over objects (:func:`object_means`), ``objects``, ``sequences_jf`` (over sequences) and
    ``seconds_per_frame``.
    ``failed[tracker][sequence]``: why a tracker stopped on a sequence (its frames from there
    on are scored as empty masks, as the DAVIS evaluation scores missing masks; the matting
    evaluation's :class:`EvalReport` scores them as empty mattes)."""

    benchmark: dict[str, Any]
    trackers: list[str]
    results: dict[str, dict[str, dict[str, Any]]]
    means: dict[str, dict[str, float]]
    skip_first_last: bool
    info: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "trackers": self.trackers,
            "skip_first_last": self.skip_first_last,
            "means": self.means,
            "skipped": self.skipped,
            "failed": self.failed,
            "info": self.info,
            "results": self.results,
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (folders created)."""
        return _write_json(self.to_json(), path)


def evaluate_tracking(
    benchmark: Benchmark,
    trackers: Sequence[str] = ("builtin",),
    *,
    tracker_options: dict[str, dict[str, Any]] | None = None,
    skip_first_last: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrackingReport:
    """J&F of each tracker started from the first-frame mask of every object.

    Trackers run directly (no matting head); the mask is the tracker's own at frame size
    (:meth:`~sam2matting.types.ObjectTrack.mask`). Per sequence, J and F are averaged over
    frames and objects, skipping the first (prompted) and last frame as the DAVIS evaluation does
    (``skip_first_last``); J&F = (J + F) / 2; the overall row averages sequences.
    """
    from ..trackers.registry import build_tracker
    from ..types import MaskPrompt

    results: dict[str, dict[str, dict[str, Any]]] = {}
    means: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, dict[str, str]] = {}
    for name in trackers:
        opts_base = dict((tracker_options or {}).get(name, {}))
        try:
            tracker = None if name == "oracle" else build_tracker(name, **opts_base)
        except Sam2MattingError as exc:
            skipped[name] = str(exc)
            if progress is not None:
                progress(f"{name}: skipped: {exc}")
            continue
        per_seq: dict[str, dict[str, Any]] = {}
        for clip in benchmark:
            t_clip = time.perf_counter()
            trk = (
                tracker
                if tracker is not None
                else build_tracker("oracle", **_oracle_options(clip, opts_base))
            )
            prompts = _prompt_frames(clip)
            start = min(f for f, _ in prompts.values())
            frames: list[dict[str, Any]] = []
            seconds = 0.0
            reached = start - 1
            try:
                with clip.source() as source:
                    session = trk.open(source)
                    try:
                        for obj, (frame, mask) in sorted(prompts.items()):
                            session.add_prompt(MaskPrompt(mask, frame=frame, object_id=obj))
                        it = session.propagate(start)
                        while True:
                            t0 = time.perf_counter()
                            tracked = next(it, None)
                            seconds += time.perf_counter() - t0
                            if tracked is None:
                                break
                            reached = tracked.index
                            scored_frame = score_masks(clip, tracked.index, tracked.objects)
                            if scored_frame is not None:  # None: not annotated, not scored
                                frames.append(scored_frame)
                    finally:
                        session.close()
            except Exception as exc:
                # one sequence's failure (a tracker bug, an unreadable frame) must not lose the
                # others' scores: it is reported, and its frames from there on count as empty
                # masks, as an evaluation of saved masks would count missing ones
                where = f"on frame {reached + 1}" if reached >= start else "before its first frame"
                failed.setdefault(name, {})[clip.name] = (
                    f"stopped {where}: {type(exc).__name__}: {one_line(exc)}"
                )
                log.debug("%s failed on %s", name, clip.name, exc_info=True)
                if progress is not None:
                    progress(
                        f"warning: {name} {clip.name}: {failed[name][clip.name]} "
                        "(the remaining frames are scored as empty masks)"
                    )
                for index in range(max(reached + 1, start), clip.num_frames):
                    scored_frame = score_masks(clip, index, {})
                    if scored_frame is not None:
                        frames.append(scored_frame)
            scores = sequence_scores(frames, skip_first_last)
            per_seq[clip.name] = {
                **scores,
                "frames": frames,
                "seconds_per_frame": seconds / max(len(frames), 1),
            }
            if progress is not None:
                progress(
                    f"{name} {clip.name}: J {scores['j']:.3f} F {scores['f']:.3f} "
                    f"in {time.perf_counter() - t_clip:.0f} s"
                )
        results[name] = per_seq
        if per_seq:
            means[name] = {
                **object_means(per_seq),
                "sequences_jf": float(np.mean([s["jf"] for s in per_seq.values()])),
                "seconds_per_frame": float(
                    np.mean([s["seconds_per_frame"] for s in per_seq.values()])
                ),
            }
    return TrackingReport(
        benchmark={
            "name": benchmark.name,
            "root": str(benchmark.root),
            "layout": benchmark.layout,
            "sequences": [c.name for c in benchmark],
        },
        trackers=list(trackers),
        results=results,
        means=means,
        skip_first_last=skip_first_last,
        info=run_info(),
        skipped=skipped,
        failed=failed,
    )


def score_masks(clip: Clip, index: int, masks: dict[int, Any]) -> dict[str, Any] | None:
    """J and F of frame ``index`` for each of the clip's objects and their means: ``{"frame",
    "j", "f", "objects": {id: {"j", "f"}}}``; None when the frame has no annotation.
    ``masks``: object id → a mask of the annotation's size or a tracked
    :class:`~sam2matting.types.ObjectTrack`; a missing object is an empty mask."""
    _, gt_masks = clip.read_ground_truth(index)
    if not gt_masks:
        return None
    h, w = next(iter(gt_masks.values())).shape
    per_object: dict[str, dict[str, float]] = {}
    for obj in clip.object_ids:
        pred = masks.get(obj)
        if pred is None:
            pred = np.zeros((h, w), bool)
        elif not isinstance(pred, np.ndarray):
            pred = pred.mask(h, w)
        per_object[str(obj)] = {
            "j": jaccard(pred, gt_masks[obj]),
            "f": boundary_f(pred, gt_masks[obj]),
        }
    return {
        "frame": int(index),
        "j": float(np.mean([o["j"] for o in per_object.values()])),
        "f": float(np.mean([o["f"] for o in per_object.values()])),
        "objects": per_object,
    }


def sequence_scores(frames: list[dict[str, Any]], skip_first_last: bool = True) -> dict[str, Any]:
    """A sequence's J, F and J&F from its frames' :func:`score_masks` (the first and last
    dropped with ``skip_first_last``, as the DAVIS evaluation does), over frames and objects,
    and per object (``objects``: id → {"j", "f", "jf"})."""
    scored = frames[1:-1] if skip_first_last and len(frames) > 2 else frames
    j = float(np.mean([f["j"] for f in scored]))
    f_ = float(np.mean([f["f"] for f in scored]))
    objects: dict[str, dict[str, float]] = {}
    for obj in scored[0]["objects"] if scored else ():
        oj = float(np.mean([f["objects"][obj]["j"] for f in scored]))
        of = float(np.mean([f["objects"][obj]["f"] for f in scored]))
        objects[obj] = {"j": oj, "f": of, "jf": (oj + of) / 2}
    return {"j": j, "f": f_, "jf": (j + f_) / 2, "objects": objects}


def object_means(sequences: dict[str, dict[str, Any]]) -> dict[str, float]:
    """J, F and J&F over every object of every sequence (:func:`sequence_scores`' ``objects``),
    each object weighing the same: the DAVIS 2017 evaluation's global means (for single-object
    sets the mean over sequences)."""
    objects = [o for seq in sequences.values() for o in seq["objects"].values()]
    if not objects:
        return {}
    j = float(np.mean([o["j"] for o in objects]))
    f_ = float(np.mean([o["f"] for o in objects]))
    return {"j": j, "f": f_, "jf": (j + f_) / 2, "objects": float(len(objects))}


def markdown_tracking(report: TrackingReport) -> str:
    """Markdown: J&F / J / F per sequence (rows) for each tracker (column groups), then means."""
    lines = [f"## Tracking: {report.benchmark['name']} — J&F from the first-frame mask", ""]
    lines.append(
        "J = IoU, F = DAVIS boundary F-measure (tolerance ceil(0.008 × diagonal) px); "
        + ("first and last frames excluded (DAVIS protocol); " if report.skip_first_last else "")
        + "J&F = (J + F) / 2; the mean is over objects, each weighing the same (the DAVIS "
        "evaluation's global mean; over sequences when each has one object)."
    )
    lines.append("")
    names = [t for t in report.trackers if t in report.results]
    head = "| sequence | " + " | ".join(f"{t} J&F | {t} J | {t} F" for t in names) + " |"
    lines += [head, "|---|" + "---:|" * (3 * len(names))]
    seqs = report.benchmark["sequences"]
    multi = False
    for s in seqs:
        cells = []
        for t in names:
            r = report.results[t].get(s)
            cells += [_fmt(r["jf"], 3), _fmt(r["j"], 3), _fmt(r["f"], 3)] if r else ["–"] * 3
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
        ids = sorted(
            {o for t in names for o in report.results[t].get(s, {}).get("objects", {})}, key=int
        )
        if len(ids) > 1:
            multi = True
            for obj in ids:
                cells = []
                for t in names:
                    o = report.results[t].get(s, {}).get("objects", {}).get(obj)
                    cells += (
                        [_fmt(o["jf"], 3), _fmt(o["j"], 3), _fmt(o["f"], 3)] if o else ["–"] * 3
                    )
                lines.append(f"| {s} · object {obj} | " + " | ".join(cells) + " |")
    cells = []
    for t in names:
        m = report.means.get(t, {})
        cells += [f"**{_fmt(m.get('jf'), 3)}**", _fmt(m.get("j"), 3), _fmt(m.get("f"), 3)]
    lines.append("| **mean** | " + " | ".join(cells) + " |")
    if multi:
        cells = []
        for t in names:
            cells += [_fmt(report.means.get(t, {}).get("sequences_jf"), 3), "", ""]
        lines.append("| mean over sequences | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "ms/frame (tracker only): "
        + ", ".join(
            f"{t} {_fmt(report.means.get(t, {}).get('seconds_per_frame', float('nan')) * 1e3, 1)}"
            for t in names
        )
    )
    for t, why in report.skipped.items():
        lines.append(f"\n*{t}* skipped: {why}")
    for t, failures in report.failed.items():
        for seq, why in failures.items():
            lines.append(
                f"\n**{t} failed on {seq}**: {why}; its remaining frames are scored as empty masks."
            )
    info = report.info
    lines += [
        "",
        f"Run {info['date']} on {info['machine']['processor']} ({info['machine']['cpus']} CPUs); versions: "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"
