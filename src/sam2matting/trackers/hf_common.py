"""Shared machinery for the transformers-based foundation trackers (SAM2, SAM2.1, EdgeTAM, SAM3).

The Hugging Face processors need torchvision, which this project must not install, so the
pre-processing is done here by hand:

* frames are resized (bilinear, antialiased) to the model's square input (1024² for SAM2 and
  EdgeTAM, 1008² for SAM3) and normalised with the model's mean/std;
* point and box coordinates are scaled from frame pixels to that square;
* mask prompts are resized to the square and binarised at 0.5 (as the official predictors do);
* the low-resolution mask logits the model predicts (256² for SAM2, 288² for SAM3) are returned
  as they are; :meth:`~sam2matting.types.ObjectTrack.probability` upsamples them to the frame.

The session drives the model's own per-frame methods (``_run_single_frame_inference``,
``_encode_new_memory``) on the model's own inference-session class, but owns the bookkeeping:
which objects are active on a frame, which frames condition the memory, and - unlike the
transformers session, which keeps every frame's outputs - it prunes everything the model can no
longer attend to, so memory does not grow with clip length (see :meth:`HFTrackerSession.memory_stats`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PromptError, Sam2MattingError
from ..preprocess import meta_model_input
from ..types import (
    Box,
    MaskPrompt,
    ObjectTrack,
    Points,
    Prompt,
    TextPrompt,
    TrackedFrame,
    check_rgb_frame,
    validate_prompt,
)
from .base import propagation_end

if TYPE_CHECKING:
    import torch

    from ..io.readers import FrameSource

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FramePrompt",
    "HFTrackerSession",
    "HFVideoTracker",
    "Preprocessing",
    "TrackerBackend",
    "attention_backends",
    "autocast_dtype",
    "fill_small_holes",
    "mask_to_model_input",
    "preprocess_frame",
    "prune_outputs",
    "scale_points",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: SAM3 normalises to [-1, 1] (mean 0.5, std 0.5), unlike SAM2's ImageNet statistics.
HALF_MEAN = (0.5, 0.5, 0.5)
HALF_STD = (0.5, 0.5, 0.5)

#: clamp for mask logits fed back into the decoder as a dense prompt (as the official predictor)
_PREV_LOGITS_CLAMP = 32.0
#: output keys the memory never reads again once a frame has been emitted
_TRANSIENT_KEYS = ("high_res_masks",)
_MEMORY_KEYS = ("maskmem_features", "maskmem_pos_enc")


#: how frames are resized to the model's square input: ``"pil-bicubic"`` is Meta's SAM 2 / 2.1
#: predictor (PIL's bicubic resize of the uint8 image, then / 255: the model input is
#: identical); ``"bilinear-antialias"`` resizes the float image with torch (kept for SAM3)
RESIZE_MODES = ("pil-bicubic", "bilinear-antialias")


@dataclass(frozen=True)
class Preprocessing:
    """How frames reach the model: square ``image_size`` input, per-channel ``mean``/``std``
    (0..1 scale), ``resize`` one of :data:`RESIZE_MODES`."""

    image_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    resize: str = "pil-bicubic"


def preprocess_frame(frame: np.ndarray, pre: Preprocessing, device: torch.device) -> torch.Tensor:
    """H×W×3 uint8 RGB frame → 1×3×S×S float32 tensor on ``device`` (S = ``pre.image_size``).

    The frame is resized without keeping its aspect ratio (as SAM2/SAM3 do), then scaled to
    0..1 and normalised with ``pre.mean`` / ``pre.std``. ``pre.resize == "pil-bicubic"``
    (SAM 2 / 2.1 / EdgeTAM) does what Meta's video predictor does — PIL's bicubic resize of the
    uint8 frame, division by 255 in float64, float32 normalisation — so the model input is
    bit-identical (≈ 5 ms per 1080p frame on one CPU core); ``"bilinear-antialias"`` resizes the
    float frame with torch (on the device).
    """
    import torch
    import torch.nn.functional as F

    arr = check_rgb_frame(frame)
    size = pre.image_size
    if pre.resize == "pil-bicubic":
        return meta_model_input(arr, size, pre.mean, pre.std, device)
    if pre.resize == "bilinear-antialias":
        # antialiased resizing is not implemented on every backend (MPS): resize there on the CPU
        work = device if device.type != "mps" else torch.device("cpu")
        t = torch.from_numpy(arr).to(work).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        if t.shape[-2:] != (size, size):
            t = F.interpolate(
                t, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        t = t.to(device)
    else:
        raise ValueError(f"unknown resize mode {pre.resize!r}; choose one of {RESIZE_MODES}")
    mean = torch.tensor(pre.mean, device=device, dtype=t.dtype).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=device, dtype=t.dtype).view(1, 3, 1, 1)
    return (t - mean) / std


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Meta's ``fill_holes_in_mask_scores`` on the CPU: background components (logits <= 0,
    8-connected) of at most ``max_area`` pixels get the logit 0.1 (foreground).

    ``logits``: …×H×W mask logits (any leading dims; the 256² low-res grid in practice). Meta
    labels components with a CUDA kernel (skipped with a warning where it is not built, e.g. on
    every CPU); this uses OpenCV's connected components, ≈ 0.1–0.3 ms per object per frame on a
    256² grid. Returns a new tensor (the input is left alone); ``max_area <= 0`` returns it as is.
    """
    import cv2
    import torch

    if max_area <= 0:
        return logits
    flat = logits.detach().reshape(-1, *logits.shape[-2:])
    background = (flat <= 0).cpu().numpy().astype(np.uint8)
    fill = np.zeros(background.shape, bool)
    for k in range(background.shape[0]):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(background[k], connectivity=8)
        if n <= 1:
            continue
        small = stats[:, cv2.CC_STAT_AREA] <= max_area
        small[0] = False  # label 0 is the foreground here
        fill[k] = small[labels]
    if not fill.any():
        return logits
    holes = torch.from_numpy(fill).to(logits.device).reshape(logits.shape)
    return torch.where(holes, torch.tensor(0.1, dtype=logits.dtype, device=logits.device), logits)


def scale_points(
    coords: np.ndarray | list[tuple[float, float]], width: int, height: int, image_size: int
) -> np.ndarray:
    """(x, y) frame pixels → (x, y) in the model's ``image_size``² input; returns N×2 float32."""
    pts = np.asarray(coords, dtype=np.float32).reshape(-1, 2).copy()
    pts[:, 0] *= image_size / float(width)
    pts[:, 1] *= image_size / float(height)
    return pts


def mask_to_model_input(mask: np.ndarray, image_size: int, device: torch.device) -> torch.Tensor:
    """Binary H×W mask → 1×1×S×S float32 tensor of {0, 1}, resized (antialiased) and cut at 0.5."""
    import torch
    import torch.nn.functional as F

    work = device if device.type != "mps" else torch.device("cpu")
    t = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)).to(work)[None, None]
    if t.shape[-2:] != (image_size, image_size):
        t = F.interpolate(
            t, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )
    return (t >= 0.5).float().to(device)


def autocast_dtype(dtype: str | None, device: torch.device) -> torch.dtype | None:
    """Resolve the compute dtype option once: ``None``/"auto" → bf16 on CUDA (fp16 when bf16 is not
    supported), float32 elsewhere; "float32"/"bfloat16"/"float16" as named. Returns the autocast
    dtype, or None for plain float32."""
    import torch

    name = (dtype or "auto").lower()
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
    name = aliases.get(name, name)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if name == "float32":
        return None
    if name == "bfloat16":
        return torch.bfloat16
    if name == "float16":
        if device.type == "cpu":
            raise Sam2MattingError("dtype float16 is not supported on CPU; use float32 or bfloat16")
        return torch.float16
    raise Sam2MattingError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")


@dataclass
class FramePrompt:
    """Everything one object was told on one frame, in frame pixels.

    ``coords``/``labels``: box corners first (labels 2, 3) then clicks (1 positive, 0 negative);
    ``mask``: a binary H×W mask (then there are no points). ``dirty``: not yet applied.
    """

    coords: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    mask: np.ndarray | None = None
    dirty: bool = True
    #: when the frame got its first prompt in the session (prompts are applied in this order)
    order: int = 0

    def add(self, prompt: Points | Box | MaskPrompt) -> None:
        """Points are appended to the frame's clicks (keeping a box); a box replaces the box and
        clicks; a mask replaces everything."""
        if isinstance(prompt, MaskPrompt):
            self.coords, self.labels, self.mask = [], [], np.asarray(prompt.mask, dtype=bool)
        elif isinstance(prompt, Box):
            self.coords = [(prompt.x0, prompt.y0), (prompt.x1, prompt.y1)]
            self.labels = [2, 3]
            self.mask = None
        else:
            if self.mask is not None:
                self.mask = None  # clicks on a frame that had a mask start a fresh point prompt
            self.coords = [*self.coords, *prompt.coords]
            self.labels = [*self.labels, *prompt.labels]
        self.dirty = True


class TrackerBackend:
    """Adapter between the session and one transformers video model family.

    Subclasses set ``model`` (the tracker video model: Sam2VideoModel, EdgeTamVideoModel or
    Sam3TrackerVideoModel), ``session_class`` (its inference-session class), ``preprocessing``
    and ``inline_memory`` (EdgeTAM encodes memory inside ``_run_single_frame_inference``), and
    may override :meth:`encode` when the vision features come from elsewhere (SAM3's detector).
    """

    model: Any
    session_class: type
    preprocessing: Preprocessing
    inline_memory: bool = False
    family: str = "sam2"

    @property
    def module(self) -> Any:
        """The top-level torch module holding every weight (moved to the device, set to eval)."""
        return self.model

    @property
    def image_size(self) -> int:
        return int(self.preprocessing.image_size)

    @property
    def feature_sizes(self) -> list[tuple[int, int]]:
        """Spatial sizes of the three FPN levels fed to the mask decoder (high → low resolution)."""
        return [tuple(s) for s in self.model.backbone_feature_sizes]  # type: ignore[misc]

    @property
    def num_maskmem(self) -> int:
        return int(self.model.num_maskmem)

    @property
    def max_object_pointers(self) -> int:
        return int(self.model.config.max_object_pointers_in_encoder)

    def encode(self, pixel_values: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """1×3×S×S → (vision_feats, vision_pos_embeds): three (HW, 1, C) tensors each, high → low res.

        Levels 0 and 1 are already projected by the mask decoder's ``conv_s0``/``conv_s1`` (32 and
        64 channels for SAM2); level 2 is the 256-channel stride-16 map (no memory added).
        """
        out = self.model.get_image_features(pixel_values, return_dict=True)
        return list(out.fpn_hidden_states), list(out.fpn_position_encoding)

    def new_inference_session(
        self, num_frames: int, device: torch.device, dtype: torch.dtype
    ) -> Any:
        """The model's own inference-session object, told the clip length (no frames stored)."""
        cls = _bounded_session_class(self.session_class)
        return cls(
            num_frames=num_frames,
            inference_device=device,
            inference_state_device=device,
            video_storage_device=device,
            dtype=dtype,
            max_vision_features_cache_size=1,
        )


_BOUNDED_CLASSES: dict[type, type] = {}


def _bounded_session_class(base: type) -> type:
    """Subclass of a transformers inference session that knows the clip length without holding
    its frames (the frames stream from the FrameSource; only the current one's features are cached)."""
    cls = _BOUNDED_CLASSES.get(base)
    if cls is None:

        def __init__(self: Any, num_frames: int, **kwargs: Any) -> None:
            base.__init__(self, **kwargs)  # type: ignore[misc]
            self._clip_num_frames = int(num_frames)

        def num_frames(self: Any) -> int:
            return int(self._clip_num_frames)

        def get_frame(self: Any, frame_idx: int) -> Any:  # pragma: no cover - guarded by the cache
            raise RuntimeError(f"frame {frame_idx} features were not cached before inference")

        cls = type(
            f"Bounded{base.__name__}",
            (base,),
            {"__init__": __init__, "num_frames": property(num_frames), "get_frame": get_frame},
        )
        _BOUNDED_CLASSES[base] = cls
    return cls


class HFVideoTracker:
    """A foundation video tracker backed by a transformers model (weights already loaded).

    ``name``: registry name; ``backend``: the model adapter; ``device``: where it runs;
    ``dtype``: "auto" (bf16 autocast on CUDA, float32 elsewhere), "float32", "bfloat16" or
    "float16"; ``return_features``: attach the per-frame FPN features to every ObjectTrack.
    ``head_state_dict``: matting-head weights found in an official SAM2Matting checkpoint (else None).
    ``fill_hole_area``: fill background holes of at most this many pixels in the low-res mask
    logits, as Meta's video predictor does (:func:`fill_small_holes`; 8 for SAM 2 / 2.1 /
    EdgeTAM as in Meta's ``build_sam2_video_predictor``, 0 = off). ``memory_bfloat16``: round
    the memory features through bfloat16 as Meta's video predictor stores them (SAM 2 / 2.1).
    """

    provides_features = True
    prompt_types: tuple[type, ...] = (Points, Box, MaskPrompt)

    def __init__(
        self,
        name: str,
        backend: TrackerBackend,
        *,
        device: torch.device,
        dtype: str | None = "auto",
        return_features: bool = True,
        head_state_dict: dict[str, Any] | None = None,
        fill_hole_area: int = 0,
        memory_bfloat16: bool = False,
    ) -> None:
        self.name = name
        self.fill_hole_area = int(fill_hole_area)
        self.memory_bfloat16 = bool(memory_bfloat16)
        self.backend = backend
        self.device = device
        self.amp_dtype = autocast_dtype(dtype, device)
        self.return_features = bool(return_features)
        self.provides_features = self.return_features
        self.head_state_dict = head_state_dict
        module = backend.module
        module.to(device)
        module.eval()
        module.requires_grad_(False)

    @property
    def image_size(self) -> int:
        """Side of the square model input in pixels (1024 SAM2/EdgeTAM, 1008 SAM3)."""
        return self.backend.image_size

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of the features keyed by nominal stride (32/64/256 for real SAM2 models)."""
        dec = self.backend.model.mask_decoder
        return {
            4: int(dec.conv_s0.out_channels),
            8: int(dec.conv_s1.out_channels),
            16: int(self.backend.model.hidden_dim),
        }

    def open(self, source: FrameSource) -> HFTrackerSession:
        """Start a session over ``source`` (not closed by the session)."""
        return HFTrackerSession(self, source)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Half-precision autocast (when chosen) plus, on CUDA, the attention-backend pin of
        :func:`attention_backends`."""
        import torch

        stack = contextlib.ExitStack()
        if self.device.type == "cuda":
            stack.enter_context(attention_backends())
        if self.amp_dtype is not None:
            stack.enter_context(torch.autocast(device_type=self.device.type, dtype=self.amp_dtype))
        return stack


def attention_backends() -> contextlib.AbstractContextManager[Any]:
    """Pin CUDA scaled-dot-product attention to flash / memory-efficient kernels (math as the
    fallback), never cuDNN's.

    Why: measured on an H200 (``shared/notes/gpu-h200-profile.md``), SAM 2.1-tiny in bf16 spent
    86 ms per 1080p frame for 11 ms of GPU work: PyTorch picks the cuDNN backend for half
    precision, and cuDNN builds a new execution plan, ~1.5 ms of host time per call, whenever
    the sequence length changes — and the memory attention's length grows with the memory bank
    every frame (351 calls per frame). Flash / efficient attention have no per-shape plan.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(
        [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    )


@dataclass
class _FrameOutput:
    """One object's result on one frame, as handed to the caller."""

    pred_masks: torch.Tensor
    object_score_logits: torch.Tensor


class HFTrackerSession:
    """Tracker session over one FrameSource; see :class:`~sam2matting.trackers.base.TrackerSession`.

    Semantics on top of the protocol:

    * every prompted frame becomes a *conditioning* frame of its object, decoded once: before the
      next pass, whatever its direction or start, in the order the prompts were given
      (:meth:`_apply_prompts`), and attended by every later pass in both directions (SAM 2's
      memory reads all conditioning frames). An object's first prompted frame starts it without
      memory (as SAM2's first click); a prompt on any other frame of the object is a
      *correction*: the object is tracked onto that frame from its nearest conditioning frame,
      with the conditioning frames as the only memory, and the clicks are decoded with that
      memory and the tracked mask as a dense prompt (as the official predictor decodes clicks on
      a tracked frame). So a correction means the same whether the next pass runs forward or
      backward, and wherever it starts, and a session rebuilt from the same prompts (same
      order) gives the same result;
    * mask prompts are taken as the object's mask on that frame (SAM2's "mask as output");
    * each pass starts with an empty recent-frame memory (conditioning frames persist across passes),
      so a pass's output does not depend on which passes ran before it, except via prompts.
    """

    def __init__(self, tracker: HFVideoTracker, source: FrameSource) -> None:
        import torch

        self._tracker = tracker
        self._backend = tracker.backend
        self._source = source
        info = source.info
        self._width, self._height, self._num_frames = info.width, info.height, info.num_frames
        self._prompts: dict[int, dict[int, FramePrompt]] = {}
        self._hf = self._backend.new_inference_session(
            self._num_frames, tracker.device, torch.float32
        )
        self._pass_id = 0
        self._closed = False
        self._peak_non_cond = 0
        self._prompt_count = 0

    # ------------------------------------------------------------------ protocol
    @property
    def object_ids(self) -> list[int]:
        return sorted(self._prompts)

    def add_prompt(self, prompt: Prompt) -> None:
        self._check_open()
        if isinstance(prompt, TextPrompt):
            raise PromptError(
                f"tracker {self._tracker.name} has no text detector; use points, a box or a mask (text needs --tracker sam3)"
            )
        if not isinstance(prompt, (Points, Box, MaskPrompt)):
            raise PromptError(f"unsupported prompt type {type(prompt).__name__}")
        validate_prompt(prompt, self._width, self._height, self._num_frames)
        frames = self._prompts.setdefault(prompt.object_id, {})
        if prompt.frame not in frames:
            self._prompt_count += 1
            frames[prompt.frame] = FramePrompt(order=self._prompt_count)
        fp = frames[prompt.frame]
        fp.add(prompt)
        # a stale conditioning output would otherwise keep steering the memory until re-run
        obj_idx = self._hf.obj_id_to_idx(prompt.object_id)
        self._hf.output_dict_per_obj[obj_idx]["cond_frame_outputs"].pop(prompt.frame, None)

    def propagate(
        self, start_frame: int, *, reverse: bool = False, end_frame: int | None = None
    ) -> Iterator[TrackedFrame]:
        self._check_open()
        end_frame = self._check_range(start_frame, reverse, end_frame)
        if not self._prompts:
            raise PromptError("add a prompt before propagating")
        self._pass_id += 1
        return self._run_pass(self._pass_id, start_frame, end_frame, reverse)

    def _check_range(self, start_frame: int, reverse: bool, end_frame: int | None) -> int:
        """Validate a propagation range; returns the end frame (default: the clip's end)."""
        return propagation_end(start_frame, reverse, end_frame, self._num_frames)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pass_id += 1
        self._prompts.clear()
        self._hf = None

    # ------------------------------------------------------------------ diagnostics
    def memory_stats(self) -> dict[str, int]:
        """Counts of what the session holds now (to prove bounded memory): conditioning outputs,
        recent-frame outputs, cached feature frames, and the peak recent-frame count seen."""
        if self._hf is None:
            return {
                "cond_outputs": 0,
                "non_cond_outputs": 0,
                "cached_frames": 0,
                "peak_non_cond": 0,
            }
        cond = sum(len(d["cond_frame_outputs"]) for d in self._hf.output_dict_per_obj.values())
        non = sum(len(d["non_cond_frame_outputs"]) for d in self._hf.output_dict_per_obj.values())
        return {
            "cond_outputs": cond,
            "non_cond_outputs": non,
            "cached_frames": len(self._hf.cache._vision_features),
            "peak_non_cond": self._peak_non_cond,
        }

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._closed:
            raise Sam2MattingError("tracker session is closed")

    def _run_pass(
        self, pass_id: int, start: int, end: int, reverse: bool
    ) -> Iterator[TrackedFrame]:
        import torch

        with torch.inference_mode():
            self._apply_prompts()
            self._clear_recent()
            tracked: set[int] = set()
            frames = (
                self._source.iter_frames_reverse(start, end)
                if reverse
                else self._source.iter_frames(start, end + 1)
            )
            for index, frame in frames:
                if pass_id != self._pass_id:
                    return  # a newer propagate() or close() superseded this pass
                image = check_rgb_frame(frame)
                objects = self._step(index, image, reverse, tracked)
                self._prune(index, reverse)
                yield TrackedFrame(index=index, image=image, objects=objects)

    def _active(self, frame: int, reverse: bool) -> list[int]:
        """Objects with a prompt on this frame or earlier in the direction of travel."""
        out = []
        for obj_id in sorted(self._prompts):
            frames = self._prompts[obj_id]
            if any((f >= frame) if reverse else (f <= frame) for f in frames):
                out.append(obj_id)
        return out

    def _apply_prompts(self) -> None:
        """Decode every prompt not applied yet, before a pass, in the order the prompts were
        given (frames are read once each): the result does not depend on the pass's direction
        or start (see the class docstring). Objects prompted on the same frame in a row share
        its encoding and memory step."""
        todo = sorted(
            (fp.order, obj_id, f)
            for obj_id, frames in self._prompts.items()
            for f, fp in frames.items()
            if fp.dirty
        )
        groups: list[tuple[int, list[int]]] = []
        for _, obj_id, f in todo:
            if groups and groups[-1][0] == f and obj_id not in groups[-1][1]:
                groups[-1][1].append(obj_id)
            else:
                groups.append((f, [obj_id]))
        self._clear_recent()
        for f, objs in groups:
            image = check_rgb_frame(self._source.read_frame(f))
            self._encode_frame(f, image)
            with self._tracker.autocast():
                results: list[tuple[int, dict[str, Any], bool]] = []
                for obj_id in objs:
                    obj_idx = self._hf.obj_id_to_idx(obj_id)
                    fp = self._prompts[obj_id][f]
                    out = self._condition(obj_idx, f, fp)
                    out = self._store(obj_idx, f, out, conditioning=True)
                    fp.dirty = False
                    results.append((obj_idx, out, True))
                self._encode_memories(f, results)
            self._clear_recent()
            self._strip_transient()

    def _encode_frame(
        self, index: int, image: np.ndarray
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        pixels = preprocess_frame(image, self._backend.preprocessing, self._tracker.device)
        with self._tracker.autocast():
            feats, pos = self._backend.encode(pixels)
        self._hf.cache.clear_all()
        self._hf.cache.cache_vision_features(
            index, {"vision_feats": feats, "vision_pos_embeds": pos}
        )
        return feats, pos

    def _point_inputs(self, fp: FramePrompt) -> dict[str, torch.Tensor] | None:
        import torch

        if not fp.coords:
            return None
        pts = scale_points(fp.coords, self._width, self._height, self._backend.image_size)
        dev = self._tracker.device
        return {
            "point_coords": torch.from_numpy(pts).to(dev)[None, None],  # 1×1×N×2
            "point_labels": torch.tensor(fp.labels, dtype=torch.int32, device=dev)[None, None],
        }

    def _run(self, obj_idx: int, frame: int, **kwargs: Any) -> dict[str, Any]:
        model = self._backend.model
        if self._backend.inline_memory:
            kwargs.setdefault("run_mem_encoder", False)
        return dict(
            model._run_single_frame_inference(
                inference_session=self._hf,
                frame_idx=frame,
                obj_idx=obj_idx,
                batch_size=1,
                streaming=False,
                **kwargs,
            )
        )

    def _anchor(self, obj_idx: int, frame: int) -> int | None:
        """The object's nearest other conditioning frame (ties: the earlier one), or None."""
        cond = self._hf.output_dict_per_obj[obj_idx]["cond_frame_outputs"]
        others = [f for f in cond if f != frame]
        return min(others, key=lambda f: (abs(f - frame), f)) if others else None

    def _condition(self, obj_idx: int, frame: int, fp: FramePrompt) -> dict[str, Any]:
        """Decode a prompted frame; the result becomes a conditioning output."""
        inline = {"run_mem_encoder": True} if self._backend.inline_memory else {}
        if fp.mask is not None:
            mask = mask_to_model_input(fp.mask, self._backend.image_size, self._tracker.device)
            return self._run(
                obj_idx,
                frame,
                is_init_cond_frame=True,
                point_inputs=None,
                mask_inputs=mask,
                reverse=False,
                **inline,
            )
        points = self._point_inputs(fp)
        anchor = self._anchor(obj_idx, frame)
        if anchor is None:
            return self._run(
                obj_idx,
                frame,
                is_init_cond_frame=True,
                point_inputs=points,
                mask_inputs=None,
                reverse=False,
                **inline,
            )
        # A correction: track the object onto the frame from its nearest conditioning frame, with
        # the conditioning frames as the only memory (recent frames of a pass in flight are set
        # aside), then decode the clicks with that memory and the tracked mask as a dense prompt
        # (the official predictor's behaviour on an already-tracked frame). Direction and memory
        # depend on the prompts only, never on the pass that applies them.
        reverse = anchor > frame
        store = self._hf.output_dict_per_obj[obj_idx]
        recent = store["non_cond_frame_outputs"]
        store["non_cond_frame_outputs"] = {}
        try:
            tracked = self._run(
                obj_idx,
                frame,
                is_init_cond_frame=False,
                point_inputs=None,
                mask_inputs=None,
                reverse=reverse,
            )
            # Meta stores the hole-filled logits and feeds those back
            prev = fill_small_holes(tracked["pred_masks"].float(), self._tracker.fill_hole_area)
            prev = prev.clamp(-_PREV_LOGITS_CLAMP, _PREV_LOGITS_CLAMP)
            prev = prev.reshape(1, 1, *prev.shape[-2:])
            return self._run(
                obj_idx,
                frame,
                is_init_cond_frame=False,
                point_inputs=points,
                mask_inputs=None,
                reverse=reverse,
                prev_sam_mask_logits=prev,
                **inline,
            )
        finally:
            store["non_cond_frame_outputs"] = recent

    def _step(
        self,
        index: int,
        image: np.ndarray,
        reverse: bool,
        tracked: set[int],
        encoded: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
        features: dict[int, torch.Tensor] | None = None,
    ) -> dict[int, ObjectTrack]:
        """Track every active object on one frame. ``encoded``: the frame's vision features when
        another model already computed them (SAM3's detector), else they are computed here;
        ``features``: the head features already extracted from them (shared, not copied again)."""
        cached = self._hf.cache.get_vision_features(index) if encoded is None else None
        if cached is not None:
            # the last prompt frame _apply_prompts encoded (often the pass's first frame)
            feats = cached["vision_feats"]
        elif encoded is None:
            feats, _ = self._encode_frame(index, image)
        else:
            feats, pos = encoded
            self._hf.cache.clear_all()
            self._hf.cache.cache_vision_features(
                index, {"vision_feats": feats, "vision_pos_embeds": pos}
            )
        active = self._active(index, reverse)
        outputs: dict[int, _FrameOutput] = {}
        to_encode: list[tuple[int, dict[str, Any], bool]] = []
        with self._tracker.autocast():
            for obj_id in active:
                obj_idx = self._hf.obj_id_to_idx(obj_id)
                store = self._hf.output_dict_per_obj[obj_idx]
                fp = self._prompts[obj_id].get(index)
                if fp is not None and fp.dirty:
                    # a prompt given while this pass was running (others were applied before it)
                    out = self._condition(obj_idx, index, fp)
                    store["non_cond_frame_outputs"].pop(index, None)
                    out = self._store(obj_idx, index, out, conditioning=True)
                    fp.dirty = False
                    to_encode.append((obj_idx, out, True))
                elif index in store["cond_frame_outputs"]:
                    out = store["cond_frame_outputs"][index]
                else:
                    out = self._run(
                        obj_idx,
                        index,
                        is_init_cond_frame=False,
                        point_inputs=None,
                        mask_inputs=None,
                        reverse=reverse,
                        **({"run_mem_encoder": True} if self._backend.inline_memory else {}),
                    )
                    out = self._store(obj_idx, index, out, conditioning=False)
                    to_encode.append((obj_idx, out, False))
                outputs[obj_id] = _FrameOutput(out["pred_masks"], out["object_score_logits"])
                tracked.add(obj_id)
            self._encode_memories(index, to_encode)
        if features is None and self._tracker.return_features:
            features = self._features(feats)
        result: dict[int, ObjectTrack] = {}
        for obj_id, fo in outputs.items():
            logits = fo.pred_masks.float().reshape(-1, *fo.pred_masks.shape[-2:])[0]
            logits = fill_small_holes(logits, self._tracker.fill_hole_area)
            score = float(fo.object_score_logits.float().reshape(-1)[0].sigmoid())
            result[obj_id] = ObjectTrack(
                logits=logits.cpu().numpy().astype(np.float32, copy=False),
                features=features,
                score=score,
            )
        return result

    def _store(
        self, obj_idx: int, frame: int, out: dict[str, Any], *, conditioning: bool
    ) -> dict[str, Any]:
        """Store an output in the model's session; returns the stored dict (a copy the session owns)."""
        self._hf.store_output(obj_idx, frame, output_value=out, is_conditioning_frame=conditioning)
        key = "cond_frame_outputs" if conditioning else "non_cond_frame_outputs"
        stored: dict[str, Any] = self._hf.output_dict_per_obj[obj_idx][key][frame]
        return stored

    def _encode_memories(self, index: int, items: list[tuple[int, dict[str, Any], bool]]) -> None:
        """Memory-encode this frame's new outputs, objects batched (one call per binarisation mode)."""
        import torch

        if self._backend.inline_memory or not items:
            return
        model = self._backend.model
        feats = self._hf.cache.get_vision_features(index)["vision_feats"][-1]
        for from_prompt in (True, False):
            group = [(i, o) for i, o, p in items if p is from_prompt]
            if not group:
                continue
            if from_prompt:
                # as Meta's predictor (propagate_in_video_preflight): prompted frames are encoded
                # from their stored low-res logits — hole-filled — upsampled bilinearly
                import torch.nn.functional as F

                size = tuple(group[0][1]["high_res_masks"].shape[-2:])
                masks = torch.cat(
                    [
                        F.interpolate(
                            fill_small_holes(
                                o["pred_masks"].float().reshape(-1, 1, *o["pred_masks"].shape[-2:]),
                                self._tracker.fill_hole_area,
                            ),
                            size=size,
                            mode="bilinear",
                            align_corners=False,
                        )
                        .reshape(o["high_res_masks"].shape)
                        .to(o["high_res_masks"].dtype)
                        for _, o in group
                    ],
                    dim=0,
                )
            else:
                masks = torch.cat([o["high_res_masks"] for _, o in group], dim=0)
            scores = torch.cat([o["object_score_logits"] for _, o in group], dim=0)
            mem, pos = model._encode_new_memory(
                current_vision_feats=feats.expand(-1, len(group), -1),
                pred_masks_high_res=masks,
                object_score_logits=scores,
                is_mask_from_pts=from_prompt,
            )
            if self._tracker.memory_bfloat16:
                # Meta's video predictor stores memory features in bfloat16 (and reads them
                # back into float32 arithmetic): round them the same way
                mem = mem.to(torch.bfloat16).to(mem.dtype)
            for k, (_, out) in enumerate(group):
                out["maskmem_features"] = mem[:, k : k + 1]
                out["maskmem_pos_enc"] = pos[:, k : k + 1]

    def _features(self, feats: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        """The frame's FPN features for the heads: {4: (C,h,w), 8: …, 16: …}, float32, no memory."""
        out: dict[int, torch.Tensor] = {}
        for stride, f, (h, w) in zip((4, 8, 16), feats, self._backend.feature_sizes):
            # (HW, 1, C) → (C, h, w); clone so the session's cache does not keep it alive
            out[stride] = f[:, 0, :].permute(1, 0).reshape(-1, h, w).float().clone()
        return out

    def _clear_recent(self) -> None:
        for store in self._hf.output_dict_per_obj.values():
            store["non_cond_frame_outputs"].clear()

    def _strip_transient(self) -> None:
        for store in self._hf.output_dict_per_obj.values():
            for out in store["cond_frame_outputs"].values():
                for key in _TRANSIENT_KEYS:
                    out.pop(key, None)

    def _prune(self, index: int, reverse: bool) -> None:
        """Drop what the model can no longer attend to after ``index`` (see :func:`prune_outputs`)."""
        total = prune_outputs(
            self._hf, index, reverse, self._backend.num_maskmem, self._backend.max_object_pointers
        )
        self._peak_non_cond = max(self._peak_non_cond, total)


def prune_outputs(
    hf_session: Any, index: int, reverse: bool, num_maskmem: int, max_pointers: int
) -> int:
    """Free the per-frame outputs a transformers video session no longer needs after frame ``index``.

    The next frame reads spatial memories from the ``num_maskmem - 1`` frames before it and object
    pointers from the ``max_pointers - 1`` frames before it (in the direction of travel), plus the
    conditioning frames. Older recent-frame outputs are deleted, memories older than the memory
    window are dropped from those kept for their pointers, and the full-resolution masks that only
    the memory encoder needed are freed. Also trims ``frames_tracked_per_obj`` (which transformers
    grows by one entry per frame). Returns the number of recent-frame outputs kept.
    """
    keep_mem = max(num_maskmem - 2, 0)
    keep_ptr = max(max_pointers - 2, keep_mem)
    total = 0
    for store in hf_session.output_dict_per_obj.values():
        recent = store["non_cond_frame_outputs"]
        for f in list(recent):
            dist = (f - index) if reverse else (index - f)
            if dist < 0 or dist > keep_ptr:
                del recent[f]
                continue
            out = recent[f]
            out.pop("pred_masks", None)
            for key in _TRANSIENT_KEYS:
                out.pop(key, None)
            if dist > keep_mem:
                for key in _MEMORY_KEYS:
                    out.pop(key, None)
        total += len(recent)
        for out in store["cond_frame_outputs"].values():
            for key in _TRANSIENT_KEYS:
                out.pop(key, None)
    for tracked in getattr(hf_session, "frames_tracked_per_obj", {}).values():
        for f in list(tracked):
            dist = (f - index) if reverse else (index - f)
            if dist < 0 or dist > keep_ptr:
                del tracked[f]
    return total
