"""Where foundation-tracker weights come from, whether they are here, and loading them.

Weights are never downloaded by tests. A registry name maps to a Hugging Face model id; loading
tries the local hub cache first, then (unless ``HF_HUB_OFFLINE`` is set) the hub. A local folder
(a transformers model directory) or an official checkpoint file (``.pt``, see
:mod:`~sam2matting.trackers.convert`) can be passed instead. Importing this module is free.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, WeightsError

__all__ = [
    "TRACKER_WEIGHTS",
    "hub_id_for",
    "is_offline",
    "load_pretrained",
    "missing_weights_message",
    "weights_status",
]

#: registry name → Hugging Face model id (transformers layout)
TRACKER_WEIGHTS: dict[str, str] = {
    "sam2-hiera-tiny": "facebook/sam2-hiera-tiny",
    "sam2-hiera-small": "facebook/sam2-hiera-small",
    "sam2-hiera-base-plus": "facebook/sam2-hiera-base-plus",
    "sam2-hiera-large": "facebook/sam2-hiera-large",
    "sam2.1-hiera-tiny": "facebook/sam2.1-hiera-tiny",
    "sam2.1-hiera-small": "facebook/sam2.1-hiera-small",
    "sam2.1-hiera-base-plus": "facebook/sam2.1-hiera-base-plus",
    "sam2.1-hiera-large": "facebook/sam2.1-hiera-large",
    "edgetam": "yonigozlan/EdgeTAM-hf",
    "sam3": "facebook/sam3",
}

#: repos that need the licence accepted on huggingface.co before the first download
_GATED = {"facebook/sam3"}

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def hub_id_for(name: str) -> str:
    """The Hugging Face id for a registry name (a name that looks like an id is returned as is)."""
    return TRACKER_WEIGHTS.get(name, name)


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(v, "").strip().lower() in truthy
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def missing_weights_message(name: str, hub_id: str | None = None) -> str:
    """One line saying how to get the weights for ``name``."""
    hub_id = hub_id or hub_id_for(name)
    gated = (
        " (accept its licence on huggingface.co and `hf auth login` first)"
        if hub_id in _GATED
        else ""
    )
    if is_offline():
        return (
            f"weights for {name} not found offline: run once online (downloads {hub_id}){gated} "
            f"or pass a local folder/.pt with --tracker PATH"
        )
    return (
        f"weights for {name} could not be downloaded from {hub_id}{gated}: check the network, "
        f"or pass a local folder/.pt with --tracker PATH"
    )


def weights_status(name: str) -> str:
    """Whether the weights for a registered tracker (or a hub id / local path) are here.

    Never touches the network: it looks in the local Hugging Face cache only. Returns e.g.
    ``"present (hub cache: facebook/sam2.1-hiera-tiny)"`` or ``"absent — …how to get them…"``.
    """
    if name not in TRACKER_WEIGHTS and Path(name).exists():
        return f"present (local path {name})"
    if name not in TRACKER_WEIGHTS and "/" not in name:
        return (
            "user-supplied — pass a local transformers folder or official .pt with --tracker PATH"
        )
    hub_id = hub_id_for(name)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - depends on the environment
        return "absent — huggingface_hub is not installed: pip install 'sam2matting[trackers]'"
    gated = " (gated: accept its licence on huggingface.co first)" if hub_id in _GATED else ""
    try:
        config = try_to_load_from_cache(hub_id, "config.json")
    except Exception:  # malformed ids and the like
        config = None
    if not isinstance(config, str):
        return (
            f"absent — run once online to download {hub_id}{gated}, "
            f"or pass a local folder/.pt with --tracker PATH"
        )
    for filename in _WEIGHT_FILES:
        found = try_to_load_from_cache(hub_id, filename)
        if isinstance(found, str):
            return f"present (hub cache: {hub_id})"
    return f"incomplete — the {hub_id} config is cached but not its weights: run once online"


def load_pretrained(model_cls: Any, source: str | Path, *, name: str, **kwargs: Any) -> Any:
    """``model_cls.from_pretrained`` from a local folder or a hub id, with one-line errors.

    A hub id is looked up in the local cache first; the hub is asked only when that fails and
    ``HF_HUB_OFFLINE`` is not set. Raises :class:`WeightsError` with a hint when nothing loads.
    """
    try:
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "transformers is not installed; install it with: pip install 'sam2matting[trackers]'"
        ) from exc
    path = Path(source)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise WeightsError(f"{path} has no config.json: not a transformers model folder")
        try:
            return model_cls.from_pretrained(str(path), **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise WeightsError(f"could not load {name} from {path}: {_first_line(exc)}") from exc
    hub_id = str(source)
    try:
        return model_cls.from_pretrained(hub_id, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        if is_offline():
            raise WeightsError(missing_weights_message(name, hub_id)) from exc
    reachable, reason = hub_reachable()
    if not reachable:
        # huggingface_hub would retry for ~30 s before failing the same way
        raise WeightsError(
            f"weights for {name} are not in the local cache and the hub is unreachable "
            f"({reason}): connect once to download {hub_id}, set HF_HUB_OFFLINE=1 to skip the "
            f"check, or pass a local folder/.pt with --tracker PATH"
        )
    try:
        return model_cls.from_pretrained(hub_id, **kwargs)
    except (OSError, ValueError) as exc:
        raise WeightsError(missing_weights_message(name, hub_id)) from exc


#: seconds to wait for a TCP connection to the hub before calling it unreachable
HUB_CONNECT_TIMEOUT_S = 3.0


def hub_reachable(timeout: float = HUB_CONNECT_TIMEOUT_S) -> tuple[bool, str]:
    """Whether a TCP connection to the Hugging Face endpoint (``HF_ENDPOINT``, default
    huggingface.co:443) opens within ``timeout`` seconds; with the reason when it does not.
    One connection attempt, no request: enough to fail fast with no network."""
    import socket
    from urllib.parse import urlsplit

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    host = parts.hostname or "huggingface.co"
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:
        return False, f"bad HF_ENDPOINT {endpoint!r}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as exc:
        return False, f"{host}:{port}: {exc.strerror or exc.__class__.__name__}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
