"""What the Meta SAM 2.1 reference harness and our conformance test share (numpy + torch only,
no sam2matting and no Meta code, so both virtual environments import it).

- :func:`make_clip`: a short, small, deterministic clip (textured background, two moving shapes);
- :func:`synth_state`: random weights from a seed for a state-dict *spec* (key, shape, mean, std
  per tensor, measured on Meta's own initialisation), so the 150 MB checkpoint never has to be
  stored: both sides regenerate it bit for bit (same torch version, CPU generator);
- :data:`SCENARIOS`: the prompts (a box, clicks, a second object, a correction);
- :func:`sample_index`: the pixels of the 256² logits kept as expected values.

The harness is ``benchmarks/meta_reference/sam2_reference.py``; the test is
``tests/test_meta_sam2_conformance.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FRAMES, HEIGHT, WIDTH = 4, 96, 128
SEED = 2026

#: scenario → list of steps: ("box", frame, obj, (x0, y0, x1, y1)) / ("points", frame, obj,
#: ((x, y), …), (label, …)) / ("propagate",). Outputs are recorded after the last propagate.
SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "box": [("box", 0, 1, (30, 24, 78, 72)), ("propagate",)],
    "clicks": [("points", 0, 1, ((52, 46), (60, 40), (100, 80)), (1, 1, 0)), ("propagate",)],
    "two_objects": [
        ("box", 0, 1, (30, 24, 78, 72)),
        ("points", 0, 2, ((98, 30), (104, 36)), (1, 1)),
        ("propagate",),
    ],
    "correction": [
        ("box", 0, 1, (30, 24, 78, 72)),
        ("propagate",),
        ("points", 2, 1, ((70, 50), (40, 30)), (1, 0)),
        ("propagate",),
    ],
}


def make_clip() -> np.ndarray:
    """FRAMES×HEIGHT×WIDTH×3 uint8: smooth coloured noise, a disc and a square that move."""
    rng = np.random.default_rng(SEED)
    coarse = rng.uniform(40, 200, size=(HEIGHT // 8 + 2, WIDTH // 8 + 2, 3))
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    # bilinear upsampling of the coarse grid: a smooth background that compresses well
    gy, gx = yy / 8.0, xx / 8.0
    y0, x0 = gy.astype(int), gx.astype(int)
    fy, fx = (gy - y0)[..., None], (gx - x0)[..., None]
    bg = (
        coarse[y0, x0] * (1 - fy) * (1 - fx)
        + coarse[y0 + 1, x0] * fy * (1 - fx)
        + coarse[y0, x0 + 1] * (1 - fy) * fx
        + coarse[y0 + 1, x0 + 1] * fy * fx
    )
    frames = []
    for t in range(FRAMES):
        img = bg.copy()
        cy, cx = 48 + 2 * t, 54 + 3 * t
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 20**2
        img[disc] = (230, 60 + 10 * t, 50)
        sq = (np.abs(yy - 33) <= 9) & (np.abs(xx - (100 - 2 * t)) <= 9)
        img[sq] = (40, 70, 220)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


#: constants set after the random draw: the object-score head's last bias, so that the random
#: tracker says "object present" and propagated frames carry real masks (else every frame after
#: the prompt is the all-absent −1024 mask on both sides, which would compare nothing)
OVERRIDES = {"sam_mask_decoder.pred_obj_score_head.layers.2.bias": 8.0}


def synth_state(spec: list[list[Any]], seed: int = SEED) -> dict[str, Any]:
    """Random tensors for ``spec`` rows ``[key, shape, dtype, mean, std]`` (in order):
    ``mean + std · N(0, 1)`` from one seeded CPU generator; integer tensors are zeros;
    then :data:`OVERRIDES`."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for key, shape, dtype, mean, std in spec:
        if not str(dtype).startswith("torch.float"):
            out[key] = torch.zeros(shape, dtype=getattr(torch, str(dtype).split(".")[1]))
            continue
        t = torch.randn(shape, generator=gen, dtype=torch.float32)
        out[key] = (t * float(std) + float(mean)).to(getattr(torch, str(dtype).split(".")[1]))
    for key, value in OVERRIDES.items():
        if key not in out:
            raise KeyError(f"override {key} is not in the spec")
        out[key] = torch.full_like(out[key], value)
    return out


def sample_index(count: int = 2048, size: int = 256) -> np.ndarray:
    """Flat indices into a size² logits grid whose values are stored as expected logits."""
    rng = np.random.default_rng(SEED + 1)
    return np.sort(rng.choice(size * size, size=count, replace=False))


#: the SAM 3 conformance scenario (``sam3_reference.py`` / ``test_meta_sam3_conformance.py``):
#: a box on frame 0, then forward propagation; the tiny official SAM 3 spec's seed and the
#: object-score override that keeps random masks present
SAM3_BOX = (30, 24, 78, 72)
SAM3_SEED = 0
SAM3_OVERRIDES = {"tracker.sam_mask_decoder.pred_obj_score_head.layers.2.bias": 8.0}


def synth_sam3_state(rows: list[list[Any]], seed: int = SAM3_SEED) -> dict[str, Any]:
    """Seeded random tensors for the tiny official SAM 3 spec rows ``[key, shape, dtype, mean,
    std]`` (``tests/data/sam2matting_sam3_tiny_spec.json``): ``mean + std · N(0, 1)``; complex
    rotary tables as unit phasors of random phase (they are derived and never copied); integer
    tensors zeros; then :data:`SAM3_OVERRIDES`."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for key, shape, dtype, mean, std in rows:
        dt = getattr(torch, str(dtype).split(".")[1])
        if dt.is_complex:
            phase = torch.rand(shape, generator=gen) * 6.28
            out[key] = torch.polar(torch.ones(shape), phase).to(dt)
        elif not dt.is_floating_point:
            out[key] = torch.zeros(shape, dtype=dt)
        else:
            out[key] = (torch.randn(shape, generator=gen) * float(std) + float(mean)).to(dt)
    for key, value in SAM3_OVERRIDES.items():
        out[key] = torch.full_like(out[key], value)
    return out
