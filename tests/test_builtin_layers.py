"""Motion layers of the built-in tracker (``trackers/builtin_layers.py``): a pole in front of
an object, moving with a parallax of its own, is found, followed from step to step, and
explains its own pixels in the motion evidence."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2matting.errors import Sam2MattingError
from sam2matting.trackers import builtin as B
from sam2matting.trackers.builtin_layers import LayerTrace, MotionLayer, continued, find_layers

H, W = 200, 400
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _object() -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (180, 110), (50, 40), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def _flow(pole_x: int, pole_w: int = 12, pole_dx: float = -10.0) -> np.ndarray:
    """Forward flow: the camera pans 4 px left, the object holds still, a full-height pole
    ``pole_w`` px wide at ``pole_x`` moves ``pole_dx`` px."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = -4.0
    flow[_object()] = 0.0
    flow[:, pole_x : pole_x + pole_w, 0] = pole_dx
    return flow


def test_a_pole_moving_with_its_own_motion_is_a_layer() -> None:
    layers = find_layers(_flow(260), _object(), IDENTITY, 3.0, 3, B._fit_affine)
    assert len(layers) == 1
    layer = layers[0]
    assert layer.shift[0] == pytest.approx(-10.0, abs=0.5)
    assert layer.shift[1] == pytest.approx(0.0, abs=0.5)
    columns = np.nonzero(layer.region.any(axis=0))[0]
    assert columns.min() >= 258 and columns.max() <= 273  # the pole (half-size grid: ±2 px)
    assert layer.region[:, 260:272].mean() > 0.8


def test_the_camera_and_the_object_alone_give_no_layer_nor_does_incoherent_flow() -> None:
    flow = _flow(260, pole_dx=-4.0)  # the "pole" moves with the camera: background
    assert find_layers(flow, _object(), IDENTITY, 3.0, 3, B._fit_affine) == []
    noisy = flow.copy()
    rng = np.random.default_rng(0)
    noisy[20:80, 300:360] = rng.normal(0.0, 8.0, (60, 60, 2))  # failed flow, no motion of its own
    assert find_layers(noisy, _object(), IDENTITY, 3.0, 3, B._fit_affine) == []
    assert find_layers(_flow(260), _object(), IDENTITY, 3.0, 0, B._fit_affine) == []


def _layer(x: int, dx: float) -> MotionLayer:
    region = np.zeros((H, W), bool)
    region[:, x : x + 12] = True
    motion = np.array([[1.0, 0.0, dx], [0.0, 1.0, 0.0]])
    return MotionLayer(region, motion, (dx, 0.0))


def test_a_layer_continues_the_one_that_moved_onto_it_alike() -> None:
    before = LayerTrace.of([_layer(300, -10.0), _layer(40, -3.0)], (H, W))
    now = _layer(290, -10.0)
    kept = continued([now, _layer(100, -10.0)], before)
    assert len(kept) == 1 and kept[0] is now
    assert continued([_layer(291, -11.5)], before)  # a little faster: the same pole
    assert not continued([_layer(290, -4.0)], before)  # moving otherwise
    assert not continued([_layer(100, -10.0)], before)  # somewhere else
    assert not continued([_layer(290, -10.0)], None)  # nothing to continue
    assert not continued([_layer(290, -10.0)], LayerTrace.of([], (H, W)))
    # the trace has the same size whatever the number of layers
    assert LayerTrace.of([], (H, W)).labels.nbytes == before.labels.nbytes


def _frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(previous, current grey uint8, where the pole covers the object on the current frame):
    a textured background panning 4 px left, a still textured object, and a pole of the
    object's own texture statistics moving 10 px left across it."""
    rng = np.random.default_rng(3)
    wide = cv2.GaussianBlur(rng.integers(0, 255, (H, W + 64)).astype(np.uint8), (0, 0), 1.2)
    thing = cv2.GaussianBlur(rng.integers(0, 255, (H, W)).astype(np.uint8), (0, 0), 1.2)
    pole = cv2.GaussianBlur(rng.integers(0, 255, (H, 14)).astype(np.uint8), (0, 0), 1.2)
    obj = _object()
    out = []
    for t, x in ((0, 215), (1, 205)):
        frame = wide[:, 4 * t : 4 * t + W].copy()
        frame[obj] = thing[obj]
        frame[:, x : x + 14] = pole
        out.append(frame)
    covered = np.zeros((H, W), bool)
    covered[:, 207:217] = True
    return out[0], out[1], covered & obj


def test_the_pole_explains_its_own_pixels_in_the_motion_evidence() -> None:
    previous, current, covered = _frames()
    camera = np.array([[1.0, 0.0, -4.0], [0.0, 1.0, 0.0]])
    pole = np.zeros((H, W), bool)
    pole[:, 215:229] = True
    layer = MotionLayer(pole, np.array([[1.0, 0.0, -10.0], [0.0, 1.0, 0.0]]), (-10.0, 0.0))
    without = B._motion_llr(current, previous, IDENTITY, camera)
    with_layer = B._motion_llr(current, previous, IDENTITY, camera, layers=[layer])
    # neither the object's nor the camera's motion explains the pole: no evidence either way
    assert abs(float(np.median(without[covered]))) < 1.0
    # the pole's own motion does: evidence against the object there
    assert float(np.median(with_layer[covered])) < -2.0
    # the rest of the object, away from the layer, is as before
    inside = _object()
    inside[:, 170:260] = False
    assert np.array_equal(without[inside], with_layer[inside])


def test_motion_layers_must_not_be_negative() -> None:
    with pytest.raises(Sam2MattingError, match="motion_layers"):
        B.build(motion_layers=-1)
