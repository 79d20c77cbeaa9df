"""A synthetic clip with exact ground-truth alpha, generated in code (no files, no downloads).

Used by ``sam2matting demo`` and by the tests: a textured subject with a soft boundary and thin
hair-like strands moves over a textured, slowly panning background. The composite is
``frame = F·α + B·(1 − α)`` exactly, so the alpha a method recovers can be scored against ``α``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["SampleClip", "make_sample_clip", "write_sample_video"]


@dataclass(frozen=True)
class SampleClip:
    """Parameters of the generated clip; iterate it for ``(image, alpha)`` pairs.

    ``image``: H×W×3 uint8 RGB; ``alpha``: H×W float32 in [0, 1] (the exact matte of the
    8-bit-rounded composite up to ±0.5/255 colour rounding).
    """

    width: int = 512
    height: int = 288
    num_frames: int = 48
    seed: int = 0
    fps: int = 24

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for t in range(self.num_frames):
            yield self.frame(t)

    def __len__(self) -> int:
        return self.num_frames

    # -- geometry ---------------------------------------------------------------------------
    def center(self, t: int) -> tuple[float, float]:
        """Subject centre (x, y) in pixels on frame t: a slow figure-of-eight path."""
        phase = 2 * np.pi * t / max(self.num_frames, 1)
        cx = self.width * (0.5 + 0.18 * np.sin(phase))
        cy = self.height * (0.52 + 0.08 * np.sin(2 * phase))
        return float(cx), float(cy)

    def radius(self) -> float:
        return 0.22 * min(self.width, self.height)

    def box(self, t: int = 0, margin: float = 1.6) -> tuple[float, float, float, float]:
        """A box prompt around the subject on frame t (generous enough to hold the strands)."""
        cx, cy = self.center(t)
        r = self.radius() * margin
        return (
            max(cx - r, 0.0),
            max(cy - r, 0.0),
            min(cx + r, self.width - 1.0),
            min(cy + r, self.height - 1.0),
        )

    # -- rendering --------------------------------------------------------------------------
    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def _background(self, t: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed + 1)
        big_w, big_h = self.width + 64, self.height + 32
        noise = rng.random((big_h // 8 + 2, big_w // 8 + 2, 3)).astype(np.float32)
        tex = cv2.resize(noise, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[0:big_h, 0:big_w].astype(np.float32)
        stripes = 0.5 + 0.5 * np.sin(xx / 9.0 + yy / 23.0)
        bg = (
            0.25
            + 0.35 * np.clip(tex, 0, 1)
            + 0.15 * stripes[..., None] * np.array([0.2, 0.6, 0.9], np.float32)
        )
        ox = round(32 + 24 * np.sin(2 * np.pi * t / max(self.num_frames, 1)))
        oy = round(16 + 8 * np.cos(2 * np.pi * t / max(self.num_frames, 1)))
        return np.clip(bg[oy : oy + self.height, ox : ox + self.width], 0, 1)

    def _strands(self) -> list[tuple[float, float, float, float]]:
        """Hair-like strands: (angle, length factor, curvature, thickness) around the subject."""
        rng = self._rng()
        n = 28
        return [
            (
                float(a),
                float(rng.uniform(0.25, 0.6)),
                float(rng.uniform(-0.8, 0.8)),
                float(rng.uniform(0.6, 1.4)),
            )
            for a in np.linspace(-np.pi * 0.95, -np.pi * 0.05, n) + rng.normal(0, 0.04, n)
        ]

    def alpha(self, t: int) -> np.ndarray:
        """Exact alpha of frame t: a soft-edged blob plus semi-transparent thin strands."""
        h, w = self.height, self.width
        cx, cy = self.center(t)
        r = self.radius()
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = np.arctan2(yy - cy, xx - cx)
        rr = r * (1.0 + 0.12 * np.sin(3 * ang + 0.3 * t / max(self.num_frames, 1) * 2 * np.pi))
        dist = np.sqrt((xx - cx) ** 2 + ((yy - cy) * 1.15) ** 2) - rr
        body = np.clip(0.5 - dist / 3.0, 0.0, 1.0)  # ~3 px soft edge
        # strands drawn at 4x then area-averaged: partial coverage → fractional alpha
        s = 4
        canvas = np.zeros((h * s, w * s), np.float32)
        for angle, length, curve, thick in self._strands():
            pts = []
            for u in np.linspace(0, 1, 12):
                a = angle + curve * 0.4 * u
                rad = rr.mean() * (0.9 + length * u)
                pts.append(((cx + rad * np.cos(a)) * s, (cy + rad * np.sin(a) / 1.15) * s))
            poly = np.round(np.array(pts)).astype(np.int32)
            cv2.polylines(
                canvas,
                [poly],
                False,
                0.85,
                thickness=max(1, round(thick * s * 0.5)),
                lineType=cv2.LINE_8,
            )
        strands = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
        return np.clip(np.maximum(body, strands), 0.0, 1.0).astype(np.float32)

    def foreground(self, t: int) -> np.ndarray:
        """Subject colour, straight (not premultiplied), H×W×3 float32 in [0, 1]: warm and textured."""
        h, w = self.height, self.width
        cx, cy = self.center(t)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        pattern = 0.5 + 0.5 * np.sin((xx - cx) / 5.0) * np.cos((yy - cy) / 7.0)
        fg = np.stack([0.85 + 0.1 * pattern, 0.45 + 0.2 * pattern, 0.2 + 0.1 * pattern], axis=-1)
        return np.clip(fg, 0, 1).astype(np.float32)

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image, alpha)`` of frame t."""
        a = self.alpha(t)
        comp = self.foreground(t) * a[..., None] + self._background(t) * (1.0 - a[..., None])
        image = np.clip(comp * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return image, a


def make_sample_clip(
    width: int = 512, height: int = 288, num_frames: int = 48, seed: int = 0, fps: int = 24
) -> SampleClip:
    """The synthetic sample clip (see module docstring); deterministic in ``seed``."""
    return SampleClip(width=width, height=height, num_frames=num_frames, seed=seed, fps=fps)


def write_sample_video(clip: SampleClip, path: str | Path, audio: bool = True) -> Path:
    """Encode ``clip`` as H.264 (yuv420p, high quality) ``.mp4`` with an optional 440 Hz AAC tone.

    Written to a temporary name and renamed when complete. Returns the final path.
    """
    import os
    from fractions import Fraction

    import av

    final = Path(path)
    tmp = final.with_name(f".{final.name}.partial")
    try:
        with av.open(str(tmp), "w", format="mp4") as container:
            video = container.add_stream("libx264", rate=Fraction(clip.fps))
            video.width, video.height = clip.width, clip.height
            video.pix_fmt = "yuv420p"
            video.options = {"crf": "12", "preset": "veryfast"}
            tone = None
            if audio:
                tone = container.add_stream("aac", rate=48000)
                tone.layout = "mono"
            samples_per_frame = 48000 // clip.fps
            t_audio = 0
            for image, _ in clip:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in video.encode(frame):
                    container.mux(packet)
                if tone is not None:
                    n = samples_per_frame
                    t = (np.arange(t_audio, t_audio + n) / 48000.0).astype(np.float32)
                    pcm = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :]
                    aframe = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
                    aframe.sample_rate = 48000
                    aframe.pts = t_audio
                    t_audio += n
                    for packet in tone.encode(aframe):
                        container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
            if tone is not None:
                for packet in tone.encode():
                    container.mux(packet)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return final
