"""benchmarks/bench_builtin_windows.py without data: configurations parse and the table
formats."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_builtin_windows

    yield bench_builtin_windows
    sys.modules.pop("bench_builtin_windows", None)


def test_a_configuration_is_tracker_options(bench) -> None:
    assert bench.parse_config("") == {}
    assert bench.parse_config("motion_strength=1,init_motion_frames=0,thin_structures=false") == {
        "motion_strength": 1,
        "init_motion_frames": 0,
        "thin_structures": False,
    }
    from sam2matting.errors import InputError

    with pytest.raises(InputError):
        bench.parse_config("motion_strength")


def _result(command: str, rows: dict) -> dict:  # type: ignore[type-arg]
    """A bench result as ``bench_builtin_windows.main`` writes it, around ``rows``."""
    return {"when": "now", "machine": "here", "command": command, "rows": rows}


def test_the_table_has_a_row_per_configuration_and_dashes_for_kinds_not_run(bench) -> None:
    seqs = bench.TUNE
    rows = {
        "": {
            "mask": {s: 0.8 for s in seqs},
            "box": {s: {"first_j": 0.7, "jf": 0.6} for s in seqs},
        },
        "motion_strength=1": {"click": {s: {"first_j": 0.5, "jf": 0.4} for s in seqs}},
    }
    md = bench.markdown(_result("python benchmarks/bench_builtin_windows.py", rows))
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 3  # header + two configurations
    header, defaults, other = rows
    assert header.count("|") == defaults.count("|") == other.count("|")
    assert "**0.800**" in defaults and "**0.700**" in defaults and "**0.600**" in defaults
    assert defaults.rstrip(" |").endswith("–")  # no click windows for the defaults
    assert "`motion_strength=1`" in other and "**0.500**" in other


def test_faster_windows_keep_every_nth_frame_in_every_phase(bench) -> None:
    assert bench.window_starts(40, 1) == [list(range(s, s + 24)) for s in (0, 8, 16)]
    fast = bench.window_starts(50, 2)
    assert all(len(w) == bench.FAST_WINDOW for w in fast)
    assert all(b - a == 2 for w in fast for a, b in itertools.pairwise(w))
    assert {w[0] % 2 for w in fast} == {0, 1}  # both phases
    assert bench.window_starts(40, 3) == []  # 13–14 frames a phase: too short
    assert bench.window_starts(40, 1, step=4) == [list(range(s, s + 24)) for s in (0, 4, 8, 12, 16)]


def test_a_faster_row_names_its_stride_and_skips_sequences_too_short(bench) -> None:
    seqs = bench.TUNE
    rows = {
        "@3": {
            "config": "",
            "stride": 3,
            "box": {s: {"first_j": 0.5, "jf": 0.4} for s in seqs[:-1]},
        },
    }
    result = _result("python benchmarks/bench_builtin_windows.py --strides 3", rows)
    md = bench.markdown(result)
    row = next(line for line in md.splitlines() if line.startswith("| defaults"))
    assert "every 3rd frame" in row and "**0.500**" in row and "| – |" in row


def test_bad_strides_are_a_usage_error(bench, capsys) -> None:
    assert bench.main(["--strides", "0,x"]) == 2
    assert "--strides" in capsys.readouterr().out


def test_the_window_step_is_an_option_and_named_in_the_table(bench, capsys) -> None:
    assert bench.main(["--step", "0"]) == 2
    assert "--step" in capsys.readouterr().out
    result = _result("python benchmarks/bench_builtin_windows.py --step 4", {})
    assert "started every 8 frames" in bench.markdown(result)
    result["step"] = 4
    assert "started every 4 frames" in bench.markdown(result)
