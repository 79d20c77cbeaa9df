"""External baselines for the evaluation: Robust Video Matting (RVM) through onnxruntime.

RVM (Lin et al., 2022; GPL-3.0) is loaded at run time from a file the user has — by default
``../shared/data/baselines/rvm_mnv3_dr025.onnx`` next to the checkout, or the path in
``$SAM2MATTING_RVM_ONNX`` — and never copied into or shipped with this project. It needs the
optional dependency ``onnxruntime`` (``pip install 'sam2matting[eval]'``).

The export has RVM's downsample ratio fixed at 0.25. RVM's guidance is a downsampled size of
256–512 px, so small frames are upscaled before inference (``input_scale``, default: enough
for a 256 px long side after downsampling, i.e. ×2 at 512×288, ×1 at 1080p) and the alpha is
resized back (area). RVM mattes *people* without a prompt: it knows no object ids, so its one
alpha stands for every object of a clip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MissingDependencyError, require

__all__ = ["RVM_ENV", "RobustVideoMatting", "default_rvm_path", "rvm_available"]

#: environment variable naming the RVM ONNX file
RVM_ENV = "SAM2MATTING_RVM_ONNX"
_RVM_NAME = "rvm_mnv3_dr025.onnx"
#: RVM recurrent-state channels (r1..r4)
_STATE_CHANNELS = (16, 20, 40, 64)
#: RVM's recommended minimum long side after its internal downsampling
_MIN_DOWNSAMPLED = 256
_BAKED_RATIO = 0.25


def default_rvm_path() -> Path:
    """``$SAM2MATTING_RVM_ONNX``, else ``baselines/rvm_mnv3_dr025.onnx`` in the shared data folder
    (:func:`~sam2matting.eval.datasets.default_data_root`)."""
    env = os.environ.get(RVM_ENV)
    if env:
        return Path(env)
    from .datasets import default_data_root

    return default_data_root() / "baselines" / _RVM_NAME


def rvm_available(path: str | Path | None = None) -> tuple[bool, str]:
    """(usable, reason): whether the RVM baseline can run, and if not, a one-line why."""
    p = Path(path) if path is not None else default_rvm_path()
    if not p.is_file():
        return False, f"RVM baseline skipped: {p} not found (set {RVM_ENV} to the ONNX file)"
    try:
        require("onnxruntime", "eval")
    except MissingDependencyError as exc:
        return False, f"RVM baseline skipped: {exc}"
    return True, ""


def auto_input_scale(width: int, height: int) -> float:
    """Upscale factor so RVM's 0.25-downsampled long side is at least 256 px (1 for large frames)."""
    return max(1.0, _MIN_DOWNSAMPLED / (_BAKED_RATIO * max(width, height)))


class RobustVideoMatting:
    """RVM MobileNetV3 (ONNX) as a frame-by-frame matting method with recurrent state.

    ``model_path``: the ONNX file (default :func:`default_rvm_path`); ``input_scale``: resize
    factor applied before inference (``None``: :func:`auto_input_scale`); ``threads``: intra-op
    threads for onnxruntime (``None``: its default). Call :meth:`reset` at the start of every
    clip (and after a cut); :meth:`__call__` takes H×W×3 uint8 RGB frames in order and returns
    float32 H×W alpha in [0, 1].
    """

    name = "rvm"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        input_scale: float | None = None,
        threads: int | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_rvm_path()
        ok, why = rvm_available(path)
        if not ok:
            if "not found" in why:
                raise InputError(why)
            raise MissingDependencyError(why)
        ort: Any = require("onnxruntime", "eval")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_scale = input_scale
        self._state: list[np.ndarray] = []
        self._size: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state (start of a clip)."""
        self._state = [np.zeros((1, 1, 1, c), np.float32) for c in _STATE_CHANNELS]
        self._size = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import cv2

        frame = np.asarray(image)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(f"RVM takes H×W×3 uint8 RGB frames, got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._size is not None and self._size != (w, h):
            self.reset()  # the state's shape follows the frame size
        self._size = (w, h)
        scale = self.input_scale if self.input_scale is not None else auto_input_scale(w, h)
        src = frame
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            src = cv2.resize(frame, size, interpolation=interp)
        feed = {"src": src[None].astype(np.float32) / 255.0}
        feed.update({f"r{i + 1}i": s for i, s in enumerate(self._state)})
        _fgr, pha, *state = self.session.run(None, feed)
        self._state = [np.asarray(s, np.float32) for s in state]
        alpha = np.asarray(pha[0, ..., 0], np.float32)
        if alpha.shape != (h, w):
            interp = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
            alpha = np.asarray(cv2.resize(alpha, (w, h), interpolation=interp), np.float32)
        return np.clip(alpha, 0.0, 1.0)
