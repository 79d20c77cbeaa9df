"""Compositing maths, colour parsing and background sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam2matting.errors import InputError, OutputError
from sam2matting.io.compose import (
    BackgroundSource,
    composite,
    fit_image,
    parse_colour,
    premultiply,
    unpremultiply,
)


def test_composite_formula() -> None:
    rng = np.random.default_rng(0)
    fg = rng.random((5, 7, 3), dtype=np.float32)
    bg = rng.random((5, 7, 3), dtype=np.float32)
    alpha = rng.random((5, 7), dtype=np.float32)
    want = np.rint((fg * alpha[..., None] + bg * (1 - alpha[..., None])) * 255)
    out = composite(fg, alpha, bg)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    assert np.abs(out.astype(int) - want).max() <= 1
    # uint8 inputs and colour backgrounds
    assert np.array_equal(
        composite(np.full((2, 2, 3), 255, np.uint8), np.ones((2, 2)), "black"),
        np.full((2, 2, 3), 255),
    )
    assert composite(fg, np.zeros((5, 7), np.float32), None)[0, 0].tolist() == [0, 177, 64]
    assert composite(fg, np.zeros((5, 7), np.float32), (1, 2, 3))[0, 0].tolist() == [1, 2, 3]


def test_premultiply_roundtrip() -> None:
    rng = np.random.default_rng(1)
    fg = rng.random((4, 4, 3), dtype=np.float32)
    alpha = rng.random((4, 4), dtype=np.float32)
    alpha[0, 0] = 0.0
    pm = premultiply(fg, alpha)
    assert np.allclose(pm, fg * alpha[..., None])
    back = unpremultiply(pm, alpha)
    assert back[0, 0].tolist() == [0.0, 0.0, 0.0]
    mask = alpha > 1e-3
    assert np.allclose(back[mask], fg[mask], atol=1e-4)


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("#00b140", (0, 177, 64)),
        ("#0b4", (0, 187, 68)),
        ("0,177,64", (0, 177, 64)),
        (" Green ", (0, 177, 64)),
        ((1, 2, 3), (1, 2, 3)),
        ("255, 255, 255", (255, 255, 255)),
    ],
)
def test_parse_colour(text: object, rgb: tuple[int, int, int]) -> None:
    assert parse_colour(text) == rgb  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["#12345", "300,0,0", "1,2", "chartreuse-ish", "#gggggg", (1, 2)])
def test_parse_colour_errors(text: object) -> None:
    with pytest.raises(OutputError, match="not a colour"):
        parse_colour(text)  # type: ignore[arg-type]


def test_fit_image_covers_and_crops() -> None:
    img = np.zeros((10, 40, 3), np.uint8)
    img[:, 18:22] = 255  # a centred bar survives the centre crop (×2, crop x 30..50)
    out = fit_image(img, 20, 20)
    assert out.shape == (20, 20, 3)
    assert out[10, 10].tolist() == [255, 255, 255] and out[10, 0].tolist() == [0, 0, 0]


def test_background_sources(tmp_path: Path) -> None:
    from PIL import Image

    with BackgroundSource(None, 8, 6) as bg:
        assert bg.is_static and bg.frame(5).shape == (6, 8, 3)
        assert bg.frame(0)[0, 0].tolist() == [0, 177, 64]
    assert BackgroundSource("#ff0000", 8, 6).frame(0)[0, 0].tolist() == [255, 0, 0]
    folder = tmp_path / "bg"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((12, 16, 3), 100 * k, np.uint8)).save(folder / f"b{k}.png")
    with BackgroundSource(folder, 8, 6) as bg:
        assert not bg.is_static
        values = [int(bg.frame(i)[0, 0, 0]) for i in (0, 1, 2, 3, 4, 1, 1)]
        assert values == [0, 100, 0, 100, 0, 100, 100]  # loops; random access works
    Image.fromarray(np.full((3, 4, 3), 9, np.uint8)).save(tmp_path / "still.jpg")
    with BackgroundSource(tmp_path / "still.jpg", 8, 6) as bg:
        assert bg.is_static and bg.frame(3).shape == (6, 8, 3)
    with pytest.raises(InputError, match="background not found and not a colour"):
        BackgroundSource(str(tmp_path / "missing.png"), 8, 6)


def test_public_names() -> None:
    import sam2matting.io as io

    expected = {
        "FORMATS", "ArraySource", "BackgroundSource", "FormatSpec", "FrameSource", "MatteWriter",
        "VideoInfo", "composite", "open_source", "open_writer", "output_path", "parse_colour",
        "premultiply", "probe", "read_alpha_frames", "unpremultiply",
    }  # fmt: skip
    assert expected <= set(io.__all__)
    assert all(hasattr(io, name) for name in io.__all__)
