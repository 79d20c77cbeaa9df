"""SAM3 through transformers: ``Sam3TrackerVideoModel`` for points / boxes / masks and
``Sam3VideoModel`` for text (every instance of a phrase becomes an object).

One tracker, "sam3", serves both. By default it loads the full ``Sam3VideoModel`` (detector +
tracker, ``facebook/sam3``): visual prompts then run on its tracker with the detector's vision
features, and text prompts run the detector on every frame. ``text=False`` loads only the
tracker (``Sam3TrackerVideoModel``; smaller) and text prompts raise :class:`PromptError`.

Pre-processing: 1008² input normalised to [-1, 1] (mean 0.5, std 0.5), low-resolution masks at
288² (``4 × 1008 / 14``). The FPN features for the heads come out keyed by the nominal strides
4 / 8 / 16 of SAM2 even though SAM3's patch size 14 makes the true strides 3.5 / 7 / 14
(288², 144², 72² grids; 32 / 64 / 256 channels).

Text objects get ids as follows: the first instance of a phrase takes the prompt's
``object_id`` (when no other prompt uses it), later instances take fresh ids above every id in
use; ids are stable for the session. SAM3's "hotstart" delays text results by up to
``hotstart_delay`` frames (15) so that spurious tracks can be removed before they are shown;
frames are emitted in order, with that many frames (and their features) in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PromptError
from ..types import (
    Box,
    MaskPrompt,
    ObjectTrack,
    Points,
    Prompt,
    TextPrompt,
    TrackedFrame,
    check_rgb_frame,
)
from .hf_common import (
    HALF_MEAN,
    HALF_STD,
    HFTrackerSession,
    HFVideoTracker,
    Preprocessing,
    TrackerBackend,
    preprocess_frame,
    prune_outputs,
)
from .hf_sam2 import (
    _check_options,
    _image_size,
    _import_transformers,
    _make_tracker,
    _preprocessing_for,
)
from .weights import hub_id_for, load_pretrained

if TYPE_CHECKING:
    import torch
    from transformers import Sam3TrackerVideoConfig, Sam3VideoConfig

    from ..io.readers import FrameSource

__all__ = [
    "Sam3Session",
    "Sam3Tracker",
    "Sam3TrackerBackend",
    "Sam3VideoBackend",
    "build",
    "build_from_state_dict",
    "tiny_sam3_tracker_config",
    "tiny_sam3_video_config",
    "tiny_text_tokenizer",
]

#: tokens per phrase, as the SAM3 processor pads them
_TEXT_LENGTH = 32


def _tiny_vision_config(image_size: int, hidden: int) -> Any:
    from transformers.models.sam3.configuration_sam3 import Sam3VisionConfig, Sam3ViTConfig

    backbone = Sam3ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=image_size,
        patch_size=14,
        window_size=2,
        global_attn_indexes=[1],
    )
    return Sam3VisionConfig(
        backbone_config=backbone, fpn_hidden_size=hidden, scale_factors=[4.0, 2.0, 1.0, 0.5]
    )


def tiny_sam3_tracker_config(image_size: int = 56) -> Sam3TrackerVideoConfig:
    """A ~0.6 M-parameter SAM3 tracker (ViT + neck + SAM2-style memory) for CPU tests.

    ``image_size`` must be a multiple of 14; features are {4: 16 ch, 8: 32 ch, 16: 128 ch} at
    ``4s/14, 2s/14, s/14``.
    """
    from transformers import Sam3TrackerVideoConfig
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import (
        Sam3TrackerVideoMaskDecoderConfig,
        Sam3TrackerVideoPromptEncoderConfig,
    )

    # transformers fixes the memory key/value width at 64 and (like the real models) expects the
    # tracker width to be a larger multiple of it, the object pointers being split into 64-wide tokens
    hidden = 128
    return Sam3TrackerVideoConfig(  # type: ignore[call-arg]  # image_size is a property set in __post_init__
        vision_config=_tiny_vision_config(image_size, hidden),
        prompt_encoder_config=Sam3TrackerVideoPromptEncoderConfig(
            hidden_size=hidden, patch_size=14
        ),
        mask_decoder_config=Sam3TrackerVideoMaskDecoderConfig(
            hidden_size=hidden, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
        ),
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
        image_size=image_size,
    )


def tiny_sam3_video_config(image_size: int = 56, **overrides: Any) -> Sam3VideoConfig:
    """A ~1.3 M-parameter SAM3 (text detector + tracker) for CPU tests; ``overrides`` set
    Sam3VideoConfig fields (e.g. ``score_threshold_detection``, ``hotstart_delay``)."""
    from transformers import Sam3VideoConfig
    from transformers.models.sam3.configuration_sam3 import (
        Sam3Config,
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
    )

    hidden = 128
    text = {
        "vocab_size": 64,
        "hidden_size": 32,
        "intermediate_size": 64,
        "projection_dim": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": _TEXT_LENGTH,
        "hidden_act": "gelu",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
    }
    detector = Sam3Config(
        vision_config=_tiny_vision_config(image_size, hidden),
        text_config=text,
        geometry_encoder_config=Sam3GeometryEncoderConfig(
            hidden_size=hidden,
            num_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        ),
        detr_encoder_config=Sam3DETREncoderConfig(
            hidden_size=hidden, num_layers=1, num_attention_heads=2, intermediate_size=64
        ),
        detr_decoder_config=Sam3DETRDecoderConfig(
            hidden_size=hidden,
            num_layers=1,
            num_queries=5,
            num_attention_heads=2,
            intermediate_size=64,
        ),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=hidden, num_upsampling_stages=2),
    )
    config = Sam3VideoConfig(
        detector_config=detector,
        tracker_config=tiny_sam3_tracker_config(image_size),
        low_res_mask_size=4 * image_size // 14,
        **overrides,
    )
    config.image_size = image_size
    return config


def tiny_text_tokenizer(
    words: tuple[str, ...] = ("person", "dog", "cat", "ball", "cup", "a", "the"),
) -> Any:
    """An in-memory word-level tokenizer (ids 0 pad, 1 bos, 2 eos, 3 unk) for the tiny SAM3 config."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    tok.post_processor = TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 1), ("<eos>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
    )


class Sam3TrackerBackend(TrackerBackend):
    """Sam3TrackerVideoModel: visual prompts only, its own vision encoder."""

    family = "sam3"

    def __init__(self, model: Any, preprocessing: Preprocessing | None = None) -> None:
        from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
            Sam3TrackerVideoInferenceSession,
        )

        self.model = model
        self.session_class = Sam3TrackerVideoInferenceSession
        self.preprocessing = preprocessing or Preprocessing(
            _image_size(model.config), HALF_MEAN, HALF_STD, resize="bilinear-antialias"
        )


class Sam3VideoBackend(TrackerBackend):
    """Sam3VideoModel: its tracker for visual prompts (vision features from the detector's
    encoder + the tracker neck, as SAM3 itself does) and the whole model for text."""

    family = "sam3"

    def __init__(self, video_model: Any, preprocessing: Preprocessing | None = None) -> None:
        from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
            Sam3TrackerVideoInferenceSession,
        )

        self.video_model = video_model
        self.model = video_model.tracker_model
        self.session_class = Sam3TrackerVideoInferenceSession
        size = int(video_model.config.detector_config.vision_config.image_size)
        self.preprocessing = preprocessing or Preprocessing(
            size, HALF_MEAN, HALF_STD, resize="bilinear-antialias"
        )

    @property
    def module(self) -> Any:
        return self.video_model

    def encode(self, pixel_values: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        embeds = self.video_model.detector_model.get_vision_features(pixel_values=pixel_values)
        feats, pos = self.video_model.get_vision_features_for_tracker(vision_embeds=embeds)
        return list(feats), list(pos)

    def new_text_session(self, num_frames: int, device: torch.device, dtype: torch.dtype) -> Any:
        from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession

        cls = _bounded_text_session_class(Sam3VideoInferenceSession)
        return cls(
            num_frames=num_frames,
            inference_device=device,
            inference_state_device=device,
            video_storage_device=device,
            dtype=dtype,
            max_vision_features_cache_size=1,
        )


_TEXT_CLASSES: dict[type, type] = {}


def _bounded_text_session_class(base: type) -> type:
    """A Sam3VideoInferenceSession that knows the clip length and holds only the frame in flight."""
    cls = _TEXT_CLASSES.get(base)
    if cls is None:

        def __init__(self: Any, num_frames: int, **kwargs: Any) -> None:
            base.__init__(self, **kwargs)  # type: ignore[misc]
            self._clip_num_frames = int(num_frames)
            self.processed_frames = {}
            self.obj_with_new_inputs = []

        def num_frames(self: Any) -> int:
            return int(self._clip_num_frames)

        cls = type(
            f"Bounded{base.__name__}",
            (base,),
            {"__init__": __init__, "num_frames": property(num_frames)},
        )
        _TEXT_CLASSES[base] = cls
    return cls


class Sam3Tracker(HFVideoTracker):
    """The "sam3" tracker; ``tokenizer`` turns phrases into ids (loaded with the weights when None)."""

    def __init__(
        self,
        name: str,
        backend: TrackerBackend,
        *,
        tokenizer: Any = None,
        tokenizer_source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, backend, **kwargs)
        self.supports_text = isinstance(backend, Sam3VideoBackend)
        self.prompt_types = (
            (Points, Box, MaskPrompt, TextPrompt)
            if self.supports_text
            else (Points, Box, MaskPrompt)
        )
        self._tokenizer = tokenizer
        self._tokenizer_source = tokenizer_source
        #: parts of an official checkpoint this tracker did not convert ('' when none)
        self.not_converted = ""

    @property
    def tokenizer(self) -> Any:
        """The phrase tokenizer (SAM3's CLIP tokenizer from the weights folder / hub cache)."""
        if self._tokenizer is None:
            from ..errors import WeightsError

            if not self._tokenizer_source:
                raise WeightsError(
                    "this SAM3 model has no tokenizer: pass tokenizer= when building it"
                )
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(
                    self._tokenizer_source, local_files_only=True
                )
            except (OSError, ValueError) as exc:
                from .weights import is_offline

                if is_offline():
                    raise WeightsError(
                        f"the SAM3 tokenizer is not cached for {self._tokenizer_source}: run once online"
                    ) from exc
                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_source)
                except (OSError, ValueError) as exc2:
                    raise WeightsError(
                        f"could not load the SAM3 tokenizer from {self._tokenizer_source}"
                    ) from exc2
        return self._tokenizer

    def open(self, source: FrameSource) -> Sam3Session:
        return Sam3Session(self, source)


class Sam3Session(HFTrackerSession):
    """SAM3 session: visual prompts as in :class:`HFTrackerSession`, plus text prompts."""

    def __init__(self, tracker: Sam3Tracker, source: FrameSource) -> None:
        super().__init__(tracker, source)
        self._sam3 = tracker
        self._texts: list[TextPrompt] = []
        self._text_hf: Any = None
        self._text_ids: dict[int, int] = {}  # model object id → our object id
        self._text_prompt_ids: dict[int, int] = {}  # index in self._texts → model prompt id

    @property
    def object_ids(self) -> list[int]:
        ids = set(self._prompts) | set(self._text_ids.values()) | {t.object_id for t in self._texts}
        return sorted(ids)

    def add_prompt(self, prompt: Prompt) -> None:
        if not isinstance(prompt, TextPrompt):
            if prompt.object_id in self._text_ids.values():
                raise PromptError(
                    f"object id {prompt.object_id} is an instance found by a text prompt; "
                    "give the clicked/boxed object another id"
                )
            super().add_prompt(prompt)
            return
        self._check_open()
        if not self._sam3.supports_text:
            raise PromptError(
                "this SAM3 tracker was built with text=False: rebuild it with text=True for text prompts"
            )
        from ..types import validate_prompt

        validate_prompt(prompt, self._width, self._height, self._num_frames)
        if any(t.text == prompt.text for t in self._texts):
            return  # the phrase is already being tracked
        self._sam3.tokenizer  # noqa: B018 - fail now, not mid-propagation, when the tokenizer is missing
        self._texts.append(prompt)

    def propagate(
        self, start_frame: int, *, reverse: bool = False, end_frame: int | None = None
    ) -> Iterator[TrackedFrame]:
        if not self._texts:
            return super().propagate(start_frame, reverse=reverse, end_frame=end_frame)
        self._check_open()
        end_frame = self._check_range(start_frame, reverse, end_frame)
        self._pass_id += 1
        return self._run_text_pass(self._pass_id, start_frame, end_frame, reverse)

    def close(self) -> None:
        super().close()
        self._text_hf = None
        self._texts.clear()

    # ------------------------------------------------------------------ text internals
    def _text_session(self) -> Any:
        import torch

        if self._text_hf is None:
            backend = self._backend
            assert isinstance(backend, Sam3VideoBackend)
            self._text_hf = backend.new_text_session(
                self._num_frames, self._tracker.device, torch.float32
            )
        return self._text_hf

    def _activate_texts(self, frame: int, reverse: bool) -> None:
        """Give the detector the phrases whose prompt frame has been reached."""
        hf = self._text_session()
        tok = self._sam3.tokenizer
        for i, text in enumerate(self._texts):
            if i in self._text_prompt_ids:
                continue
            if (text.frame < frame) if reverse else (text.frame > frame):
                continue
            pid = hf.add_prompt(text.text)
            if pid not in hf.prompt_input_ids:
                enc = tok(
                    text.text,
                    return_tensors="pt",
                    padding="max_length",
                    max_length=_TEXT_LENGTH,
                    truncation=True,
                )
                hf.prompt_input_ids[pid] = enc["input_ids"].to(self._tracker.device)
                hf.prompt_attention_masks[pid] = enc["attention_mask"].to(self._tracker.device)
            self._text_prompt_ids[i] = pid

    def _our_id(self, model_id: int) -> int:
        """Stable id for a text-detected object (see the module docstring)."""
        if model_id in self._text_ids:
            return self._text_ids[model_id]
        hf = self._text_session()
        pid = hf.obj_id_to_prompt_id.get(model_id)
        used = set(self._prompts) | set(self._text_ids.values())
        base = None
        for i, p in self._text_prompt_ids.items():
            if p == pid:
                base = self._texts[i].object_id
        if base is not None and base not in used:
            our = base
        else:
            taken = used | {t.object_id for t in self._texts}
            our = max(taken, default=0) + 1
        self._text_ids[model_id] = our
        return our

    def _run_text_pass(
        self, pass_id: int, start: int, end: int, reverse: bool
    ) -> Iterator[TrackedFrame]:
        import torch

        backend = self._backend
        assert isinstance(backend, Sam3VideoBackend)
        video_model = backend.video_model
        delay = max(int(video_model.hotstart_delay), 0)
        with torch.inference_mode():
            if self._prompts:
                self._apply_prompts()
                self._clear_recent()
            hf = self._text_session()
            for store in hf.output_dict_per_obj.values():
                store["non_cond_frame_outputs"].clear()
            tracked: set[int] = set()
            buffer: list[tuple[TrackedFrame, dict[int, ObjectTrack]]] = []
            frames = (
                self._source.iter_frames_reverse(start, end)
                if reverse
                else self._source.iter_frames(start, end + 1)
            )
            for index, frame in frames:
                if pass_id != self._pass_id:
                    return
                image = check_rgb_frame(frame)
                self._activate_texts(index, reverse)
                text_objects, encoded, features = self._text_step(index, image, reverse)
                objects: dict[int, ObjectTrack] = {}
                if self._prompts:
                    objects = self._step(
                        index, image, reverse, tracked, encoded=encoded, features=features
                    )
                    self._prune(index, reverse)
                buffer.append(
                    (TrackedFrame(index=index, image=image, objects=objects), text_objects)
                )
                # SAM3's hotstart: hold results back until spurious tracks could have been removed
                while len(buffer) > delay:
                    yield self._emit(buffer.pop(0))
            while buffer:
                yield self._emit(buffer.pop(0))

    def _emit(self, item: tuple[TrackedFrame, dict[int, ObjectTrack]]) -> TrackedFrame:
        frame, text_objects = item
        hidden = self._text_session().hotstart_removed_obj_ids
        for model_id, track in text_objects.items():
            if model_id in hidden:
                continue
            frame.objects.setdefault(self._our_id(model_id), track)
        frame.objects = dict(sorted(frame.objects.items()))
        return frame

    def _text_step(
        self, index: int, image: np.ndarray, reverse: bool
    ) -> tuple[
        dict[int, ObjectTrack],
        tuple[list[torch.Tensor], list[torch.Tensor]],
        dict[int, torch.Tensor] | None,
    ]:
        """Run SAM3's detect-and-track step on one frame; returns the text objects keyed by the
        model's ids, the frame's tracker features and the head features (both shared with the
        visual prompts)."""
        backend = self._backend
        assert isinstance(backend, Sam3VideoBackend)
        video_model = backend.video_model
        hf = self._text_session()
        hf.processed_frames = {
            index: preprocess_frame(image, backend.preprocessing, self._tracker.device)[0]
        }
        with self._tracker.autocast():
            out = video_model(inference_session=hf, frame_idx=index, reverse=reverse)
        hf.processed_frames = {}
        hf.hotstart_removed_obj_ids.update(out.removed_obj_ids or ())
        cached = hf.cache.get_vision_features(index)
        encoded = (list(cached["vision_feats"]), list(cached["vision_pos_embeds"]))
        features = self._features(encoded[0]) if self._tracker.return_features else None
        hidden = set(out.suppressed_obj_ids or ()) | set(out.removed_obj_ids or ())
        scores = out.obj_id_to_tracker_score or {}
        result: dict[int, ObjectTrack] = {}
        for model_id, mask in (out.obj_id_to_mask or {}).items():
            if model_id in hidden:
                continue
            logits = (
                mask.float()
                .reshape(-1, *mask.shape[-2:])[0]
                .cpu()
                .numpy()
                .astype(np.float32, copy=False)
            )
            score = float(scores.get(model_id, (out.obj_id_to_score or {}).get(model_id, 1.0)))
            result[int(model_id)] = ObjectTrack(
                logits=logits, features=features, score=min(max(score, 0.0), 1.0)
            )
        self._prune_text(index, reverse)
        return result, encoded, features

    def _prune_text(self, index: int, reverse: bool) -> None:
        """Bound the SAM3 session: recent outputs, periodic re-conditioning frames (SAM3 adds one
        every 16 frames; only the closest ``max_cond_frame_num`` are ever attended to), and the
        per-frame metadata that transformers keeps for the whole clip."""
        hf = self._text_session()
        tracker = self._backend.model
        prune_outputs(
            hf,
            index,
            reverse,
            int(tracker.num_maskmem),
            int(tracker.config.max_object_pointers_in_encoder),
        )
        keep = int(tracker.config.max_cond_frame_num)
        if keep > 0:
            for store in hf.output_dict_per_obj.values():
                cond = store["cond_frame_outputs"]
                behind = sorted(
                    (f for f in cond if (f >= index if reverse else f <= index)),
                    reverse=not reverse,
                )
                for f in behind[keep:]:
                    del cond[f]
        video_model = self._backend.video_model  # type: ignore[attr-defined]
        for frame in list(hf.obj_id_to_tracker_score_frame_wise):
            if frame != index:
                del hf.obj_id_to_tracker_score_frame_wise[frame]
        for frame in list(hf.suppressed_obj_ids):
            if frame != index:
                del hf.suppressed_obj_ids[frame]
        unmatch = max(int(video_model.hotstart_unmatch_thresh), 1)
        for obj_id, frames in hf.unmatched_frame_inds.items():
            if len(frames) > unmatch:
                hf.unmatched_frame_inds[obj_id] = frames[-unmatch:]
        dup = max(int(video_model.hotstart_dup_thresh), 1)
        for pair, frames in hf.overlap_pair_to_frame_inds.items():
            if len(frames) > dup:
                hf.overlap_pair_to_frame_inds[pair] = frames[-dup:]

    def memory_stats(self) -> dict[str, int]:
        stats = super().memory_stats()
        if self._text_hf is not None:
            hf = self._text_hf
            stats["text_cond_outputs"] = sum(
                len(d["cond_frame_outputs"]) for d in hf.output_dict_per_obj.values()
            )
            stats["text_non_cond_outputs"] = sum(
                len(d["non_cond_frame_outputs"]) for d in hf.output_dict_per_obj.values()
            )
            stats["text_objects"] = len(hf.obj_ids)
        return stats


def build(**options: Any) -> Sam3Tracker:
    """Build the "sam3" tracker.

    Options as :func:`~sam2matting.trackers.hf_sam2.build`, plus ``text`` (default True: load
    the detector for text prompts) and ``tokenizer`` (defaults to the one stored with the weights).
    ``config=`` may be a Sam3VideoConfig (text-capable) or a Sam3TrackerVideoConfig.
    """
    name = "sam3"
    text = bool(options.pop("text", True))
    tokenizer = options.pop("tokenizer", None)
    _check_options(name, options)
    transformers = _import_transformers()
    config = options.get("config")
    backend: TrackerBackend
    source: str | None = None
    if config is not None:
        import torch

        torch.manual_seed(int(options.get("seed", 0)))
        if getattr(config, "model_type", "") == "sam3_video":
            backend = Sam3VideoBackend(transformers.Sam3VideoModel(config))
        else:
            backend = Sam3TrackerBackend(transformers.Sam3TrackerVideoModel(config))
    else:
        source = str(options.get("weights") or hub_id_for(name))
        if text:
            model = load_pretrained(transformers.Sam3VideoModel, source, name=name)
            size = int(model.config.detector_config.vision_config.image_size)
            backend = Sam3VideoBackend(model, _preprocessing_for(source, size, "sam3"))
        else:
            model = load_pretrained(transformers.Sam3TrackerVideoModel, source, name=name)
            backend = Sam3TrackerBackend(
                model, _preprocessing_for(source, _image_size(model.config), "sam3")
            )
    tracker = _make_tracker(
        name,
        backend,
        options,
        cls=Sam3Tracker,
        fill_hole_default=0,
        tokenizer=tokenizer,
        tokenizer_source=source,
    )
    assert isinstance(tracker, Sam3Tracker)
    return tracker


def build_from_state_dict(
    name: str, state: dict[str, Any], options: dict[str, Any], *, file_name: str = "checkpoint"
) -> Sam3Tracker:
    """A SAM 3 tracker (``Sam3TrackerVideoModel``) from an official SAM 3 state dict: Meta's
    ``sam3.pt`` or FudanCVL's ``SAM2Matting-SAM3.pt`` (matting-head keys set aside for the heads).

    Converted by :mod:`~sam2matting.trackers.convert_sam3`; the architecture is read from the
    weights unless ``options["config"]`` names it. What transformers' tracker has no place for
    (the SAM 3 detector: text encoder, DETR, its own FPN neck, …) is not converted and is named
    in ``tracker.not_converted``; the tracker takes visual prompts only. Frames are pre-processed
    as the official SAM 3 predictors do (PIL bicubic to 1008², /255, mean 0.5, std 0.5).
    Everything is checked before the model is built; problems are one-line
    :class:`~sam2matting.errors.WeightsError`s naming the file.
    """
    from ..errors import WeightsError
    from . import convert, convert_sam3

    opts = dict(options)
    if opts.pop("text", False):
        raise WeightsError(
            f"{file_name}: the SAM 3 detector (text prompts) is not converted from official "
            "checkpoints; use --tracker sam3 with transformers' facebook/sam3 weights for text"
        )
    opts.pop("tokenizer", None)
    try:
        tracker_sd, heads, skipped = convert_sam3.split_sam3_checkpoint(state, file_name)
        config = opts.get("config") or convert_sam3.sam3_config_from_state(tracker_sd)
        converted = convert_sam3.sam3_official_to_hf(tracker_sd, config)
    except WeightsError as exc:
        msg = str(exc)
        raise WeightsError(msg if msg.startswith(file_name) else f"{file_name}: {msg}") from exc
    transformers = _import_transformers()
    import torch

    torch.manual_seed(int(opts.get("seed", 0)))
    model = transformers.Sam3TrackerVideoModel(config)
    convert.load_strict(model, converted, what=f"{file_name}: SAM 3 tracker weights")
    size = _image_size(model.config)
    backend = Sam3TrackerBackend(model, Preprocessing(size, HALF_MEAN, HALF_STD, "pil-bicubic"))
    label = name if name != "path" else f"sam3 ({file_name})"
    tracker = _make_tracker(
        label,
        backend,
        opts,
        cls=Sam3Tracker,
        fill_hole_default=0,
        head_state_dict=heads or None,
    )
    assert isinstance(tracker, Sam3Tracker)
    tracker.not_converted = convert_sam3.describe_not_converted(skipped)
    return tracker
