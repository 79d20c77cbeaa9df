"""Weights of the learned matting network: shipped registry, strict loading, checksums, and the
named conversion from official SAM2Matting checkpoints.

Shipped weights live in ``sam2matting/weights/<name>.safetensors`` with a manifest
``<name>.json`` next to them (network config, training data and split, command, seed, commit,
and the file's sha256). :func:`load_network` builds the network from the manifest's config
(random init, no I/O), verifies the checksum, then loads the tensors with
:func:`load_state_dict_strict` — any missing, unexpected or mis-shaped key is a
:class:`~sam2matting.errors.WeightsError`.

Official checkpoints (``SAM2Matting-SAM2.1Tiny.pt`` etc., CC BY-NC-SA, users bring their own)
hold a whole tracker state dict plus the head modules ``unknown_region_predictor``,
``unknown_fusion``, ``unknown_alpha_predictor`` and ``alpha_pred1..3`` (``torch.save({"model":
state_dict})``). :func:`convert_official_heads` maps those names onto :func:`~.learned.
paper_config`, read from the official code (FudanCVL/SAM2Matting,
``sam2/modeling/sam2matting_base.py``): ``nn.ModuleDict`` objects keyed ``scale_64/128/256`` holding
``Sequential`` objects of (conv with bias, BatchNorm, ReLU) triples, so a block's convolution is
index ``3m`` and its BatchNorm ``3m + 1``:

=====================================================  =========================================
official key                                            ours
=====================================================  =========================================
``unknown_region_predictor.scale_{64,128,256}.{3m,3m+1}.*``  ``roi.branches.{0,1,2}.{m}.{conv,bn}.*``
``unknown_fusion.{3m,3m+1}.*`` (m = 0, 1)               ``roi.fusion.{m}.{conv,bn}.*``
``unknown_fusion.6.*`` (1×1 → 1 logit)                  ``roi.out.*``
``unknown_alpha_predictor.scale_{64,128,256}.{3m,3m+1}.*``  ``predictor.stages.{0,1,2}.body.{m}.{conv,bn}.*``
``alpha_pred{k+1}.{0,1}.*``                             ``predictor.stages.{k}.head.block.{conv,bn}.*``
``alpha_pred{k+1}.3.*``                                 ``predictor.stages.{k}.head.out.*``
=====================================================  =========================================

Note the two meanings of ``scale_64``: in the ROI detector it is the stride-4 branch (64² on a
256² mask grid), in the alpha predictor the stride-16 stage (its output is 64² on a 1024²
input). Block 0 of each predictor stage is the 4×4 stride-2 transposed convolution. The
conformance test reproduces the official code's outputs from
``../shared/fixtures/official-sam2matting-heads/`` (random weights) to float rounding.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints import (
    check_state_dict,
    load_state_dict_strict,
    read_safetensors,
    read_torch_checkpoint,
)
from ..errors import WeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .learned import LearnedMatting, SAM2MattingNet

__all__ = [
    "DEFAULT_WEIGHTS",
    "OFFICIAL_HEAD_PREFIXES",
    "SHIPPED",
    "ShippedWeights",
    "build_learned_head",
    "check_state_dict",
    "convert_official_heads",
    "expand_input_channels",
    "is_official_head_key",
    "load_network",
    "load_official_heads",
    "load_state_dict_strict",
    "official_heads_from_ours",
    "read_manifest",
    "save_weights",
    "sha256_file",
    "weights_dir",
]

#: module names of the heads inside an official SAM2Matting checkpoint
OFFICIAL_HEAD_PREFIXES = (
    "unknown_region_predictor",
    "unknown_fusion",
    "unknown_alpha_predictor",
    "alpha_pred1",
    "alpha_pred2",
    "alpha_pred3",
)


@dataclass(frozen=True)
class ShippedWeights:
    """A weights file shipped inside the package: ``<stem>.safetensors`` + ``<stem>.json``."""

    name: str
    stem: str
    description: str

    @property
    def path(self) -> Path:
        return weights_dir() / f"{self.stem}.safetensors"

    @property
    def manifest_path(self) -> Path:
        return weights_dir() / f"{self.stem}.json"


SHIPPED: dict[str, ShippedWeights] = {
    "compact-v1": ShippedWeights(
        "compact-v1",
        "sam2matting-compact-v1",
        "own compact encoder + bridge + progressive heads + native refiner, trained on CPU "
        "on composites of the training split and synthetic foregrounds",
    ),
    "compact-guided-v2": ShippedWeights(
        "compact-guided-v2",
        "sam2matting-compact-guided-v2",
        "compact-v1 widened to also see the guided filter's alpha (hybrid heads), fine-tuned "
        "from it on CPU with the same data",
    ),
    "compact-guided-v3": ShippedWeights(
        "compact-guided-v3",
        "sam2matting-compact-guided-v3",
        "compact-guided-v2 fine-tuned on CPU with hard-edged, wire and glass foregrounds and "
        "an alpha-gradient loss, so hard edges stay hard and thin threads are kept",
    ),
}

#: what ``weights="default"`` means
DEFAULT_WEIGHTS = "compact-guided-v3"


def weights_dir() -> Path:
    """The package's ``weights/`` folder (shipped safetensors + manifests)."""
    return Path(__file__).resolve().parent.parent / "weights"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The JSON manifest next to a weights file; :class:`WeightsError` if absent or invalid."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights manifest not found: {p}")
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights manifest is not valid JSON: {p}") from exc
    if not isinstance(data, dict) or "config" not in data or "sha256" not in data:
        raise WeightsError(f"weights manifest lacks 'config' or 'sha256': {p}")
    return data


def expand_input_channels(
    module: nn.Module, state: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Adapt ``state`` to ``module`` where a layer gained input channels at the end (the hybrid
    heads' prior): the old weights fill the leading slice and the new channels start at zero,
    so the adapted network computes exactly what the old one did. Everything else must match
    (:func:`check_state_dict`). Returns the adapted state and the names that were widened.
    Used by fine-tuning (``train --init-from``), never by inference loading.
    """
    import torch

    own = module.state_dict()
    out: dict[str, torch.Tensor] = {}
    widened: list[str] = []
    for key, value in state.items():
        target = own.get(key)
        if target is None or tuple(target.shape) == tuple(value.shape):
            out[key] = value
            continue
        diff = [d for d in range(value.ndim) if value.shape[d] != target.shape[d]]
        if (
            value.ndim != target.ndim
            or len(diff) != 1
            or value.shape[diff[0]] > target.shape[diff[0]]
        ):
            out[key] = value  # left for check_state_dict to report
            continue
        grown = torch.zeros(tuple(target.shape), dtype=value.dtype)
        grown.narrow(diff[0], 0, value.shape[diff[0]]).copy_(value)
        out[key] = grown
        widened.append(key)
    check_state_dict(own, out, "initial weights")
    return out, widened


def _resolve_weights_file(weights: str) -> tuple[Path, Path]:
    name = DEFAULT_WEIGHTS if weights == "default" else weights
    if name in SHIPPED:
        entry = SHIPPED[name]
        return entry.path, entry.manifest_path
    p = Path(weights).expanduser()
    if p.suffix == ".safetensors":
        return p, p.with_suffix(".json")
    raise WeightsError(
        f"unknown weights {weights!r}: use one of {', '.join(['default', *SHIPPED])}, "
        "a .safetensors file with its .json manifest, or an official SAM2Matting .pt checkpoint"
    )


def load_network(weights: str | None = "default", model: str = "compact") -> SAM2MattingNet:
    """Build the network and load its weights (strict, checksum-verified).

    ``weights``: ``"default"`` / a shipped name → the packaged file; a ``.safetensors`` path →
    that file with its ``.json`` manifest; a ``.pt``/``.pth`` path → an official SAM2Matting
    checkpoint into the paper config; ``None`` → random init of the ``model`` config
    (``"compact"`` or ``"paper"``), for tests and training.
    """
    from .learned import SAM2MattingNet, config_from_dict, model_presets

    if weights is None:
        presets = model_presets()
        if model not in presets:
            raise WeightsError(
                f"unknown model config {model!r}; choose one of {', '.join(presets)}"
            )
        return SAM2MattingNet(presets[model]())
    if Path(weights).suffix in (".pt", ".pth"):
        return load_official_heads(weights)
    path, manifest_path = _resolve_weights_file(weights)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    manifest = read_manifest(manifest_path)
    digest = sha256_file(path)
    if digest != manifest["sha256"]:
        raise WeightsError(
            f"checksum mismatch for {path.name}: file sha256 {digest[:12]}… but the manifest "
            f"says {str(manifest['sha256'])[:12]}… (corrupt or replaced file)"
        )
    net = SAM2MattingNet(config_from_dict(manifest["config"]))
    state = read_safetensors(path)
    load_state_dict_strict(net, state, what=f"weights {path.name}")
    return net


def save_weights(
    net: nn.Module,
    path: str | Path,
    config: dict[str, Any],
    info: dict[str, Any],
    half: bool = True,
) -> dict[str, Any]:
    """Write ``net``'s state dict as safetensors (float16 when ``half``) and its manifest JSON.

    ``config``: the network config dict; ``info``: data / split / command / seed / commit …
    Returns the manifest (which includes the file's sha256 and parameter count).
    """
    import torch
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in net.state_dict().items():
        t = v.detach().cpu()
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        state[k] = t.contiguous()
    save_file(state, str(p))
    manifest = {
        "format": "sam2matting-weights/1",
        "file": p.name,
        "sha256": sha256_file(p),
        "bytes": p.stat().st_size,
        "dtype": "float16" if half else "float32",
        "parameters": sum(int(t.numel()) for t in net.parameters()),
        "config": config,
        **info,
    }
    p.with_suffix(".json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


# --------------------------------------------------------------------------------------------
# official checkpoints
# --------------------------------------------------------------------------------------------
#: ModuleDict key → our branch / stage index (ROI: strides 4, 8, 16; predictor: stages 1–3)
_SCALES = {"scale_64": 0, "scale_128": 1, "scale_256": 2}
_SCALE_NAMES = {v: k for k, v in _SCALES.items()}
_TRIPLE = re.compile(r"^(\d+)\.(.+)$")
_SCALED = re.compile(r"^(scale_\d+)\.(\d+)\.(.+)$")
_OURS = [
    (re.compile(r"^roi\.branches\.(\d)\.(\d+)\.(conv|bn)\.(.+)$"), "roi_branch"),
    (re.compile(r"^roi\.fusion\.(\d+)\.(conv|bn)\.(.+)$"), "fusion"),
    (re.compile(r"^roi\.out\.(.+)$"), "fusion_out"),
    (re.compile(r"^predictor\.stages\.(\d)\.body\.(\d+)\.(conv|bn)\.(.+)$"), "stage"),
    (re.compile(r"^predictor\.stages\.(\d)\.head\.block\.(conv|bn)\.(.+)$"), "head"),
    (re.compile(r"^predictor\.stages\.(\d)\.head\.out\.(.+)$"), "head_out"),
]


def _block(index: int, rest: str) -> str | None:
    """Sequential index 3m → block m's conv, 3m + 1 → its BatchNorm (ReLU holds no weights)."""
    m, t = divmod(index, 3)
    return f"{m}.conv.{rest}" if t == 0 else f"{m}.bn.{rest}" if t == 1 else None


def _official_key_to_ours(key: str) -> str | None:
    """One official head key → ours, or None when it does not fit the official layout."""
    head = next((p for p in OFFICIAL_HEAD_PREFIXES if key.startswith(p + ".")), None)
    if head is None:
        return None
    rest = key[len(head) + 1 :]
    if head in ("unknown_region_predictor", "unknown_alpha_predictor"):
        mm = _SCALED.match(rest)
        if not mm or mm[1] not in _SCALES:
            return None
        block = _block(int(mm[2]), mm[3])
        if block is None:
            return None
        i = _SCALES[mm[1]]
        if head == "unknown_region_predictor":
            return f"roi.branches.{i}.{block}"
        return f"predictor.stages.{i}.body.{block}"
    mm = _TRIPLE.match(rest)
    if not mm:
        return None
    idx = int(mm[1])
    if head == "unknown_fusion":
        if idx == 6:
            return f"roi.out.{mm[2]}"
        block = _block(idx, mm[2]) if idx < 6 else None
        return None if block is None else f"roi.fusion.{block}"
    k = int(head[-1]) - 1  # alpha_pred1..3
    if idx == 3:
        return f"predictor.stages.{k}.head.out.{mm[2]}"
    if idx in (0, 1):
        return f"predictor.stages.{k}.head.block.{'conv' if idx == 0 else 'bn'}.{mm[2]}"
    return None


def _strip_wrappers(key: str) -> str:
    # "tracker.": SAM2Matting-SAM3.pt keeps its heads inside Meta's SAM 3 tracker module
    for pre in ("module.", "model.", "tracker."):
        if key.startswith(pre):
            key = key[len(pre) :]
    return key


def is_official_head_key(key: str) -> bool:
    """Whether ``key`` belongs to one of the official head modules (:data:`OFFICIAL_HEAD_PREFIXES`)."""
    return key.split(".", 1)[0] in OFFICIAL_HEAD_PREFIXES


def convert_official_heads(state: Mapping[str, Any], name: str = "checkpoint") -> dict[str, Any]:
    """Official SAM2Matting head keys → this package's names (see the module docstring).

    Keys outside the head modules (the tracker's own weights) are dropped; a head key that does
    not fit the official layout raises :class:`WeightsError` (strict: nothing is guessed). A
    leading ``module.`` / ``model.`` prefix is tolerated, and ``tracker.`` (the SAM 3 file).
    """
    out: dict[str, Any] = {}
    bad: list[str] = []
    for raw_key, value in state.items():
        key = _strip_wrappers(raw_key)
        if not is_official_head_key(key):
            continue
        ours = _official_key_to_ours(key)
        if ours is None:
            bad.append(raw_key)
        else:
            out[ours] = value
    if bad:
        raise WeightsError(
            f"{name}: {len(bad)} head key(s) do not follow the official SAM2Matting layout "
            f"(e.g. {', '.join(bad[:3])})"
        )
    if not out:
        raise WeightsError(
            f"{name}: no SAM2Matting head weights (expected keys under "
            + ", ".join(OFFICIAL_HEAD_PREFIXES)
            + "): neither an official SAM2Matting checkpoint nor heads of ours"
        )
    return out


def official_heads_from_ours(state: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`convert_official_heads`: our ``roi.*`` / ``predictor.*`` keys of a
    :func:`~.learned.paper_config` network → the official layout (to synthesise official
    checkpoints in tests and to export). Other keys (encoder, refiner) raise WeightsError."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        found = [(m, kind) for m, kind in ((p.match(key), k) for p, k in _OURS) if m is not None]
        if not found:
            raise WeightsError(f"{key!r} has no counterpart in the official SAM2Matting heads")
        mm, kind = found[0]
        if kind == "roi_branch" or kind == "stage":
            idx = 3 * int(mm[2]) + (0 if mm[3] == "conv" else 1)
            mod = "unknown_region_predictor" if kind == "roi_branch" else "unknown_alpha_predictor"
            out[f"{mod}.{_SCALE_NAMES[int(mm[1])]}.{idx}.{mm[4]}"] = value
        elif kind == "fusion":
            idx = 3 * int(mm[1]) + (0 if mm[2] == "conv" else 1)
            out[f"unknown_fusion.{idx}.{mm[3]}"] = value
        elif kind == "fusion_out":
            out[f"unknown_fusion.6.{mm[1]}"] = value
        elif kind == "head":
            out[f"alpha_pred{int(mm[1]) + 1}.{0 if mm[2] == 'conv' else 1}.{mm[3]}"] = value
        else:
            out[f"alpha_pred{int(mm[1]) + 1}.3.{mm[2]}"] = value
    return out


def load_official_heads(
    checkpoint: str | Path | Mapping[str, Any], refiner: bool = False, name: str | None = None
) -> SAM2MattingNet:
    """The paper-config network with an official checkpoint's heads loaded strictly.

    ``checkpoint``: a path to ``SAM2Matting-*.pt`` (read safely: weights-only) or an already
    loaded state dict. The tracker part of the checkpoint is ignored here (the tracker loads
    it). Every head key must be there with the official shape, and no unknown head key may be
    present: otherwise a one-line :class:`WeightsError` and nothing is loaded. The returned
    network is in eval mode; :meth:`~.learned.SAM2MattingNet.official_forward` runs the
    official computation. ``refiner=True`` adds an identity-initialised native refiner (it
    changes nothing until trained; the official pipeline does not run it).
    """
    from .learned import SAM2MattingNet, paper_config

    if isinstance(checkpoint, Mapping):
        name = name or "official checkpoint"
        state: Mapping[str, Any] = checkpoint
        for nested in ("model", "state_dict"):
            inner = state.get(nested)
            if isinstance(inner, Mapping):
                state = inner
                break
    else:
        name = name or Path(checkpoint).name
        state = read_torch_checkpoint(checkpoint)
    converted = convert_official_heads(state, name)
    net = SAM2MattingNet(paper_config(refiner=refiner))
    # strict against the head modules only (the encoder/refiner are not in official files);
    # everything is checked before anything is copied
    heads = {k: v for k, v in net.state_dict().items() if k.startswith(("roi.", "predictor."))}
    # name missing keys as the file would hold them (the official names, not ours)
    present = {_strip_wrappers(k) for k in state if is_official_head_key(_strip_wrappers(k))}
    missing = sorted(set(official_heads_from_ours(heads)) - present)
    if missing:
        raise WeightsError(
            f"{name}: {len(missing)} official SAM2Matting head key(s) missing "
            f"(e.g. {', '.join(missing[:3])})"
        )
    check_state_dict(heads, converted, what=f"{name}: official SAM2Matting head weights")
    for part in ("roi", "predictor"):
        sub = {k[len(part) + 1 :]: v for k, v in converted.items() if k.startswith(part + ".")}
        load_state_dict_strict(getattr(net, part), sub, what=f"{name}: head weights")
    return net.eval()


def build_learned_head(
    *, device: str | None = None, dtype: str | None = None, **options: Any
) -> LearnedMatting:
    """Registry builder for the ``sam2matting`` head: options as :class:`LearnedMattingConfig`
    (``device`` / ``dtype`` named, so the session's device and dtype always reach it:
    sam2matting.api). Lives here, not in :mod:`.learned`, so learned never imports weights."""

    import torch

    from ..device import resolve_device, resolve_dtype
    from ..options import check_head_options
    from .learned import LearnedMatting, LearnedMattingConfig

    check_head_options("sam2matting", LearnedMattingConfig, options, exclude=("timings",))
    cfg = LearnedMattingConfig(device=device, dtype=dtype, **options)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    resolved = resolve_device(cfg.device)
    if cfg.dtype is not None:
        cfg.dtype = resolve_dtype(cfg.dtype, resolved)
    net = load_network(cfg.weights, model=cfg.model)
    return LearnedMatting(net, cfg, resolved)
