"""Run the official DAVIS 2017 evaluation on the tiny dataset of ``tests/davis2017_reference.py``
and write its figures to ``tests/data/davis2017_official.json``, the expected values of
``tests/test_eval_davis2017_conformance.py``.

Run it in its own virtual environment, never the project's (the official code needs pandas,
scipy, scikit-image, OpenCV and tqdm), with a checkout of
https://github.com/davisvideochallenge/davis2017-evaluation::

    python -m venv /tmp/davisvenv
    /tmp/davisvenv/bin/pip install numpy pillow opencv-python-headless scikit-image scipy pandas tqdm
    /tmp/davisvenv/bin/python benchmarks/davis_reference/davis2017_reference.py \\
        --official /path/to/davis2017-evaluation
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official", type=Path, required=True, help="davis2017-evaluation checkout")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "davis2017_official.json")
    args = ap.parse_args()
    sys.path.insert(0, str(args.official))
    sys.path.insert(0, str(ROOT / "tests"))
    from davis2017.evaluation import DAVISEvaluation  # the official code

    from davis2017_reference import write_dataset

    commit = subprocess.run(
        ["git", "-C", str(args.official), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_dataset(Path(tmp))
        evaluation = DAVISEvaluation(davis_root=str(root), task="semi-supervised", gt_set="val")
        res = evaluation.evaluate(str(root / "results"))
    j, f = res["J"], res["F"]
    out = {
        "source": "davisvideochallenge/davis2017-evaluation",
        "commit": commit or "unknown",
        "command": "python benchmarks/davis_reference/davis2017_reference.py --official …",
        "per_object": {
            name: {"j": float(j["M_per_object"][name]), "f": float(f["M_per_object"][name])}
            for name in j["M_per_object"]
        },
        "global": {
            "j": float(sum(j["M"]) / len(j["M"])),
            "f": float(sum(f["M"]) / len(f["M"])),
        },
    }
    out["global"]["jf"] = (out["global"]["j"] + out["global"]["f"]) / 2
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["global"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
