"""A learned appearance cue for the built-in tracker: pixel embeddings matched against a memory.

The tracker's colour model is a 3-D colour histogram: it cannot tell an object from background
of the same colours (a dog's shadowed flank from the ground, a striped shirt from a patterned
wall). A small convolutional network (:class:`PixelEmbedder`, 32 k parameters) maps a frame to
one unit-length 16-channel embedding per pixel at a quarter of the working resolution
(:data:`STRIDE` 4, about ±30 px of view: texture, not just colour). The embeddings and mask of
the frame an object is anchored on, and of its last confident frame, form its *memory*
(:class:`EmbedMemory`, at most :data:`MEMORY_SIZE` pixels each, from the box around the mask);
on every later frame the pixels in a band around the predicted outline (:func:`query_band`)
attend over the memory (soft attention, as in space-time-memory networks' label transfer) and
the attention-weighted memory labels are their object probability (:func:`transfer_logits`).
Its log-odds, capped at :data:`CUE_LIMIT`, join the colour log-likelihood ratio in the
tracker's re-fit and in the evidence its regrow and graph-cut stages judge by (tracker option
``embed_strength``).

The network is trained on still images only (:mod:`sam2matting.train.pixel_embedder`): two
views of one composite of a training-split foreground over a background (warped, recoloured,
blurred, occluded differently), view 2's mask predicted by attention over view 1's embeddings
and mask; backgrounds often hold a patch of the object's own colours in another texture, so
colour alone cannot win. DAVIS is never used for training.

What it does (``benchmarks/results/builtin_tracker_embed.md``): on the synthetic clip of an
object moving into a patch of its own colours in another texture
(:mod:`sam2matting.eval.texture_clips`) it holds the object where the colour model lets the
mask spread into the patch; on the DAVIS tuning sequences it lowers J&F at every strength
tried (the mask shrinks), so it is off by default.

Cost at 512×288 on one CPU thread: the network ~5.5 ms a frame (once per frame, shared by
every object), the attention ~1 ms per object (tracking 40 → 32 frames/s wall on 01_dog).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..shipped_nets import load_shipped_net

__all__ = [
    "CUE_LIMIT",
    "EMBED_WEIGHTS",
    "MEMORY_SIZE",
    "STRIDE",
    "EmbedMemory",
    "EmbeddingCue",
    "PixelEmbedder",
    "attend",
    "embed_frame",
    "embedding_cue",
    "load_embedder",
    "make_memory",
    "on_one_thread",
    "query_band",
    "transfer_logits",
]

#: the shipped embedder's weights file (in the package's weights/ folder)
EMBED_WEIGHTS = "sam2matting-pixel-embedder-v1.safetensors"
#: embeddings are computed on a grid this many working-resolution pixels apart
STRIDE = 4
#: memory pixels kept per object (a regular subsample of the box around the anchor mask)
MEMORY_SIZE = 512
#: |log-odds| of the cue is capped at this (as the colour term, :func:`~.builtin.colour_llr_limit`)
CUE_LIMIT = 4.0


class PixelEmbedder(nn.Module):
    """Unit-length ``dim``-channel embeddings at 1/4 resolution from RGB in [0, 1].

    Two stride-2 3×3 convolutions (to 1/4 resolution), three 3×3 convolutions with dilation
    1, 2, 4 (±~30 px of view at full resolution), then a 1×1 projection of the features joined
    with the 1/4-resolution average colour (colour stays directly available; texture comes from
    the context). ``log_scale``: the attention's inverse temperature (log), learnt."""

    def __init__(self, width: int = 32, dim: int = 16) -> None:
        super().__init__()
        self.width, self.dim = int(width), int(dim)
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(12, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(inplace=True),
        )
        self.project = nn.Conv2d(width + 3, dim, 1)
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(10.0))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×dim×⌈H/4⌉×⌈W/4⌉ unit vectors for B×3×H×W RGB in [0, 1]."""
        x = x - 0.5
        feat = self.body(x)
        colour = F.avg_pool2d(x, STRIDE, ceil_mode=True)[..., : feat.shape[-2], : feat.shape[-1]]
        e = self.project(torch.cat([feat, colour], dim=1))
        return F.normalize(e, dim=1)


def transfer_logits(
    query: torch.Tensor, keys: torch.Tensor, labels: torch.Tensor, log_scale: torch.Tensor
) -> torch.Tensor:
    """Object log-odds of each query by soft attention over the memory.

    ``query``: (…, N, D) embeddings; ``keys``: (…, M, D); ``labels``: (…, M) object probability
    of each memory pixel in [0, 1]. The attention weights are softmax(exp(log_scale) · q·k)
    over the M memory pixels; the result is the logit of Σ weight · label (…, N), squeezed
    into [1e-4, 1 − 1e-4] (|log-odds| ≤ 9.2; squeezed, not clamped, so a confident mistake
    still has a gradient)."""
    sim = torch.matmul(query, keys.transpose(-1, -2)) * log_scale.exp()
    p = torch.matmul(torch.softmax(sim, dim=-1), labels.unsqueeze(-1)).squeeze(-1)
    return torch.logit(1e-4 + (1 - 2e-4) * p)


_T = TypeVar("_T")
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def on_one_thread(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` on a persistent worker thread whose torch runs one intra-op thread (the
    caller's setting is untouched), under :func:`torch.inference_mode`.

    Why not ``torch.set_num_threads(1)`` around the call (as
    :func:`~.builtin_learned.single_thread`): switching the count back and forth made every
    call of the network ~17 ms slower on this CPU (oneDNN rebuilds its state for the thread
    count: 22 ms a frame instead of 5). Why one thread at all: two OpenMP threads on a busy
    2-core machine were ~20× slower."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                1,
                thread_name_prefix="sam2matting-embed",
                initializer=torch.set_num_threads,
                initargs=(1,),
            )

    def call() -> _T:
        with torch.inference_mode():
            return fn(*args)

    return _POOL.submit(call).result()


def _embed(net: PixelEmbedder, rgb: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
    e = net(x.contiguous(memory_format=torch.channels_last))
    return np.ascontiguousarray(e[0].permute(1, 2, 0).numpy(), np.float32)


def embed_frame(net: PixelEmbedder, rgb: np.ndarray) -> np.ndarray:
    """float32 ⌈h/4⌉×⌈w/4⌉×D embeddings of an RGB uint8 h×w×3 frame (one torch thread, NHWC,
    :func:`on_one_thread`)."""
    return on_one_thread(_embed, net, rgb)


def _box(mask: np.ndarray, grow: float, pad: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of ``mask``'s bounding box grown by ``grow`` × its larger side + ``pad``
    on every side, clipped to the mask; None when the mask is empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    m = round(grow * max(y1 - y0, x1 - x0)) + pad
    h, w = mask.shape
    return max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)


def _small(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``prob`` (working resolution) area-averaged onto the embedding grid ``shape`` (h, w)."""
    h, w = prob.shape
    ph, pw = shape[0] * STRIDE, shape[1] * STRIDE
    if (ph, pw) != (h, w):  # the grid covers a frame padded to a multiple of STRIDE
        prob = cv2.copyMakeBorder(prob, 0, ph - h, 0, pw - w, cv2.BORDER_REPLICATE)
    out: np.ndarray = cv2.resize(prob, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return out


@dataclass(frozen=True)
class EmbedMemory:
    """An object's memory: ``keys`` M×D embeddings and ``labels`` (M,) object probabilities of
    pixels around its anchor mask (at most :data:`MEMORY_SIZE`)."""

    keys: np.ndarray
    labels: np.ndarray


def make_memory(
    embedding: np.ndarray, prob: np.ndarray, size: int = MEMORY_SIZE
) -> EmbedMemory | None:
    """The memory of an object anchored with soft mask ``prob`` (working resolution, [0, 1]) on
    a frame with ``embedding`` (:func:`embed_frame`): the grid pixels in the box around the
    mask grown by half its larger side (the object and the background it must be told from),
    a regular subsample of at most ``size``; None when the mask is empty or has no background
    around it."""
    labels = _small(prob.astype(np.float32), embedding.shape[:2])
    box = _box(labels > 0.5, 0.5, 2)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    keys = embedding[y0:y1, x0:x1].reshape(-1, embedding.shape[2])
    lab = labels[y0:y1, x0:x1].reshape(-1)
    if len(lab) > size:
        idx = np.linspace(0, len(lab) - 1, size).round().astype(np.int64)
        keys, lab = keys[idx], lab[idx]
    if not (lab > 0.5).any() or not (lab < 0.5).any():
        return None
    return EmbedMemory(np.ascontiguousarray(keys, np.float32), lab.astype(np.float32))


def _attend(memory: EmbedMemory, queries: np.ndarray, log_scale: float) -> np.ndarray:
    z = transfer_logits(
        torch.from_numpy(np.ascontiguousarray(queries, np.float32)),
        torch.from_numpy(memory.keys),
        torch.from_numpy(memory.labels),
        torch.tensor(log_scale),
    )
    return np.asarray(z.numpy(), np.float32)


def attend(memory: EmbedMemory, queries: np.ndarray, log_scale: float) -> np.ndarray:
    """Object log-odds (float32 (N,)) of ``queries`` (N×D embeddings) by attention over
    ``memory`` (:func:`transfer_logits`), on one torch thread (:func:`on_one_thread`)."""
    return on_one_thread(_attend, memory, queries, log_scale)


def query_band(small: np.ndarray) -> np.ndarray:
    """bool grid: the cells within a quarter of the object's size (the square root of its area
    in cells, at least 2 cells) of the outline of ``small`` (the predicted mask on the
    embedding grid), both sides: where the cue can move the re-fit's boundary (deeper inside
    or further out the warped prior outweighs it). Querying the band, not the box around
    the object, cuts the attention's cost ~4× on a large object."""
    r = max(2, round(0.25 * float(np.sqrt(np.count_nonzero(small)))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = small.astype(np.uint8)
    band: np.ndarray = cv2.dilate(m, k) > cv2.erode(m, k)
    return band


def embedding_cue(
    memory: EmbedMemory,
    embedding: np.ndarray,
    predicted: np.ndarray,
    log_scale: float,
    limit: float = CUE_LIMIT,
) -> np.ndarray:
    """The cue the tracker adds to its re-fit: object log-odds (float32, working resolution
    like ``predicted``, capped at ±``limit``) from attention over ``memory``, computed on the
    grid cells of :func:`query_band` around the ``predicted`` mask; 0 elsewhere (and
    everywhere when ``predicted`` is empty)."""
    h, w = predicted.shape
    out = np.zeros((h, w), np.float32)
    grid_h, grid_w = embedding.shape[:2]
    small = _small(predicted.astype(np.float32), (grid_h, grid_w)) > 0.25
    if not small.any():
        return out
    band = query_band(small)
    box = _box(band, 0.0, 1)
    assert box is not None
    y0, y1, x0, x1 = box
    sel = band[y0:y1, x0:x1]
    z = np.zeros(sel.shape, np.float32)
    z[sel] = np.clip(attend(memory, embedding[y0:y1, x0:x1][sel], log_scale), -limit, limit)
    # up to working resolution: grid cell centres sit at STRIDE·i + (STRIDE − 1)/2
    ty0, tx0 = y0 * STRIDE, x0 * STRIDE
    ty1, tx1 = min(h, y1 * STRIDE), min(w, x1 * STRIDE)
    big = cv2.resize(z, ((x1 - x0) * STRIDE, (y1 - y0) * STRIDE), interpolation=cv2.INTER_LINEAR)
    out[ty0:ty1, tx0:tx1] = big[: ty1 - ty0, : tx1 - tx0]
    return out


class EmbeddingCue:
    """The cue as the tracker calls it: ``cue.embed(rgb)`` once per frame, ``cue.memory(embedding,
    prob)`` on an anchor, ``cue(memory, embedding, predicted)`` → log-odds (see
    :func:`embedding_cue`)."""

    def __init__(self, net: PixelEmbedder) -> None:
        self.net = net
        self.log_scale = float(net.log_scale.detach())

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        return embed_frame(self.net, rgb)

    def memory(self, embedding: np.ndarray, prob: np.ndarray) -> EmbedMemory | None:
        return make_memory(embedding, prob)

    def __call__(
        self,
        memory: EmbedMemory,
        recent: EmbedMemory | None,
        embedding: np.ndarray,
        predicted: np.ndarray,
    ) -> np.ndarray:
        if recent is not None:
            memory = EmbedMemory(
                np.concatenate([memory.keys, recent.keys]),
                np.concatenate([memory.labels, recent.labels]),
            )
        return embedding_cue(memory, embedding, predicted, self.log_scale)


def load_embedder(path: str | Path | None = None) -> PixelEmbedder:
    """The embedder from a safetensors file (default: the shipped one), in eval mode on CPU;
    :class:`~sam2matting.errors.WeightsError` (one line) when the file is absent or wrong."""
    return load_shipped_net(
        path,
        EMBED_WEIGHTS,
        lambda state: PixelEmbedder(
            int(state["body.2.weight"].shape[0]), int(state["project.weight"].shape[0])
        ),
        "pixel embedder",
        prefix="builtin tracker: ",
    )
