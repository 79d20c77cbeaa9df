"""Corrections mean the same in both directions (foundation trackers, tiny random SAM 2.1).

A correction (a prompt on a later frame of an object already prompted elsewhere) is decoded once,
before the next pass, from the object's conditioning frames only and tracked from the nearest of
them — so its frame comes out the same whether the next pass runs forward or backward, and
wherever it starts; later passes of either direction use it as-is.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sam2matting.io.readers import ArraySource  # noqa: E402
from sam2matting.trackers.hf_sam2 import build, tiny_sam2_config  # noqa: E402
from sam2matting.types import Box, Points, Prompt  # noqa: E402
from tracker_factories import make_two_disc_clip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = 8


@pytest.fixture(scope="module")
def clip():
    return make_two_disc_clip(width=96, height=64, num_frames=N)


@pytest.fixture(scope="module")
def sam2():
    tracker = build("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu")
    # random weights say "no object" (every mask −1024, which would compare nothing): make the
    # object-score head confident, as the Meta conformance references do
    head = tracker.backend.model.mask_decoder.pred_obj_score_head.proj_out
    with torch.no_grad():
        head.bias.fill_(8.0)
    return tracker


def _passes(sam2, clip, later: list[Prompt], passes: list[tuple[int, bool]]):
    """Box on frame 0, a forward pass, then ``later`` prompts and ``passes`` (start, reverse):
    object 1's logits per pass and frame."""
    s = sam2.open(ArraySource(clip.frames))
    s.add_prompt(clip.box(1, 0))
    list(s.propagate(0))
    for p in later:
        s.add_prompt(p)
    out = []
    for start, reverse in passes:
        # (a backward pass meets an object from its last prompted frame on)
        frames = s.propagate(start, reverse=reverse)
        out.append({tf.index: tf.objects[1].logits.copy() for tf in frames if 1 in tf.objects})
    s.close()
    return out


def _click(clip, frame: int) -> Points:
    return Points((clip.centre(1, frame), (2.0, 2.0)), (1, 0), frame=frame, object_id=1)


def test_a_correction_is_the_same_forward_and_backward(sam2, clip):
    k = 4
    runs = {
        "forward from 0": (0, False),
        "forward from k": (k, False),
        "backward from the end": (N - 1, True),
        "backward from k": (k, True),
    }
    got = {name: _passes(sam2, clip, [_click(clip, k)], [p])[0][k] for name, p in runs.items()}
    ref = got["forward from 0"]
    for name, logits in got.items():
        assert np.array_equal(logits, ref), f"{name}: frame {k} differs from the forward pass"
    plain = _passes(sam2, clip, [], [(0, False)])[0][k]
    assert not np.array_equal(ref, plain), "the correction changes its frame"
    # a later pass of either direction uses the correction as decoded: the same frame again
    again = _passes(sam2, clip, [_click(clip, k)], [(N - 1, True), (0, False), (k, True)])
    assert all(np.array_equal(p[k], ref) for p in again)


def test_several_corrections_do_not_depend_on_the_pass_that_meets_them(sam2, clip):
    """Two corrections (frames 3 and 6) and a box on frame 5 for the same object: a forward pass
    meets 3 first, a backward pass 6 first; both apply them in the order they were given."""
    later = [_click(clip, 6), Box(*clip.box(1, 5).xyxy, frame=5, object_id=1), _click(clip, 3)]
    fwd = _passes(sam2, clip, later, [(0, False)])[0]
    back = _passes(sam2, clip, later, [(N - 1, True)])[0]
    for f in (3, 5, 6):
        assert np.array_equal(fwd[f], back[f]), f"frame {f}"
