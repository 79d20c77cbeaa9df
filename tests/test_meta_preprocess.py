"""Meta's SAM 2 pre-processing (PIL bicubic, / 255, ImageNet) and small-hole filling."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from sam2matting.preprocess import IMAGENET_MEAN, IMAGENET_STD, meta_model_input  # noqa: E402


def _frame(h: int = 45, w: int = 80) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_meta_model_input_is_pil_bicubic_then_float64_division() -> None:
    frame = _frame()
    got = meta_model_input(frame, 64)
    # what Meta's loader does, step by step (sam2/utils/misc.py: _load_img_as_tensor)
    img = np.array(Image.fromarray(frame).convert("RGB").resize((64, 64))) / 255.0
    want = torch.zeros(1, 3, 64, 64, dtype=torch.float32)
    want[0] = torch.from_numpy(img).permute(2, 0, 1)
    want -= torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    want /= torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    assert torch.equal(got, want)
    # PIL's default filter is bicubic, not the bilinear+antialias resize we had
    bilinear = torch.nn.functional.interpolate(
        torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255,
        size=(64, 64),
        mode="bilinear",
        antialias=True,
    )
    assert (
        float(
            (
                got * torch.tensor(IMAGENET_STD)[:, None, None]
                + torch.tensor(IMAGENET_MEAN)[:, None, None]
                - bilinear
            )
            .abs()
            .max()
        )
        > 1e-3
    )


def test_sam2_trackers_use_meta_preprocessing_sam3_keeps_its_own() -> None:
    pytest.importorskip("transformers")
    from sam2matting.trackers.hf_common import Preprocessing, preprocess_frame
    from sam2matting.trackers.hf_sam2 import _preprocessing_for

    frame = _frame()
    cpu = torch.device("cpu")
    assert torch.equal(preprocess_frame(frame, Preprocessing(64), cpu), meta_model_input(frame, 64))
    assert _preprocessing_for(None, 1024, "sam2").resize == "pil-bicubic"
    assert _preprocessing_for(None, 1008, "sam3").resize == "bilinear-antialias"
    with pytest.raises(ValueError, match="resize mode"):
        preprocess_frame(frame, Preprocessing(64, resize="nearest"), cpu)


def test_fill_small_holes_matches_meta_semantics() -> None:
    pytest.importorskip("transformers")
    from sam2matting.trackers.hf_common import fill_small_holes

    logits = torch.full((1, 1, 32, 32), 5.0)
    logits[0, 0, 2:4, 2:4] = -3.0  # 4-pixel hole → filled
    logits[0, 0, 10, 10] = -1.0  # 8-connected diagonal pair (2 pixels) → filled
    logits[0, 0, 11, 11] = -1.0
    logits[0, 0, 20:23, 20:23] = -2.0  # 9 pixels: above max_area 8 → kept
    logits[0, 0, 28:32, :] = -4.0  # large background band → kept
    logits[0, 0, 5, 25] = 0.0  # logit 0 counts as background (Meta: mask <= 0)
    before = logits.clone()
    out = fill_small_holes(logits, 8)
    assert torch.equal(logits, before)  # input untouched
    assert torch.all(out[0, 0, 2:4, 2:4] == 0.1)
    assert out[0, 0, 10, 10] == 0.1 and out[0, 0, 11, 11] == 0.1
    assert out[0, 0, 5, 25] == 0.1
    assert torch.equal(out[0, 0, 20:23, 20:23], before[0, 0, 20:23, 20:23])
    assert torch.equal(out[0, 0, 28:, :], before[0, 0, 28:, :])
    assert (out != before).sum() == 4 + 2 + 1
    assert fill_small_holes(logits, 0) is logits
