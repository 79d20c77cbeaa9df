"""Official SAM 3 / SAM2Matting-SAM3 checkpoints → transformers' ``Sam3TrackerVideoModel``.

The official layouts come from the official module definitions, not from our guesses
(``benchmarks/meta_reference/sam3_reference.py``, run in its own venv on FudanCVL/SAM2Matting's
copy of Meta's ``sam3`` package):

- ``tests/data/sam2matting_sam3_official_keys.json.gz``: every key and shape the SAM2Matting SAM 3
  video predictor loads from ``SAM2Matting-SAM3.pt`` (full size, file layout ``detector.`` /
  ``tracker.``), and the keys of Meta's whole SAM 3 video model that only its detector uses;
- ``tests/data/sam2matting_sam3_tiny_spec.json``: key, shape, dtype and init statistics of a tiny
  model built from the same official classes (ViT 32 × 2 blocks at 56², tracker and heads at
  full width). Tests synthesise seeded random weights of that spec.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import meta_reference  # noqa: E402
from sam2matting.checkpoints import check_state_dict  # noqa: E402
from sam2matting.errors import WeightsError  # noqa: E402
from sam2matting.samples import make_sample_clip, write_sample_video  # noqa: E402
from sam2matting.trackers import convert, convert_sam3  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"
W, H, N = 84, 56, 3


def official_layout() -> dict[str, dict[str, list[int]]]:
    with gzip.open(DATA / "sam2matting_sam3_official_keys.json.gz", "rt") as f:
        return json.load(f)


def tiny_official_state(seed: int = meta_reference.SAM3_SEED) -> dict[str, torch.Tensor]:
    """Seeded random weights of the tiny official spec, in the file layout."""
    rows = json.loads((DATA / "sam2matting_sam3_tiny_spec.json").read_text())
    return meta_reference.synth_sam3_state(rows, seed)


@pytest.fixture(scope="module")
def tiny_sam3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SAM2Matting-SAM3 file: tracker + heads, plus a few detector-only keys, as
    ``{"model": …}`` (the released files' container)."""
    state = tiny_official_state()
    state["detector.backbone.language_backbone.encoder.ln_final.weight"] = torch.ones(8)
    state["detector.transformer.decoder.query_embed.weight"] = torch.zeros(2, 8)
    path = tmp_path_factory.mktemp("ckpt") / "SAM2Matting-SAM3-tiny-test.pt"
    torch.save({"model": state}, path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_video(make_sample_clip(W, H, N), tmp_path_factory.mktemp("in") / "c.mp4")


def test_full_official_layout_maps_strictly_onto_transformers() -> None:
    """Every tracker key of the real-size official layout lands in transformers' default
    Sam3TrackerVideoModel with its shape, and every key of that model is filled (strict both
    ways); what is set aside is exactly the SAM 3 detector and the matting heads."""
    layout = official_layout()
    state: dict[str, torch.Tensor] = {}
    for key, shape in {**layout["matting_predictor"], **layout["detector_only"]}.items():
        dtype = torch.complex64 if key.endswith("freqs_cis") else torch.float32
        state[key] = torch.empty(shape, dtype=dtype, device="meta")
    tracker_sd, heads, skipped = convert_sam3.split_sam3_checkpoint(state, "full")
    assert {k.split(".")[0] for k in heads} == set(convert.HEAD_MODULES)
    assert set(skipped) == set(convert_sam3.SAM3_NOT_CONVERTED)
    assert sum(skipped.values()) == len(layout["detector_only"]) + sum(
        1
        for k in layout["matting_predictor"]
        if k.startswith("detector.backbone.vision_backbone.convs.")
    )
    config = convert_sam3.sam3_config_from_state(tracker_sd)
    converted = convert_sam3.sam3_official_to_hf(tracker_sd, config)
    with torch.device("meta"):
        default = transformers.Sam3TrackerVideoModel(transformers.Sam3TrackerVideoConfig())
        inferred = transformers.Sam3TrackerVideoModel(config)
    check_state_dict(default.state_dict(), converted, "full-size SAM 3 tracker")
    check_state_dict(inferred.state_dict(), converted, "full-size SAM 3 tracker (inferred)")
    print(
        f"\nofficial SAM2Matting-SAM3 layout: {len(layout['matting_predictor'])} keys "
        f"({len(tracker_sd)} tracker, {len(heads)} heads) + {len(layout['detector_only'])} "
        f"detector-only → {len(converted)} Sam3TrackerVideoModel keys. "
        f"{convert_sam3.describe_not_converted(skipped)}"
    )


def test_every_tiny_official_tensor_has_exactly_one_place() -> None:
    """Provenance on real tensors (tiny spec from Meta's classes): each transformers tensor is
    a view of exactly one official tensor and each official tracker tensor feeds exactly one
    transformers key — named exceptions: q/k/v split 1 → 3, the 4 point embeddings stacked
    4 → 1, the prompt encoder's Fourier matrix also serving the model's image embedding
    (1 → 2), the class-token row dropped from the position table, and the derived rotary
    tables (not copied)."""
    state = tiny_official_state()
    tracker_sd, heads, skipped = convert_sam3.split_sam3_checkpoint(state, "tiny")
    # the detector's own FPN neck is the only part the tiny model has that the tracker does not use
    assert list(skipped) == ["detector.backbone.vision_backbone.convs."] and len(heads) == 141
    converted = convert_sam3.sam3_official_to_hf(tracker_sd)
    model = transformers.Sam3TrackerVideoModel(convert_sam3.sam3_config_from_state(tracker_sd))
    check_state_dict(model.state_dict(), converted, "tiny SAM 3 tracker")

    owner = {v.untyped_storage().data_ptr(): k for k, v in tracker_sd.items()}
    fed: dict[str, list[str]] = {k: [] for k in tracker_sd}
    for hf_key, value in converted.items():
        src = owner.get(value.untyped_storage().data_ptr())
        if hf_key == "prompt_encoder.point_embed.weight":
            parts = [
                tracker_sd[f"sam_prompt_encoder.point_embeddings.{i}.weight"] for i in range(4)
            ]
            assert torch.equal(value, torch.cat(parts))
            continue
        assert src is not None, f"{hf_key} comes from no official tensor"
        fed[src].append(hf_key)
    for key, targets in fed.items():
        if key.endswith("attn.freqs_cis") or ".point_embeddings." in key:
            assert targets == [], key
        elif ".attn.qkv." in key:
            assert sorted(t.split(".")[-2] for t in targets) == ["k_proj", "q_proj", "v_proj"]
            q = converted[targets[0]]
            assert torch.equal(
                torch.cat(
                    [
                        converted[t]
                        for t in sorted(targets, key=lambda t: "qkv".index(t.split(".")[-2][0]))
                    ]
                ),
                tracker_sd[key],
            )
            assert q.shape[0] * 3 == tracker_sd[key].shape[0]
        elif key == "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix":
            assert sorted(targets) == [
                "prompt_encoder.shared_embedding.positional_embedding",
                "shared_image_embedding.positional_embedding",
            ]
        elif key.endswith("trunk.pos_embed"):
            (t,) = targets
            assert torch.equal(converted[t], tracker_sd[key][:, 1:])
        else:
            assert len(targets) == 1, (key, targets)
            assert torch.equal(converted[targets[0]], tracker_sd[key]), key


def test_sam2matting_sam3_checkpoint_runs_end_to_end(
    tiny_sam3_checkpoint: Path, clip: Path, tmp_path: Path, capsys
) -> None:
    from test_official_models import matte_with_model

    model = str(tiny_sam3_checkpoint)
    alphas = matte_with_model(clip, tmp_path / "out", model, "20,10,60,45", capsys)
    assert len(alphas) == N and all(a.shape[:2] == (H, W) for a in alphas)


def test_official_sam3_stage_sees_the_tracker_input(tiny_sam3_checkpoint: Path) -> None:
    """Tracker and heads from one SAM 3 file: the heads run official_forward on the SAM 3
    tracker's features (288²-style grid: 4·56/14 = 16), mask = its low-res logits > 0, image =
    the tracker's own input (PIL bicubic to 56², mean/std 0.5), alpha resized to the frame."""
    import torch.nn.functional as F

    from sam2matting.io.readers import open_source
    from sam2matting.matting.weights import load_official_heads
    from sam2matting.models import build_official
    from sam2matting.preprocess import meta_model_input
    from sam2matting.trackers.hf_sam3 import Sam3Tracker
    from sam2matting.types import Box

    tracker, head = build_official(str(tiny_sam3_checkpoint), device="cpu")
    assert isinstance(tracker, Sam3Tracker) and not tracker.supports_text
    assert "text encoder (1 keys)" in tracker.not_converted
    assert head.official_input == (56, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    frames = [make_sample_clip(W, H, N).frame(i)[0] for i in range(N)]
    session = tracker.open(open_source(frames))
    session.add_prompt(Box(20, 10, 60, 45))
    tf = next(iter(session.propagate(0)))
    session.close()
    tr = tf.objects[1]
    assert {s: np.asarray(tr.features[s]).shape for s in (4, 8, 16)} == {
        4: (32, 16, 16),
        8: (64, 8, 8),
        16: (256, 4, 4),
    }
    assert tr.logits.shape == (16, 16) and (tr.logits > 0).any()
    got = head.matte(tf.image, tf.objects, tf.index)[1]
    net = load_official_heads(tiny_sam3_checkpoint)
    feats = tuple(torch.as_tensor(tr.features[s])[None] for s in (4, 8, 16))
    mask = (torch.from_numpy(tr.logits) > 0).float()[None, None]
    image = meta_model_input(tf.image, 56, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    with torch.no_grad():
        _, alpha = net.official_forward(features=feats, mask=mask, image=image)
    want = F.interpolate(alpha, size=(H, W), mode="bilinear", align_corners=False)[0, 0].numpy()
    assert float(np.abs(got - want).max()) < 1e-4


def _fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    cache = tmp_path / "hub"
    repo = cache / "models--FudanCVL--SAM2Matting"
    snap = repo / "snapshots" / ("2" * 40) / "checkpoints"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("2" * 40)
    for name, src in files.items():
        (snap / name).write_bytes(src.read_bytes())
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))


def test_bad_sam3_checkpoints_are_one_line_weights_errors(
    tiny_sam3_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sam2matting.models import build_official
    from test_official_models import tiny_tracker_state

    state = torch.load(tiny_sam3_checkpoint, weights_only=True)["model"]
    cases: list[tuple[Path, str]] = []

    def save(name: str, sd: dict[str, torch.Tensor], words: str) -> None:
        path = tmp_path / name
        torch.save({"model": sd}, path)
        cases.append((path, words))

    save("no-mlp.pt", {k: v for k, v in state.items() if ".mlp.lin2." not in k}, "missing")
    extra = dict(state)
    extra["tracker.transformer.encoder.layers.7.linear1.weight"] = torch.zeros(64, 256)
    save("extra.pt", extra, "unexpected")
    odd = dict(state)
    odd["detector.mystery.weight"] = torch.zeros(1)
    save("odd.pt", odd, "no known part")
    save("no-heads.pt", {k: v for k, v in state.items() if "alpha_pred" not in k}, "missing")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(tiny_sam3_checkpoint.read_bytes()[:5000])
    cases.append((truncated, "truncated"))
    for path, words in cases:
        with pytest.raises(WeightsError) as err:
            build_official(str(path))
        msg = str(err.value)
        assert words in msg and path.name in msg and "\n" not in msg, msg

    # variant mismatch through the presets: SAM 3 under a SAM 2.1 name and the reverse
    from test_official_heads import random_official_heads

    sam2 = tmp_path / "sam2.pt"
    torch.save({"model": {**tiny_tracker_state(), **random_official_heads(seed=5)}}, sam2)
    _fake_hub(
        tmp_path,
        monkeypatch,
        {"SAM2Matting-SAM2.1Tiny.pt": tiny_sam3_checkpoint, "SAM2Matting-SAM3.pt": sam2},
    )
    with pytest.raises(
        WeightsError, match=r"holds a sam3 tracker, but sam2matting-sam2\.1-tiny expects SAM 2"
    ):
        build_official("sam2matting-sam2.1-tiny")
    with pytest.raises(
        WeightsError, match=r"holds a sam2 tracker, but sam2matting-sam3 expects SAM 3"
    ):
        build_official("sam2matting-sam3")
