"""The public surface: names that must not disappear, and an import that does no heavy work."""

from __future__ import annotations

import subprocess
import sys

import sam2matting

PUBLIC = {
    "Box",
    "FrameResult",
    "InputError",
    "MaskPrompt",
    "MattingSession",
    "MissingDependencyError",
    "OutputError",
    "Points",
    "PromptError",
    "Sam2MattingError",
    "TextPrompt",
    "WeightsError",
    "__version__",
    "matte_batch",
    "matte_image",
    "matte_video",
}


def test_public_names_exist() -> None:
    missing = PUBLIC - set(sam2matting.__all__)
    assert not missing, f"public names removed: {missing}"
    for name in PUBLIC:
        assert getattr(sam2matting, name) is not None


def test_import_is_free() -> None:
    code = (
        "import sys, sam2matting, sam2matting.trackers, sam2matting.matting;"
        "heavy = [m for m in ('torch', 'transformers', 'av', 'cv2', 'onnxruntime', 'pymatting', 'dask', 'distributed', 'yaml') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import sam2matting pulled in: {out.stdout.strip()}"


def test_torchvision_absent() -> None:
    import importlib.util

    assert importlib.util.find_spec("torchvision") is None, "torchvision must not be installed"
