"""Whole official SAM2Matting checkpoints (tracker + heads in one ``.pt``) through the CLI.

The checkpoints are synthesised: a random SAM 2.1 tracker in Meta's key layout
(``sam2_hf_to_official``) plus random heads in the official layout. The default run uses a tiny
tracker with the real feature widths (32 / 64 / 256 channels, 64² input) — its architecture is
not one of the four released sizes, so the test tells the loader which config it is; the
``slow`` test runs a real-size random SAM 2.1-tiny through the ``sam2matting-sam2.1-tiny``
preset from a (fake, offline) Hugging Face cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sam2matting.cli import main  # noqa: E402
from sam2matting.errors import WeightsError  # noqa: E402
from sam2matting.samples import make_sample_clip, write_sample_video  # noqa: E402
from sam2matting.trackers import convert, hf_sam2  # noqa: E402
from test_official_heads import random_official_heads  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W, H, N = 96, 64, 3


def tiny_tracker_state(seed: int = 0) -> dict[str, torch.Tensor]:
    import transformers

    torch.manual_seed(seed)
    model = transformers.Sam2VideoModel(hf_sam2.tiny_sam2_config(64, hidden_size=256))
    return convert.sam2_hf_to_official(model.state_dict())


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "SAM2Matting-tiny-test.pt"
    torch.save({"model": {**tiny_tracker_state(), **random_official_heads(seed=5)}}, path)
    return path


@pytest.fixture
def tiny_arch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader infers the architecture from the released sizes only: name the tiny one."""
    monkeypatch.setattr(convert, "infer_sam2_variant", lambda sd: ("tiny-test", "2.1"))
    monkeypatch.setattr(
        hf_sam2, "sam2_config", lambda size, version: hf_sam2.tiny_sam2_config(64, hidden_size=256)
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_video(make_sample_clip(W, H, N), tmp_path_factory.mktemp("in") / "clip.mp4")


def _alphas(out: Path) -> list[np.ndarray]:
    files = sorted(out.rglob("*.png"))
    return [np.asarray(Image.open(f)) for f in files]


def matte_with_model(clip: Path, out: Path, model: str, box: str, capsys) -> list[np.ndarray]:
    """``sam2matting matte CLIP -o OUT --model MODEL --box BOX``: the alpha frames written
    (asserts a zero exit status; prints the CLI's summary)."""
    status = main(["matte", str(clip), "-o", str(out), "--model", model, "--box", box])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    alphas = _alphas(out)
    print(printed.out.strip(), f"\n{len(alphas)} alpha frames, shape {alphas[0].shape}")
    return alphas


def test_synthesised_checkpoint_runs_end_to_end(
    tiny_checkpoint: Path, tiny_arch: None, clip: Path, tmp_path: Path, capsys
) -> None:
    alphas = matte_with_model(clip, tmp_path / "out", str(tiny_checkpoint), "20,10,70,50", capsys)
    assert len(alphas) == N
    assert all(a.shape[:2] == (H, W) for a in alphas)


def test_official_stage_is_the_official_pipeline(tiny_checkpoint: Path, tiny_arch: None) -> None:
    """The head built from the checkpoint computes official_forward on the tracker's features,
    mask = low-res logits > 0 and image = the tracker's own input, then resizes bilinearly."""
    import torch.nn.functional as F

    from sam2matting.io.readers import open_source
    from sam2matting.matting.weights import load_official_heads
    from sam2matting.models import build_official
    from sam2matting.preprocess import meta_model_input
    from sam2matting.types import Box

    tracker, head = build_official(str(tiny_checkpoint), device="cpu")
    assert head.net.config.official and head.net.refiner is None
    frames = [make_sample_clip(W, H, N).frame(i)[0] for i in range(N)]
    src = open_source(frames)
    session = tracker.open(src)
    session.add_prompt(Box(20, 10, 70, 50))
    tf = next(iter(session.propagate(0)))
    session.close()
    got = head.matte(tf.image, tf.objects, tf.index)[1]
    net = load_official_heads(tiny_checkpoint)
    tr = tf.objects[1]
    feats = tuple(torch.as_tensor(tr.features[s])[None] for s in (4, 8, 16))
    mask = (torch.from_numpy(tr.logits) > 0).float()[None, None]
    image = meta_model_input(tf.image, 64)
    with torch.no_grad():
        _, alpha = net.official_forward(features=feats, mask=mask, image=image)
    want = F.interpolate(alpha, size=(H, W), mode="bilinear", align_corners=False)[0, 0].numpy()
    assert got.shape == (H, W)
    assert float(np.abs(got - want).max()) < 1e-4  # BatchNorm folded for inference: rounding


def test_model_gets_the_session_device_and_dtype(
    tiny_checkpoint: Path, tiny_arch: None, clip: Path
) -> None:
    """A session's device and dtype reach both the tracker and the heads built from a
    checkpoint, as for registered ones; the official heads run frame by frame (no temporal
    smoothing, no colour-line refinement) unless asked for."""
    from sam2matting.api import MattingSession
    from sam2matting.models import build_official

    with MattingSession(clip, model=str(tiny_checkpoint), device="cpu", dtype="bf16") as s:
        assert s.tracker.amp_dtype == torch.bfloat16
        assert s.head.device.type == "cpu" and s.head.config.dtype == "bfloat16"
        assert s.head.config.temporal == 0
        assert s.head.config.edge_radius == 0  # nor the colour-line refinement
    _, head = build_official(str(tiny_checkpoint), head_options={"temporal": 0.3, "edge_radius": 1})
    assert head.config.temporal == 0.3 and head.config.dtype is None
    assert head.config.edge_radius == 1


def test_bad_checkpoints_are_one_line_weights_errors(
    tiny_checkpoint: Path, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from sam2matting.models import build_official

    state = torch.load(tiny_checkpoint, weights_only=True)["model"]
    no_heads = tmp_path / "sam2.1_hiera_tiny.pt"  # Meta's tracker alone: heads missing
    torch.save(
        {"model": {k: v for k, v in state.items() if not k.startswith("alpha_pred")}}, no_heads
    )
    some_heads = tmp_path / "partial.pt"
    torch.save(
        {"model": {k: v for k, v in state.items() if not k.startswith("alpha_pred3")}}, some_heads
    )
    sam3 = tmp_path / "sam3like.pt"
    heads = {k: v for k, v in state.items() if k.split(".")[0] in convert.HEAD_MODULES}
    torch.save({"model": {"detector.backbone.x": torch.zeros(1), **heads}}, sam3)
    for path, words in (
        (no_heads, "missing"),
        (some_heads, "missing"),
        (sam3, "detector key"),
    ):
        with pytest.raises(WeightsError) as err:
            build_official(str(path))
        assert words in str(err.value) and path.name in str(err.value), str(err.value)
        assert "\n" not in str(err.value)
    # variant mismatch: a checkpoint whose tracker is not the preset's, found via the HF cache
    cache = tmp_path / "hub"
    snap = cache / "models--FudanCVL--SAM2Matting" / "snapshots" / ("0" * 40) / "checkpoints"
    snap.mkdir(parents=True)
    (cache / "models--FudanCVL--SAM2Matting" / "refs").mkdir()
    (cache / "models--FudanCVL--SAM2Matting" / "refs" / "main").write_text("0" * 40)
    (snap / "SAM2Matting-SAM2.1Tiny.pt").write_bytes(tiny_checkpoint.read_bytes())
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(convert, "infer_sam2_variant", lambda sd: ("base-plus", "2.1"))
    with pytest.raises(WeightsError, match=r"expects SAM 2\.1 tiny"):
        build_official("sam2matting-sam2.1-tiny")
    # a preset absent offline: the hint, and the CLI exits 2 with one line
    status = main(
        [
            "matte",
            str(clip),
            "-o",
            str(tmp_path / "o"),
            "--model",
            "sam2matting-sam3",
            "--box",
            "1,1,5,5",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "Traceback" not in err[0]
    missing = main(
        [
            "matte",
            str(clip),
            "-o",
            str(tmp_path / "o2"),
            "--model",
            "sam2matting-sam3",
            "--box",
            "1,1,5,5",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert missing == 2 and "HF_HUB_OFFLINE" in err[-1], err


@pytest.mark.slow
def test_real_size_preset_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path, capsys
) -> None:
    """A real-size random SAM 2.1-tiny + official heads under the preset name in an offline
    Hugging Face cache, through ``sam2matting matte --model sam2matting-sam2.1-tiny``."""
    import transformers

    torch.manual_seed(0)
    model = transformers.Sam2VideoModel(hf_sam2.sam2_config("tiny", "2.1"))
    state = {**convert.sam2_hf_to_official(model.state_dict()), **random_official_heads(seed=5)}
    del model
    cache = tmp_path / "hub"
    repo = cache / "models--FudanCVL--SAM2Matting"
    snap = repo / "snapshots" / ("1" * 40) / "checkpoints"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("1" * 40)
    torch.save({"model": state}, snap / "SAM2Matting-SAM2.1Tiny.pt")
    del state
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    out = tmp_path / "out"
    status = main(
        [
            "matte",
            str(clip),
            "-o",
            str(out),
            "--model",
            "sam2matting-sam2.1-tiny",
            "--box",
            "20,10,70,50",
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    alphas = _alphas(out)
    print(printed.out.strip(), printed.err.strip()[-300:], f"\n{len(alphas)} alpha frames")
    assert len(alphas) == N and all(a.shape[:2] == (H, W) for a in alphas)
