"""Stand-ins for packages Meta's sam3 package imports but its tracker never uses on the CPU
(torchvision, triton, torchcodec, …): importing this module makes any import of them succeed,
and any attribute of them is a placeholder class. Only for the reference harness's own venv."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

STUBBED = (
    "torchvision",
    "triton",
    "torchcodec",
    "pycocotools",
    "ftfy",
    "loguru",
    "huggingface_hub",
    "psutil",
    "regex",
    "pandas",
    "matplotlib",
    "cv2",
    "decord",
    "submitit",
    "scipy",
    "skimage",
)


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return name  # enum-like members: a hashable placeholder

    def __call__(cls, *args, **kwargs):
        return super().__call__()


class _Anything(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = _Meta(name, (), {})
        setattr(self, name, cls)
        return cls


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = _Anything(spec.name)
        mod.__path__ = []
        return mod

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _Finder())
