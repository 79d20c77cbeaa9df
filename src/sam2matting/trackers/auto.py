"""``--tracker auto``: the best tracker this machine can run without asking.

SAM 2.1-tiny when its weights are in the local Hugging Face cache, or when they can be
downloaded (the transformers stack is installed and ``HF_HUB_OFFLINE`` is not set); otherwise
the built-in tracker, with a one-line notice of what a foundation tracker would add and how to
get it. Choosing never touches the network: the cache is read with
``huggingface_hub.try_to_load_from_cache`` and offline mode from the environment.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Sam2MattingError
from .base import Tracker

__all__ = ["AUTO_FOUNDATION_TRACKER", "TrackerChoice", "build_auto", "choose_tracker"]

log = logging.getLogger("sam2matting")

#: the foundation tracker ``auto`` prefers: the smallest SAM 2.1 (39 M parameters)
AUTO_FOUNDATION_TRACKER = "sam2.1-hiera-tiny"


@dataclass(frozen=True)
class TrackerChoice:
    """The registry name ``auto`` resolves to, and a one-line notice for the user (or None)."""

    name: str
    notice: str | None = None


def _stack_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("transformers", "huggingface_hub"))


def choose_tracker() -> TrackerChoice:
    """Resolve ``auto`` (see the module docstring); never touches the network."""
    from .weights import hub_id_for, is_offline, weights_status

    name = AUTO_FOUNDATION_TRACKER
    hub_id = hub_id_for(name)
    if not _stack_installed():
        return TrackerChoice(
            "builtin",
            f"tracker: built-in (weight-free). {name} follows objects through fast motion and "
            f"occlusion far better: pip install 'sam2matting[trackers]' and run once online "
            f"(downloads {hub_id}), or pass --tracker builtin to silence this",
        )
    if weights_status(name).startswith("present"):
        return TrackerChoice(name)
    if not is_offline():
        return TrackerChoice(name, f"tracker: {name} (downloading {hub_id} once)")
    return TrackerChoice(
        "builtin",
        f"tracker: built-in (weight-free; offline and no {name} weights cached). {name} follows "
        f"objects through fast motion and occlusion far better: run once online (downloads "
        f"{hub_id}), or pass --tracker builtin to silence this",
    )


def build_auto(build: Callable[[str], Tracker]) -> Tracker:
    """The tracker ``auto`` resolves to, made by ``build(name)`` (the caller's way of building a
    registered tracker, with its options); logs the notice. A foundation tracker that fails to
    load (:class:`~sam2matting.errors.Sam2MattingError`) falls back to the built-in one."""
    choice = choose_tracker()
    if choice.notice:
        log.info("%s", choice.notice)
    if choice.name != "builtin":
        try:
            return build(choice.name)
        except Sam2MattingError as exc:
            log.info("tracker auto: %s; using the built-in tracker", exc)
    return build("builtin")
