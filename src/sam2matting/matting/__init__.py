"""Matting stages (bridge + head): from tracker masks/features to alpha mattes."""

from .registry import DEFAULT_HEAD, HEADS, build_head, head_names

__all__ = ["DEFAULT_HEAD", "HEADS", "build_head", "head_names"]
