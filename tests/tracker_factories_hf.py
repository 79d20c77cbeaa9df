"""Contract-test factories for the transformers foundation trackers at tiny random configs.

Merged into ``tracker_factories.FACTORIES`` by its plugin hook. Random weights: the masks carry no
meaning (``accurate=False``), but every shape / id / propagation / determinism check applies.
SAM2-style memory attends to every conditioning frame, future ones included (``causal=False``).
"""

from __future__ import annotations

from sam2matting.trackers.base import Tracker
from tracker_factories import ContractClip, TrackerFactory

__all__ = ["FACTORIES"]


def _sam2_1(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.hf_sam2 import build, tiny_sam2_config

    return build("sam2.1-hiera-tiny", config=tiny_sam2_config(), device="cpu")


def _edgetam(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.hf_sam2 import build_edgetam, tiny_repvit_edgetam_config

    # the released backbone type (RepViT behind a timm_wrapper config), rebuilt without timm
    return build_edgetam(config=tiny_repvit_edgetam_config(), device="cpu")


def _sam3(clip: ContractClip) -> Tracker:
    from sam2matting.trackers.hf_sam3 import build, tiny_sam3_video_config, tiny_text_tokenizer

    words = tuple(w for text in clip.texts.values() for w in text.split())
    config = tiny_sam3_video_config(
        score_threshold_detection=0.0,
        new_det_thresh=0.0,
        max_num_objects=2,
        hotstart_delay=2,
        hotstart_unmatch_thresh=2,
        hotstart_dup_thresh=2,
    )
    return build(config=config, tokenizer=tiny_text_tokenizer(words or ("object",)), device="cpu")


FACTORIES: dict[str, TrackerFactory] = {
    "sam2.1-tiny-random": TrackerFactory(_sam2_1, accurate=False, causal=False),
    "edgetam-tiny-random": TrackerFactory(_edgetam, accurate=False, causal=False),
    "sam3-tiny-random": TrackerFactory(_sam3, accurate=False, causal=False),
}
