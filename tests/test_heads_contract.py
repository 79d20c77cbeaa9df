"""Contract tests of the learned heads: every config builds and runs at a tiny size, shapes and
ranges hold, the paper config has the paper's parameter count, and the native-resolution
refinement machinery (tiles, patch gathering, native sampling) is exact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2matting.bridge.proposals import (
    RoiStabilizer,
    gather_patches,
    scatter_patches,
    select_tiles,
    tile_grid,
)
from sam2matting.bridge.roi import RoiConfig, RoiDetector
from sam2matting.errors import InputError
from sam2matting.matting.encoders import CompactEncoder, EncoderConfig, tap_tracker_features
from sam2matting.matting.heads import PredictorConfig, ProgressiveAlphaPredictor
from sam2matting.matting.learned import (
    LearnedMatting,
    LearnedMattingConfig,
    SAM2MattingNet,
    compact_config,
    config_from_dict,
    count_parameters,
    guided_prior,
    hybrid_config,
    object_window,
    paper_config,
    tiny_config,
    working_shape,
)
from sam2matting.matting.refine import NativeRefiner, RefinerConfig, sample_native
from sam2matting.types import ObjectTrack


def _track(mask: np.ndarray, features: dict | None = None) -> ObjectTrack:
    return ObjectTrack(logits=np.where(mask, 8.0, -8.0).astype(np.float32), features=features)


def _disc_frame(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 3) ** 2
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    img[mask] = (200, 120, 40)
    return img, mask


def test_paper_config_has_the_papers_layer_sizes_and_parameter_count() -> None:
    net = SAM2MattingNet(paper_config())
    assert net.encoder is None and net.refiner is None
    heads = count_parameters(net.roi) + count_parameters(net.predictor)
    assert abs(heads - 4.95e6) / 4.95e6 < 0.01, heads
    # first convolutions see the paper's input channel counts
    assert [b[0].conv.in_channels for b in net.roi.branches] == [36, 68, 260]
    assert net.roi.fusion[0].conv.in_channels == 192
    assert [s.body[0].conv.in_channels for s in net.predictor.stages] == [260, 69, 37]
    assert [s.body[0].conv.out_channels for s in net.predictor.stages] == [512, 256, 256]
    assert all(s.head.block.conv.in_channels == 64 for s in net.predictor.stages)
    assert all(s.head.block.conv.out_channels == 32 for s in net.predictor.stages)


@pytest.mark.parametrize("make", [tiny_config, compact_config, paper_config])
def test_every_config_runs_with_the_right_shapes(make) -> None:
    cfg = make()
    torch.manual_seed(0)
    net = SAM2MattingNet(cfg).eval()
    h, w = 32, 48
    rgb = torch.randn(2, 3, h, w)
    mask = (torch.rand(2, 1, h, w) > 0.5).float()
    feats = None
    if net.encoder is None:
        c4, c8, c16 = cfg.predictor.feature_channels
        feats = (
            torch.randn(2, c4, h // 4, w // 4),
            torch.randn(2, c8, h // 8, w // 8),
            torch.randn(2, c16, h // 16, w // 16),
        )
    with torch.no_grad():
        out = net(rgb, mask, feats)
    assert out.roi_logits.shape == (2, 1, h // 4, w // 4)
    assert out.roi.dtype == torch.bool
    assert set(torch.unique(out.trimap).tolist()) <= {0.0, 0.5, 1.0}
    assert [tuple(a.shape[-2:]) for a in out.alphas] == [
        (h // 8, w // 8),
        (h // 4, w // 4),
        (h // 2, w // 2),
    ]
    for a in out.alphas:
        assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_modules_build_from_their_configs_without_io() -> None:
    enc = CompactEncoder(EncoderConfig())
    f = enc(torch.randn(1, 3, 64, 64), torch.ones(1, 1, 64, 64))
    assert [tuple(t.shape[1:]) for t in f] == [(32, 16, 16), (64, 8, 8), (256, 4, 4)]
    roi = RoiDetector(RoiConfig(threshold=0.9))
    assert roi.propose(torch.full((1, 1, 2, 2), 2.0)).sum() == 0  # sigmoid(2)=0.88 < 0.9
    pred = ProgressiveAlphaPredictor(PredictorConfig())
    assert pred.out_features == 64
    ref = NativeRefiner(RefinerConfig(feature_channels=8, widths=(4, 4)))
    coarse = torch.rand(3, 1, 12, 12)
    # identity at init: an untrained refiner leaves the coarse alpha untouched
    assert torch.equal(ref(torch.randn(3, 3, 12, 12), coarse, torch.randn(3, 8, 12, 12)), coarse)


def test_tracker_feature_tap_validates_strides_and_channels() -> None:
    ok = {
        4: np.zeros((32, 16, 16), np.float32),
        8: torch.zeros(1, 64, 8, 8),
        16: torch.zeros(256, 4, 4),
    }
    f4, f8, f16 = tap_tracker_features(ok)
    assert f4.shape == (1, 32, 16, 16) and f8.shape == (1, 64, 8, 8) and f16.shape == (1, 256, 4, 4)
    with pytest.raises(InputError, match="stride 16"):
        tap_tracker_features({4: ok[4], 8: ok[8]})
    with pytest.raises(InputError, match="expected 64"):
        tap_tracker_features({**ok, 8: torch.zeros(32, 8, 8)})
    with pytest.raises(InputError, match="2× apart"):
        tap_tracker_features({**ok, 8: torch.zeros(64, 9, 8)})


def test_working_shape_keeps_aspect_and_multiples_of_16() -> None:
    assert working_shape(288, 512, 512) == (288, 512)
    assert working_shape(1080, 1920, 512) == (288, 512)
    assert working_shape(2160, 3840, 512) == (288, 512)
    assert working_shape(100, 60, 512) == (96, 64)  # small frames are not upscaled
    h, w = working_shape(1000, 700, 512)
    assert h % 16 == 0 and w % 16 == 0 and h == 512


def test_tiles_cover_the_roi_and_gather_scatter_round_trips() -> None:
    ys, xs = tile_grid(70, 100, 32)
    assert ys.tolist() == [0, 32, 38] and xs.tolist() == [0, 32, 64, 68]
    roi = np.zeros((7, 10), bool)
    roi[1, 4] = True  # native rows 10–20, columns 40–50: inside tile (0, 32) only
    tiles = select_tiles(roi, 70, 100, 32, grow=0)
    assert len(tiles) == 1 and tiles.covered_fraction < 0.2
    big = select_tiles(np.ones((7, 10), bool), 70, 100, 32)
    assert len(big) == 12
    image = torch.arange(70 * 100, dtype=torch.float32).reshape(1, 70, 100)
    patches = gather_patches(image, torch.from_numpy(big.origins), 32, 3)
    assert patches.shape == (12, 1, 38, 38)
    target = np.zeros((70, 100), np.float32)
    scatter_patches(target, patches[:, 0].numpy(), big.origins, 32, 3)
    assert np.array_equal(target, image[0].numpy())


def test_sample_native_equals_bilinear_resize_then_crop() -> None:
    torch.manual_seed(0)
    src = torch.rand(1, 5, 9, 13)
    native = (36, 52)
    full = F.interpolate(src, size=native, mode="bilinear", align_corners=False)
    origins = torch.tensor([[0, 0], [16, 20], [20, 36]])
    got = sample_native(src, origins, 16, 2, native)
    for k, (y, x) in enumerate(origins.tolist()):
        core = got[k, :, 2:-2, 2:-2]
        assert torch.allclose(core, full[0, :, y : y + 16, x : x + 16], atol=1e-5)


def test_refiner_on_patches_matches_the_whole_frame() -> None:
    torch.manual_seed(0)
    ref = NativeRefiner(RefinerConfig(feature_channels=2, widths=(4, 4))).eval()
    torch.nn.init.normal_(ref.out.weight, std=0.1)
    rgb, coarse, feats = (
        torch.randn(1, 3, 40, 40),
        torch.rand(1, 1, 40, 40),
        torch.randn(1, 2, 40, 40),
    )
    with torch.no_grad():
        whole = ref(rgb, coarse, feats)
        origins = torch.tensor([[8, 8], [16, 24]])
        pad = ref.config.pad
        pr = gather_patches(rgb[0], origins, 8, pad)
        pc = gather_patches(coarse[0], origins, 8, pad)
        pf = gather_patches(feats[0], origins, 8, pad)
        tiles = ref(pr, pc, pf)
    for k, (y, x) in enumerate(origins.tolist()):
        assert torch.allclose(
            tiles[k, 0, pad:-pad, pad:-pad], whole[0, 0, y : y + 8, x : x + 8], atol=1e-5
        )


def test_roi_stabilizer_hysteresis_only_between_adjacent_frames() -> None:
    st = RoiStabilizer(high=0.65, low=0.45, reach=0)
    p0 = np.array([[0.9, 0.5]])
    p1 = np.array([[0.5, 0.5]])
    assert st(1, 0, p0).tolist() == [[True, False]]
    assert st(1, 1, p1).tolist() == [[True, False]]  # held by hysteresis
    assert st(1, 5, p1).tolist() == [[False, False]]  # not adjacent: plain threshold
    st.reset()
    assert st(1, 6, p1).tolist() == [[False, False]]


@pytest.mark.parametrize("roi_mode", ["learned", "morphological", "mask"])
def test_learned_stage_tiny_multi_object(roi_mode: str) -> None:
    torch.manual_seed(0)
    net = SAM2MattingNet(tiny_config())
    stage = LearnedMatting(net, LearnedMattingConfig(weights=None, roi_mode=roi_mode))
    img, mask = _disc_frame(90, 160)
    empty = np.zeros_like(mask)
    out = stage.matte(img, {1: _track(mask), 2: _track(~mask), 3: _track(empty)}, frame_index=0)
    assert set(out) == {1, 2, 3}
    for a in out.values():
        assert a.shape == (90, 160) and a.dtype == np.float32
        assert a.min() >= 0.0 and a.max() <= 1.0
    assert not out[3].any()
    assert stage.matte(img, {}, 1) == {}
    stage.reset()


def test_native_refinement_gives_a_native_matte_and_touches_only_roi_tiles() -> None:
    torch.manual_seed(0)
    net = SAM2MattingNet(tiny_config())
    assert net.refiner is not None
    torch.nn.init.normal_(net.refiner.out.weight, std=0.5)  # make the refiner change things
    img, mask = _disc_frame(360, 640)
    tr = {1: _track(mask)}
    coarse = LearnedMatting(
        net, LearnedMattingConfig(weights=None, roi_mode="morphological", refine=False)
    )
    fine = LearnedMatting(
        net, LearnedMattingConfig(weights=None, roi_mode="morphological", refine=True)
    )
    a0 = coarse.matte(img, tr)[1]
    a1 = fine.matte(img, tr)[1]
    assert a1.shape == (360, 640)
    changed = np.abs(a1 - a0) > 1e-6
    assert changed.any()
    # far from the mask boundary nothing changes (outside every ROI tile)
    assert not changed[:20, :20].any() and not changed[175:185, 315:325].any()


def test_learned_stage_with_tracker_features() -> None:
    torch.manual_seed(0)
    net = SAM2MattingNet(paper_config())
    stage = LearnedMatting(net, LearnedMattingConfig(weights=None))
    img, mask = _disc_frame(72, 128)
    feats = {4: torch.randn(32, 16, 16), 8: torch.randn(64, 8, 8), 16: torch.randn(256, 4, 4)}
    out = stage.matte(img, {1: _track(mask, feats)})
    assert out[1].shape == (72, 128)
    with pytest.raises(InputError, match="tracker features"):
        stage.matte(img, {1: _track(mask)})


def test_registry_builds_the_learned_head_with_random_weights() -> None:
    from sam2matting.matting import build_head
    from sam2matting.matting.base import MattingStage

    stage = build_head("sam2matting", weights=None, model="tiny", device="cpu")
    assert isinstance(stage, MattingStage)
    img, mask = _disc_frame(48, 64)
    assert stage.matte(img, {1: _track(mask)})[1].shape == (48, 64)
    from sam2matting.errors import Sam2MattingError

    with pytest.raises(Sam2MattingError, match="unknown option"):
        build_head("sam2matting", weights=None, bogus=1)


def test_numpy_and_torch_patch_gathering_agree() -> None:
    from sam2matting.bridge.proposals import gather_patches_numpy

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (37, 50, 3), dtype=np.uint8)
    origins = np.array([[0, 0], [30, 45], [5, 17]])
    a = gather_patches_numpy(image, origins, 8, 3)
    b = gather_patches(
        torch.from_numpy(image.copy()).permute(2, 0, 1), torch.from_numpy(origins), 8, 3
    )
    assert np.array_equal(a, b.permute(0, 2, 3, 1).numpy())


def test_learned_head_through_the_public_session() -> None:
    from sam2matting.api import MattingSession
    from sam2matting.samples import make_sample_clip
    from sam2matting.types import MaskPrompt

    clip = make_sample_clip(width=128, height=72, num_frames=4)
    frames, alphas = zip(*clip)
    masks = [a > 0.5 for a in alphas]
    with MattingSession(
        list(frames),
        tracker="oracle",
        tracker_options={"masks": masks},
        head="sam2matting",
        head_options={"weights": None, "model": "tiny"},
    ) as session:
        session.add_prompt(MaskPrompt(masks[0], frame=0, object_id=1))
        results = list(session.propagate())
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert all(r.alphas[1].shape == (72, 128) for r in results)


def test_scatter_where_and_paste_known_keep_the_mask_outside_the_roi() -> None:
    target = np.zeros((8, 8), np.float32)
    patches = np.ones((1, 8, 8), np.float32)
    where = np.zeros((1, 8, 8), bool)
    where[0, :4] = True
    scatter_patches(target, patches, np.array([[0, 0]]), 8, 0, where)
    assert target[:4].all() and not target[4:].any()
    torch.manual_seed(0)
    net = SAM2MattingNet(tiny_config())
    img, mask = _disc_frame(90, 160)
    stage = LearnedMatting(
        net, LearnedMattingConfig(weights=None, roi_mode="mask", paste_known=True)
    )
    out = stage.matte(img, {1: _track(mask)})[1]
    # no ROI: the mask (resampled through the working grid), exactly 0 / 1 away from its edge
    import cv2

    k = np.ones((9, 9), np.uint8)
    inner = cv2.erode(mask.astype(np.uint8), k) > 0
    outer = cv2.dilate(mask.astype(np.uint8), k) == 0
    assert (out[inner] == 1).all() and (out[outer] == 0).all()


def test_batchnorm_fusion_keeps_the_outputs() -> None:
    import copy

    from sam2matting.matting.heads import fuse_batchnorm

    torch.manual_seed(0)
    net = SAM2MattingNet(compact_config()).eval()
    for m in net.modules():  # non-trivial statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    fused = fuse_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    rgb, mask = torch.randn(1, 3, 64, 96), (torch.rand(1, 1, 64, 96) > 0.5).float()
    with torch.no_grad():
        a, b = net(rgb, mask), fused(rgb, mask)
    assert torch.allclose(a.roi_logits, b.roi_logits, atol=1e-4)
    assert torch.allclose(a.alphas[-1], b.alphas[-1], atol=1e-4)


# -- hybrid heads: the guided-filter prior ------------------------------------------------------


def test_hybrid_config_adds_exactly_one_prior_channel_per_stage_and_refiner() -> None:
    plain, hybrid = SAM2MattingNet(compact_config()), SAM2MattingNet(hybrid_config())
    assert hybrid.uses_prior and not plain.uses_prior
    assert [s.body[0].conv.in_channels for s in hybrid.predictor.stages] == [
        s.body[0].conv.in_channels + 1 for s in plain.predictor.stages
    ]
    assert plain.refiner is not None and hybrid.refiner is not None
    assert hybrid.refiner.body[0].conv.in_channels == plain.refiner.body[0].conv.in_channels + 1
    # the paper config stays the paper's (official weights load into it)
    assert not SAM2MattingNet(paper_config()).uses_prior
    # configs that disagree about the prior are refused
    bad = dataclasses.replace(hybrid_config(), prior_radius=0)
    with pytest.raises(ValueError, match="prior"):
        SAM2MattingNet(bad)
    # the manifest round trip keeps it
    assert config_from_dict(hybrid_config().to_dict()) == hybrid_config()


def test_hybrid_predictor_and_refiner_demand_the_prior() -> None:
    net = SAM2MattingNet(tiny_config(prior=True)).eval()
    rgb, mask = torch.randn(1, 3, 32, 48), (torch.rand(1, 1, 32, 48) > 0.5).float()
    with torch.no_grad(), pytest.raises(ValueError, match="needs a prior"):
        net(rgb, mask)
    plain = SAM2MattingNet(tiny_config()).eval()
    with torch.no_grad(), pytest.raises(ValueError, match="takes no prior"):
        plain(rgb, mask, prior=torch.rand(1, 1, 32, 48))
    with torch.no_grad():
        out = net(rgb, mask, prior=torch.rand(1, 1, 32, 48))
    assert out.alphas[-1].shape == (1, 1, 16, 24)


def test_guided_prior_is_the_guided_heads_answer_for_a_binary_mask() -> None:
    from sam2matting.matting.classical import ClassicalConfig, ClassicalMatting

    img, mask = _disc_frame(96, 128)
    prior = guided_prior(img.astype(np.float32) / 255.0, mask.astype(np.float32), 4)
    assert prior.shape == mask.shape and prior.dtype == np.float32
    # the guided head with the same band gives the same alpha (up to its source being the
    # track's sigmoid, 0.9997 rather than 1, where the prior's is the binary mask)
    head = ClassicalMatting(ClassicalConfig(band_fraction=4 / float(np.hypot(96, 128)), min_band=4))
    np.testing.assert_allclose(head.matte(img, {1: _track(mask)})[1], prior, atol=1e-3)
    # soft only in the band; the mask elsewhere; nothing for an empty mask
    far = ~cv2_dilate(mask, 6) | cv2_erode(mask, 6)
    np.testing.assert_array_equal(prior[far], mask[far].astype(np.float32))
    assert not guided_prior(img / 255.0, np.zeros_like(mask, np.float32), 4).any()


def cv2_dilate(mask: np.ndarray, r: int) -> np.ndarray:
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def cv2_erode(mask: np.ndarray, r: int) -> np.ndarray:
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(mask.astype(np.uint8), k).astype(bool)


def test_widening_a_plain_network_for_the_prior_changes_nothing_until_trained() -> None:
    from sam2matting.errors import WeightsError
    from sam2matting.matting.weights import expand_input_channels, load_state_dict_strict

    torch.manual_seed(0)
    plain = SAM2MattingNet(tiny_config())
    with torch.no_grad():  # non-trivial outputs: a random but non-zero refiner
        assert plain.refiner is not None
        plain.refiner.out.weight.normal_(0, 0.1)
    hybrid = SAM2MattingNet(tiny_config(prior=True))
    state, widened = expand_input_channels(hybrid, plain.state_dict())
    assert sorted(widened) == [
        "predictor.stages.0.body.0.conv.weight",
        "predictor.stages.1.body.0.conv.weight",
        "predictor.stages.2.body.0.conv.weight",
        "refiner.body.0.conv.weight",
    ]
    load_state_dict_strict(hybrid, state)
    img, mask = _disc_frame(90, 160)
    # a band ROI, so that the (random) heads and refiner decide some pixels
    opts = LearnedMattingConfig(weights=None, roi_mode="morphological")
    a = LearnedMatting(plain, opts).matte(img, {1: _track(mask)})[1]
    b = LearnedMatting(hybrid, opts).matte(img, {1: _track(mask)})[1]
    np.testing.assert_array_equal(a, b)
    assert float(np.abs(a - mask).mean()) > 0.0  # the heads did something
    # anything but appended input channels is still refused
    other = SAM2MattingNet(compact_config())
    with pytest.raises(WeightsError):
        expand_input_channels(other, plain.state_dict())


def test_object_window_is_the_grown_bounding_box_on_the_16_grid() -> None:
    m = np.zeros((96, 160), bool)
    m[40:50, 70:75] = True
    assert object_window([m], 8) == (32, 64, 48, 96)
    assert object_window([m], None) == (0, 96, 0, 160)
    assert object_window([np.zeros_like(m)], 8) == (0, 96, 0, 160)
    other = np.zeros_like(m)
    other[0:2, 150:160] = True  # union over objects, clamped to the image
    assert object_window([m, other], 8) == (0, 64, 48, 160)


def test_the_object_window_changes_the_matte_only_slightly_and_only_near_the_object() -> None:
    torch.manual_seed(0)
    net = SAM2MattingNet(tiny_config(prior=True))
    with torch.no_grad():
        assert net.refiner is not None
        net.refiner.out.weight.normal_(0, 0.1)
    img, mask = _disc_frame(120, 320)  # the disc covers a third of the width
    opts = dict(weights=None, roi_mode="morphological")
    whole = LearnedMatting(net, LearnedMattingConfig(**opts, crop_margin=None))
    window = LearnedMatting(net, LearnedMattingConfig(**opts, crop_margin=32))
    a = whole.matte(img, {1: _track(mask)})[1]
    b = window.matte(img, {1: _track(mask)})[1]
    assert float(np.abs(a - b).mean()) < 0.01
    y0, y1, x0, x1 = object_window([mask], 32)
    assert (x1 - x0) < 320  # the window really is smaller than the frame
    outside = np.ones_like(mask)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(b[outside], mask[outside].astype(np.float32))
