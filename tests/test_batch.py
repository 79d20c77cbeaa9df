"""Batch matting on Dask: job files checked up front, a 2-worker local cluster running good and
bad jobs, a worker killed mid-job, an interrupted batch resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="needs the batch extra: pip install 'sam2matting[batch]'")
pytest.importorskip("yaml", reason="needs the batch extra: pip install 'sam2matting[batch]'")

from sam2matting.batch import (
    _local_cluster,
    completed_manifest,
    default_local_workers,
    local_worker_specs,
    matte_batch,
)
from sam2matting.batch_jobs import JobFileError, jobs_from_glob, load_jobs
from sam2matting.cli import main
from sam2matting.samples import make_sample_clip, write_sample_video

W, H = 96, 64
BOX = "8,4,88,60"


def _clip(path: Path, frames: int, seed: int = 0) -> Path:
    return write_sample_video(make_sample_clip(W, H, frames, seed=seed), path, audio=False)


def _partials(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if ".partial-" in p.name or ".old-" in p.name)


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    _clip(root / "short.mp4", 12, seed=0)
    _clip(root / "other.mp4", 12, seed=1)
    _clip(root / "long.mp4", 120, seed=2)
    (root / "broken.mp4").write_bytes(b"this is not a video" * 20)
    return root


@pytest.fixture(scope="module")
def client() -> Any:
    """A local cluster of 2 worker processes (the batch's own), shared by this module."""
    with _local_cluster(workers=2, retries=2, use_gpus=False) as c:
        yield c


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# job files: every problem is a one-line error before anything runs
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "syntax.yaml",
            "jobs:\n  - input: short.mp4\n    box: [1, 2\n",
            "YAML syntax error at line",
        ),
        ("syntax.json", '{"jobs": [{"input": "short.mp4",}]}', "JSON syntax error at line 1"),
        (
            "unknown.yaml",
            f"jobs:\n  - input: short.mp4\n    box: {BOX}\n    hed: guided\n",
            "job 1 (short): unknown key 'hed' (did you mean 'head'?)",
        ),
        (
            "missing.yaml",
            f"- input: short.mp4\n  box: {BOX}\n- input: nope.mp4\n  box: {BOX}\n",
            "job 2 (nope): input not found:",
        ),
        (
            "duplicate.yaml",
            f"- input: short.mp4\n  box: {BOX}\n  output: out/x\n"
            f"- input: short.mp4\n  point: 40,30\n  output: out/x\n",
            "jobs 1 (short) and 2 (short) write the same outputs",
        ),
        ("ragged.csv", f'input,box\nshort.mp4,"{BOX}",extra\n', "CSV row 2 has 3 cells"),
        (
            "badbox.csv",
            "input,box\nshort.mp4,1;2\n",
            "job 1 (short): bad box '1;2': expected comma-separated numbers",
        ),
        (
            "nomask.yaml",
            "- input: short.mp4\n  mask: masks/none.png\n",
            "job 1 (short): mask file not found:",
        ),
        (
            "format.yaml",
            f"- input: short.mp4\n  box: {BOX}\n  formats: [alpha-png, gif]\n",
            "unknown output format 'gif'",
        ),
        ("noprompt.yaml", "- input: short.mp4\n", "job 1 (short): no prompt"),
        (
            "nanbox.yaml",
            "- input: short.mp4\n  box: nan,1,2,3\n",
            "job 1 (short): bad box 'nan,1,2,3': coordinates must be finite numbers",
        ),
        ("dtype.yaml", f"- input: short.mp4\n  box: {BOX}\n  dtype: fp8\n", "unknown dtype 'fp8'"),
        (
            "exrcomp.yaml",
            f"- input: short.mp4\n  box: {BOX}\n  exr_compression: lzw\n",
            "unknown EXR compression 'lzw'",
        ),
        (
            "frames.yaml",  # YAML 1.1 reads an unquoted 10:30 as the number 630
            f"- input: short.mp4\n  box: {BOX}\n  frames: 10:30\n",
            "frames must be 'START:END' (quoted in YAML), got 630",
        ),
        (
            "frames2.yaml",
            f"- input: short.mp4\n  box: {BOX}\n  frames: '5:2'\n",
            "bad frame range '5:2': needs 0 <= START < END",
        ),
    ],
)
def test_job_file_errors(
    clips: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    message: str,
) -> None:
    jobs = _write(clips / name, text)
    with pytest.raises(JobFileError) as exc:
        load_jobs(jobs, output=tmp_path / "out")
    assert any(message in line for line in exc.value.errors), exc.value.errors
    # the command: one line per problem, exit 2, no traceback, nothing written
    out = tmp_path / "cli-out"
    assert main(["batch", str(jobs), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("sam2matting: error: ") for line in err), err
    assert any(message in line for line in err), err
    assert not out.exists()


def test_job_file_collects_every_error(clips: Path, tmp_path: Path) -> None:
    jobs = _write(
        clips / "many.yaml",
        f"jobs:\n  - input: a.mp4\n    box: {BOX}\n  - input: short.mp4\n    boxx: {BOX}\n",
    )
    with pytest.raises(JobFileError) as exc:
        load_jobs(jobs, output=tmp_path)
    assert len(exc.value.errors) == 2, exc.value.errors


def test_job_forms(clips: Path, tmp_path: Path) -> None:
    """YAML shortcut keys, CLI-syntax prompts, CSV and glob + mask-dir give the same jobs."""
    import cv2
    import numpy as np

    masks = clips / "masks"
    masks.mkdir(exist_ok=True)
    mask = np.zeros((H, W), np.uint8)
    mask[10:50, 20:70] = 255
    for stem in ("short", "other", "long", "broken"):
        cv2.imwrite(str(masks / f"{stem}.png"), mask)
    yaml_jobs = load_jobs(
        _write(
            clips / "forms.yaml",
            "jobs:\n  - input: short.mp4\n    mask: masks/short.png\n    head: guided\n"
            "  - input: other.mp4\n    prompts: --frame 3 --box 8,4,88,60 --object 2 --point 40,30,neg"
            " --point 50,30\n    formats: alpha-png prores\n    output: elsewhere\n",
        ),
        output=tmp_path,
        defaults={"formats": ["alpha-png"], "alpha_bits": 16},
    )
    first, second = yaml_jobs
    assert first.prompts == ("--mask", str(masks / "short.png"))
    assert first.options == {"formats": ("alpha-png",), "alpha_bits": 16, "head": "guided"}
    assert first.output == (tmp_path / "short").absolute()
    assert second.output == (clips / "elsewhere").absolute()
    assert second.options["formats"] == ("alpha-png", "prores")
    assert second.prompts[:4] == ("--frame", "3", "--box", "8,4,88,60")
    csv_jobs = load_jobs(
        _write(clips / "forms.csv", "input,mask,head\nshort.mp4,masks/short.png,guided\n"),
        output=tmp_path,
        defaults={"formats": ["alpha-png"], "alpha_bits": 16},
    )
    assert csv_jobs[0].prompts == first.prompts and csv_jobs[0].options == first.options
    globbed = jobs_from_glob(str(clips / "*.mp4"), mask_dir=masks, output=tmp_path)
    assert [j.name for j in globbed] == ["broken", "long", "other", "short"]
    assert globbed[3].prompts == first.prompts and globbed[3].output == first.output
    # broken.mp4 has no mask: the glob names it before anything runs
    with pytest.raises(JobFileError, match=r"broken.mp4: no mask broken.png"):
        jobs_from_glob(str(clips / "*.mp4"), mask_dir=masks / "none", output=tmp_path)


def test_local_worker_plan() -> None:
    specs = local_worker_specs(None, gpus=2, cores=8)
    assert [s["options"]["resources"] for s in specs.values()] == [{"GPU": 1}, {"GPU": 1}]
    assert [s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for s in specs.values()] == ["0", "1"]
    cpu = local_worker_specs(None, gpus=0, cores=8)
    assert len(cpu) == default_local_workers(8) and all(
        "resources" not in s["options"] for s in cpu.values()
    )
    assert len(local_worker_specs(3, gpus=2, cores=8)) == 3  # explicit count: CPU workers
    assert default_local_workers(8, memory_bytes=6 << 30) == 3  # memory-bound
    assert default_local_workers(2, memory_bytes=64 << 30) == 2  # core-bound


# --------------------------------------------------------------------------------------------
# a 2-worker local cluster
# --------------------------------------------------------------------------------------------
def test_good_and_bad_jobs(
    client: Any, clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """4 jobs, one with an unreadable input and one with a box outside the frame: the other two
    succeed, the report says so, the exit status is non-zero."""
    jobs = _write(
        tmp_path / "jobs.yaml",
        f"jobs:\n"
        f"  - input: {clips}/short.mp4\n    box: {BOX}\n"
        f"  - input: {clips}/broken.mp4\n    box: {BOX}\n"
        f"  - input: {clips}/other.mp4\n    box: 500,400,600,500\n    name: outside\n"
        f"  - input: {clips}/other.mp4\n    point: 48,32\n",
    )
    out = tmp_path / "out"
    address = client.scheduler.address
    status = main(["batch", str(jobs), "-o", str(out), "--head", "guided", "--scheduler", address])
    assert status == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "FAILED   broken: not a readable video or image" in captured.err
    assert "FAILED   outside: box (500,400,600,500) is outside the 96×64 frame" in captured.err
    report = json.loads((out / "batch-report.json").read_text())
    assert report["summary"]["done"] == 2 and report["summary"]["failed"] == 2
    by_name = {j["name"]: j for j in report["jobs"]}
    assert by_name["short"]["status"] == "done" and by_name["short"]["frames"] == 12
    assert by_name["other"]["status"] == "done" and by_name["other"]["fps"] > 0
    assert by_name["broken"]["error"].startswith("not a readable video or image")
    assert "\n" not in by_name["outside"]["error"]
    assert len(list((out / "short" / "short.obj1.alpha-png").glob("*.png"))) == 12
    assert not (out / "outside").exists() or not any((out / "outside").iterdir())
    markdown = (out / "batch-report.md").read_text()
    assert "| 3 | outside | failed |" in markdown and "2 done, 0 skipped, 2 failed" in markdown
    assert _partials(out) == []


def test_worker_killed_mid_job(client: Any, clips: Path, tmp_path: Path) -> None:
    """SIGKILL the worker running a job: the job is re-run on another worker, its outputs are
    complete and identical to a clean run's, and no temporary is left."""
    job = {"input": str(clips / "long.mp4"), "box": BOX, "head": "guided"}
    clean = matte_batch([{**job, "output": str(tmp_path / "clean")}], client, progress=False)
    assert clean.ok
    killed: list[int] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] == "frames" and event["frames"] >= 1 and not killed:
            killed.append(event["pid"])
            os.kill(event["pid"], signal.SIGKILL)

    report = matte_batch(
        [{**job, "output": str(tmp_path / "killed")}],
        client,
        progress=False,
        on_event=on_event,
        report=tmp_path / "killed-report",
    )
    (result,) = report.jobs
    assert killed, "the job ended before a worker could be killed"
    assert result.status == "done", result.error
    assert result.attempts == 2 and result.frames == 120
    assert str(killed[0]) in result.workers[0] and str(killed[0]) not in result.workers[-1]
    a = _pngs(tmp_path / "clean" / "long.obj1.alpha-png")
    b = _pngs(tmp_path / "killed" / "long.obj1.alpha-png")
    assert len(a) == 120 and a == b
    assert _partials(tmp_path / "killed") == []
    saved = json.loads((tmp_path / "killed-report.json").read_text())
    assert saved["jobs"][0]["attempts"] == 2
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker


def test_interrupt_and_resume(client: Any, clips: Path, tmp_path: Path) -> None:
    """Ctrl-C during a batch exits 130 and leaves no temporary; the re-run skips the finished
    jobs (checked, not just present) and completes the rest."""
    entries = "".join(
        f"  - input: {clips}/{clip}\n    box: {BOX}\n    name: {name}\n    stem: {name}\n"
        for name, clip in (("a", "short.mp4"), ("b", "long.mp4"), ("c", "long.mp4"))
    )
    jobs = _write(tmp_path / "jobs.yaml", "jobs:\n" + entries)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sam2matting", "batch", str(jobs), "-o", str(out)]
    command += ["--head", "guided", "--scheduler", client.scheduler.address]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        lines.append(line)
        if "] done" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    first = json.loads((out / "batch-report.json").read_text())
    assert first["summary"]["interrupted"]
    finished = {j["name"] for j in first["jobs"] if j["status"] == "done"}
    assert finished and finished != {"a", "b", "c"}, first
    assert {j["status"] for j in first["jobs"]} <= {"done", "cancelled"}
    assert _partials(out) == []
    for name in {"a", "b", "c"} - finished:  # nothing half-written under a final name
        assert not (out / name / f"{name}.obj1.alpha-png").exists()
        assert not (out / name / f"{name}.batch.json").exists()

    second = matte_batch(jobs, client, output=out, head="guided", progress=False)
    status = {j.name: j.status for j in second.jobs}
    assert status == {n: "skipped" if n in finished else "done" for n in "abc"}, status
    assert second.ok

    # a damaged output is not complete: that job runs again, the others are skipped
    victim = sorted(finished)[0]
    pngs = sorted((out / victim / f"{victim}.obj1.alpha-png").glob("*.png"))
    pngs[-1].unlink()
    job = next(
        j for j in load_jobs(jobs, output=out, defaults={"head": "guided"}) if j.name == victim
    )
    assert completed_manifest(job) is None
    third = matte_batch(jobs, client, output=out, head="guided", progress=False)
    assert {j.name: j.status for j in third.jobs} == {
        n: "done" if n == victim else "skipped" for n in "abc"
    }
    assert len(list((out / victim / f"{victim}.obj1.alpha-png").glob("*.png"))) == len(pngs)


def test_prompt_tokens_match_the_command_line() -> None:
    """Job files read prompts exactly as `sam2matting matte` does (one parser of the syntax)."""
    from sam2matting.cli import build_parser
    from sam2matting.errors import PromptError
    from sam2matting.prompt_syntax import prompt_items_from_tokens

    tokens = ["--box", BOX, "--frame", "3", "--object", "2", "--point", "4,5,neg", "--point=6,7"]
    tokens += ["--text", "a dog", "--frame", "5"]
    args = build_parser().parse_args(["matte", "clip.mp4", "-o", "out", *tokens])
    assert prompt_items_from_tokens(tokens) == args.prompt_items
    # negative coordinates: the command line joins them (--box=-5,…), job files take them as is
    from sam2matting.cli import _join_negative_values
    from sam2matting.prompt_syntax import prompts_from_args

    tokens = ["--box", "-5,4,88,60", "--point", "-1.5,3"]
    args = build_parser().parse_args(_join_negative_values(["matte", "c.mp4", "-o", "o", *tokens]))
    assert prompt_items_from_tokens(tokens) == args.prompt_items
    box, points = prompts_from_args(prompt_items_from_tokens(tokens))
    assert (box.x0, box.y0, box.x1, box.y1) == (-5, 4, 88, 60)
    assert points.coords == ((-1.5, 3.0),)
    with pytest.raises(PromptError, match="finite"):
        prompts_from_args(prompt_items_from_tokens(["--point", "inf,3"]))
    for bad, message in (
        (["--boxx", BOX], "unknown prompt option '--boxx'"),
        (["--box"], "--box needs a value"),
        (["--frame", "x", "--box", BOX], "--frame needs an integer"),
        (["--point", "--box", BOX], "--point needs a value"),
    ):
        with pytest.raises(PromptError, match=message):
            prompt_items_from_tokens(bad)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give a job file or --glob PATTERN"),
        (["--glob", "shots/*.mov"], "--glob needs an output folder: -o OUT"),
        (["jobs.yaml", "--mask-dir", "masks"], "--mask-dir, --text and --prompts go with --glob"),
        (["--glob", "nothing-here-*.mov", "-o", "out"], "matches no file"),
    ],
)
def test_batch_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["batch", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sam2matting: error: ") and message in err[0], err


def test_session_and_export_options(clips: Path, tmp_path: Path) -> None:
    """dtype, EXR settings, contact sheets and frame ranges pass from job files (and the
    command line's defaults) to matte_video; a job over a range completes and is skipped after."""
    from sam2matting.batch import remove_partials, run_job

    jobs = load_jobs(
        _write(
            clips / "options.yaml",
            f"- input: short.mp4\n  prompts: --frame 2 --box {BOX}\n  frames: '2:5'\n"
            "  contact_sheet: yes\n"
            "  formats: [alpha-png, exr]\n  exr_compression: piz\n",
        ),
        output=tmp_path,
        defaults={"dtype": "FP32", "exr_colour": "display", "head": "guided", "device": "cpu"},
    )
    (job,) = jobs
    kwargs = job.matte_kwargs()
    assert kwargs["frames"] == (2, 5) and kwargs["contact_sheet"] is True
    assert kwargs["dtype"] == "fp32" and kwargs["device"] == "cpu"
    assert kwargs["exr_colour"] == "display" and kwargs["exr_compression"] == "piz"
    assert kwargs["formats"] == ["alpha-png", "exr"]
    outcome = run_job(job, "test-options")
    assert outcome["status"] == "done" and outcome["frames"] == 3, outcome
    assert len(list((job.output / "short.obj1.exr").glob("*.exr"))) == 3
    assert (job.output / "short.contact.png").is_file()
    assert completed_manifest(job) is not None
    assert run_job(job, "test-options")["status"] == "skipped"
    # temporaries of a killed run are this job's, whatever wrote them (still images, sheets)
    names = [
        ".short.contact.png.partial-123-0a1b2c3d",
        ".short.obj1.alpha.png.partial-123-0a1b2c3d",
        ".short.layers.exr.partial-123-0a1b2c3d",
        ".shorter.obj1.alpha-png.partial-123-0a1b2c3d",
    ]
    for name in names:
        (job.output / name).write_bytes(b"x")
    removed = sorted(p.name for p in remove_partials(job))
    assert removed == sorted(names[:3])
    assert (job.output / names[3]).exists()
