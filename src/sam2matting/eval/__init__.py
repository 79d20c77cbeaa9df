"""Evaluation: the standard matting metrics, benchmark readers, a composite-benchmark builder,
baselines, and the runner behind ``sam2matting eval``.

Submodules (import them directly; importing this package loads nothing):

- :mod:`.metrics`: MAD, MSE, Grad, Conn, dtSSD, flow flicker, J and F (the one implementation);
- :mod:`.datasets`: RVM / MatAnyone, V-HIM60, DAVIS and plain-folder readers;
- :mod:`.synth`: composite clips with exact alpha, the dev benchmark, :data:`~.synth.DEV_FOREGROUNDS`;
- :mod:`.motion_clips`: synthetic clips of fast objects under a panning camera;
- :mod:`.baselines`: Robust Video Matting through onnxruntime (optional);
- :mod:`.bench`: runs methods and trackers, writes JSON and markdown;
- :mod:`.cli`: the ``sam2matting eval`` subcommand.
"""

__all__ = ["baselines", "bench", "cli", "datasets", "metrics", "motion_clips", "synth"]
