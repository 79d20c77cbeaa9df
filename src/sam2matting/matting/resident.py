"""The learned head resident on a torch device: every step of a frame as tensor ops.

What :meth:`LearnedMatting._matte <sam2matting.matting.learned.LearnedMatting>` does in numpy /
OpenCV on the CPU, done here where the network runs (CUDA, MPS; the CPU too when forced with
``tensor_ops=True``, which is how the tests compare both paths):

- **upload once**: the frame (uint8, 4× smaller than float) and the objects' logits (stacked,
  one copy when they share a shape, as every tracker gives them);
- masks at the working resolution, the working image, the guided prior (a tensor guided filter
  on the band's box), the object window, the network, the ROI threshold (and the optional
  ``inner_limit``), the pseudo-trimap, the coarse alpha back on the whole working grid;
- **refinement tiles**: the tile-occupancy grid of the ROI by an integral image, the selected
  tiles by ``torch.nonzero``, their RGB by index gathering, their coarse alpha / features /
  prior by a bilinear gather of all objects' tiles at once, the cores scattered by index;
- the known region pasted from the logits at the frame's resolution;
- **download once**: the final alphas, B×H×W float32.

Crossings of the host/device boundary go through four small functions (:class:`Transfers`),
which count them per call (``LearnedMatting.last_transfers``) so a test can hold the property:
per frame 2 uploads, 1 download and 2 reads of a few integers, which shapes need and which
cannot be avoided — the object window, the prior's band box and which objects are empty (one
read of a dozen ints), and the number of refinement tiles (``torch.nonzero``). The ablation
modes ``roi_mode="morphological"`` and ``stabilize=True`` keep their numpy implementations:
they add one download of the ROI probabilities and masks and one upload of the ROI. The
temporal filter runs after the download, on the host (DIS optical flow is OpenCV's).

Not bit-identical to the OpenCV path: torch's ``area`` resize averages fractional cells
differently from ``INTER_AREA`` at non-integer scales, and bilinear thresholds may flip a pixel
on an exact tie; ``tests/test_resident.py`` bounds the difference on the sample clip.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.trimap import pseudo_trimap
from ..errors import InputError
from ..types import ObjectTrack
from .device_ops import band_alpha, bounding_box, dilate, erode, resize
from .encoders import tap_tracker_features
from .heads import resize_to
from .learned import IMAGENET_MEAN, IMAGENET_STD, snap_window, working_shape

if TYPE_CHECKING:
    from .learned import LearnedMatting

__all__ = [
    "Transfers",
    "matte_resident",
    "sample_tiles",
    "scatter_tile_cores",
    "select_tiles",
]


class Transfers:
    """The only doors between host and device on the resident path; each counts its use.

    ``upload`` (host array → device tensor), ``download`` (device tensor → host array),
    ``read_ints`` (a few integers the host needs for shapes: a sync), ``nonzero`` (indices of
    set cells: a sync, since their number sets a shape)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.counts: Counter[str] = Counter()

    def upload(self, array: np.ndarray) -> torch.Tensor:
        self.counts["upload"] += 1
        t = torch.from_numpy(np.ascontiguousarray(array))
        return t.to(self.device, non_blocking=True)

    def download(self, tensor: torch.Tensor) -> np.ndarray:
        self.counts["download"] += 1
        return tensor.detach().cpu().numpy()

    def read_ints(self, tensor: torch.Tensor) -> list[int]:
        self.counts["read_ints"] += 1
        return [int(v) for v in tensor.long().cpu().tolist()]

    def nonzero(self, tensor: torch.Tensor) -> torch.Tensor:
        self.counts["nonzero"] += 1
        return torch.nonzero(tensor)


_NORM: dict[tuple[str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _normalize(rgb01: torch.Tensor) -> torch.Tensor:
    """ImageNet normalisation with the constants made on the device once (``normalize_rgb``
    builds them from Python lists each call: a small upload per call)."""
    key = (str(rgb01.device), rgb01.dtype)
    if key not in _NORM:
        mean = torch.zeros(1, 3, 1, 1, dtype=rgb01.dtype, device=rgb01.device)
        std = torch.ones(1, 3, 1, 1, dtype=rgb01.dtype, device=rgb01.device)
        for c in range(3):
            mean[:, c] = IMAGENET_MEAN[c]
            std[:, c] = IMAGENET_STD[c]
        _NORM[key] = (mean, std)
    mean, std = _NORM[key]
    return (rgb01 - mean) / std


def _tile_axis(n: int, tile: int, device: torch.device) -> torch.Tensor:
    # proposals.tile_grid's origins, made on the device
    count = max(1, -(-n // tile))
    return (torch.arange(count, device=device) * tile).clamp_(max=max(n - tile, 0))


def select_tiles(
    roi: torch.Tensor, height: int, width: int, tile: int, io: Transfers
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor twin of :func:`sam2matting.bridge.proposals.select_tiles` (``grow=0``) for B
    objects at once: ``roi`` bool B×h×w on any grid covering the frame → (object index n,
    origins n×2 (y0, x0)) of the native tiles any ROI cell overlaps, object-major, row-major
    within an object (the order of the numpy path). One sync (``torch.nonzero``)."""
    dev = roi.device
    ys, xs = _tile_axis(height, tile, dev), _tile_axis(width, tile, dev)
    rh, rw = roi.shape[-2:]
    integral = F.pad(roi.to(torch.int32).cumsum(1).cumsum(2), (1, 0, 1, 0))  # B×(rh+1)×(rw+1)
    # the ROI cells overlapping each tile's native rectangle (integer arithmetic = numpy's)
    y0 = ys * rh // height
    y1 = (-(-(ys + tile) * rh // height)).clamp_(max=rh)
    x0 = xs * rw // width
    x1 = (-(-(xs + tile) * rw // width)).clamp_(max=rw)
    rows_lo, rows_hi = integral[:, y0], integral[:, y1]  # B×ty×(rw+1)
    counts = rows_hi[:, :, x1] - rows_lo[:, :, x1] - rows_hi[:, :, x0] + rows_lo[:, :, x0]
    idx = io.nonzero(counts > 0)  # n×3: object, tile row, tile column
    origins = torch.stack([ys[idx[:, 1]], xs[idx[:, 2]]], dim=1)
    return idx[:, 0], origins


def _gather_rgb(image: torch.Tensor, origins: torch.Tensor, size: int, pad: int) -> torch.Tensor:
    """n padded patches of 1×3×H×W ``image`` → n×3×P×P, indices past the border clamped."""
    h, w = image.shape[-2:]
    offs = torch.arange(-pad, size + pad, device=image.device)
    yi = (origins[:, 0:1] + offs).clamp_(0, h - 1)
    xi = (origins[:, 1:2] + offs).clamp_(0, w - 1)
    return image[0][:, yi[:, :, None], xi[:, None, :]].permute(1, 0, 2, 3)


def sample_tiles(
    source: torch.Tensor,
    objects: torch.Tensor,
    origins: torch.Tensor,
    size: int,
    pad: int,
    native_hw: tuple[int, int],
) -> torch.Tensor:
    """Bilinear samples of B×C×h×w ``source`` at the native pixels of n padded tiles, tile i
    from object ``objects[i]``: n×C×P×P. The same numbers as
    :func:`sam2matting.matting.refine.sample_native` per object (half-pixel centres, borders
    clamped), for all objects in one gather instead of one ``grid_sample`` each."""
    height, width = native_hw
    hs, ws = source.shape[-2:]
    offs = torch.arange(-pad, size + pad, device=source.device, dtype=torch.float32)
    ny = (origins[:, 0:1].float() + offs).clamp_(0, height - 1)  # n×P native rows
    nx = (origins[:, 1:2].float() + offs).clamp_(0, width - 1)
    sy = ((ny + 0.5) * (hs / height) - 0.5).clamp_(0, hs - 1)  # source rows (border clamp)
    sx = ((nx + 0.5) * (ws / width) - 0.5).clamp_(0, ws - 1)
    y0f, x0f = sy.floor(), sx.floor()
    wy, wx = (sy - y0f)[:, :, None, None], (sx - x0f)[:, None, :, None]  # n×P×1×1, n×1×P×1
    y0, x0 = y0f.long(), x0f.long()
    y1, x1 = (y0 + 1).clamp_(max=hs - 1), (x0 + 1).clamp_(max=ws - 1)
    src = source.float().permute(0, 2, 3, 1)  # B×h×w×C
    k = objects[:, None, None]

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return src[k, yy[:, :, None], xx[:, None, :]]  # n×P×P×C

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return (top * (1 - wy) + bottom * wy).permute(0, 3, 1, 2)


def scatter_tile_cores(
    alpha: torch.Tensor,
    tiles: torch.Tensor,
    objects: torch.Tensor,
    origins: torch.Tensor,
    size: int,
    pad: int,
) -> None:
    """Write the ``size``² cores of n×P×P ``tiles`` into B×H×W ``alpha`` in place (tile i into
    object ``objects[i]``). Tiles lie inside the frame (the grid shifts its last row and column
    inwards), except on a frame smaller than one tile: then the core is cut to the frame."""
    h, w = alpha.shape[-2:]
    ch, cw = min(size, h), min(size, w)
    yy = origins[:, 0:1] + torch.arange(ch, device=alpha.device)  # n×ch
    xx = origins[:, 1:2] + torch.arange(cw, device=alpha.device)
    core = tiles[:, pad : pad + ch, pad : pad + cw].to(alpha.dtype)
    alpha[objects[:, None, None], yy[:, :, None], xx[:, None, :]] = core


class _Logits:
    """The objects' logits on the device (one upload when they share a shape), resized on
    request."""

    def __init__(self, tracks: list[ObjectTrack], io: Transfers) -> None:
        arrays = [np.asarray(t.logits, dtype=np.float32) for t in tracks]
        if len({a.shape for a in arrays}) == 1:
            self.parts = [io.upload(np.stack(arrays)[:, None])]
        else:  # trackers give one shape; mixed shapes cost one upload per object
            self.parts = [io.upload(a[None, None]) for a in arrays]

    def at(self, size: tuple[int, int], keep: list[int] | None = None) -> torch.Tensor:
        """B×1×h×w logits (bilinear, half-pixel centres, as ``cv2.INTER_LINEAR``); ``keep``:
        only those objects, in that order."""
        full = torch.cat([resize(p, size) for p in self.parts])
        if keep is None or keep == list(range(full.shape[0])):
            return full
        return torch.cat([full[k : k + 1] for k in keep])


def _erode_replicate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion of B×1×H×W {0,1} by the elliptic disc, border replicated
    (``cv2.erode(..., borderType=BORDER_REPLICATE)``)."""
    padded = F.pad(1.0 - mask.float(), (radius,) * 4, mode="replicate")
    return ~dilate(padded, radius)[..., radius:-radius, radius:-radius]


def matte_resident(
    stage: LearnedMatting, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int
) -> dict[int, np.ndarray]:
    """The learned head's frame on ``stage.device`` (see module docstring): the same contract
    as ``LearnedMatting._matte`` — alpha per object, float32 H×W in [0, 1] — and the same
    ``last_timings`` / ``last_coverage``, plus ``last_transfers``."""
    io = Transfers(stage.device)
    timings = {"prepare": 0.0, "heads": 0.0, "upsample": 0.0, "refine": 0.0, "paste": 0.0}
    stage.last_timings, stage.last_transfers, stage.last_coverage = timings, io.counts, 0.0
    if not tracks:
        return {}
    t0 = time.perf_counter()
    h, w = image.shape[:2]
    dev = stage.device
    net, cfg = stage.net, stage.config
    ids = list(tracks)
    use_feats = stage._use_tracker_features(tracks)
    feats_list: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    if use_feats:
        feats_list = [tap_tracker_features(tracks[i].features or {}, device=dev) for i in ids]
        h4, w4 = (int(s) for s in feats_list[0][0].shape[-2:])
        if any(tuple(f[0].shape[-2:]) != (h4, w4) for f in feats_list):
            raise InputError("objects of one frame carry tracker features of different sizes")
        hw, ww = 4 * h4, 4 * w4
    else:
        hw, ww = working_shape(h, w, cfg.working_size or net.config.working_size)
    # the per-pixel work in fp32 whatever the autocast around it (the networks' only)
    no_autocast = torch.autocast(dev.type, enabled=False)
    with no_autocast:
        image_t = io.upload(image).permute(2, 0, 1)[None].float().div_(255.0)  # 1×3×H×W
        logits = _Logits([tracks[i] for i in ids], io)
        masks = logits.at((hw, ww)) > 0  # B×1×hw×ww, as ObjectTrack.mask(hw, ww)
        # one read of what the host needs for shapes: which objects are empty, the objects'
        # box (the network's window), the prior's band box
        head = [masks.flatten(1).any(dim=1).long(), bounding_box(masks.any(dim=0)[0])]
        radius = net.config.prior_radius
        band: torch.Tensor | None = None
        if net.uses_prior:
            mf = masks.float()
            band = dilate(mf, radius) & ~erode(mf, radius)
            head.append(bounding_box(band.any(dim=0)[0]))
        meta = io.read_ints(torch.cat(head))
    b_all = len(ids)
    keep = [k for k in range(b_all) if meta[k]]
    out = {ids[k]: np.zeros((h, w), np.float32) for k in range(b_all) if not meta[k]}
    if not keep:
        return out
    obj_box = meta[b_all : b_all + 5]
    band_box = meta[b_all + 5 : b_all + 10] if band is not None else None
    if len(keep) < b_all:  # drop empty objects (slices: no index tensor to upload)
        masks = torch.cat([masks[k : k + 1] for k in keep])
        band = None if band is None else torch.cat([band[k : k + 1] for k in keep])
        feats_list = [feats_list[k] for k in keep] if use_feats else []
    kept_ids = [ids[k] for k in keep]
    b = len(keep)
    full = (0, hw, 0, ww)
    win = full
    if not use_feats and cfg.crop_margin is not None:
        win = snap_window(obj_box[1:], (hw, ww), cfg.crop_margin)
    y0, y1, x0, x1 = win
    with no_autocast:
        # the working image as 8 bits, rounded half up as OpenCV's resize of a uint8 frame
        small_t = resize(image_t, (hw, ww), "area").mul_(255.0).add_(0.5).floor_().div_(255.0)
        masks_f = masks.float()
        rgb = _normalize(small_t[..., y0:y1, x0:x1]).expand(b, 3, y1 - y0, x1 - x0)
        rgb = rgb.contiguous(memory_format=torch.channels_last)
        masks_w = masks_f[..., y0:y1, x0:x1].contiguous(memory_format=torch.channels_last)
        prior: torch.Tensor | None = None  # whole working image (the refiner samples it)
        if net.uses_prior:
            prior = band_alpha(small_t, masks_f, masks_f, radius, box=band_box, band=band)
    tracker_feats = None
    if use_feats:
        tracker_feats = tuple(torch.cat([f[s] for f in feats_list]) for s in range(3))
    t1 = time.perf_counter()
    timings["prepare"] = t1 - t0

    feats = net.features(rgb, masks_w, tracker_feats)  # type: ignore[arg-type]
    roi_logits = net.roi(feats, masks_w, rgb)
    with no_autocast:
        h4, w4 = hw // 4, ww // 4
        win4 = (slice(None), slice(y0 // 4, y1 // 4), slice(x0 // 4, x1 // 4))
        if cfg.roi_mode == "morphological" or (cfg.roi_mode == "learned" and cfg.stabilize):
            # ablations with numpy state / OpenCV morphology: a round trip through the host
            prob_np = np.zeros((b, h4, w4), np.float32)
            prob_np[win4] = io.download(torch.sigmoid(roi_logits.float())[:, 0])
            masks_np = io.download(masks[:, 0])
            roi_full = io.upload(stage._roi_override(masks_np, prob_np, kept_ids, frame_index))
        else:
            roi_full = torch.zeros((b, h4, w4), dtype=torch.bool, device=dev)
            if cfg.roi_mode == "learned":
                thr = net.config.roi.threshold
                roi_full[win4] = torch.sigmoid(roi_logits.float())[:, 0] > thr
                if cfg.inner_limit is not None:
                    # deep inside the mask is known foreground (LearnedMatting._roi_override)
                    r = max(1, round(cfg.inner_limit * float(np.hypot(h4, w4))))
                    m4 = resize(masks_f, (h4, w4), "area") >= 0.5
                    roi_full &= ~_erode_replicate(m4.float(), r)[:, 0]
        roi = roi_full[:, None, y0 // 4 : y1 // 4, x0 // 4 : x1 // 4]
        size4 = (int(feats[0].shape[-2]), int(feats[0].shape[-1]))
        trimap = pseudo_trimap((resize_to(masks_w, size4) > 0.5).float(), roi)
    pred = net.predictor(feats, trimap, rgb, None if prior is None else prior[..., y0:y1, x0:x1])
    with no_autocast:
        coarse, hidden = pred.alpha.float(), pred.features.float()
        if win != full:  # back on the whole working grid: the mask outside the window
            coarse = resize(masks_f, (hw // 2, ww // 2), "area").clone()
            coarse[..., y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pred.alpha.float()
            hidden = hidden.new_zeros((b, hidden.shape[1], hw // 2, ww // 2))
            hidden[..., y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = pred.features.float()
        t2 = time.perf_counter()
        timings["heads"] = t2 - t1
        alpha = resize(coarse, (h, w)).clamp_(0.0, 1.0)[:, 0].contiguous()  # b×H×W
        t3 = time.perf_counter()
        timings["upsample"] = t3 - t2
    refiner = net.refiner
    if cfg.refine and refiner is not None:
        rc = refiner.config
        with no_autocast:
            objects, origins = select_tiles(roi_full, h, w, rc.tile, io)
        n = int(origins.shape[0])
        stage.last_coverage = min(float(b), n * rc.tile * rc.tile / float(h * w))
        if n:
            with no_autocast:
                p = rc.tile + 2 * rc.pad
                x = torch.empty((n, rc.in_channels, p, p), device=dev)
                x[:, :3] = _normalize(_gather_rgb(image_t, origins, rc.tile, rc.pad))
                c_end = 4 + rc.feature_channels
                context = torch.cat([coarse, hidden], dim=1)
                x[:, 3:c_end] = sample_tiles(context, objects, origins, rc.tile, rc.pad, (h, w))
                if prior is not None:
                    x[:, c_end:] = sample_tiles(prior, objects, origins, rc.tile, rc.pad, (h, w))
                x = x.contiguous(memory_format=torch.channels_last)
            fine = refiner.forward_packed(x)[:, 0]
            with no_autocast:
                scatter_tile_cores(alpha, fine.float(), objects, origins, rc.tile, rc.pad)
    t4 = time.perf_counter()
    timings["refine"] = t4 - t3
    if cfg.paste_known:
        with no_autocast:
            # the pseudo-trimap's known region keeps the tracker's mask at the frame's size
            inside = resize(roi_full[:, None].float(), (h, w))[:, 0] >= 0.5
            known = (logits.at((h, w), keep)[:, 0] > 0).float()
            alpha = torch.where(inside, alpha, known)
        timings["paste"] = time.perf_counter() - t4
    alphas = io.download(alpha)
    out.update({oid: alphas[k] for k, oid in enumerate(kept_ids)})
    return {oid: out[oid] for oid in ids}
