"""What the DAVIS 2017 evaluation harness and our conformance test share (numpy + Pillow only,
no sam2matting and no DAVIS code, so both virtual environments import it).

:func:`write_dataset` writes a tiny DAVIS 2017 folder, deterministically: three sequences with
one, two and three objects (palette annotations, a void region), and a ``results`` folder of
predicted palette masks with every case the evaluation meets — a shifted and shrunken object,
an object missed on some frames, an object never predicted, an object absent from the ground
truth on a frame (and from the prediction: J 1 there), an extra label the ground truth does not
have on the first frame is not used.

The harness is ``benchmarks/davis_reference/davis2017_reference.py`` (runs the official
``davisvideochallenge/davis2017-evaluation`` code); the test is
``tests/test_eval_davis2017_conformance.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT, WIDTH = 60, 84
#: sequence → number of frames, number of objects
SEQUENCES = {"one": (7, 1), "two": (6, 2), "three": (5, 3)}


def _disc(cx: float, cy: float, r: float) -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def _rect(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((HEIGHT, WIDTH), bool)
    m[y0:y1, x0:x1] = True
    return m


def _labels(masks: list[np.ndarray]) -> np.ndarray:
    """Label map of object masks (1, 2, …; later objects over earlier ones)."""
    out = np.zeros((HEIGHT, WIDTH), np.uint8)
    for i, m in enumerate(masks, start=1):
        out[m] = i
    return out


def truth(seq: str, t: int) -> np.ndarray:
    """Ground-truth label map of frame ``t`` (255 = void)."""
    if seq == "one":
        lab = _labels([_disc(20 + 5 * t, 30, 12 - 0.5 * t)])
        lab[0:4, 70:84] = 255
        return lab
    if seq == "two":
        return _labels([_rect(5 + 3 * t, 10, 35 + 3 * t, 40), _disc(60 - 2 * t, 35 + t, 9)])
    objects = [_rect(4, 4 + 2 * t, 24, 24 + 2 * t), _disc(45, 30, 7 + t), _rect(60, 40, 78, 55)]
    if t == 3:
        objects[2] = np.zeros((HEIGHT, WIDTH), bool)  # object 3 out of view on frame 3
    return _labels(objects)


def prediction(seq: str, t: int) -> np.ndarray:
    """Predicted label map of frame ``t``."""
    if seq == "one":
        return _labels([_disc(22 + 5 * t, 29 + (t % 3), 11 - 0.5 * t)])
    if seq == "two":
        first = _rect(6 + 3 * t, 11, 33 + 3 * t, 41)
        first[11:14, 6 + 3 * t : 12 + 3 * t] = False  # a notch
        second = _disc(61 - 2 * t, 35 + t, 8) if t not in (3, 4) else np.zeros_like(first)
        return _labels([first, second])
    objects = [_rect(4, 6 + 2 * t, 26, 24 + 2 * t), _disc(46, 31, 6 + t)]  # object 3: never
    return _labels(objects)


def _save_palette(labels: np.ndarray, path: Path) -> None:
    image = Image.fromarray(labels, mode="P")
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (252 * 3)
    image.putpalette(palette)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_dataset(root: Path) -> Path:
    """The DAVIS folder under ``root`` (``JPEGImages/480p``, ``Annotations/480p``,
    ``ImageSets/2017/val.txt``) and the predictions under ``root / "results"``; returns root."""
    rng = np.random.default_rng(2017)
    for seq, (frames, _) in SEQUENCES.items():
        for t in range(frames):
            name = f"{t:05d}"
            image = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            jpeg = root / "JPEGImages" / "480p" / seq / f"{name}.jpg"
            jpeg.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(jpeg, quality=90)
            _save_palette(truth(seq, t), root / "Annotations" / "480p" / seq / f"{name}.png")
            _save_palette(prediction(seq, t), root / "results" / seq / f"{name}.png")
    sets = root / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "val.txt").write_text("".join(f"{seq}\n" for seq in SEQUENCES))
    return root
