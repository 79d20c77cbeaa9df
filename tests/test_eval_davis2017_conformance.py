"""`sam2matting eval`'s J, F and means against the official DAVIS 2017 evaluation's own output
on the same tiny dataset (``tests/davis2017_reference.py``; expected values written by
``benchmarks/davis_reference/davis2017_reference.py`` running
``davisvideochallenge/davis2017-evaluation``): per object, and the global means over objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from davis2017_reference import SEQUENCES, write_dataset
from sam2matting.eval import bench
from sam2matting.eval.datasets import open_benchmark

EXPECTED = Path(__file__).parent / "data" / "davis2017_official.json"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    root = write_dataset(tmp_path_factory.mktemp("davis2017"))
    benchmark = open_benchmark(root)
    assert [c.name for c in benchmark] == sorted(SEQUENCES)
    sequences = {}
    for clip in benchmark:
        frames = []
        for t in range(clip.num_frames):
            labels = np.array(Image.open(root / "results" / clip.name / f"{t:05d}.png"))
            masks = {obj: labels == obj for obj in clip.object_ids}
            frame = bench.score_masks(clip, t, masks)
            assert frame is not None
            frames.append(frame)
        sequences[clip.name] = bench.sequence_scores(frames)
    return sequences


def test_per_object_j_and_f_are_the_official_evaluations(scored) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads(EXPECTED.read_text())["per_object"]
    ours = {
        f"{seq}_{obj}": o for seq, scores in scored.items() for obj, o in scores["objects"].items()
    }
    assert sorted(ours) == sorted(expected)
    for name, want in expected.items():
        assert ours[name]["j"] == pytest.approx(want["j"], abs=1e-12), name
        assert ours[name]["f"] == pytest.approx(want["f"], abs=1e-12), name


def test_the_global_means_are_over_objects_as_the_official_evaluations(scored) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads(EXPECTED.read_text())["global"]
    means = bench.object_means(scored)
    for key in ("j", "f", "jf"):
        assert means[key] == pytest.approx(expected[key], abs=1e-12)
    assert means["objects"] == 6
    # the mean over sequences differs here (one, two and three objects)
    by_sequence = float(np.mean([s["jf"] for s in scored.values()]))
    assert abs(by_sequence - expected["jf"]) > 0.01
