"""Temporal steadying of mattes: a motion-compensated recursive filter on the soft pixels.

A matting network that sees one frame at a time answers the same soft pixel slightly
differently on consecutive frames (flicker; the dtSSD metric). Per object, the previous
*output* alpha is warped into the current frame with dense optical flow (OpenCV's DIS, on a
small grey copy) and blended into the current alpha where three checks agree:

- **the image agrees**: the warped previous frame matches the current one (photometric error
  small), so the flow is right and nothing was uncovered or occluded; and the flow is
  consistent both ways (the backward flow brings each forward match home, within ``fb_px``),
  which catches wrong flow on flat colour, where the photometric check passes anyway;
- **the alphas nearly agree**: their difference is below ``max_change``; a larger change is real
  (motion, a new strand) and passes through untouched, so motion is not smeared;
- **the pixel is soft**: only pixels where either alpha is strictly between 0 and 1 are blended;
  the known region (exact 0 / 1) is never touched.

The blend weight is ``strength`` × the product of those soft checks, so the filter is recursive
(an exponential average along motion trajectories) with a half-life of about one frame at 0.5.
Frames must arrive in order: a jump in frame index (a seek, the backward pass) restarts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = ["TemporalConfig", "TemporalSmoother"]


@dataclass(frozen=True)
class TemporalConfig:
    """``strength``: blend weight of the warped previous alpha at full agreement (0 = off);
    ``flow_side``: long side (px) of the grey copy the flow is computed on; ``photo_sigma``:
    grey-level error (0–255) at which the image check's weight falls to e^-1; ``max_change``:
    alpha difference above which a pixel is taken as really changed (weight 0).

    Defaults chosen on the *tuning* clips (training-split cutouts and synthetic foregrounds,
    :func:`sam2matting.eval.validation.tuning_clips`), never on the validation set: over
    strength 0.5 / 0.7 / 0.85 × sigma 8 / 16 / 32 × max change 0.25 / 0.5, (0.5, 32, 0.5) gave
    the lowest dtSSD that also lowered MAD (dtSSD 2.29 → 2.19, MAD 8.04 → 8.02, v3 weights);
    stronger settings steadied a little more but raised MAD (a start of smearing). ``fb_px``
    1.0 chosen there too (0 / 0.5 / 1 / 2, with the colour-line refinement on): MAD 6.51 → 6.49
    clean and 6.86 → 6.84 with SAM 2-like masks, Grad unchanged, dtSSD within 0.01; on the
    flat-coloured demo clip it takes back a third of the filter's cost (MAD 4.08 → 3.96; 3.79
    with the filter off)."""

    strength: float = 0.5
    flow_side: int = 320
    photo_sigma: float = 32.0
    max_change: float = 0.5
    #: forward–backward flow check: distance (px on the grey copy) between a pixel and where the
    #: backward flow brings its forward match at which the weight falls to e^-1 (0 = off). On
    #: flat colour DIS flow is often wrong while the photometric check still passes; a wrong
    #: flow is rarely consistent both ways.
    fb_px: float = 1.0


@dataclass
class _State:
    frame_index: int
    grey: np.ndarray
    alpha: np.ndarray


class TemporalSmoother:
    """Per-object motion-compensated smoothing (see module docstring)."""

    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        if not 0.0 <= self.config.strength < 1.0:
            raise ValueError(f"temporal strength must be in [0, 1), got {self.config.strength}")
        self._states: dict[int, _State] = {}
        self._flow: Any = None
        self._flow_cache: tuple[int, int, np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget every object's history."""
        self._states.clear()
        self._flow_cache = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, self.config.flow_side / float(max(h, w)))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if scale < 1 else grey

    def _warp_maps(
        self, previous_index: int, frame_index: int, prev_grey: np.ndarray, grey: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(flow from the current grey to the previous one, photometric error), computed once
        per frame pair and shared by the objects."""
        c = self._flow_cache
        if c is not None and c[0] == previous_index and c[1] == frame_index:
            return c[2], c[3]
        if self._flow is None:
            self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)  # type: ignore[attr-defined]
        flow = self._flow.calc(grey, prev_grey, None)
        gh, gw = grey.shape
        grid_x, grid_y = np.meshgrid(
            np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32)
        )
        warped = cv2.remap(
            prev_grey,
            grid_x + flow[..., 0],
            grid_y + flow[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        err = np.abs(warped.astype(np.float32) - grey.astype(np.float32))
        err = cv2.GaussianBlur(err, (3, 3), 0)
        if self.config.fb_px > 0:
            # the backward flow (previous → current) sampled where the forward flow lands
            # should bring each pixel home; the miss folds into the photometric error so that
            # the weight is photo × exp(-(miss / fb_px)²) on both the host and the device path
            back = self._flow.calc(prev_grey, grey, None)
            bx = cv2.remap(
                back[..., 0],
                grid_x + flow[..., 0],
                grid_y + flow[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            by = cv2.remap(
                back[..., 1],
                grid_x + flow[..., 0],
                grid_y + flow[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            miss = np.hypot(flow[..., 0] + bx, flow[..., 1] + by)
            scaled = self.config.photo_sigma * miss / self.config.fb_px
            err = np.sqrt(np.square(err) + np.square(scaled)).astype(np.float32)
        self._flow_cache = (previous_index, frame_index, flow, err)
        return flow, err

    def _blend(
        self, alpha: np.ndarray, prev_alpha: np.ndarray, flow: np.ndarray, err: np.ndarray
    ) -> np.ndarray:
        """Blend the warped ``prev_alpha`` into ``alpha`` inside the box of soft pixels."""
        cfg = self.config
        h, w = alpha.shape
        gh, gw = flow.shape[:2]
        sx, sy = w / gw, h / gh
        soft_now = (alpha > 0.0) & (alpha < 1.0)
        soft_prev = (prev_alpha > 0.002) & (prev_alpha < 0.998)
        rows = np.flatnonzero((soft_now | soft_prev).any(axis=1))
        if rows.size == 0:
            return alpha
        cols = np.flatnonzero((soft_now | soft_prev).any(axis=0))
        reach = 2 + int(np.ceil(float(np.abs(flow).max()) * max(sx, sy)))
        y0, y1 = max(0, rows[0] - reach), min(h, rows[-1] + 1 + reach)
        x0, x1 = max(0, cols[0] - reach), min(w, cols[-1] + 1 + reach)
        # flow and photometric error on the box, at full resolution (coordinates of the box)
        gx0, gx1 = int(x0 / sx), min(gw, int(np.ceil(x1 / sx)) + 1)
        gy0, gy1 = int(y0 / sy), min(gh, int(np.ceil(y1 / sy)) + 1)
        # positions of the box's pixel centres on the grey grid's crop
        xs = (np.arange(x0, x1, dtype=np.float32) + 0.5) / sx - 0.5 - gx0
        ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) / sy - 0.5 - gy0
        mx, my = np.meshgrid(xs, ys)
        f = np.ascontiguousarray(flow[gy0:gy1, gx0:gx1])
        e = np.ascontiguousarray(err[gy0:gy1, gx0:gx1])
        fx = cv2.remap(f[..., 0], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fy = cv2.remap(f[..., 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ee = cv2.remap(e, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        px, py = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        previous = cv2.remap(
            prev_alpha,
            px + fx * sx,
            py + fy * sy,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        cur = alpha[y0:y1, x0:x1]
        diff = previous - cur
        photo = np.exp(-np.square(ee / cfg.photo_sigma))
        agree = np.clip(1.0 - np.abs(diff) / cfg.max_change, 0.0, 1.0)
        soft = ((cur > 0.0) & (cur < 1.0)) | ((previous > 0.002) & (previous < 0.998))
        weight = (cfg.strength * photo * agree * soft).astype(np.float32)
        out = alpha.copy()
        out[y0:y1, x0:x1] = np.clip(cur + weight * diff, 0.0, 1.0)
        return out

    def __call__(
        self, object_id: int, frame_index: int, image: np.ndarray, alpha: np.ndarray
    ) -> np.ndarray:
        """The steadied alpha (float32 H×W in [0, 1]) of ``object_id`` on ``frame_index``."""
        cfg = self.config
        grey = self._grey(image)
        state = self._states.get(object_id)
        out = alpha
        if (
            cfg.strength > 0
            and state is not None
            and state.frame_index == frame_index - 1
            and state.alpha.shape == alpha.shape
            and state.grey.shape == grey.shape
        ):
            flow, err = self._warp_maps(state.frame_index, frame_index, state.grey, grey)
            out = self._blend(alpha, state.alpha, flow, err)
        self._states[object_id] = _State(frame_index, grey, out)
        return out
