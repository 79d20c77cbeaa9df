"""Issue 11: optional ``torch.compile`` of a session's networks (``--compile``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam2matting import compiling
from sam2matting.cli import main
from sam2matting.samples import make_sample_clip, write_sample_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _learned_head(**options: object):
    from sam2matting.matting.weights import build_learned_head

    return build_learned_head(device="cpu", weights=None, model="tiny-guided", **options)


def test_compile_wraps_the_learned_head_networks_lazily() -> None:
    """torch.compile is lazy: wrapping costs nothing until the first frame."""
    head = _learned_head()
    done = compiling.compile_models(object(), head)
    assert done == ["head.encoder", "head.roi", "head.predictor", "head.forward_packed"]
    assert type(head.net.encoder).__name__ == "OptimizedModule"


def test_compile_leaves_models_without_networks_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from sam2matting.matting.guided_head import build_guided
    from sam2matting.trackers.registry import build_tracker

    monkeypatch.setattr(compiling, "find_compiler", lambda: None)  # not even needed then
    assert compiling.compile_models(build_tracker("builtin"), build_guided()) == []


def test_compile_without_a_compiler_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_sample_clip(96, 64, 2, fps=24)
    video = write_sample_video(clip, tmp_path / "in.mp4")
    monkeypatch.setattr(compiling, "find_compiler", lambda: None)
    out = tmp_path / "out"
    argv = ["matte", str(video), "-o", str(out), "--box", "10,10,60,50", "--tracker", "builtin"]
    code = main([*argv, "--head", "sam2matting", "--compile", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "C/C++ compiler" in err, err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(compiling.find_compiler() is None, reason="no C++ compiler for inductor")
def test_compiled_learned_head_matches_eager() -> None:
    """Compiled (inductor, dynamic shapes) = eager on frames whose window and tile count
    change; about a minute of compiling on a 2-core CPU."""
    from sam2matting.types import ObjectTrack

    eager, compiled = _learned_head(temporal=0.0), _learned_head(temporal=0.0)
    compiled.net.load_state_dict(eager.net.state_dict())
    assert compiling.compile_models(object(), compiled)
    clip = make_sample_clip(160, 96, 3, fps=24)
    for t in range(3):
        frame, alpha = clip.frame(t)
        tracks = {1: ObjectTrack(logits=((alpha - 0.5) * 12).astype(np.float32))}
        a = eager.matte(frame, tracks, t)[1]
        with torch.no_grad():
            b = compiled.matte(frame, tracks, t)[1]
        assert np.abs(a - b).max() < 1e-4
