"""Matte real clips from ../shared/data/videos and write contact sheets a person can look at.

    python benchmarks/contact_sheet.py [--data ../shared/data] [--out benchmarks/results]

01_dog.mp4 is prompted with a box on the dog, 05_default_juggle.mp4 with clicks on the person.
Each sheet shows 6 frames: the frame with the alpha as a red overlay, and the alpha itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sam2matting import Box, Points, matte_video

CASES = {
    "01_dog": [Box(444, 376, 704, 552, frame=0)],
    "05_default_juggle": [Points(((710.0, 280.0), (700.0, 440.0)), (1, 1), frame=0)],
}


def overlay(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    red = np.array([255, 40, 40], np.float32)
    a = 0.55 * alpha[..., None]
    return np.clip(image * (1 - a) + red * a, 0, 255).astype(np.uint8)


def sheet(
    name: str, video: Path, out: Path, tracker: str, head: str | None, thumbs: int = 6
) -> Path:
    import av

    with av.open(str(video)) as c:
        total = c.streams.video[0].frames
    picks = set(np.linspace(0, total - 1, thumbs).round().astype(int).tolist())
    tiles: list[tuple[int, np.ndarray, np.ndarray]] = []

    def keep(result) -> None:  # type: ignore[no-untyped-def]
        if result.index in picks:
            tiles.append((result.index, result.image.copy(), result.alphas[1].copy()))

    t0 = time.perf_counter()
    res = matte_video(
        video, CASES[name], None, tracker=tracker, head=head, on_frame=keep, progress=True
    )
    seconds = time.perf_counter() - t0
    tw, th = 320, 180
    canvas = Image.new("RGB", (tw * len(tiles), th * 2 + 24), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (index, image, alpha) in enumerate(tiles):
        canvas.paste(Image.fromarray(overlay(image, alpha)).resize((tw, th)), (i * tw, 24))
        canvas.paste(
            Image.fromarray((alpha * 255).astype(np.uint8)).convert("RGB").resize((tw, th)),
            (i * tw, 24 + th),
        )
        draw.text((i * tw + 4, 4), f"frame {index}", fill="black")
    path = out / f"contact_{name}.png"
    canvas.save(path)
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
