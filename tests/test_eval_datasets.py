"""Benchmark readers on tiny generated folders in every supported layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sam2matting.errors import InputError
from sam2matting.eval import datasets as D


def _frame(i: int, h: int = 12, w: int = 16) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 10 * i
    return img


def _alpha(i: int, h: int = 12, w: int = 16) -> np.ndarray:
    a = np.zeros((h, w), np.uint8)
    a[2:8, 2 + i : 8 + i] = 255
    a[2:8, 8 + i] = 100
    return a


def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), arr)


def _rvm_clip(d: Path, n: int = 3, mask: bool = True) -> None:
    for i in range(n):
        _write(d / "com" / f"{i:04d}.png", _frame(i))
        _write(d / "pha" / f"{i:04d}.png", _alpha(i))
        _write(d / "fgr" / f"{i:04d}.png", _frame(i))
    if mask:
        m = np.zeros((12, 16), np.uint8)
        m[0:4, 0:4] = 255
        _write(d / "mask" / "0000.png", m)


def test_rvm_clip_major(tmp_path: Path) -> None:
    _rvm_clip(tmp_path / "clipB", mask=False)
    _rvm_clip(tmp_path / "clipA")
    bench = D.open_benchmark(tmp_path)
    assert bench.layout == "rvm"
    assert [c.name for c in bench] == ["clipA", "clipB"]
    clip = bench.clips[0]
    assert len(clip) == 3 and clip.size == (16, 12)
    frames = list(clip.iter_frames())
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[1].image[0, 0, 0] == 10
    assert frames[1].alphas[1].dtype == np.float32
    assert frames[1].alphas[1][2, 9] == pytest.approx(100 / 255)
    assert np.array_equal(frames[1].masks[1], _alpha(1) > 127)
    # the provided first-frame mask wins over α > 0.5; without one, α > 0.5 is used
    assert clip.first_frame_masks()[1][0:4, 0:4].all()
    assert np.array_equal(bench.clips[1].first_frame_masks()[1], _alpha(0) > 127)
    with clip.source() as src:
        assert src.info.num_frames == 3


def test_rvm_nested_layout_and_masks_root(tmp_path: Path) -> None:
    root = tmp_path / "videomatte_512x288"
    for clip in ("0000", "0001"):
        for i in range(2):
            _write(root / "videomatte_motion" / "com" / clip / f"{i:04d}.png", _frame(i))
            _write(root / "videomatte_motion" / "pha" / clip / f"{i:04d}.png", _alpha(i))
    masks = tmp_path / "first_masks"
    m = np.zeros((12, 16), np.uint8)
    m[5, 5] = 255
    _write(masks / "videomatte_motion" / "0001" / "0000.png", m)
    bench = D.read_rvm(root, masks_root=masks)
    assert [c.name for c in bench] == ["videomatte_motion/0000", "videomatte_motion/0001"]
    assert bench.clips[1].first_frame_masks()[1].sum() == 1
    assert bench.select(["0001"]).clips[0].name.endswith("0001")
    assert len(bench.select(limit=1)) == 1
    with pytest.raises(InputError):
        bench.select(["nothing"])


def test_rvm_missing_alpha_is_an_input_error(tmp_path: Path) -> None:
    _rvm_clip(tmp_path / "c")
    (tmp_path / "c" / "pha" / "0001.png").unlink()
    with pytest.raises(InputError, match="no alpha"):
        D.read_rvm(tmp_path)
    with pytest.raises(InputError):
        D.open_benchmark(tmp_path / "absent")


def test_vhim_layout(tmp_path: Path) -> None:
    split = tmp_path / "comp_hard"
    for i in range(2):
        _write(split / "fgr" / "vid1" / f"{i:05d}.jpg", _frame(i))
        _write(split / "pha" / "vid1" / f"{i:05d}" / "00.png", _alpha(i))
        if i == 1:  # the second instance appears on frame 1
            _write(split / "pha" / "vid1" / f"{i:05d}" / "01.png", 255 - _alpha(i))
    _write(split / "xmem" / "vid1" / "00000" / "00.png", _alpha(0))
    bench = D.open_benchmark(tmp_path, mask_dir="xmem")
    assert bench.layout == "vhim"
    clip = bench.clips[0]
    assert clip.name == "comp_hard/vid1" and clip.object_ids == [1, 2]
    f0, f1 = list(clip.iter_frames())
    assert not f0.alphas[2].any() and f1.alphas[2].any()
    assert clip.first_masks.keys() == {1}


def test_davis_binary_and_palette(tmp_path: Path) -> None:
    for seq in ("bear", "cows"):
        for i in range(3):
            _write(tmp_path / "JPEGImages" / "480p" / seq / f"{i:05d}.jpg", _frame(i))
            if seq == "bear":
                _write(tmp_path / "Annotations" / "480p" / seq / f"{i:05d}.png", _alpha(i))
            else:  # DAVIS-2017 palette: objects 1 and 2, 255 = void
                lab = np.zeros((12, 16), np.uint8)
                lab[0:3, 0:3] = 1
                lab[6:9, 6:9] = 2
                lab[11, 15] = 255
                im = Image.fromarray(lab, mode="P")
                im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (253 * 3))
                p = tmp_path / "Annotations" / "480p" / seq / f"{i:05d}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                im.save(p)
    bench = D.open_benchmark(tmp_path)
    assert bench.layout == "davis"
    bear, cows = bench.clips
    assert bear.ground_truth == "mask" and bear.object_ids == [1]
    assert np.array_equal(next(bear.iter_frames()).masks[1], _alpha(0) > 127)
    assert cows.object_ids == [1, 2]
    f = next(cows.iter_frames())
    assert f.masks[1].sum() == 9 and f.masks[2].sum() == 9
    assert len(D.read_davis(tmp_path, sequences=["cows"])) == 1
    with pytest.raises(InputError):
        D.read_davis(tmp_path, sequences=["nope"])


def _davis_sequence(root: Path, res: str, seq: str, frames: int = 2) -> None:
    for i in range(frames):
        _write(root / "JPEGImages" / res / seq / f"{i:05d}.jpg", _frame(i))
        _write(root / "Annotations" / res / seq / f"{i:05d}.png", _alpha(i))


def test_davis_resolution_folder_of_another_name_is_found(tmp_path: Path) -> None:
    # the full-resolution DAVIS download keeps its sequences in JPEGImages/Full-Resolution/
    _davis_sequence(tmp_path, "Full-Resolution", "bear")
    bench = D.open_benchmark(tmp_path)
    assert bench.layout == "davis"
    assert [c.name for c in bench.clips] == ["bear"] and len(bench.clips[0]) == 2
    # 480p is preferred when both are there
    _davis_sequence(tmp_path, "480p", "cows", frames=3)
    assert [c.name for c in D.read_davis(tmp_path).clips] == ["cows"]


def test_davis_with_several_resolutions_and_no_480p_is_refused_by_name(tmp_path: Path) -> None:
    _davis_sequence(tmp_path, "1080p", "bear")
    _davis_sequence(tmp_path, "Full-Resolution", "bear")
    with pytest.raises(InputError, match="1080p, Full-Resolution"):
        D.read_davis(tmp_path)


def test_davis_image_sets_select_sequences_as_the_official_lists_name_them(
    tmp_path: Path,
) -> None:
    # the DAVIS 2017 download: all sequences in one folder, ImageSets/2016 and 2017 lists
    for seq in ("bear", "bmx-trees", "dog", "dogs-jump"):
        _davis_sequence(tmp_path, "480p", seq)
    sets = tmp_path / "ImageSets"
    (sets / "2017").mkdir(parents=True)
    (sets / "2017" / "val.txt").write_text("dog\nbmx-trees\n")
    (sets / "2017" / "train.txt").write_text("bear\ndogs-jump\n")
    # the 2016 lists name frames, not sequences
    (sets / "2016").mkdir()
    (sets / "2016" / "val.txt").write_text(
        "".join(
            f"/JPEGImages/480p/dog/{i:05d}.jpg /Annotations/480p/dog/{i:05d}.png\n"
            for i in range(2)
        )
    )
    every = D.open_benchmark(tmp_path)
    assert [c.name for c in every.select(["dog"]).clips] == ["dog"]  # a whole name: exactly
    assert [c.name for c in every.select(["dog", "jump"]).clips] == ["dog", "dogs-jump"]
    assert [c.name for c in every.select(["do"]).clips] == ["dog", "dogs-jump"]
    assert D.davis_image_set(tmp_path, "2017/val") == ["dog", "bmx-trees"]
    assert D.davis_image_set(tmp_path, "2016/val") == ["dog"]
    assert D.davis_image_set(tmp_path, "train") == ["bear", "dogs-jump"]  # only one is called so
    bench = D.open_benchmark(tmp_path, image_set="2017/val")
    assert [c.name for c in bench.clips] == ["dog", "bmx-trees"]  # exact names: not dogs-jump
    listed = tmp_path / "mine.txt"
    listed.write_text("bear\n\n")
    assert [c.name for c in D.open_benchmark(tmp_path, image_set=str(listed)).clips] == ["bear"]
    with pytest.raises(InputError, match=r"several image sets .*2016/val, 2017/val"):
        D.davis_image_set(tmp_path, "val")
    with pytest.raises(InputError, match="no image set 'test'; ImageSets has: 2016/val"):
        D.davis_image_set(tmp_path, "test")
    (sets / "2017" / "extra.txt").write_text("cows\n")
    with pytest.raises(InputError, match="no DAVIS sequence"):
        D.open_benchmark(tmp_path, image_set="extra")


def test_an_image_set_outside_davis_is_refused(tmp_path: Path) -> None:
    _rvm_clip(tmp_path / "clip")
    with pytest.raises(InputError, match="for DAVIS folders"):
        D.open_benchmark(tmp_path, image_set="val")


def test_davis_sequence_without_frames_is_a_clear_error(tmp_path: Path) -> None:
    _davis_sequence(tmp_path, "480p", "bear")
    (tmp_path / "JPEGImages" / "480p" / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no frames"):
        D.read_davis(tmp_path)


def test_an_unreadable_davis_annotation_or_frame_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt annotation PNG stopped ``sam2matting eval`` with PIL's traceback."""
    from sam2matting.cli import main

    _davis_sequence(tmp_path, "480p", "bear", frames=3)
    first = tmp_path / "Annotations" / "480p" / "bear" / "00000.png"
    first.write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"cannot read annotation .*00000\.png"):
        D.read_davis(tmp_path)
    capsys.readouterr()
    assert main(["eval", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read annotation" in err and "Traceback" not in err
    # a later annotation is read while scoring: the same one line
    _davis_sequence(tmp_path, "480p", "bear", frames=3)
    (tmp_path / "Annotations" / "480p" / "bear" / "00001.png").write_bytes(b"")
    assert main(["eval", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot read annotation" in err and "00001.png" in err and "Traceback" not in err
    # the first frame's header (the clip's size)
    _davis_sequence(tmp_path, "480p", "bear", frames=3)
    (tmp_path / "JPEGImages" / "480p" / "bear" / "00000.jpg").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"cannot read frame .*00000\.jpg"):
        _ = D.read_davis(tmp_path).clips[0].size


@pytest.mark.parametrize(
    "written", ["grey 0/1", "grey labels with void", "rgb palette", "rgb 0/255"]
)
def test_davis_annotations_written_in_other_ways_keep_their_objects(
    tmp_path: Path, written: str
) -> None:
    lab = np.zeros((12, 16), np.uint8)
    lab[0:3, 0:3] = 1
    if written != "grey 0/1" and written != "rgb 0/255":
        lab[6:9, 6:9] = 2
    if written == "grey labels with void":
        lab[11, 15] = 255
    path = tmp_path / "a.png"
    if written.startswith("rgb"):
        colours = D._davis_palette() if written == "rgb palette" else None
        rgb = colours[lab] if colours is not None else np.repeat((lab * 255)[..., None], 3, 2)
        Image.fromarray(rgb.astype(np.uint8), mode="RGB").save(path)
    else:
        Image.fromarray(lab, mode="L").save(path)
    out = D._read_label_png(path)
    assert (out == 1).sum() == 9
    assert (out == 2).sum() == (9 if written in ("grey labels with void", "rgb palette") else 0)
    assert (out == 255).sum() == (1 if written == "grey labels with void" else 0)


def test_plain_folder(tmp_path: Path) -> None:
    for i in range(4):
        _write(tmp_path / "frames" / f"f{i}.png", _frame(i))
        _write(tmp_path / "alphas" / f"f{i}.png", _alpha(i))
    bench = D.read_folder(tmp_path / "frames", tmp_path / "alphas", name="shot")
    assert bench.clips[0].name == "shot" and len(bench.clips[0]) == 4


def test_shared_davis(shared_data: Path) -> None:
    bench = D.read_davis(shared_data / "davis")
    assert len(bench) == 6
    blackswan = next(c for c in bench if c.name == "blackswan")
    assert len(blackswan) == 50 and blackswan.size == (854, 480)
