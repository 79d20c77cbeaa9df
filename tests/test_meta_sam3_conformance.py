"""Our SAM 3 path against FudanCVL's official SAM 3 matting video predictor, frame by frame.

Reference: ``tests/data/meta_sam3_tiny_reference.npz``, made by
``benchmarks/meta_reference/sam3_reference.py`` in its own venv: the official
``SAM3MattingVideoPredictor`` (Meta's SAM 3 tracker + the SAM2Matting heads, FudanCVL's code) at
tiny size with seeded random weights of ``tests/data/sam2matting_sam3_tiny_spec.json``, on
``meta_reference.make_clip`` (lossless frames), a box on frame 0, forward propagation. Ours:
the same weights saved as an official ``.pt`` (file layout), converted
(``trackers/convert_sam3.py``), run by transformers' ``Sam3TrackerVideoModel`` through our
reader, pre-processing and the official heads (``models.build_official``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import meta_reference as ref  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"


def test_sam3_matting_matches_the_official_predictor(tmp_path: Path) -> None:
    from sam2matting.io.readers import open_source
    from sam2matting.models import build_official
    from sam2matting.types import Box

    want = np.load(DATA / "meta_sam3_tiny_reference.npz")
    rows = json.loads((DATA / "sam2matting_sam3_tiny_spec.json").read_text())
    path = tmp_path / "SAM2Matting-SAM3-tiny.pt"
    torch.save({"model": ref.synth_sam3_state(rows)}, path)
    tracker, head = build_official(str(path), device="cpu")
    clip = ref.make_clip()
    session = tracker.open(open_source(list(clip)))
    session.add_prompt(Box(*ref.SAM3_BOX))
    lines, seen = [], 0
    for tf in session.propagate(0):
        i, track = tf.index, tf.objects[1]
        meta_logits = want["low_res_logits"][i]
        ours, theirs = track.logits > 0, meta_logits > 0
        iou = float((ours & theirs).sum() / max((ours | theirs).sum(), 1))
        dlogit = float(np.abs(track.logits - meta_logits).max())
        alpha = head.matte(tf.image, tf.objects, tf.index)[1]
        dalpha = float(np.abs(alpha - want["alpha"][i]).max())
        lines.append(
            f"frame {i}: IoU {iou:.5f}, max |Δlogit| {dlogit:.1e}, max |Δalpha| {dalpha:.1e}"
        )
        assert theirs.any() and iou >= 0.999, lines[-1]
        assert dlogit < 5e-3 and dalpha < 1e-4, lines[-1]
        seen += 1
    session.close()
    print("\n" + "\n".join(lines))
    assert seen == len(clip)
