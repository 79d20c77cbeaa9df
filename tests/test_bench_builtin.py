"""benchmarks/bench_builtin.py on a tiny DAVIS folder written here: sequences played
backwards start from their last frame, and prompt modes not run show as dashes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_builtin

    yield bench_builtin
    sys.modules.pop("bench_builtin", None)


def _square_davis(root: Path, n: int = 6) -> list[np.ndarray]:
    """A grey square sliding right over a textured background, DAVIS layout; its masks."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)
    frames_dir = root / "davis" / "JPEGImages" / "480p" / "sq"
    masks_dir = root / "davis" / "Annotations" / "480p" / "sq"
    frames_dir.mkdir(parents=True)
    masks_dir.mkdir(parents=True)
    masks = []
    for i in range(n):
        image = background.copy()
        mask = np.zeros((96, 128), bool)
        mask[30:66, 10 + 8 * i : 46 + 8 * i] = True
        image[mask] = (230, 200, 60)
        Image.fromarray(image).save(frames_dir / f"{i:05d}.jpg", quality=95)
        Image.fromarray(mask.astype(np.uint8) * 255).save(masks_dir / f"{i:05d}.png")
        masks.append(mask)
    return masks


def test_a_sequence_played_backwards_starts_from_its_last_frame(
    bench, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import sam2matting.trackers.builtin as builtin

    masks = _square_davis(tmp_path)
    prompts = []
    session_type = builtin.BuiltinSession
    add_prompt = session_type.add_prompt

    def recording(self, prompt):  # type: ignore[no-untyped-def]
        prompts.append(prompt)
        return add_prompt(self, prompt)

    monkeypatch.setattr(session_type, "add_prompt", recording)
    forward = bench.run_davis(tmp_path, None, {}, ["mask"])["sq"]["mask"]
    backward = bench.run_davis(tmp_path, None, {}, ["mask"], reverse=True)["sq"]["mask"]
    assert np.array_equal(prompts[0].mask, masks[0])
    assert np.array_equal(prompts[1].mask, masks[-1])
    assert forward["first_j"] == backward["first_j"] == 1.0
    assert len(backward["j_curve"]) == len(forward["j_curve"]) == 6
    assert min(backward["j_curve"]) > 0.8  # the square is tracked leftwards
    # every 2nd frame of the reversed order: frames 5, 3, 1
    short = bench.run_davis(tmp_path, None, {}, ["mask"], stride=2, reverse=True)
    assert len(short["sq"]["mask"]["j_curve"]) == 3


def test_the_table_says_backwards_and_dashes_modes_not_run(bench, tmp_path) -> None:
    _square_davis(tmp_path)
    result = {
        "when": "now",
        "machine": "here",
        "command": "python benchmarks/bench_builtin.py --only davis --modes mask --reverse",
        "davis": bench.run_davis(tmp_path, None, {}, ["mask"], reverse=True),
        "reverse": True,
    }
    md = bench.markdown(result)
    assert "Played backwards" in md
    row = next(line for line in md.splitlines() if line.startswith("| sq |"))
    assert "nan" not in md and row.count("–") == 2  # box J&F and box first-frame J


def test_jitter_reruns_on_frames_one_grey_level_off_and_tables_the_spread(bench, tmp_path) -> None:
    _square_davis(tmp_path)
    frames = [np.full((4, 5, 3), v, np.uint8) for v in (0, 128, 255)]
    noisy = bench._jittered(frames, 1)
    for a, b in zip(frames, noisy, strict=True):
        diff = b.astype(int) - a.astype(int)
        assert np.abs(diff).max() <= 1 and b.dtype == np.uint8
    assert (noisy[1] != frames[1]).any()  # it does change the frames
    assert np.array_equal(noisy[1], bench._jittered(frames, 1)[1])  # reproducibly
    assert not np.array_equal(noisy[1], bench._jittered(frames, 2)[1])
    davis = bench.run_davis(tmp_path, None, {}, ["mask"], jitter=2)
    runs = davis["sq"]["mask"]["jitter_jf"]
    assert len(runs) == 2 and all(0.5 < v <= 1.0 for v in runs)
    md = bench.markdown({**bench.run_header("bench_builtin.py", []), "davis": davis})
    assert "at most one grey level (2 seeds)" in md
    row = next(line for line in md.splitlines() if line.startswith("| sq | ") and "[" in line)
    assert f"[{min(runs):.3f}, {max(runs):.3f}]" in row
    # without --jitter there is no such table
    plain = bench.markdown(
        {
            **bench.run_header("bench_builtin.py", []),
            "davis": bench.run_davis(tmp_path, None, {}, ["mask"]),
        }
    )
    assert "grey level" not in plain


def test_still_tables_average_by_kind_split_and_prompt(bench):
    rows = [
        {
            "kind": "composite",
            "split": "held-out",
            "clip": c,
            "mode": "box",
            "off_j": off,
            "on_j": on,
            "off_first_j": 0.5,
            "on_first_j": 0.7,
        }
        for c, off, on in (("a", 0.6, 0.8), ("b", 0.4, 0.5))
    ] + [
        {
            "kind": "synthetic",
            "split": "tuning",
            "clip": "walk (seed 0)",
            "mode": "mask",
            "off_j": 0.3,
            "on_j": 0.3,
            "off_first_j": 1.0,
            "on_first_j": 1.0,
        }
    ]
    md = "\n".join(bench._still_markdown(rows))
    assert "| composite | held-out | box | 2 | 0.500 → **0.650** | 0.500 → 0.700 |" in md
    assert "| synthetic | tuning | mask | 1 | 0.300 → **0.300** | 1.000 → 1.000 |" in md
    assert "| b | held-out | box | 0.400 → 0.500 | 0.500 → 0.700 |" in md
    assert "| composite | tuning |" not in md  # no rows, no line


def _occluder_rows(clips, keys=()):
    """Held-out rows of ``--only occluders`` for (clip, mean J with the poles, lowest J, then
    the values of ``keys``) tuples; 0.9 without the poles."""
    return [
        {
            "split": "held-out",
            "clip": c,
            "seed": k,
            "poles_j": p,
            "control_j": 0.9,
            "poles_min_j": m,
            **dict(zip(keys, more, strict=True)),
        }
        for k, (c, p, m, *more) in enumerate(clips)
    ]


def test_occluder_tables_say_what_the_poles_cost(bench):
    rows = _occluder_rows((("a", 0.6, 0.3), ("b", 0.8, 0.5)))
    md = "\n".join(bench._occluders_markdown(rows))
    assert "| held-out | 2 | **0.700** | 0.900 | 0.200 | 0.400 |" in md
    assert "| b (seed 1) | held-out | 0.800 | 0.900 | 0.500 |" in md
    assert "| tuning |" not in md  # no rows, no line


def test_speed_against_a_base_alternates_fresh_processes_and_reports_the_ratio(
    bench, monkeypatch, tmp_path
):
    """``--only speed --base SRC``: each repeat runs the base, then this checkout, each in a
    fresh process whose PYTHONPATH is that checkout's ``src``; medians and their ratio."""
    import subprocess

    seen: list[str] = []
    fps = {"base": iter([10.0, 12.0, 11.0]), "ours": iter([13.0, 12.0, 14.0])}

    class Done:
        def __init__(self, stdout: str) -> None:
            self.stdout = stdout

    def fake_run(cmd, env, **kwargs):  # type: ignore[no-untyped-def]
        name = "base" if env["PYTHONPATH"] == str(tmp_path) else "ours"
        seen.append(name)
        assert "--only" in cmd and "speed" in cmd and "--opt" in cmd
        wall = next(fps[name])
        return Done(f"speed 512x288: {wall:.1f} frames/s wall, {wall / 2:.1f} frames/s of CPU\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    res = bench.run_speed_against(tmp_path, {"motion_layers": 0}, tmp_path, repeats=3)
    assert seen == ["base", "ours"] * 3
    assert res["base_fps_wall"] == 11.0 and res["fps_wall"] == 13.0
    assert res["ratio_wall"] == pytest.approx(13.0 / 11.0)
    md = bench.markdown({**bench.run_header("bench_builtin.py", []), "speed_against": res})
    assert "×1.18 wall" in md and "| base | 11.0 | 5.5 |" in md


def test_speed_against_a_base_with_its_defaults_passes_options_back_as_parsed(
    bench, monkeypatch, tmp_path
):
    """``--base-defaults``: the base runs without this checkout's options (one it may not
    have); the options go back to ``--opt`` as it parses them (``true``, not ``True``)."""
    import subprocess

    commands: dict[str, list[str]] = {}

    class Done:
        stdout = "speed 512x288: 10.0 frames/s wall, 5.0 frames/s of CPU\n"

    def fake_run(cmd, env, **kwargs):  # type: ignore[no-untyped-def]
        commands["base" if env["PYTHONPATH"] == str(tmp_path) else "ours"] = list(cmd)
        return Done()

    monkeypatch.setattr(subprocess, "run", fake_run)
    options = {"inverted_forward": True, "motion_layers": 2, "flow_preset": "fast"}
    res = bench.run_speed_against(tmp_path, options, tmp_path, repeats=1, base_options={})
    assert "--opt" not in commands["base"]
    ours = commands["ours"]
    given = [ours[i + 1] for i, a in enumerate(ours) if a == "--opt"]
    assert given == ["inverted_forward=true", "motion_layers=2", "flow_preset=fast"]
    assert res["base_options"] == {}
    md = bench.markdown({**bench.run_header("bench_builtin.py", []), "speed_against": res})
    assert "(its options: `{}`)" in md


def test_occluder_tables_show_the_jittered_runs(bench):
    rows = _occluder_rows(
        (("a", 0.6, 0.3, [0.5, 0.4]), ("b", 0.8, 0.3, [0.8, 0.9])), keys=("poles_jitter_j",)
    )
    md = "\n".join(bench._occluders_markdown(rows))
    assert "(2 seeds; mean J over the clean run and them)" in md
    assert "| held-out | 0.700 | 0.667 |" in md  # (0.6 + 0.5 + 0.4 + 0.8 + 0.8 + 0.9) / 6
    assert "| a (seed 0) | held-out | 0.600 (jittered 0.500, 0.400) | 0.900 | 0.300 |" in md
