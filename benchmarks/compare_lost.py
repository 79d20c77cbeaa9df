"""Compare two ``bench_builtin.py`` DAVIS results: J&F, per-frame J and the lost frames.

    python benchmarks/compare_lost.py BEFORE.json AFTER.json

For each sequence and prompt mode: J&F before → after, the largest per-frame change of J, and
the frames newly below 0.5 confidence (with J there: a new lost frame where J is high is a
false alarm) or no longer below it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def compare(before: dict, after: dict) -> list[str]:  # type: ignore[type-arg]
    lines = []
    for seq, row in after["davis"].items():
        for mode in ("mask", "box"):
            if mode not in row or mode not in before["davis"].get(seq, {}):
                continue
            a, b = before["davis"][seq][mode], row[mode]
            new = sorted(set(b["lost_frames"]) - set(a["lost_frames"]))
            gone = sorted(set(a["lost_frames"]) - set(b["lost_frames"]))
            dj = max(abs(x - y) for x, y in zip(a["j_curve"], b["j_curve"]))
            changed = sum(x != y for x, y in zip(a["score_curve"], b["score_curve"]))
            lines.append(
                f"| {seq} | {mode} | {a['jf']:.3f} → {b['jf']:.3f} | {dj:.3f} | {changed} | "
                f"{len(a['lost_frames'])} → {len(b['lost_frames'])} | "
                + (", ".join(f"{i} (J {b['j_curve'][i]:.2f})" for i in new) or "none")
                + f" | {', '.join(map(str, gone)) or 'none'} |"
            )
    return [
        "| sequence | mode | J&F | max per-frame |ΔJ| | frames whose confidence changed "
        "| lost frames | new lost frames (J there) | no longer lost |",
        "|---|---|---|---:|---:|---|---|---|",
        *lines,
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args(argv)
    for path in (args.before, args.after):
        if not path.is_file():
            print(f"error: {path} not found", file=sys.stderr)
            return 2
    before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    print("\n".join(compare(before, after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
