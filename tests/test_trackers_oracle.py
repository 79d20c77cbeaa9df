"""The oracle tracker: ground truth from folders or arrays, label-map rules, errors, perturbation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2matting.errors import InputError, PromptError, Sam2MattingError
from sam2matting.io.readers import ArraySource
from sam2matting.trackers.oracle import OracleTracker, build, label_map, read_label_map
from sam2matting.trackers.registry import build_tracker
from sam2matting.types import Box, MaskPrompt, Points, TextPrompt
from tracker_factories import make_two_disc_clip


@pytest.fixture(scope="module")
def clip():
    return make_two_disc_clip(width=64, height=36, num_frames=5)


def _write_palette(path: Path, labels: np.ndarray) -> None:
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [128] * (256 * 3 - 9))
    im.save(path)


def test_masks_dir_with_palette_pngs_in_natural_order(tmp_path: Path, clip) -> None:
    # names that sort wrongly as text: frame10 must come after frame2
    names = [f"frame{i * 5}.png" for i in range(clip.num_frames)]  # frame0, frame5, frame10, …
    for name, labels in zip(names, clip.label_maps()):
        _write_palette(tmp_path / name, labels)
    (tmp_path / "notes.txt").write_text("ignored")
    tracker = build_tracker("oracle", masks_dir=str(tmp_path))
    assert isinstance(tracker, OracleTracker)
    session = tracker.open(ArraySource(clip.frames))
    session.add_prompt(Points(((1.0, 1.0),), (1,), object_id=1))  # content is ignored
    session.add_prompt(TextPrompt("anything", object_id=2))
    frames = list(session.propagate(0))
    for f in frames:
        for obj in (1, 2):
            assert np.array_equal(f.objects[obj].mask(36, 64), clip.masks[obj][f.index])
            assert f.objects[obj].logits.dtype == np.float32
        assert np.array_equal(f.image, clip.frames[f.index])


def test_binary_grey_masks_are_object_one(tmp_path: Path, clip) -> None:
    for i, m in enumerate(clip.masks[1]):
        Image.fromarray((m * 255).astype(np.uint8)).save(tmp_path / f"{i:05d}.png")
    session = build(masks_dir=tmp_path).open(ArraySource(clip.frames))
    session.add_prompt(Box(0, 0, 10, 10))
    with pytest.raises(PromptError, match="object 2 is not in the ground-truth mask of frame 0"):
        session.add_prompt(Box(0, 0, 10, 10, object_id=2))
    for f in session.propagate(0):
        assert np.array_equal(f.objects[1].mask(36, 64), clip.masks[1][f.index])


def test_label_map_rules() -> None:
    grey = np.array([[0, 255], [255, 0]], np.uint8)
    assert label_map(grey).tolist() == [[0, 1], [1, 0]]  # 0/255 binary → object 1
    assert label_map(np.array([[0, 1], [2, 255]], np.uint8)).tolist() == [[0, 1], [2, 0]]  # void
    assert label_map(np.array([[0.2, 0.9]], np.float32)).tolist() == [[0, 1]]
    assert label_map(np.array([[False, True]])).tolist() == [[0, 1]]
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 1, 3] = 200
    assert label_map(rgba).tolist() == [[0, 1]]
    with pytest.raises(InputError):
        label_map(np.zeros((2, 2, 2, 2)))


def test_read_label_map_variants(tmp_path: Path) -> None:
    noisy = np.array([[0, 3, 200, 255]], np.uint8)  # JPEG-like noise stays background
    Image.fromarray(noisy).save(tmp_path / "grey.png")
    assert read_label_map(tmp_path / "grey.png").tolist() == [[0, 0, 1, 1]]
    Image.fromarray(np.array([[0, 1]], np.uint8)).save(tmp_path / "zero_one.png")
    assert read_label_map(tmp_path / "zero_one.png").tolist() == [[0, 1]]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="unreadable mask image"):
        read_label_map(tmp_path / "broken.png")


def test_objects_appear_from_their_prompt_frame_each_way(clip) -> None:
    session = build(masks=clip.label_maps()).open(ArraySource(clip.frames))
    session.add_prompt(MaskPrompt(clip.masks[1][1], frame=1))
    session.add_prompt(Points(((5.0, 5.0),), (1,), frame=3, object_id=2))
    assert session.object_ids == [1, 2]
    forward = [sorted(f.objects) for f in session.propagate(0)]
    assert forward == [[], [1], [1], [1, 2], [1, 2]]
    backward = [sorted(f.objects) for f in session.propagate(4, reverse=True)]
    # going backward an object appears at its last prompt: 2 from frame 3, 1 from frame 1
    assert backward == [[], [2], [2], [1, 2], [1, 2]]  # frames 4, 3, 2, 1, 0


def test_errors(tmp_path: Path, clip) -> None:
    with pytest.raises(InputError, match="masks folder not found"):
        build(masks_dir=tmp_path / "nope")
    with pytest.raises(InputError, match="no mask images in"):
        build(masks_dir=tmp_path)
    with pytest.raises(Sam2MattingError, match="exactly one of"):
        build()
    with pytest.raises(Sam2MattingError, match="unknown option"):
        build(masks=clip.label_maps(), mask_dir="x")
    with pytest.raises(InputError, match="has 4 masks but the clip has 5 frames") as caught:
        build(masks=clip.label_maps()[:4]).open(ArraySource(clip.frames))
    assert "\n" not in str(caught.value)
    wrong = [np.zeros((10, 10), np.uint8)] * clip.num_frames
    session = build(masks=wrong).open(ArraySource(clip.frames))
    with pytest.raises(InputError, match="is 10×10 but the frames are 64×36"):
        session.add_prompt(Box(0, 0, 5, 5))
    with pytest.raises(InputError, match="unknown mask degradation"):
        build(masks=clip.label_maps(), perturbation="melt")


def test_perturbation_is_deterministic_and_order_free(clip) -> None:
    def run(seed: int, reverse: bool = False) -> dict[int, np.ndarray]:
        tracker = build(
            masks=clip.label_maps(), perturbation="shift,holes", strength=1.0, seed=seed
        )
        session = tracker.open(ArraySource(clip.frames))
        session.add_prompt(Box(0, 0, 5, 5, frame=0))
        session.add_prompt(Box(0, 0, 5, 5, frame=4))
        start = 4 if reverse else 0
        return {f.index: f.objects[1].logits for f in session.propagate(start, reverse=reverse)}

    a, b, backward, other = run(1), run(1), run(1, reverse=True), run(2)
    for i in range(clip.num_frames):
        assert np.array_equal(a[i], b[i]) and np.array_equal(a[i], backward[i])
        assert not np.array_equal(a[i] > 0, clip.masks[1][i])
    assert any(not np.array_equal(a[i], other[i]) for i in range(clip.num_frames))
