"""The built-in tracker: weight-free video object tracking with OpenCV and NumPy.

It is the tool's default tracker, so it has to run anywhere with no downloaded weights. It
works at a *working resolution* (default: longest side 512 px; smaller frames are used as
they are) and returns mask logits at that resolution (``ObjectTrack.logits``, float32, > 0 =
object); :meth:`ObjectTrack.probability` / :meth:`ObjectTrack.mask` upsample them.

Initial masks (the *anchor* of an object on a prompted frame):

- :class:`~sam2matting.types.MaskPrompt`: the mask, area-resampled to the working resolution;
- :class:`~sam2matting.types.Box` or :class:`~sam2matting.types.Points` alone: several
  GrabCut hypotheses, the one that looks most like a whole object kept
  (:mod:`~sam2matting.trackers.builtin_init`: :func:`~.builtin_init.box_fit_score`,
  :func:`~.builtin_init.click_fit_score`; negative clicks are background evidence). In a
  clip from a still camera, with ``plate_frames`` on, what moved in the box is what differs from the *clean plate*
  (the median of frames spread over the clip, :mod:`~sam2matting.trackers.builtin_plate`);
  when the colours' best hypothesis disagrees with it (IoU under
  :func:`~.builtin_plate.plate_agreement`) and it fills the box, it is the first mask;
- :class:`~sam2matting.types.Points` with a mask or box on the same frame, or on a frame the
  object is being tracked through, *correct* that mask: only a neighbourhood of the clicks may
  change (see :func:`correction_radius`), where GrabCut re-decides with the clicks as hard
  constraints.

Propagation from frame to frame (per object, after one shared pair of optical flows per frame):

1. **Motion**: dense DIS optical flow (:func:`cv2.DISOpticalFlow_create`, the "fast" preset)
   both ways between the previous and the current frame. Two hypotheses move the previous
   mask: the flow itself (backward warp), and the object's robust affine motion fitted on the
   forward flow of its interior. The flow follows deformations; the affine fit keeps thin parts
   with the body where the flow is smoothed towards the background, and replaces the flow
   wherever the forward–backward round trip fails (uncovered background would otherwise
   inherit the object's old position). Before the flow runs, the camera's translation and
   each object's displacement are found by a coarse search and the flow starts from them
   (:mod:`~sam2matting.trackers.builtin_motion`): DIS alone misses displacements beyond
   ~20–30 px a frame. If the object's colours say the prediction is clearly
   misplaced (fast or textureless objects the flow misses), a template match of the predicted
   mask on the colour evidence moves it (:func:`colour_shift_gain`).
2. **Re-fit**: the moved masks are only a prior — flow errors accumulate and the mask would
   drift. The new log-odds are ``prior + colour + motion``: the prior is the two hypotheses'
   masks averaged and blurred, a ramp of about (signed distance to the boundary) / sigma
   (:func:`boundary_sigma`); ``colour`` is the log-likelihood ratio of per-object 3-D colour
   histograms learnt on the anchor frame (mask interior vs a ring of background around it),
   mixed with a recent model learnt on confident frames only as far as the anchor's colours
   stop explaining the object (light, exposure, a new side turning into view:
   ``appearance_memory``, :mod:`~sam2matting.trackers.builtin_appearance`); ``motion`` compares how well the object's and
   the background's affine motions explain each pixel. Colour and motion are capped, so they
   move the boundary by a few sigma where they disagree with the prior, but cannot invent or
   delete regions far from it.
3. **Edge-aware cleanup**: a guided filter (He et al., grey-level guide, box filters only)
   snaps the soft mask to image edges; clearly object-coloured pixels next to the mask are
   taken back into it (:func:`_regrow`: parts the warp lost, parts emerging from behind an
   occluder); a GrabCut on this frame re-decides a thin band around the mask (its colour
   mixtures are learnt on this frame, so parts the anchor's colours miss — a shadowed side, a
   part coming into view — come back; it removes pixels only where the anchor's colours
   agree, see :mod:`~sam2matting.trackers.builtin_refine`); then only the connected
   components that overlap the predicted mask are kept (new blobs far from the object are
   colour false positives).
2a. **Clean plate** (``plate_frames``, off by default): in a clip from a still or shaking camera, pixels
   that look as the empty scene looked where the object was not (the pavement between a
   dog's legs, its cast shadow) get up to 2 log-odds against the object
   (:mod:`~sam2matting.trackers.builtin_plate`); silent on frames a similarity does not
   align with the plate, for objects the plate holds, and for clips from a moving camera.
3a. **Shape memory** (``part_memory``): a soft mask of the object's recent confident shape
   moves with it; where its thick interior holds a part this frame's warp dropped (the
   strip a thin occluder uncovered, the part beyond it), the prior is lifted to neutral and
   the frame's own evidence decides (:mod:`~sam2matting.trackers.builtin_memory`).
2b. **Motion layers** (``motion_layers``): something around the object that moves neither
   with it nor with the camera (a pole in front of it, with a parallax of its own) gets an
   affine motion of its own, and where it moves to it competes with the camera's motion in
   the motion evidence, so a pole of the object's colours is explained as the pole
   (:mod:`~sam2matting.trackers.builtin_layers`).
3b. **Thin structures** (``thin_structures``): straight thin parts of an anchor mask (kite
   lines, ropes, antennae) are taken out of the body the steps above follow and tracked as
   line segments on the frame's native resolution (:mod:`~sam2matting.trackers.builtin_thin`:
   a matched line profile searched around the body's motion, the far end re-found along the
   line, a line gone for three frames dropped); the seen ones are drawn into the output.
3c. **Parts beyond an occluder** (``part_recovery``): while the mask is clearly smaller than
   the object, object-coloured pieces that come out beyond an occluder the object passes
   behind (ahead of it along its motion relative to the scene, beside it across that motion)
   are added back (:mod:`~sam2matting.trackers.builtin_parts`).
3d. **Attached background** (``attached_background``): the band of background just outside
   the anchor mask is remembered with its colours and moves with the object; where the frame
   shows the same colours there (a cast shadow, a reflection, the road under a car), the
   pixel gets evidence against the object (:mod:`~sam2matting.trackers.builtin_outside`).
3e. **The background already seen, unchanged** (``unchanged_background``): while the object
   moves against the background, a piece the step added outside the predicted object (the
   re-fit, the regrowth, the cut) that the previous frame showed there, outside the previous
   mask, and that the background's motion carries here unchanged (and the object's motion
   does not explain better) is dropped: a textureless post or patch of soil of the object's
   colours, which the motion evidence cannot decide
   (:mod:`~sam2matting.trackers.builtin_unchanged`).

4. **Confidence and re-detection**: each frame gets a confidence per object
   (:func:`confidence`: its size against a reference size followed on confident frames, and
   the mean colour log-odds inside it against the anchor's), returned as
   ``ObjectTrack.score``; below 0.5 the object counts as lost (:mod:`sam2matting.lost`). When
   the mask collapses (:func:`lost_area_fraction`) or sits on colours that are not the
   object's, the last confident shape is searched for over the whole frame on the colour
   evidence (:func:`_find_template`: the placement's colours minus those around it, and a
   cost for distance from where the object was lost beyond a reach that widens with the
   frames since, :func:`redetect_reach`) and kept if it holds the object's colours better: an
   object the flow lost (fast motion, occlusion, leaving and re-entering) is found again.
   Not when only the colours went off, gradually, and the mask kept its size and moves as an
   object, and the placement lies away from it or sits still (:func:`_holds_on_motion`):
   light changed the object's colours, and the colours' best placement is something else.
   For the same reason the colours stop correcting the flow's prediction
   (:func:`_colour_locates`) once the mask sat off them, and where the light changed the
   object's colours they no longer take off a part the shape memory holds
   (:func:`~sam2matting.trackers.builtin_memory.floor_colour`).
   While the tracker follows an unconfirmed re-detection that was inconsistent on the
   previous frame, the search is repeated and the more consistent placement kept, so a
   look-alike is left when the object comes back; such a candidate away from where the object
   was last seen is reported as an empty mask (``hide_unconfirmed``, :func:`hidden_jump`).
   Colour alone also finds look-alikes, so a re-detected object is reported as lost until
   it has been consistent with the object before the loss for :func:`redetect_probation`
   frames in a row (:func:`redetect_consistency`: size against the size when lost and on the
   first frame, elongation, colour histogram, distance from where it was last seen), and it
   updates nothing the next re-detection relies on (reference size, shape, position) until
   then; a look-alike stays reported as lost for as long as it is tracked. A mask that
   balloons is not trusted either: the reference size grows at most ×1.04 a frame
   (:func:`max_growth_rate`; an object approaching the camera doubles its area in ~20
   frames), and growth beyond ×1.5 of the larger of it and the first-frame size costs
   confidence; a mask that covers much of another, lost object's last trusted mask has most
   likely swallowed it (:func:`swallow_cue`). Both change the reported confidence only.

Several objects are tracked together with one flow per frame; a pixel belongs to at most one
object (the largest logit wins; an object anchored by a prompt on this frame wins over tracked
ones). Memory is bounded: a session keeps the previous working-resolution grey frame, each
object's mask, colour model and shape memory (a soft mask and a grey frame), one anchor mask
per prompt, never the clip. Everything is deterministic.

Session semantics (see :mod:`sam2matting.trackers.base`):

- ``propagate(s)`` going forward: an object with a prompt on or before ``s`` is present from
  ``s``; one whose first prompt is later appears on that frame. Going backward the same holds
  mirrored (prompts on or after ``s`` count). When the previous call ended next to ``s`` going
  the same way, the run continues from its state; otherwise the tracker silently re-runs from
  the nearest frame where every object is re-anchored independently of history, so the frames
  yielded equal those of one run from the first prompt.
- Prompted frames met on the way re-anchor the object there (corrections take effect from
  their frame on). Adding a prompt forgets the continuation state.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..errors import InputError, PromptError, Sam2MattingError
from ..types import (
    Box,
    MaskPrompt,
    ObjectTrack,
    Points,
    Prompt,
    TextPrompt,
    TrackedFrame,
    validate_prompt,
)
from . import builtin_appearance as _appearance
from .base import propagation_end
from .builtin_compete import (
    Territory,
    camera_shift,
    contested,
    follow_territory,
    territory_frames,
    territory_tolerance,
    veto,
)
from .builtin_init import (
    InitFrame,
    min_moving_share,
    moving_at_clicks,
    moving_in_box,
    opened,
    segment_box,
    segment_clicks,
    write_clicks,
)
from .builtin_init import components_touching as _components_touching
from .builtin_init import disc_mask as _disc_mask
from .builtin_init import drop_specks as _drop_specks
from .builtin_init import overlap as _overlap
from .builtin_layers import LayerTrace, MotionLayer, continued, find_layers, layer_region
from .builtin_masks import mask_bounds, mask_centre, mask_pixels, shifted
from .builtin_memory import floor_colour, follow, lift_prior, memory_support, remember
from .builtin_motion import (
    ObjectMotion,
    flow_window,
    initial_flows,
    search_motion,
    windowed_flow,
)
from .builtin_motion import camera_shift as correlated_camera_shift
from .builtin_outside import AttachedBackground
from .builtin_parts import recover_parts, recovery_history, recovery_speed, relative_motion
from .builtin_plate import (
    Plate,
    align,
    background_change_share,
    build_plate,
    camera_still,
    change_evidence,
    max_background_change,
    min_object_change,
    object_change_share,
    plate_agreement,
    plate_llr,
    plate_samples,
    region_in_box,
)
from .builtin_refine import band_pixels, refine_band
from .builtin_thin import (
    ThinLine,
    extract_lines,
    native_planes,
    render_lines,
    strip_lines,
    track_lines,
)
from .builtin_unchanged import drop_unchanged
from .builtin_window import StepWindow, step_window

if TYPE_CHECKING:
    from ..io.readers import FrameSource

__all__ = [
    "FLOW_PRESETS",
    "BuiltinSession",
    "BuiltinTracker",
    "BuiltinTrackerConfig",
    "build",
    "working_size",
]

#: optical-flow presets by name (speed ↔ accuracy): (DIS preset, finest pyramid level or
#: None for the preset's own). "fine" is "fast" computed one pyramid level finer (half the
#: flow-grid spacing): about 4× the flow cost, better on thin and small objects.
FLOW_PRESETS: dict[str, tuple[int, int | None]] = {
    "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, None),
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, None),
    "fine": (cv2.DISOPTICAL_FLOW_PRESET_FAST, 1),
    "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None),
}

#: OpenCV's DIS flow refuses frames with both sides below this (dis_flow.cpp: "width or
#: height >= 12")
MIN_FLOW_SIDE = 12
#: logits are clipped to ±this (sigmoid(12) ≈ 1 − 6e-6): the value of a certain pixel
LOGIT_LIMIT = 12.0
#: a pixel an object lost to another object (overlap resolution) gets at most this logit
LOST_PIXEL_LOGIT = -1.0


@dataclass(frozen=True)
class BuiltinTrackerConfig:
    """Settings of the built-in tracker (all optional; ``build(**options)`` takes the same names).

    ``max_side``: working resolution, longest side in pixels (larger frames are downscaled).
    ``flow_preset``: DIS optical-flow preset, one of :data:`FLOW_PRESETS`. Default "fine" (was
    "fast"): 0.627 vs 0.603 J&F on the DAVIS tuning sequences, at about half the frame rate
    (~38 vs ~72 frames per CPU-second at 512×288).
    ``refit_strength``: weight of the colour log-likelihood ratio against the warped prior
    (0 = pure flow warping; larger values let colour move the boundary further).
    ``boundary_uncertainty``: expected error of the warped boundary as a fraction of the
    object's size (square root of its area), see :func:`boundary_sigma`.
    ``model_update_rate``: how fast the colour histograms follow the object (0 = frozen at
    the anchor, 1 = re-learnt every frame). Default 0: on DAVIS every rate tried (0.02–0.3)
    scored lower, because pixels wrongly taken in get learnt as object and the error feeds
    itself. It re-learns the model that ``appearance_alignment`` / ``appearance_memory``
    follow, so it needs both off.
    ``histogram_bins``: bins per colour channel of the 3-D colour histograms (8, 16, 32, 64;
    32 scored best on DAVIS: 0.70 J vs 0.59 for 16).
    ``grabcut_iterations``: GrabCut iterations for box / points initialisation.
    ``box_texture_core``: from a box, also try GrabCut on lightness / texture / blue–yellow
    instead of RGB, with the central ``box_texture_core`` of the inscribed ellipse (fraction
    of its axes) sure object, for objects coloured like their surroundings (0 = off; see
    :func:`~sam2matting.trackers.builtin_init.segment_box`). Default 0.2, chosen by mean
    box first-frame J on the tuning images (training-split cutouts, their small-object
    composites, DAVIS dog / kite-surf / libby first frames), the default kept when no set
    gets worse: cutouts 0.833 / 0.833, small composites 0.874 → 0.888, DAVIS 0.710 / 0.710;
    a box prompt takes ~1.7× as long (four more GrabCuts; ~0.5 s at 512×288).
    ``box_whole_margin``: from a box, keep a hypothesis that contains the best-scoring one
    and fits the box better when it scores at most this much lower
    (:func:`~sam2matting.trackers.builtin_init.pick_whole`; 0 = off) — the whole boy rather
    than his red sleeve in ``bedroom.mp4``. Default 0 (off): on the tuning images every margin
    tried (0.3, 0.5) lost more than it gained (kite-surf first-frame J 0.62 → 0.10: the water
    around the surfer is a "fuller" mask; a small-object composite 0.84 → 0.42).
    ``init_motion_frames``: in a video, a box's first mask also uses what moves against the
    background between the prompted frame and the next one (up to this many frames on, the
    nearest where motion says something; 0 = off):
    :func:`~sam2matting.trackers.builtin_init.moving_in_box`, two more GrabCut hypotheses
    seeded with it and every hypothesis's score plus ``box_motion_weight`` × its IoU with it.
    Default 3 and 1.0, chosen on *box windows* (24-frame runs from the true mask's box every
    8 frames of the tuning sequences: 20 first masks;
    ``benchmarks/bench_builtin_windows.py``): first-frame J dog / kite-surf / libby /
    car-shadow 0.863 / 0.240 / 0.575 / 0.680 (mean 0.590) → 0.897 / 0.306 / 0.670 / 0.746
    (0.655), window J&F 0.595 → 0.619. A fixed 2 or 3 frames on: 0.626 / 0.593 (a fast dog
    leaves the flow's reach); weight 0.5 / 2: 0.625 / 0.637. Still images are unchanged.
    ``click_motion_weight``: the same for clicks (``init_motion_frames`` shared): the moving
    region under the clicks (:func:`~sam2matting.trackers.builtin_init.moving_at_clicks`)
    seeds two more hypotheses (pixels far from it sure background: GrabCut would take the
    whole frame of a camouflaged object) and adds this × its IoU to every score (0 = off).
    Default 0.5, chosen on *click windows* (one click at the true mask's most interior point,
    every 8 frames): first J 0.798 / 0.610 / 0.520 / 0.381 (0.577) → 0.883 / 0.610 / 0.520 /
    0.652 (0.666), window J&F 0.581 → 0.604; at 1: 0.599 / 0.525 (kite-surf's first J 0.610 →
    0.263: spray moves with the surfer).
    ``edge_refine``: apply the guided filter that aligns the mask with image edges.
    ``motion_strength``: weight of the object-vs-background motion evidence (0 = off; the
    evidence is capped at ±4 log-odds per unit, see :func:`_motion_llr`). Default 2 (was 1;
    issue 14's fifth session): at 1 the warped prior and the colours outvoted it, so
    background that does not move with the object stayed in the mask and the mask drifted
    with it. On the tuning split's *mask windows* (24-frame runs from the true mask every 8
    frames, ``benchmarks/bench_builtin_windows.py``) dog / kite-surf / libby / car-shadow
    0.834 / 0.844 / 0.719 / 0.689 (mean 0.771) → 0.843 / 0.836 / 0.748 / 0.705 (0.783); 1.5:
    0.782, 2.5: 0.774, 3: 0.760. From the box, one run: 0.655 → 0.717 mean (a first mask that
    took in background sheds it). RGB instead of grey errors, a different noise level, or the
    evidence also in the regrow and graph-cut stages measured no better.
    ``regrow``: take clearly object-coloured pixels next to the mask back into it each frame
    (see :func:`_regrow`). On: 0.660 vs 0.631 J&F on the DAVIS tuning sequences.
    ``graph_cut_band``: width (px at a 512-px working resolution, scaled with it, see
    :func:`~.builtin_refine.band_pixels`) of the band around the re-fitted
    mask that a GrabCut on the frame re-decides, removals confirmed by the object's colours
    (see :mod:`~sam2matting.trackers.builtin_refine`); 0 = off. 3: 0.685 vs 0.660 J&F on the
    DAVIS tuning sequences (with additions unconstrained, 2: 0.669, 3: 0.681, 4: 0.678), at
    1.05–1.4× the CPU time per frame (the cut runs on the crop around the object).
    ``graph_cut_sigmas``: the band is at least this many boundary sigmas
    (:func:`boundary_sigma`, ~3 % of the object's size) wide, so it grows with the object
    (see :func:`cut_band`); 0 = ``graph_cut_band`` alone.
    ``motion_search``: start the optical flow from the camera's translation and each object's
    displacement found by a coarse search (:mod:`~sam2matting.trackers.builtin_motion`)
    instead of from zero, so displacements beyond DIS's reach (~20–30 px a frame at 512 px:
    fast objects, fast pans) are followed. Off = the flow starts from zero, as before. On:
    lowest J on the synthetic fast-motion clips 0.38–0.42 → 0.92–0.96, DAVIS tuning sequences
    with every third frame kept 0.596 → 0.635 J&F (at their own frame rate unchanged), at
    0–20 % more CPU time per frame.
    ``learned_refine``: correct the re-fitted mask near its outline with a small learned
    network each frame (:mod:`~sam2matting.trackers.builtin_learned`, ~5 k parameters trained
    on synthetic clips; ``refiner_weights``: its safetensors file, default the shipped one).
    Grow-only in a 2-px band; DAVIS tuning J&F 0.763 → 0.770, but off by default: it costs
    ~9 ms of CPU a frame (tracking 27 → 22 frames per CPU-second, under the 25 target) and
    ~0.01 of the lowest J on one synthetic fast-motion case (see the module).
    ``thin_structures``: track the straight thin parts of the object's mask (lines, strings,
    ropes, antennae, poles) as line segments on the native frame and draw them into the
    output mask (:mod:`~sam2matting.trackers.builtin_thin`); the working resolution's flow and
    colour lose them at the first frame. On: DAVIS tuning J&F (mask-started) 0.695 → 0.763
    (kite-surf 0.579 → 0.783, its F 0.480 → 0.839; dog and libby unchanged), the synthetic
    fast-motion clips and the first-frame box / click figures unchanged; objects without
    straight thin parts cost nothing, kite-surf ~7 ms a frame more.
    ``thin_faint_lines`` (with ``thin_structures``): lines under 2 working px wide may fade
    and change along their length (:mod:`~sam2matting.trackers.builtin_thin`): the far end
    also follows a line where it runs on at a fraction of its first contrast but still stands
    out from the same profile beside it (sky, calm water: :func:`~.builtin_thin.faint_line_ratio`),
    and stretches where its profile does not match (darker than a bright shore it crosses, a
    dark sleeve at its start) count as zero contrast instead of against it. Chosen on DAVIS
    kite-surf (on: J&F 0.789 → 0.846, F 0.841 → 0.936: its kite lines followed over the shore
    and the sky to the frame's edge, the faintest line no longer dropped after 25 frames) and
    the synthetic ``thin_line_clip(sky=True)`` (thin J over the sky 0.43 → 0.87–0.90); dog and
    libby identical (no thin lines), thicker thin parts unchanged.
    ``thin_refind_lines`` (with ``thin_faint_lines``): such a line missed for
    :func:`~.builtin_thin.max_misses` frames is kept out of sight and searched for, moved with
    the object, for up to :func:`~.builtin_thin.max_dormant` frames instead of dropped: a line
    hidden for a moment comes back. Chosen on the synthetic ``thin_line_clip(hidden=…)`` (lines
    gone from frame 4 to 9: thin J on frames 10–13 0.01 → 0.87–0.93); DAVIS kite-surf 0.8461
    → 0.8459 J&F (its missed lines now move with the rider), dog and libby identical.
    ``hide_unconfirmed``: report an empty mask for an object while it follows a re-detection
    that is not yet confirmed (:func:`redetect_probation`; confidence ≤ 0.45 then), has not
    been consistent with the object for :func:`shown_after` frames in a row and lies away
    from where the object was last seen (:func:`hidden_jump`): a compositor is better
    served by an empty matte than by a look-alike (on 01_dog the owner's arm, a bed of
    leaves) at confidence 0. The tracker keeps following and searching internally, so a
    confirmed re-detection shows up again. Off = the candidate is reported, as before (same
    DAVIS tuning J&F: those candidates lie near the loss and are kept either way).
    ``appearance_memory``: weight ([0, 1)) of a *recent* colour model mixed with the anchor's
    (:mod:`~sam2matting.trackers.builtin_appearance`): learnt on confident frames from deep
    inside the mask and from the ring around it, and used only as far as the anchor's colours
    no longer explain the tracked object (:func:`~.builtin_appearance.memory_need`), so an
    object walking from shade into the sun, a camera whose exposure or white balance drifts,
    an object turning to show a new colour keeps its colours while nothing changes on
    footage whose anchor still fits; the anchor always keeps the rest of the weight, so a
    learnt error stays bounded. 0 = the anchor's colours alone, as before. Default 0.15 by
    the choice rule: the largest weight that lowers no DAVIS tuning sequence's J&F against 0,
    from the mask or from the box, and keeps every synthetic light clip's lowest confidence
    ≥ 0.5. Mask-started dog / kite-surf / libby at 0: 0.809 / 0.784 / 0.695; at 0.15: 0.809 /
    0.784 / 0.696; at 0.3: 0.810 / 0.784 / 0.706 (best mean, 0.767) but from the box libby
    0.654 → 0.651; at 0.5 libby from the box 0.598. Synthetic light clips (``--only light``):
    lowest confidence 0.00 → 1.00, frames reported lost in full view 171 of 360 → 0.
    ``appearance_alignment``: follow a change of light by per-channel gains measured on
    the optical flow's pixel pairs inside the object and over the scene, applied to the
    anchor's histograms (:func:`~.builtin_appearance.follow`; the motion evidence is
    compared under the same gains). Off by default: on DAVIS the gains drift (dog: +50 % in
    60 frames of unchanged light; flow pairs on fur and shading are not one surface) and
    tuning J&F fell 0.763 → 0.665 (with a 2 % a frame dead band 0.769, but then the exposure
    clip is no longer followed); on the synthetic exposure-drift clip alone it holds the
    object (lowest J 0.50 → 0.97).
    ``part_memory``: rate at which a shape memory of the object follows its confident masks
    (:mod:`~sam2matting.trackers.builtin_memory`; 0 = off). The memory moves with the
    object's motion, corrected by matching its remembered appearance on the frame, and where
    its thick interior
    holds a part the warp dropped (a thin occluder sweeping over the object uncovers pixels
    that were occluder on the previous frame), the prior there is lifted to neutral so this
    frame's colours and motion decide: the part comes back, the occluder stays out. Choice
    rule (tuning sequences and synthetic clips only): the largest mean J&F over 24-frame
    windows of the DAVIS tuning sequences (restarts from the true mask every 8 frames,
    ``benchmarks/bench_builtin_memory.py``; one run through libby is chaotic, ±0.04 J&F
    between near-identical settings) such that one run through dog and kite-surf from the
    first mask loses at most 0.01 J&F and the synthetic pole clips
    (:func:`~sam2matting.eval.occluder_clips.pole_clip`) gain at least 0.01 mean J. Rates
    (with the memory's depth, :func:`~.builtin_memory.memory_depth`): 0.05 costs the dog
    0.04–0.06 in one run; 0.2 and 0.3 keep the dog but lose libby's gain (one run 0.69);
    0.1 (default): windows dog / kite-surf / libby 0.838 / 0.806 / 0.675 → 0.833 / 0.806 /
    0.714, one run 0.809 / 0.784 / 0.695 → 0.803 / 0.787 / 0.714, from the box 0.776 /
    0.597 / 0.654 → 0.771 / 0.594 / 0.694; pole clips 0.836 → 0.847 mean J;
    ``benchmarks/results/builtin_tracker_memory.md``. ~1.7 ms of CPU a frame per object.
    ``part_recovery``: find again the part of an object that comes out beyond an occluder
    it passes behind (a trunk, a post; :mod:`~sam2matting.trackers.builtin_parts`). The
    components step keeps only what touches the warped prior, and no prior reaches beyond
    an occluder wider than its ramp, so the mask used to shrink to the near side and collapse.
    While the mask is below 80 % of its reference size, object-coloured pieces near it that
    do not move with the background, lying ahead of it along the object's motion relative to
    the background and beside it across that motion, are added. Issue 14's thirteenth
    session, on by default; figures in ``benchmarks/results/builtin_tracker_parts.md``.
    ``unchanged_background``: while the object moves against the background (relative
    motion ≥ 1 px a frame), drop the pieces of this frame's mask outside the predicted object
    whose median colour change from the previous frame, moved with the background's motion,
    is under 10 grey levels where the previous mask did not hold them and the object's motion
    does not explain them better (:mod:`~sam2matting.trackers.builtin_unchanged`): the scene
    that was already there, which the colour stages took in. Issue 14's twenty-fifth
    session, on by default; figures in
    ``benchmarks/results/builtin_tracker_session25_unchanged_*.md``.
    ``embed_strength``: weight of a learned appearance cue
    (:mod:`~sam2matting.trackers.builtin_embed`): per-pixel embeddings of a small network
    (32 k parameters, trained on still images only) matched by attention against the
    object's memory (the embeddings and mask of its anchor frame and of its last confident
    frame) give each pixel near the predicted outline an object log-odds, capped at ±4 like
    the colour term; times this weight it is added to the re-fit and to the evidence the
    regrow and graph-cut stages judge by; 0 = off (``embed_weights``: the network's
    safetensors file, default the shipped one). Default 0, by the rule "on only if it raises
    the DAVIS tuning mean J&F without lowering the synthetic figures": it holds an object
    moving into a patch of its own colours in another texture (``--only texture``, min J
    0.08 → 0.58 at 1), but lowers DAVIS tuning J&F (mask-started) at every strength tried,
    0.763 → 0.738 / 0.734 / 0.674 at 0.25 / 0.5 / 1 (the mask shrinks: it calls parts of
    the object seen differently on the anchor background), lowers the synthetic fast-motion
    clips' lowest J by 0.03–0.06, and costs ~6 ms of CPU a frame (40 → 32 frames/s wall).
    ``object_competition``: with several objects, one pixel has one owner also while an owner
    is lost (:mod:`~sam2matting.trackers.builtin_compete`): a lost object's last trusted mask,
    moved with the camera, stays its territory for :func:`~.builtin_compete.territory_frames`
    frames, and another object's mask may not take it beyond its own territory (nor extend
    its territory into it); a lost object is not searched for inside a neighbour's trusted
    mask (:func:`held_by_others`); the swallow check measures against the moved territory,
    and a neighbour that holds most of a consistent re-detection beyond its own territory
    loses confidence (:func:`~.builtin_compete.contested`). Off = overlaps resolved by the
    largest logit alone, as before. A single object's run is identical either way (so the
    DAVIS figures do not move). Default on, chosen on the synthetic
    :func:`~sam2matting.eval.compete_clips.swallow_clip` (seeds 0–3, 40 frames: frames on
    which object 1 covers more than 30 % of object 2: 22 / 22 / 22 / 0 → 0 / 0 / 19 / 0;
    mean J of object 2: 0.30 / 0.30 / 0.30 / 0.83 → 0.84 / 0.82 / 0.61 / 0.83).
    ``articulation_uncertainty``: the warped boundary's expected error is also at least this
    many times the median distance between the object's flow and its affine motion
    (:func:`articulation_sigma`, capped like :func:`boundary_sigma` at
    :data:`BOUNDARY_SIGMA_MAX`; the gain scaled by :func:`articulation_trust`, none for an
    object whose anchor colours barely separate it from its surroundings): an object that does not move as one piece (a running dog's
    gait, a head turning, a small animal whose flow the background drags) gets a softer
    warped prior, so this frame's colours and motion place its outline, and its background
    motion is measured further out; a rigid object is tracked exactly as without it
    (car-shadow's car: 0.8 px on average against its size-based 2.9 px; libby: 5.1 against
    1.9, raised on 91 % of frames). 0 = off (the size-based error
    alone, as before). Default 2, chosen on the tuning sequences (issue 14's seventh
    session, ``benchmarks/bench_builtin_windows.py``): mask windows dog / kite-surf / libby /
    car-shadow 0.843 / 0.836 / 0.748 / 0.704 (mean 0.783) → 0.852 / 0.836 / 0.783 / 0.704
    (0.794); one run 0.780 → 0.780; every 3rd frame kept 0.710 → 0.745 (dog 0.671 → 0.756,
    libby 0.725 → 0.777), every 2nd 0.724 → 0.755; 16-frame box windows at all three
    speeds J&F 0.564 → 0.607 (first-frame J unchanged). Gain 1 / 1.5 / 3: windows 0.788 / 0.788 /
    0.782, every 3rd frame 0.638 / 0.722 / 0.754; the 75th or 90th percentile instead of
    the median 0.779; a cap of 10 px collapsed libby at every 2nd frame (0.337). It costs
    the synthetic fast-motion clips (``--only motion``, flow errors on a rigid camouflaged
    ellipse 30–50 px a frame) 0.01–0.03 of their lowest J (0.918 → 0.894 at worst, mean J
    −0.005 at most) and the texture clip 0.108 → 0.100; the synthetic limbed walker
    (:func:`~sam2matting.eval.motion_clips.limbed_clip`) gains 0.841 → 0.849 mean J.
    ``articulated_colour_limit``: on frames where the articulation error exceeds the size-based
    one (the warped prior is softer there), the colour log-odds in the re-fit may reach this
    much on the object's side instead of :func:`colour_llr_limit` (4), so clearly object-coloured
    parts the warp misplaced weigh more; the background side, the colour-shift and
    re-detection searches keep the cap. 0 = off (default). Measured at 6 (issue 14's ninth
    session; the lead of the eighth session's random search, where the searches used it too):
    libby from the mask 0.712 → 0.752, dog / kite-surf / car-shadow identical; mask windows
    (``bench_builtin_windows.py --step 4``) at 1× / 2× / 3× 0.792 / 0.726 / 0.719 → 0.792 /
    0.753 / 0.719, box windows 0.616 / 0.580 / 0.579 → 0.622 / 0.582 / 0.511 (libby at 3×
    0.697 → 0.471, where the camera pans fast); held-out pair from the mask 0.851 → 0.850, every 3rd
    frame 0.839 → 0.837. Synthetic limbed walker 0.849 → 0.860 mean J (six seeds), texture
    clip 0.675 → 0.648, fast-motion and look-alike clips unchanged. Off: the held-out pair
    does not gain, and the fast articulated case it loses is the one unseen footage (dancing,
    parkour) is most likely to bring.
    ``attached_background``: log-odds against the object where the frame shows, in the band
    the anchor mask left out next to the object (moved with the object), the colours the
    anchor saw there (:mod:`~sam2matting.trackers.builtin_outside`; 0 = off). A cast shadow
    or a reflection moves with the object and is often of its dark colours, so motion and
    colour both call it object and only the soft prior at the boundary holds it out; it does
    not hold for long. Unused on frames the object is articulated (its parts leave the single
    affine motion the band follows). Issue 14's fifteenth session, default 6; strength chosen
    on the tuning sequences only (2 / 4 / 6 / 8 / 12: tuning mean from the mask 0.808 /
    0.812 / 0.815 / 0.815 / 0.814 against 0.804 off); see the CHANGELOG for the held-out,
    backwards and every-3rd-frame figures.
    ``early_flow``: start each frame's optical flow one frame early, beside the step of the
    frame before, instead of after it: its motion search (:mod:`.builtin_motion`) then starts
    from the objects' masks of two frames before moved by their last displacement (or by
    their motion on the frame before's own flow where they sped up or turned:
    :func:`_predicted_search_objects`), not from their final masks of the frame before
    (which do not exist yet). The flow then costs no wall time on a machine with a core to spare.
    Frames with a prompt, and the frame after a prompted one, keep the search from the final
    masks. Off: the frames of versions before it, at ~0.75× the speed. Issue 14's
    seventeenth session; see ``benchmarks/results/builtin_tracker_session17*.md``.
    ``inverted_forward``: the forward flow (previous → current: the objects' and the
    background's motion fits, motion layers, the round-trip check) is the backward DIS flow
    inverted (:func:`invert_flow`), not a second DIS run: DIS costs ~19 ms of CPU a direction
    at 512×288, the inversion ~4 ms; tracking alone ×1.19 (21.6 against 18.2 frames/s).
    **Off by default**: the round-trip check of a flow against its own inverse marks 0.5–3 %
    of the pixels where DIS's two directions disagree on 3–7 % — the uncovered background
    behind a passing occluder among them — and a held-out walker of the occluder suite
    (am2k_sample13) then loses the walker behind a pole on 2 of 3 runs (0 of 3 with DIS's
    forward flow): held-out mean J 0.844 / 0.849 / 0.913 against 0.912 / 0.912 / 0.913. On
    DAVIS it is even (jittered means as filmed from the mask / box 0.826 / 0.745 against
    0.830 / 0.744, every 3rd frame 0.778 / 0.616 against 0.772 / 0.590). Issue 14's
    eighteenth session; ``benchmarks/results/builtin_tracker_session18_inverted*.md``.
    ``forward_refinement``: variational refinement iterations of DIS's forward flow (null,
    the default: the preset's own, 5). The forward flow feeds the affine motion fits, the
    motion layers, the articulation spread and the round-trip check; the backward flow, which
    moves the masks, and the first masks' motion cue keep the preset's refinement. At 512×288
    the refinement is ~9 of DIS's ~19 ms of CPU a direction: ``forward_refinement=0`` tracks
    ×1.13 faster (20.3 against 17.9 frames/s; ×1.16 per CPU-second). **Not the default**:
    even on DAVIS (jittered means as filmed from the mask / box 0.831 / 0.744 against 0.830 /
    0.744, every 3rd frame 0.774 / 0.610 against 0.772 / 0.590), but the synthetic object
    moving into a patch of its own colours in another texture loses 0.02–0.03 mean J on
    each of 6 seeds, and a held-out occluder clip (am2k_sample14) lost the cutout after a
    pole on 1 of 3 runs (held-out mean J 0.901 against 0.912). Issue 14's nineteenth
    session; ``benchmarks/results/builtin_tracker_session19*.md``.
    ``flow_window`` (default on): the optical flow is fine (the preset's pyramid level) on a
    window around the objects only — each object's previous box and where its displacement
    takes it, grown by 5 % of the frame's long side and by the camera's translation, its
    edges on a 32-px grid (:func:`~.builtin_motion.flow_window`) — and one level coarser on
    the rest of the frame, where the tracker reads it in aggregate (the camera's fit, the
    light's gains); the window starts from the motion search's initial flow, as the whole
    frame does (:func:`~.builtin_motion.windowed_flow`). Where the window would cover over
    60 % of the frame, or the frame is too small for a coarser level, the whole frame is
    flowed finely. DIS's finest level is ~3× its coarser ones together at 512×288: tracking
    alone ×1.24 (24.1 against 19.5 frames/s, medians of 5 alternated runs; ×1.32 per
    CPU-second). Even on the held-out footage (DAVIS blackswan / horsejump-high 0.913 / 0.827,
    as before; held-out occluder clips 0.912, as before) and on DAVIS's jittered means (as
    filmed from the mask / box 0.830 / 0.743 against 0.830 / 0.744); every 3rd frame from
    the box 0.615 against 0.590, from the mask 0.758 against 0.772 (libby lost on one seed;
    over 10 runs libby 0.690 against 0.700). Costs: libby as filmed 0.788 against 0.801
    (jittered 0.792 against 0.803), and the synthetic object moving into a patch of its own
    colours 0.681 against 0.692. Off: the frames of versions before it. Issue 14's twentieth
    session; ``benchmarks/results/builtin_tracker_session20*.md`` and the CHANGELOG.
    ``step_window`` (default on): a step's motion evidence (the background ring's fit, the
    motion layers, the photometric comparison of the object's and the background's motions),
    its prior's blur and its edge filter are computed on a window around the object only —
    its previous mask and its two predictions, grown by 10 % of the frame's long side and at
    least past the background ring and the layers' near zone
    (:func:`~.builtin_window.step_window`) — and the object's signed distance near it
    (:func:`fit_distance_reach`); beyond the window there is no motion evidence and no
    filtering, where the prior already holds the log-odds at their floor. The ring's fit,
    the prior and the signed distance's readings are the whole frame's. Tracking alone 27.5
    against 22.5 frames/s (×1.22, medians of 5 alternated runs); even on DAVIS's jittered
    means (as filmed from the mask / box 0.830 / 0.745 against 0.830 / 0.743) and on the
    held-out footage (blackswan / horsejump-high 0.913 / 0.827; occluder clips 0.916 against
    0.912). Off: the frames of versions before it. Issue 14's twenty-first session;
    ``benchmarks/results/builtin_tracker_session21*.md`` and the CHANGELOG.
    ``plate_frames``: how many frames, spread over ``plate_span`` frames either side of the
    earliest prompted frame, the clean plate of a still camera is the median of
    (:mod:`~sam2matting.trackers.builtin_plate`; 0 = off, the default; 16 when on).
    ``plate_strength``: log-odds per unit of the plate's change evidence against the object
    (capped at 2). Issue 14's tenth session (``benchmarks/bench_builtin.py --only still --opt
    plate_frames=16``, off → on; results/builtin_tracker_still.md): matting cutouts walking
    over the clean plate of ``01_dog.mp4``, alone and with a person passing behind, held-out
    cutouts: mean J from the mask 0.779 → 0.808, from the box 0.748 → 0.783; the synthetic
    white animal on a light pavement, held-out seeds: box first-frame J 0.20 → 0.59, but from
    the mask 0.378 → 0.371. The
    DAVIS sequences (panning cameras) have no plate: their figures are unchanged. **Off by
    default** because of ``01_dog.mp4`` itself, from its box: the frames reported lost fall
    104 → 5 of 289, but on 222 frames the mask sits, confidently, on the woman playing with
    the dog (in the left third of the frame, where the dog is on none of them with the plate
    off). The plate says what moved, not what moved *is the dog*: her hand and the ball are
    in the box and in the first mask, and her white shirt is the dog's white. Cost on a still
    clip: 36 → 30 frames/s at 512×288, and the plate itself once (~0.3 s).
    ``motion_layers``: how many other motion layers near each object (a pole or a trunk in
    front of it, moving with a parallax of its own) the motion evidence also weighs
    (:mod:`~sam2matting.trackers.builtin_layers`; 0 = off). Where such a layer moves to, the
    background's photometric error is the smaller of the camera's and the layer's, so an
    occluder of the object's own colours is explained as the occluder. Layers must continue one
    found on the step before and fit their own flow. Issue 14's eleventh session, default 3
    (``bench_builtin.py --only occluders``, results/builtin_tracker_occluders.md): poles
    sweeping across matting cutouts, tuning walkers mean J 0.771 → 0.824, held-out walkers
    0.869 → 0.912; DAVIS from the mask car-shadow 0.729 → 0.731, every other sequence, every
    3rd frame and backwards identical; mask windows at 1× / 2× / 3× 0.794 / 0.743 / 0.731
    both ways; the synthetic motion, light and texture suites identical. Cost: tracking alone
    at 512×288 runs at 0.90× the speed (about 3 ms of CPU a frame).
    """

    max_side: int = 512
    flow_preset: str = "fine"
    refit_strength: float = 1.0
    boundary_uncertainty: float = 0.03
    model_update_rate: float = 0.0
    histogram_bins: int = 32
    grabcut_iterations: int = 4
    box_texture_core: float = 0.2
    box_whole_margin: float = 0.0
    init_motion_frames: int = 3
    box_motion_weight: float = 1.0
    click_motion_weight: float = 0.5
    edge_refine: bool = True
    motion_strength: float = 2.0
    regrow: bool = True
    graph_cut_band: int = 3
    graph_cut_sigmas: float = 2.0
    motion_search: bool = True
    learned_refine: bool = False
    refiner_weights: str | None = None
    thin_structures: bool = True
    thin_faint_lines: bool = True
    thin_refind_lines: bool = True
    hide_unconfirmed: bool = True
    appearance_memory: float = 0.15
    appearance_alignment: bool = False
    part_memory: float = 0.1
    embed_strength: float = 0.0
    embed_weights: str | None = None
    object_competition: bool = True
    articulation_uncertainty: float = 2.0
    articulated_colour_limit: float = 0.0
    plate_frames: int = 0
    plate_span: int = 150
    plate_strength: float = 2.0
    motion_layers: int = 3
    part_recovery: bool = True
    unchanged_background: bool = True
    attached_background: float = 6.0
    early_flow: bool = True
    inverted_forward: bool = False
    forward_refinement: int | None = None
    flow_window: bool = True
    step_window: bool = True

    def __post_init__(self) -> None:
        if self.max_side < 32:
            raise Sam2MattingError(f"builtin tracker: max_side must be >= 32, got {self.max_side}")
        if self.forward_refinement is not None and self.forward_refinement < 0:
            raise Sam2MattingError(
                f"builtin tracker: forward_refinement must be >= 0 (or null: the flow preset's own), got {self.forward_refinement}"
            )
        if self.flow_preset not in FLOW_PRESETS:
            raise Sam2MattingError(
                f"builtin tracker: unknown flow_preset {self.flow_preset!r}; choose one of: {', '.join(FLOW_PRESETS)}"
            )
        if self.refit_strength < 0:
            raise Sam2MattingError("builtin tracker: refit_strength must be >= 0")
        if not 0 < self.boundary_uncertainty <= 1:
            raise Sam2MattingError("builtin tracker: boundary_uncertainty must be in (0, 1]")
        if not 0 <= self.model_update_rate <= 1:
            raise Sam2MattingError("builtin tracker: model_update_rate must be in [0, 1]")
        if not 0 <= self.appearance_memory < 1:
            raise Sam2MattingError("builtin tracker: appearance_memory must be in [0, 1)")
        if self.model_update_rate > 0 and self.follows_appearance:
            raise Sam2MattingError(
                "builtin tracker: model_update_rate re-learns the colour model that "
                "appearance_alignment / appearance_memory follow; set appearance_alignment=False "
                "and appearance_memory=0 to use it"
            )
        if self.histogram_bins not in (8, 16, 32, 64):
            raise Sam2MattingError("builtin tracker: histogram_bins must be 8, 16, 32 or 64")
        if self.grabcut_iterations < 1:
            raise Sam2MattingError("builtin tracker: grabcut_iterations must be >= 1")
        if not 0.0 <= self.box_texture_core < 1.0:
            raise Sam2MattingError("builtin tracker: box_texture_core must be in [0, 1)")
        if self.box_whole_margin < 0:
            raise Sam2MattingError("builtin tracker: box_whole_margin must be >= 0")
        if self.init_motion_frames < 0:
            raise Sam2MattingError("builtin tracker: init_motion_frames must be >= 0")
        if self.box_motion_weight < 0:
            raise Sam2MattingError("builtin tracker: box_motion_weight must be >= 0")
        if self.click_motion_weight < 0:
            raise Sam2MattingError("builtin tracker: click_motion_weight must be >= 0")
        if self.graph_cut_band < 0:
            raise Sam2MattingError("builtin tracker: graph_cut_band must be >= 0")
        if self.motion_strength < 0:
            raise Sam2MattingError("builtin tracker: motion_strength must be >= 0")
        if not 0 <= self.part_memory <= 1:
            raise Sam2MattingError("builtin tracker: part_memory must be in [0, 1]")
        if self.embed_strength < 0:
            raise Sam2MattingError("builtin tracker: embed_strength must be >= 0")
        if self.articulation_uncertainty < 0:
            raise Sam2MattingError("builtin tracker: articulation_uncertainty must be >= 0")
        if (
            self.articulated_colour_limit != 0
            and self.articulated_colour_limit < colour_llr_limit()
        ):
            raise Sam2MattingError(
                "builtin tracker: articulated_colour_limit must be 0 (off) or at least "
                f"{colour_llr_limit():g}, the colour cap it raises"
            )

        if self.plate_frames != 0 and self.plate_frames < 5:
            raise Sam2MattingError("builtin tracker: plate_frames must be 0 (off) or at least 5")
        if self.plate_span < 1:
            raise Sam2MattingError("builtin tracker: plate_span must be >= 1")
        if self.plate_strength < 0:
            raise Sam2MattingError("builtin tracker: plate_strength must be >= 0")
        if self.motion_layers < 0:
            raise Sam2MattingError("builtin tracker: motion_layers must be >= 0")
        if self.attached_background < 0:
            raise Sam2MattingError("builtin tracker: attached_background must be >= 0")

    @property
    def follows_appearance(self) -> bool:
        """Whether the colour model follows the object's appearance
        (:mod:`~sam2matting.trackers.builtin_appearance`)."""
        return self.appearance_alignment or self.appearance_memory > 0


# -- heuristics (named, documented; sizes in working-resolution pixels) -------------------------


def working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) of the working resolution: the frame scaled so its longest side is ≤ ``max_side``.

    Frames already small enough are not upscaled (upscaling adds cost, no information).
    """
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


BOUNDARY_SIGMA_MAX = 6.0
"""Largest expected error (pixels) of a warped boundary (:func:`boundary_sigma`,
:func:`articulation_sigma`): big objects still stay anchored to the warp."""


def boundary_sigma(area: float, fraction: float) -> float:
    """Expected error (pixels) of a flow-warped boundary for an object of ``area`` pixels.

    Flow errors grow with object size and motion; ``fraction`` × sqrt(area), kept in
    [1, 6] px so tiny objects are not dissolved by colour noise and big ones still stay
    anchored to the warp. The warped prior is ``signed distance / sigma`` log-odds.
    """
    return float(np.clip(fraction * np.sqrt(max(area, 1.0)), 1.0, BOUNDARY_SIGMA_MAX))


def articulation_sigma(
    displacement: np.ndarray,
    select: np.ndarray,
    motion: np.ndarray,
    gain: float,
    max_points: int = 4000,
) -> float:
    """Expected error (pixels) of a flow-warped boundary from how far the object's own flow
    departs from one affine motion: ``gain`` × the median distance between the forward flow
    ``displacement`` (h×w×2) of the ``select``-ed pixels (the object on the previous frame)
    and where the object's affine ``motion`` (2×3) puts them; 0 when none are selected.

    A rigid object (a car) moves as one affine motion, the flow follows it to a pixel, and
    this stays below :func:`boundary_sigma`'s size-based error. A small running animal bends,
    bobs and turns while its legs, ears and tail swing, and the flow over it (smoothed with
    the background it crosses) departs from one affine motion over most of it, not just at a
    few parts (the median is over the whole object): its warp misplaces the outline by about
    that much, and a prior as sharp as a rigid object's would keep it there; with this error
    the warped prior is softer and this frame's colours and motion place the outline again.
    A regular subsample of at most ``max_points``.
    """
    count = int(np.count_nonzero(select))
    if count == 0:
        return 0.0
    stride = max(1, int(np.sqrt(count / max_points)))
    ys, xs = mask_pixels(select[::stride, ::stride])
    if xs.size == 0:
        return 0.0
    ys, xs = ys * stride, xs * stride
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    placed = points @ motion[:, :2].T + motion[:, 2]
    flowed = points + displacement[ys, xs].astype(np.float64)
    return gain * float(np.median(np.linalg.norm(flowed - placed, axis=1)))


def articulation_trust(ref_colour: float) -> float:
    """Share ([0, 1]) of ``articulation_uncertainty`` an object gets, from how well its anchor's
    colours tell it from its surroundings (``ref_colour``: the mean colour log-odds inside the
    anchor mask): none at 1 or below, all of it from 2. A softer warped prior hands the outline
    to this frame's colours; where they barely separate the object, the shape is all that holds
    it. On ``01_dog.mp4`` from a box (the first mask its brown patches, 1.22) the full share let
    the mask slide off the rolling dog onto its leash and the owner's hand at confidence 1.0
    (frames 228–288); the DAVIS first masks score 1.76–3.21 from the mask and 2.31–2.90 from
    their boxes, so the tuning windows are unchanged to the third decimal."""
    return float(np.clip(ref_colour - 1.0, 0.0, 1.0))


def cut_band(band: int, sigma: float, sigmas: float) -> int:
    """Width (px) of the band the graph cut re-decides: ``band`` (the configured width at
    this working resolution), or ``sigmas`` × the boundary sigma when that is wider.

    Why: the error anatomy (``benchmarks/bench_builtin_anatomy.py``) showed the chained
    losses on a large object are parts missed *far* from the boundary (DAVIS ``dog``: its
    shadowed side, which the anchor's colours call background; 9 % of its area missed more
    than 3 px inside the truth), out of a 3-px band's reach, while on small objects a wider
    band leaves GrabCut few sure pixels and takes in background. A band proportional to the
    object's size serves both. DAVIS tuning J&F (mask-started): 3 px alone 0.686 (dog 0.773,
    kite-surf 0.579, libby 0.705); 2 sigmas 0.694 (0.809, 0.579, 0.695; ~8 px on the dog,
    3 px on the others); 1.5 sigmas 0.691; a fixed 6 / 8 px band 0.698 / 0.700, but it cost
    the synthetic fast-motion clips 0.5–1 point of J, which the size-relative band leaves
    exactly as they were. Chained J (anatomy) for 1.25 / 1.5 / 2 / 2.5 sigmas: 0.726 /
    0.723 / 0.727 / 0.728 (libby swings ±0.01 with any change; dog rises steadily).
    """
    if band <= 0:
        return 0
    return max(band, round(sigmas * sigma))


def regrow_colour() -> float:
    """Colour log-odds (the cap is 4) from which a pixel next to the mask is taken back into
    it by :func:`_regrow`: clearly the object's colours, not merely compatible with them.
    2.5–3.5 scored alike on the DAVIS tuning sequences (0.657–0.661 J&F); 3 is the middle."""
    return 3.0


def regrow_reach(work_w: int, work_h: int) -> int:
    """How far (px) outside the mask :func:`_regrow` may add pixels on one frame: ~1.2 % of
    the longest side (6 px at 512; 4–8 px scored alike), so a background patch of the object's
    colour can only creep in slowly, not flood in."""
    return max(2, round(6 * max(work_w, work_h) / 512))


def colour_llr_limit() -> float:
    """Cap on |colour log-likelihood ratio|: colour alone can shift a boundary by at most
    ``limit × sigma`` pixels against the warped prior, and a few mislabelled histogram bins
    cannot flip a region outright."""
    return 4.0


def motion_noise_level() -> float:
    """Grey-level error (intensities in [0, 1]) that image noise and small misalignment
    explain by themselves: motion evidence is discounted below it, so flat regions and
    small motions stay neutral."""
    return 0.04


def unseen_colour_weight() -> float:
    """Weight of a uniform component mixed into both colour histograms: a colour seen on
    neither side scores ~0 log-odds (the warped prior decides), and a colour seen on one
    side only scores at most ~log(1 / 0.01) before the :func:`colour_llr_limit` cap.
    (Favouring background for unseen colours was tried and lost on DAVIS.)"""
    return 0.01


def flow_consistency_tolerance() -> float:
    """Forward–backward round-trip error (px, |dx| + |dy|) above which a pixel's flow is
    not trusted. Uncovered background is the typical case: its backward flow follows the
    background, so it would sample the object's old position and inherit its mask."""
    return 1.5


def finest_flow_level(work_w: int, work_h: int, preset_level: int) -> int:
    """Finest pyramid level DIS computes flow on: the preset's, but fine enough that the flow
    grid keeps ≥ 128 px on its long side (level 2 of a 128-px frame would be 32 px, too coarse
    to move a small object's boundary correctly)."""
    longest = max(work_w, work_h)
    affordable = int(np.floor(np.log2(max(longest, 1) / 128.0))) if longest >= 128 else 0
    return max(0, min(preset_level, affordable))


def colour_shift_gain() -> float:
    """Mean log-odds per mask pixel a colour-matched placement must gain over the flow's
    prediction before it replaces it (the colour cap is 4): only a clearly misplaced
    prediction — the flow lost a fast or textureless object — is moved. When it is needed
    the gain is large (≥ 0.5 on the sample clip); 0.1–1.0 all scored within 0.02 J on DAVIS."""
    return 0.25


def colour_shift_cost() -> float:
    """Log-odds per mask pixel charged for each pixel a colour-matched placement moves the
    flow's prediction: among equally good placements the nearest wins (20 px cost 0.2)."""
    return 0.01


def max_scale_change() -> float:
    """Largest factor an object's affine motion may scale it by between two frames; beyond it
    the fit is taken for a flow failure and only its translation is kept."""
    return 1.25


def lost_area_fraction() -> float:
    """Below this fraction of its reference size the object counts as lost by the flow, and
    re-detection (a whole-frame search on its colours) is tried."""
    return 0.3


def confident_score() -> float:
    """Confidence at or above which a frame updates the object's reference size and shape."""
    return 0.6


def size_follow_rate() -> float:
    """How fast the reference size follows the object on confident frames (objects approach
    and recede; a sudden collapse must still read as a loss)."""
    return 0.1


def max_growth_rate() -> float:
    """Largest factor per frame by which the reference size may grow (it follows the object
    on confident frames): an object approaching the camera may double its area in 20 frames
    (×1.035 a frame); a mask that balloons faster than this outgrows its reference and its
    confidence falls (see :func:`confidence`)."""
    return 1.04


def confidence(
    area: float,
    ref_area: float,
    mean_colour: float,
    ref_colour: float,
    anchor_area: float = 0.0,
) -> float:
    """Confidence ([0, 1]) that a tracked mask still holds its object.

    Two cues, multiplied: size and colour. Size: a mask down to half its reference size is
    normal motion and scale change, a collapse to nothing is not; growth is judged against
    the larger of the reference size (whose growth is capped at :func:`max_growth_rate` a
    frame) and the first-frame size ``anchor_area`` (a mask that shrank and recovers is not
    ballooning): up to ×1.5 is free, ×1.875 reads as lost (0.5), ×2.25 and beyond 0 — a mask that
    swallows a neighbour or a region of its colours grows faster than any object approaches
    the camera. Colour: the mean colour log-odds inside the mask against the anchor's (a mask
    drifting onto background loses the object's colours). Below 0.5 the object is reported
    as lost.
    """
    if area <= 0 or ref_area <= 0:
        return 0.0
    ratio = area / ref_area
    shrink = float(np.clip(2.0 * ratio, 0.0, 1.0))
    growth_ratio = area / max(ref_area, anchor_area)
    growth = float(np.clip(1.0 - (growth_ratio - 1.5) / 0.75, 0.0, 1.0))
    size = min(shrink, growth)
    return size * colour_cue(mean_colour, ref_colour)


def colour_cue(mean_colour: float, ref_colour: float) -> float:
    """The colour factor ([0, 1]) of :func:`confidence`: the mean colour log-odds inside the
    mask against the anchor's; 1 when the anchor's colours barely differ from its background
    (no colour evidence)."""
    informative = ref_colour > 0.25
    return float(np.clip(1.5 * mean_colour / ref_colour, 0.0, 1.0)) if informative else 1.0


def regrown_frames() -> int:
    """Consecutive frames a mask must hold more than its reference size allows (see
    :func:`confidence`: ×1.5 of it is free) while keeping its size steady (within ×1.25 of the
    frame before), the object's colours (:func:`colour_cue` ≥ :func:`confident_score`), its
    motion (:func:`regrown_motion_share`) and no lost neighbour's place (:func:`swallow_cue` 1)
    before the reference size is re-based on it.

    Why: the reference size follows the object on confident frames only. A tracker that held
    only part of an object approaching the camera (DAVIS ``libby`` backwards: the dog's area
    grows ×5 over 48 frames, the mask held a third of it for 20 frames) and then finds the
    rest grows past ×2.25 of a reference that followed the part; from then on every frame
    reads as lost, the reference never follows again, and the object stayed "lost" to the
    last frame while J was 0.6–0.87. A mask that ballooned into a region of the object's
    colours is still caught: that region does not move as the object (a uniform or
    background-moving region gives no object motion evidence), and a mask that took a lost
    neighbour's place is never re-based."""
    return 5


def shrink_shape_iou() -> float:
    """IoU with the last confident mask, scaled to its area (:func:`scaled_shape_iou`), from
    which a mask below the reference size counts as the object receding rather than a part
    of it (the receding counterpart of :func:`regrown_frames`).

    Why: an object receding faster than the reference size follows it (area ×0.85 a frame:
    the reference, an average over confident frames, lags; below half of it every frame reads
    as lost and the reference never follows again) was reported lost to the last frame at
    J 1.00. A mask that lost part of its object shrinks too, and what is left moves as the
    object with its colours, but it is a part: not the last confident mask's shape made
    smaller. A sudden drop (below ×0.8 of the frame before) since the last confident frame
    rules the re-basing out until the object is confident again."""
    return 0.7


def scaled_shape_iou(template: np.ndarray, mask: np.ndarray) -> float:
    """IoU of ``mask`` with ``template`` (both bool h×w) scaled about its centroid to the
    mask's area and moved onto the mask's centroid: 1 for the same shape at any size, low
    for a part of it. 0 when either is empty."""
    t_centre, m_centre = mask_centre(template), mask_centre(mask)
    if t_centre is None or m_centre is None:
        return 0.0
    k = float(np.sqrt(np.count_nonzero(mask) / np.count_nonzero(template)))
    (tx, ty), (mx, my) = t_centre, m_centre
    h, w = mask.shape
    moved = _warp_affine(
        template.astype(np.float32),
        np.array([[k, 0.0, mx - k * tx], [0.0, k, my - k * ty]]),
        (w, h),
        fill=0.0,
    )
    placed = moved > 0.5
    union = np.count_nonzero(placed | mask)
    return float(np.count_nonzero(placed & mask)) / union if union else 0.0


def regrown_motion_share() -> float:
    """Share of the mask whose motion evidence must say "moves as the object, not as the
    background" (motion log-odds > 0) for a grown mask to count towards
    :func:`regrown_frames`: the grown part moves with the object. DAVIS ``libby`` backwards,
    the whole dog found again: 0.57–0.85."""
    return 0.5


def swallow_cue(taken: float) -> float:
    """Confidence factor ([0, 1]) from ``taken``: the largest fraction of another, lost
    object's last trusted mask that this object's mask now covers (one pixel has one owner,
    so while both were tracked it covered none of it). A mask that takes in a neighbour's
    place as the neighbour is lost has most likely swallowed it (two children on a bed, one
    mask over both): up to 10 % is free (boundaries touch), a quarter reads as lost (0.4),
    35 % and beyond 0."""
    return float(np.clip(1.0 - (taken - 0.1) / 0.25, 0.0, 1.0))


def redetect_probation() -> int:
    """Consecutive consistent frames (see :func:`redetect_consistency`) a re-detected object
    needs before it is trusted again; until then it is reported as lost (confidence ≤ 0.45)
    and does not update its reference size, shape and position: a whole-frame colour search
    can land on a look-alike (a brown dog's colours in a flower bed), so the jump is flagged
    for the user to check, and a look-alike that never proves consistent stays flagged."""
    return 5


def redetect_consistency(
    area: float,
    ref_area: float,
    anchor_area: float,
    elongation: tuple[float, ...],
    colour_similarity: float,
    jump: float,
    elapsed: int,
) -> float:
    """How consistent ([0, 1]) a re-detected mask is with the object it was before it was lost.

    Colour alone cannot tell the object from a look-alike, so four cues are multiplied:

    - size against the object's reference size when it was lost (objects come back about the
      size they left: factor 1.5 either way is free, beyond it the cue falls off linearly in
      the ratio) *or* its first-frame size, whichever is closer — an object lost while an
      occluder hid most of it comes back whole, the size it had before — and against its
      first-frame size (looser, factor 3: the object may have approached or receded over the
      clip);
    - shape: elongation (the square root of the ratio of the mask's second moments, see
      :func:`elongation`) against that of its last confident mask or of its first-frame
      mask, whichever is closer (the same reason), factor 1.5 free;
    - colour distribution: the Bhattacharyya coefficient between the mask's colour histogram
      and the object's (not just the mean log-odds a patch of the object's commonest colours
      reaches), mapped so that 0.5 → 0 and 0.9 → 1;
    - position: the distance from where the object was last seen with confidence, against
      how far it could have gone (its size, plus half its size per frame since); an
      implausible jump alone only discounts (to 0.6 at the least: objects do come back
      elsewhere, e.g. after leaving the frame), but with a doubtful size or colour it tips the
      balance.

    ``elongation``: (this mask's, the last confident mask's[, the first-frame mask's]);
    ``jump``/``elapsed``: pixels from the last confident centre, frames since it.
    Consistent at ≥ 0.5 (the lost threshold).
    """
    if area <= 0 or ref_area <= 0:
        return 0.0

    def ratio_cue(a: float, b: float, free: float) -> float:
        if b <= 0:  # nothing to compare with
            return 1.0
        if a <= 0:
            return 0.0
        r = a / b
        return float(np.clip(free * min(r, 1.0 / r), 0.0, 1.0))

    size = max(ratio_cue(area, ref_area, 1.5), ratio_cue(area, anchor_area, 1.5))
    size *= ratio_cue(area, anchor_area, 3.0)
    shape = max(ratio_cue(elongation[0], e, 1.5) for e in elongation[1:])
    colour = float(np.clip((colour_similarity - 0.5) / 0.4, 0.0, 1.0))
    reach = redetect_reach(ref_area, elapsed)
    position = 1.0 if jump <= reach else max(0.6, float(np.exp(-(jump - reach) / (2.0 * reach))))
    return size * shape * colour * position


def elongation(mask: np.ndarray) -> float:
    """How elongated a mask is: sqrt(largest / smallest eigenvalue of its second central
    moments) (1 for a disc or a square, 2.5 for a 1 × 2.5 rectangle)."""
    m = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    if m["m00"] <= 0:
        return 1.0
    a, b, c = m["mu20"], m["mu02"], m["mu11"]
    root = float(np.sqrt(4 * c * c + (a - b) ** 2))
    small = max((a + b - root) / 2, 1e-6 * m["m00"])
    return max(1.0, float(np.sqrt((a + b + root) / 2 / small)))


def redetect_colour(ref_colour: float) -> float:
    """Mean colour log-odds a placement found by re-detection must reach: half the anchor's,
    and at least 0.5 (clearly object-coloured)."""
    return max(0.5, 0.5 * ref_colour)


def click_radius(work_w: int, work_h: int) -> int:
    """Radius (px) of the sure-foreground / sure-background disc drawn at each click:
    ~1 % of the longest side, at least 2 px (a click is a point, not a region)."""
    return max(2, round(0.01 * max(work_w, work_h)))


def correction_radius(work_w: int, work_h: int) -> int:
    """How far (px) from a corrective click the existing mask may change: 12 % of the
    longest side. Farther pixels keep their label, so a click fixes a local error without
    GrabCut re-deciding the whole object."""
    return max(8, round(0.12 * max(work_w, work_h)))


def grow_tolerance() -> int:
    """Per-channel colour difference (0-255) for the flood fill that grows a probable region
    from a click: wide enough for shading across a uniform surface, narrow enough to stop at
    most object boundaries."""
    return 20


def guided_filter_radius(work_w: int, work_h: int) -> int:
    """Window radius of the edge-aware guided filter: ~0.8 % of the longest side (4 px at
    512), about the boundary error the colour re-fit leaves."""
    return max(1, round(0.008 * max(work_w, work_h)))


def guided_filter_eps() -> float:
    """Regularisation of the guided filter (intensities in [0, 1]): edges with a local
    contrast below ~0.05 are smoothed over rather than followed."""
    return 0.05**2


def background_ring(sigma: float) -> tuple[float, float]:
    """(inner, outer) distances (px) outside the mask whose pixels train the background
    colour model: beyond the boundary's uncertainty, but close enough to be the background
    the boundary is actually competing with."""
    return 3.0 * sigma, 3.0 * sigma + 24.0


def enclosed_background(mask: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """Background the object encloses (bool h×w): pixels inside the convex hull of ``mask``
    (bool h×w, an anchor mask) more than 1 px outside it (``signed``: its signed distance,
    px, > 0 inside) — under a car between its wheels, between a runner's legs, between an
    arm and the body. All False for an empty mask.

    Why: the background colour model learns from a ring that starts
    :func:`background_ring`'s inner distance out (3 boundary sigmas, ~11 px on a car
    at 512×288), so the background right next to the object, where a mask leaks first, is
    never seen. On DAVIS ``car-shadow`` the dark shadow under the car lies inside that
    distance; the model learnt the tyres and windows as the object's dark colours and
    called the shadow object (+0.5 log-odds on the anchor frame), and the mask took it in
    from frame 4 on (J ≈ 0.85 for 20 frames). Of these pixels, :meth:`BuiltinSession._anchor_state`
    adds those the ring-only model calls object (log-odds > 0) to the background's: the
    ones it gets wrong; adding all of them moved the colour model of objects whose enclosed
    background it already called background (dog −0.009, libby −0.013 J&F from the mask).

    DAVIS from the mask: car-shadow 0.792 → 0.830, kite-surf 0.837 → 0.855, held-out
    blackswan 0.913 → 0.918 and horsejump-high 0.827 → 0.830; dog 0.844 → 0.840, libby
    0.803 → 0.797. From the box: blackswan 0.895 → 0.903, horsejump-high 0.815 → 0.821,
    dog 0.845 → 0.852, libby 0.765 → 0.758. (The enclosed background as a band of attached
    background, :class:`~.builtin_outside.AttachedBackground`, instead: car-shadow 0.797,
    dog 0.827.)"""
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return np.zeros(mask.shape, bool)
    hull = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return (hull > 0) & (signed < -1.0)


# -- small image helpers ------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-clip(z))) in z's precision, computed in place on one temporary
    t = np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT)
    np.negative(t, out=t)
    np.exp(t, out=t)
    t += 1.0
    np.divide(1.0, t, out=t)
    return t.astype(np.float32, copy=False)


#: the smallest probability :func:`_logit` takes: sigmoid(−LOGIT_LIMIT), rounded to float32
_LOGIT_EPS = float(np.float32(1.0 / (1.0 + np.exp(LOGIT_LIMIT))))


def _logit(p: np.ndarray) -> np.ndarray:
    # log(q / (1 − q)) for q = clip(p) in p's precision, on two temporaries
    q = np.clip(p, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    odds = np.subtract(1.0, q)
    np.divide(q, odds, out=q)
    np.log(q, out=q)
    return q.astype(np.float32, copy=False)


#: :func:`_logit` of probability 0 (−LOGIT_LIMIT in float32 arithmetic)
_NO_PRIOR = float(_logit(np.zeros(1, np.float32))[0])


def _signed_distance(mask: np.ndarray, reach: int | None = None) -> np.ndarray:
    """Signed distance (px) to the mask boundary, positive inside, float32.

    ``reach``: computed on the mask's box grown by ``reach`` px only, and −``reach`` beyond
    it, where the distance is at least that (``step_window``: the same as the whole frame's
    on the box, where a 3×3 chamfer path between two of its pixels stays; 4× cheaper for an
    object a twentieth of the frame). None, or an empty mask: the whole frame."""
    bounds = mask_bounds(mask) if reach is not None else None
    if reach is None or bounds is None:
        m = mask.astype(np.uint8)
        inside = cv2.distanceTransform(m, cv2.DIST_L2, 3)
        outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
        return inside - outside
    h, w = mask.shape
    x0, y0 = max(0, bounds[0] - reach), max(0, bounds[1] - reach)
    x1, y1 = min(w, bounds[2] + reach), min(h, bounds[3] + reach)
    out = np.full((h, w), -float(reach), np.float32)
    out[y0:y1, x0:x1] = _signed_distance(mask[y0:y1, x0:x1])
    return out


def fit_distance_reach() -> int:
    """How far (px) outside an object its signed distance is computed for a step
    (:func:`_object_fit`, ``step_window``): beyond the widest background ring
    (:func:`background_ring` of :data:`BOUNDARY_SIGMA_MAX`), the farthest anything reads it,
    by a tenth (OpenCV's 3×3 chamfer counts a straight run of n px as 0.955 n) and 2 px."""
    return int(np.ceil(1.1 * background_ring(BOUNDARY_SIGMA_MAX)[1])) + 2


def _guide_box(radius: int) -> Callable[[np.ndarray], np.ndarray]:
    """The guided filter's box mean over a (2·``radius`` + 1)² window (float32, reflected)."""
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)

    return box


def _guide_stats(guide: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's statistics of the guide alone (its local mean and variance), which
    depend on the frame only: computed once a frame, beside the step (:meth:`_prepare`)."""
    box = _guide_box(radius)
    mean_i = box(guide)
    return mean_i, box(guide * guide) - mean_i * mean_i


def _guided_filter(
    guide: np.ndarray,
    src: np.ndarray,
    radius: int,
    eps: float,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """He et al.'s guided filter with a single-channel guide (float32 in [0, 1]). ``stats``:
    the guide's :func:`_guide_stats` for this ``radius``, when already computed."""
    box = _guide_box(radius)
    mean_i, var_i = _guide_stats(guide, radius) if stats is None else stats
    mean_p = box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def _fit_affine(
    displacement: np.ndarray,
    select: np.ndarray,
    max_points: int = 600,
    offset: tuple[int, int] = (0, 0),
) -> np.ndarray | None:
    """Robust affine motion (2×3, maps pixel (x, y) to (x, y) + displacement) of the selected pixels.

    ``displacement``: h×w×2 flow (dx, dy), here the forward flow from the previous frame.
    Iteratively reweighted least squares with Huber weights on a regular subsample of the
    selected pixels: the object's dominant motion, ignoring the minority of pixels whose flow
    follows the background (thin parts, boundaries). None when too few pixels are selected.

    The two coordinates share one 3×3 normal matrix (``[x, y, 1]`` weighted, plus 1e-6 on its
    diagonal), solved in closed form from its weighted sums: a fit is a few hundred points, on
    which NumPy's general solvers cost more in their bookkeeping than in the arithmetic (×1.3
    over ``np.linalg.solve``; the motions agree within 1e-5 px).

    ``offset``: (x, y) of the frame pixel where ``displacement`` and ``select`` start (a
    window of the frame, :class:`~.builtin_window.StepWindow`): the motion is the frame's,
    fitted on the frame's subsample, so a window holding every selected pixel gives the whole
    frame's fit.
    """
    count = int(np.count_nonzero(select))
    if count < 30:
        return None
    stride = max(1, int(np.sqrt(count / max_points)))
    # the frame's rows and columns 0, stride, 2·stride, … in the window's coordinates
    sx0, sy0 = -offset[0] % stride, -offset[1] % stride
    ys, xs = mask_pixels(select[sy0::stride, sx0::stride])
    if xs.size < 30:
        return None
    ys, xs = ys * stride + sy0, xs * stride + sx0
    flow = displacement.reshape(-1, 2)[ys * displacement.shape[1] + xs]
    x, y = (xs + offset[0]).astype(np.float64), (ys + offset[1]).astype(np.float64)
    tx = flow[:, 0].astype(np.float64) + x  # new positions
    ty = flow[:, 1].astype(np.float64) + y
    products = (x * x, x * y, y * y, x * tx, y * tx, x * ty, y * ty)
    weights = np.ones(xs.size)
    px = py = (0.0, 0.0, 0.0)
    for _ in range(4):
        sxx, sxy, syy, sxtx, sytx, sxty, syty = (float(weights @ v) for v in products)
        sx, sy, sw = float(weights @ x), float(weights @ y), float(weights.sum())
        sxx, syy, sw = sxx + 1e-6, syy + 1e-6, sw + 1e-6
        # the symmetric normal matrix's cofactors: inverse = cofactors / determinant
        c00, c01, c02 = syy * sw - sy * sy, sx * sy - sxy * sw, sxy * sy - syy * sx
        c11, c12, c22 = sxx * sw - sx * sx, sxy * sx - sxx * sy, sxx * syy - sxy * sxy
        det = sxx * c00 + sxy * c01 + sx * c02
        if not det > 0.0:  # NaN in the flow
            return None
        stx, sty = float(weights @ tx), float(weights @ ty)
        px = (
            (c00 * sxtx + c01 * sytx + c02 * stx) / det,
            (c01 * sxtx + c11 * sytx + c12 * stx) / det,
            (c02 * sxtx + c12 * sytx + c22 * stx) / det,
        )
        py = (
            (c00 * sxty + c01 * syty + c02 * sty) / det,
            (c01 * sxty + c11 * syty + c12 * sty) / det,
            (c02 * sxty + c12 * syty + c22 * sty) / det,
        )
        mx = px[0] * x + px[1] * y + px[2] - tx
        my = py[0] * x + py[1] * y + py[2] - ty
        residual = np.sqrt(mx * mx + my * my)
        scale = max(1.0, 1.4826 * _median(residual))
        weights = np.minimum(1.0, 1.5 * scale / np.maximum(residual, 1e-9))
    smallest, largest = _singular_values(px[:2], py[:2])
    limit = max_scale_change()
    if largest > limit or smallest < 1.0 / limit:
        # implausible deformation: keep a robust translation only
        return np.array([[1.0, 0.0, _median(tx - x)], [0.0, 1.0, _median(ty - y)]])
    return np.array([px, py])


def _singular_values(row0: Sequence[float], row1: Sequence[float]) -> tuple[float, float]:
    """The singular values (smallest, largest) of the 2×2 matrix [``row0``; ``row1``], in
    closed form."""
    a, b = row0
    c, d = row1
    total = a * a + b * b + c * c + d * d
    gap = float(np.hypot(a * a + b * b - c * c - d * d, 2.0 * (a * c + b * d)))
    return float(np.sqrt(max(0.0, (total - gap) / 2.0))), float(np.sqrt((total + gap) / 2.0))


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D float64 array (NaN when it holds one), computed as NumPy does
    (the middle order statistics by partition, two averaged as (a + b) / 2) without its
    general-purpose bookkeeping, which costs more than the partition on the few hundred
    values of a motion fit."""
    n = values.size
    if n == 0:
        return float("nan")
    half = n // 2
    kth = [half, n - 1] if n % 2 else [half - 1, half, n - 1]
    part = np.partition(values, kth)
    if np.isnan(part[-1]):
        return float("nan")
    if n % 2:
        return float(part[half])
    return float((part[half - 1] + part[half]) / 2)


def inversion_iterations() -> int:
    """Fixed-point iterations of :func:`invert_flow`. Chosen on the flows, not on tracking:
    against DIS's own forward flow on 30 frames each of four DAVIS sequences (dog, libby,
    car-shadow, kite-surf at 512×288) the mean end-point error stops falling at 3 (libby
    0.55 / 0.55 / 0.53 / 0.53 px for 1 / 2 / 3 / 5; medians 0.07–0.20 px throughout); what
    is left is where the two DIS directions disagree (occlusions), not the inversion."""
    return 3


def invert_flow(
    back: np.ndarray,
    starts: Sequence[np.ndarray],
    previous: np.ndarray,
    current: np.ndarray,
    level: int = 0,
) -> np.ndarray:
    """The forward flow (h×w×2 float32: each previous pixel's displacement) of the backward
    flow ``back`` (each current pixel's displacement to the previous frame), by
    :func:`inversion_iterations` of f(p) = −back(p + f(p)).

    The iteration is started from −back and from each of ``starts`` (forward initial flows,
    e.g. the motion search's: a fast object's own displacement, which −back at its old place
    does not hold, but also its shift on a margin of background around it). Each pixel keeps
    the answer under which ``previous`` (grey h×w) matches ``current`` best, over a 5×5
    window (the data term a forward flow would have been fitted to). Where no current pixel
    comes from p (occluded on the current frame) the answer is a neighbour's motion; the
    round-trip check of the two flows marks it. ``level``: the pyramid level DIS computed
    ``back`` on (:func:`finest_flow_level`); the inversion runs there, 4^level times
    cheaper, and is brought up to full size as DIS brings up its own flows.
    """
    h, w = back.shape[:2]
    factor = 2**level
    size = (max(1, w // factor), max(1, h // factor))
    if factor > 1:
        back = cv2.resize(back, size, interpolation=cv2.INTER_AREA) / np.float32(factor)
        # the starts are piecewise constant: keep their edges
        starts = [
            cv2.resize(st, size, interpolation=cv2.INTER_NEAREST) / np.float32(factor)
            for st in starts
        ]
        previous = cv2.resize(previous, size, interpolation=cv2.INTER_AREA)
        current = cv2.resize(current, size, interpolation=cv2.INTER_AREA)
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    grid = np.dstack([gx, gy])
    best: np.ndarray | None = None
    best_error: np.ndarray | None = None
    for start in (-back, *starts):
        fwd = start
        for _ in range(inversion_iterations()):
            fwd = cv2.remap(  # type: ignore[call-overload]
                back, cv2.add(grid, fwd), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            np.negative(fwd, out=fwd)
        if not starts:
            best = fwd
            break
        seen = cv2.remap(  # type: ignore[call-overload]
            current, cv2.add(grid, fwd), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        error = cv2.blur(cv2.absdiff(seen, previous).astype(np.float32), (5, 5))
        if best is None or best_error is None:
            best, best_error = fwd, error
        else:
            better = error < best_error
            np.copyto(best, fwd, where=better[..., None])
            np.minimum(best_error, error, out=best_error)
    assert best is not None
    if factor > 1:
        best = cv2.resize(best, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(factor)
    return np.asarray(best, np.float32)


def _make_flow(preset: str, work_w: int, work_h: int) -> Any:
    """A DIS optical-flow object for ``preset`` (see :data:`FLOW_PRESETS`) at this size."""
    dis_preset, level = FLOW_PRESETS[preset]
    flow = cv2.DISOpticalFlow_create(dis_preset)  # type: ignore[attr-defined]
    wanted = flow.getFinestScale() if level is None else level
    flow.setFinestScale(finest_flow_level(work_w, work_h, wanted))
    return flow


def _warp_affine(
    image: np.ndarray, motion: np.ndarray, size: tuple[int, int], fill: float | None = None
) -> np.ndarray:
    """Move ``image`` (previous frame) by the affine ``motion`` (previous → current pixels).
    ``fill``: value of pixels that come from outside the image (None: repeat the edge)."""
    if fill is None:
        return cv2.warpAffine(
            image, motion, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    return cv2.warpAffine(
        image,
        motion,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )


def _motion_llr(
    current: np.ndarray,
    previous: np.ndarray,
    obj_motion: np.ndarray,
    bg_motion: np.ndarray,
    gains: tuple[float, float] = (1.0, 1.0),
    layers: Sequence[MotionLayer] = (),
    window: StepWindow | None = None,
) -> np.ndarray:
    """Log-odds (float32, in [−4, 4]) that each pixel moves with the object, not the background.

    ``current`` / ``previous``: grey uint8 frames; the motions are affine (previous → current).
    Compares the local photometric error of the previous frame moved by the object's and by
    the background's motion (5×5 box-averaged), each scaled by its grey-level ``gains``
    (object, background) from the previous frame (a change of light, see
    :mod:`~sam2matting.trackers.builtin_appearance`). Where the two motions agree the errors are
    equal and the term is 0: it only speaks where the object moves relative to its
    surroundings, which is where flow smoothing across the boundary (thin parts left behind,
    background dragged along) hurts most. Within each of ``layers``' regions
    (:func:`~.builtin_layers.layer_region`) the background's error is the smaller of its own
    and the layer's (an occluder moving with a motion of its own).

    ``window``: the log-odds on that window of the frame only (its size; the motions and
    ``layers`` stay the frame's, and the previous frame is moved onto the window from the
    whole of it).
    """
    frame_size = (current.shape[1], current.shape[0])
    size = frame_size if window is None else window.size
    if window is not None:
        current = window.crop(current)

    def moved(motion: np.ndarray, gain: float) -> np.ndarray:
        out = _warp_affine(previous, motion if window is None else window.onto(motion), size)
        if gain == 1.0:
            return out
        return cv2.convertScaleAbs(out, alpha=gain)

    e_obj = cv2.blur(cv2.absdiff(current, moved(obj_motion, gains[0])), (5, 5))
    e_bg = cv2.blur(cv2.absdiff(current, moved(bg_motion, gains[1])), (5, 5))
    for layer in layers:
        e_layer = cv2.blur(cv2.absdiff(current, moved(layer.motion, 1.0)), (5, 5))
        region = layer_region(layer, frame_size)
        if window is not None:
            region = window.crop(region)
        e_bg = np.where(region, np.minimum(e_bg, e_layer), e_bg)
    e_obj_f = e_obj.astype(np.float32)
    e_bg_f = e_bg.astype(np.float32)
    noise = 255.0 * motion_noise_level()
    return (4.0 * (e_bg_f - e_obj_f) / (e_bg_f + e_obj_f + noise)).astype(np.float32)


def _colour_shift(colour: np.ndarray, predicted: np.ndarray) -> np.ndarray | None:
    """Translation (dx, dy) that moves the ``predicted`` mask onto object-coloured pixels.

    Slides the predicted mask over the colour log-likelihood-ratio map within half its size
    around the prediction (template matching, on a copy downscaled so the mask's long side is
    ~32 px) and maximises the summed log-odds under it. Returns None unless the best placement
    beats the prediction clearly (:func:`colour_shift_gain` log-odds per mask pixel): with
    ambiguous colours the flow stays in charge.
    """
    bounds = mask_bounds(predicted)
    if bounds is None or np.count_nonzero(predicted) < 16:
        return None
    h, w = predicted.shape
    x0, y0, x1, y1 = bounds
    reach = max(4, (max(x1 - x0, y1 - y0) + 1) // 2)
    scale = max(1.0, max(x1 - x0, y1 - y0) / 32.0)
    wx0, wy0 = max(0, x0 - reach), max(0, y0 - reach)
    wx1, wy1 = min(w, x1 + reach), min(h, y1 + reach)
    template: np.ndarray = predicted[y0:y1, x0:x1].astype(np.float32)
    window: np.ndarray = colour[wy0:wy1, wx0:wx1]
    if scale > 1.0:
        template = cv2.resize(
            template, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA
        )
        window = cv2.resize(window, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    th, tw = template.shape
    if window.shape[0] < th or window.shape[1] < tw:
        return None
    area = max(float(template.sum()), 1.0)
    score = np.asarray(cv2.matchTemplate(window, template, cv2.TM_CCORR), np.float32) / area
    # where the prediction itself sits in the score map
    px = min(max(round((x0 - wx0) / scale), 0), score.shape[1] - 1)
    py = min(max(round((y0 - wy0) / scale), 0), score.shape[0] - 1)
    # prefer short moves: a mask smaller than the object scores alike anywhere inside it
    gy, gx = np.mgrid[0 : score.shape[0], 0 : score.shape[1]].astype(np.float32)
    score -= colour_shift_cost() * scale * np.hypot(gx - px, gy - py)
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    if best - float(score[py, px]) < colour_shift_gain():
        return None
    return np.array([(bx - px) * scale, (by - py) * scale])


def _off_colour(mean_colour: float, ref_colour: float) -> bool:
    """Whether a mask whose mean colour log-odds are ``mean_colour`` sits on colours that are
    no longer the object's: under half the anchor's own mean ``ref_colour`` (an anchor whose
    colours barely differ from its background, ``ref_colour`` ≤ 0.25, never reads off; nor
    does an unknown mean, NaN)."""
    return ref_colour > 0.25 and mean_colour < 0.5 * ref_colour


def _colour_locates(state: _ObjectState) -> bool:
    """Whether the object's colours may move its predicted mask (:func:`_colour_shift`): not
    when its mask sat :func:`_off_colour` on the frame before.

    Why: the colour shift corrects a flow that lost a fast or textureless object, whose
    colours still say where it went. When the colours no longer explain the object (the
    light changed), they point at whatever still looks like its anchor: on DAVIS
    ``car-shadow``, with the sunlit front held (:func:`~.builtin_memory.floor_colour`),
    the shadow under the car (dark, like its tyres and windows) pulled the prediction down
    onto it on frame 35 (J 0.84 → 0.19 for the rest of the clip). A flow that lost the object
    leaves its mask off colour too, and the off-colour search of :meth:`BuiltinSession._step`
    looks for it then."""
    return not _off_colour(state.colour_mean, state.ref_colour)


def _displacement(motion: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(dx, dy) px by which the affine ``motion`` moves the centre of ``mask`` (bool)."""
    centre = mask_centre(mask)
    if centre is None:
        raise ValueError("_displacement: empty mask")
    cx, cy = centre
    nx = motion[0, 0] * cx + motion[0, 1] * cy + motion[0, 2]
    ny = motion[1, 0] * cx + motion[1, 1] * cy + motion[1, 2]
    return float(nx - cx), float(ny - cy)


def _crop_to_box(mask: np.ndarray) -> np.ndarray:
    """The mask cropped to its bounding box (bool)."""
    ys, xs = mask_pixels(mask)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


def redetect_reach(ref_area: float, elapsed: int) -> float:
    """How far (px) from where the object was last seen with confidence it may plausibly be
    ``elapsed`` frames later: its size (square root of its reference area) plus half its size
    per frame. Used by the re-detection search (:func:`_find_template`: placements farther
    away pay for it) and by :func:`redetect_consistency`."""
    scale = float(np.sqrt(max(ref_area, 1.0)))
    return scale * (1.0 + 0.5 * max(elapsed, 0))


def redetect_distance_cost() -> float:
    """Score (in units of the object's anchor colour log-odds) a re-detection placement pays
    per :func:`redetect_reach` beyond the reach: on 01_dog the whole-frame search otherwise
    jumped to a bed of brown leaves across the frame while the dog, turned towards the camera
    and showing less of its brown, stood where it was lost."""
    return 0.5


def redetect_contrast() -> float:
    """Weight of the surround in the re-detection score: a placement scores its mean colour
    log-odds minus this times the (positive part of the) evidence around it
    (:func:`_surround`). The
    object's colour model is learnt against the background next to it on the anchor frame,
    so a far region of colours that background lacked (a flower bed) is object-coloured
    throughout — inside the template and around it — while the object stands out from its
    surroundings."""
    return 0.5


def hidden_jump() -> float:
    """With ``hide_unconfirmed``, an unconfirmed re-detection (see :func:`redetect_probation`)
    that has not yet been consistent with the object (:func:`redetect_consistency`) for
    :func:`shown_after` frames in a row is reported as an empty mask when its centre lies more
    than this many object sizes (square root of the reference area) from where the object was
    last seen with confidence. Far candidates are mostly look-alikes (on 01_dog the owner's
    arm at 2.2 sizes, a bed of leaves at 4.4); near ones are mostly the object, partly found
    (DAVIS libby running off behind a hedge: 0.2–0.6 sizes, J 0.3–0.6): hiding every
    unconfirmed frame cost libby 0.654 → 0.535 J&F from its box."""
    return 1.0


def _holds_on_motion(
    mask: np.ndarray,
    found: np.ndarray,
    ref_area: float,
    motion: tuple[float, float],
    colour_change: float,
    ref_colour: float,
) -> bool:
    """Whether a tracked mask that went off its colours is kept against a re-detection
    ``found`` that holds them better (both bool masks): yes when the mask kept its size
    (:func:`lost_area_fraction` of ``ref_area`` or more), moves as an object, not as the
    background (``motion[0]``, the share of its pixels with motion log-odds > 0, at least
    :func:`regrown_motion_share`), its colours did not go over to the background's at once
    (``colour_change``, the change of the mask's mean colour log-odds since the frame before,
    fell by less than the anchor's own mean ``ref_colour``: from the object's to neutral in
    one frame at most), and ``found`` either lies away from it (centres more than
    :func:`hidden_jump` object sizes apart) or sits still (``motion[1]``, the share of its
    pixels whose motion log-odds are below −:func:`still_motion`, at least
    :func:`regrown_motion_share`: a look-alike in the background).

    Why: colours change under light (a car turning into the sun, its silver side gone as
    white as the walls behind), and then the colour model, learnt on the anchor, calls the
    object background while its motion still says object. A whole-frame search on those
    colours finds something else (DAVIS car-shadow from the box: the road's shadow in the
    frame's corner, 3.8 sizes away, J 0.53 → 0 for the rest of the clip). A mask that drifted
    onto the background moves with the background and is still given up; so is a collapsed
    one, and a nearby candidate (the object partly found again) is still taken. So is a mask
    whose colours went over to the background's at once: an object that vanished leaves its
    warped mask on the background for a frame, whose motion evidence is noise there (the
    synthetic reappearance clip on its vanishing frame: mean log-odds from +2.5 to −2.0, a
    fall of 1.8 references, with 64–76 % "moving"; car-shadow's fall 0.1–0.2 references a
    frame; the synthetic relit object's at most 0.5). Light that changes that much at once
    reads as a vanished object, and the object is searched for.

    A nearby placement that sits still is no object found again either: on the synthetic
    ``out-of-the-shadow`` clip (:func:`~sam2matting.eval.light_clips.out_of_the_shadow_clip`)
    the object, held through the light change (J 0.99), was swapped on 3 of 4 seeds for a
    still copy of its shaded look 60 px below it (J 0 to the end)."""
    if (
        np.count_nonzero(mask) < lost_area_fraction() * ref_area
        or motion[0] < regrown_motion_share()
        or not -colour_change < ref_colour
    ):
        return False
    here, there = mask_centre(mask), mask_centre(found)
    if here is None or there is None:
        return False
    jump = float(np.hypot(there[0] - here[0], there[1] - here[1]))
    return (
        jump > hidden_jump() * float(np.sqrt(max(ref_area, 1.0)))
        or motion[1] >= regrown_motion_share()
    )


def still_motion() -> float:
    """Motion log-odds (``motion_strength`` × :func:`_motion_llr`) below which a pixel moves
    with the background clearly, for :func:`_holds_on_motion`'s still placements. Clearly:
    a placement the flow could not follow (a fast object the flow lost, and with it the
    object's motion model) is explained by neither motion, and its log-odds scatter around
    0. Taking "not > 0" for still held a lost mask against the object found again on the
    synthetic fast-motion clips with the flow started from zero (lowest J 0.39–0.43 →
    0.00–0.29); the still copy on the out-of-the-shadow clip reads 0.85 below −1."""
    return 1.0


def shown_after() -> int:
    """Consecutive consistent frames after which an unconfirmed re-detection is reported
    again although far from where the object was lost (see :func:`hidden_jump`). 1: a
    candidate is hidden on the frames it is inconsistent with the object. A fast object found
    again is consistent frame after frame (the synthetic orbit with the flow from zero: J 0.9
    on its probation frames); a look-alike passes for single frames now and then (the
    synthetic reappearance clip's enlarged copy of the object: 4 frames of 108 shown at 1,
    none at 2), but 2 hides the first frame of every true far re-detection (the orbit and
    zigzag with the flow from zero: mean J 0.92 → 0.86 and 0.83 → 0.65)."""
    return 1


def _find_template(
    colour: np.ndarray,
    template: np.ndarray,
    threshold: float,
    near: tuple[float, float] | None = None,
    reach: float = 0.0,
    cost: float = 0.0,
) -> np.ndarray | None:
    """Place ``template`` (bool, cropped) where the object most likely is, over the whole
    frame (on a copy downscaled so the template's long side is ~24 px); the placed mask
    (bool, frame size), or None when no placement's mean colour log-odds reaches
    ``threshold``.

    A placement scores its mean colour log-odds, minus :func:`redetect_contrast` times the
    positive part of its surround's evidence (:func:`_surround`: a region of object colours
    larger than the object is not the object), minus ``cost`` per ``reach`` px its centre lies beyond
    ``reach`` from ``near`` (working-resolution px; None: no position prior)."""
    h, w = colour.shape
    th, tw = template.shape
    if th > h or tw > w or not template.any():
        return None
    scale = max(1.0, max(th, tw) / 24.0)
    small_t: np.ndarray = template.astype(np.float32)
    small_c: np.ndarray = colour
    if scale > 1.0:
        # explicit size: a 1-px-wide template (a strand) keeps one column, not zero
        small_t = cv2.resize(
            small_t,
            (max(1, round(tw / scale)), max(1, round(th / scale))),
            interpolation=cv2.INTER_AREA,
        )
        small_c = cv2.resize(colour, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    if small_t.shape[0] > small_c.shape[0] or small_t.shape[1] > small_c.shape[1]:
        return None
    area = max(float(small_t.sum()), 1.0)
    inside = np.asarray(cv2.matchTemplate(small_c, small_t, cv2.TM_CCORR), np.float32) / area
    score = inside.copy()
    weight = redetect_contrast()
    if weight > 0:
        score -= weight * np.maximum(_surround(small_c, small_t.shape), 0.0)
    if near is not None and reach > 0 and cost > 0:
        ys, xs = np.mgrid[0 : score.shape[0], 0 : score.shape[1]].astype(np.float32)
        # placement centre in working-resolution px
        cx = (xs + small_t.shape[1] / 2.0) * scale
        cy = (ys + small_t.shape[0] / 2.0) * scale
        dist = np.hypot(cx - near[0], cy - near[1])
        score -= cost * np.maximum(dist - reach, 0.0) / reach
    score[inside < threshold] = -np.inf
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    if not np.isfinite(best):
        return None
    x0 = min(max(round(bx * scale), 0), w - tw)
    y0 = min(max(round(by * scale), 0), h - th)
    out = np.zeros((h, w), bool)
    out[y0 : y0 + th, x0 : x0 + tw] = template
    return out


def _surround(colour: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """For each placement of a ``shape`` (h, w) box on ``colour`` (as by
    :func:`cv2.matchTemplate`), the second highest of the mean evidence in the four strips
    (a quarter of the box's long side wide) left, right, above and below it; outside the frame
    counts as 0. An object stands out on at least three sides; a placement inside, along the
    edge or in a corner of a larger region of its colours has two or more such sides."""
    th, tw = int(shape[0]), int(shape[1])
    pad = max(2, round(0.25 * max(th, tw)))
    padded = cv2.copyMakeBorder(colour, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    n, m = colour.shape[0] - th + 1, colour.shape[1] - tw + 1
    upright = np.ones((th, pad), np.float32) / (th * pad)
    flat = np.ones((pad, tw), np.float32) / (pad * tw)
    side = np.asarray(cv2.matchTemplate(padded, upright, cv2.TM_CCORR), np.float32)
    cap = np.asarray(cv2.matchTemplate(padded, flat, cv2.TM_CCORR), np.float32)
    left = side[pad : pad + n, 0:m]
    right = side[pad : pad + n, tw + pad : tw + pad + m]
    above = cap[0:n, pad : pad + m]
    below = cap[th + pad : th + pad + n, pad : pad + m]
    return _second_highest(left, right, above, below)


def _second_highest(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Element-wise second highest of four arrays: the larger of the two pairs' smaller
    maxima and larger minima (comparisons only: exactly ``np.sort(np.stack(...), 0)[2]``, at
    a fraction of the cost of sorting four values per pixel)."""
    ab_hi, ab_lo = np.maximum(a, b), np.minimum(a, b)
    cd_hi, cd_lo = np.maximum(c, d), np.minimum(c, d)
    return np.maximum(np.minimum(ab_hi, cd_hi), np.maximum(ab_lo, cd_lo))


def held_by_others(
    previous: dict[int, _ObjectState], obj: int, config: BuiltinTrackerConfig
) -> np.ndarray | None:
    """bool: the pixels objects other than ``obj`` held on the previous frame while trusted
    (confident, not a re-detection on probation), or None (``object_competition`` off, or no
    such object)."""
    if not config.object_competition:
        return None
    held = [
        st.logits > 0
        for other, st in previous.items()
        if other != obj and not st.doubt and st.score >= confident_score()
    ]
    return np.logical_or.reduce(held) if held else None


def _regrow(logits: np.ndarray, colour: np.ndarray, reach: int) -> np.ndarray:
    """Give back to the object the clearly object-coloured pixels next to its mask.

    The re-fitted mask shrinks where the warped prior misses the object (thin parts the flow
    smoothed away, a part emerging from behind an occluder, a leg that moved faster than the
    body); the capped colour term alone cannot pull them back against the prior. Pixels whose
    colour log-odds reach :func:`regrow_colour`, within ``reach`` px of the mask and connected
    to it through such pixels, become object (logit ≥ 1). On the DAVIS tuning sequences the
    errors were mostly missed object pixels (false negatives 3–4× the false positives).
    """
    current = logits > 0
    bounds = mask_bounds(current)
    if bounds is None:
        return logits
    # on the mask's box grown by the reach (+1 for the dilation's edge): nothing beyond it
    # can be added, so the result is the whole frame's
    h, w = current.shape
    x0, y0 = max(0, bounds[0] - reach - 1), max(0, bounds[1] - reach - 1)
    x1, y1 = min(w, bounds[2] + reach + 1), min(h, bounds[3] + reach + 1)
    current = current[y0:y1, x0:x1]
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate(current.astype(np.uint8), disc) > 0
    candidate = (colour[y0:y1, x0:x1] >= regrow_colour()) & near & ~current
    if not candidate.any():
        return logits
    added = _components_touching(candidate | current, current) & candidate
    out = logits.astype(np.float32)  # a copy
    part = out[y0:y1, x0:x1]
    part[added] = np.maximum(part[added], 1.0)
    return out


#: what the flow's motion search starts from, per object: a mask and the last displacement
SearchObjects = list[tuple[np.ndarray, tuple[float, float]]]


def _search_objects(states: dict[int, _ObjectState]) -> SearchObjects:
    """What the flow's motion search needs of each object: its mask and last displacement."""
    return [(st.prob > 0.5, st.velocity) for st in states.values()]


@dataclass(frozen=True)
class _ObjectFit:
    """What an object's step starts from on a flow: its previous mask, that mask's signed
    distance, the boundary's uncertainty (px, :func:`boundary_sigma`) and the robust affine
    motion of the mask's interior on the flow (None: too few interior pixels)."""

    mask: np.ndarray
    signed: np.ndarray
    sigma: float
    motion: np.ndarray | None


def _object_fit(
    prob: np.ndarray, flow: _Flow, boundary_uncertainty: float, windowed: bool = False
) -> _ObjectFit:
    """:class:`_ObjectFit` of a non-empty soft mask ``prob`` on ``flow``: the motion of the
    pixels deeper than the boundary's uncertainty (the boundary's own flow mixes in the
    background's). ``windowed`` (``step_window``): the signed distance near the object only
    (:func:`fit_distance_reach`)."""
    mask = prob > 0.5
    sigma = boundary_sigma(float(np.count_nonzero(mask)), boundary_uncertainty)
    signed = _signed_distance(mask, fit_distance_reach() if windowed else None)
    return _ObjectFit(mask, signed, sigma, _fit_affine(flow.fwd, signed > sigma))


def prediction_tolerance() -> float:
    """How far (a share of the object's size, the square root of its area) an object's motion
    on the flow to the frame being stepped may differ from its last displacement before
    :func:`_predicted_search_objects` moves its mask by the former. Within it the last
    displacement is kept: on DAVIS as filmed the flow's motion alone cost libby 0.808 →
    0.786 J&F (its flow fails behind a fence, where the last displacement carries the colour
    re-placement of the step before); beyond it an object that sped up or turned would be
    searched from where it no longer is (synthetic orbit and zigzag at 30–50 px a frame:
    lowest J 0.44 / 0.42 with the last displacement alone, 0.91 / 0.94 with this). Chosen
    by that reasoning, not tuned: 0.1 was the only value tried."""
    return 0.1


def _predicted_search_objects(
    states: dict[int, _ObjectState],
    flow: _Flow | None,
    boundary_uncertainty: float,
    windowed: bool = False,
) -> tuple[SearchObjects, dict[int, _ObjectFit]]:
    """:func:`_search_objects` one frame on, before that frame is tracked (``early_flow``):
    each object's mask moved to that frame, with its last displacement (around which the
    search looks); and each object's :class:`_ObjectFit` on ``flow`` (its step needs the
    same). ``flow``: the flow from the objects' frame to that frame. The mask moves by the
    object's last displacement, or by the motion of its interior on ``flow`` (at the mask's
    centre: what the step will find, unless the object's colours move it) where the two
    differ by more than :func:`prediction_tolerance` of the object's size. ``windowed``:
    see :func:`_object_fit`."""
    out: SearchObjects = []
    fits: dict[int, _ObjectFit] = {}
    for obj, st in states.items():
        mask = st.prob > 0.5
        dx, dy = st.velocity
        if flow is not None and mask.any():
            fit = fits[obj] = _object_fit(st.prob, flow, boundary_uncertainty, windowed)
            if fit.motion is not None:
                fx, fy = _displacement(fit.motion, mask)
                size = float(np.sqrt(np.count_nonzero(mask)))
                if np.hypot(fx - dx, fy - dy) > prediction_tolerance() * size:
                    dx, dy = fx, fy
        if mask.any() and (dx, dy) != (0.0, 0.0):
            mask = shifted(mask, dx, dy)
        out.append((mask, st.velocity))
    return out, fits


def _taken_from_lost(
    states: dict[int, _ObjectState], previous: dict[int, _ObjectState]
) -> dict[int, float]:
    """Object → the largest fraction of another object's last trusted mask (its
    ``template``) that the object's mask covers now, counting only objects that were lost on
    the previous frame (see :func:`swallow_cue`)."""

    def place(obj: int, template: np.ndarray) -> np.ndarray:
        # the template moved with the camera since (``object_competition``), else as it was
        territory = states[obj].territory
        return template if territory is None else territory.moved()

    lost = [
        (obj, place(obj, st.template))
        for obj, st in previous.items()
        if st.score < 0.5 and st.template is not None and obj in states
    ]
    out: dict[int, float] = {}
    if not lost:
        return out
    for obj, st in states.items():
        mask = st.logits > 0
        fractions = [
            float(np.count_nonzero(mask & tpl)) / max(float(np.count_nonzero(tpl)), 1.0)
            for other, tpl in lost
            if other != obj
        ]
        out[obj] = max(fractions, default=0.0)
    return out


# -- colour model ---------------------------------------------------------------------------------


@dataclass
class _ColourModel:
    """Foreground / background colour distributions as smoothed 3-D histograms (probabilities)."""

    fg: np.ndarray
    bg: np.ndarray
    table: np.ndarray = field(init=False)
    _ratio: np.ndarray = field(init=False, repr=False)
    _raised: dict[float, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        weight = unseen_colour_weight()
        uniform = 1.0 / self.fg.size
        fg = (1 - weight) * self.fg + weight * uniform
        bg = (1 - weight) * self.bg + weight * uniform
        limit = colour_llr_limit()
        self._ratio = (np.log(fg) - np.log(bg)).astype(np.float32)
        self.table = np.clip(self._ratio, -limit, limit)

    @staticmethod
    def histogram(index: np.ndarray, select: np.ndarray, bins: int) -> np.ndarray | None:
        """Normalised, smoothed histogram of the colour bins under ``select``; None if empty."""
        values = index[select]
        if values.size < 16:
            return None
        counts = np.bincount(values, minlength=bins**3).astype(np.float64).reshape(bins, bins, bins)
        # smooth across neighbouring bins so unseen but similar colours get support
        for axis in range(3):
            c = np.moveaxis(counts, axis, 0)
            out = 0.5 * c
            out[1:] += 0.25 * c[:-1]
            out[:-1] += 0.25 * c[1:]
            counts = np.moveaxis(out, 0, axis)
        flat = counts.reshape(-1)
        return flat / flat.sum()

    @classmethod
    def learn(
        cls, index: np.ndarray, fg_select: np.ndarray, bg_select: np.ndarray, bins: int
    ) -> _ColourModel:
        fg = cls.histogram(index, fg_select, bins)
        bg = cls.histogram(index, bg_select, bins)
        uniform = np.full(bins**3, 1.0 / bins**3)
        return cls(fg if fg is not None else uniform, bg if bg is not None else uniform)

    def updated(
        self,
        index: np.ndarray,
        fg_select: np.ndarray,
        bg_select: np.ndarray,
        bins: int,
        rate: float,
    ) -> _ColourModel:
        fg = self.histogram(index, fg_select, bins)
        bg = self.histogram(index, bg_select, bins)
        new_fg = self.fg if fg is None else (1 - rate) * self.fg + rate * fg
        new_bg = self.bg if bg is None else (1 - rate) * self.bg + rate * bg
        return _ColourModel(new_fg, new_bg)

    def llr(self, index: np.ndarray, upper: float | None = None) -> np.ndarray:
        """Clipped log p(colour | object) − log p(colour | background), per pixel: within
        ±:func:`colour_llr_limit`, or up to ``upper`` on the object's side when given."""
        if upper is None:
            return self.table[index]
        table = self._raised.get(upper)
        if table is None:
            table = np.clip(self._ratio, -colour_llr_limit(), upper)
            self._raised[upper] = table
        return table[index]


# -- per-frame and per-object state ---------------------------------------------------------------


@dataclass
class _WorkFrame:
    """One frame at the working resolution: RGB, grey (uint8 and float) and colour-bin index."""

    index: int
    rgb: np.ndarray
    gray: np.ndarray
    guide: np.ndarray
    bins: np.ndarray
    #: the frame at its native resolution, RGB uint8 (``thin_structures`` only)
    native: np.ndarray | None = None
    #: the learned pixel embeddings (``embed_strength``), computed on first use
    embedding: np.ndarray | None = None
    #: the guided filter's statistics of ``guide`` (:func:`_guide_stats`; ``edge_refine``)
    guide_stats: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class _Flow:
    """Optical flow between the previous and the current frame.

    ``back``: h×w×2 float32, where each current pixel was on the previous frame (a sampling
    map for :func:`cv2.remap`); ``fwd``: h×w×2 float32 displacement (dx, dy) of each previous
    pixel; ``unreliable``: bool h×w, current pixels whose forward–backward round trip misses
    (occluded or uncovered background, flow failures).
    """

    back: np.ndarray
    fwd: np.ndarray
    unreliable: np.ndarray


@dataclass
class _ObjectState:
    """An object on one frame: soft mask (working resolution, float32 [0, 1]) + colour model.

    The rest is what confidence and re-detection need: ``ref_area`` (pixels; the object's size
    on its anchor, followed on confident frames), ``template`` (the last confident mask: the
    shape re-detection searches for; kept at frame size so the state's size is constant), ``ref_colour`` (mean colour log-odds
    inside the mask on the anchor frame) and ``score`` (this frame's confidence, [0, 1]).
    """

    prob: np.ndarray
    model: _ColourModel
    logits: np.ndarray
    ref_area: float = 0.0
    template: np.ndarray | None = None
    ref_colour: float = 0.0
    score: float = 1.0
    #: re-detected and not yet shown to be the object (see :func:`redetect_consistency`)
    doubt: bool = False
    #: consecutive consistent frames since the re-detection
    trust: int = 0
    #: long-term model the re-detection is checked against: first-frame size, and where
    #: (centre x, y at working resolution) and on which frame the object was last confident
    anchor_area: float = 0.0
    centre: tuple[float, float] = (0.0, 0.0)
    seen_at: int = 0
    #: :func:`elongation` of the last confident mask and of the anchor mask
    elongation: float = 1.0
    anchor_elongation: float = 1.0
    #: the object's last displacement (dx, dy) px, for the constant-velocity prediction of
    #: :mod:`~sam2matting.trackers.builtin_motion`
    velocity: tuple[float, float] = (0.0, 0.0)
    #: thin line segments attached to the object (``thin_structures``), native resolution
    lines: tuple[ThinLine, ...] = ()
    #: the colour model's anchor, gains and memory (``appearance_alignment`` /
    #: ``appearance_memory``; None: the model stays the anchor's)
    appearance: _appearance.Appearance | None = None
    #: this frame's aligned anchor colour model, without the memory (None: ``model``)
    anchor_model: _ColourModel | None = None
    #: the object's recent confident shape moved to this frame (``part_memory``; float32,
    #: [0, 1]; None: start from the mask), see :mod:`~sam2matting.trackers.builtin_memory`
    memory: np.ndarray | None = None
    #: the grey frame (uint8) the memory was last confirmed on, moved with it
    memory_image: np.ndarray | None = None
    #: the anchor's and the last confident frame's embeddings and labels
    #: (``embed_strength``, :mod:`.builtin_embed`)
    embed_anchor: Any = None
    embed_recent: Any = None
    #: where the object was last trusted, moved with the camera (``object_competition``)
    territory: Territory | None = None
    #: motion layers found around the object on the last step (``motion_layers``, see
    #: :mod:`.builtin_layers`): this step's layers must continue one of them
    layers: LayerTrace | None = None
    #: share of this step's mask whose motion evidence says "moves as the object, not as the
    #: background" (0 without motion evidence), see :func:`regrown_frames`
    moving: float = 0.0
    #: mean colour log-odds inside this step's mask (NaN where not measured: a state made
    #: without a step's colour evidence), see :func:`_holds_on_motion`
    colour_mean: float = float("nan")
    #: the mask's size on the frame before (pixels; 0 on the anchor)
    last_area: float = 0.0
    #: consecutive frames the mask held more than the reference size allows, steady, with the
    #: object's colours and motion (see :func:`regrown_frames`)
    grown: int = 0
    #: the same for a mask below the reference size, shrinking steadily in the shape of the
    #: last confident mask (see :func:`shrink_shape_iou`); −1 once a frame since the last
    #: confident one was not, until the next confident frame
    shrunk: int = 0
    #: the background band next to the anchor mask, moved with the object
    #: (``attached_background``; None: off, or ended by a re-detection or an empty mask)
    outside: AttachedBackground | None = None
    #: the object's motion relative to the background on the last steps, (dx, dy) px,
    #: oldest first (:func:`~.builtin_parts.recovery_history` of them)
    relative: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class _FlowAhead:
    """The next frame of a propagation (its ``index``) being prepared, and its flow from the
    cursor's frame computed, in a worker thread while the current frame is tracked, handed
    out and consumed."""

    index: int
    work: Future[tuple[_WorkFrame, _Flow]]


@dataclass
class _Cursor:
    """Where the last propagation stopped (``step`` +1 forward, −1 backward): enough to
    continue it without re-running. ``search``: what the next frame's flow starts its motion
    search from (decided on this frame, see ``early_flow``); ``ahead``: that flow, under way."""

    frame: _WorkFrame
    states: dict[int, _ObjectState]
    step: int
    search: SearchObjects
    ahead: _FlowAhead | None = None


@dataclass
class _FramePrompts:
    """Prompts of one object on one frame: an optional box/mask base plus accumulated clicks."""

    base: Box | MaskPrompt | None = None
    points: list[Points] = field(default_factory=list)

    def clicks(self, sx: float, sy: float) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(positive, negative) clicks in working-resolution pixel coordinates."""
        pos: list[tuple[int, int]] = []
        neg: list[tuple[int, int]] = []
        for p in self.points:
            for (x, y), label in zip(p.coords, p.labels):
                xy = (int(x * sx), int(y * sy))
                (pos if label == 1 else neg).append(xy)
        return pos, neg


# -- the tracker --------------------------------------------------------------------------------


class BuiltinTracker:
    """The weight-free tracker (see the module docstring for the method)."""

    name = "builtin"
    provides_features = False
    prompt_types: tuple[type, ...] = (Points, Box, MaskPrompt)

    def __init__(self, config: BuiltinTrackerConfig | None = None) -> None:
        self.config = config or BuiltinTrackerConfig()

    def open(self, source: FrameSource) -> BuiltinSession:
        """Start a session over ``source`` (not closed by the session)."""
        return BuiltinSession(source, self.config)


def build(**options: Any) -> BuiltinTracker:
    """Registry builder: ``options`` are :class:`BuiltinTrackerConfig` fields."""
    from ..options import check_options

    check_options("the builtin tracker", BuiltinTrackerConfig, options)
    return BuiltinTracker(BuiltinTrackerConfig(**options))


class BuiltinSession:
    """A tracking session of :class:`BuiltinTracker` over one frame source."""

    def __init__(self, source: FrameSource, config: BuiltinTrackerConfig) -> None:
        self._source: FrameSource | None = source
        self.config = config
        info = source.info
        self._width, self._height, self._num_frames = info.width, info.height, info.num_frames
        self._work_w, self._work_h = working_size(info.width, info.height, config.max_side)
        if info.num_frames > 1 and max(self._work_w, self._work_h) < MIN_FLOW_SIDE:
            raise InputError(
                f"frames are {info.width}×{info.height}: the builtin tracker's optical flow "
                f"needs at least {MIN_FLOW_SIDE} px on one side"
            )
        self._sx = self._work_w / info.width
        self._sy = self._work_h / info.height
        self._prompts: dict[int, dict[int, _FramePrompts]] = {}
        #: standalone anchors (from the frame's prompts alone), computed when a prompt is added
        self._anchors: dict[tuple[int, int], np.ndarray] = {}
        self._cursor: _Cursor | None = None
        #: DIS objects (backward, forward) for flows asked for on the caller's thread, and
        #: another pair for the next frame's flow computed ahead (:meth:`_look_ahead`): DIS
        #: is not thread-safe, and a prompt added between two frames computes flows on the
        #: caller's thread while the look-ahead may be running
        self._dis = self._dis_pair()
        self._dis_ahead = self._dis_pair()
        self._dis_init: tuple[Any, Any] | None = None
        #: with ``flow_window``: each tracking DIS object's twin one pyramid level coarser,
        #: by the object's id (:meth:`_calc`); none where the frame is too small for one
        self._coarse: dict[int, Any] = {}
        if config.flow_window:
            for dis in (*self._dis, *self._dis_ahead):
                twin = self._coarse_twin(dis)
                if twin is not None:
                    self._coarse[id(dis)] = twin
        # the pyramid level DIS computes its flows on (the forward one is inverted there)
        self._flow_level = int(self._dis[0].getFinestScale())
        #: runs each pair's forward flow beside its backward one (OpenCV releases the GIL)
        self._flow_worker: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="builtin-flow"
        )
        #: computes the next frame's flow while the current one is scored and consumed
        self._ahead_worker: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="builtin-ahead"
        )
        grid_y, grid_x = np.mgrid[0 : self._work_h, 0 : self._work_w].astype(np.float32)
        self._grid = np.dstack([grid_x, grid_y])
        #: optional observer of the per-frame stages (benchmarks/bench_builtin_anatomy.py):
        #: called as ``trace(frame_index, object_id, stage, mask)`` with a bool working-size mask
        self.trace: Callable[[int, int, str, np.ndarray], None] | None = None
        self._tracing: tuple[int, int] = (0, 0)
        #: pixels other, trusted objects held on the previous frame (``object_competition``):
        #: a re-detection does not search inside them
        self._held_by_others: np.ndarray | None = None
        self._refiner: Any = None
        if config.learned_refine:
            from .builtin_learned import LearnedRefiner, load_refiner

            self._refiner = LearnedRefiner(load_refiner(config.refiner_weights))
        #: the clean plate (:mod:`~sam2matting.trackers.builtin_plate`) by reference frame, and
        #: this frame's change evidence (index, evidence, valid, background change share)
        self._plates: dict[int, Plate | None] = {}
        self._plate_frame: tuple[int, np.ndarray, np.ndarray, float] | None = None
        #: the last frame of this run found aligned with the plate without any camera motion
        self._plate_still_at: int | None = None
        #: where the objects were on the previous frame (the plate's background is elsewhere)
        self._plate_objects: np.ndarray | None = None
        self._embedder: Any = None
        if config.embed_strength > 0:
            from .builtin_embed import EmbeddingCue, load_embedder

            self._embedder = EmbeddingCue(load_embedder(config.embed_weights))

    # -- public API ----------------------------------------------------------------------------

    @property
    def object_ids(self) -> list[int]:
        """Ids of every object prompted so far, ascending."""
        return sorted(self._prompts)

    @property
    def working_size(self) -> tuple[int, int]:
        """(width, height) of the working resolution (the size of the returned logits)."""
        return self._work_w, self._work_h

    def add_prompt(self, prompt: Prompt) -> None:
        """Add a points / box / mask prompt; raises PromptError for text or an empty result."""
        source = self._require_open()
        if isinstance(prompt, TextPrompt):
            raise PromptError("the builtin tracker cannot use text prompts; use --tracker sam3")
        if not isinstance(prompt, (Points, Box, MaskPrompt)):
            raise PromptError(f"the builtin tracker cannot use {type(prompt).__name__} prompts")
        validate_prompt(prompt, self._width, self._height, self._num_frames)
        per_frame = self._prompts.get(prompt.object_id, {})
        old = per_frame.get(prompt.frame)
        entry = _FramePrompts() if old is None else _FramePrompts(old.base, list(old.points))
        if isinstance(prompt, Points):
            entry.points.append(prompt)
        else:
            # a box or mask replaces everything given on this frame for this object
            entry = _FramePrompts(base=prompt)
        frame = self._prepare(prompt.frame, source.read_frame(prompt.frame))
        anchor = self._standalone_anchor(entry, frame)
        if not (anchor > 0.5).any():
            raise PromptError(f"prompt selected nothing on frame {prompt.frame}")
        per_frame[prompt.frame] = entry
        self._prompts[prompt.object_id] = per_frame
        self._anchors[(prompt.object_id, prompt.frame)] = anchor
        self._cursor = None  # the continuation state may contradict the new prompt

    def propagate(
        self, start_frame: int, *, reverse: bool = False, end_frame: int | None = None
    ) -> Iterator[TrackedFrame]:
        """Yield tracked frames from ``start_frame`` to ``end_frame`` inclusive (see module doc)."""
        self._require_open()
        end = propagation_end(start_frame, reverse, end_frame, self._num_frames)
        return self._propagate(start_frame, end, -1 if reverse else 1)

    def close(self) -> None:
        """Release the session's state (the source stays open). Idempotent."""
        self._source = None
        self._cursor = None
        self._anchors.clear()
        for worker in (self._ahead_worker, self._flow_worker):
            if worker is not None:
                worker.shutdown(wait=True)
        self._ahead_worker = self._flow_worker = None

    def __enter__(self) -> BuiltinSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- propagation ---------------------------------------------------------------------------

    def _require_open(self) -> FrameSource:
        if self._source is None:
            raise Sam2MattingError("the tracker session is closed")
        return self._source

    def _propagate(self, start: int, end: int, step: int) -> Iterator[TrackedFrame]:
        cursor = self._starting_cursor(start, step)
        yield from self._run(start, end, step, cursor)

    def _starting_cursor(self, start: int, step: int) -> _Cursor | None:
        """The state just before ``start`` in the direction of travel (None: nothing tracked).

        Continues the previous run when it stopped next to ``start`` going the same way;
        otherwise silently re-runs from :meth:`_replay_origin`, so the frames yielded from
        ``start`` on are exactly those of one run from the prompts.
        """
        cursor = self._cursor
        if cursor is not None and cursor.step == step and cursor.frame.index == start - step:
            return cursor
        origin = self._replay_origin(start, step)
        if origin == start:
            return None
        for _ in self._run(origin, start - step, step, None):
            pass
        return self._cursor

    def _replay_origin(self, start: int, step: int) -> int:
        """The nearest frame at or before ``start`` (in the direction of travel) from which a
        run reproduces a run from the first prompt: every object prompted before it is
        re-anchored there by a box or mask (clicks alone refine the incoming mask, so they
        depend on history). ``start`` itself when no prompt lies before it."""
        frames = {f for per in self._prompts.values() for f in per if f * step <= start * step}
        for f in sorted(frames, key=lambda g: -g * step):  # nearest first
            history_free = all(
                f in per and per[f].base is not None
                for per in self._prompts.values()
                if any(g * step < f * step for g in per)
            )
            if history_free:
                return f
        return start

    def _frames(self, start: int, end: int, step: int) -> Iterator[tuple[int, np.ndarray]]:
        source = self._require_open()
        if step > 0:
            return source.iter_frames(start, end + 1)
        return source.iter_frames_reverse(start, end)

    def _run(
        self, start: int, end: int, step: int, cursor: _Cursor | None
    ) -> Iterator[TrackedFrame]:
        """Track from ``start`` to ``end`` (inclusive) continuing ``cursor``; yields every frame.

        Each frame's flow from the one before is started in a worker thread
        (:meth:`_look_ahead`): with ``early_flow`` as soon as that one's step starts, its motion
        search from the predicted masks (:func:`_predicted_search_objects`), else (and on and
        after a prompted frame) as soon as that one's masks are final. What the search starts
        from is decided on the frame before and kept in the cursor, so a flow computed when the
        frame comes up (a run continued elsewhere) is the same."""
        frames = iter(self._frames(start, end, step))
        upcoming = next(frames, None)
        while upcoming is not None:
            index, image = upcoming
            ahead = cursor.ahead if cursor is not None else None
            if ahead is not None and ahead.index != index:
                ahead = None
            # the worker is done before anything else here may use the flow objects
            ahead_flow: _Flow | None = None
            if ahead is not None:
                frame, ahead_flow = ahead.work.result()
            else:
                frame = self._prepare(index, image)
            previous = cursor.states if cursor is not None else {}
            # the next frame's flow, started now (``early_flow``) or once the masks are final;
            # a next frame that cannot be read or prepared fails where it is due, after this
            # one is handed out
            failed: Exception | None = None
            look_ahead: _FlowAhead | None = None
            search: SearchObjects | None = None
            fits: dict[int, _ObjectFit] = {}
            if (
                self.config.early_flow
                and cursor is not None
                and previous
                and not any(index in self._prompts[obj] for obj in self.object_ids)
            ):
                if ahead_flow is None:
                    ahead_flow = self._flow_map(frame, cursor.frame, cursor.search)
                search, fits = _predicted_search_objects(
                    previous, ahead_flow, self.config.boundary_uncertainty, self.config.step_window
                )
                try:
                    upcoming = next(frames, None)
                    look_ahead = self._look_ahead(frame, search, list(previous), upcoming, True)
                except Exception as error:
                    upcoming, look_ahead, failed = None, None, error
            self._plate_objects = None
            if previous and self.config.plate_frames > 0:
                self._plate_objects = np.logical_or.reduce(
                    [st.prob > 0.5 for st in previous.values()]
                )
            flow: _Flow | None = None
            states: dict[int, _ObjectState] = {}
            anchored: list[int] = []
            for obj in self.object_ids:
                prompts = self._prompts[obj].get(index)
                state = previous.get(obj)
                needs_step = state is not None and (prompts is None or prompts.base is None)
                stepped = None
                if needs_step and state is not None and cursor is not None:
                    if flow is None:
                        flow = ahead_flow
                        if flow is None:
                            flow = self._flow_map(frame, cursor.frame, cursor.search)
                    self._tracing = (index, obj)
                    self._held_by_others = held_by_others(previous, obj, self.config)
                    stepped = self._step(state, frame, cursor.frame, flow, fits.get(obj))
                    self._held_by_others = None
                    if self._refiner is not None:
                        stepped = self._learned_refine(stepped, state, frame, cursor.frame, flow)
                if prompts is not None:
                    prob = self._anchor(obj, prompts, frame, stepped.prob if stepped else None)
                    states[obj] = self._anchor_state(prob, frame)
                    anchored.append(obj)
                elif stepped is not None:
                    states[obj] = stepped
            claims: dict[int, np.ndarray] = {}
            if self.config.object_competition and len(states) > 1:
                self._compete(states, previous, anchored, flow, index)
                # what re-detected objects claim before the overlaps are resolved, once their
                # re-detection was consistent with them on the previous frame (a look-alike
                # claim is not evidence against a neighbour)
                claims = {
                    obj: st.logits > 0
                    for obj, st in states.items()
                    if obj not in anchored
                    and obj in previous
                    and previous[obj].doubt
                    and previous[obj].trust > 0
                }
            self._resolve_overlaps(states, anchored)
            if search is None:
                # the masks are final: the next frame's flow can start
                search = _search_objects(states)
                try:
                    upcoming = next(frames, None)
                    look_ahead = self._look_ahead(frame, search, list(states), upcoming)
                except Exception as error:
                    upcoming, look_ahead, failed = None, None, error
            taken = _taken_from_lost(states, previous)
            if claims:
                held = contested(
                    {obj: st.logits > 0 for obj, st in states.items()},
                    claims,
                    {
                        obj: None if st.territory is None else st.territory.moved()
                        for obj, st in states.items()
                    },
                    territory_tolerance(self._work_w, self._work_h),
                )
                taken = {obj: max(taken.get(obj, 0.0), held[obj]) for obj in states}
            for obj, st in states.items():
                if obj not in anchored:
                    scored = self._score(self._update_model(st, frame), frame, taken.get(obj, 0.0))
                    states[obj] = self._remember_embedding(self._remember(scored, frame), frame)
            cursor = _Cursor(frame, states, step, search, look_ahead)
            self._cursor = cursor
            yield TrackedFrame(
                index=index,
                image=image,
                objects={
                    obj: ObjectTrack(logits=self._reported(st), score=st.score)
                    for obj, st in states.items()
                },
            )
            if failed is not None:
                raise failed

    def _look_ahead(
        self,
        frame: _WorkFrame,
        search: SearchObjects,
        tracked: Sequence[int],
        upcoming: tuple[int, np.ndarray] | None,
        beside_step: bool = False,
    ) -> _FlowAhead | None:
        """Prepare the upcoming frame and compute its flow from ``frame`` in a worker thread
        (None at the run's end or with nothing tracked). ``search``: what the flow's motion
        search starts from; ``tracked``: the objects tracked on ``frame``. ``beside_step``:
        the flow runs beside ``frame``'s step (``early_flow``), so its two directions run one
        after the other in that worker, leaving the other core to the step (on 2 cores
        ×1.09 over both at once, in three alternated runs), not at once."""
        if upcoming is None:
            return None
        prompts = [self._prompts[obj].get(upcoming[0]) for obj in tracked]
        if all(p is not None and p.base is not None for p in prompts):
            return None  # nothing tracked, or every object re-anchored there: no flow needed
        worker = self._ahead_worker
        if worker is None:
            return None
        return _FlowAhead(
            upcoming[0], worker.submit(self._prepared_flow, upcoming, frame, search, beside_step)
        )

    def _prepared_flow(
        self,
        upcoming: tuple[int, np.ndarray],
        frame: _WorkFrame,
        search: SearchObjects,
        beside_step: bool,
    ) -> tuple[_WorkFrame, _Flow]:
        """The look-ahead worker's job: the upcoming frame prepared, and its flow from
        ``frame`` (see :meth:`_look_ahead`)."""
        prepared = self._prepare(*upcoming)
        return prepared, self._flow_map(prepared, frame, search, self._dis_ahead, beside_step)

    def _reported(self, state: _ObjectState) -> np.ndarray:
        """The logits reported for an object: empty while it follows an unconfirmed
        re-detection that has not been consistent with the object for :func:`shown_after`
        frames in a row and lies away from where it was last seen (``hide_unconfirmed``, see
        :func:`hidden_jump`), else its own."""
        if not (self.config.hide_unconfirmed and state.doubt and state.trust < shown_after()):
            return state.logits
        mask = state.logits > 0
        if not mask.any():
            return state.logits
        ys, xs = mask_pixels(mask)
        jump = float(np.hypot(xs.mean() - state.centre[0], ys.mean() - state.centre[1]))
        if jump > hidden_jump() * float(np.sqrt(max(state.ref_area, 1.0))):
            return np.full_like(state.logits, -LOGIT_LIMIT)
        return state.logits

    def _prepare(self, index: int, image: np.ndarray) -> _WorkFrame:
        """Resize to the working resolution and precompute grey and colour-bin images."""
        if image.shape[:2] != (self._height, self._width):
            raise InputError(
                f"frame {index} is {image.shape[1]}×{image.shape[0]} but the clip is {self._width}×{self._height}"
            )
        rgb = self._working_rgb(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        bins = self.config.histogram_bins
        shift = 8 - int(np.log2(bins))
        q = (np.asarray(rgb, np.uint8) >> shift).astype(np.int32)
        index_map = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
        native = None
        if self.config.thin_structures:
            native = image
        guide = gray.astype(np.float32) / 255.0
        stats = None
        if self.config.edge_refine:
            stats = _guide_stats(guide, guided_filter_radius(self._work_w, self._work_h))
        return _WorkFrame(index, rgb, gray, guide, index_map, native, guide_stats=stats)

    def _plate_ref(self, frame_index: int | None = None) -> int:
        """The plate's reference frame: the earliest prompted frame (with ``frame_index``, the
        frame being prompted), so a run's plate depends on its prompts, not on call order."""
        frames = [f for per in self._prompts.values() for f in per]
        if frame_index is not None:
            frames.append(frame_index)
        return min(frames) if frames else 0

    def _plate(self, ref: int) -> Plate | None:
        """The clean plate around frame ``ref`` (built once; None: ``plate_frames`` is 0, a
        single frame, or too few frames align)."""
        if ref in self._plates:
            return self._plates[ref]
        plate = None
        count = self.config.plate_frames
        if count > 0 and self._num_frames > 1:
            wanted = set(plate_samples(ref, self._num_frames, self.config.plate_span, count))
            frames: dict[int, np.ndarray] = {}
            source = self._require_open()
            try:
                for index, image in source.iter_frames(min(wanted), max(wanted) + 1):
                    if index in wanted:
                        frames[index] = self._working_rgb(image)
            except InputError:
                frames = {}  # an unreadable frame costs the plate, not the run
            if ref in frames:
                plate = build_plate(ref, frames)
        self._plates = {ref: plate}  # one reference at a time
        self._plate_frame = None
        self._plate_still_at = None
        return plate

    def _working_rgb(self, image: np.ndarray) -> np.ndarray:
        """A frame at the working resolution (RGB uint8)."""
        if (self._work_w, self._work_h) != (self._width, self._height):
            return cv2.resize(image, (self._work_w, self._work_h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image)

    def _plate_change(
        self, frame: _WorkFrame, ref: int | None = None, flow: _Flow | None = None, step: int = 0
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(change evidence, valid) of ``frame`` against the clean plate
        (:func:`~sam2matting.trackers.builtin_plate.change_evidence`), or None when there is
        no plate or ``frame`` does not align with it. Computed once a frame. ``flow`` (from the
        previous frame of a run going ``step``): where the camera did not move since a frame
        that needed no alignment, none is needed now either."""
        cached = self._plate_frame
        if cached is not None and cached[0] == frame.index:
            return cached[1], cached[2]
        plate = self._plate(self._plate_ref() if ref is None else ref)
        if plate is None:
            return None
        homography: np.ndarray | None = np.eye(3)
        carried = (
            flow is not None
            and self._plate_still_at == frame.index - step
            and camera_still(flow.fwd)
        )
        if frame.index != plate.ref and not carried:
            homography = align(plate.features, frame.gray)
        if homography is None:
            return None
        lab, texture, valid = plate.at(homography)
        still = lab is plate.lab
        self._plate_still_at = frame.index if still else None
        evidence = change_evidence(frame.rgb, lab, texture)
        self._plate_frame = (frame.index, evidence, valid, -1.0)
        return evidence, valid

    def _plate_term(
        self, frame: _WorkFrame, predicted: np.ndarray, flow: _Flow, step: int
    ) -> np.ndarray | None:
        """Log-odds from the clean plate for an object predicted on ``predicted`` (bool), or
        None where the plate does not hold (see :mod:`~sam2matting.trackers.builtin_plate`):
        too much of the scene away from the objects differs from it (the camera moved in a
        way one homography does not explain, the light changed), or the plate holds the
        object itself."""
        if self.config.plate_frames <= 0 or self.config.plate_strength <= 0:
            return None
        change = self._plate_change(frame, flow=flow, step=step)
        if change is None:
            return None
        evidence, valid = change
        assert self._plate_frame is not None
        share = self._plate_frame[3]
        if share < 0:
            objects = self._plate_objects if self._plate_objects is not None else predicted
            share = background_change_share(evidence, valid, objects)
            self._plate_frame = (frame.index, evidence, valid, share)
        if share > max_background_change():
            return None
        if object_change_share(evidence, valid, predicted) < min_object_change():
            return None
        return plate_llr(evidence, valid, self.config.plate_strength)

    def _plate_moving(self, frame: _WorkFrame, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """The pixels of ``box`` that differ from the clean plate (what moved there), or None
        when the plate says nothing: no plate, the scene around differs from it, or too
        little or too much of the box differs (as :func:`~.builtin_init.moving_in_box`)."""
        if self.config.plate_frames <= 0:
            return None
        change = self._plate_change(frame, self._plate_ref(frame.index))
        if change is None:
            return None
        evidence, valid = change
        inside = np.zeros(evidence.shape, bool)
        inside[box[1] : box[3], box[0] : box[2]] = True
        if background_change_share(evidence, valid, inside) > max_background_change():
            return None
        moving = _drop_specks(opened(inside & valid & (evidence > 0)), 0.05)
        share = float(np.count_nonzero(moving)) / max(float(np.count_nonzero(inside)), 1.0)
        if not min_moving_share() <= share <= 0.95:
            return None
        return moving

    def _flow_map(
        self,
        frame: _WorkFrame,
        previous: _WorkFrame,
        objects: Sequence[tuple[np.ndarray, tuple[float, float]]] = (),
        dis: tuple[Any, Any] | None = None,
        one_thread: bool = False,
    ) -> _Flow:
        """Backward and forward DIS flow between the previous and this frame, and where they
        disagree (occlusions, disocclusions, flow failures). With ``motion_search`` the flow
        starts from the camera's and the objects' large displacements
        (:meth:`_flow_start`) instead of zero; with ``flow_window`` it is fine on the window
        around the objects only (:func:`~.builtin_motion.windowed_flow`). With
        ``inverted_forward`` the forward flow is the backward one inverted
        (:func:`invert_flow`), else DIS's too; ``one_thread``: DIS's two directions one after
        the other on this thread (the same flows), not at once."""
        init, window = self._flow_start(frame, previous, objects)
        fwd_init, back_init = (None, None) if init is None else init
        back_dis, fwd_dis = self._dis if dis is None else dis
        if self.config.inverted_forward:
            back = self._calc(back_dis, frame.gray, previous.gray, back_init, window)
            fwd = invert_flow(
                back,
                () if fwd_init is None else (fwd_init,),
                previous.gray,
                frame.gray,
                self._flow_level,
            )
        elif one_thread:
            fwd = self._calc(fwd_dis, previous.gray, frame.gray, fwd_init, window)
            back = self._calc(back_dis, frame.gray, previous.gray, back_init, window)
        else:
            fwd, back = self._flows(previous.gray, frame.gray, fwd_init, back_init, dis, window)
        back_map = back + self._grid
        # forward flow at the point each current pixel came from: the round trip should be ~0
        fwd_at_source = cv2.remap(  # type: ignore[call-overload]
            fwd, back_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        round_trip = cv2.add(back, fwd_at_source)
        np.abs(round_trip, out=round_trip)
        unreliable = (round_trip[..., 0] + round_trip[..., 1]) > flow_consistency_tolerance()
        return _Flow(back_map, fwd, unreliable)

    def _calc(
        self,
        dis: Any,
        first: np.ndarray,
        second: np.ndarray,
        init: np.ndarray | None,
        window: tuple[int, int, int, int] | None,
    ) -> np.ndarray:
        """``dis``'s flow from ``first`` to ``second``: on the whole frame, or with a
        ``window`` fine there and one level coarser elsewhere (its coarse twin's,
        :meth:`_coarse_twin`; a DIS object without one flows the whole frame finely)."""
        coarse = self._coarse.get(id(dis))
        return windowed_flow(dis, coarse, first, second, init, None if coarse is None else window)

    def _dis_pair(self, tracking: bool = True) -> tuple[Any, Any]:
        """Two DIS objects (backward, forward) of the configured preset at this size; with
        ``tracking`` the forward one with ``forward_refinement`` variational refinement
        iterations."""
        cfg = self.config
        forward = _make_flow(cfg.flow_preset, self._work_w, self._work_h)
        if tracking and cfg.forward_refinement is not None:
            forward.setVariationalRefinementIterations(cfg.forward_refinement)
        return _make_flow(cfg.flow_preset, self._work_w, self._work_h), forward

    def _coarse_twin(self, dis: Any) -> Any:
        """A DIS object like ``dis`` one pyramid level coarser (its refinement iterations
        kept), or None when that level's flow grid would be too coarse for this frame size
        (:func:`finest_flow_level`)."""
        level = int(dis.getFinestScale()) + 1
        if finest_flow_level(self._work_w, self._work_h, level) < level:
            return None
        twin = _make_flow(self.config.flow_preset, self._work_w, self._work_h)
        twin.setFinestScale(level)
        twin.setVariationalRefinementIterations(dis.getVariationalRefinementIterations())
        return twin

    def _init_dis(self) -> tuple[Any, Any]:
        """The DIS pair of the first masks' motion cue: both directions with the preset's own
        refinement (``forward_refinement`` is for tracking's flows only: the cue reads the
        forward flow itself, and it runs once a prompt). Without the option, tracking's own
        pair."""
        if self.config.forward_refinement is None:
            return self._dis
        if self._dis_init is None:
            self._dis_init = self._dis_pair(tracking=False)
        return self._dis_init

    def _flows(
        self,
        first: np.ndarray,
        second: np.ndarray,
        fwd_init: np.ndarray | None,
        back_init: np.ndarray | None,
        dis: tuple[Any, Any] | None = None,
        window: tuple[int, int, int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(forward, backward) DIS flows between two grey frames (first → second and back),
        each refining its initial flow in place when one is given. The two directions run at
        once, the forward one in a worker thread (OpenCV releases the GIL): on 2 cores
        0.6–0.75× the time of one after the other. ``dis``: the (backward, forward) DIS
        objects, default the caller's thread's; a DIS object's flow does not depend on what
        it computed before, so every pair gives the same flows. ``window``: see
        :meth:`_calc`."""
        back_dis, fwd_dis = self._dis if dis is None else dis
        worker = self._flow_worker
        if worker is None:
            raise Sam2MattingError("builtin tracker: the session is closed")
        forward = worker.submit(self._calc, fwd_dis, first, second, fwd_init, window)
        try:
            back = self._calc(back_dis, second, first, back_init, window)
        finally:
            fwd = forward.result()
        return fwd, back

    def _flow_start(
        self,
        frame: _WorkFrame,
        previous: _WorkFrame,
        objects: Sequence[tuple[np.ndarray, tuple[float, float]]],
    ) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[int, int, int, int] | None]:
        """Where the flow between ``previous`` and ``frame`` starts from and where it is fine.

        The initial (forward, backward) flows from the camera's translation and each object's
        displacement found by search (:mod:`~sam2matting.trackers.builtin_motion`), or None
        (``motion_search`` off, or nothing found: the flow starts from zero); and with
        ``flow_window`` the window around the objects (:func:`~.builtin_motion.flow_window`;
        without the search, each object's last displacement stands for its motion), else None.
        ``objects``: each tracked object's mask on ``previous`` and its last displacement
        (:func:`_search_objects`)."""
        shape = previous.gray.shape
        if self.config.motion_search:
            camera, motions = search_motion(previous.gray, frame.gray, objects)
            init = initial_flows(shape, camera, motions)
        else:
            camera, motions, init = None, [ObjectMotion(m, v) for m, v in objects], None
        window = flow_window(shape, camera, motions) if self.config.flow_window else None
        return init, window

    def _step(
        self,
        state: _ObjectState,
        frame: _WorkFrame,
        previous: _WorkFrame,
        flow: _Flow,
        fit: _ObjectFit | None = None,
    ) -> _ObjectState:
        """Warp the previous soft mask to this frame and re-fit it to this frame's evidence.
        ``fit``: the object's :func:`_object_fit` on ``flow``, when already computed."""
        cfg = self.config
        size = (self._work_w, self._work_h)
        if not (state.prob > 0.5).any():
            return self._redetect(state, frame)
        if fit is None:
            fit = _object_fit(state.prob, flow, cfg.boundary_uncertainty, cfg.step_window)
        prev_mask, prev_sd, sigma = fit.mask, fit.signed, fit.sigma
        if state.appearance is not None:
            state = self._follow_appearance(
                state, state.appearance, frame, previous, flow, prev_sd, sigma
            )
        # the object's dominant motion, from the forward flow of its interior
        obj_motion = fit.motion
        articulated = False
        if obj_motion is not None and cfg.articulation_uncertainty > 0:
            # an articulated object's warp is as uncertain as its parts move apart
            moving_apart = articulation_sigma(
                flow.fwd,
                prev_mask,
                obj_motion,
                cfg.articulation_uncertainty * articulation_trust(state.ref_colour),
            )
            articulated = moving_apart > sigma
            sigma = min(max(sigma, moving_apart), BOUNDARY_SIGMA_MAX)
        warped = cv2.remap(  # type: ignore[call-overload]
            state.prob,
            flow.back,
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        in_flow = warped > 0.5
        in_affine = in_flow
        z_motion = None
        layers: list[MotionLayer] = []
        colour = state.model.llr(frame.bins) if cfg.refit_strength > 0 else None
        bg_motion: np.ndarray | None = None
        # where the motion evidence and the edge filter are computed (``step_window``)
        window: StepWindow | None = None
        if obj_motion is not None:
            warped_a = _warp_affine(state.prob, obj_motion, size, fill=0.0)
            shift = None
            if colour is not None and _colour_locates(state):
                shift = _colour_shift(colour, warped_a > 0.5)
            if shift is not None:
                # the flow missed the object's motion (fast or textureless); its colours
                # did not: move the object model there and stop trusting the flow field
                obj_motion = obj_motion.copy()
                obj_motion[:, 2] += shift
                warped_a = _warp_affine(state.prob, obj_motion, size, fill=0.0)
            in_affine = warped_a > 0.5
            # where the flow is unreliable, the object's motion model speaks for it
            in_flow = (
                in_affine if shift is not None else np.where(flow.unreliable, in_affine, in_flow)
            )
            gains = (1.0, 1.0)
            if state.appearance is not None:
                gains = (
                    _appearance.grey_gain(state.appearance.object_step),
                    _appearance.grey_gain(state.appearance.scene_step),
                )
            if cfg.step_window:
                window = step_window(prev_mask.shape, (prev_mask, in_flow, in_affine), sigma)
            bg_motion, layers, z_motion = self._motion_evidence(
                flow,
                prev_mask,
                prev_sd,
                obj_motion,
                sigma,
                shift is None,
                frame.gray,
                previous.gray,
                gains,
                state.layers,
                window,
            )
        self._trace("warp", in_flow)
        predicted = in_flow | in_affine
        # blurring the two motion hypotheses' masks gives a prior whose log-odds ramp across
        # the boundary like (signed distance / sigma): logit(Φ(d / s)) ≈ 1.6 d / s
        if window is None:
            votes = 0.5 * (in_flow.astype(np.float32) + in_affine.astype(np.float32))
            z = _logit(cv2.GaussianBlur(votes, (0, 0), 1.6 * sigma))
        else:
            # the votes lie farther inside the window than the blur reaches (6.4 sigma): the
            # window's prior is the whole frame's (to float rounding at the frame's right and
            # bottom edges), and beyond it the prior is 0
            votes = 0.5 * (
                window.crop(in_flow).astype(np.float32) + window.crop(in_affine).astype(np.float32)
            )
            z = np.full(in_flow.shape, _NO_PRIOR, np.float32)
            window.crop(z)[...] = _logit(cv2.GaussianBlur(votes, (0, 0), 1.6 * sigma))
        memory = memory_image = None
        if cfg.part_memory > 0:
            # parts the object showed on recent confident frames, moved with its own motion:
            # where the warp dropped them, this frame's evidence decides again
            remembered = prev_mask.astype(np.float32) if state.memory is None else state.memory
            seen = previous.gray if state.memory_image is None else state.memory_image
            memory, memory_image = follow(remembered, seen, frame.gray, obj_motion)
            z = lift_prior(z, memory, sigma)
            predicted = predicted | (memory >= memory_support())
        # where the light changed the object's colours, colour alone no longer takes a
        # remembered part off (what the refit, the regrowth and the cut judge by)
        judged = colour
        if memory is not None and colour is not None and state.appearance is not None:
            judged = floor_colour(colour, memory, state.appearance.need, colour_llr_limit())
        # the background the anchor left out next to the object, moved with it
        outside = (
            None if obj_motion is None or state.outside is None else state.outside.moved(obj_motion)
        )
        attached = None
        if outside is not None and not articulated:
            attached = outside.evidence(frame.rgb, cfg.attached_background)
            z -= attached
        self._trace("prior", z > 0)
        if judged is not None:
            refit = judged
            if articulated and cfg.articulated_colour_limit > 0:
                # a softer prior on an articulated object: clear object colours weigh more
                refit = state.model.llr(frame.bins, cfg.articulated_colour_limit)
                if memory is not None and state.appearance is not None:
                    refit = floor_colour(refit, memory, state.appearance.need, colour_llr_limit())
            z += cfg.refit_strength * refit
        # what the cleanup stages (regrow, graph cut) judge by: colour, plus the learned cue
        appearance = judged
        if self._embedder is not None and state.embed_anchor is not None:
            cue = self._embedder(
                state.embed_anchor, state.embed_recent, self._embedding(frame), predicted
            )
            z += cfg.embed_strength * cue
            if colour is not None:
                appearance = colour + cfg.embed_strength * cue
        if z_motion is not None:
            z += z_motion
        plate = self._plate_term(frame, in_flow | in_affine, flow, frame.index - previous.index)
        if plate is not None:
            # what the still camera saw behind the object: the empty scene is background
            z += plate
            appearance = plate if appearance is None else appearance + plate
        self._trace("refit", z > 0)
        if cfg.edge_refine and window is not None:
            # filtered on the window; farther away the log-odds are at their floor
            stats = frame.guide_stats
            p = _guided_filter(
                window.crop(frame.guide),
                _sigmoid(window.crop(z)),
                guided_filter_radius(self._work_w, self._work_h),
                guided_filter_eps(),
                None if stats is None else (window.crop(stats[0]), window.crop(stats[1])),
            )
            logits = np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.float32)
            window.crop(logits)[...] = _logit(np.clip(p, 0.0, 1.0))
        elif cfg.edge_refine:
            p = _guided_filter(
                frame.guide,
                _sigmoid(z),
                guided_filter_radius(self._work_w, self._work_h),
                guided_filter_eps(),
                frame.guide_stats,
            )
            logits = _logit(np.clip(p, 0.0, 1.0))
        else:
            logits = np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.float32)
        self._trace("edge", logits > 0)
        # what the cleanup stages judge by: attached background is not the object's either
        cleanup = appearance if attached is None or appearance is None else appearance - attached
        if cfg.regrow and cleanup is not None:
            logits = _regrow(logits, cleanup, regrow_reach(self._work_w, self._work_h))
        self._trace("regrow", logits > 0)
        if cfg.graph_cut_band > 0 and cleanup is not None:
            band = cut_band(
                band_pixels(cfg.graph_cut_band, self._work_w, self._work_h),
                sigma,
                cfg.graph_cut_sigmas,
            )
            logits = refine_band(frame.rgb, logits, cleanup, band)
        self._trace("graphcut", logits > 0)
        mask = _components_touching(logits > 0, predicted)
        prev_centre = mask_centre(prev_mask)
        relative = None
        if obj_motion is not None and bg_motion is not None and prev_centre is not None:
            relative = relative_motion(obj_motion, bg_motion, prev_centre)
        if (
            cfg.unchanged_background
            and relative is not None
            and bg_motion is not None
            and float(np.hypot(relative[0], relative[1])) >= recovery_speed()
        ):
            # what the colour stages took in that the previous frame already showed there as
            # background, unchanged: the scene, not the object moving onto it
            mask = drop_unchanged(
                mask,
                predicted,
                frame.rgb,
                previous.rgb,
                prev_mask,
                bg_motion,
                obj_motion,
            )
        if (
            cfg.part_recovery
            and colour is not None
            and appearance is not None
            and z_motion is not None
            and obj_motion is not None
            and bg_motion is not None
            and not state.doubt
        ):
            # a part beyond an occluder the object passes behind: cut off from the prior
            recovered = recover_parts(
                mask,
                colour,
                appearance + z_motion,
                z_motion,
                state.ref_area,
                obj_motion,
                bg_motion,
                self._held_by_others,
                state.relative,
                (frame.rgb, previous.rgb, prev_mask),
            )
            if recovered.any():
                logits = np.where(recovered, np.maximum(logits, 1.0), logits).astype(np.float32)
                mask = mask | recovered
        self._trace("components", mask)
        logits = np.where(mask, logits, np.minimum(logits, LOST_PIXEL_LOGIT)).astype(np.float32)
        # thin lines: tracked on their own and drawn into the output only; the state's
        # ``prob`` (what the next frame warps, re-fits and cuts) stays the body
        prob = _sigmoid(logits)
        lines = state.lines
        if lines and frame.native is not None:
            scale = self._native_scale()
            lines = tuple(
                track_lines(
                    lines,
                    native_planes(frame.native),
                    obj_motion,
                    scale,
                    faint=self.config.thin_faint_lines,
                    refind=self.config.thin_refind_lines,
                )
            )
            logits = render_lines(logits, lines, scale)
            self._trace("thin", logits > 0)
        velocity = _displacement(obj_motion, prev_mask) if obj_motion is not None else (0.0, 0.0)
        moving = 0.0
        if z_motion is not None and mask.any():
            moving = float(np.count_nonzero(z_motion[mask] > 0)) / float(np.count_nonzero(mask))
        area = np.count_nonzero(mask)
        mean_colour = float(colour[mask].mean()) if colour is not None and area else -np.inf
        recent = state.relative
        if relative is not None:
            recent = (*recent, (float(relative[0]), float(relative[1])))[-recovery_history() :]
        stepped = dataclasses.replace(
            state,
            relative=recent,
            moving=moving,
            colour_mean=mean_colour if np.isfinite(mean_colour) else np.nan,
            last_area=float(np.count_nonzero(prev_mask)),
            prob=prob,
            logits=logits,
            velocity=velocity,
            lines=lines,
            memory=memory,
            memory_image=memory_image,
            layers=LayerTrace.of(layers, prev_mask.shape) if cfg.motion_layers > 0 else None,
            outside=outside,
        )
        if colour is None:
            return stepped
        off_colour = _off_colour(mean_colour, state.ref_colour)
        searching = state.doubt and state.trust == 0  # following an unconfirmed look-alike
        if area < lost_area_fraction() * state.ref_area or off_colour or searching:
            # the flow has lost the object (its mask collapsed, or sits on other colours), or
            # follows a re-detection that was not consistent with the object last frame:
            # look for it where its colours are, and keep whichever holds them better (while
            # searching: whichever is more consistent with the object before the loss)
            found = self._redetect(state, frame, colour)
            found_mask = found.logits > 0
            if not found_mask.any():
                return stepped
            if searching and area:
                return found if self._more_consistent(state, frame, found_mask, mask) else stepped
            still = 0.0  # the share of the placement the background's motion explains
            if z_motion is not None:
                still = float(np.count_nonzero(z_motion[found_mask] < -still_motion())) / float(
                    np.count_nonzero(found_mask)
                )
            if float(colour[found_mask].mean()) > mean_colour and not _holds_on_motion(
                mask,
                found_mask,
                state.ref_area,
                (moving, still),
                mean_colour - state.colour_mean,
                state.ref_colour,
            ):
                return found
        return stepped

    def _motion_evidence(
        self,
        flow: _Flow,
        prev_mask: np.ndarray,
        prev_sd: np.ndarray,
        obj_motion: np.ndarray,
        sigma: float,
        own_motion: bool,
        current: np.ndarray,
        previous: np.ndarray,
        gains: tuple[float, float],
        last_layers: LayerTrace | None,
        window: StepWindow | None = None,
    ) -> tuple[np.ndarray | None, list[MotionLayer], np.ndarray | None]:
        """A step's motion evidence: the background's affine motion in the ring around the
        object (:func:`background_ring`), the other motion layers near it (``own_motion``:
        its motion is the flow's, not moved by colours; ``motion_layers``), and the log-odds
        of the object's motion explaining ``current`` better than the background's
        (:func:`_motion_llr`, times ``motion_strength``; None when it has no background
        motion or is off). ``window`` (``step_window``): computed on that window of the frame
        only (the ring's fit is the frame's; the layers are found there; no motion evidence
        outside it)."""
        cfg = self.config
        inner, outer = background_ring(sigma)
        shape = prev_mask.shape
        fwd = flow.fwd
        origin = (0, 0)
        if window is not None:
            # the ring lies inside the window (:func:`~.builtin_window.step_window_margin`)
            fwd, prev_mask, prev_sd = window.crop(fwd), window.crop(prev_mask), window.crop(prev_sd)
            origin = (window.x0, window.y0)
        bg_motion = _fit_affine(fwd, (prev_sd < -inner) & (prev_sd > -outer), offset=origin)
        layers: list[MotionLayer] = []
        if bg_motion is None or cfg.motion_strength <= 0:
            return bg_motion, layers, None
        if own_motion and cfg.motion_layers > 0:
            # occluders moving with a motion of their own (found on the last step too: a
            # flow failure is not a layer)
            motion = obj_motion if window is None else window.into(obj_motion)
            layers = find_layers(fwd, prev_mask, motion, sigma, cfg.motion_layers, _fit_affine)
            if window is not None:  # back in the frame's coordinates
                layers = [
                    MotionLayer(
                        window.paste(f.region, shape, False), window.out_of(f.motion), f.shift
                    )
                    for f in layers
                ]
        z_motion = cfg.motion_strength * _motion_llr(
            current,
            previous,
            obj_motion,
            bg_motion,
            gains,
            continued(layers, last_layers),
            window,
        )
        if window is not None:
            z_motion = window.paste(z_motion, shape, 0.0)
        return bg_motion, layers, z_motion

    def _remember_embedding(self, state: _ObjectState, frame: _WorkFrame) -> _ObjectState:
        """With ``embed_strength``: a confident frame's embeddings and mask become the object's
        recent memory (next to its anchor's), so background met on the way is known."""
        if self._embedder is None or state.doubt or state.score < confident_score():
            return state
        recent = self._embedder.memory(self._embedding(frame), state.prob)
        return dataclasses.replace(state, embed_recent=recent) if recent is not None else state

    def _embedding(self, frame: _WorkFrame) -> np.ndarray:
        """The frame's learned pixel embeddings (``embed_strength``), computed once a frame."""
        if frame.embedding is None:
            frame.embedding = self._embedder.embed(frame.rgb)
        return frame.embedding

    def _native_scale(self) -> tuple[float, float]:
        """(sx, sy): native pixels per working pixel."""
        return self._width / self._work_w, self._height / self._work_h

    def _trace(self, stage: str, mask: np.ndarray) -> None:
        """Report an intermediate mask of :meth:`_step` to :attr:`trace`, if set."""
        if self.trace is not None:
            self.trace(self._tracing[0], self._tracing[1], stage, mask)

    def _learned_refine(
        self,
        stepped: _ObjectState,
        state: _ObjectState,
        frame: _WorkFrame,
        previous: _WorkFrame,
        flow: _Flow,
    ) -> _ObjectState:
        """``stepped`` with its logits corrected near the outline by the learned refiner
        (:class:`~.builtin_learned.LearnedRefiner`) from this frame, its mask, and the previous
        frame and mask moved here by the backward flow."""
        prev_rgb = cv2.remap(  # type: ignore[call-overload]
            previous.rgb, flow.back, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        prev_prob = cv2.remap(  # type: ignore[call-overload]
            state.prob,
            flow.back,
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        # the body only: thin lines (``thin_structures``) are drawn into the output after it and
        # never enter ``prob`` (what the next frame warps)
        body = self._refiner(frame.rgb, stepped.prob, prev_rgb, prev_prob, _logit(stepped.prob))
        logits = body
        if stepped.lines:
            logits = render_lines(body, stepped.lines, self._native_scale())
        return dataclasses.replace(stepped, prob=_sigmoid(body), logits=logits)

    def _redetect(
        self, state: _ObjectState, frame: _WorkFrame, colour: np.ndarray | None = None
    ) -> _ObjectState:
        """Search the whole frame for the object's last confident shape on its colour evidence;
        an empty state when no placement is clearly object-coloured."""
        empty = np.full((self._work_h, self._work_w), -LOGIT_LIMIT, np.float32)
        # the composed motion the attached background follows ends with the object's track
        lost = dataclasses.replace(
            state, prob=np.zeros_like(state.prob), logits=empty, outside=None, colour_mean=np.nan
        )
        if state.template is None or self.config.refit_strength == 0:
            return lost
        if colour is None:
            colour = state.model.llr(frame.bins)
        if self._held_by_others is not None:
            # one pixel, one owner: the object is not looked for inside a trusted neighbour
            colour = np.where(self._held_by_others, -colour_llr_limit(), colour)
        placed = _find_template(
            colour,
            _crop_to_box(state.template),
            redetect_colour(state.ref_colour),
            near=state.centre,
            reach=redetect_reach(state.ref_area, abs(frame.index - state.seen_at)),
            cost=redetect_distance_cost() * max(state.ref_colour, 1.0),
        )
        if placed is None:
            return lost
        sigma = boundary_sigma(float(np.count_nonzero(placed)), self.config.boundary_uncertainty)
        prior_p = cv2.GaussianBlur(placed.astype(np.float32), (0, 0), 1.6 * sigma)
        z = _logit(prior_p) + self.config.refit_strength * colour
        logits = np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.float32)
        mask = _components_touching(logits > 0, placed)
        logits = np.where(mask, logits, np.minimum(logits, LOST_PIXEL_LOGIT)).astype(np.float32)
        return dataclasses.replace(
            state,
            prob=_sigmoid(logits),
            logits=logits,
            doubt=True,
            trust=0,
            memory=None,
            memory_image=None,
            outside=None,
            colour_mean=float(colour[mask].mean()) if mask.any() else np.nan,
        )

    def _score(self, state: _ObjectState, frame: _WorkFrame, taken: float = 0.0) -> _ObjectState:
        """Attach this frame's confidence (see :func:`confidence`, times :func:`swallow_cue`
        of ``taken``) and, on a confident frame,
        follow the object's size and remember its shape and position for re-detection. A
        re-detected object is reported as lost until :func:`redetect_probation` consecutive
        frames have been consistent with the object before the loss
        (:func:`redetect_consistency`); an inconsistent frame starts the count again."""
        mask = state.logits > 0
        area = float(np.count_nonzero(mask))
        if area == 0:
            return dataclasses.replace(state, score=0.0, grown=0, shrunk=min(state.shrunk, 0))
        mean_colour = float(state.model.llr(frame.bins[mask]).mean())  # the mask's pixels only
        score = confidence(
            area, state.ref_area, mean_colour, state.ref_colour, state.anchor_area
        ) * swallow_cue(taken)
        centre = mask_centre(mask) or (0.0, 0.0)
        if state.doubt:
            consistent = self._consistency(state, frame, mask, area, centre)
            score = min(score, consistent)
            trust = state.trust + 1 if score >= confident_score() else 0
            if trust < redetect_probation():
                # a re-detection may have found a look-alike: report it as lost until it has
                # shown itself consistent with the object for a few frames in a row, so the
                # warning points the user at the jump (and at every frame of a look-alike)
                return dataclasses.replace(
                    state, score=min(score, 0.45), trust=trust, grown=0, shrunk=min(state.shrunk, 0)
                )
            state = dataclasses.replace(state, doubt=False, trust=0)
        grown, shrunk = 0, min(state.shrunk, 0)
        rebase = False
        if score < confident_score() and self._grown_steadily(state, area, mean_colour, taken):
            grown = state.grown + 1
            rebase = grown >= regrown_frames()
        elif score < confident_score() and area < 0.5 * state.ref_area:
            if state.shrunk >= 0 and self._shrunk_in_shape(state, mask, area, mean_colour, taken):
                shrunk = state.shrunk + 1
                rebase = shrunk >= regrown_frames()
            else:
                shrunk = -1
        if rebase:
            # the object is larger (smaller) than the reference size followed on its
            # confident frames, and has been for a while: re-base the reference on it
            state = dataclasses.replace(state, ref_area=area)
            score = confidence(
                area, area, mean_colour, state.ref_colour, state.anchor_area
            ) * swallow_cue(taken)
            grown = shrunk = 0
        if score < confident_score():
            return dataclasses.replace(state, score=score, grown=grown, shrunk=shrunk)
        rate = size_follow_rate()
        followed = (1 - rate) * state.ref_area + rate * area
        memory, memory_image = state.memory, state.memory_image
        if memory is not None and self.config.part_memory > 0:
            memory = remember(memory, state.prob > 0.5, self.config.part_memory)
            memory_image = frame.gray
        return dataclasses.replace(
            state,
            memory=memory,
            memory_image=memory_image,
            score=score,
            grown=0,
            shrunk=0,
            ref_area=min(followed, max_growth_rate() * state.ref_area),
            template=mask,
            centre=centre,
            seen_at=frame.index,
            elongation=elongation(mask),
        )

    def _steady_as_object(
        self, state: _ObjectState, area: float, mean_colour: float, taken: float
    ) -> bool:
        """What a frame needs before it counts towards re-basing the reference size, larger
        (:func:`regrown_frames`) or smaller (:func:`shrink_shape_iou`): the mask's size steady
        against the frame before (×0.8–1.25), the object's colours and motion, and no lost
        neighbour's place."""
        return (
            state.last_area > 0
            and 0.8 <= area / state.last_area <= 1.25
            and colour_cue(mean_colour, state.ref_colour) >= confident_score()
            and state.moving >= regrown_motion_share()
            and swallow_cue(taken) >= 1.0
        )

    def _grown_steadily(
        self, state: _ObjectState, area: float, mean_colour: float, taken: float
    ) -> bool:
        """Whether this frame counts towards re-basing the reference size of a mask larger
        than it allows (:func:`regrown_frames`)."""
        larger = area > 1.5 * max(state.ref_area, state.anchor_area)
        return larger and self._steady_as_object(state, area, mean_colour, taken)

    def _shrunk_in_shape(
        self,
        state: _ObjectState,
        mask: np.ndarray,
        area: float,
        mean_colour: float,
        taken: float,
    ) -> bool:
        """Whether this frame counts towards re-basing the reference size of a mask smaller
        than it allows (:func:`shrink_shape_iou`): steady as the object, and in the shape of
        the last confident mask."""
        return (
            state.template is not None
            and self._steady_as_object(state, area, mean_colour, taken)
            and scaled_shape_iou(state.template, mask) >= shrink_shape_iou()
        )

    def _more_consistent(
        self, state: _ObjectState, frame: _WorkFrame, a: np.ndarray, b: np.ndarray
    ) -> bool:
        """Whether mask ``a`` is more consistent with the object before its loss than ``b``
        (:func:`redetect_consistency`; both non-empty)."""

        def consistency(mask: np.ndarray) -> float:
            ys, xs = mask_pixels(mask)
            centre = (float(xs.mean()), float(ys.mean()))
            return self._consistency(state, frame, mask, float(xs.size), centre)

        return consistency(a) > consistency(b)

    def _consistency(
        self,
        state: _ObjectState,
        frame: _WorkFrame,
        mask: np.ndarray,
        area: float,
        centre: tuple[float, float],
    ) -> float:
        """:func:`redetect_consistency` of a re-detected mask against the object's state."""
        bins = self.config.histogram_bins
        hist = _ColourModel.histogram(frame.bins, mask, bins)
        similarity = 0.0 if hist is None else float(np.sqrt(hist * state.model.fg).sum())
        jump = float(np.hypot(centre[0] - state.centre[0], centre[1] - state.centre[1]))
        return redetect_consistency(
            area,
            state.ref_area,
            state.anchor_area,
            (elongation(mask), state.elongation, state.anchor_elongation),
            similarity,
            jump,
            abs(frame.index - state.seen_at),
        )

    def _anchor_state(self, prob: np.ndarray, frame: _WorkFrame) -> _ObjectState:
        """A fresh object state from an anchor mask: colour model learnt on this frame."""
        mask = prob > 0.5
        sd = _signed_distance(mask)
        sigma = boundary_sigma(float(np.count_nonzero(mask)), self.config.boundary_uncertainty)
        inner, outer = background_ring(sigma)
        fg_sel = sd > min(sigma, max(float(sd.max()) / 2, 0.5))
        bg_sel = (sd < -inner) & (sd > -outer)
        bins = self.config.histogram_bins
        model = _ColourModel.learn(frame.bins, fg_sel, bg_sel, bins)
        # background the object encloses that this model takes for the object (the shadow
        # under a car): learnt as background too
        mistaken = enclosed_background(mask, sd) & (model.llr(frame.bins) > 0)
        if mistaken.any():
            model = _ColourModel.learn(frame.bins, fg_sel, bg_sel | mistaken, bins)
        logits = _logit(prob)
        area = float(np.count_nonzero(mask))
        ref_colour = float(model.llr(frame.bins)[mask].mean()) if area else 0.0
        ys, xs = mask_pixels(mask)
        centre = (float(xs.mean()), float(ys.mean())) if area else (0.0, 0.0)
        lines: tuple[ThinLine, ...] = ()
        if frame.native is not None:
            lines = tuple(
                extract_lines(prob, native_planes(frame.native), faint=self.config.thin_faint_lines)
            )
            prob = strip_lines(prob, lines, self._native_scale())
        outside = None
        if self.config.attached_background > 0:
            outside = AttachedBackground.start(mask, frame.rgb, sigma)
        follows = self.config.follows_appearance
        embed_anchor = None
        if self._embedder is not None:
            embed_anchor = self._embedder.memory(self._embedding(frame), prob)
        return _ObjectState(
            prob.astype(np.float32),
            model,
            logits,
            appearance=_appearance.start(model.fg, model.bg) if follows else None,
            anchor_model=model if follows else None,
            ref_area=area,
            template=mask if area else None,
            ref_colour=ref_colour,
            colour_mean=ref_colour,
            anchor_area=area,
            centre=centre,
            seen_at=frame.index,
            elongation=elongation(mask),
            anchor_elongation=elongation(mask),
            lines=lines,
            embed_anchor=embed_anchor,
            outside=outside,
        )

    def _update_model(self, state: _ObjectState, frame: _WorkFrame) -> _ObjectState:
        """Slowly move the colour histograms towards this frame's confident pixels."""
        rate = self.config.model_update_rate
        if rate == 0:
            return state
        mask = state.logits > 0
        if not mask.any():
            return state
        sd = _signed_distance(mask)
        sigma = boundary_sigma(float(np.count_nonzero(mask)), self.config.boundary_uncertainty)
        inner, outer = background_ring(sigma)
        fg_sel = sd > 2 * sigma
        bg_sel = (sd < -inner) & (sd > -outer)
        model = state.model.updated(frame.bins, fg_sel, bg_sel, self.config.histogram_bins, rate)
        return dataclasses.replace(state, model=model)

    def _follow_appearance(
        self,
        state: _ObjectState,
        memory: _appearance.Appearance,
        frame: _WorkFrame,
        previous: _WorkFrame,
        flow: _Flow,
        prev_sd: np.ndarray,
        sigma: float,
    ) -> _ObjectState:
        """The state with its colour model following this frame's light (gains from flow
        pairs, see :func:`~.builtin_appearance.follow`) and its memory."""
        depth = cv2.remap(  # type: ignore[call-overload]
            prev_sd,
            flow.back,
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=-LOGIT_LIMIT,
        )
        followed = _appearance.follow(
            memory,
            frame.rgb,
            previous.rgb,
            flow.back,
            ~flow.unreliable,
            depth,
            _appearance.interior_depth(sigma),
            trusted=not state.doubt,
            align=self.config.appearance_alignment,
        )
        bins = self.config.histogram_bins
        base = state.anchor_model or state.model
        if _appearance.unchanged(followed):
            # the anchor still explains the object and no light has been measured: its model
            # as it is (and no cost)
            return dataclasses.replace(state, appearance=followed, model=base)
        fg, bg = _appearance.histograms(followed, bins, self.config.appearance_memory)
        model = _ColourModel(fg, bg)
        anchor = model
        if followed.need > 0:
            anchor = _ColourModel(*_appearance.histograms(followed, bins, 0.0))
        return dataclasses.replace(state, appearance=followed, model=model, anchor_model=anchor)

    def _remember(self, state: _ObjectState, frame: _WorkFrame) -> _ObjectState:
        """Measure how far the aligned anchor's colours still explain the tracked object
        (:func:`~.builtin_appearance.memory_need`: the share of the memory the next frame
        uses) and, on a confident, trusted frame, learn this frame's object colours (deep
        inside the mask) and background colours (the ring around it) into the appearance
        memory (``appearance_memory``, see :func:`~.builtin_appearance.remember`)."""
        if state.appearance is None or self.config.appearance_memory == 0:
            return state
        mask = state.prob > 0.5
        if not mask.any():
            return state
        anchor = state.anchor_model or state.model
        fit = float(anchor.table[frame.bins[mask]].mean())
        memory = dataclasses.replace(
            state.appearance, need=_appearance.memory_need(fit, state.ref_colour)
        )
        if not state.doubt and state.score >= confident_score():
            sigma = boundary_sigma(float(np.count_nonzero(mask)), self.config.boundary_uncertainty)
            inner, outer = background_ring(sigma)
            # distances on the crop around the object and its background ring only
            bx0, by0, bx1, by1 = mask_bounds(mask) or (0, 0, 1, 1)
            x0, y0, x1, y1 = self._roi(bx0, by0, bx1, by1, outer + 2)
            sd = _signed_distance(mask[y0:y1, x0:x1])
            crop_bins = frame.bins[y0:y1, x0:x1]
            bins = self.config.histogram_bins
            fg = _ColourModel.histogram(crop_bins, sd > _appearance.interior_depth(sigma), bins)
            bg = _ColourModel.histogram(crop_bins, (sd < -inner) & (sd > -outer), bins)
            memory = _appearance.remember(memory, fg, bg)
        return dataclasses.replace(state, appearance=memory)

    def _compete(
        self,
        states: dict[int, _ObjectState],
        previous: dict[int, _ObjectState],
        anchored: list[int],
        flow: _Flow | None,
        index: int,
    ) -> None:
        """``object_competition`` (:mod:`~sam2matting.trackers.builtin_compete`): follow each
        object's territory with the camera and take from every tracked mask the pixels it
        claims in a lost object's territory outside its own."""
        shift = camera_shift(flow.fwd) if flow is not None else (0.0, 0.0)
        # lost objects' territories on the previous frame: a mask trusted there does not
        # extend its own territory into them (no creeping over a lost neighbour)
        held = {
            obj: st.territory.moved()
            for obj, st in previous.items()
            if st.territory is not None and st.score < 0.5
        }
        for obj, st in states.items():
            before = previous.get(obj)
            if before is not None and obj not in anchored:
                template = before.template
                for other, place in held.items():
                    if other != obj and template is not None:
                        template = template & ~place
                territory = follow_territory(before.territory, template, before.seen_at, shift)
                states[obj] = dataclasses.replace(st, territory=territory)
        reserved = {
            obj: st.territory.moved()
            for obj, st in states.items()
            if st.territory is not None
            and previous[obj].score < 0.5
            and abs(index - st.territory.seen_at) <= territory_frames()
        }
        if not reserved:
            return
        tolerance = territory_tolerance(self._work_w, self._work_h)
        for obj, st in states.items():
            if obj in anchored or st.territory is None:
                continue
            others = [m for other, m in reserved.items() if other != obj]
            out = veto(st.logits > 0, st.territory.moved(), others, tolerance)
            if out.any():
                logits = st.logits.copy()
                logits[out] = LOST_PIXEL_LOGIT
                states[obj] = dataclasses.replace(
                    st, prob=np.minimum(st.prob, _sigmoid(logits)), logits=logits
                )

    def _resolve_overlaps(self, states: dict[int, _ObjectState], anchored: list[int]) -> None:
        """Give each pixel to at most one object: anchored objects first, then the largest logit."""
        if len(states) < 2:
            return
        ids = list(states)
        # where an anchor claims a pixel it outranks any tracked logit
        rank = np.stack(
            [
                np.where(states[i].logits > 0, states[i].logits + 4 * LOGIT_LIMIT, states[i].logits)
                if i in anchored
                else states[i].logits
                for i in ids
            ]
        )
        winner = np.argmax(rank, axis=0)
        for k, obj in enumerate(ids):
            st = states[obj]
            lost = (winner != k) & (st.logits > 0)
            if lost.any():
                logits = st.logits.copy()
                logits[lost] = LOST_PIXEL_LOGIT
                states[obj] = dataclasses.replace(
                    st, prob=np.minimum(st.prob, _sigmoid(logits)), logits=logits
                )

    # -- anchors (initial masks from prompts) ----------------------------------------------------

    def _anchor(
        self, obj: int, prompts: _FramePrompts, frame: _WorkFrame, tracked: np.ndarray | None
    ) -> np.ndarray:
        """The object's soft mask on a prompted frame (working resolution, float32 [0, 1])."""
        if prompts.base is None and prompts.points and tracked is not None:
            if not (tracked > 0.5).any():
                return self._anchors[(obj, frame.index)]
            return self._correct(tracked > 0.5, prompts, frame).astype(np.float32)
        return self._anchors[(obj, frame.index)]

    def _standalone_anchor(self, prompts: _FramePrompts, frame: _WorkFrame) -> np.ndarray:
        """The soft mask a frame's prompts give on their own (no tracked mask to correct)."""
        base = prompts.base
        if isinstance(base, MaskPrompt):
            soft: np.ndarray = cv2.resize(
                base.mask.astype(np.float32),
                (self._work_w, self._work_h),
                interpolation=cv2.INTER_AREA,
            )
            if not (soft > 0.5).any():
                soft = soft / float(soft.max())  # thinner than a working-resolution pixel
            if not prompts.points:
                return soft
            return self._correct(soft > 0.5, prompts, frame).astype(np.float32)
        if isinstance(base, Box):
            return self._segment_box(base, prompts, frame).astype(np.float32)
        return self._segment_points(prompts, frame).astype(np.float32)

    def _grabcut(
        self, rgb: np.ndarray, labels: np.ndarray, roi: tuple[int, int, int, int]
    ) -> np.ndarray:
        """GrabCut (mask initialisation) on ``roi`` = (x0, y0, x1, y1); returns the foreground."""
        x0, y0, x1, y1 = roi
        crop = labels[y0:y1, x0:x1].copy()
        fg_labels = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
        if fg_labels.all() or not fg_labels.any():
            out = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
            return out
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        # GrabCut models colour with GMMs and seeds them with k-means; fix OpenCV's RNG so the
        # result is deterministic
        cv2.setRNGSeed(0)
        # too few samples for a GMM raise: the initial labels stand
        with contextlib.suppress(cv2.error):
            cv2.grabCut(
                np.ascontiguousarray(rgb[y0:y1, x0:x1]),
                crop,
                (0, 0, 1, 1),  # the rectangle is ignored with GC_INIT_WITH_MASK
                bgd,
                fgd,
                self.config.grabcut_iterations,
                cv2.GC_INIT_WITH_MASK,
            )
        out = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        out[y0:y1, x0:x1] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
        return out

    def _roi(
        self, x0: float, y0: float, x1: float, y1: float, margin: float
    ) -> tuple[int, int, int, int]:
        """Integer crop (x0, y0, x1, y1) around a region with ``margin`` px, inside the frame."""
        return (
            max(0, int(np.floor(x0 - margin))),
            max(0, int(np.floor(y0 - margin))),
            min(self._work_w, int(np.ceil(x1 + margin))),
            min(self._work_h, int(np.ceil(y1 + margin))),
        )

    def _grow(self, frame: _WorkFrame, seed: tuple[int, int], limit: np.ndarray) -> np.ndarray:
        """Colour-similar region connected to ``seed`` (flood fill), restricted to ``limit``."""
        h, w = self._work_h, self._work_w
        flood = np.zeros((h + 2, w + 2), np.uint8)
        tol = (grow_tolerance(),) * 3
        smooth = cv2.GaussianBlur(frame.rgb, (5, 5), 0)
        cv2.floodFill(
            smooth,
            flood,
            seed,
            (0, 0, 0),
            tol,
            tol,
            4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8),
        )
        return (flood[1:-1, 1:-1] > 0) & limit

    def _click_labels(
        self, labels: np.ndarray, prompts: _FramePrompts, frame: _WorkFrame, limit: np.ndarray
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Write the clicks into a GrabCut label map: grown regions probable, discs sure."""
        pos, neg = prompts.clicks(self._sx, self._sy)
        write_clicks(labels, self._init_frame(frame), pos, neg, limit)
        return pos, neg

    def _init_frame(self, frame: _WorkFrame) -> InitFrame:
        """The frame and this session's GrabCut, colour model and flood fill, for
        :mod:`~sam2matting.trackers.builtin_init`."""
        bins = self.config.histogram_bins

        def colour_llr(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
            return _ColourModel.learn(frame.bins, fg, bg, bins).llr(frame.bins)

        return InitFrame(
            rgb=frame.rgb,
            gray=frame.gray,
            grabcut=lambda labels, roi, image=None: self._grabcut(
                frame.rgb if image is None else image, labels, roi
            ),
            colour_llr=colour_llr,
            grow=lambda seed, limit: self._grow(frame, seed, limit),
            click_radius=click_radius(self._work_w, self._work_h),
        )

    def _segment_box(self, box: Box, prompts: _FramePrompts, frame: _WorkFrame) -> np.ndarray:
        """The object in a box (with any clicks on the same frame):
        :func:`~sam2matting.trackers.builtin_init.segment_box` at the working resolution."""
        x0, y0, x1, y1 = box.x0 * self._sx, box.y0 * self._sy, box.x1 * self._sx, box.y1 * self._sy
        bx0, by0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        bx1, by1 = min(self._work_w, int(np.ceil(x1))), min(self._work_h, int(np.ceil(y1)))
        pos, neg = prompts.clicks(self._sx, self._sy)
        pixel_box = (bx0, by0, bx1, by1)
        moving = None
        region = None
        if self.config.box_motion_weight > 0:
            # what moved in the box: what differs from the clean plate when one holds (a still
            # camera sees the whole object, legs and head, and not its shadow), else what the
            # flow over the next few frames moves against the background
            moving = self._plate_moving(frame, pixel_box)
            if moving is not None and not pos and not neg:
                region = region_in_box(moving, pixel_box)
            if moving is None:
                moving = self._moving(
                    frame, lambda fwd, back: moving_in_box(fwd, back, pixel_box), pixel_box
                )
        best = segment_box(
            self._init_frame(frame),
            pixel_box,
            pos,
            neg,
            self.config.box_texture_core,
            self.config.box_whole_margin,
            moving,
            self.config.box_motion_weight,
        )
        if region is not None and _overlap(best, region) < plate_agreement():
            # the colours' best guess is not what the still camera saw move (a white dog on a
            # light pavement: a blob over its patches and the pavement between its legs); the
            # plate is the scene without the object, so what differs from it is the object
            return region
        return best

    def _moving(
        self,
        frame: _WorkFrame,
        find: Callable[[np.ndarray, np.ndarray], np.ndarray | None],
        box: tuple[int, int, int, int] | None = None,
    ) -> np.ndarray | None:
        """``find(fwd, back)`` (:func:`~sam2matting.trackers.builtin_init.moving_in_box` /
        :func:`~.builtin_init.moving_at_clicks`) on the flows between the prompted frame and
        the next one, then up to ``init_motion_frames`` on (earlier ones at the clip's end),
        the first answer kept; None for a still image, with the option off, or when motion
        says nothing. Each pair's flows start from the camera's translation
        (:func:`~.builtin_motion.camera_shift`, ``box`` — where the object is — left out of
        the correlation), as tracking's do: from zero, DIS misses a pan of more than ~20 px,
        the background's flow comes out wrong and everything reads as moving (DAVIS libby and
        kite-surf with every 3rd frame kept: box first-frame J 0.25 / 0.15)."""
        if self._num_frames < 2:
            return None
        source = self._require_open()
        for k in range(1, self.config.init_motion_frames + 1):
            other = frame.index + k if frame.index + k < self._num_frames else frame.index - k
            if not 0 <= other < self._num_frames or other == frame.index:
                return None
            try:
                image = source.read_frame(other)
            except InputError:
                # an unreadable neighbour frame costs the motion cue, not the prompt
                return None
            gray = cv2.cvtColor(self._working_rgb(image), cv2.COLOR_RGB2GRAY)
            exclude = None
            if box is not None:
                exclude = np.zeros(gray.shape, bool)
                exclude[box[1] : box[3], box[0] : box[2]] = True
            camera = correlated_camera_shift(frame.gray, gray, exclude)
            fwd_init, back_init = initial_flows(gray.shape, camera, []) or (None, None)
            fwd, back = self._flows(frame.gray, gray, fwd_init, back_init, self._init_dis())
            found = find(fwd, back)
            if found is not None:
                return found
        return None

    def _segment_points(self, prompts: _FramePrompts, frame: _WorkFrame) -> np.ndarray:
        """The object under the clicks:
        :func:`~sam2matting.trackers.builtin_init.segment_clicks` at the working resolution."""
        pos, neg = prompts.clicks(self._sx, self._sy)
        weight = self.config.click_motion_weight
        # (the clean plate's changed region under the clicks was tried here: no gain on the
        # synthetic still-camera clips, and one walker lost to the person passing behind it)
        moving = (
            None
            if weight <= 0 or not pos
            else self._moving(frame, lambda fwd, back: moving_at_clicks(fwd, back, pos))
        )
        return segment_clicks(self._init_frame(frame), pos, neg, moving, weight)

    def _correct(self, base: np.ndarray, prompts: _FramePrompts, frame: _WorkFrame) -> np.ndarray:
        """Refine a binary mask with clicks: only pixels near a click may change."""
        pos, neg = prompts.clicks(self._sx, self._sy)
        shape = (self._work_h, self._work_w)
        near = _disc_mask(shape, pos + neg, correction_radius(self._work_w, self._work_h))
        labels = np.where(base, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
        labels[near & base] = cv2.GC_PR_FGD
        labels[near & ~base] = cv2.GC_PR_BGD
        self._click_labels(labels, prompts, frame, near)
        ys, xs = mask_pixels(near)
        roi = self._roi(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, margin=16)
        out = self._grabcut(frame.rgb, labels, roi)
        r = click_radius(self._work_w, self._work_h)
        keep = (base & ~near) | _disc_mask(shape, pos, r)
        return _components_touching(out, keep)
