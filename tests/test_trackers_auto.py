"""``--tracker auto``: SAM 2.1-tiny when its weights are here or downloadable, else built-in.

Offline only: choosing reads the local cache and the environment, never the network.
"""

from __future__ import annotations

import logging

import numpy as np

from sam2matting import MattingSession
from sam2matting.trackers import auto, weights


def test_offline_without_cached_weights_picks_builtin_with_a_notice(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(weights, "weights_status", lambda name: "absent — run once online")
    choice = auto.choose_tracker()
    assert choice.name == "builtin"
    assert choice.notice is not None and "\n" not in choice.notice
    assert "sam2.1-hiera-tiny" in choice.notice and "--tracker builtin" in choice.notice


def test_cached_weights_pick_sam21_tiny(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(auto, "_stack_installed", lambda: True)
    monkeypatch.setattr(weights, "weights_status", lambda name: "present (hub cache: x)")
    assert auto.choose_tracker() == auto.TrackerChoice("sam2.1-hiera-tiny")


def test_online_with_the_stack_picks_sam21_tiny_to_download(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(auto, "_stack_installed", lambda: True)
    monkeypatch.setattr(weights, "weights_status", lambda name: "absent")
    choice = auto.choose_tracker()
    assert choice.name == "sam2.1-hiera-tiny" and "download" in (choice.notice or "")


def test_without_the_transformers_stack_it_is_builtin(monkeypatch) -> None:
    monkeypatch.setattr(auto, "_stack_installed", lambda: False)
    choice = auto.choose_tracker()
    assert choice.name == "builtin" and "sam2matting[trackers]" in (choice.notice or "")


def test_session_default_is_auto_and_falls_back_offline(monkeypatch, caplog) -> None:
    monkeypatch.setattr(weights, "weights_status", lambda name: "absent")
    frames = [np.zeros((32, 48, 3), np.uint8)] * 2
    with (
        caplog.at_level(logging.INFO, logger="sam2matting"),
        MattingSession(frames, head="guided") as session,
    ):
        assert session.tracker.name == "builtin"
    assert "tracker: built-in" in caplog.text


def test_a_failed_foundation_build_falls_back_to_builtin(monkeypatch, caplog) -> None:
    monkeypatch.setattr(
        auto, "choose_tracker", lambda: auto.TrackerChoice("sam2.1-hiera-tiny", None)
    )
    from sam2matting.errors import WeightsError
    from sam2matting.trackers import registry

    real = registry.build_tracker

    def failing(name, **options):
        if name == "sam2.1-hiera-tiny":
            raise WeightsError("weights for sam2.1-hiera-tiny not found offline")
        return real(name, **options)

    monkeypatch.setattr("sam2matting.api.build_tracker", failing)
    frames = [np.zeros((32, 48, 3), np.uint8)] * 2
    with (
        caplog.at_level(logging.INFO, logger="sam2matting"),
        MattingSession(frames, head="guided") as session,
    ):
        assert session.tracker.name == "builtin"
    assert "not found offline" in caplog.text


def test_the_registry_resolves_auto_too(monkeypatch, caplog) -> None:
    # `sam2matting eval --tracker auto` builds trackers through the registry, not the API
    from sam2matting.trackers.registry import build_tracker

    monkeypatch.setattr(weights, "weights_status", lambda name: "absent")
    with caplog.at_level(logging.INFO, logger="sam2matting"):
        assert build_tracker("auto").name == "builtin"
    assert "tracker: built-in" in caplog.text
    # the chosen tracker gets the options
    monkeypatch.setattr(auto, "choose_tracker", lambda: auto.TrackerChoice("oracle", None))
    masks = [np.zeros((4, 4), np.uint8)]
    assert build_tracker("auto", masks=masks).name == "oracle"
