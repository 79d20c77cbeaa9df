"""Matte real clips from ../shared/data/videos and write contact sheets a person can look at.

    python benchmarks/contact_sheet.py [--data ../shared/data] [--out benchmarks/results]

01_dog.mp4 is prompted with a box on the dog, 05_default_juggle.mp4 with clicks on the person.
Each sheet shows 6 frames: the frame, its alpha and the composite over green (the layout of
``sam2matting matte --contact-sheet``, from ``sam2matting.io.compose``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sam2matting import Box, Points, matte_video
from sam2matting.io.compose import contact_sheet, contact_tile

CASES = {
    "01_dog": [Box(444, 376, 704, 552, frame=0)],
    "05_default_juggle": [Points(((710.0, 280.0), (700.0, 440.0)), (1, 1), frame=0)],
}


def sheet(
    name: str, video: Path, out: Path, tracker: str, head: str | None, thumbs: int = 6
) -> Path:
    """Matte ``video`` and save its contact sheet (the package's ``--contact-sheet`` layout:
    ``io.compose.contact_sheet``) as ``contact_<name>.png``."""
    from sam2matting.io.readers import open_source

    with open_source(video) as source:
        total = source.info.num_frames
    picks = set(np.linspace(0, total - 1, thumbs).round().astype(int).tolist())
    tiles: list[tuple[int, np.ndarray, np.ndarray]] = []

    def keep(result) -> None:  # type: ignore[no-untyped-def]
        if result.index in picks:
            tiles.append((result.index, *contact_tile(result.image, result.alphas[1])))

    t0 = time.perf_counter()
    res = matte_video(
        video, CASES[name], None, tracker=tracker, head=head, on_frame=keep, progress=True
    )
    seconds = time.perf_counter() - t0
    path = out / f"contact_{name}.png"
    Image.fromarray(contact_sheet(tiles)).save(path)
    print(
        f"{name}: {res.num_frames} frames, {res.num_frames / seconds:.1f} frames/s ({res.times.summary()}) → {path}"
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    parser.add_argument("--tracker", default="builtin")
    parser.add_argument("--head", default=None)
    args = parser.parse_args()
    videos = Path(args.data) / "videos"
    if not videos.is_dir():
        print(f"skipped: {videos} not found (needs ../shared/data)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        sheet(name, videos / f"{name}.mp4", out, args.tracker, args.head)
    return 0


if __name__ == "__main__":
    sys.exit(main())
