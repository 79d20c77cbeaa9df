"""Composite video clips with exact ground-truth alpha, and the dev benchmark built from them.

A clip moves a foreground cutout (colour + alpha) over a background video or DAVIS sequence:

- **Layers.** Cutouts are kept *premultiplied* (``P = F·α``): P and α are warped, blurred and
  resampled with the same operations, so colour and alpha stay consistent (no halos). The
  composite is ``C = P + (1 − α)·B``, and the α written to ``pha/`` (8-bit) is exactly the α the
  frame was composited with (P is rescaled to the 8-bit α before compositing).
- **Cutouts** (``../shared/data/matting/<name>/``): ``image.png`` RGBA (GFM) and
  ``foreground.png`` (P3M) are already premultiplied; straight photos (``image.jpg``, AM-2k) get
  their foreground colour from ``pymatting.estimate_foreground_ml`` first.
- **Motion** (per :class:`Difficulty`): a smooth path (two sinusoids per axis), a scale
  oscillation, a rotation, and camera shake (a small high-frequency wobble applied to both
  layers). Edges where the cutout is cut off (a portrait's chest at the bottom) are kept
  outside the frame whatever the motion.
- **Motion blur**: a line kernel along the subject's screen velocity over the shutter interval,
  applied to P and α alike (and to the background for the shake). Blur from rotation and
  scaling is not modelled.
- **Determinism**: every random choice comes from ``numpy.random.default_rng`` seeded by the
  build seed and the clip index; the same seed and library versions give byte-identical PNGs,
  recorded in a ``SHA256SUMS`` manifest.

Written in the RVM layout (:mod:`sam2matting.eval.datasets` reads it back):
``<clip>/com/0000.png`` (composite), ``pha/`` (alpha), ``fgr/`` (straight foreground colour,
0 where α = 0), ``bgr/`` (background), and ``mask/0000.png``: the first-frame mask, **α > 0.5**
(8-bit alpha ≥ 128) as 0/255, the prompt a tracker starts from.

The train/eval split of the cutouts lives here (:data:`DEV_FOREGROUNDS`): the dev benchmark
uses only those; training uses every other cutout (:func:`training_foregrounds`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..io.cutouts import DEV_FOREGROUNDS, Cutout, load_cutout, training_foregrounds

__all__ = [
    "DEV_FOREGROUNDS",
    "DIFFICULTIES",
    "ClipSpec",
    "Cutout",
    "Difficulty",
    "build_benchmark",
    "build_dev_benchmark",
    "default_cache_dir",
    "dev_benchmark_specs",
    "load_cutout",
    "render_clip",
    "training_foregrounds",
    "verify_manifest",
    "write_manifest",
]


def default_cache_dir() -> Path:
    """Where benchmarks are built by default: ``$XDG_CACHE_HOME/sam2matting`` (``~/.cache/sam2matting``)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sam2matting"


# -- cutouts -------------------------------------------------------------------------------------


# -- motion --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difficulty:
    """How hard a clip is. Amplitudes are fractions of the frame size; frequencies are cycles per
    100 frames (so a 30-frame clip moves less in total than a 100-frame one at the same speed).

    ``travel``: translation amplitude (fraction of width); ``cycles``: main motion frequency;
    ``scale_range``: ± relative size change; ``rotation_deg``: ± rotation; ``shake``: camera-shake
    amplitude (fraction of height); ``shutter``: exposure as a fraction of the frame interval
    (0 = no motion blur, 0.5 = a 180° shutter); ``size``: (min, max) subject height as a fraction
    of the frame height.
    """

    name: str
    travel: float
    cycles: float
    scale_range: float
    rotation_deg: float
    shake: float
    shutter: float
    size: tuple[float, float]


DIFFICULTIES: dict[str, Difficulty] = {
    "easy": Difficulty(
        "easy",
        travel=0.05,
        cycles=0.6,
        scale_range=0.03,
        rotation_deg=0.0,
        shake=0.0,
        shutter=0.0,
        size=(0.55, 0.75),
    ),
    "medium": Difficulty(
        "medium",
        travel=0.12,
        cycles=1.2,
        scale_range=0.08,
        rotation_deg=4.0,
        shake=0.004,
        shutter=0.5,
        size=(0.6, 0.85),
    ),
    "hard": Difficulty(
        "hard",
        travel=0.22,
        cycles=2.2,
        scale_range=0.15,
        rotation_deg=10.0,
        shake=0.01,
        shutter=1.0,
        size=(0.65, 0.95),
    ),
}


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one composite clip (with the build seed, its pixels too).

    ``background``: ``"videos/<file>.mp4"`` or ``"davis/<sequence>"`` relative to the data root;
    ``bg_start``: first background frame (DAVIS sequences play forth and back when too short).
    """

    name: str
    foreground: str
    background: str
    width: int
    height: int
    num_frames: int
    difficulty: str
    seed: int
    bg_start: int = 0


@dataclass(frozen=True)
class _Motion:
    """Per-clip motion parameters drawn from the seed (frame-time functions below)."""

    k0: float  # cutout → frame scale at rest
    anchor: tuple[float, float]  # cutout point (subject-box centre) that the path moves
    base: tuple[float, float]  # its frame position at rest
    amp: tuple[float, float]
    freq: tuple[float, float, float, float]
    phase: tuple[float, float, float, float, float, float, float, float]
    scale_amp: float
    rot_amp: float
    shake_amp: float
    shake_freq: tuple[float, float, float]
    shake_phase: tuple[float, float, float, float]
    bg_zoom: float

    def offset(self, s: float) -> tuple[float, float]:
        fx1, fx2, fy1, fy2 = self.freq
        p = self.phase
        dx = self.amp[0] * (
            0.7 * math.sin(2 * math.pi * fx1 * s + p[0])
            + 0.3 * math.sin(2 * math.pi * fx2 * s + p[1])
        )
        dy = self.amp[1] * (
            0.7 * math.sin(2 * math.pi * fy1 * s + p[2])
            + 0.3 * math.sin(2 * math.pi * fy2 * s + p[3])
        )
        return dx, dy

    def scale(self, s: float) -> float:
        return self.k0 * (
            1.0 + self.scale_amp * math.sin(2 * math.pi * self.freq[0] * 0.7 * s + self.phase[4])
        )

    def rotation(self, s: float) -> float:
        return self.rot_amp * math.sin(2 * math.pi * self.freq[2] * 0.8 * s + self.phase[5])

    def shake(self, s: float) -> tuple[float, float]:
        f1, f2, f3 = self.shake_freq
        q = self.shake_phase
        sx = self.shake_amp * (
            0.6 * math.sin(2 * math.pi * f1 * s + q[0])
            + 0.4 * math.sin(2 * math.pi * f3 * s + q[1])
        )
        sy = self.shake_amp * (
            0.6 * math.sin(2 * math.pi * f2 * s + q[2])
            + 0.4 * math.sin(2 * math.pi * f3 * 1.3 * s + q[3])
        )
        return sx, sy


def _draw_motion(spec: ClipSpec, cutout: Cutout, rng: np.random.Generator) -> _Motion:
    diff = DIFFICULTIES[spec.difficulty]
    w, h = spec.width, spec.height
    x0, y0, x1, y1 = cutout.subject_box()
    frac = float(rng.uniform(*diff.size))
    k0 = frac * h / (y1 - y0)
    anchor = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    base = (w * float(0.5 + rng.uniform(-0.12, 0.12)), h * float(0.5 + rng.uniform(-0.05, 0.1)))
    if _fills_width(cutout):
        # a close-up cut at both sides (a horse's neck): the camera frames it edge to edge
        cw = cutout.size[0]
        k0 = max(k0, w * (1.1 + 2.0 * math.sin(math.radians(diff.rotation_deg))) / cw)
        base = (w / 2.0, base[1])
    f = diff.cycles / 100.0
    freq = (
        f * float(rng.uniform(0.8, 1.2)),
        f * float(rng.uniform(1.8, 2.6)),
        f * float(rng.uniform(0.6, 1.0)),
        f * float(rng.uniform(1.5, 2.2)),
    )
    phase = tuple(float(v) for v in rng.uniform(0, 2 * math.pi, 8))
    shake_f = (
        float(rng.uniform(0.15, 0.25)),
        float(rng.uniform(0.15, 0.25)),
        float(rng.uniform(0.3, 0.45)),
    )
    return _Motion(
        k0=k0,
        anchor=anchor,
        base=base,
        amp=(diff.travel * w, 0.5 * diff.travel * h),
        freq=freq,
        phase=phase,  # type: ignore[arg-type]
        scale_amp=diff.scale_range,
        rot_amp=diff.rotation_deg,
        shake_amp=diff.shake * h,
        shake_freq=shake_f,
        shake_phase=tuple(float(v) for v in rng.uniform(0, 2 * math.pi, 4)),  # type: ignore[arg-type]
        bg_zoom=1.0 + 4.0 * diff.shake + 0.02,
    )


def _affine(
    k: float, deg: float, anchor: tuple[float, float], pos: tuple[float, float]
) -> np.ndarray:
    """2×3 matrix: rotate by ``deg`` and scale by ``k`` about ``anchor`` (cutout px), put it at ``pos`` (frame px)."""
    th = math.radians(deg)
    c, s = k * math.cos(th), k * math.sin(th)
    ax, ay = anchor
    return np.array(
        [[c, -s, pos[0] - (c * ax - s * ay)], [s, c, pos[1] - (s * ax + c * ay)]], np.float64
    )


def _cut_segments(cutout: Cutout) -> dict[str, np.ndarray]:
    """End points (2×2, cutout px) of each cut span."""
    cw, ch = cutout.size
    segs: dict[str, np.ndarray] = {}
    for edge, (a, b) in cutout.cut_edges.items():
        if edge == "bottom":
            segs[edge] = np.array([[a, ch], [b, ch]], np.float64)
        elif edge == "top":
            segs[edge] = np.array([[a, 0], [b, 0]], np.float64)
        elif edge == "left":
            segs[edge] = np.array([[0, a], [0, b]], np.float64)
        else:
            segs[edge] = np.array([[cw, a], [cw, b]], np.float64)
    return segs


def _hide_shift(
    m: np.ndarray, segs: dict[str, np.ndarray], plan: dict[str, str], w: int, h: int, margin: float
) -> tuple[float, float]:
    """Translation that moves every cut span outside the frame, each towards its planned side."""
    sx = sy = 0.0
    for edge, pts in segs.items():
        q = pts @ m[:, :2].T + m[:, 2]
        side = plan[edge]
        if side == "left":
            sx = min(sx, -margin - q[:, 0].max())
        elif side == "right":
            sx = max(sx, w + margin - q[:, 0].min())
        elif side == "top":
            sy = min(sy, -margin - q[:, 1].max())
        else:  # bottom
            sy = max(sy, h + margin - q[:, 1].min())
    return sx, sy


def _fills_width(cutout: Cutout, max_hidden: float = 0.25) -> bool:
    """Whether the subject is cut at both sides so high up that hiding the cuts below the frame
    would hide more than ``max_hidden`` of it: then it is framed edge to edge instead."""
    cuts = cutout.cut_edges
    if "left" not in cuts or "right" not in cuts:
        return False
    _, y0, _, y1 = cutout.subject_box()
    ch = cutout.size[1]
    hidden = (ch - min(cuts["left"][0], cuts["right"][0])) / max(y1 - y0, 1)
    return hidden > max_hidden


def _plan_hiding(
    m0: np.ndarray, segs: dict[str, np.ndarray], w: int, h: int, margin: float, fill_width: bool
) -> dict[str, str]:
    """For each cut span choose the frame side it is pushed out of: its own side, or the bottom
    when that needs a smaller shift (a portrait cut at both shoulders hides them below the
    frame). ``fill_width``: a close-up cut at both sides keeps the sides at the sides."""
    plan: dict[str, str] = {}
    for edge, pts in segs.items():
        own = edge
        if edge in ("left", "right") and not fill_width:
            need_own = abs(_hide_shift(m0, {edge: pts}, {edge: own}, w, h, margin)[0])
            need_bottom = abs(_hide_shift(m0, {edge: pts}, {edge: "bottom"}, w, h, margin)[1])
            both_sides = "left" in segs and "right" in segs
            plan[edge] = "bottom" if both_sides or need_bottom < need_own else own
        else:
            plan[edge] = own
    return plan


def _line_kernel(vx: float, vy: float) -> np.ndarray | None:
    """Normalised motion-blur kernel for a displacement of (vx, vy) pixels over the exposure.

    A box along the segment from −v/2 to +v/2 around the kernel centre: 32 samples per pixel
    of length, each splatted bilinearly (sub-pixel exact, symmetric). None below 1 px.
    """
    length = math.hypot(vx, vy)
    if length < 1.0:
        return None
    r = math.ceil(length / 2.0) + 1
    size = 2 * r + 1
    n = max(2, math.ceil(32 * length))
    s = (np.arange(n) + 0.5) / n - 0.5
    x, y = r + s * vx, r + s * vy
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    k = np.zeros((size, size), np.float64)
    for dx, dy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(k, (y0 + dy, x0 + dx), wgt)
    return (k / k.sum()).astype(np.float32)


# -- backgrounds ---------------------------------------------------------------------------------


def _pingpong(i: int, n: int) -> int:
    if n <= 1:
        return 0
    period = 2 * (n - 1)
    j = i % period
    return j if j < n else period - j


def _video_frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        frames = int(container.streams.video[0].frames or 0)
        if frames > 0:
            return frames
        return sum(1 for _ in container.decode(video=0))


def _iter_video(path: Path) -> Iterator[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _background_length(data_root: Path, background: str) -> int:
    kind, _, name = background.partition("/")
    if kind == "videos":
        return _video_frame_count(data_root / "videos" / name)
    if kind == "davis":
        from .datasets import list_images

        return len(list_images(data_root / "davis" / "JPEGImages" / name))
    raise InputError(f"unknown background {background!r}: use videos/<file> or davis/<sequence>")


def _iter_background(
    data_root: Path, background: str, start: int, num_frames: int, cover: tuple[int, int]
) -> Iterator[np.ndarray]:
    """Background frames ``start …`` (ping-pong past the end), resized (area) to cover ``cover`` = (w, h)."""
    from ..io.readers import ImageFolderSource
    from .datasets import list_images

    kind, _, name = background.partition("/")
    length = _background_length(data_root, background)
    indices = [_pingpong(start + t, length) for t in range(num_frames)]

    def fit(img: np.ndarray) -> np.ndarray:
        ih, iw = img.shape[:2]
        s = max(cover[0] / iw, cover[1] / ih)
        size = (max(cover[0], math.ceil(iw * s)), max(cover[1], math.ceil(ih * s)))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        return cv2.resize(img, size, interpolation=interp)

    if kind == "davis":
        with ImageFolderSource(list_images(data_root / "davis" / "JPEGImages" / name)) as src:
            for i in indices:
                yield fit(src.read_frame(i))
        return
    monotonic = all(b >= a for a, b in itertools.pairwise(indices))
    cache: dict[int, np.ndarray] = {}
    wanted = set(indices)
    if monotonic:
        it = iter(indices)
        nxt = next(it, None)
        for j, frame in enumerate(_iter_video(data_root / "videos" / name)):
            while nxt is not None and nxt == j:
                yield fit(frame)
                nxt = next(it, None)
            if nxt is None:
                return
        return
    for j, frame in enumerate(
        _iter_video(data_root / "videos" / name)
    ):  # short video: keep what ping-pong reuses
        if j in wanted:
            cache[j] = fit(frame)
    for i in indices:
        yield cache[i]


# -- rendering -----------------------------------------------------------------------------------


def _quantize(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _write_png(path: Path, rgb_or_grey: np.ndarray) -> None:
    arr = rgb_or_grey
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), arr, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise InputError(f"cannot write {path}")


def render_frames(
    spec: ClipSpec, data_root: str | Path, cutout: Cutout | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(composite, alpha, foreground, background)`` per frame of ``spec``.

    composite / foreground / background: H×W×3 uint8 RGB (foreground straight, 0 where α = 0);
    alpha: H×W uint8, exactly the alpha the composite was made with.
    """
    root = Path(data_root)
    if spec.difficulty not in DIFFICULTIES:
        raise InputError(
            f"unknown difficulty {spec.difficulty!r}; choose one of: {', '.join(DIFFICULTIES)}"
        )
    diff = DIFFICULTIES[spec.difficulty]
    cut = cutout if cutout is not None else load_cutout(root / "matting" / spec.foreground)
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, zlib.crc32(spec.name.encode())]))
    mo = _draw_motion(spec, cut, rng)
    w, h = spec.width, spec.height

    # Pre-scale the cutout to its rest size with area averaging (warpAffine only interpolates).
    k0 = mo.k0
    cw, ch = cut.size
    pre = (max(1, round(cw * k0)), max(1, round(ch * k0)))
    interp = cv2.INTER_AREA if k0 < 1 else cv2.INTER_CUBIC
    layer = np.dstack([cut.premultiplied, cut.alpha])
    layer = np.clip(cv2.resize(layer, pre, interpolation=interp), 0.0, 1.0)
    layer[..., :3] = np.minimum(layer[..., :3], layer[..., 3:4])
    sx_pre, sy_pre = pre[0] / cw, pre[1] / ch
    anchor_pre = (mo.anchor[0] * sx_pre, mo.anchor[1] * sy_pre)
    segs = _cut_segments(cut)
    for pts in segs.values():
        pts *= np.array([sx_pre, sy_pre])
    margin = 2.0 + 0.01 * max(w, h)

    def transform(s: float) -> np.ndarray:
        dx, dy = mo.offset(s)
        shx, shy = mo.shake(s)
        rel = mo.scale(s) / k0
        m = _affine(rel, mo.rotation(s), anchor_pre, (mo.base[0] + dx + shx, mo.base[1] + dy + shy))
        return m

    plan = _plan_hiding(transform(0.0), segs, w, h, margin, _fills_width(cut))

    def placed(s: float) -> np.ndarray:
        m = transform(s)
        sx, sy = _hide_shift(m, segs, plan, w, h, margin)
        m[0, 2] += sx
        m[1, 2] += sy
        return m

    cover = (math.ceil(w * mo.bg_zoom), math.ceil(h * mo.bg_zoom))
    backgrounds = _iter_background(root, spec.background, spec.bg_start, spec.num_frames, cover)
    for t, bg_big in zip(range(spec.num_frames), backgrounds, strict=False):
        s = float(t)
        m = placed(s)
        fg = cv2.warpAffine(
            layer,
            m,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        # background: centred crop of the zoomed frame, moved by the camera shake
        bh, bw = bg_big.shape[:2]
        shx, shy = mo.shake(s)
        mb = np.array([[1.0, 0.0, -(bw - w) / 2.0 + shx], [0.0, 1.0, -(bh - h) / 2.0 + shy]])
        bg = cv2.warpAffine(
            bg_big.astype(np.float32) / 255.0,
            mb,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        if diff.shutter > 0:
            half = diff.shutter / 2.0
            m_a, m_b = placed(s - half), placed(s + half)
            c = np.array([anchor_pre[0], anchor_pre[1], 1.0])
            v = m_b @ c - m_a @ c
            kern = _line_kernel(float(v[0]), float(v[1]))
            if kern is not None:
                fg = cv2.filter2D(fg, -1, kern, borderType=cv2.BORDER_CONSTANT)
            (ax, ay), (bx, by) = mo.shake(s - half), mo.shake(s + half)
            kb = _line_kernel(bx - ax, by - ay)
            if kb is not None:
                bg = cv2.filter2D(bg, -1, kb, borderType=cv2.BORDER_REFLECT)
        a = np.clip(fg[..., 3], 0.0, 1.0)
        p = np.clip(fg[..., :3], 0.0, 1.0)
        a8 = _quantize(a)
        aq = a8.astype(np.float32) / 255.0
        # rescale the colour to the 8-bit alpha so that pha/ is exactly the compositing alpha
        ratio = np.divide(aq, a, out=np.zeros_like(a), where=a > 1e-6)
        pq = np.minimum(p * ratio[..., None], aq[..., None])
        comp = pq + (1.0 - aq[..., None]) * bg
        straight = np.divide(pq, aq[..., None], out=np.zeros_like(pq), where=aq[..., None] > 0)
        yield _quantize(comp), a8, _quantize(straight), _quantize(bg)


def render_clip(
    spec: ClipSpec, data_root: str | Path, out_dir: str | Path, cutout: Cutout | None = None
) -> list[Path]:
    """Render ``spec`` into ``out_dir/<spec.name>/{com,pha,fgr,bgr,mask}``; return the files written."""
    clip_dir = Path(out_dir) / spec.name
    dirs = {k: clip_dir / k for k in ("com", "pha", "fgr", "bgr", "mask")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    count = 0
    for t, (comp, a8, fgr, bgr) in enumerate(render_frames(spec, data_root, cutout)):
        stem = f"{t:04d}.png"
        for kind, arr in (("com", comp), ("pha", a8), ("fgr", fgr), ("bgr", bgr)):
            _write_png(dirs[kind] / stem, arr)
            written.append(dirs[kind] / stem)
        if t == 0:
            mask = np.where(a8 > 127, 255, 0).astype(np.uint8)  # α > 0.5
            if not mask.any():
                raise InputError(f"clip {spec.name}: the subject is not visible on frame 0")
            _write_png(dirs["mask"] / stem, mask)
            written.append(dirs["mask"] / stem)
        count += 1
    if count != spec.num_frames:
        raise InputError(
            f"clip {spec.name}: background {spec.background} gave {count} of {spec.num_frames} frames"
        )
    return written


# -- manifests -----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(root: str | Path, name: str = "SHA256SUMS") -> Path:
    """Write ``sha256sum``-compatible checksums of every PNG below ``root`` (sorted relative paths)."""
    r = Path(root)
    files = sorted(p for p in r.rglob("*.png") if p.is_file())
    lines = [f"{_sha256(p)}  {p.relative_to(r).as_posix()}" for p in files]
    out = r / name
    out.write_text("\n".join(lines) + "\n")
    return out


def verify_manifest(root: str | Path, name: str = "SHA256SUMS") -> list[str]:
    """Relative paths whose checksum differs from the manifest, or that are missing (empty = all good)."""
    r = Path(root)
    bad: list[str] = []
    for line in (r / name).read_text().splitlines():
        if not line.strip():
            continue
        digest, rel = line.split("  ", 1)
        p = r / rel
        if not p.is_file() or _sha256(p) != digest:
            bad.append(rel)
    return bad


# -- the dev benchmark ---------------------------------------------------------------------------

#: background clips for the dev benchmark (Apache-2.0 videos and DAVIS sequences, evaluation only)
DEV_BACKGROUNDS: tuple[str, ...] = (
    "videos/01_dog.mp4",
    "davis/blackswan",
    "videos/02_cups.mp4",
    "davis/car-shadow",
    "videos/03_blocks.mp4",
    "davis/kite-surf",
    "videos/04_coffee.mp4",
    "davis/libby",
    "videos/05_default_juggle.mp4",
    "davis/horsejump-high",
    "videos/bedroom.mp4",
    "davis/dog",
)

#: difficulty of the 10 low-resolution dev clips, in order (3 easy, 4 medium, 3 hard)
_LR_DIFFICULTY = (
    "easy",
    "medium",
    "hard",
    "medium",
    "easy",
    "hard",
    "medium",
    "easy",
    "medium",
    "hard",
)


def dev_benchmark_specs(
    seed: int = 0,
    *,
    lr_clips: int = 10,
    lr_frames: int = 100,
    hr_clips: int = 3,
    hr_frames: int = 30,
    data_root: str | Path | None = None,
) -> dict[str, list[ClipSpec]]:
    """The dev benchmark: ``{"512x288": [...], "1920x1080": [...]}``.

    512×288: ``lr_clips`` × ``lr_frames`` (10 × 100), every foreground of
    :data:`DEV_FOREGROUNDS` at least once, backgrounds alternating videos and DAVIS, a mix of
    difficulties. 1920×1080: ``hr_clips`` × ``hr_frames`` (3 × 30, to keep disk and time
    sane: ~3.5 MB per composite PNG), backgrounds from the 720p/540p videos only (upscaled;
    480p DAVIS would be too soft). With ``data_root`` the background start frames are drawn
    within each background's length; without it they are 0.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    root = Path(data_root) if data_root is not None else None
    lengths: dict[str, int] = {}

    def start_for(bg: str, n: int) -> int:
        if root is None:
            return 0
        if bg not in lengths:
            lengths[bg] = _background_length(root, bg)
        return (
            int(rng.integers(0, max(1, lengths[bg] - n) + 1))
            if lengths[bg] > n
            else int(rng.integers(0, lengths[bg]))
        )

    fgs = list(DEV_FOREGROUNDS)
    lr: list[ClipSpec] = []
    for i in range(lr_clips):
        fg = fgs[i % len(fgs)]
        bg = DEV_BACKGROUNDS[i % len(DEV_BACKGROUNDS)]
        lr.append(
            ClipSpec(
                f"{i:02d}_{fg}",
                fg,
                bg,
                512,
                288,
                lr_frames,
                _LR_DIFFICULTY[i % len(_LR_DIFFICULTY)],
                seed,
                start_for(bg, lr_frames),
            )
        )
    hr_fgs = ("p3m_p_09ba26b4", "am2k_sample10", "gfm_2")
    hr_bgs = [b for b in DEV_BACKGROUNDS if b.startswith("videos/")]
    hr_diff = ("medium", "hard", "easy")
    hr: list[ClipSpec] = []
    for i in range(hr_clips):
        fg = hr_fgs[i % len(hr_fgs)]
        bg = hr_bgs[(i + 3) % len(hr_bgs)]
        hr.append(
            ClipSpec(
                f"{i:02d}_{fg}",
                fg,
                bg,
                1920,
                1080,
                hr_frames,
                hr_diff[i % len(hr_diff)],
                seed,
                start_for(bg, hr_frames),
            )
        )
    return {"512x288": lr, "1920x1080": hr}


def build_benchmark(
    specs: Sequence[ClipSpec],
    data_root: str | Path,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Render ``specs`` into ``out_dir`` (RVM layout), then write ``SHA256SUMS`` and ``benchmark.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(data_root)
    cutouts: dict[str, Cutout] = {}
    for spec in specs:
        if spec.foreground not in cutouts:
            cutouts[spec.foreground] = load_cutout(root / "matting" / spec.foreground)
        if progress is not None:
            progress(
                f"{out.name}/{spec.name}: {spec.foreground} over {spec.background}, {spec.difficulty}, {spec.num_frames} frames"
            )
        render_clip(spec, root, out, cutouts[spec.foreground])
    write_manifest(out)
    meta = {
        "format": "rvm: <clip>/{com,pha,fgr,bgr}/NNNN.png, <clip>/mask/0000.png = first-frame alpha > 0.5",
        "clips": [asdict(s) for s in specs],
        "difficulties": {k: asdict(v) for k, v in DIFFICULTIES.items()},
        "versions": _versions(),
    }
    (out / "benchmark.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"numpy": np.__version__, "opencv": cv2.__version__}
    for pkg in ("av", "PyMatting"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "absent"
    return out


def build_dev_benchmark(
    data_root: str | Path,
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    resolutions: Sequence[str] = ("512x288", "1920x1080"),
    lr_frames: int = 100,
    hr_frames: int = 30,
    lr_clips: int = 10,
    hr_clips: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Build the dev benchmark (see :func:`dev_benchmark_specs`) into ``out_dir/<resolution>/``.

    ``out_dir`` defaults to ``~/.cache/sam2matting/devbench`` (never inside the repository).
    Returns resolution → folder; each holds ``SHA256SUMS`` for the determinism check.
    """
    root = Path(data_root)
    if not (root / "matting").is_dir():
        raise InputError(f"{root}: no matting/ folder (expected ../shared/data)")
    missing = [n for n in DEV_FOREGROUNDS if not (root / "matting" / n / "alpha.png").is_file()]
    if missing:
        raise InputError(f"{root}/matting lacks dev cutout(s): {', '.join(missing)}")
    out = Path(out_dir) if out_dir is not None else default_cache_dir() / "devbench"
    specs = dev_benchmark_specs(
        seed,
        lr_clips=lr_clips,
        lr_frames=lr_frames,
        hr_clips=hr_clips,
        hr_frames=hr_frames,
        data_root=root,
    )
    unknown = [r for r in resolutions if r not in specs]
    if unknown:
        raise InputError(f"unknown resolution(s) {unknown}; choose from {list(specs)}")
    return {r: build_benchmark(specs[r], root, out / r, progress=progress) for r in resolutions}


def scaled_spec(spec: ClipSpec, **changes: object) -> ClipSpec:
    """A copy of ``spec`` with fields changed (e.g. fewer frames for a quick test)."""
    return replace(spec, **changes)  # type: ignore[arg-type]
