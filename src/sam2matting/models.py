"""Whole official SAM2Matting checkpoints as one model: tracker + heads from one ``.pt``.

The released checkpoints (CC BY-NC-SA; Hugging Face repo ``FudanCVL/SAM2Matting``, folder
``checkpoints/``) each hold a whole tracker state dict plus the matting heads. A preset name
(``--model sam2matting-sam2.1-tiny``) resolves to the file in the local Hugging Face cache, or
downloads it when online (``HF_HUB_OFFLINE=1`` is honoured: offline, only the cache is used); a
local path works the same way. :func:`build_official` reads the file once (weights-only), checks
the heads strictly (:func:`~sam2matting.matting.weights.load_official_heads`), checks the
tracker's family and, for a preset, its variant, and only then builds the tracker
(:func:`~sam2matting.trackers.hf_load.build_from_state_dict`) — any problem is one
:class:`~sam2matting.errors.WeightsError` line naming the file, with nothing built.

The official heads run on the tracker's features with the official pipeline (the stride-2 alpha
bilinearly resized to the frame, :meth:`~sam2matting.matting.learned.LearnedMatting.matte`);
our native-resolution refiner is off (it was trained on our own encoder's features, not on
SAM 2's or SAM 3's).

SAM2Matting-SAM3.pt: its SAM 3 tracker converts into transformers' ``Sam3TrackerVideoModel``
(:mod:`~sam2matting.trackers.convert_sam3`: ViT backbone, the tracker's FPN neck, prompt encoder,
mask decoder, memory) and its heads load as for SAM 2.1. Not converted, because
``Sam3TrackerVideoModel`` has no place for them and the official SAM2Matting video predictor does
not run them: the SAM 3 detector — its own FPN neck, text encoder, DETR encoder/decoder, geometry
encoder, segmentation head and scoring (present when the file carries Meta's whole ``sam3.pt``).
So the SAM 3 model takes points, boxes and masks, not text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import WeightsError

if TYPE_CHECKING:
    from .matting.learned import LearnedMatting
    from .trackers.hf_common import HFVideoTracker

__all__ = [
    "OFFICIAL_MODELS",
    "OFFICIAL_REPO",
    "OfficialModel",
    "build_official",
    "model_status",
    "resolve_model",
]

#: the Hugging Face repository of the released checkpoints, and their folder in it
OFFICIAL_REPO = "FudanCVL/SAM2Matting"
OFFICIAL_FOLDER = "checkpoints"


@dataclass(frozen=True)
class OfficialModel:
    """A released checkpoint: ``filename`` in the repo's ``checkpoints/``; ``family`` the tracker
    it must hold ("sam2" or "sam3"); ``variant`` the SAM 2 tracker's (size, version), None for
    SAM 3 (one released size)."""

    name: str
    filename: str
    variant: tuple[str, str] | None
    description: str
    family: str = "sam2"

    @property
    def hub_path(self) -> str:
        return f"{OFFICIAL_FOLDER}/{self.filename}"


OFFICIAL_MODELS: dict[str, OfficialModel] = {
    m.name: m
    for m in (
        OfficialModel(
            "sam2matting-sam2.1-tiny",
            "SAM2Matting-SAM2.1Tiny.pt",
            ("tiny", "2.1"),
            "official SAM2Matting: SAM 2.1 Hiera-T tracker + official heads",
        ),
        OfficialModel(
            "sam2matting-sam2.1-base-plus",
            "SAM2Matting-SAM2.1Base+.pt",
            ("base-plus", "2.1"),
            "official SAM2Matting: SAM 2.1 Hiera-B+ tracker + official heads",
        ),
        OfficialModel(
            "sam2matting-sam3",
            "SAM2Matting-SAM3.pt",
            None,
            "official SAM2Matting: SAM 3 tracker (visual prompts; detector not converted) + "
            "official heads",
            family="sam3",
        ),
    )
}


def _cached(model: OfficialModel) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(OFFICIAL_REPO, model.hub_path)
    except Exception:  # malformed cache and the like: treat as absent
        return None
    return Path(found) if isinstance(found, str) else None


def resolve_model(model: str) -> tuple[Path, OfficialModel | None]:
    """A preset name or a local ``.pt`` path → (local file, preset or None).

    A preset is looked up in the Hugging Face cache first; when absent it is downloaded unless
    ``HF_HUB_OFFLINE`` is set. :class:`WeightsError` with a one-line hint otherwise.
    """
    from .trackers.weights import is_offline

    preset = OFFICIAL_MODELS.get(model)
    if preset is None:
        p = Path(model).expanduser()
        if p.is_file():
            return p, None
        if p.suffix.lower() in (".pt", ".pth") or "/" in model:
            raise WeightsError(f"checkpoint not found: {p}")
        raise WeightsError(
            f"unknown model {model!r}: use one of {', '.join(OFFICIAL_MODELS)} "
            "or a path to an official SAM2Matting .pt checkpoint"
        )
    cached = _cached(preset)
    if cached is not None and cached.is_file():
        return cached, preset
    where = f"{OFFICIAL_REPO}/{preset.hub_path}"
    if is_offline():
        raise WeightsError(
            f"{preset.name}: {preset.filename} is not in the Hugging Face cache and "
            f"HF_HUB_OFFLINE is set: run once online (downloads {where}) or pass the .pt path"
        )
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise WeightsError(
            "huggingface_hub is not installed: pip install 'sam2matting[trackers]'"
        ) from exc
    try:
        return Path(hf_hub_download(OFFICIAL_REPO, preset.hub_path)), preset
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WeightsError(f"{preset.name}: could not download {where}: {first}") from exc


def model_status(name: str) -> str:
    """Whether a preset's checkpoint is in the local cache (never touches the network)."""
    preset = OFFICIAL_MODELS[name]
    cached = _cached(preset)
    if cached is not None:
        return f"present (hub cache: {OFFICIAL_REPO}/{preset.hub_path})"
    return (
        f"absent — run once online to download {OFFICIAL_REPO}/{preset.hub_path} "
        "(CC BY-NC-SA), or pass the .pt with --model PATH"
    )


def build_official(
    model: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    tracker_options: dict[str, Any] | None = None,
    head_options: dict[str, Any] | None = None,
) -> tuple[HFVideoTracker, LearnedMatting]:
    """(tracker, matting head) from one official SAM2Matting checkpoint (preset or path).

    ``device`` / ``dtype`` (``auto`` / None: each model's default) reach both the tracker and
    the heads, as for a session's registered tracker and head (tracker / head options win).

    ``tracker_options``: as for the SAM 2 trackers (``dtype``, ``fill_hole_area``, …);
    ``head_options``: as for the ``sam2matting`` head (``roi_threshold``, ``threads``, …;
    ``weights`` is the checkpoint itself and may not be given).
    """
    from .checkpoints import read_torch_checkpoint
    from .matting.learned import LearnedMatting, LearnedMattingConfig
    from .matting.weights import load_official_heads
    from .trackers.hf_load import build_from_state_dict

    path, preset = resolve_model(model)
    head_opts = dict(head_options or {})
    if "weights" in head_opts:
        raise WeightsError("--model brings its own head weights: do not also give weights")
    state = read_torch_checkpoint(path)
    # heads first: a checkpoint without (complete) official heads fails before the tracker is built
    net = load_official_heads(state, name=path.name)
    topts = dict(tracker_options or {})
    if device is not None:
        topts.setdefault("device", device)
        head_opts.setdefault("device", device)
    if dtype is not None and dtype != "auto":
        topts.setdefault("dtype", dtype)
        head_opts.setdefault("dtype", dtype)
    # the official heads reproduce the official output: no temporal smoothing and no
    # colour-line refinement unless asked for
    head_opts.setdefault("temporal", 0.0)
    head_opts.setdefault("edge_radius", 0)
    head_opts.setdefault("arbiter", False)
    label = preset.name if preset is not None else "path"
    tracker = build_from_state_dict(
        label,
        state,
        topts,
        file_name=path.name,
        expect_variant=preset.variant if preset is not None else None,
        expect_family=preset.family if preset is not None else None,
    )
    skipped = getattr(tracker, "not_converted", "")
    if skipped:
        import logging

        logging.getLogger(__name__).info("%s: %s", path.name, skipped)
    from .device import resolve_device, resolve_dtype

    cfg = LearnedMattingConfig(weights=None, refine=False, paste_known=False, **head_opts)
    resolved = resolve_device(cfg.device)
    if cfg.dtype is not None:
        cfg.dtype = resolve_dtype(cfg.dtype, resolved)
    head = LearnedMatting(net, cfg, resolved)
    # the official heads see the tracker's own input image (SAM 3: 1008², mean/std 0.5)
    pre = tracker.backend.preprocessing
    head.official_input = (int(pre.image_size), pre.mean, pre.std)
    return tracker, head
