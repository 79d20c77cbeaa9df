"""Mask degradations: shapes, determinism, direction of each error, strength 0 = identity."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.degrade import (
    DEGRADATIONS,
    degrade_mask,
    degrade_mask_chain,
    object_scale,
    parse_degradations,
    random_degradation,
)
from sam2matting.errors import InputError
from sam2matting.eval.metrics import jaccard
from sam2matting.samples import make_sample_clip


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    """The sample subject at 320×180 (a soft blob with thin strands), alpha > 0.5."""
    _, alpha = make_sample_clip(320, 180, 4).frame(0)
    return alpha > 0.5


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_shape_dtype_determinism_and_identity(kind: str, mask: np.ndarray) -> None:
    out = degrade_mask(mask, kind, 0.7, np.random.default_rng(5))
    assert out.dtype == bool and out.shape == mask.shape
    again = degrade_mask(mask, kind, 0.7, np.random.default_rng(5))
    assert np.array_equal(out, again), "same generator state must give the same mask"
    assert not np.array_equal(out, mask), f"{kind} at strength 0.7 changed nothing"
    assert 0.3 < jaccard(out, mask) < 1.0, f"{kind}: implausible IoU {jaccard(out, mask):.2f}"
    at_zero = degrade_mask(mask, kind, 0.0, np.random.default_rng(5))
    if kind == "sam2":  # SAM 2's 256² logits even at strength 0: close, not identical
        assert 0.9 < jaccard(at_zero, mask) < 1.0
    else:
        assert np.array_equal(at_zero, mask)
    assert not degrade_mask(np.zeros_like(mask), kind, 1.0, np.random.default_rng(0)).any()
    # the input is never modified
    assert (
        degrade_mask(mask.astype(np.uint8) * 255, kind, 0.3, np.random.default_rng(1)).dtype == bool
    )


@pytest.mark.parametrize(
    ("kind", "relation"),
    [
        ("erode", "subset"),
        ("holes", "subset"),
        ("thin", "subset"),
        ("dilate", "superset"),
        ("blobs", "superset"),
    ],
)
def test_direction_of_the_error(kind: str, relation: str, mask: np.ndarray) -> None:
    out = degrade_mask(mask, kind, 0.8, np.random.default_rng(2))
    if relation == "subset":
        assert not (out & ~mask).any() and out.sum() < mask.sum()
    else:
        assert not (mask & ~out).any() and out.sum() > mask.sum()


def test_stronger_is_worse(mask: np.ndarray) -> None:
    for kind in ("erode", "dilate", "blocky", "jagged", "shift", "thin"):
        weak = jaccard(degrade_mask(mask, kind, 0.2, np.random.default_rng(3)), mask)
        strong = jaccard(degrade_mask(mask, kind, 1.0, np.random.default_rng(3)), mask)
        assert strong < weak, f"{kind}: IoU {strong:.3f} at strength 1 vs {weak:.3f} at 0.2"


def test_thin_removes_the_strands_but_keeps_the_body(mask: np.ndarray) -> None:
    out = degrade_mask(mask, "thin", 0.6, np.random.default_rng(0))
    assert out.sum() > 0.8 * mask.sum()
    assert out.sum() < mask.sum()


def test_blocky_looks_like_upsampled_low_resolution_logits() -> None:
    big = np.zeros((1024, 1024), bool)
    big[300:700, 200:803] = True
    big[500:504, 100:900] = True  # a 4-px line: lost at 64² but not the block
    out = degrade_mask(big, "blocky", 1.0, np.random.default_rng(0))
    assert not out[502, 120] and out[500, 500]
    small = np.ones((100, 100), bool)
    small[:, :40] = False
    assert np.array_equal(degrade_mask(small, "blocky", 0.5, np.random.default_rng(0)), small)


def test_scale_is_relative_to_the_object() -> None:
    disc = np.zeros((200, 200), bool)
    disc[50:150, 50:150] = True
    assert object_scale(disc) == pytest.approx(100.0)
    small = disc[::2, ::2]
    big_err = 1 - jaccard(degrade_mask(disc, "erode", 0.5, np.random.default_rng(0)), disc)
    small_err = 1 - jaccard(degrade_mask(small, "erode", 0.5, np.random.default_rng(0)), small)
    assert big_err == pytest.approx(small_err, abs=0.08)


def test_chain_parse_and_random(mask: np.ndarray) -> None:
    steps = parse_degradations("erode, holes:0.3,", strength=0.4)
    assert steps == [("erode", 0.4), ("holes", 0.3)]
    assert parse_degradations(["dilate:1"]) == [("dilate", 1.0)]
    assert parse_degradations(None) == [] and parse_degradations("") == []
    out = degrade_mask_chain(mask, steps, np.random.default_rng(0))
    assert out.dtype == bool and not (out & ~mask).any()
    outs = [random_degradation(mask, np.random.default_rng(s)) for s in range(12)]
    assert all(o.dtype == bool and o.shape == mask.shape for o in outs)
    assert any(not np.array_equal(o, mask) for o in outs)
    assert np.array_equal(random_degradation(mask, np.random.default_rng(4)), outs[4])


def test_errors_are_input_errors(mask: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="unknown mask degradation 'melt'"):
        degrade_mask(mask, "melt", 0.5, rng)
    with pytest.raises(InputError, match=r"strength must be in \[0, 1\]"):
        degrade_mask(mask, "erode", 1.5, rng)
    with pytest.raises(InputError, match="H×W"):
        degrade_mask(mask[None], "erode", 0.5, rng)
    with pytest.raises(InputError, match="unknown mask degradation"):
        parse_degradations("erode,melt")
    with pytest.raises(InputError, match="must be a number"):
        parse_degradations("erode:lots")
    with pytest.raises(InputError):
        random_degradation(mask, rng, strength_range=(0.8, 0.2))
