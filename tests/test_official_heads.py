"""Official SAM2Matting heads: the real key layout, strict loading, and conformance with the
official code's outputs (../shared/fixtures/official-sam2matting-heads, random weights)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from sam2matting.errors import WeightsError
from sam2matting.matting.learned import SAM2MattingNet, compact_config, paper_config
from sam2matting.matting.weights import (
    OFFICIAL_HEAD_PREFIXES,
    convert_official_heads,
    load_network,
    load_official_heads,
    official_heads_from_ours,
)

#: ../shared/fixtures next to the checkout (as ../shared/data in conftest); or the env variables
_SHARED = Path(
    os.environ.get(
        "SAM2MATTING_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
).parent
FIXTURE = Path(
    os.environ.get(
        "SAM2MATTING_OFFICIAL_FIXTURE", _SHARED / "fixtures" / "official-sam2matting-heads"
    )
)


@pytest.fixture(scope="module")
def fixture_dir() -> Path:
    if not (FIXTURE / "heads.pt").is_file():
        pytest.skip(
            f"official heads fixture not found at {FIXTURE} (set SAM2MATTING_OFFICIAL_FIXTURE)"
        )
    return FIXTURE


def random_official_heads(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random paper-config network's heads written out in the official layout."""
    torch.manual_seed(seed)
    net = SAM2MattingNet(paper_config())
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = {k: v for k, v in net.state_dict().items() if k.startswith(("roi.", "predictor."))}
    return official_heads_from_ours(state)


@pytest.mark.shared_data
def test_official_fixture_reproduced(fixture_dir: Path) -> None:
    from safetensors.torch import load_file

    io = load_file(str(fixture_dir / "io.safetensors"))
    net = load_official_heads(fixture_dir / "heads.pt")
    with torch.no_grad():
        roi_logits, alpha = net.official_forward(
            features=(io["features_s4"], io["features_s8"], io["features_s16"]),
            mask=io["mask"],
            image=io["image"],
        )
    assert roi_logits.shape == io["roi_logits"].shape == (1, 1, 64, 64)
    assert alpha.shape == io["alpha"].shape == (1, 1, 128, 128)
    d_roi = float((roi_logits - io["roi_logits"]).abs().max())
    d_alpha = float((alpha - io["alpha"]).abs().max())
    print(f"fixture max |d| roi_logits {d_roi:.3g} alpha {d_alpha:.3g}")
    assert d_roi <= 1e-4
    assert d_alpha <= 1e-4


@pytest.mark.shared_data
def test_fixture_layout_is_the_one_we_write(fixture_dir: Path) -> None:
    """Our writer of the official layout produces exactly the released key set and shapes."""
    real = torch.load(fixture_dir / "heads.pt", map_location="cpu", weights_only=True)["model"]
    ours = random_official_heads()
    assert set(real) == set(ours)
    assert all(tuple(real[k].shape) == tuple(ours[k].shape) for k in real)
    assert any(k.endswith("scale_64.0.bias") for k in real)  # official convolutions have biases


def test_official_layout_round_trip_and_parameters(tmp_path: Path) -> None:
    heads = random_official_heads(seed=3)
    assert all(k.split(".")[0] in OFFICIAL_HEAD_PREFIXES for k in heads)
    assert "unknown_region_predictor.scale_64.0.weight" in heads
    assert heads["unknown_region_predictor.scale_64.0.weight"].shape[1] == 32 + 1 + 3
    # ROI scale_64 is the stride-4 branch; predictor scale_64 the stride-16 stage (256+1+3 in)
    assert heads["unknown_alpha_predictor.scale_64.0.weight"].shape[0] == 256 + 1 + 3
    n_params = sum(
        v.numel()
        for k, v in heads.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert abs(n_params - 4.95e6) / 4.95e6 < 0.01  # the paper's "~4.95 M parameters"
    path = tmp_path / "SAM2Matting-SAM2.1Tiny.pt"
    # a full checkpoint also holds the tracker's weights (ignored by the heads)
    torch.save({"model": {**heads, "image_encoder.trunk.pos_embed": torch.zeros(1)}}, path)
    net = load_official_heads(path)
    assert torch.equal(
        net.roi.branches[2][0].conv.bias, heads["unknown_region_predictor.scale_256.0.bias"]
    )
    assert torch.equal(
        net.predictor.stages[2].body[2].bn.running_var,
        heads["unknown_alpha_predictor.scale_256.7.running_var"],
    )
    assert torch.equal(net.roi.out.bias, heads["unknown_fusion.6.bias"])
    assert torch.equal(net.predictor.stages[1].head.out.weight, heads["alpha_pred2.3.weight"])
    assert load_network(str(path)).config.official  # the registry path: the same function
    back = official_heads_from_ours(
        {k: v for k, v in net.state_dict().items() if k.startswith(("roi.", "predictor."))}
    )
    assert set(back) == set(heads)
    assert all(torch.equal(back[k], heads[k]) for k in heads)


def test_official_forward_shapes_and_trimap_semantics() -> None:
    torch.manual_seed(0)
    net = load_official_heads(random_official_heads(seed=1))
    feats = (torch.randn(2, 32, 16, 16), torch.randn(2, 64, 8, 8), torch.randn(2, 256, 4, 4))
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        roi_logits, alpha = net.official_forward(features=feats, mask=mask, image=image)
    assert roi_logits.shape == (2, 1, 16, 16)
    assert alpha.shape == (2, 1, 32, 32)
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0
    with pytest.raises(Exception, match="official heads"):
        SAM2MattingNet(compact_config()).official_forward(feats, mask, image)


def test_official_heads_bad_input_is_one_line(tmp_path: Path) -> None:
    heads = random_official_heads()
    missing = {k: v for k, v in heads.items() if not k.startswith("alpha_pred3.")}
    with pytest.raises(WeightsError, match="missing"):
        load_official_heads(missing)
    bad_layout = {**heads, "unknown_fusion.2.weight": torch.randn(1)}  # index 2 is a ReLU
    with pytest.raises(WeightsError, match="layout"):
        convert_official_heads(bad_layout)
    guessed = {**heads, "unknown_region_predictor.0.0.weight": torch.randn(1)}  # index keys
    with pytest.raises(WeightsError, match="layout"):
        load_official_heads(guessed)
    wrong_shape = dict(heads)
    wrong_shape["unknown_fusion.0.weight"] = torch.randn(64, 191, 3, 3)
    with pytest.raises(WeightsError, match="wrong shape"):
        load_official_heads(wrong_shape)
    with pytest.raises(WeightsError, match="neither an official"):
        convert_official_heads({"image_encoder.x": torch.zeros(1)})
    # files: truncated, not weights-only, neither official nor ours — one line naming the file
    good = tmp_path / "SAM2Matting-SAM2.1Tiny.pt"
    torch.save({"model": heads}, good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": heads, "extra": _NotAWeight()}, pickled)
    other = tmp_path / "other.pt"
    torch.save({"model": {"backbone.conv.weight": torch.zeros(1)}}, other)
    for path, words in (
        (truncated, "truncated"),
        (pickled, "not a weights-only"),
        (other, "neither an official"),
    ):
        with pytest.raises(WeightsError) as err:
            load_official_heads(path)
        text = str(err.value)
        assert words in text and path.name in text and "\n" not in text


class _NotAWeight:
    """A custom class: unpickling it needs code, which weights-only loading refuses."""
