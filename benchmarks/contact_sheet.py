"""Matte real clips from ../shared/data/videos and write contact sheets a person can look at.

    python benchmarks/contact_sheet.py [--data ../shared/data] [--out benchmarks/results]

01_dog.mp4 is prompted with a box on the dog, bedroom.mp4 with a box on each child,
05_default_juggle.mp4 with one click on the person. Each sheet shows 6 frames in the layout of
``sam2matting matte --contact-sheet`` (``sam2matting.io.compose``: the frame, all objects' alpha
and the composite over green), plus a row with each object's alpha as a coloured overlay (object
1 red, 2 blue), each object's tracker confidence under its frame, and the frames where an object
was lost (confidence below 0.5 for 3+ frames), also listed in ``contact_sheets.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sam2matting import Box, Points, matte_video
from sam2matting.io.compose import contact_sheet, contact_tile

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
    """``image`` with each object's alpha laid over it in the object's colour."""
    out = image.astype(np.float32)
    for obj, alpha in alphas.items():
        colour = np.array(COLOURS.get(obj, (255, 255, 0)), np.float32)
        a = 0.55 * alpha[..., None]
        out = out * (1 - a) + colour * a
    return np.clip(out, 0, 255).astype(np.uint8)


def sheet(
    name: str, video: Path, out: Path, tracker: str, head: str | None, thumbs: int = 6
) -> tuple[Path, list[str], float]:
    """Matte ``video`` and save its contact sheet as ``contact_<name>.png`` (the package's
    ``--contact-sheet`` layout, ``io.compose.contact_sheet``, with the per-object overlays,
    confidences and lost frames added below). Returns the path, the lost warnings, frames/s."""
    from sam2matting.io.readers import open_source

    with open_source(video) as source:
        total = source.info.num_frames
    picks = set(np.linspace(0, total - 1, thumbs).round().astype(int).tolist())
    # (frame index, small image, small alpha per object, confidence per object)
    tiles: list[tuple[int, np.ndarray, dict[int, np.ndarray], dict[int, float]]] = []

    def keep(result) -> None:  # type: ignore[no-untyped-def]
        if result.index in picks:
            small, _ = contact_tile(result.image, np.zeros(result.image.shape[:2], np.float32))
            alphas = {k: contact_tile(result.image, v)[1] for k, v in result.alphas.items()}
            tiles.append((result.index, small, alphas, dict(result.scores)))

    t0 = time.perf_counter()
    res = matte_video(
        video, CASES[name], None, tracker=tracker, head=head, on_frame=keep, progress=True
    )
    seconds = time.perf_counter() - t0
    grid = contact_sheet([(i, img, np.maximum.reduce(list(a.values()))) for i, img, a, _ in tiles])
    th, tw = tiles[0][1].shape[:2]
    gap, text = 4, 20  # contact_sheet's gap between tiles; one line of text
    extra = np.full((gap + th + 2 * text, grid.shape[1], 3), 255, np.uint8)
    for column, (_, image, alphas, _) in enumerate(tiles):
        x = column * (tw + gap)
        extra[gap : gap + th, x : x + tw] = overlay(image, alphas)
    canvas = Image.fromarray(np.concatenate([grid, extra]))
    draw = ImageDraw.Draw(canvas)
    y = grid.shape[0] + gap + th
    for column, (_, _, _, scores) in enumerate(tiles):
        conf = " ".join(f"obj{k} {v:.2f}" for k, v in scores.items())
        draw.text((column * (tw + gap) + 4, y + 4), f"confidence {conf}", fill="black")
    lost = res.warnings or ["no object lost"]
    draw.text((4, y + text + 4), f"{name} ({tracker}): " + "; ".join(lost), fill="black")
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
