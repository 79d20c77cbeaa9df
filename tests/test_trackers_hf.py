"""Foundation trackers (SAM2.1, EdgeTAM, SAM3) at tiny random configs: pre-processing, prompt
semantics, object bookkeeping, features, bounded memory, weights handling. No downloads."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sam2matting.errors import PromptError, Sam2MattingError, WeightsError  # noqa: E402
from sam2matting.io.readers import ArraySource, FrameSource, VideoInfo  # noqa: E402
from sam2matting.trackers import build_tracker  # noqa: E402
from sam2matting.trackers.hf_common import (  # noqa: E402
    FramePrompt,
    Preprocessing,
    mask_to_model_input,
    preprocess_frame,
    scale_points,
)
from sam2matting.trackers.hf_sam2 import (  # noqa: E402
    build,
    build_edgetam,
    tiny_edgetam_config,
    tiny_sam2_config,
)
from sam2matting.types import Box, MaskPrompt, Points, TextPrompt  # noqa: E402
from tracker_factories import make_two_disc_clip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def clip():
    return make_two_disc_clip(width=96, height=64, num_frames=8)


@pytest.fixture(scope="module")
def sam2():
    return build("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu")


def _source(clip):
    return ArraySource(clip.frames)


def _run(session, start, reverse=False, end=None):
    return [(tf.index, tf) for tf in session.propagate(start, reverse=reverse, end_frame=end)]


# ----------------------------------------------------------------------------- pre-processing
def test_preprocess_frame_resizes_and_normalises():
    frame = np.zeros((30, 50, 3), np.uint8)
    frame[..., 0] = 255
    pre = Preprocessing(64)
    t = preprocess_frame(frame, pre, CPU)
    assert t.shape == (1, 3, 64, 64) and t.dtype == torch.float32
    assert torch.allclose(t[0, 0], torch.full((64, 64), (1 - 0.485) / 0.229), atol=1e-5)
    assert torch.allclose(t[0, 1], torch.full((64, 64), -0.456 / 0.224), atol=1e-5)
    half = preprocess_frame(frame, Preprocessing(56, (0.5,) * 3, (0.5,) * 3), CPU)
    assert torch.allclose(half[0, 0], torch.ones(56, 56)) and torch.allclose(
        half[0, 2], -torch.ones(56, 56)
    )


def test_points_and_masks_reach_model_coordinates():
    pts = scale_points([(0, 0), (50, 30), (100, 60)], width=100, height=60, image_size=1024)
    assert np.allclose(pts, [[0, 0], [512, 512], [1024, 1024]])
    mask = np.zeros((60, 100), bool)
    mask[:, :50] = True
    m = mask_to_model_input(mask, 64, CPU)
    assert m.shape == (1, 1, 64, 64) and set(m.unique().tolist()) == {0.0, 1.0}
    assert m[0, 0, :, :31].all() and not m[0, 0, :, 33:].any()


def test_frame_prompt_combines_points_and_replaces_box_and_mask():
    fp = FramePrompt()
    fp.add(Box(1, 2, 10, 12))
    fp.add(Points(((5, 5),), (1,)))
    assert fp.labels == [2, 3, 1] and fp.coords[:2] == [(1, 2), (10, 12)]
    fp.add(Points(((6, 6), (1, 1)), (1, 0)))
    assert fp.labels == [2, 3, 1, 1, 0]
    fp.add(MaskPrompt(np.ones((4, 4), bool)))
    assert fp.mask is not None and fp.labels == []
    fp.add(Points(((2, 2),), (1,)))
    assert fp.mask is None and fp.labels == [1]


# ----------------------------------------------------------------------------- session behaviour
def test_prompt_types_objects_features_and_directions(sam2, clip):
    assert sam2.provides_features and set(sam2.prompt_types) == {Points, Box, MaskPrompt}
    session = sam2.open(_source(clip))
    session.add_prompt(Points((clip.centre(1, 3),), (1,), frame=3, object_id=1))
    session.add_prompt(clip.box(2, 0))
    session.add_prompt(MaskPrompt(clip.masks[2][5], frame=5, object_id=7))
    assert session.object_ids == [1, 2, 7]

    back = _run(session, 3, reverse=True)
    assert [i for i, _ in back] == [3, 2, 1, 0]
    # going backward, an object is tracked from its last prompt on (object 2 is prompted on 0)
    assert [sorted(tf.objects) for _, tf in back] == [[1, 7], [1, 7], [1, 7], [1, 2, 7]]

    fwd = dict(_run(session, 0))
    assert sorted(fwd) == list(range(8))
    assert set(fwd[0].objects) == {2} and set(fwd[3].objects) == {1, 2}
    assert set(fwd[5].objects) == {1, 2, 7}, "object 7 appears on its prompt frame"
    channels = sam2.feature_channels
    assert channels == {4: 16, 8: 32, 16: 128}
    for _, tf in fwd.items():
        assert tf.image.shape == (64, 96, 3) and tf.image.dtype == np.uint8
        for track in tf.objects.values():
            assert track.logits.shape == (16, 16) and track.logits.dtype == np.float32
            assert 0.0 <= track.score <= 1.0
            assert track.mask(64, 96).shape == (64, 96)
            feats = track.features
            assert {k: tuple(v.shape) for k, v in feats.items()} == {
                4: (16, 16, 16),
                8: (32, 8, 8),
                16: (128, 4, 4),
            }
    # features are per frame and shared by the frame's objects (no second encoder pass)
    assert fwd[5].objects[1].features is fwd[5].objects[7].features
    # a mask prompt is the object's mask on its frame (SAM2 "mask as output")
    got = fwd[5].objects[7].mask(64, 96)
    truth = clip.masks[2][5]
    iou = (got & truth).sum() / (got | truth).sum()
    assert iou > 0.8
    session.close()
    session.close()
    with pytest.raises(Sam2MattingError):
        session.add_prompt(clip.box(1, 0))


def test_passes_repeat_and_corrections_repropagate(sam2, clip):
    def run(correct: bool):
        s = sam2.open(_source(clip))
        s.add_prompt(Points((clip.centre(1, 0),), (1,), frame=0, object_id=1))
        s.add_prompt(clip.box(2, 0))
        first = {i: {o: t.logits.copy() for o, t in tf.objects.items()} for i, tf in _run(s, 0)}
        if correct:
            s.add_prompt(Points((clip.centre(1, 4), (2.0, 2.0)), (1, 0), frame=4, object_id=1))
        second = {i: {o: t.logits.copy() for o, t in tf.objects.items()} for i, tf in _run(s, 0)}
        stats = s.memory_stats()
        s.close()
        return first, second, stats

    # (run-to-run determinism is covered by the tracker contract tests)
    a1, a2, stats = run(False)
    # without new prompts, a second pass reproduces the first (passes are independent)
    for i in a1:
        for o in a1[i]:
            assert np.array_equal(a1[i][o], a2[i][o])
    _, c2, cstats = run(True)
    assert cstats["cond_outputs"] == stats["cond_outputs"] + 1, (
        "the correction is a conditioning frame"
    )
    changed = [i for i in range(4, 8) if not np.array_equal(c2[i][1], a2[i][1])]
    assert 4 in changed, "the corrected frame is re-decoded with the clicks"


def test_prompts_behind_the_start_are_applied_first(sam2, clip):
    s = sam2.open(_source(clip))
    s.add_prompt(MaskPrompt(clip.masks[1][1], frame=1, object_id=1))
    out = dict(_run(s, 4))
    assert sorted(out) == [4, 5, 6, 7] and all(set(tf.objects) == {1} for tf in out.values())
    assert s.memory_stats()["cond_outputs"] == 1


def test_bad_requests_raise_clear_errors(sam2, clip):
    s = sam2.open(_source(clip))
    with pytest.raises(PromptError, match="add a prompt"):
        s.propagate(0)
    with pytest.raises(PromptError, match="text"):
        s.add_prompt(TextPrompt("a dog"))
    with pytest.raises(PromptError):
        s.add_prompt(Points(((500.0, 5.0),), (1,)))
    s.add_prompt(clip.box(1, 0))
    with pytest.raises(Sam2MattingError, match="outside"):
        s.propagate(8)
    with pytest.raises(Sam2MattingError, match="cannot propagate"):
        s.propagate(3, end_frame=1)
    with pytest.raises(Sam2MattingError, match="does not take"):
        build("sam2.1-hiera-tiny", config=tiny_sam2_config(), colour="red")


class _Procedural(FrameSource):
    """Frames made on demand (memory tests must not hold the clip)."""

    def __init__(self, n: int, w: int = 48, h: int = 32) -> None:
        self.info = VideoInfo(width=w, height=h, num_frames=n)

    def iter_frames(self, start=0, stop=None):
        stop = self.info.num_frames if stop is None else min(stop, self.info.num_frames)
        for i in range(start, stop):
            img = np.full((self.info.height, self.info.width, 3), 40, np.uint8)
            x = 5 + (i % 30)
            img[8:20, x : x + 10] = 220
            yield i, img


def test_memory_is_bounded_by_the_window_not_the_clip():
    cfg = tiny_sam2_config(num_maskmem=3, max_object_pointers=4)
    tracker = build("sam2.1-hiera-tiny", config=cfg, device="cpu", return_features=False)
    peaks = []
    for n in (8, 20):
        s = tracker.open(_Procedural(n))
        s.add_prompt(Box(5, 8, 15, 20, frame=0, object_id=1))
        s.add_prompt(Points(((10.0, 12.0),), (1,), frame=0, object_id=2))
        for tf in s.propagate(0):
            stats = s.memory_stats()
            assert stats["cached_frames"] == 1
            # per object: at most max_object_pointers - 1 recent frames
            assert stats["non_cond_outputs"] <= 2 * 3
            assert tf.objects[1].features is None
        for store in s._hf.output_dict_per_obj.values():
            for out in store["non_cond_frame_outputs"].values():
                assert "high_res_masks" not in out and "pred_masks" not in out
        peaks.append(s.memory_stats()["peak_non_cond"])
        s.close()
    assert peaks[0] == peaks[1]


def test_edgetam_tiny_tracks(clip):
    tracker = build_edgetam(config=tiny_edgetam_config(), device="cpu")
    s = tracker.open(_source(clip))
    s.add_prompt(clip.box(1, 2))
    s.add_prompt(MaskPrompt(clip.masks[2][2], frame=2, object_id=2))
    back = _run(s, 2, reverse=True)
    fwd = _run(s, 2)
    assert [i for i, _ in back] == [2, 1, 0] and [i for i, _ in fwd] == list(range(2, 8))
    for _, tf in back + fwd:
        assert set(tf.objects) == {1, 2}
        assert tf.objects[1].logits.shape == (16, 16)
    assert s.memory_stats()["non_cond_outputs"] <= 2 * 15


def test_edgetam_repvit_backbone_without_timm(tmp_path, clip):
    """The released EdgeTAM's timm RepViT is rebuilt with timm's parameter names and loads back."""
    from transformers import TimmWrapperConfig

    from sam2matting.trackers.hf_sam2 import repvit_backbone, tiny_repvit_edgetam_config

    m1 = repvit_backbone(
        TimmWrapperConfig(architecture="repvit_m1.dist_in1k", model_args={"features_only": True})
    )
    # timm's repvit_m1 has 5.49 M parameters of which 0.77 M are the (dropped) classifier
    assert sum(p.numel() for p in m1.parameters()) == 4_713_712
    keys = set(m1.state_dict())
    assert {
        "timm_model.stem.conv1.c.weight",
        "timm_model.stages_0.blocks.0.token_mixer.conv1.bn.running_var",
        "timm_model.stages_0.blocks.0.se.fc2.bias",
        "timm_model.stages_2.downsample.spatial_downsample.c.weight",
        "timm_model.stages_3.blocks.1.channel_mixer.conv2.bn.weight",
    } <= keys
    assert not any(".se." in k for k in keys if ".blocks.1." in k and "stages_0" in k), (
        "SE on every other block"
    )

    tracker = build_edgetam(config=tiny_repvit_edgetam_config(), device="cpu")
    tracker.backend.model.save_pretrained(tmp_path / "edgetam")
    again = build_edgetam(weights=str(tmp_path / "edgetam"), device="cpu")
    a, b = tracker.backend.model.state_dict(), again.backend.model.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    s = again.open(_source(clip))
    s.add_prompt(clip.box(1, 0))
    out = _run(s, 0, end=1)
    assert [i for i, _ in out] == [0, 1] and out[1][1].objects[1].logits.shape == (16, 16)


def test_autocast_dtype_resolution():
    from sam2matting.trackers.hf_common import autocast_dtype

    assert autocast_dtype("auto", CPU) is None
    assert autocast_dtype("float32", CPU) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16
    with pytest.raises(Sam2MattingError):
        autocast_dtype("float16", CPU)
    with pytest.raises(Sam2MattingError):
        autocast_dtype("int8", CPU)


def test_bfloat16_autocast_runs_on_cpu(clip):
    tracker = build("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu", dtype="bfloat16")
    s = tracker.open(_source(clip))
    s.add_prompt(clip.box(1, 0))
    out = _run(s, 0, end=2)
    assert all(tf.objects[1].logits.dtype == np.float32 for _, tf in out)
    assert all(v.dtype == torch.float32 for v in out[0][1].objects[1].features.values())


# ----------------------------------------------------------------------------- SAM3
def test_sam3_tracker_only_visual_prompts(clip):
    from sam2matting.trackers.hf_sam3 import build as build_sam3
    from sam2matting.trackers.hf_sam3 import tiny_sam3_tracker_config

    tracker = build_sam3(config=tiny_sam3_tracker_config(), device="cpu")
    assert TextPrompt not in tracker.prompt_types and tracker.image_size == 56
    s = tracker.open(_source(clip))
    with pytest.raises(PromptError, match="text=False"):
        s.add_prompt(TextPrompt("orange disc"))
    s.add_prompt(Points((clip.centre(1, 1),), (1,), frame=1, object_id=1))
    out = _run(s, 1, reverse=True) + _run(s, 1)
    assert [i for i, _ in out] == [1, 0, *range(1, 8)]
    track = out[-1][1].objects[1]
    assert track.logits.shape == (16, 16)
    assert {k: tuple(v.shape) for k, v in track.features.items()} == {
        4: (16, 16, 16),
        8: (32, 8, 8),
        16: (128, 4, 4),
    }


def test_sam3_text_prompt_finds_instances_with_stable_ids(clip):
    from sam2matting.trackers.hf_sam3 import build as build_sam3
    from sam2matting.trackers.hf_sam3 import tiny_sam3_video_config, tiny_text_tokenizer

    config = tiny_sam3_video_config(
        score_threshold_detection=0.0,
        new_det_thresh=0.0,
        max_num_objects=2,
        hotstart_delay=2,
        hotstart_unmatch_thresh=2,
        hotstart_dup_thresh=2,
    )
    tracker = build_sam3(
        config=config, tokenizer=tiny_text_tokenizer(("orange", "disc")), device="cpu"
    )
    assert TextPrompt in tracker.prompt_types
    s = tracker.open(_source(clip))
    s.add_prompt(TextPrompt("orange disc", frame=0, object_id=5))
    s.add_prompt(Points((clip.centre(2, 2),), (1,), frame=2, object_id=1))
    out = _run(s, 0)
    assert [i for i, _ in out] == list(range(8)), (
        "frames come out in order, once each, despite hotstart"
    )
    text_ids = sorted({o for _, tf in out for o in tf.objects} - {1})
    assert text_ids and text_ids[0] == 5, "the first instance takes the prompt's id"
    assert all(o > 5 for o in text_ids[1:])
    assert set(out[0][1].objects) >= {5} and 1 not in out[0][1].objects and 1 in out[2][1].objects
    feats = out[3][1].objects[1].features
    assert feats is out[3][1].objects[5].features, (
        "text and visual objects share the frame's features"
    )
    stats = s.memory_stats()
    assert stats["text_objects"] <= 2
    again = _run(s, 7, reverse=True, end=5)
    assert [i for i, _ in again] == [7, 6, 5]
    assert set(s.object_ids) >= {1, 5}


# ----------------------------------------------------------------------------- weights
def test_missing_weights_give_a_one_line_hint(monkeypatch):
    from sam2matting.trackers.weights import weights_status

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if weights_status("sam2.1-hiera-tiny").startswith("present"):
        pytest.skip("sam2.1-hiera-tiny weights are cached on this machine")
    with pytest.raises(WeightsError) as err:
        build_tracker("sam2.1-hiera-tiny")
    msg = str(err.value)
    assert "\n" not in msg and "not found offline" in msg and "--tracker PATH" in msg


def test_weights_status_needs_no_network(monkeypatch, tmp_path):
    from sam2matting.trackers.registry import TRACKERS
    from sam2matting.trackers.weights import weights_status

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, spec in TRACKERS.items():
        if spec.needs_weights:
            status = weights_status(name)
            assert status.split()[0] in {"present", "absent", "incomplete", "user-supplied"}, status
    assert "gated" in weights_status("sam3") or weights_status("sam3").startswith("present")
    assert weights_status(str(tmp_path)).startswith("present (local path")


def test_registry_and_local_folder_loading(tmp_path, clip):
    from transformers import Sam2VideoModel

    from sam2matting.trackers.registry import TRACKERS

    expected = {
        "sam2-hiera-tiny",
        "sam2-hiera-small",
        "sam2-hiera-base-plus",
        "sam2-hiera-large",
        "sam2.1-hiera-tiny",
        "sam2.1-hiera-small",
        "sam2.1-hiera-base-plus",
        "sam2.1-hiera-large",
        "edgetam",
        "sam3",
        "path",
    }
    assert expected <= set(TRACKERS) and {"builtin", "oracle"} <= set(TRACKERS)
    assert all(TRACKERS[n].needs_weights for n in expected)
    assert TRACKERS["sam2.1-hiera-tiny"].weights_hint == "facebook/sam2.1-hiera-tiny"

    tracker = build_tracker("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu")
    torch.manual_seed(1)
    Sam2VideoModel(tiny_sam2_config()).save_pretrained(tmp_path / "tiny")
    from_folder = build_tracker(str(tmp_path / "tiny"), device="cpu")
    assert from_folder.image_size == tracker.image_size == 64
    s = from_folder.open(_source(clip))
    s.add_prompt(clip.box(1, 0))
    assert len(_run(s, 0, end=1)) == 2
    with pytest.raises(WeightsError, match=r"config\.json"):
        build_tracker(str(tmp_path), device="cpu")
