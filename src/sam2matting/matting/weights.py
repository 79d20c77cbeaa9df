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
``unknown_fusion``, ``unknown_alpha_predictor`` and ``alpha_pred1..3``.
:func:`convert_official_heads` maps those names onto :func:`~.learned.paper_config`.

**The official key layout is inferred** from the paper's description of the layers (see
``ARCHITECTURE.md``: 3×3 conv + BN + ReLU blocks held in ``nn.Sequential``s, so a block's
convolution is index ``3m`` and its BatchNorm ``3m + 1``) and is tested on a state dict
synthesised with those names and shapes, not on a real checkpoint:

====================================================  =========================================
official key                                           ours
====================================================  =========================================
``unknown_region_predictor.{i}.{3m,3m+1}.*``           ``roi.branches.{i}.{m}.{conv,bn}.*``
``unknown_fusion.{3m,3m+1}.*`` (m = 0, 1)              ``roi.fusion.{m}.{conv,bn}.*``
``unknown_fusion.6.{weight,bias}``                     ``roi.out.*`` (1×1 → 1 logit)
``unknown_alpha_predictor.{k}.{3m,3m+1}.*``            ``predictor.stages.{k}.body.{m}.{conv,bn}.*``
``alpha_pred{k+1}.{0,1}.*``                            ``predictor.stages.{k}.head.block.{conv,bn}.*``
``alpha_pred{k+1}.3.{weight,bias}``                    ``predictor.stages.{k}.head.out.*``
====================================================  =========================================

(``i`` = 0, 1, 2 for strides 4, 8, 16; ``k`` = 0, 1, 2 for the stages at strides 8, 4, 2;
block 0 of each stage body is the 4×4 stride-2 transposed convolution.) A checkpoint whose
head keys follow another layout fails loudly (unexpected keys), and only this function needs
to change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WeightsError, checkpoint_reason, one_line

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .learned import SAM2MattingNet

__all__ = [
    "DEFAULT_WEIGHTS",
    "OFFICIAL_HEAD_PREFIXES",
    "SHIPPED",
    "ShippedWeights",
    "check_state_dict",
    "convert_official_heads",
    "expand_input_channels",
    "load_network",
    "load_official_heads",
    "load_state_dict_strict",
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
DEFAULT_WEIGHTS = "compact-guided-v2"


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


def check_state_dict(
    expected: Mapping[str, Any], state: Mapping[str, Any], what: str = "weights"
) -> None:
    """Raise WeightsError unless ``state`` has exactly ``expected``'s keys and shapes."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        problems.append(f"{len(shapes)} with the wrong shape (e.g. {shapes[0]})")
    if problems:
        raise WeightsError(f"{what} do not match the network: " + "; ".join(problems))


def load_state_dict_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], what: str = "weights"
) -> None:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped key → WeightsError.

    Tensors are cast to the module's dtypes (shipped files are float16).
    """
    own = module.state_dict()
    check_state_dict(own, state, what)
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


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
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"cannot read weights file {path}: {one_line(exc)}") from exc
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
_SEQ = re.compile(r"^(\d+)\.(.+)$")


def _block(index: int, rest: str, key: str) -> str:
    """Sequential index 3m → block m's conv, 3m + 1 → its BatchNorm (ReLU holds no weights)."""
    m, t = divmod(index, 3)
    if t == 0:
        return f"{m}.conv.{rest}"
    if t == 1:
        return f"{m}.bn.{rest}"
    raise WeightsError(f"official checkpoint key {key!r} does not follow the conv/BN/ReLU layout")


def convert_official_heads(state: Mapping[str, Any]) -> dict[str, Any]:
    """Official SAM2Matting head keys → this package's names (see the module docstring).

    Keys outside the head modules (the tracker's own weights) are dropped; a head key that does
    not fit the layout raises :class:`WeightsError`. A leading ``module.`` (DataParallel) or
    ``model.`` prefix is tolerated.
    """
    out: dict[str, Any] = {}
    for raw_key, value in state.items():
        key = raw_key
        for pre in ("module.", "model."):
            if key.startswith(pre):
                key = key[len(pre) :]
        head = next((p for p in OFFICIAL_HEAD_PREFIXES if key.startswith(p + ".")), None)
        if head is None:
            continue
        rest = key[len(head) + 1 :]
        if head == "unknown_region_predictor":
            mm = re.match(r"^(\d+)\.(\d+)\.(.+)$", rest)
            if not mm:
                raise WeightsError(f"unexpected official ROI key {raw_key!r}")
            out[f"roi.branches.{mm[1]}." + _block(int(mm[2]), mm[3], raw_key)] = value
        elif head == "unknown_fusion":
            mm = _SEQ.match(rest)
            if not mm:
                raise WeightsError(f"unexpected official fusion key {raw_key!r}")
            idx = int(mm[1])
            if idx == 6:
                out[f"roi.out.{mm[2]}"] = value
            else:
                out["roi.fusion." + _block(idx, mm[2], raw_key)] = value
        elif head == "unknown_alpha_predictor":
            mm = re.match(r"^(\d+)\.(\d+)\.(.+)$", rest)
            if not mm:
                raise WeightsError(f"unexpected official alpha-predictor key {raw_key!r}")
            out[f"predictor.stages.{mm[1]}.body." + _block(int(mm[2]), mm[3], raw_key)] = value
        else:  # alpha_pred1..3
            k = int(head[-1]) - 1
            mm = _SEQ.match(rest)
            if not mm:
                raise WeightsError(f"unexpected official alpha head key {raw_key!r}")
            idx = int(mm[1])
            if idx == 3:
                out[f"predictor.stages.{k}.head.out.{mm[2]}"] = value
            elif idx in (0, 1):
                part = "conv" if idx == 0 else "bn"
                out[f"predictor.stages.{k}.head.block.{part}.{mm[2]}"] = value
            else:
                raise WeightsError(f"unexpected official alpha head key {raw_key!r}")
    if not out:
        raise WeightsError(
            "no SAM2Matting head weights found (expected keys under "
            + ", ".join(OFFICIAL_HEAD_PREFIXES)
            + ")"
        )
    return out


def load_official_heads(
    checkpoint: str | Path | Mapping[str, Any], refiner: bool = False
) -> SAM2MattingNet:
    """The paper-config network with an official checkpoint's heads loaded strictly.

    ``checkpoint``: a path to ``SAM2Matting-*.pt`` (a state dict, possibly under ``"model"``
    or ``"state_dict"``) or an already loaded mapping. The tracker part of the checkpoint is
    ignored here (the tracker loads it). ``refiner=True`` keeps an identity-initialised native
    refiner (which then changes nothing until trained).
    """
    import torch

    from .learned import SAM2MattingNet, paper_config

    if isinstance(checkpoint, Mapping):
        state: Mapping[str, Any] = checkpoint
    else:
        p = Path(checkpoint).expanduser()
        if not p.is_file():
            raise WeightsError(f"official checkpoint not found: {p}")
        try:
            state = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(
                f"cannot read official checkpoint {p}: {checkpoint_reason(exc)}"
            ) from exc
    for nested in ("model", "state_dict"):
        inner = state.get(nested) if isinstance(state, Mapping) else None
        if isinstance(inner, Mapping):
            state = inner
            break
    converted = convert_official_heads(state)
    net = SAM2MattingNet(paper_config(refiner=refiner))
    # strict against the head modules only (the encoder/refiner are not in official files)
    heads = {k: v for k, v in net.state_dict().items() if k.startswith(("roi.", "predictor."))}
    check_state_dict(heads, converted, what="official SAM2Matting head weights")
    for name in ("roi", "predictor"):
        sub = {k[len(name) + 1 :]: v for k, v in converted.items() if k.startswith(name + ".")}
        load_state_dict_strict(getattr(net, name), sub, what="official SAM2Matting head weights")
    return net
