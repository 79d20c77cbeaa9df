"""Train the edge arbiter (:mod:`sam2matting.matting.arbiter`) on still-image composites.

    python -m sam2matting.train.arbiter --data-root ../shared/data --out runs/arbiter-v1

Data: composites from the training split only (:class:`~.data.CompositeSampler`: training
cutouts, synthetic foregrounds, the training background videos — never the dev benchmark's or
validation's cutouts, never DAVIS), plus two hard-edged kinds the learned heads soften:

- *frame-colour silhouettes*: a training cutout composited over one background, then cut out
  again with a hard, anti-aliased outline (:func:`~sam2matting.io.cutouts.smooth_silhouette`)
  and placed over another — the edge pixels keep the first background's colours, as an object
  cut from a real frame does;
- *textured hard shapes* (:meth:`~.data.CompositeSampler._textured_hard`).

Each composite gets a binary mask — exact (α > 0.5) 40 % of the time, else a simulated
tracker's (:func:`_training_mask`: SAM 2-like low-resolution masks or the heads' own ``mild``
tracker errors) — and the shipped learned head's matte for
that mask (ROI paste included), ``A``, and the mask's colour-line refinement, ``E``. The
network learns the blend weight; the loss is L1 plus an L1 of the Sobel gradients against the
ground truth, on the pixels where ``A`` and ``E`` differ.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..degrade import degrade_mask
from ..errors import InputError
from ..io.cutouts import smooth_silhouette
from ..matting.arbiter import EdgeArbiter, arbiter_inputs
from ..matting.edge_refine import colour_line_refine
from ..types import ObjectTrack
from .data import CompositeSampler, DataConfig, simulate_tracker_mask
from .small_nets import add_common_arguments, save_weights_and_manifest, start

__all__ = ["ArbiterConfig", "ArbiterSampler", "main", "make_samples", "train_arbiter"]


@dataclass
class ArbiterConfig:
    """``samples`` composites of a side drawn from ``sizes``; ``steps`` of Adam on ``batch``
    random ``crop``-px windows centred on pixels where the two mattes differ."""

    samples: int = 600
    sizes: tuple[int, ...] = (256, 384, 512, 768)
    exact_mask_share: float = 0.4
    sam2_share: float = 0.5
    silhouette_share: float = 0.3
    textured_hard_share: float = 0.15
    steps: int = 1500
    batch: int = 24
    crop: int = 80
    lr: float = 3e-3
    gradient_weight: float = 1.0
    width: int = 16
    seed: int = 0
    edge_radius: int = 2
    edge_eps: float = 1e-4


class ArbiterSampler(CompositeSampler):
    """:class:`CompositeSampler` with frame-colour silhouettes and textured hard shapes mixed
    into the foregrounds (shares from :class:`ArbiterConfig`)."""

    def __init__(self, data: DataConfig, config: ArbiterConfig) -> None:
        super().__init__(data, seed=config.seed)
        self.arbiter = config

    def _foreground(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, str]:
        u = rng.random()
        if self.cutouts and u < self.arbiter.silhouette_share:
            layer = self.cutouts[int(rng.integers(0, len(self.cutouts)))]
            p, a = self._place_cutout(rng, n, layer)
            first = p + (1 - a[..., None]) * self._background(rng, n)
            hard = smooth_silhouette(a > 0.5).astype(np.float32)
            return (first * hard[..., None]).astype(np.float32), hard, "silhouette:" + layer.name
        if u < self.arbiter.silhouette_share + self.arbiter.textured_hard_share:
            p, a = self._textured_hard(rng, n)
            return p, a, "synthetic:textured-hard"
        return super()._foreground(rng, n)


def _crisp(image: np.ndarray, alpha: np.ndarray, cfg: ArbiterConfig) -> np.ndarray:
    """``alpha`` (a mask or a matte) after the colour-line refinement the head applies."""
    return colour_line_refine(image, alpha.astype(np.float32), cfg.edge_radius, cfg.edge_eps)


def _training_mask(alpha: np.ndarray, rng: np.random.Generator, cfg: ArbiterConfig) -> np.ndarray:
    """The exact mask (α > 0.5) with ``exact_mask_share``; else a SAM 2-like one (low-res
    logits, boundary offsets: :func:`~sam2matting.degrade.degrade_mask` ``sam2``) with
    ``sam2_share``, or a mildly wrong tracker's (:func:`~.data.simulate_tracker_mask`)."""
    if rng.random() < cfg.exact_mask_share:
        return (alpha > 0.5).astype(np.float32)
    if rng.random() < cfg.sam2_share:
        m = alpha > float(rng.uniform(0.35, 0.65))
        if m.any():
            return degrade_mask(m, "sam2", float(rng.uniform(0.2, 0.8)), rng).astype(np.float32)
    return simulate_tracker_mask(alpha, rng, "mild")


def make_samples(
    sampler: ArbiterSampler,
    stage: Any,
    cfg: ArbiterConfig,
    progress: bool = True,
) -> list[dict[str, np.ndarray]]:
    """``cfg.samples`` training samples: uint8 image, learned matte ``A`` (``stage``'s, the ROI
    paste and the colour-line refinement included, no temporal smoothing), crisp mask ``E``,
    mask and ground truth."""
    from tqdm import tqdm

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 8123]))
    out: list[dict[str, np.ndarray]] = []
    bar = tqdm(total=cfg.samples, desc="arbiter samples", disable=not progress, unit="img")
    while len(out) < cfg.samples:
        n = int(rng.choice(np.asarray(cfg.sizes)))
        img8, alpha = sampler.sample(rng, n)[:2]
        mask = _training_mask(alpha, rng, cfg)
        if not mask.any() or mask.all():
            continue
        logits = np.where(mask > 0.5, 10.0, -10.0).astype(np.float32)
        stage.reset()
        pasted = stage.matte(img8, {1: ObjectTrack(logits)})[1]
        out.append(
            {
                "image": img8,
                "learned": _crisp(img8, pasted, cfg),
                "crisp": _crisp(img8, mask, cfg),
                "mask": mask,
                "gt": alpha.astype(np.float32),
            }
        )
        bar.update(1)
    bar.close()
    return out


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    k = torch.stack([kx, kx.t()])[:, None].to(x)
    g = F.conv2d(x, k)
    return g[:, :1], g[:, 1:]


def _centres(samples: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Per sample, the (y, x) of the pixels where A and E differ (window centres)."""
    out = []
    for s in samples:
        ys, xs = np.nonzero(np.abs(s["learned"] - s["crisp"]) > 1e-3)
        out.append(np.stack([ys, xs], 1).astype(np.int32))
    return out


def _windows(
    samples: list[dict[str, np.ndarray]],
    centres: list[np.ndarray],
    rng: np.random.Generator,
    count: int,
    crop: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` crops centred on pixels where A and E differ: (inputs, gt, weight)."""
    usable = [i for i, c in enumerate(centres) if len(c)]
    if not usable:
        raise InputError("no training sample has pixels where the two mattes differ")
    xs: list[torch.Tensor] = []
    gts: list[torch.Tensor] = []
    ws: list[torch.Tensor] = []
    while len(xs) < count:
        i = usable[int(rng.integers(0, len(usable)))]
        s, cy_cx = samples[i], centres[i]
        h, w = s["gt"].shape
        if h < crop or w < crop:
            continue
        cy, cx = cy_cx[int(rng.integers(0, len(cy_cx)))]
        y0 = int(np.clip(cy - crop // 2, 0, h - crop))
        x0 = int(np.clip(cx - crop // 2, 0, w - crop))
        sl = (slice(y0, y0 + crop), slice(x0, x0 + crop))
        rgb = torch.from_numpy(s["image"][sl].astype(np.float32) / 255).permute(2, 0, 1)[None]
        a, e = (torch.from_numpy(s[key][sl].copy())[None, None] for key in ("learned", "crisp"))
        mask = torch.from_numpy(s["mask"][sl].copy())[None, None]
        xs.append(arbiter_inputs(rgb, a, e, mask))
        gts.append(torch.from_numpy(s["gt"][sl].copy())[None, None])
        differ = (np.abs(s["learned"][sl] - s["crisp"][sl]) > 1e-3).astype(np.uint8)
        band = cv2.dilate(differ, np.ones((5, 5), np.uint8))
        ws.append(torch.from_numpy(band.astype(np.float32))[None, None])
    return torch.cat(xs), torch.cat(gts), torch.cat(ws)


def arbiter_loss(
    net: EdgeArbiter, x: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor, grad_w: float
) -> torch.Tensor:
    """Weighted L1 of the blend plus ``grad_w`` × L1 of its Sobel gradients."""
    out = net.blend(x)
    norm = weight.sum().clamp(min=1.0)
    loss = ((out - gt).abs() * weight).sum() / norm
    if grad_w > 0:
        (ox, oy), (gx, gy) = _sobel(out), _sobel(gt)
        wc = weight[:, :, 1:-1, 1:-1]
        g = ((ox - gx).abs() + (oy - gy).abs()) * wc
        loss = loss + grad_w * g.sum() / wc.sum().clamp(min=1.0)
    return loss


def train_arbiter(
    samples: list[dict[str, np.ndarray]], cfg: ArbiterConfig, progress: bool = True
) -> tuple[EdgeArbiter, list[float]]:
    """Fit an :class:`EdgeArbiter` on ``samples``; returns it (eval mode) and the loss curve
    (mean of every 100 steps)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 9001]))
    net = EdgeArbiter(cfg.width)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    curve: list[float] = []
    running: list[float] = []
    centres = _centres(samples)
    for _ in tqdm(range(cfg.steps), desc="arbiter training", disable=not progress):
        x, gt, w = _windows(samples, centres, rng, cfg.batch, cfg.crop)
        loss = arbiter_loss(net, x, gt, w, cfg.gradient_weight)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if len(running) == 100:
            curve.append(float(np.mean(running)))
            running = []
    return net.eval(), curve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sam2matting.train.arbiter",
        description=(
            "Train the edge arbiter (the per-pixel choice between the learned matte and the "
            "mask made crisp) on training-split composites; writes OUT/<name>.safetensors and "
            "its manifest."
        ),
    )
    add_common_arguments(p, "sam2matting-edge-arbiter-v1")
    p.add_argument("--samples", type=int, default=ArbiterConfig.samples)
    p.add_argument("--steps", type=int, default=ArbiterConfig.steps)
    p.add_argument("--seed", type=int, default=ArbiterConfig.seed)
    p.add_argument(
        "--exact-mask-share",
        type=float,
        default=ArbiterConfig.exact_mask_share,
        help="share of exact masks (α > 0.5); the rest are simulated tracker masks",
    )
    p.add_argument("--batch", type=int, default=ArbiterConfig.batch, help="windows per step")
    p.add_argument("--crop", type=int, default=ArbiterConfig.crop, help="window side (px)")
    args = p.parse_args(argv)
    status = start(args)
    if status is not None:
        return status
    from ..matting.registry import build_head

    cfg = ArbiterConfig(
        samples=args.samples,
        steps=args.steps,
        seed=args.seed,
        batch=args.batch,
        crop=args.crop,
        exact_mask_share=args.exact_mask_share,
    )
    try:
        sampler = ArbiterSampler(DataConfig(data_root=args.data_root), cfg)
        stage = build_head("sam2matting", temporal=0.0, edge_radius=0, arbiter=False)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    cache = args.out / f"samples-{cfg.samples}-seed{cfg.seed}-exact{cfg.exact_mask_share}.npz"
    if cache.is_file():  # the composites and the head's answers are deterministic in the seed
        with np.load(cache) as z:
            samples = [
                {k: z[f"{i}_{k}"] for k in ("image", "learned", "crisp", "mask", "gt")}
                for i in range(cfg.samples)
            ]
    else:
        samples = make_samples(sampler, stage, cfg, progress=not args.quiet)
        args.out.mkdir(parents=True, exist_ok=True)
        tmp_cache = cache.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = {
            f"{i}_{k}": v for i, s in enumerate(samples) for k, v in s.items()
        }
        np.savez(tmp_cache, **arrays)
        tmp_cache.replace(cache)
    t1 = time.time()
    net, curve = train_arbiter(samples, cfg, progress=not args.quiet)
    t2 = time.time()
    save_weights_and_manifest(
        net,
        args.out,
        args.name,
        config=asdict(cfg),
        command="python -m sam2matting.train.arbiter " + shlex.join(argv or sys.argv[1:]),
        data={
            "training_cutouts": sampler.sources,
            "backgrounds": "training background videos + procedural",
            "held_out": "dev-benchmark / validation cutouts, DAVIS: never used",
        },
        learned_head="the shipped default (sam2matting head, ROI paste, no refinement)",
        loss_curve_per_100_steps=[round(v, 5) for v in curve],
        seconds={"samples": round(t1 - t0, 1), "training": round(t2 - t1, 1)},
        torch=torch.__version__,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
