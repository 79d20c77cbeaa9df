"""Train the built-in tracker's learned refiner (:mod:`sam2matting.trackers.builtin_learned`).

    python -m sam2matting.train.propagation_refiner --data-root ../shared/data \\
        --out runs/propagation-refiner-v1 --threads 1

Data: synthetic video clips (:func:`synthetic_clip`) made from the training split only
(:class:`~.data.CompositeSampler`: training cutouts, synthetic foregrounds and textured hard
shapes, over procedural textures or frames of the Apache-2.0 training clips ``02_cups``,
``03_blocks``, ``04_coffee`` — never DAVIS, never the qualitative-check clips, never the dev
benchmark's cutouts). Between frames the object moves, turns, scales and bends, the camera pans
and zooms, and sometimes an occluder passes in front. The input masks are the real built-in
tracker's (:func:`tracker_probabilities`: the tracker run on the clip from the exact first-frame
mask), so the refiner learns to correct the errors the tracker actually makes; with
``--rounds 2`` a second set of clips is tracked with the first round's refiner in the loop
(its own outputs feed the next frame, as at inference) and training continues on both.

Loss: binary cross-entropy of the refined logits against the ground-truth mask on the band
the refiner may change (:func:`~sam2matting.trackers.builtin_learned.refiner_band`), on
``crop``-px windows centred on band pixels.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..trackers.builtin_learned import (
    LearnedRefiner,
    PropagationRefiner,
    refiner_band,
    refiner_inputs,
)
from .data import CompositeSampler, DataConfig, synthetic_foreground
from .small_nets import add_common_arguments, save_weights_and_manifest, start

__all__ = [
    "Clip",
    "RefinerConfig",
    "clip_iou",
    "main",
    "make_clips",
    "refiner_loss",
    "synthetic_clip",
    "tracker_probabilities",
    "train_refiner",
]


@dataclass
class RefinerConfig:
    """``clips`` synthetic clips of ``frames`` frames at ``width``×``height``; ``steps`` of
    Adam on ``batch`` windows of ``crop`` px centred on band pixels."""

    clips: int = 160
    frames: int = 8
    width: int = 512
    height: int = 288
    steps: int = 2500
    batch: int = 16
    crop: int = 64
    lr: float = 3e-3
    net_width: int = 12
    seed: int = 0
    cutout_share: float = 0.6
    textured_share: float = 0.2
    occluder_share: float = 0.25
    camera_share: float = 0.6
    motion_blur: bool = False
    gt_threshold: float = 0.3
    min_size: float = 0.12
    max_shift: int = 0
    balanced: bool = False
    prev_jitter: int = 0
    area_weight: float = 0.0
    grow_only: bool = False
    band: int = 3

    def band_pixels(self) -> int:
        """Half width (px) of the band trained on, ``band`` px at a 512-px frame, scaled."""
        return max(1, round(self.band * max(self.width, self.height) / 512))


@dataclass
class Clip:
    """One tracked synthetic clip: frames (T×H×W×3 uint8), ground truth (T×H×W bool), the
    tracker's probabilities before the refiner (T×H×W uint8, p × 255) and, per frame, the
    previous frame and the tracker's previous mask moved onto it by the tracker's flow
    (T×H×W×3 and T×H×W uint8); index 0 (the anchor) of the last three is unused."""

    frames: np.ndarray
    gt: np.ndarray
    prob: np.ndarray
    prev_rgb: np.ndarray
    prev_prob: np.ndarray


# -- synthetic clips -----------------------------------------------------------------------------


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """h×w×2 smooth random field with unit maximum magnitude."""
    coarse = rng.normal(size=(cells, cells * 2, 2)).astype(np.float32)
    f = np.asarray(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC))
    return (f / max(float(np.abs(f).max()), 1e-6)).astype(np.float32)


def _layer(
    sampler: CompositeSampler, rng: np.random.Generator, cfg: RefinerConfig
) -> tuple[np.ndarray, np.ndarray]:
    """A foreground layer (premultiplied float h×w×3, alpha h×w), cropped to its subject and
    scaled so its larger side is ``min_size``–95 % of the frame height (log-uniform)."""
    u = rng.random()
    if sampler.cutouts and u < cfg.cutout_share:
        layer = sampler.cutouts[int(rng.integers(0, len(sampler.cutouts)))]
        p, a = layer.premult, layer.alpha
        if rng.random() < 0.5:
            p, a = p[:, ::-1], a[:, ::-1]
    elif u < cfg.cutout_share + cfg.textured_share:
        p8, a8 = sampler._textured_hard(rng, 256)
        p, a = (p8 * 255).astype(np.uint8), (a8 * 255).astype(np.uint8)
    else:
        pf, af, _ = synthetic_foreground(rng, 256)
        p, a = (pf * 255).astype(np.uint8), (af * 255).astype(np.uint8)
    ys, xs = np.nonzero(a > 128)
    if not len(ys):
        ys, xs = np.nonzero(a > 0)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    p, a = np.ascontiguousarray(p[y0:y1, x0:x1]), np.ascontiguousarray(a[y0:y1, x0:x1])
    k = (
        float(np.exp(rng.uniform(np.log(cfg.min_size), np.log(0.95))))
        * cfg.height
        / max(p.shape[:2])
    )
    size = (max(4, round(p.shape[1] * k)), max(4, round(p.shape[0] * k)))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    pf = cv2.resize(p, size, interpolation=interp).astype(np.float32) / 255
    af = cv2.resize(a, size, interpolation=interp).astype(np.float32) / 255
    return np.minimum(pf, af[..., None]), af


def _affine(
    centre: tuple[float, float], src_centre: tuple[float, float], angle: float, scale: float
) -> np.ndarray:
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[0, 2] = centre[0] - (c * src_centre[0] - s * src_centre[1])
    m[1, 2] = centre[1] - (s * src_centre[0] + c * src_centre[1])
    return m


def _line_kernel(dx: float, dy: float, length: float) -> np.ndarray:
    """A normalised line kernel of ``length`` px along (dx, dy)."""
    n = math.ceil(length) | 1
    k = np.zeros((n, n), np.float32)
    norm = max(math.hypot(dx, dy), 1e-6)
    c = n // 2
    for s in np.linspace(-length / 2, length / 2, 2 * n):
        k[round(c + s * dy / norm), round(c + s * dx / norm)] = 1.0
    return k / k.sum()


def synthetic_clip(
    sampler: CompositeSampler, rng: np.random.Generator, cfg: RefinerConfig
) -> tuple[np.ndarray, np.ndarray] | None:
    """A clip (T×H×W×3 uint8 frames, T×H×W bool ground truth), or None when the object left
    the frame or vanished behind the occluder."""
    w, h, t_len = cfg.width, cfg.height, cfg.frames
    n_bg = int(max(w, h) * 1.3)
    bg = sampler._background(rng, n_bg)
    cam_s0 = float(rng.uniform(1.0, 1.2))
    cam_t0 = np.array(
        [-rng.uniform(0, n_bg * cam_s0 - w - 1), -rng.uniform(0, n_bg * cam_s0 - h - 1)]
    )
    moving = rng.random() < cfg.camera_share
    cam_v = rng.normal(0, 3.0, 2) if moving else np.zeros(2)
    cam_zoom = float(rng.normal(0, 0.006)) if moving else 0.0
    p, a = _layer(sampler, rng, cfg)
    src_c = (a.shape[1] / 2, a.shape[0] / 2)
    centre = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
    speed = float(rng.choice([2.0, 4.0, 8.0, 14.0]))
    vel = rng.normal(0, speed, 2)
    angle, omega = float(rng.uniform(-0.3, 0.3)), float(rng.normal(0, 0.03))
    scale, kappa = 1.0, float(rng.normal(0, 0.02))
    bend = float(rng.choice([0.0, 2.0, 4.0]))
    fields = (_smooth_field(rng, h, w, 3), _smooth_field(rng, h, w, 3))
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    occluder = None
    if rng.random() < cfg.occluder_share:
        po, ao = _layer(sampler, rng, cfg)
        side = float(rng.choice([-1.0, 1.0]))
        o_start = np.array([w / 2 - side * 0.6 * w, rng.uniform(0.2, 0.8) * h])
        o_vel = np.array([side * 1.2 * w / t_len, rng.normal(0, 3)])
        occluder = (po, ao, o_start, o_vel)
    frames, gts = [], []
    gain = 1.0
    for t in range(t_len):
        cs = cam_s0 * math.exp(cam_zoom * t)
        m_cam = np.array([[cs, 0, cam_t0[0] + cam_v[0] * t], [0, cs, cam_t0[1] + cam_v[1] * t]])
        bg_t = cv2.warpAffine(
            bg, m_cam, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        m = _affine((float(centre[0]), float(centre[1])), src_c, angle, scale)
        pt = cv2.warpAffine(p, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        at = cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if bend > 0:
            phase = 0.7 * t
            disp = bend * (math.sin(phase) * fields[0] + math.cos(phase) * fields[1])
            mp = grid + disp
            pt = cv2.remap(pt, mp, None, cv2.INTER_LINEAR, borderValue=0)  # type: ignore[call-overload]
            at = cv2.remap(at, mp, None, cv2.INTER_LINEAR, borderValue=0)  # type: ignore[call-overload]
        blur = float(np.hypot(*vel)) * 0.6
        if cfg.motion_blur and blur >= 2:  # a fast object is blurred along its motion
            ker = _line_kernel(float(vel[0]), float(vel[1]), blur)
            pt = cv2.filter2D(pt, -1, ker, borderType=cv2.BORDER_CONSTANT)
            at = cv2.filter2D(at, -1, ker, borderType=cv2.BORDER_CONSTANT)
        comp = (pt + (1 - at[..., None]) * bg_t) * gain
        gain *= math.exp(float(rng.normal(0, 0.02)))
        alpha = at
        if occluder is not None:
            po, ao, o_start, o_vel = occluder
            oc = o_start + o_vel * t
            mo = _affine((float(oc[0]), float(oc[1])), (ao.shape[1] / 2, ao.shape[0] / 2), 0.0, 1.0)
            pot = cv2.warpAffine(po, mo, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            aot = cv2.warpAffine(ao, mo, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            comp = pot + (1 - aot[..., None]) * comp
            alpha = alpha * (1 - aot)
        if rng.random() < 0.3:
            comp = comp + rng.normal(0, 0.01, comp.shape).astype(np.float32)
        frames.append(np.clip(comp * 255 + 0.5, 0, 255).astype(np.uint8))
        gts.append(alpha > cfg.gt_threshold)
        centre = centre + vel
        vel = vel + rng.normal(0, 0.15 * speed, 2)
        angle += omega
        scale *= math.exp(kappa)
    gt = np.stack(gts)
    areas = gt.reshape(t_len, -1).sum(1)
    if areas[0] < 100 or areas.min() < 0.3 * areas[0]:
        return None
    return np.stack(frames), gt


class _Recorder:
    """Stands in for the tracker's learned refiner: records what the refiner is given each
    frame, and answers with ``inner``'s correction (or none)."""

    def __init__(self, inner: LearnedRefiner | None) -> None:
        self.inner = inner
        self.records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(
        self,
        rgb: np.ndarray,
        prob: np.ndarray,
        prev_rgb: np.ndarray,
        prev_prob: np.ndarray,
        logits: np.ndarray,
    ) -> np.ndarray:
        self.records.append((prob.copy(), prev_rgb.copy(), prev_prob.copy()))
        if self.inner is None:
            return logits
        return self.inner(rgb, prob, prev_rgb, prev_prob, logits)


def tracker_probabilities(
    frames: np.ndarray, first_mask: np.ndarray, refiner: LearnedRefiner | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the built-in tracker (default options), run from ``first_mask`` on frame 0, gives
    its learned refiner on every later frame: (its probability, the previous frame and the
    previous mask moved by its flow), T×h×w float32, T×h×w×3 uint8, T×h×w float32 at the
    working resolution (index 0 zeros). With ``refiner`` the refined masks are what the next
    frame propagates (as at inference); without, the tracker runs unrefined."""
    from ..io.readers import ArraySource
    from ..trackers.builtin import BuiltinSession, BuiltinTrackerConfig
    from ..types import MaskPrompt

    recorder = _Recorder(refiner)
    with BuiltinSession(ArraySource(frames), BuiltinTrackerConfig()) as session:
        session._refiner = recorder  # the hook the tracker calls when learned_refine is on
        session.add_prompt(MaskPrompt(first_mask, frame=0, object_id=1))
        count = sum(1 for _ in session.propagate(0))
    h, w = session.working_size[1], session.working_size[0]
    prob = np.zeros((count, h, w), np.float32)
    prev_rgb = np.zeros((count, h, w, 3), np.uint8)
    prev_prob = np.zeros((count, h, w), np.float32)
    for t, (p, r, q) in enumerate(recorder.records, start=1):
        prob[t], prev_rgb[t], prev_prob[t] = p, r, q
    return prob, prev_rgb, prev_prob


def _u8(p: np.ndarray) -> np.ndarray:
    return np.clip(p * 255 + 0.5, 0, 255).astype(np.uint8)


def make_clips(
    sampler: CompositeSampler,
    cfg: RefinerConfig,
    count: int,
    seed_key: int,
    refiner: LearnedRefiner | None = None,
    progress: bool = True,
) -> list[Clip]:
    """``count`` tracked synthetic clips (deterministic in ``cfg.seed`` and ``seed_key``)."""
    from tqdm import tqdm

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 4242, seed_key]))
    out: list[Clip] = []
    bar = tqdm(total=count, desc="tracked clips", disable=not progress, unit="clip")
    while len(out) < count:
        made = synthetic_clip(sampler, rng, cfg)
        if made is None:
            continue
        frames, gt = made
        prob, prev_rgb, prev_prob = tracker_probabilities(frames, gt[0], refiner)
        if prob.shape[1:] != gt.shape[1:]:
            raise InputError("clips must be at the tracker's working resolution")
        out.append(Clip(frames, gt, _u8(prob), prev_rgb, _u8(prev_prob)))
        bar.update(1)
    bar.close()
    return out


# -- training -----------------------------------------------------------------------------------


def _img(a: np.ndarray, sl: tuple[slice, slice]) -> torch.Tensor:
    return torch.from_numpy(a[sl].astype(np.float32) / 255).permute(2, 0, 1)[None]


def _one(a: np.ndarray, sl: tuple[slice, slice]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a[sl], np.float32))[None, None]


def _windows(
    clips: list[Clip],
    rng: np.random.Generator,
    count: int,
    crop: int,
    half_width: int,
    max_shift: int = 0,
    prev_jitter: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` (input, target, band weight) windows centred on band pixels of random frames
    t ≥ 1 of random clips; the tracker's mask dilated or eroded by up to ``max_shift`` px, and
    the moved previous mask shifted by up to ``prev_jitter`` px and dilated or eroded by up to
    half that (so it cannot simply be copied: the image edge has to decide)."""
    xs: list[torch.Tensor] = []
    gts: list[torch.Tensor] = []
    ws: list[torch.Tensor] = []
    tries = 0
    while len(xs) < count:
        tries += 1
        if tries > 50 * count:
            raise InputError("no training frame has a mask outline")
        c = clips[int(rng.integers(0, len(clips)))]
        t = int(rng.integers(1, len(c.frames)))
        prob = c.prob[t].astype(np.float32) / 255
        shift = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
        if shift:  # the outline moved in or out: errors both ways, whatever the tracker's bias
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(shift) + 1,) * 2)
            prob = (cv2.dilate if shift > 0 else cv2.erode)(prob, k)
        band = refiner_band(prob, half_width)
        ys, xs_ = np.nonzero(band)
        if not len(ys):
            continue
        h, w = prob.shape
        j = int(rng.integers(0, len(ys)))
        y0 = int(np.clip(ys[j] - crop // 2, 0, h - crop)) & ~1
        x0 = int(np.clip(xs_[j] - crop // 2, 0, w - crop)) & ~1
        sl = (slice(y0, y0 + crop), slice(x0, x0 + crop))

        prev = c.prev_prob[t].astype(np.float32) / 255
        if prev_jitter and rng.random() < 0.5:
            dx, dy = rng.integers(-prev_jitter, prev_jitter + 1, 2)
            m = np.array([[1.0, 0.0, float(dx)], [0.0, 1.0, float(dy)]], np.float32)
            prev = cv2.warpAffine(prev, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            grow = int(rng.integers(-(prev_jitter // 2), prev_jitter // 2 + 1))
            if grow:
                k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(grow) + 1,) * 2)
                prev = (cv2.dilate if grow > 0 else cv2.erode)(prev, k)
        xs.append(
            refiner_inputs(
                _img(c.frames[t], sl), _one(prob, sl), _img(c.prev_rgb[t], sl), _one(prev, sl)
            )
        )
        gts.append(_one(c.gt[t].astype(np.float32), sl))
        ws.append(_one(band.astype(np.float32), sl))
    return torch.cat(xs), torch.cat(gts), torch.cat(ws)


def refiner_loss(
    net: PropagationRefiner,
    x: torch.Tensor,
    gt: torch.Tensor,
    weight: torch.Tensor,
    balanced: bool = False,
    area_weight: float = 0.0,
    grow_only: bool = False,
) -> torch.Tensor:
    """Binary cross-entropy of the refined logits on the band pixels (``weight``); with
    ``balanced`` the object's and the background's band pixels weigh the same in total, so the
    network cannot learn a bias to grow or shrink from how the band is split."""
    logits = net(x)
    if grow_only:  # as applied: the refiner may only add to the tracker's mask
        logits = torch.maximum(logits, torch.logit(x[:, 3:4].clamp(1e-4, 1 - 1e-4)))
    bce = F.binary_cross_entropy_with_logits(logits, gt, reduction="none")
    if not balanced:
        loss = (bce * weight).sum() / weight.sum().clamp(min=1.0)
    else:
        pos, neg = weight * gt, weight * (1 - gt)
        loss = 0.5 * (
            (bce * pos).sum() / pos.sum().clamp(min=1.0)
            + (bce * neg).sum() / neg.sum().clamp(min=1.0)
        )
    if area_weight:
        # the soft object area in each window's band against the truth's: no bias to grow or
        # shrink (a bias compounds through the next frame's warp)
        diff = ((torch.sigmoid(logits) - gt) * weight).sum(dim=(1, 2, 3))
        loss = loss + area_weight * (diff / weight.sum(dim=(1, 2, 3)).clamp(min=1.0)).pow(2).mean()
    return loss


def train_refiner(
    clips: list[Clip],
    cfg: RefinerConfig,
    net: PropagationRefiner | None = None,
    steps: int | None = None,
    progress: bool = True,
) -> tuple[PropagationRefiner, list[float]]:
    """Fit (or continue fitting) a :class:`PropagationRefiner` on ``clips``; returns it in eval
    mode and the loss curve (mean of every 100 steps, or of all when fewer)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    n_steps = cfg.steps if steps is None else steps
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 9002, n_steps]))
    if net is None:
        net = PropagationRefiner(cfg.net_width)
    net.train()
    half = cfg.band_pixels()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, n_steps))
    curve: list[float] = []
    running: list[float] = []
    for _ in tqdm(range(n_steps), desc="refiner training", disable=not progress):
        x, gt, w = _windows(clips, rng, cfg.batch, cfg.crop, half, cfg.max_shift, cfg.prev_jitter)
        loss = refiner_loss(net, x, gt, w, cfg.balanced, cfg.area_weight, cfg.grow_only)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if len(running) == 100:
            curve.append(float(np.mean(running)))
            running = []
    if running:
        curve.append(float(np.mean(running)))
    return net.eval(), curve


def clip_iou(clips: list[Clip], net: PropagationRefiner | None, cfg: RefinerConfig) -> float:
    """Mean IoU (frames t ≥ 1) of the tracker's masks, refined one step by ``net`` when given
    (each frame from the tracker's own previous mask: no feedback), in the band trained on,
    grow-only when trained so."""
    from ..trackers.builtin_learned import refine_logits

    ious = []
    for c in clips:
        for t in range(1, len(c.frames)):
            prob = c.prob[t].astype(np.float32) / 255
            mask = prob > 0.5
            if net is not None:
                logits = np.where(mask, 12.0, -12.0).astype(np.float32)
                prev = c.prev_prob[t].astype(np.float32) / 255
                refined = refine_logits(
                    net,
                    c.frames[t],
                    prob,
                    c.prev_rgb[t],
                    prev,
                    logits,
                    cfg.band_pixels(),
                    grow_only=cfg.grow_only,
                )
                mask = refined > 0
            gt = c.gt[t]
            union = np.count_nonzero(mask | gt)
            ious.append(np.count_nonzero(mask & gt) / union if union else 1.0)
    return float(np.mean(ious))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sam2matting.train.propagation_refiner",
        description=(
            "Train the built-in tracker's learned refiner on synthetic clips from the training "
            "split, tracked by the built-in tracker; writes OUT/<name>.safetensors and its "
            "manifest."
        ),
    )
    add_common_arguments(p, "sam2matting-propagation-refiner-v1")
    p.add_argument("--clips", type=int, default=RefinerConfig.clips)
    p.add_argument("--frames", type=int, default=RefinerConfig.frames)
    p.add_argument("--steps", type=int, default=RefinerConfig.steps)
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        choices=[1, 2],
        help="2: retrack with the refiner in the loop and continue",
    )
    p.add_argument("--seed", type=int, default=RefinerConfig.seed)
    p.add_argument(
        "--gt-threshold",
        type=float,
        default=RefinerConfig.gt_threshold,
        help="ground-truth mask = composite alpha above this",
    )
    p.add_argument(
        "--motion-blur", action="store_true", help="blur fast objects along their motion"
    )
    p.add_argument(
        "--max-shift", type=int, default=0, help="dilate/erode the tracker's mask by up to N px"
    )
    p.add_argument(
        "--prev-jitter", type=int, default=0, help="shift the moved previous mask by up to N px"
    )
    p.add_argument("--balanced", action="store_true", help="object and background weigh alike")
    p.add_argument(
        "--area-weight", type=float, default=0.0, help="weight of the band-area agreement term"
    )
    p.add_argument(
        "--grow-only", action="store_true", help="train for a refiner that only adds pixels"
    )
    args = p.parse_args(argv)
    status = start(args)
    if status is not None:
        return status
    cfg = RefinerConfig(
        clips=args.clips,
        frames=args.frames,
        steps=args.steps,
        seed=args.seed,
        gt_threshold=args.gt_threshold,
        motion_blur=args.motion_blur,
        max_shift=args.max_shift,
        balanced=args.balanced,
        prev_jitter=args.prev_jitter,
        area_weight=args.area_weight,
        grow_only=args.grow_only,
    )
    try:
        sampler = CompositeSampler(DataConfig(data_root=args.data_root), seed=cfg.seed)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    clips = make_clips(sampler, cfg, cfg.clips, 0, progress=not args.quiet)
    val = make_clips(sampler, cfg, max(8, cfg.clips // 10), 1, progress=not args.quiet)
    t1 = time.time()
    net, curve = train_refiner(clips, cfg, progress=not args.quiet)
    rounds: list[dict[str, Any]] = [
        {"clips": len(clips), "loss_curve_per_100_steps": [round(v, 5) for v in curve]}
    ]
    if args.rounds == 2:
        args.out.mkdir(parents=True, exist_ok=True)
        more = make_clips(
            sampler,
            cfg,
            cfg.clips // 2,
            2,
            LearnedRefiner(net, grow_only=cfg.grow_only),
            not args.quiet,
        )
        net, curve2 = train_refiner(
            clips + more, cfg, net=net, steps=cfg.steps // 2, progress=not args.quiet
        )
        rounds.append(
            {
                "clips": len(more),
                "in_the_loop": True,
                "loss_curve_per_100_steps": [round(v, 5) for v in curve2],
            }
        )
    t2 = time.time()
    iou_before, iou_after = clip_iou(val, None, cfg), clip_iou(val, net, cfg)
    print(
        f"validation clips (synthetic, training split): mask IoU {iou_before:.4f} -> {iou_after:.4f} refined"
    )
    save_weights_and_manifest(
        net,
        args.out,
        args.name,
        config=asdict(cfg),
        rounds=rounds,
        command="python -m sam2matting.train.propagation_refiner "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        data={
            "training_cutouts": sampler.sources,
            "backgrounds": "procedural textures + frames of videos/02_cups.mp4, 03_blocks.mp4, 04_coffee.mp4",
            "input_masks": "the built-in tracker's own masks on the synthetic clips (default options)",
            "held_out": "DAVIS, 01_dog, bedroom, 05_default_juggle, dev-benchmark / validation cutouts: never used",
        },
        validation_iou_one_step={"tracker": round(iou_before, 4), "refined": round(iou_after, 4)},
        seconds={"clips": round(t1 - t0, 1), "training": round(t2 - t1, 1)},
        torch=torch.__version__,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
