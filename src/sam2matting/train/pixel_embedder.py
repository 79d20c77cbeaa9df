"""Train the built-in tracker's pixel embedder (:mod:`sam2matting.trackers.builtin_embed`).

    python -m sam2matting.train.pixel_embedder --data-root ../shared/data \\
        --out runs/pixel-embedder-v1 --threads 1

Still images only. Each sample is a *pair of views* of one composite (:func:`make_pair`): a
foreground of the training split (:class:`~.data.CompositeSampler`: training cutouts, synthetic
foregrounds, textured hard shapes) over a background (procedural textures or frames of the
Apache-2.0 training clips ``02_cups``, ``03_blocks``, ``04_coffee`` — never DAVIS, never the
qualitative-check clips, never the dev benchmark's cutouts). View 2 moves, turns, scales and
bends the object, moves the camera, changes the colours (gain, contrast, per-channel), blurs,
adds noise and sometimes an occluder. Often (``lookalike_share``) the background holds a
*look-alike*: a patch with the object's own colour distribution (its pixels' colours assigned
by brightness rank to another texture) — colour alone cannot tell it from the object, texture
can.

Loss (label transfer, :func:`transfer_loss`): every view-2 pixel of the embedding grid attends
over all view-1 pixels (softmax of scaled dot products); the attention-weighted view-1 labels
predict the view-2 label; binary cross-entropy, object and background weighing alike.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..trackers.builtin_embed import STRIDE, PixelEmbedder, transfer_logits
from .data import CompositeSampler, DataConfig
from .small_nets import add_common_arguments, save_weights_and_manifest, start

__all__ = [
    "EmbedderConfig",
    "lookalike",
    "main",
    "make_batch",
    "make_pair",
    "train_embedder",
    "transfer_loss",
]


@dataclass
class EmbedderConfig:
    """``steps`` of Adam on ``batch`` pairs of ``crop``-px views (working resolution)."""

    steps: int = 1200
    batch: int = 8
    crop: int = 128
    lr: float = 3e-3
    width: int = 32
    dim: int = 16
    seed: int = 0
    lookalike_share: float = 0.5
    occluder_share: float = 0.3
    max_turn: float = 25.0
    max_scale: float = 1.3
    max_shift: float = 0.2
    bend: float = 5.0


def _straight(p: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.where(a[..., None] > 1e-3, p / np.maximum(a[..., None], 1e-3), 0.0).astype(np.float32)


def lookalike(rng: np.random.Generator, colours: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """``texture`` (h×w×3 float) recoloured with ``colours`` (K×3 float, the object's pixels):
    each pixel takes the colour of the same brightness rank, so the patch has the object's
    colour distribution and the texture's structure."""
    lum = texture @ np.array([0.299, 0.587, 0.114], np.float32)
    order = np.argsort(lum.reshape(-1), kind="stable")
    src = colours[np.argsort(colours @ np.array([0.299, 0.587, 0.114], np.float32))]
    picks = (np.arange(order.size) * (len(src) / order.size)).astype(np.int64)
    out = np.empty((order.size, 3), np.float32)
    out[order] = src[np.minimum(picks, len(src) - 1)]
    if rng.random() < 0.5:  # a little blur: texture without pixel noise
        return np.asarray(cv2.GaussianBlur(out.reshape(texture.shape), (0, 0), 0.7), np.float32)
    return out.reshape(texture.shape)


def _affine(
    rng: np.random.Generator, n: int, turn: float, scale: float, shift: float
) -> np.ndarray:
    """A random similarity about the canvas centre: ±``turn`` degrees, scale in
    [1/``scale``, ``scale``] (log-uniform), ±``shift`` × n translation."""
    th = math.radians(float(rng.uniform(-turn, turn)))
    s = float(np.exp(rng.uniform(-np.log(scale), np.log(scale))))
    c, si = s * math.cos(th), s * math.sin(th)
    cx = cy = n / 2
    t = rng.uniform(-shift, shift, 2) * n
    return np.array(
        [[c, -si, cx - c * cx + si * cy + t[0]], [si, c, cy - si * cx - c * cy + t[1]]],
        np.float32,
    )


def _bend_maps(rng: np.random.Generator, n: int, amount: float) -> np.ndarray | None:
    if amount <= 0 or rng.random() < 0.3:
        return None
    coarse = rng.normal(size=(4, 4, 2)).astype(np.float32)
    f = np.asarray(cv2.resize(coarse, (n, n), interpolation=cv2.INTER_CUBIC))
    f = f * (float(rng.uniform(0, amount)) / max(float(np.abs(f).max()), 1e-6))
    grid = np.dstack(np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32)))
    return (grid + f).astype(np.float32)


def _photometric(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    img = img * float(rng.uniform(0.75, 1.25)) * rng.uniform(0.93, 1.07, 3).astype(np.float32)
    img = (img - 0.5) * float(rng.uniform(0.8, 1.2)) + 0.5
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.5)))
    if rng.random() < 0.3:
        img = img + rng.normal(0, float(rng.uniform(0.005, 0.03)), img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def make_pair(
    sampler: CompositeSampler, rng: np.random.Generator, cfg: EmbedderConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(view 1, its labels, view 2, its labels): views crop×crop×3 float32 in [0, 1], labels
    (crop/4)×(crop/4) float32 object fractions on the embedding grid."""
    n = cfg.crop
    big = int(n * 1.5)
    for _ in range(8):
        p, a, _name = sampler._foreground(rng, n)
        if (a > 0.5).mean() > 0.02:
            break
    bg = sampler._background(rng, big)
    if rng.random() < cfg.lookalike_share:
        inside = a > 0.9
        if inside.sum() >= 32:
            colours = _straight(p, a)[inside]
            tex = sampler._background(rng, big)
            shape = sampler._textured_hard(rng, big)[1] if rng.random() < 0.5 else None
            if shape is None:
                shape = np.zeros((big, big), np.float32)
                c = (int(rng.integers(0, big)), int(rng.integers(0, big)))
                ax = (int(rng.integers(big // 8, big // 3)), int(rng.integers(big // 8, big // 3)))
                cv2.ellipse(shape, c, ax, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
            patch = lookalike(rng, colours, tex)
            bg = patch * shape[..., None] + bg * (1 - shape[..., None])
    views = []
    off = rng.uniform(0, big - n, 2)
    for k in range(2):
        if k == 0:
            m_fg = _affine(rng, n, 5.0, 1.05, 0.05)
            cam = off
            cam_s = 1.0
        else:
            m_fg = _affine(rng, n, cfg.max_turn, cfg.max_scale, cfg.max_shift)
            cam = np.clip(off + rng.uniform(-0.15, 0.15, 2) * n, 0, big - n)
            cam_s = float(np.exp(rng.uniform(-0.1, 0.1)))
        m_cam = np.array([[cam_s, 0, -cam[0]], [0, cam_s, -cam[1]]], np.float32)
        bg_k = cv2.warpAffine(
            bg, m_cam, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        pk = cv2.warpAffine(p, m_fg, (n, n), flags=cv2.INTER_LINEAR, borderValue=0)
        ak = cv2.warpAffine(a, m_fg, (n, n), flags=cv2.INTER_LINEAR, borderValue=0)
        if k == 1:
            maps = _bend_maps(rng, n, cfg.bend)
            if maps is not None:
                pk = cv2.remap(pk, maps, None, cv2.INTER_LINEAR, borderValue=0)  # type: ignore[call-overload]
                ak = cv2.remap(ak, maps, None, cv2.INTER_LINEAR, borderValue=0)  # type: ignore[call-overload]
        comp = pk + (1 - ak[..., None]) * bg_k
        share = cfg.occluder_share if k == 1 else cfg.occluder_share / 3
        if rng.random() < share:
            po, ao, _ = sampler._foreground(rng, n)
            mo = _affine(rng, n, 30.0, 1.2, 0.4)
            mo[:, :2] *= float(rng.uniform(0.3, 0.6))
            po = cv2.warpAffine(po, mo, (n, n), flags=cv2.INTER_LINEAR, borderValue=0)
            ao = cv2.warpAffine(ao, mo, (n, n), flags=cv2.INTER_LINEAR, borderValue=0)
            comp = po + (1 - ao[..., None]) * comp
            ak = ak * (1 - ao)
        img = _photometric(rng, comp.astype(np.float32))
        g = n // STRIDE
        lab = cv2.resize((ak > 0.5).astype(np.float32), (g, g), interpolation=cv2.INTER_AREA)
        views += [img, lab.astype(np.float32)]
    return views[0], views[1], views[2], views[3]


def make_batch(
    sampler: CompositeSampler, cfg: EmbedderConfig, step: int, size: int, key: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch ``step`` (deterministic in ``cfg.seed``, ``key`` and ``step``): view-1 images
    B×3×c×c, view-1 labels B×(c/4)², view-2 images, view-2 labels."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7321, key, int(step)]))
    pairs = [make_pair(sampler, rng, cfg) for _ in range(size)]

    def images(i: int) -> torch.Tensor:
        x = torch.from_numpy(np.stack([q[i] for q in pairs])).permute(0, 3, 1, 2)
        return x.contiguous(memory_format=torch.channels_last)

    def labels(i: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([q[i].reshape(-1) for q in pairs]))

    return images(0), labels(1), images(2), labels(3)


def transfer_loss(
    net: PixelEmbedder, v1: torch.Tensor, y1: torch.Tensor, v2: torch.Tensor, y2: torch.Tensor
) -> torch.Tensor:
    """Label-transfer loss: view 2's labels predicted by attention over view 1's embeddings
    and labels (:func:`~sam2matting.trackers.builtin_embed.transfer_logits`); binary
    cross-entropy with soft targets, object and background halves weighing alike."""
    e1 = net(v1).flatten(2).transpose(1, 2)  # B×M×D
    e2 = net(v2).flatten(2).transpose(1, 2)
    z = transfer_logits(e2, e1, y1, net.log_scale)
    bce = F.binary_cross_entropy_with_logits(z, y2, reduction="none")
    pos, neg = y2, 1 - y2
    return 0.5 * (
        (bce * pos).sum() / pos.sum().clamp(min=1.0) + (bce * neg).sum() / neg.sum().clamp(min=1.0)
    )


def train_embedder(
    sampler: CompositeSampler,
    cfg: EmbedderConfig,
    net: PixelEmbedder | None = None,
    progress: bool = True,
) -> tuple[PixelEmbedder, list[float]]:
    """Fit (or continue fitting) a :class:`PixelEmbedder`; returns it in eval mode and the loss
    curve (mean of every 100 steps, or of all when fewer)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    if net is None:
        net = PixelEmbedder(cfg.width, cfg.dim)
    net = net.to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=max(2, cfg.steps), pct_start=0.1
    )
    curve: list[float] = []
    running: list[float] = []
    for step in tqdm(range(cfg.steps), desc="embedder training", disable=not progress):
        v1, y1, v2, y2 = make_batch(sampler, cfg, step, cfg.batch)
        loss = transfer_loss(net, v1, y1, v2, y2)
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


@torch.no_grad()
def validation(
    net: PixelEmbedder, sampler: CompositeSampler, cfg: EmbedderConfig, batches: int = 8
) -> dict[str, float]:
    """Held-out pairs (another seed key): mean loss and pixel accuracy of the transferred labels."""
    losses, correct, total = [], 0, 0
    net.eval()
    for b in range(batches):
        v1, y1, v2, y2 = make_batch(sampler, cfg, b, cfg.batch, key=1)
        losses.append(float(transfer_loss(net, v1, y1, v2, y2)))
        e1 = net(v1).flatten(2).transpose(1, 2)
        e2 = net(v2).flatten(2).transpose(1, 2)
        z = transfer_logits(e2, e1, y1, net.log_scale)
        sure = (y2 < 0.1) | (y2 > 0.9)
        correct += int(((z > 0) == (y2 > 0.5))[sure].sum())
        total += int(sure.sum())
    return {"loss": float(np.mean(losses)), "accuracy": correct / max(total, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sam2matting.train.pixel_embedder",
        description=(
            "Train the built-in tracker's pixel embedder on pairs of views of still composites "
            "from the training split (label transfer); writes OUT/<name>.safetensors and its "
            "manifest."
        ),
    )
    add_common_arguments(p, "sam2matting-pixel-embedder-v1")
    p.add_argument("--steps", type=int, default=EmbedderConfig.steps)
    p.add_argument("--batch", type=int, default=EmbedderConfig.batch)
    p.add_argument("--crop", type=int, default=EmbedderConfig.crop)
    p.add_argument("--width", type=int, default=EmbedderConfig.width)
    p.add_argument("--seed", type=int, default=EmbedderConfig.seed)
    p.add_argument(
        "--lookalike-share",
        type=float,
        default=EmbedderConfig.lookalike_share,
        help="share of backgrounds with a patch of the object's colours",
    )
    args = p.parse_args(argv)
    status = start(args)
    if status is not None:
        return status
    if args.crop % 16:
        print("error: --crop must be a multiple of 16", file=sys.stderr)
        return 2
    cfg = EmbedderConfig(
        steps=args.steps,
        batch=args.batch,
        crop=args.crop,
        width=args.width,
        seed=args.seed,
        lookalike_share=args.lookalike_share,
    )
    try:
        sampler = CompositeSampler(
            DataConfig(data_root=args.data_root, crop=cfg.crop, textured_hard_share=0.2),
            seed=cfg.seed,
        )
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    before = validation(PixelEmbedder(cfg.width, cfg.dim), sampler, cfg)
    net, curve = train_embedder(sampler, cfg, progress=not args.quiet)
    after = validation(net, sampler, cfg)
    t1 = time.time()
    print(
        f"validation pairs (synthetic, training split): loss {before['loss']:.4f} -> "
        f"{after['loss']:.4f}, accuracy {before['accuracy']:.3f} -> {after['accuracy']:.3f}"
    )
    save_weights_and_manifest(
        net,
        args.out,
        args.name,
        config=asdict(cfg),
        loss_curve_per_100_steps=[round(v, 5) for v in curve],
        validation={"untrained": before, "trained": after},
        command="python -m sam2matting.train.pixel_embedder "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        data={
            "training_cutouts": sampler.sources,
            "backgrounds": "procedural textures + frames of videos/02_cups.mp4, 03_blocks.mp4, 04_coffee.mp4",
            "pairs": "two views of one still composite (warps, camera motion, colour, blur, occluders, look-alike patches)",
            "held_out": "DAVIS, 01_dog, bedroom, 05_default_juggle, dev-benchmark / validation cutouts: never used",
        },
        seconds={"training": round(t1 - t0, 1)},
        torch=torch.__version__,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
