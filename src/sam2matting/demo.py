"""``sam2matting demo``: generate a sample clip with a known matte, matte it, write outputs.

Needs nothing but the installed package: the clip is generated in code (a textured subject
with soft edges and thin semi-transparent strands over a panning textured background, plus a
440 Hz tone so audio carrying is visible), prompted with a box on frame 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import OutputError
from .samples import make_sample_clip, write_sample_video
from .types import Box

__all__ = ["DEMO_FORMATS", "run_demo"]

log = logging.getLogger("sam2matting")

#: what the demo writes: a lossless matte, a compositor's format, a web format and a preview
DEMO_FORMATS = ("alpha-png", "prores", "webm", "composite")


def run_demo(
    output: Path, width: int = 512, height: int = 288, num_frames: int = 48, progress: bool = True
) -> int:
    """Run the demo into ``output``; prints where everything is and the error against truth."""
    from .api import matte_video
    from .matting.registry import DEFAULT_HEAD

    if width < 64 or height < 64 or num_frames < 2:
        raise OutputError("demo clip must be at least 64×64 pixels and 2 frames")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {output}: {exc.strerror or exc}") from exc
    clip = make_sample_clip(width=width, height=height, num_frames=num_frames)
    video = write_sample_video(clip, output / "sample.mp4")
    log.info(
        "sample clip: %s (%d×%d, %d frames, %d fps)", video, width, height, num_frames, clip.fps
    )
    box = Box(*clip.box(0), frame=0, object_id=1)
    log.info("prompt: box %s on frame 0", ", ".join(f"{v:.0f}" for v in box.xyxy))

    errors: list[float] = []

    def score(result: object) -> None:
        index = result.index  # type: ignore[attr-defined]
        alpha = result.alphas[1]  # type: ignore[attr-defined]
        truth = clip.alpha(index)
        errors.append(float(np.abs(np.round(alpha * 255) / 255 - truth).mean()))

    result = matte_video(
        video,
        [box],
        output,
        formats=DEMO_FORMATS,
        tracker="builtin",  # the demo never downloads
        progress=progress,
        on_frame=score,
        stem="sample",
    )
    mad = 1e3 * float(np.mean(errors))
    print(
        f"demo: matted {result.num_frames} frames in {result.seconds:.1f} s "
        f"({result.num_frames / max(result.seconds, 1e-9):.1f} frames/s) with tracker 'builtin', head '{DEFAULT_HEAD}'"
    )
    print(f"demo: MAD against the known matte: {mad:.2f} (×1e-3; lower is better)")
    print(f"demo: input clip  {shown_path(video)}")
    for (_, fmt), path in result.paths.items():
        print(f"demo: {fmt:<10} {shown_path(path)}")
    return 0


def shown_path(path: Path) -> str:
    """``path`` as the user can type it from where they stand: relative to the current folder
    when it lies below it, absolute otherwise (never relative to some other folder)."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)
