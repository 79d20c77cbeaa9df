"""The training loop: composites → network → losses, with checkpoints, resume and export.

Deterministic: batch ``k`` depends only on (seed, k) (see :mod:`.data`), the network's init on
the seed, and every random choice in the loop on (seed, step) — so a run interrupted and
resumed from its last checkpoint continues exactly (on the same machine and library versions).

Per step:

1. features (own encoder) → ROI logits; ROI = sigmoid > 0.65 (hard). During the first
   ``teacher_forcing`` fraction of the steps, the ground-truth ROI replaces the prediction in a
   decreasing share of the samples, so the heads do not start on a random trimap.
2. pseudo-trimap → progressive predictor → alphas at strides 8, 4, 2.
3. native refiner on up to ``refine_tiles`` tiles of the native crops that the (predicted ∪
   ground-truth) ROI touches.
4. loss = ROI + alpha (0.3 / 0.6 / 1.2) + consistency + refiner; AdamW, warm-up + cosine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..bridge.proposals import gather_patches, select_tiles
from ..bridge.trimap import ground_truth_roi, pseudo_trimap
from ..errors import Sam2MattingError
from ..matting.heads import resize_to
from ..matting.learned import (
    NetConfig,
    SAM2MattingNet,
    guided_prior,
    model_presets,
    normalize_rgb,
)
from ..matting.refine import sample_native
from .data import Batch, CompositeSampler, DataConfig, describe_split
from .losses import alpha_loss, consistency_loss, gradient_loss, laplacian_loss, roi_loss

log = logging.getLogger(__name__)

__all__ = [
    "PRECISIONS",
    "BatchLoader",
    "TrainConfig",
    "TrainResult",
    "export_weights",
    "ground_truth_roi_batch",
    "train",
]

#: training precisions (``TrainConfig.precision``)
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in checkpoints and the weights manifest)."""

    out_dir: str = "runs/train"
    model: str = "compact-guided"
    steps: int = 2000
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 40
    seed: int = 0
    roi_weight: float = 1.0
    consistency_weight: float = 0.2
    refine_weight: float = 1.0
    refine_tiles: int = 48
    roi_radius: int = 3
    teacher_forcing: float = 0.15
    checkpoint_every: int = 250
    log_every: int = 10
    max_minutes: float | None = None
    time_schedule: bool = False
    stop_after: int | None = None
    init_from: str | None = None
    threads: int | None = None
    device: str | None = None
    prefetch: bool = True
    #: data worker *processes* composing batches ahead (0: one prefetch thread, as before)
    workers: int = 0
    #: ``fp32``, ``bf16`` or ``fp16`` (autocast; fp16 with a gradient scaler, CUDA only)
    precision: str = "fp32"
    #: extra weight of an L1 loss on the alpha's spatial gradients (finest stage + refiner),
    #: which penalises an edge drawn softer than the truth (0: the paper's losses only)
    gradient_weight: float = 0.0
    progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """Where the run ended: last step done, checkpoint path, seconds spent in this call."""

    step: int
    checkpoint: Path
    seconds: float
    stopped_early: bool


def _net_config(name: str) -> NetConfig:
    presets = {k: v for k, v in model_presets().items() if k != "paper"}
    if name not in presets:
        raise Sam2MattingError(f"cannot train model {name!r}; choose one of {', '.join(presets)}")
    return presets[name]()


def ground_truth_roi_batch(alpha: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """B×H×W float32 GT ROI: the paper's band around soft alpha ∪ where the tracker mask is wrong."""
    out = np.zeros(alpha.shape, np.float32)
    k = np.ones((3, 3), np.uint8)
    for i in range(alpha.shape[0]):
        band = ground_truth_roi(alpha[i], radius=radius)
        wrong = (mask[i] > 0.5) != (alpha[i] > 0.5)
        wrong = cv2.dilate(wrong.astype(np.uint8), k).astype(bool)
        out[i] = (band | wrong).astype(np.float32)
    return out


def _progress(step: int, elapsed: float, cfg: TrainConfig) -> float:
    """Fraction of the run done: by steps, or with ``time_schedule`` by whichever of steps and
    wall time (``max_minutes``) runs out first — so a CPU-bound run anneals its learning rate
    within its time budget however busy the machine is."""
    t = step / max(1, cfg.steps)
    if cfg.time_schedule and cfg.max_minutes:
        t = max(t, elapsed / (60.0 * cfg.max_minutes))
    return min(1.0, t)


def _lr_at(step: int, cfg: TrainConfig, progress: float | None = None) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if progress is None:
        progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _git_commit() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_WORKER_SAMPLER: CompositeSampler | None = None


def _worker_init(data: DataConfig, seed: int) -> None:
    """Data worker process: one sampler each, single-threaded OpenCV (the processes are the
    parallelism)."""
    global _WORKER_SAMPLER
    cv2.setNumThreads(1)
    _WORKER_SAMPLER = CompositeSampler(data, seed=seed)


def _worker_batch(step: int, size: int, prior_radius: int, roi_radius: int) -> Batch:
    if _WORKER_SAMPLER is None:  # pragma: no cover - initializer always ran
        raise Sam2MattingError("data worker was not initialised")
    return _prepare(_WORKER_SAMPLER.batch(step, size), prior_radius, roi_radius)


def _prepare(b: Batch, prior_radius: int, roi_radius: int) -> Batch:
    """Add the CPU-side targets to a batch (guided prior, GT ROI), so workers do them too."""
    if prior_radius > 0:
        b.prior = np.stack(
            [guided_prior(b.image[i], b.mask[i], prior_radius) for i in range(len(b.mask))]
        )
    b.gt_roi = ground_truth_roi_batch(b.alpha, b.mask, roi_radius)
    return b


class BatchLoader:
    """Batches ``step, step + 1, …`` in order, composed ahead by ``workers`` processes (spawned,
    so no torch state is forked) or, with 0 workers, one prefetch thread (``prefetch``) or none.

    Deterministic: batch k depends only on (seed, k), whoever composes it.
    """

    def __init__(
        self,
        sampler: CompositeSampler,
        data: DataConfig,
        seed: int,
        batch_size: int,
        prior_radius: int,
        roi_radius: int,
        workers: int = 0,
        prefetch: bool = True,
    ) -> None:
        import multiprocessing
        from collections import deque
        from concurrent.futures import Executor, ProcessPoolExecutor

        self.sampler = sampler
        self.args = (batch_size, prior_radius, roi_radius)
        self.workers = max(0, int(workers))
        self.depth = 2 * self.workers if self.workers else (1 if prefetch else 0)
        self.pool: Executor | None = None
        if self.workers:
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(data, seed),
            )
        elif prefetch:
            self.pool = ThreadPoolExecutor(1)
        self.queue: deque[tuple[int, Future[Batch]]] = deque()

    def _submit(self, step: int) -> Future[Batch]:
        assert self.pool is not None
        if self.workers:
            return self.pool.submit(_worker_batch, step, *self.args)
        return self.pool.submit(self._local, step)

    def _local(self, step: int) -> Batch:
        size, prior_radius, roi_radius = self.args
        return _prepare(self.sampler.batch(step, size), prior_radius, roi_radius)

    def get(self, step: int, last: int) -> Batch:
        """Batch ``step``; queues up to ``depth`` more below ``last`` (exclusive)."""
        while self.queue and self.queue[0][0] != step:  # stale (e.g. after a resume)
            self.queue.popleft()[1].cancel()
        if self.pool is None:
            return self._local(step)
        nxt = self.queue[-1][0] + 1 if self.queue else step
        while nxt < last and nxt <= step + self.depth:
            self.queue.append((nxt, self._submit(nxt)))
            nxt += 1
        if not self.queue:
            return self._local(step)
        return self.queue.popleft()[1].result()

    def close(self) -> None:
        for _, f in self.queue:
            f.cancel()
        self.queue.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _Trainer:
    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        from ..device import resolve_device

        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.net_config = _net_config(cfg.model)
        self.net = SAM2MattingNet(self.net_config).to(self.device)
        if self.device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, p in self.net.named_parameters():
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        self.opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=cfg.lr,
        )
        if cfg.precision not in PRECISIONS:
            raise Sam2MattingError(
                f"unknown precision {cfg.precision!r}; choose from {', '.join(PRECISIONS)}"
            )
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise Sam2MattingError("fp16 training needs CUDA; use bf16 or fp32 on this device")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        self.sampler = CompositeSampler(cfg.data, seed=cfg.seed)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.elapsed = 0.0  # training wall seconds over all resumed segments

    def _autocast(self) -> Any:
        """Mixed precision for the forward pass and losses (a no-op in fp32)."""
        if self.cfg.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.cfg.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- checkpoints ------------------------------------------------------------------------
    def save(self, name: str = "last.pt") -> Path:
        path = self.out / name
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "step": self.step,
                "elapsed": self.elapsed,
                "net": self.net.state_dict(),
                "opt": self.opt.state_dict(),
                "scaler": self.scaler.state_dict(),
                "train_config": self.cfg.to_dict(),
                "net_config": self.net_config.to_dict(),
                "sources": self.sampler.sources,
            },
            tmp,
        )
        tmp.replace(path)
        return path

    def init_from(self, path: str) -> None:
        """Start from another run's network (a checkpoint ``.pt`` or exported ``.safetensors``);
        optimiser and schedule start fresh (fine-tuning)."""
        from ..matting.weights import expand_input_channels, load_network, load_state_dict_strict

        if path.endswith(".safetensors"):
            state = load_network(path).state_dict()
        else:
            state = torch.load(path, map_location="cpu", weights_only=False)["net"]
        # a plain network's weights start its hybrid variant (the prior's channels at zero)
        state, widened = expand_input_channels(self.net, state)
        if widened:
            log.info(
                "initial weights: %d layers widened for new input channels (zero-init): %s",
                len(widened),
                ", ".join(widened),
            )
        load_state_dict_strict(self.net, state, what=f"initial weights {path}")

    def resume(self) -> bool:
        path = self.out / "last.pt"
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.elapsed = float(state.get("elapsed", 0.0))
        return True

    # -- one step ---------------------------------------------------------------------------
    def _tensors(self, b: Batch) -> dict[str, torch.Tensor]:
        dev = self.device

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x)).to(dev)

        if b.gt_roi is None or (self.net.uses_prior and b.prior is None):
            b = _prepare(b, self.net_config.prior_radius, self.cfg.roi_radius)
        assert b.gt_roi is not None
        rgb = normalize_rgb(t(b.image).permute(0, 3, 1, 2))
        out: dict[str, torch.Tensor] = {}
        if self.net.uses_prior and b.prior is not None:
            out["prior"] = t(b.prior)[:, None].contiguous(memory_format=torch.channels_last)
        return out | {
            "rgb": rgb.contiguous(memory_format=torch.channels_last),
            "alpha": t(b.alpha)[:, None],
            "mask": t(b.mask)[:, None].contiguous(memory_format=torch.channels_last),
            "gt_roi": t(b.gt_roi)[:, None],
        }

    def loss(self, b: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, net = self.cfg, self.net
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, step, 1]))
        x = self._tensors(b)
        feats = net.features(x["rgb"], x["mask"])
        size4 = (int(feats[0].shape[-2]), int(feats[0].shape[-1]))
        roi_logits = net.roi(feats, x["mask"], x["rgb"])
        roi_target = F.adaptive_max_pool2d(x["gt_roi"], size4)
        l_roi = roi_loss(roi_logits, roi_target)
        roi = net.roi.propose(roi_logits)
        share = (
            max(0.0, 1.0 - step / max(1.0, cfg.teacher_forcing * cfg.steps))
            if cfg.teacher_forcing > 0
            else 0.0
        )
        forced = torch.from_numpy(rng.random(roi.shape[0]) < share).to(roi.device)
        roi = torch.where(forced[:, None, None, None], roi_target > 0.5, roi)
        mask4 = (resize_to(x["mask"], size4) > 0.5).float()
        trimap = pseudo_trimap(mask4, roi)
        prior = x.get("prior")
        pred = net.predictor(feats, trimap, x["rgb"], prior)
        l_alpha, parts = alpha_loss(pred.alphas, x["alpha"])
        gt_mask = (x["alpha"] > 0.5).float()
        l_cons = (
            consistency_loss(pred.alpha, gt_mask)
            if cfg.consistency_weight > 0
            else x["alpha"].new_zeros(())
        )
        l_ref = self._refine_loss(
            b, roi | (roi_target > 0.5), pred.alpha, pred.features, rng, prior
        )
        l_grad = x["alpha"].new_zeros(())
        if cfg.gradient_weight > 0:
            fine = pred.alphas[-1]
            size = (int(fine.shape[-2]), int(fine.shape[-1]))
            l_grad = gradient_loss(fine, F.adaptive_avg_pool2d(x["alpha"], size))
        total = (
            cfg.roi_weight * l_roi
            + l_alpha
            + cfg.consistency_weight * l_cons
            + cfg.refine_weight * l_ref
            + cfg.gradient_weight * l_grad
        )
        logs = {
            "loss": float(total.detach()),
            "roi": float(l_roi.detach()),
            "alpha8": parts[0],
            "alpha4": parts[1],
            "alpha2": parts[2],
            "cons": float(l_cons.detach()),
            "refine": float(l_ref.detach()),
            "grad": float(l_grad.detach()),
            "roi_share": float(roi.float().mean()),
        }
        return total, logs

    def _refine_loss(
        self,
        b: Batch,
        roi: torch.Tensor,
        coarse: torch.Tensor,
        features: torch.Tensor,
        rng: np.random.Generator,
        prior: torch.Tensor | None = None,
    ) -> torch.Tensor:
        net, cfg = self.net, self.cfg
        if net.refiner is None or cfg.refine_weight <= 0:
            return coarse.new_zeros(())
        rc = net.refiner.config
        n = b.native.shape[1]
        roi_np = roi[:, 0].cpu().numpy()
        per = [select_tiles(roi_np[i], n, n, rc.tile, grow=0).origins for i in range(len(roi_np))]
        total = sum(len(o) for o in per)
        if total == 0:
            return coarse.new_zeros(())
        if total > cfg.refine_tiles:  # keep a random subset, proportionally per sample
            flat = np.concatenate(
                [np.c_[np.full(len(o), i), o] for i, o in enumerate(per) if len(o)]
            )
            pick = flat[np.sort(rng.choice(len(flat), cfg.refine_tiles, replace=False))]
            per = [pick[pick[:, 0] == i, 1:] for i in range(len(per))]
        rgbs, coarses, feats, trues, priors = [], [], [], [], []
        native = torch.from_numpy(b.native).permute(0, 3, 1, 2)
        native_alpha = torch.from_numpy(b.native_alpha)[:, None]
        for i, o in enumerate(per):
            if len(o) == 0:
                continue
            ot = torch.from_numpy(np.ascontiguousarray(o))
            rgbs.append(gather_patches(native[i], ot, rc.tile, rc.pad))
            trues.append(gather_patches(native_alpha[i], ot, rc.tile, rc.pad))
            coarses.append(
                sample_native(coarse[i : i + 1], ot.to(coarse.device), rc.tile, rc.pad, (n, n))
            )
            feats.append(
                sample_native(features[i : i + 1], ot.to(coarse.device), rc.tile, rc.pad, (n, n))
            )
            if prior is not None:
                priors.append(
                    sample_native(prior[i : i + 1], ot.to(coarse.device), rc.tile, rc.pad, (n, n))
                )
        dev = coarse.device
        rgb = normalize_rgb(torch.cat(rgbs).to(dev).float() / 255.0)
        fine = net.refiner(
            rgb, torch.cat(coarses), torch.cat(feats), torch.cat(priors) if priors else None
        )
        true = torch.cat(trues).to(dev)
        p = rc.pad
        fc, tc = fine[..., p:-p, p:-p], true[..., p:-p, p:-p]
        loss = F.l1_loss(fc, tc) + laplacian_loss(fc, tc, levels=3)
        if cfg.gradient_weight > 0:
            loss = loss + cfg.gradient_weight * gradient_loss(fc, tc)
        return loss

    # -- the loop ---------------------------------------------------------------------------
    def run(self, on_log: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
        cfg = self.cfg
        t_start = time.perf_counter()
        elapsed0 = self.elapsed
        deadline = 60 * cfg.max_minutes if cfg.max_minutes else None
        log_f = open(self.out / "log.jsonl", "a")  # noqa: SIM115 - closed in finally
        loader = BatchLoader(
            self.sampler,
            cfg.data,
            cfg.seed,
            cfg.batch_size,
            self.net_config.prior_radius if self.net.uses_prior else 0,
            cfg.roi_radius,
            workers=cfg.workers,
            prefetch=cfg.prefetch,
        )
        stopped = False
        try:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=cfg.steps,
                initial=self.step,
                disable=not cfg.progress,
                desc="train",
                dynamic_ncols=True,
            )
            self.net.train()
            acc: dict[str, float] = {}
            n_acc = 0
            wait_data = 0.0
            while self.step < cfg.steps:
                step = self.step
                t_data = time.perf_counter()
                batch = loader.get(step, cfg.steps)
                wait_data += time.perf_counter() - t_data
                self.elapsed = elapsed0 + time.perf_counter() - t_start
                lr = _lr_at(
                    step, cfg, _progress(step, self.elapsed, cfg) if cfg.time_schedule else None
                )
                for g in self.opt.param_groups:
                    g["lr"] = lr
                with self._autocast():
                    total, logs = self.loss(batch, step)
                self.opt.zero_grad(set_to_none=True)
                self.scaler.scale(total).backward()
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
                self.scaler.step(self.opt)
                self.scaler.update()
                self.step = step + 1
                for k, v in logs.items():
                    acc[k] = acc.get(k, 0.0) + v
                n_acc += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    rec = {k: round(v / n_acc, 5) for k, v in acc.items()}
                    rec.update(
                        step=self.step,
                        lr=lr,
                        seconds=round(elapsed0 + time.perf_counter() - t_start, 1),
                        data_wait=round(wait_data / max(n_acc, 1), 4),
                    )
                    wait_data = 0.0
                    log_f.write(json.dumps(rec) + "\n")
                    log_f.flush()
                    bar.set_postfix(loss=f"{rec['loss']:.4f}", roi=f"{rec['roi']:.3f}")
                    if on_log is not None:
                        on_log(rec)
                    acc, n_acc = {}, 0
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                    self.save(f"step{self.step:06d}.pt")
                self.elapsed = elapsed0 + time.perf_counter() - t_start
                out_of_time = deadline is not None and self.elapsed > deadline
                if (out_of_time or self.step == cfg.stop_after) and self.step < cfg.steps:
                    stopped = True
                    break
            bar.close()
        finally:
            loader.close()
            log_f.close()
        path = self.save()
        return TrainResult(self.step, path, time.perf_counter() - t_start, stopped)


def train(
    cfg: TrainConfig, resume: bool = True, on_log: Callable[[dict[str, Any]], None] | None = None
) -> TrainResult:
    """Train (or resume from ``out_dir/last.pt`` when ``resume``) until ``cfg.steps``.

    Stops early (checkpoint saved, ``stopped_early=True``) after ``cfg.max_minutes`` or at step
    ``cfg.stop_after`` (the learning-rate schedule still spans ``cfg.steps``, so a run stopped at
    step k is comparable with another run's checkpoint at step k).
    """
    trainer = _Trainer(cfg)
    resumed = trainer.resume() if resume else False
    if not resumed and cfg.init_from:
        trainer.init_from(cfg.init_from)
    return trainer.run(on_log)


def export_weights(
    checkpoint: str | Path,
    weights_path: str | Path,
    command: str = "",
    wall_seconds: float | None = None,
) -> dict[str, Any]:
    """Write a checkpoint's network as shipped weights (float16 safetensors + manifest JSON)."""
    from ..matting.learned import config_from_dict
    from ..matting.weights import save_weights

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    net_cfg = config_from_dict(state["net_config"])
    net = SAM2MattingNet(net_cfg)
    net.load_state_dict(state["net"])
    tc = state["train_config"]
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in tc["data"].items()
    }
    data_cfg = DataConfig(**fields)
    info = {
        "trained_steps": int(state["step"]),
        "seed": tc["seed"],
        "command": command,
        "commit": _git_commit(),
        "wall_seconds": wall_seconds,
        "torch": torch.__version__,
        "data": describe_split(data_cfg, state.get("sources", [])),
        "train_config": tc,
        "initialised_from": tc.get("init_from"),
        "licence_of_training_data": "cutouts: MIT (JizhiziLi/P3M, JizhiziLi/GFM); videos: Apache-2.0 (facebookresearch/sam2)",
    }
    return save_weights(net, weights_path, net_cfg.to_dict(), info)
