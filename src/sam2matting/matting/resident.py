"""The learned head resident on a torch device: every step of a frame as tensor ops.

What :meth:`LearnedMatting.matte <sam2matting.matting.learned.LearnedMatting.matte>` does in
numpy / OpenCV on the CPU, done here where the network runs (CUDA, MPS; the CPU too when forced
with ``tensor_ops=True``, which is how the tests compare both paths):

- **upload once**: the frame (uint8, 4× smaller than float) and the objects' logits (stacked,
  one copy when they share a shape, as every tracker gives them);
- masks at the working resolution, the working image, the guided prior (a tensor guided filter
  on the band's box), the object window, the network, the ROI threshold (and the optional
  ``inner_limit``), the pseudo-trimap, the coarse alpha back on the whole working grid;
- **refinement tiles**: the tile-occupancy grid of the ROI by an integral image, the selected
  tiles by ``torch.nonzero``, their RGB by index gathering, their coarse alpha / features /
  prior by a bilinear gather of all objects' tiles at once, the cores scattered by index;
- the known region pasted from the logits at the frame's resolution;
- the **temporal filter** (:class:`DeviceTemporal`): the previous alphas stay on the device;
  only the optical flow of a small grey copy is OpenCV's, on the host, and its maps go up;
- **download once**: the final alphas, B×H×W float32.

Crossings of the host/device boundary go through four small functions (:class:`Transfers`),
which count them per call (``LearnedMatting.last_transfers``) so a test can hold the property:
per frame 2 uploads (3 with the temporal filter's flow maps, from the second frame on), 1
download and 2 reads of a few integers, which shapes need and which cannot be avoided — the
object window, the prior's band box and which objects are empty (one read of a dozen ints), and
the number of refinement tiles (``torch.nonzero``). The ablation modes
``roi_mode="morphological"`` and ``stabilize=True`` keep their numpy implementations: they add
one download of the ROI probabilities, one of the masks and one upload of the ROI.

Not bit-identical to the OpenCV path: where OpenCV rounds 8-bit data in fixed point (the ROI
upsampled for the paste, frames upscaled to the working size) a pixel on a tie can fall the
other way; ``tests/test_resident.py`` states the tolerances.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.trimap import pseudo_trimap
from ..errors import InputError
from ..preprocess import IMAGENET_MEAN, IMAGENET_STD
from ..types import ObjectTrack, check_rgb_frame
from .arbiter import arbiter_inputs
from .device_ops import band_alpha, bounding_box, dilate, erode, guided_filter, resize
from .encoders import tap_tracker_features
from .heads import resize_to
from .temporal import TemporalConfig, TemporalSmoother
from .windows import snap_window, working_shape


class LearnedStage(Protocol):
    """What this module uses of :class:`~sam2matting.matting.learned.LearnedMatting` (a
    protocol: the learned head dispatches here, so this module does not import it back)."""

    net: Any
    config: Any
    device: torch.device
    temporal: Any
    arbiter: Any
    last_timings: dict[str, float]
    last_transfers: dict[str, int]
    last_coverage: float

    def _use_tracker_features(self, tracks: dict[int, ObjectTrack]) -> bool: ...

    def _roi_override(
        self, masks: np.ndarray, prob: np.ndarray, ids: list[int], frame_index: int
    ) -> np.ndarray: ...


__all__ = [
    "DeviceTemporal",
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
        # a copy also on the CPU: the caller owns the array, the device keeps its tensor
        return tensor.detach().to("cpu", copy=True).numpy()

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


class DeviceTemporal(TemporalSmoother):
    """:class:`~sam2matting.matting.temporal.TemporalSmoother` with its blend on the device and
    each object's previous alpha kept there. The optical flow stays OpenCV's (DIS on the small
    grey copy, on the host, shared by the objects); its flow and photometric-error maps go up
    once per frame (a few hundred KB), and the blend — the maps resized to the frame, the
    previous alpha warped, the three checks, the recursive average — runs on the whole frame
    (no soft-pixel box to read back: outside the box the weight is 0 anyway)."""

    def __init__(self, config: TemporalConfig | None = None) -> None:
        super().__init__(config)
        self._device_states: dict[int, tuple[int, np.ndarray, torch.Tensor]] = {}

    def reset(self) -> None:
        super().reset()
        self._device_states.clear()

    def smooth(
        self,
        ids: list[int],
        frame_index: int,
        image: np.ndarray,
        alphas: torch.Tensor,
        io: Transfers,
    ) -> torch.Tensor:
        """Steadied B×H×W ``alphas`` of objects ``ids`` on ``frame_index`` (``image``: the
        host frame, for the flow)."""
        cfg = self.config
        grey = self._grey(image)
        fields: torch.Tensor | None = None
        reach = 0
        out = []
        for k, oid in enumerate(ids):
            alpha = alphas[k]
            state = self._device_states.get(oid)
            if (
                cfg.strength > 0
                and state is not None
                and state[0] == frame_index - 1
                and state[2].shape == alpha.shape
                and state[1].shape == grey.shape
            ):
                if fields is None:  # once per frame, shared by the objects
                    flow, err = self._warp_maps(state[0], frame_index, state[1], grey)
                    both = np.concatenate([flow.transpose(2, 0, 1), err[None]])[None]
                    maps = io.upload(both.astype(np.float32))  # 1×3×gh×gw: fx, fy, error
                    h, w = alpha.shape
                    fields = _frame_fields(maps, h, w)
                    scale = max(w / flow.shape[1], h / flow.shape[0])
                    reach = 2 + int(np.ceil(float(np.abs(flow).max()) * scale))
                alpha = self._blend_tensor(alpha, state[2], fields, reach)
            self._device_states[oid] = (frame_index, grey, alpha)
            out.append(alpha)
        return torch.stack(out)

    def _blend_tensor(
        self, alpha: torch.Tensor, previous: torch.Tensor, fields: torch.Tensor, reach: int
    ) -> torch.Tensor:
        """The blend of ``TemporalSmoother._blend`` as tensor ops on the H×W frame;
        ``fields``: :func:`_frame_fields`; ``reach``: the host's margin (px) around the soft
        pixels (the box is built on the device: no read-back)."""
        cfg = self.config
        h, w = alpha.shape
        # the box of soft pixels (now, or before warping) grown by the flow's reach: the only
        # place the host blends (a warped hard edge elsewhere is left alone)
        box = bounding_box(
            ((alpha > 0.0) & (alpha < 1.0)) | ((previous > 0.002) & (previous < 0.998))
        )
        ys = torch.arange(h, device=alpha.device)[:, None]
        xs = torch.arange(w, device=alpha.device)[None, :]
        inside = (box[0] > 0) & (ys >= box[1] - reach) & (ys < box[2] + reach)
        inside = inside & (xs >= box[3] - reach) & (xs < box[4] + reach)
        # the previous alpha warped along the flow (cv2.remap, INTER_LINEAR, BORDER_REPLICATE)
        warped = _remap(previous[None, None], fields[0], fields[1])[0, 0]
        ee = fields[2]
        diff = warped - alpha
        photo = torch.exp(-torch.square(ee / cfg.photo_sigma))
        agree = (1.0 - diff.abs() / cfg.max_change).clamp_(0.0, 1.0)
        soft = ((alpha > 0.0) & (alpha < 1.0)) | ((warped > 0.002) & (warped < 0.998))
        weight = cfg.strength * photo * agree * (soft & inside)
        return (alpha + weight * diff).clamp_(0.0, 1.0)


def _frame_fields(maps: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """3×H×W: where each frame pixel came from on the previous frame (x, y; pixel units) and
    the photometric error there, from the grey grid's 1×3×gh×gw flow / error ``maps``
    (cv2.remap of the grid at (x + 0.5)·gw/w − 0.5, as ``TemporalSmoother._blend``)."""
    gh, gw = maps.shape[-2:]
    dev = maps.device
    xs = (torch.arange(w, device=dev, dtype=torch.float32) + 0.5) / (w / gw) - 0.5
    ys = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5) / (h / gh) - 0.5
    full = _remap(maps, xs[None, :].expand(h, w), ys[:, None].expand(h, w))[0]
    px = torch.arange(w, device=dev, dtype=torch.float32)[None, :] + full[0] * (w / gw)
    py = torch.arange(h, device=dev, dtype=torch.float32)[:, None] + full[1] * (h / gh)
    return torch.stack([px, py, full[2]])


def _remap(source: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """``cv2.remap(INTER_LINEAR, BORDER_REPLICATE)`` of 1×C×h×w ``source`` at pixel
    coordinates ``xs``, ``ys`` (H×W; pixel centres at integers) → 1×C×H×W."""
    h, w = source.shape[-2:]
    grid = torch.stack([xs * (2.0 / max(w - 1, 1)) - 1, ys * (2.0 / max(h - 1, 1)) - 1], dim=-1)
    return F.grid_sample(source, grid[None], "bilinear", "border", align_corners=True)


def matte_resident(
    stage: LearnedStage, image: np.ndarray, tracks: dict[int, ObjectTrack], frame_index: int
) -> dict[int, np.ndarray]:
    """``LearnedMatting.matte`` on ``stage.device`` (see module docstring): alpha per object,
    float32 H×W in [0, 1], with the temporal filter; sets ``last_timings``,
    ``last_coverage`` and ``last_transfers``."""
    io = Transfers(stage.device)
    timings = {"prepare": 0.0, "heads": 0.0, "upsample": 0.0, "refine": 0.0, "paste": 0.0}
    stage.last_timings, stage.last_transfers, stage.last_coverage = timings, io.counts, 0.0
    image = check_rgb_frame(image)
    if not tracks:
        return {}
    ids = list(tracks)
    with torch.inference_mode():
        alphas = _frame(stage, image, tracks, ids, frame_index, io, timings)
        if stage.config.temporal > 0:
            t0 = time.perf_counter()
            if not isinstance(stage.temporal, DeviceTemporal):
                stage.temporal = DeviceTemporal(stage.temporal.config)
            alphas = stage.temporal.smooth(ids, frame_index, image, alphas, io)
            timings["temporal"] = time.perf_counter() - t0
        out = io.download(alphas)
    return {oid: out[k] for k, oid in enumerate(ids)}


def _frame(
    stage: LearnedStage,
    image: np.ndarray,
    tracks: dict[int, ObjectTrack],
    ids: list[int],
    frame_index: int,
    io: Transfers,
    timings: dict[str, float],
) -> torch.Tensor:
    """The alphas of all objects of ``ids`` (B×H×W float32 on the device; zeros for an
    object whose mask is empty at the working size, as in the numpy path)."""
    from ..device import autocast_for

    t0 = time.perf_counter()
    h, w = image.shape[:2]
    dev = stage.device
    net, cfg = stage.net, stage.config
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
    # the networks under the session's autocast; the per-pixel work around them in fp32
    networks = autocast_for(dev, cfg.dtype)
    image_t = io.upload(image).permute(2, 0, 1)[None].float().div_(255.0)  # 1×3×H×W
    logits = _Logits([tracks[i] for i in ids], io)
    masks = logits.at((hw, ww)) > 0  # B×1×hw×ww, as ObjectTrack.mask(hw, ww)
    # one read of what the host needs for shapes: which objects are empty, the objects' box
    # (the network's window), the prior's band box
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
    if not keep:
        return torch.zeros((b_all, h, w), device=dev)
    obj_box = meta[b_all : b_all + 5]
    band_box = meta[b_all + 5 : b_all + 10] if band is not None else None
    if len(keep) < b_all:  # drop empty objects (slices: no index tensor to upload)
        masks = torch.cat([masks[k : k + 1] for k in keep])
        band = None if band is None else torch.cat([band[k : k + 1] for k in keep])
        feats_list = [feats_list[k] for k in keep] if use_feats else []
    b = len(keep)
    full = (0, hw, 0, ww)
    win = full
    if not use_feats and cfg.crop_margin is not None:
        win = snap_window(obj_box[1:], (hw, ww), cfg.crop_margin)
    y0, y1, x0, x1 = win
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

    with networks:
        feats = net.features(rgb, masks_w, tracker_feats)  # type: ignore[arg-type]
        roi_logits = net.roi(feats, masks_w, rgb)
    h4, w4 = hw // 4, ww // 4
    win4 = (slice(None), slice(y0 // 4, y1 // 4), slice(x0 // 4, x1 // 4))
    if cfg.roi_mode == "morphological" or (cfg.roi_mode == "learned" and cfg.stabilize):
        # ablations with numpy state / OpenCV morphology: a round trip through the host
        prob_np = np.zeros((b, h4, w4), np.float32)
        prob_np[win4] = io.download(torch.sigmoid(roi_logits.float())[:, 0])
        masks_np = io.download(masks[:, 0])
        kept_ids = [ids[k] for k in keep]
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
    with networks:
        pred = net.predictor(
            feats, trimap, rgb, None if prior is None else prior[..., y0:y1, x0:x1]
        )
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
        objects, origins = select_tiles(roi_full, h, w, rc.tile, io)
        n = int(origins.shape[0])
        stage.last_coverage = min(float(b), n * rc.tile * rc.tile / float(h * w))
        if n:
            p = rc.tile + 2 * rc.pad
            x = torch.empty((n, rc.in_channels, p, p), device=dev)
            x[:, :3] = _normalize(_gather_rgb(image_t, origins, rc.tile, rc.pad))
            c_end = 4 + rc.feature_channels
            context = torch.cat([coarse, hidden], dim=1)
            x[:, 3:c_end] = sample_tiles(context, objects, origins, rc.tile, rc.pad, (h, w))
            if prior is not None:
                x[:, c_end:] = sample_tiles(prior, objects, origins, rc.tile, rc.pad, (h, w))
            with networks:
                fine = refiner.forward_packed(x.contiguous(memory_format=torch.channels_last))
            scatter_tile_cores(alpha, fine[:, 0].float(), objects, origins, rc.tile, rc.pad)
    t4 = time.perf_counter()
    timings["refine"] = t4 - t3
    known: torch.Tensor | None = None  # the tracker's mask at the frame's size, once
    if cfg.paste_known:
        # the pseudo-trimap's known region keeps the tracker's mask at the frame's size
        inside = resize(roi_full[:, None].float(), (h, w))[:, 0] >= 0.5
        known = (logits.at((h, w), keep)[:, 0] > 0).float()
        alpha = torch.where(inside, alpha, known)
        timings["paste"] = time.perf_counter() - t4
    if cfg.edge_radius > 0:  # colour-line refinement (matting/edge_refine.py), whole frame
        t5 = time.perf_counter()
        guide = image_t.expand(alpha.shape[0], -1, -1, -1)
        r, eps = int(cfg.edge_radius), float(cfg.edge_eps)

        def colour_lines(a: torch.Tensor) -> torch.Tensor:
            refined = guided_filter(guide, a[:, None], r, eps)
            refined = torch.where(torch.isfinite(refined), refined, a[:, None])
            return refined[:, 0].clamp_(0.0, 1.0)

        alpha = colour_lines(alpha)
        timings["edges"] = time.perf_counter() - t5
        arbiter = stage.arbiter
        if arbiter is not None:  # the edge arbiter (matting/arbiter.py), whole frame
            t6 = time.perf_counter()
            if known is None:
                known = (logits.at((h, w), keep)[:, 0] > 0).float()
            crisp = colour_lines(known)
            x = arbiter_inputs(guide, alpha[:, None], crisp[:, None], known[:, None])
            arb = arbiter.blend(x)[:, 0].float().clamp_(0.0, 1.0)
            alpha = alpha + float(cfg.arbiter_strength) * (arb - alpha)
            timings["arbiter"] = time.perf_counter() - t6
    if b == b_all:
        return alpha
    out = torch.zeros((b_all, h, w), device=dev)
    for j, k in enumerate(keep):
        out[k] = alpha[j]
    return out
