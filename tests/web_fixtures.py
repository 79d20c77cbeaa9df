"""Shared set-up of the web app tests: a root folder with clips, an app, a live server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from sam2matting.samples import SampleClip, make_sample_clip, write_sample_video

W, H, N, FPS = 192, 112, 10, 10


def sample_clip() -> SampleClip:
    return make_sample_clip(W, H, N, fps=FPS)


def make_root(base: Path) -> tuple[Path, Path]:
    """``base/root`` with sample.mp4, frames/ (PNG sequence), still.png, notes.txt, an empty
    folder, symlinks leading out and leaky/ (an image folder with a frame linked from outside); ``base/outside/secret.txt`` beside it. Returns
    (root, outside)."""
    clip = sample_clip()
    root = base / "root"
    outside = base / "outside"
    (root / "frames").mkdir(parents=True)
    (root / "empty").mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (outside / "secret.mp4").write_bytes(b"not really")
    write_sample_video(clip, root / "sample.mp4")
    for t in range(4):
        image, _ = clip.frame(t)
        cv2.imwrite(str(root / "frames" / f"f{t}.png"), image[..., ::-1])
    image, _ = clip.frame(0)
    cv2.imwrite(str(root / "still.png"), image[..., ::-1])
    (root / "notes.txt").write_text("not a clip")
    os.symlink(outside / "secret.mp4", root / "escape.mp4")
    os.symlink(outside, root / "escape_dir")
    (root / "leaky").mkdir()  # an image folder with one frame that leads out
    cv2.imwrite(str(outside / "f1.png"), image[..., ::-1])
    cv2.imwrite(str(root / "leaky" / "f0.png"), image[..., ::-1])
    os.symlink(outside / "f1.png", root / "leaky" / "f1.png")
    return root, outside


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``folder`` (not following symlinks) with size and mtime."""
    out = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime)
    return out


def decode_png(data: bytes) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert arr is not None
    return arr


@contextmanager
def live_server(app: object) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# two objects for the browser test: a yellow disc moving right, a purple square moving left
TW, TH, TN, TFPS = 320, 180, 16, 10


def two_object_positions(t: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres (x, y) of the disc and of the square on frame t."""
    return (80.0 + 4.0 * t, 70.0 + 1.0 * t), (240.0 - 3.0 * t, 110.0 - 1.0 * t)


def two_object_frame(t: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:TH, 0:TW].astype(np.float32)
    background = np.dstack([90 + 60 * xx / TW, 140 + 40 * yy / TH, 120 + 0 * xx]) + rng.normal(
        0, 6, (TH, TW, 3)
    )
    image = np.clip(background, 0, 255).astype(np.uint8)
    (dx, dy), (sx, sy) = two_object_positions(t)
    disc = (xx - dx) ** 2 + (yy - dy) ** 2 <= 24**2
    image[disc] = (230, 200, 40)
    square = (np.abs(xx - sx) <= 20) & (np.abs(yy - sy) <= 20)
    image[square] = (170, 50, 170)
    return image


def write_two_object_clip(path: Path) -> Path:
    """A 320×180, 16-frame, 10 fps H.264 clip of the two objects."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(TFPS))
        stream.width, stream.height, stream.pix_fmt = TW, TH, "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for t in range(TN):
            frame = av.VideoFrame.from_ndarray(two_object_frame(t), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
