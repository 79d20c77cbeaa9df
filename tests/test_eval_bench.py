"""The evaluation runner and `sam2matting eval` on a tiny generated benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2matting.errors import InputError
from sam2matting.eval import bench
from sam2matting.eval.datasets import open_benchmark, read_rvm
from sam2matting.matting.registry import DEFAULT_HEAD
from sam2matting.samples import make_sample_clip


def _write_rvm(root: Path, name: str, frames: int = 5, seed: int = 0) -> None:
    clip = make_sample_clip(
        width=128, height=72, num_frames=24, seed=seed
    )  # slow motion: 24-frame loop
    for d in ("com", "pha", "mask"):
        (root / name / d).mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        image, alpha = clip.frame(t)
        a8 = np.floor(alpha * 255 + 0.5).astype(np.uint8)
        cv2.imwrite(
            str(root / name / "com" / f"{t:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        )
        cv2.imwrite(str(root / name / "pha" / f"{t:04d}.png"), a8)
        if t == 0:
            cv2.imwrite(
                str(root / name / "mask" / "0000.png"), np.where(a8 > 127, 255, 0).astype(np.uint8)
            )


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    _write_rvm(root, "s0", seed=0)
    _write_rvm(root, "s1", seed=1)
    return root


def test_make_methods() -> None:
    ms = bench.make_methods(
        ["ours", "mask-only", "trimap+cf", "rvm"], ["builtin", "oracle"], perturbation="erode"
    )
    labels = [m.label for m in ms]
    assert labels[:2] == [f"ours[{DEFAULT_HEAD}]/builtin", f"ours[{DEFAULT_HEAD}]/oracle~erode"]
    assert "rvm" in labels and labels.count("rvm") == 1
    assert {m.head for m in ms if m.label.startswith("mask-only")} == {"mask"}
    assert {m.head for m in ms if m.label.startswith("trimap+cf")} == {"closed-form"}
    oracle = [m for m in ms if m.tracker == "oracle"]
    assert all(m.tracker_options.get("perturbation") == "erode" for m in oracle)
    assert bench.make_methods(["ours:closed-form"])[0].head == "closed-form"
    with pytest.raises(InputError):
        bench.make_methods(["sam"])
    with pytest.raises(InputError):
        bench.make_methods(["ours:nohead"])


def test_evaluate_writes_json_and_markdown(tiny_bench: Path, tmp_path: Path) -> None:
    b = read_rvm(tiny_bench)
    methods = bench.make_methods(["ours", "mask-only", "rvm"], ["builtin"])
    report = bench.evaluate(b, methods, rvm_path=tmp_path / "absent.onnx")
    assert "rvm" in report.skipped and "not found" in report.skipped["rvm"]
    assert set(report.means) == {f"ours[{DEFAULT_HEAD}]/builtin", "mask-only/builtin"}
    for label, clips in report.results.items():
        assert set(clips) == {"s0", "s1"}
        frames = clips["s0"]["frames"]
        assert [f["frame"] for f in frames] == list(range(5))
        assert frames[0]["objects"]["1"]["dtssd"] == 0.0
        assert report.means[label]["mad"] >= 0 and 0 <= report.means[label]["j"] <= 1
    # the tracker starts from the true first-frame mask: frame 0 is nearly perfect
    assert report.results["mask-only/builtin"]["s0"]["frames"][0]["objects"]["1"]["j"] > 0.9
    assert report.frames_scored == 10 and report.metric_seconds["conn"] > 0
    md = bench.markdown_report(report)
    assert (
        f"| ours[{DEFAULT_HEAD}]/builtin |" in md
        and "### mask-only/builtin" in md
        and "RVM baseline skipped" in md
    )
    data = json.loads(report.write_json(tmp_path / "r.json").read_text())
    assert data["benchmark"]["frames"] == 10 and "versions" in data["info"]


@pytest.mark.parametrize("head", ["guided", "sam2matting"])
def test_matting_heads_beat_mask_only_on_soft_edges(tiny_bench: Path, head: str) -> None:
    b = read_rvm(tiny_bench).select(["s0"])
    report = bench.evaluate(
        b, bench.make_methods([f"ours:{head}", "mask-only"], ["builtin"]), metrics=("mad", "mse")
    )
    assert report.means[f"ours[{head}]/builtin"]["mse"] < report.means["mask-only/builtin"]["mse"]


def test_cli_eval(tiny_bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sam2matting.cli import main

    out_json, out_md = tmp_path / "e.json", tmp_path / "e.md"
    code = main(
        [
            "eval",
            str(tiny_bench),
            "--method",
            "mask-only",
            "--limit",
            "1",
            "--no-conn",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
            "-q",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("| method |"))
    assert "| mask-only/builtin |" in printed and "Conn" not in header and "MAD" in header
    assert json.loads(out_json.read_text())["benchmark"]["clips"] == ["s0"]
    assert "### mask-only/builtin" in out_md.read_text()
    assert main(["eval", str(tmp_path / "nothing-here")]) == 2
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "V-HIM60" in capsys.readouterr().out
    assert main(["eval", str(tiny_bench), "--method", "bogus"]) == 2


def test_tracking_jf_on_a_davis_folder(tiny_bench: Path, tmp_path: Path) -> None:
    davis = tmp_path / "davis"
    for t in range(4):
        src_img = tiny_bench / "s0" / "com" / f"{t:04d}.png"
        a8 = cv2.imread(str(tiny_bench / "s0" / "pha" / f"{t:04d}.png"), cv2.IMREAD_GRAYSCALE)
        (davis / "JPEGImages" / "s0").mkdir(parents=True, exist_ok=True)
        (davis / "Annotations" / "s0").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(davis / "JPEGImages" / "s0" / f"{t:05d}.jpg"), cv2.imread(str(src_img)))
        cv2.imwrite(
            str(davis / "Annotations" / "s0" / f"{t:05d}.png"),
            np.where(a8 > 127, 255, 0).astype(np.uint8),
        )
    report = bench.evaluate_tracking(open_benchmark(davis), ["builtin", "no-such-tracker"])
    assert "no-such-tracker" in report.skipped
    r = report.results["builtin"]["s0"]
    assert len(r["frames"]) == 4 and r["frames"][0]["j"] > 0.95
    assert 0.5 < report.means["builtin"]["jf"] <= 1.0
    md = bench.markdown_tracking(report)
    assert "| s0 |" in md and "**mean**" in md


def _tiny_davis(tiny_bench: Path, root: Path, sequences: tuple[str, ...] = ("s0", "s1")) -> Path:
    davis = root / "davis"
    for name in sequences:
        (davis / "JPEGImages" / name).mkdir(parents=True, exist_ok=True)
        (davis / "Annotations" / name).mkdir(parents=True, exist_ok=True)
        for t in range(5):
            src = tiny_bench / name / "com" / f"{t:04d}.png"
            a8 = cv2.imread(str(tiny_bench / name / "pha" / f"{t:04d}.png"), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(davis / "JPEGImages" / name / f"{t:05d}.jpg"), cv2.imread(str(src)))
            cv2.imwrite(
                str(davis / "Annotations" / name / f"{t:05d}.png"),
                np.where(a8 > 127, 255, 0).astype(np.uint8),
            )
    return davis


def test_a_tracker_failing_on_one_sequence_loses_only_that_sequences_frames(
    tiny_bench: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A tracker that raises on frame 2 of the first sequence: the others are scored as
    usual, the failure is named, the failed sequence's frames from 2 on count as empty masks,
    and the command ends with one error line and status 1 (no traceback)."""
    import sam2matting.trackers.builtin as builtin
    from sam2matting.cli import main

    davis = _tiny_davis(tiny_bench, tmp_path)
    clean = bench.evaluate_tracking(open_benchmark(davis), ["builtin"], skip_first_last=False)
    step = builtin.BuiltinSession._step
    opened: list[object] = []

    def failing(self, state, frame, previous, flow, fit=None):  # type: ignore[no-untyped-def]
        if self is opened[0] and frame.index == 2:
            raise RuntimeError("boom\nsecond line")
        return step(self, state, frame, previous, flow, fit)

    open_session = builtin.BuiltinTracker.open

    def opening(self, source):  # type: ignore[no-untyped-def]
        session = open_session(self, source)
        opened.append(session)
        return session

    monkeypatch.setattr(builtin.BuiltinSession, "_step", failing)
    monkeypatch.setattr(builtin.BuiltinTracker, "open", opening)
    report = bench.evaluate_tracking(open_benchmark(davis), ["builtin"], skip_first_last=False)
    assert report.failed == {"builtin": {"s0": "stopped on frame 2: RuntimeError: boom"}}
    s0, s1 = report.results["builtin"]["s0"], report.results["builtin"]["s1"]
    assert [f["frame"] for f in s0["frames"]] == [0, 1, 2, 3, 4]
    assert s0["frames"][:2] == clean.results["builtin"]["s0"]["frames"][:2]
    assert all(f["j"] == 0.0 and f["f"] == 0.0 for f in s0["frames"][2:])
    assert s1 == {**clean.results["builtin"]["s1"], "seconds_per_frame": s1["seconds_per_frame"]}
    assert "builtin failed on s0" in bench.markdown_tracking(report)

    opened.clear()
    capsys.readouterr()
    assert main(["eval", str(davis), "--tracker", "builtin", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "| s1 |" in out and "builtin failed on s0" in out
    assert err.strip().count("\n") == 0 and "tracking failed (builtin on s0)" in err
    assert "Traceback" not in out + err


def test_tracking_on_davis_annotated_every_few_frames_with_a_late_object(
    tiny_bench: Path, tmp_path: Path
) -> None:
    # YouTube-VOS style: annotations on frames 0, 2 and 4 only; object 2 first annotated on 2
    from PIL import Image

    davis = tmp_path / "davis"
    (davis / "JPEGImages" / "s0").mkdir(parents=True)
    (davis / "Annotations" / "s0").mkdir(parents=True)
    for t in range(5):
        src_img = tiny_bench / "s0" / "com" / f"{min(t, 4):04d}.png"
        cv2.imwrite(str(davis / "JPEGImages" / "s0" / f"{t:05d}.jpg"), cv2.imread(str(src_img)))
        if t % 2:
            continue
        a8 = cv2.imread(str(tiny_bench / "s0" / "pha" / f"{t:04d}.png"), cv2.IMREAD_GRAYSCALE)
        lab = np.where(a8 > 127, 1, 0).astype(np.uint8)
        if t >= 2:
            lab[60:70, 2:12] = 2
        im = Image.fromarray(lab, mode="P")
        im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (253 * 3))
        im.save(davis / "Annotations" / "s0" / f"{t:05d}.png")
    b = open_benchmark(davis)
    assert b.clips[0].object_ids == [1, 2]
    report = bench.evaluate_tracking(b, ["oracle"], skip_first_last=False)
    r = report.results["oracle"]["s0"]
    # frames 1 and 3 are tracked but not scored; the oracle prompted object 2 on frame 2
    assert [f["frame"] for f in r["frames"]] == [0, 2, 4]
    assert report.means["oracle"]["jf"] == pytest.approx(1.0)
    assert report.means["oracle"]["objects"] == 2 and sorted(r["objects"]) == ["1", "2"]
    md = bench.markdown_tracking(report)
    assert "| s0 · object 1 |" in md and "| s0 · object 2 |" in md
    assert "| mean over sequences |" in md
    # the first frame must be annotated: it is the prompt
    (davis / "Annotations" / "s0" / "00000.png").unlink()
    with pytest.raises(InputError, match="first frame"):
        open_benchmark(davis)


def test_oracle_tracker_follows_ground_truth(tiny_bench: Path) -> None:
    pytest.importorskip("sam2matting.trackers.oracle")
    b = read_rvm(tiny_bench).select(["s0"])
    report = bench.evaluate(b, bench.make_methods(["mask-only"], ["oracle"]), metrics=("mad", "j"))
    assert report.means["mask-only/oracle"]["j"] == pytest.approx(1.0)
    eroded = bench.evaluate(
        b, bench.make_methods(["mask-only"], ["oracle"], perturbation="erode"), metrics=("j",)
    )
    assert eroded.means["mask-only/oracle~erode"]["j"] < 0.99


def test_rvm_baseline_runs(shared_data: Path, tiny_bench: Path) -> None:
    pytest.importorskip("onnxruntime")
    from sam2matting.eval.baselines import RobustVideoMatting, auto_input_scale

    assert auto_input_scale(512, 288) == 2.0 and auto_input_scale(1920, 1080) == 1.0
    model = RobustVideoMatting(shared_data / "baselines" / "rvm_mnv3_dr025.onnx")
    frame = np.zeros((72, 128, 3), np.uint8)
    a = model(frame)
    assert a.shape == (72, 128) and a.dtype == np.float32 and 0 <= a.min() <= a.max() <= 1
    a2 = model(np.zeros((40, 64, 3), np.uint8))  # a new size resets the recurrent state
    assert a2.shape == (40, 64)
    b = read_rvm(tiny_bench).select(["s1"])
    report = bench.evaluate(
        b,
        bench.make_methods(["rvm"]),
        metrics=("mad",),
        rvm_path=shared_data / "baselines" / "rvm_mnv3_dr025.onnx",
    )
    assert "rvm" in report.means and not report.skipped


def test_auto_tracker_rows_name_the_tracker_that_runs() -> None:
    from sam2matting.eval.bench import make_methods
    from sam2matting.trackers.auto import choose_tracker

    methods = make_methods(["ours", "mask-only"], ["auto"])
    chosen = choose_tracker().name
    assert chosen != "auto"
    assert [m.label for m in methods] == [f"ours[sam2matting]/{chosen}", f"mask-only/{chosen}"]
    assert all(m.tracker == chosen for m in methods)


def test_cli_eval_of_a_davis_image_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from davis2017_reference import write_dataset
    from sam2matting.cli import main

    root = write_dataset(tmp_path)
    (root / "ImageSets" / "2017" / "pair.txt").write_text("two\none\n")
    assert main(["eval", str(root), "--set", "pair", "--tracker", "oracle", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| one |" in out and "| two |" in out and "| three |" not in out
    assert main(["eval", str(root), "--set", "test", "--tracker", "oracle"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no image set 'test'; ImageSets has: 2017/pair, 2017/val" in err
