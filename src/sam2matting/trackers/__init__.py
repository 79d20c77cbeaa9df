"""Trackers: the weight-free built-in tracker, the ground-truth oracle, and foundation trackers.

Use :func:`build_tracker` with a registered name (``sam2matting info`` lists them).
"""

from .registry import TRACKERS, TrackerSpec, build_tracker, tracker_names

__all__ = ["TRACKERS", "TrackerSpec", "build_tracker", "tracker_names"]
