"""Issue 11: ``benchmarks/bench_gpu.py --smoke`` runs the GPU benchmark's code paths on the CPU
(the resident learned head, the tensor guided filter), writes its results where told, and
keeps to its time budget."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_smoke_takes_the_device_code_path(tmp_path: Path) -> None:
    bench = _bench()
    argv = ["--smoke", "--cases", "built-in", "--sizes", "128x72", "--frames", "2"]
    assert bench.main([*argv, "--warmup", "1", "--out", str(tmp_path / "r")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["env"]["tensor_ops"] is True and not data["skipped"]
    runs = {(r["case"], r["dtype"]): r for r in data["results"]}
    assert set(runs) == {
        (c, d) for c in ("built-in + learned", "built-in + guided") for d in ("float32", "bfloat16")
    }
    learned = runs[("built-in + learned", "float32")]
    # the resident head's crossings per frame, as tests/test_resident.py holds them (the
    # temporal filter's flow maps go up from the second frame on: 2.5 uploads over 2 frames)
    assert learned["transfers_per_frame"] == {
        "upload": 2.5,
        "download": 1.0,
        "read_ints": 1.0,
        "nonzero": 1.0,
    }
    assert all(r["fps"] > 0 for r in data["results"])
    assert "| built-in + guided | 128x72 | float32 |" in (tmp_path / "r.md").read_text()


def test_budget_skips_runs_and_says_so(tmp_path: Path) -> None:
    bench = _bench()
    argv = ["--smoke", "--cases", "guided", "--sizes", "96x64", "--budget-s", "0"]
    assert bench.main([*argv, "--out", str(tmp_path / "r")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert not data["results"] and len(data["skipped"]) == 2
    assert "Not run (time budget)" in (tmp_path / "r.md").read_text()
