"""Matte real clips from ../shared/data/videos and write contact sheets a person can look at.

    python benchmarks/contact_sheet.py [--data ../shared/data] [--out benchmarks/results]

01_dog.mp4 is prompted with a box on the dog, bedroom.mp4 with a box on each child,
05_default_juggle.mp4 with one click on the person. Each sheet shows 6 frames: the frame with each
object's alpha as a coloured overlay (object 1 red, 2 blue), and the alphas; the frames where an
object was lost (tracker confidence below 0.5 for 3+ frames) are written on the sheet and listed
in ``contact_sheets.md``.
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
    "bedroom": [
        Box(140, 130, 280, 405, frame=0, object_id=1),
        Box(305, 0, 520, 400, frame=0, object_id=2),
    ],
    "05_default_juggle": [Points(((705.0, 250.0),), (1,), frame=0)],
}
COLOURS = {1: (255, 40, 40), 2: (40, 90, 255), 3: (40, 220, 40)}


def overlay(image: np.ndarray, alphas: dict[int, np.ndarray]) -> np.ndarray:
    out = image.astype(np.float32)
    for obj, alpha in alphas.items():
        colour = np.array(COLOURS.get(obj, (255, 255, 0)), np.float32)
        a = 0.55 * alpha[..., None]
        out = out * (1 - a) + colour * a
    return np.clip(out, 0, 255).astype(np.uint8)


def sheet(
    name: str, video: Path, out: Path, tracker: str, head: str | None, thumbs: int = 6
) -> tuple[Path, list[str], float]:
    import av

    with av.open(str(video)) as c:
        total = c.streams.video[0].frames
    picks = set(np.linspace(0, total - 1, thumbs).round().astype(int).tolist())
    tiles: list[tuple[int, np.ndarray, dict[int, np.ndarray], dict[int, float]]] = []

    def keep(result) -> None:  # type: ignore[no-untyped-def]
        if result.index in picks:
            alphas = {k: v.copy() for k, v in result.alphas.items()}
            tiles.append((result.index, result.image.copy(), alphas, dict(result.scores)))

    t0 = time.perf_counter()
    res = matte_video(
        video, CASES[name], None, tracker=tracker, head=head, on_frame=keep, progress=True
    )
    seconds = time.perf_counter() - t0
    tw, th = 320, 180
    canvas = Image.new("RGB", (tw * len(tiles), th * 2 + 44), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (index, image, alphas, scores) in enumerate(tiles):
        canvas.paste(Image.fromarray(overlay(image, alphas)).resize((tw, th)), (i * tw, 24))
        merged = np.zeros(image.shape, np.float32)
        for obj, alpha in alphas.items():
            merged += alpha[..., None] * np.array(COLOURS.get(obj, (255, 255, 0)), np.float32)
        canvas.paste(
            Image.fromarray(np.clip(merged, 0, 255).astype(np.uint8)).resize((tw, th)),
            (i * tw, 24 + th),
        )
        conf = " ".join(f"obj{k} {v:.2f}" for k, v in scores.items())
        draw.text((i * tw + 4, 4), f"frame {index}  confidence {conf}", fill="black")
    lost = res.warnings or ["no object lost"]
    draw.text((4, 24 + 2 * th + 6), f"{name} ({tracker}): " + "; ".join(lost), fill="black")
    path = out / f"contact_{name}.png"
    canvas.save(path)
    fps = res.num_frames / seconds
    print(
        f"{name}: {res.num_frames} frames, {fps:.1f} frames/s ({res.times.summary()}) → {path}; "
        + "; ".join(lost)
    )
    return path, res.warnings, fps


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
    lines = [
        "## Contact sheets (real clips, no ground truth)",
        "",
        f"Tracker `{args.tracker}`, head `{args.head or 'default'}`. Lost = tracker confidence "
        "below 0.5 for 3 or more frames in a row.",
        "",
        "| clip | prompts | sheet | lost | frames/s (whole pipeline, shared CPU) |",
        "|---|---|---|---|---:|",
    ]
    for name, prompts in CASES.items():
        path, lost, fps = sheet(name, videos / f"{name}.mp4", out, args.tracker, args.head)
        what = ", ".join(type(p).__name__.lower() for p in prompts)
        lines.append(
            f"| {name} | {what} | `{path.name}` | {'; '.join(lost) or 'none'} | {fps:.1f} |"
        )
    cmd = "python benchmarks/contact_sheet.py " + " ".join(sys.argv[1:])
    (out / "contact_sheets.md").write_text("\n".join(lines) + f"\n\nCommand: `{cmd.strip()}`\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
