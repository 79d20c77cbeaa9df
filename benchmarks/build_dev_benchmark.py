"""Build the dev benchmark: composite clips with exact alpha from ../shared/data.

    python benchmarks/build_dev_benchmark.py                       # → ~/.cache/sam2matting/devbench
    python benchmarks/build_dev_benchmark.py --out /tmp/devbench --seed 0
    python benchmarks/build_dev_benchmark.py --check               # build twice, compare checksums

512×288: 10 clips × 100 frames; 1920×1080: 3 clips × 30 frames (kept short for disk and time).
Foregrounds: only ``sam2matting.eval.synth.DEV_FOREGROUNDS`` (training uses the others).
Backgrounds: ../shared/data/videos (Apache-2.0) and DAVIS frames (evaluation only). The frames
are never committed; each resolution folder holds a ``SHA256SUMS`` manifest and ``benchmark.json``.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from sam2matting.eval import synth
    from sam2matting.eval.datasets import default_data_root

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_root(),
        help="the shared data folder (default ../shared/data)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=synth.default_cache_dir() / "devbench",
        help="output folder (default ~/.cache/sam2matting/devbench)",
    )
    parser.add_argument("--seed", type=int, default=0, help="build seed (default 0)")
    parser.add_argument(
        "--resolution",
        action="append",
        choices=["512x288", "1920x1080"],
        help="build only this resolution (repeatable; default both)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build a second copy in a temporary folder and compare the SHA256SUMS manifests",
    )
    args = parser.parse_args(argv)
    resolutions = args.resolution or ["512x288", "1920x1080"]

    t0 = time.perf_counter()
    built = synth.build_dev_benchmark(
        args.data, args.out, seed=args.seed, resolutions=resolutions, progress=print
    )
    print(f"built {', '.join(str(p) for p in built.values())} in {time.perf_counter() - t0:.0f} s")
    status = 0
    if args.check:
        tmp = Path(tempfile.mkdtemp(prefix="devbench-check-"))
        try:
            t1 = time.perf_counter()
            again = synth.build_dev_benchmark(
                args.data, tmp, seed=args.seed, resolutions=resolutions
            )
            for res in resolutions:
                a, b = built[res] / "SHA256SUMS", again[res] / "SHA256SUMS"
                same = filecmp.cmp(a, b, shallow=False)
                n = sum(1 for line in a.read_text().splitlines() if line.strip())
                print(
                    f"{res}: second build {'IDENTICAL' if same else 'DIFFERS'} ({n} files, {time.perf_counter() - t1:.0f} s)"
                )
                status |= 0 if same else 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for res, folder in built.items():
        bad = synth.verify_manifest(folder)
        print(f"{res}: manifest check {'ok' if not bad else f'{len(bad)} files differ'}")
        status |= 1 if bad else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
