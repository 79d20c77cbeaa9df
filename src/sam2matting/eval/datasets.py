"""Benchmark readers: clips of frames with ground-truth alphas (or masks), read lazily.

Layouts understood (``open_benchmark`` detects them):

- **RVM / MatAnyone** (``"rvm"``): ``<clip>/{com,fgr,pha,bgr}/NNNN.png|jpg`` — ``com`` the
  composite frames, ``pha`` the alpha mattes — and RVM's own nesting
  ``<subset>/{com,fgr,pha,bgr}/<clip>/NNNN.png`` (``videomatte_512x288/videomatte_motion/...``).
  First-frame masks, where provided: ``<clip>/mask/`` (the first image; what
  :mod:`sam2matting.eval.synth` writes), or a separate root given as ``masks_root`` holding
  ``<clip>/<first>.png`` or ``<clip>.png`` (MatAnyone's ``*_first_frame_seg_mask`` folders).
- **V-HIM60** (``"vhim"``, MaGGIe's video human-instance matting set):
  ``<split>/fgr/<video>/<frame>.jpg`` with one alpha per instance in
  ``<split>/pha/<video>/<frame>/<instance>.png`` and optional instance masks in
  ``<split>/<mask_dir>/<video>/<frame>/<instance>.png``; splits ``comp_easy``,
  ``comp_medium``, ``comp_hard``. Instances become object ids 1, 2, … in file-name order.
- **DAVIS** (``"davis"``): ``JPEGImages[/480p]/<seq>/*.jpg`` and ``Annotations[/480p]/<seq>/*.png``;
  ground truth are binary masks (grey 0/255, or palette PNGs with one index per object, 255 = void).
- **A plain folder** of frames plus a folder of alphas with the same file stems
  (:func:`read_folder`).

A :class:`Clip` never holds its frames: :meth:`Clip.iter_frames` decodes one frame at a time.
Alphas come back as float32 k/255 (the 8-bit protocol of the metrics); masks as bool.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError, one_line
from ..io.readers import list_images as _list_images
from ..io.readers import natural_key

if TYPE_CHECKING:
    from ..io.readers import FrameSource

__all__ = [
    "Benchmark",
    "Clip",
    "GroundTruthFrame",
    "davis_image_set",
    "default_data_root",
    "list_images",
    "open_benchmark",
    "read_alpha",
    "read_davis",
    "read_folder",
    "read_rvm",
    "read_vhim",
]


def default_data_root() -> Path:
    """The shared data folder: ``$SAM2MATTING_SHARED_DATA``, else ``../shared/data`` next to the
    checkout this package runs from (or next to the current folder)."""
    import os

    env = os.environ.get("SAM2MATTING_SHARED_DATA")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / "shared" / "data"
        if (candidate / "README.md").is_file():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, naturally sorted ([] if it is not a folder).

    The same listing as the image-folder reader (:func:`sam2matting.io.readers.list_images`),
    so a clip's frames and the frames a session decodes always agree.
    """
    if not Path(folder).is_dir():
        return []
    return _list_images(folder)


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    dirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def read_alpha(path: Path) -> np.ndarray:
    """An alpha matte as float32 H×W in [0, 1] (8-bit: k/255; 16-bit: k/65535; RGB: first channel; RGBA: alpha)."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"cannot read alpha {path}")
    if arr.ndim == 3:
        arr = arr[..., 3] if arr.shape[2] == 4 else arr[..., 0]
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    return arr.astype(np.float32) / scale


def _read_label_png(path: Path) -> np.ndarray:
    """A DAVIS annotation as an integer H×W label map (0 = background, 255 = void)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return np.asarray(im).astype(np.int32)
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise InputError(f"cannot read annotation {path}: {one_line(exc)}") from None
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        # a palette annotation saved as colours: object ids by the DAVIS palette
        labels = _davis_palette_ids(rgb)
        if labels is not None:
            return labels
    grey = rgb[..., 0]
    values = np.unique(grey)
    ids = values[(values != 0) & (values != 255)]
    if ids.size and int(ids.max()) <= MAX_PLAIN_LABEL:
        # a label map written as plain grey values (0 background, 1, 2, … objects, 255 void)
        return grey.astype(np.int32)
    # binary 0/255 annotations (DAVIS-2016): object 1
    return (grey > 127).astype(np.int32)


#: a grey annotation whose values all stay at or under this is a label map (object ids), not a
#: 0/255 mask
MAX_PLAIN_LABEL = 32


@functools.cache
def _davis_palette() -> np.ndarray:
    """The DAVIS / PASCAL VOC colour palette: 256 × 3 uint8, index = object id (computed once;
    do not modify the array)."""
    out = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        out[i] = (r, g, b)
    return out


@functools.cache
def _davis_palette_lookup() -> dict[int, int]:
    """Packed colour (r << 16 | g << 8 | b) → object id, for :func:`_davis_palette_ids`."""
    palette = _davis_palette().astype(np.int64)
    codes = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    return {int(k): i for i, k in enumerate(codes)}


def _davis_palette_ids(rgb: np.ndarray) -> np.ndarray | None:
    """Object ids of an RGB annotation whose colours are all DAVIS palette colours; None when
    one is not."""
    lookup = _davis_palette_lookup()
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    colours, inverse = np.unique(code, return_inverse=True)
    ids = [lookup.get(int(c)) for c in colours]
    if any(i is None for i in ids):
        return None
    return np.asarray(ids, np.int32)[inverse].reshape(code.shape)


@dataclass
class GroundTruthFrame:
    """One frame of a benchmark clip.

    ``image``: H×W×3 uint8 RGB; ``alphas``: object id → float32 H×W in [0, 1] (for mask
    benchmarks the binary mask as 0/1 floats); ``masks``: object id → bool H×W (alpha > 0.5,
    or the annotated mask).
    """

    index: int
    image: np.ndarray
    alphas: dict[int, np.ndarray]
    masks: dict[int, np.ndarray]


@dataclass
class Clip:
    """A clip: frame files plus per-frame ground truth files, read lazily.

    ``ground_truth``: ``"alpha"`` (mattes) or ``"mask"`` (binary segmentation, e.g. DAVIS).
    ``gt_paths[i]``: object id → file of frame i (alpha PNG), or one label PNG shared by all
    objects under key 0 (DAVIS). ``first_masks``: object id → file with the object's mask on
    frame 0, when the benchmark provides one.
    """

    name: str
    image_paths: list[Path]
    gt_paths: list[dict[int, Path]]
    ground_truth: str = "alpha"
    first_masks: dict[int, Path] = field(default_factory=dict)
    object_ids: list[int] = field(default_factory=lambda: [1])
    frames_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.image_paths:
            raise InputError(f"clip {self.name!r} has no frames")
        if len(self.gt_paths) != len(self.image_paths):
            raise InputError(
                f"clip {self.name!r} has {len(self.image_paths)} frames but ground truth for {len(self.gt_paths)}"
            )

    def __len__(self) -> int:
        return len(self.image_paths)

    @property
    def num_frames(self) -> int:
        return len(self.image_paths)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames (reads the first frame's header)."""
        from PIL import Image

        try:
            with Image.open(self.image_paths[0]) as im:
                return im.size
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read frame {self.image_paths[0]}: {one_line(exc)}") from None

    def read_ground_truth(self, index: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """(alphas, masks) of frame ``index`` for every object id of the clip."""
        paths = self.gt_paths[index]
        alphas: dict[int, np.ndarray] = {}
        masks: dict[int, np.ndarray] = {}
        if self.ground_truth == "mask":
            if not paths:  # a frame without annotation (annotated every few frames)
                return alphas, masks
            labels = _read_label_png(paths[0])
            for obj in self.object_ids:
                m = labels == obj
                masks[obj] = m
                alphas[obj] = m.astype(np.float32)
            return alphas, masks
        shape: tuple[int, ...] | None = None
        for obj in self.object_ids:
            p = paths.get(obj)
            if p is None:
                continue
            a = read_alpha(p)
            shape = a.shape
            alphas[obj] = a
            masks[obj] = a > 0.5
        for obj in self.object_ids:  # an instance absent on this frame has zero alpha
            if obj not in alphas and shape is not None:
                alphas[obj] = np.zeros(shape, np.float32)
                masks[obj] = np.zeros(shape, bool)
        return alphas, masks

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[GroundTruthFrame]:
        """Yield frames ``start <= i < stop`` in order, one decoded at a time."""
        with self.source() as src:
            for i, image in src.iter_frames(start, stop):
                alphas, masks = self.read_ground_truth(i)
                yield GroundTruthFrame(i, image, alphas, masks)

    def first_frame_masks(self) -> dict[int, np.ndarray]:
        """Object id → bool H×W mask on frame 0: the provided mask file, else GT alpha > 0.5."""
        _, gt_masks = self.read_ground_truth(0)
        out: dict[int, np.ndarray] = {}
        for obj in self.object_ids:
            p = self.first_masks.get(obj)
            out[obj] = read_alpha(p) > 0.5 if p is not None else gt_masks[obj]
        return out

    def source(self) -> FrameSource:
        """The frames as an open :class:`~sam2matting.io.readers.FrameSource` (close it, or use
        it as a context manager); hand it to :class:`~sam2matting.api.MattingSession`."""
        from ..io.readers import ImageFolderSource

        return ImageFolderSource(self.image_paths)


@dataclass
class Benchmark:
    """A named list of clips from one root folder; ``layout`` names the reader used."""

    name: str
    root: Path
    layout: str
    clips: list[Clip]
    #: clip name → category (from the folder's ``benchmark.json``, e.g. the validation set)
    categories: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    def __len__(self) -> int:
        return len(self.clips)

    def select(self, names: Sequence[str] | None = None, limit: int | None = None) -> Benchmark:
        """A benchmark with only the clips named and/or the first ``limit``. A name that is a
        clip's whole name takes that clip (``dog``, not ``dogs-jump`` too); any other takes
        every clip whose name contains it."""
        clips = self.clips
        if names:
            whole = {c.name for c in clips}

            def wanted(clip: Clip) -> bool:
                return any(clip.name == n if n in whole else n in clip.name for n in names)

            clips = [c for c in clips if wanted(c)]
            if not clips:
                raise InputError(f"no clip of {self.root} matches {list(names)}")
        if limit is not None:
            clips = clips[:limit]
        return Benchmark(self.name, self.root, self.layout, clips, self.categories)


# -- RVM / MatAnyone ----------------------------------------------------------------------------


def _match_by_stem(images: list[Path], alphas: list[Path], where: Path) -> list[Path]:
    by_stem = {p.stem: p for p in alphas}
    missing = [p.name for p in images if p.stem not in by_stem]
    if missing:
        raise InputError(
            f"{where}: no alpha for frame(s) {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
        )
    return [by_stem[p.stem] for p in images]


def _first_mask_file(clip_dir: Path, name: str, masks_root: Path | None) -> Path | None:
    for sub in ("mask", "masks", "seg", "first_frame_mask"):
        files = list_images(clip_dir / sub)
        if files:
            return files[0]
    if masks_root is not None:
        files = list_images(masks_root / name)
        if files:
            return files[0]
        for ext in (".png", ".jpg"):
            if (masks_root / f"{name}{ext}").is_file():
                return masks_root / f"{name}{ext}"
    return None


def _rvm_clip(name: str, clip_dir: Path, com: Path, pha: Path, masks_root: Path | None) -> Clip:
    images = list_images(com)
    if not images:
        raise InputError(f"{com}: no frames")
    alphas = _match_by_stem(images, list_images(pha), pha)
    first = _first_mask_file(clip_dir, name, masks_root)
    return Clip(
        name=name,
        image_paths=images,
        gt_paths=[{1: a} for a in alphas],
        first_masks={1: first} if first is not None else {},
        frames_dir=com,
    )


def read_rvm(
    root: str | Path, masks_root: str | Path | None = None, frames: str = "com"
) -> Benchmark:
    """Read an RVM / MatAnyone layout below ``root`` (see module docstring).

    ``frames``: the sub-folder holding the input frames (``com``; RVM's ``fgr`` is the
    foreground colour, not an input).
    """
    root = Path(root)
    mroot = Path(masks_root) if masks_root is not None else None
    clips: list[Clip] = []

    def visit(d: Path, depth: int) -> None:
        if (d / frames).is_dir() and (d / "pha").is_dir():
            if list_images(d / "pha"):  # clip-major: <clip>/{com,pha}/NNNN.png
                name = d.relative_to(root).as_posix() if d != root else d.name
                clips.append(_rvm_clip(name, d, d / frames, d / "pha", mroot))
            else:  # RVM's nesting: <subset>/{com,pha}/<clip>/NNNN.png
                for sub in _subdirs(d / "pha"):
                    name = (d / sub.name).relative_to(root).as_posix()
                    clips.append(_rvm_clip(name, d / sub.name, d / frames / sub.name, sub, mroot))
            return
        if depth < 3:
            for sub in _subdirs(d):
                visit(sub, depth + 1)

    visit(root, 0)
    if not clips:
        raise InputError(f"{root}: no RVM-layout clips (<clip>/{frames}/ and <clip>/pha/) found")
    return Benchmark(root.name, root, "rvm", clips, _read_categories(root))


def _read_categories(root: Path) -> dict[str, str]:
    """``categories`` (clip → category) of ``root/benchmark.json`` when it has them, else {}."""
    meta = root / "benchmark.json"
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{meta}: not readable JSON ({e})") from None
    cats = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(cats, dict):
        return {}
    return {str(k): str(v) for k, v in cats.items()}


# -- V-HIM60 -------------------------------------------------------------------------------------

VHIM_SPLITS = ("comp_easy", "comp_medium", "comp_hard")


def read_vhim(
    root: str | Path, splits: Sequence[str] | None = None, mask_dir: str | None = None
) -> Benchmark:
    """Read V-HIM60: ``root`` holds split folders (``comp_easy`` …) or is one split folder.

    ``mask_dir``: the folder of per-instance input masks next to ``pha`` (e.g. ``xmem``); only the
    first frame's are used, as first-frame prompts. Without it, prompts come from GT alpha > 0.5.
    """
    root = Path(root)
    if (root / "fgr").is_dir() and (root / "pha").is_dir():
        split_dirs = [root]
    else:
        wanted = list(splits) if splits else [s.name for s in _subdirs(root)]
        split_dirs = [
            root / s for s in wanted if (root / s / "fgr").is_dir() and (root / s / "pha").is_dir()
        ]
    if not split_dirs:
        raise InputError(f"{root}: no V-HIM60 split (<split>/fgr and <split>/pha) found")
    clips: list[Clip] = []
    for sd in split_dirs:
        for vdir in _subdirs(sd / "fgr"):
            images = list_images(vdir)
            if not images:
                continue
            inst_names: list[str] = []
            gt: list[dict[str, Path]] = []
            for img in images:
                frame_dir = sd / "pha" / vdir.name / img.stem
                files = {p.stem: p for p in list_images(frame_dir)}
                if not files:
                    raise InputError(f"{frame_dir}: no instance alphas for frame {img.name}")
                gt.append(files)
                for stem in files:
                    if stem not in inst_names:
                        inst_names.append(stem)
            inst_names.sort(key=natural_key)
            ids = {stem: i + 1 for i, stem in enumerate(inst_names)}
            first: dict[int, Path] = {}
            if mask_dir:
                mdir = sd / mask_dir / vdir.name / images[0].stem
                for p in list_images(mdir):
                    if p.stem in ids:
                        first[ids[p.stem]] = p
            clips.append(
                Clip(
                    name=f"{sd.name}/{vdir.name}",
                    image_paths=images,
                    gt_paths=[{ids[s]: p for s, p in g.items()} for g in gt],
                    first_masks=first,
                    object_ids=sorted(ids.values()),
                    frames_dir=vdir,
                )
            )
    if not clips:
        raise InputError(f"{root}: the V-HIM60 splits hold no clips")
    return Benchmark(root.name, root, "vhim", clips)


# -- DAVIS ---------------------------------------------------------------------------------------


def _davis_roots(root: Path, resolution: str) -> tuple[Path, Path]:
    """(frames, annotations) folders of a DAVIS release: ``JPEGImages/<seq>`` or, in the
    official downloads, one level deeper in a resolution folder (``480p``; the full-resolution
    release's ``Full-Resolution``; ``1080p``). ``resolution`` is preferred; a single resolution
    folder of another name is used as it is; several without ``resolution`` are refused with
    their names."""
    img_root, ann_root = root / "JPEGImages", root / "Annotations"
    if not img_root.is_dir() or not ann_root.is_dir():
        raise InputError(f"{root}: not a DAVIS folder (needs JPEGImages/ and Annotations/)")
    if (img_root / resolution).is_dir():
        return img_root / resolution, ann_root / resolution
    subs = _subdirs(img_root)
    # sequence folders hold frames; resolution folders hold sequence folders
    nested = [d for d in subs if not list_images(d) and _subdirs(d)]
    if not subs or len(nested) < len(subs):
        return img_root, ann_root
    with_masks = [d for d in nested if (ann_root / d.name).is_dir()]
    if len(with_masks) == 1:
        return with_masks[0], ann_root / with_masks[0].name
    names = ", ".join(d.name for d in (with_masks or nested))
    raise InputError(
        f"{root}: JPEGImages/ holds resolution folders ({names}) "
        f"{'without matching Annotations/ folders' if not with_masks else 'and none is ' + resolution}"
        "; keep one resolution's JPEGImages/<res> and Annotations/<res>"
    )


def _davis_annotations(images: list[Path], folder: Path) -> list[Path | None]:
    """Each frame's annotation file by stem, None where the frame has none (annotated every
    few frames, as in YouTube-VOS: those frames are tracked but not scored). The first frame
    must have one: it is the prompt."""
    by_stem = {p.stem: p for p in list_images(folder)}
    out: list[Path | None] = [by_stem.get(p.stem) for p in images]
    if out[0] is None:
        raise InputError(f"{folder}: no annotation for the first frame {images[0].name}")
    return out


def read_davis(
    root: str | Path, sequences: Sequence[str] | None = None, resolution: str = "480p"
) -> Benchmark:
    """Read DAVIS: ``JPEGImages[/<resolution>]/<seq>`` with ``Annotations[/<resolution>]/<seq>``.

    Every annotated object becomes an object id (DAVIS-2016: one object, id 1); one that
    first appears after frame 0 is prompted on the first frame it is annotated on. Frames may
    be annotated every few frames (the first one must be): the others are tracked, not scored.
    """
    root = Path(root)
    img_root, ann_root = _davis_roots(root, resolution)
    seq_dirs = _subdirs(img_root)
    if sequences:
        known = {d.name for d in seq_dirs}
        unknown = [s for s in sequences if s not in known]
        if unknown:
            raise InputError(f"{root}: no DAVIS sequence(s) {', '.join(unknown)}")
        seq_dirs = [img_root / s for s in sequences]
    clips: list[Clip] = []
    for sdir in seq_dirs:
        images = list_images(sdir)
        if not images:
            raise InputError(f"{sdir}: no frames (JPEGImages/<sequence>/*.jpg)")
        anns = _davis_annotations(images, ann_root / sdir.name)
        found: set[int] = set()
        for a in anns:
            if a is not None:
                found.update(int(v) for v in np.unique(_read_label_png(a)) if v not in (0, 255))
        ids = sorted(found)
        clips.append(
            Clip(
                name=sdir.name,
                image_paths=images,
                gt_paths=[{} if a is None else {0: a} for a in anns],
                ground_truth="mask",
                object_ids=ids or [1],
                frames_dir=sdir,
            )
        )
    return Benchmark(root.name, root, "davis", clips)


# -- plain folder --------------------------------------------------------------------------------


def read_folder(
    frames: str | Path,
    alphas: str | Path,
    name: str | None = None,
    first_mask: str | Path | None = None,
) -> Benchmark:
    """One clip from a folder of frames and a folder of alphas with the same file stems."""
    fdir, adir = Path(frames), Path(alphas)
    images = list_images(fdir)
    if not images:
        raise InputError(f"{fdir}: no frames")
    gt = _match_by_stem(images, list_images(adir), adir)
    clip = Clip(
        name=name or fdir.name,
        image_paths=images,
        gt_paths=[{1: a} for a in gt],
        first_masks={1: Path(first_mask)} if first_mask is not None else {},
        frames_dir=fdir,
    )
    return Benchmark(clip.name, fdir, "folder", [clip])


# -- detection -----------------------------------------------------------------------------------

LAYOUTS = ("auto", "rvm", "vhim", "davis")


def davis_image_set(root: str | Path, name: str) -> list[str]:
    """The sequences a DAVIS ``ImageSets`` list names, in its order.

    ``name``: a list under ``root/ImageSets`` by its path without ``.txt`` (``2017/val``), by
    its bare name when only one list has it (``val``), or a ``.txt`` file. Lines are sequence
    names (DAVIS 2017) or frame paths (DAVIS 2016: ``/JPEGImages/480p/bear/00000.jpg …``, the
    sequence is the frame's folder).
    """
    root = Path(root)
    sets = root / "ImageSets"
    path = Path(name)
    if path.suffix == ".txt" and path.is_file():
        listed = path
    elif (sets / f"{name}.txt").is_file():
        listed = sets / f"{name}.txt"
    else:
        found = sorted(sets.rglob(f"{path.name}.txt")) if sets.is_dir() else []
        if not found:
            have = sorted(str(p.relative_to(sets).with_suffix("")) for p in sets.rglob("*.txt"))
            raise InputError(
                f"{root}: no image set {name!r}"
                + (f"; ImageSets has: {', '.join(have)}" if have else " (no ImageSets folder)")
            )
        if len(found) > 1:
            options = [str(p.relative_to(sets).with_suffix("")) for p in found]
            raise InputError(
                f"{root}: several image sets are called {name!r} ({', '.join(options)}); "
                f"name one, e.g. --set {options[-1]}"
            )
        listed = found[0]
    names: list[str] = []
    for line in listed.read_text().splitlines():
        token = line.strip().split()[0] if line.strip() else ""
        if not token:
            continue
        seq = Path(token).parent.name if "/" in token else token
        if seq and seq not in names:
            names.append(seq)
    if not names:
        raise InputError(f"{listed}: lists no sequence")
    return names


def open_benchmark(
    path: str | Path,
    layout: str = "auto",
    *,
    masks_root: str | Path | None = None,
    mask_dir: str | None = None,
    image_set: str | None = None,
) -> Benchmark:
    """Open the benchmark at ``path``, detecting its layout unless ``layout`` names one.

    Detection: ``JPEGImages/`` + ``Annotations/`` → DAVIS; ``fgr/<video>/`` with per-frame
    instance folders under ``pha/`` → V-HIM60; ``com/`` + ``pha/`` somewhere below → RVM.
    ``image_set`` (DAVIS only): just the sequences that list names (:func:`davis_image_set`),
    and only theirs are read.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"benchmark folder not found: {root}")
    if layout not in LAYOUTS:
        raise InputError(
            f"unknown benchmark layout {layout!r}; choose one of: {', '.join(LAYOUTS)}"
        )
    if layout == "auto":
        layout = _detect_layout(root)
    if image_set is not None and layout != "davis":
        raise InputError(f"an image set (--set) is for DAVIS folders; {root} is {layout}")
    if layout == "davis":
        return read_davis(root, davis_image_set(root, image_set) if image_set else None)
    if layout == "vhim":
        return read_vhim(root, mask_dir=mask_dir)
    return read_rvm(root, masks_root=masks_root)


def _detect_layout(root: Path) -> str:
    if (root / "JPEGImages").is_dir() and (root / "Annotations").is_dir():
        return "davis"
    candidates = [root, *_subdirs(root)]
    for d in candidates:
        if (d / "fgr").is_dir() and (d / "pha").is_dir() and not (d / "com").is_dir():
            videos = _subdirs(d / "pha")
            if videos and _subdirs(videos[0]):
                return "vhim"
    return "rvm"
