"""Batch matting on Dask: many clips at once, on this machine or on an existing cluster.

:func:`matte_batch` runs :class:`~sam2matting.batch_jobs.BatchJob` s with ``dask.distributed``
(``pip install 'sam2matting[batch]'``). Each job runs on one worker from start to finish
(tracking is sequential); several jobs run at once, one per worker thread.

* **Where**: a ``client`` you pass; else ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``), an
  existing cluster; else a local cluster: one worker process per GPU (worker resource
  ``GPU=1``, ``CUDA_VISIBLE_DEVICES`` pinned) when there are GPUs, else
  :func:`default_local_workers` processes sharing the CPU cores. Workers need sam2matting (and
  the extras the jobs use) installed, and must see the inputs and output folders under the
  same paths as the client (a shared file system).
* **Nothing lost, nothing twice**: outputs are written under temporary names and renamed when
  complete (:func:`~sam2matting.matte_video`); after the last one a per-job manifest
  ``<output>/<stem>.batch.json`` records the job's fingerprint, frame count and every output's
  frames and bytes. A re-run skips a job whose manifest matches the job and whose outputs still
  check out (:func:`completed_manifest`), so an interrupted batch resumes. A job whose worker
  dies is re-run on another (at most ``retries`` times; the scheduler's ``allowed-failures``
  on a local cluster); a new attempt first deletes the dead one's temporaries. A failing job
  never stops the others; Ctrl-C (or SIGTERM) asks running jobs to stop at the next frame,
  cancels the rest, removes temporaries and closes the local cluster.
* **Report**: a progress line (jobs done / running / failed, frames/s across workers), a line
  per job as it ends, and a :class:`BatchReport` (JSON and Markdown).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .batch_jobs import BatchJob, build_jobs, load_jobs
from .errors import Sam2MattingError, require

__all__ = [
    "BatchReport",
    "JobReport",
    "completed_manifest",
    "default_local_workers",
    "matte_batch",
    "remove_partials",
]

log = logging.getLogger("sam2matting")

#: name of the manifest format (bump when its meaning changes)
_MANIFEST_VERSION = 1
#: how often a running job reports its frame count and looks for a cancel request (seconds)
_REPORT_INTERVAL = 0.25
#: how long a cancelled batch waits for running jobs to stop cleanly before closing (seconds)
_CANCEL_GRACE = 15.0
#: local workers: no dashboard, no info logs (start, stop, restart would drown the batch's lines)
_QUIET: dict[str, Any] = {
    "dashboard": False,
    "silence_logs": logging.ERROR,
    "preload": ["sam2matting.batch"],  # dask_setup: workers ignore the terminal's Ctrl-C
}
#: memory a local worker process is planned with (models, frames, encoders)
_WORKER_MEMORY = 2 << 30


# --------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------
@dataclass
class JobReport:
    """How one job ended: ``status`` is ``done``, ``skipped`` (outputs already complete),
    ``failed`` or ``cancelled``; ``seconds`` its run time on the worker (0 when skipped),
    ``attempts`` how many times it started (more than 1 after a worker died)."""

    index: int
    name: str
    input: str
    output: str
    status: str = "pending"
    frames: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    workers: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One line for the console."""
        if self.status == "done":
            retried = f", {self.attempts} attempts" if self.attempts > 1 else ""
            return (
                f"done     {self.name}: {self.frames} frames in {self.seconds:.1f} s "
                f"({self.fps:.1f} frames/s{retried}) -> {self.output}"
            )
        if self.status == "skipped":
            return f"skipped  {self.name}: outputs complete ({self.frames} frames) in {self.output}"
        if self.status == "failed":
            return f"FAILED   {self.name}: {self.error}"
        return f"{self.status:<8} {self.name}"


@dataclass
class BatchReport:
    """Every job's :class:`JobReport`, plus the batch's wall time and where it ran."""

    jobs: list[JobReport]
    seconds: float = 0.0
    scheduler: str = ""
    workers: int = 0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(job.status == status for job in self.jobs)

    @property
    def ok(self) -> bool:
        """True when every job is done or was already complete."""
        return all(job.status in ("done", "skipped") for job in self.jobs)

    @property
    def frames(self) -> int:
        """Frames matted in this run (skipped jobs not counted)."""
        return sum(job.frames for job in self.jobs if job.status == "done")

    def to_dict(self) -> dict[str, Any]:
        jobs = []
        for job in self.jobs:
            d = asdict(job)
            d["fps"] = round(job.fps, 3)
            d["seconds"] = round(job.seconds, 3)
            jobs.append(d)
        return {
            "summary": {
                "jobs": len(self.jobs),
                **{s: self.count(s) for s in ("done", "skipped", "failed", "cancelled")},
                "frames": self.frames,
                "seconds": round(self.seconds, 3),
                "fps": round(self.frames / self.seconds, 3) if self.seconds > 0 else 0.0,
                "workers": self.workers,
                "scheduler": self.scheduler,
                "interrupted": self.interrupted,
            },
            "jobs": jobs,
        }

    def to_markdown(self) -> str:
        s = self.to_dict()["summary"]
        lines = [
            "# sam2matting batch report",
            "",
            f"{s['jobs']} jobs: {s['done']} done, {s['skipped']} skipped, {s['failed']} failed, "
            f"{s['cancelled']} cancelled{' (interrupted)' if self.interrupted else ''}. "
            f"{s['frames']} frames in {s['seconds']:.1f} s ({s['fps']:.1f} frames/s) on "
            f"{s['workers']} workers ({s['scheduler']}).",
            "",
            "| # | job | status | frames | seconds | frames/s | attempts | outputs / error |",
            "|---:|---|---|---:|---:|---:|---:|---|",
        ]
        for job in self.jobs:
            what = job.error if job.error else "<br>".join(job.outputs)
            what = (what or "").replace("|", "\\|")
            lines.append(
                f"| {job.index} | {job.name} | {job.status} | {job.frames} | {job.seconds:.1f} | "
                f"{job.fps:.1f} | {job.attempts} | {what} |"
            )
        return "\n".join(lines) + "\n"

    def write(self, prefix: str | Path) -> tuple[Path, Path]:
        """Write ``<prefix>.json`` and ``<prefix>.md`` (atomically); return their paths."""
        base = Path(prefix)
        base.parent.mkdir(parents=True, exist_ok=True)
        paths = (base.with_name(base.name + ".json"), base.with_name(base.name + ".md"))
        _write_atomic(paths[0], json.dumps(self.to_dict(), indent=2) + "\n")
        _write_atomic(paths[1], self.to_markdown())
        return paths


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


# --------------------------------------------------------------------------------------------
# completeness and temporaries (run on the workers; the client sweeps with the same code)
# --------------------------------------------------------------------------------------------
def _partial_pattern(job: BatchJob) -> re.Pattern[str]:
    """Temporaries of this job's writers: ``.<stem>[.obj<id>].<format>….partial-<token>…``
    (and ``.old-`` copies; a still image's ``alpha.png`` / ``layers.exr`` …), plus the contact
    sheet's and the manifest's; another job's stem never matches."""
    from .io.writers import FORMATS

    names = [*FORMATS, "alpha", "rgba", "premul", "layers"]
    formats = "|".join(re.escape(f) for f in names)
    stem = re.escape(job.stem)
    return re.compile(
        rf"^\.{stem}\.(?:(?:obj\d+\.)?(?:{formats})[^/]*|contact\.png|batch\.json)"
        r"\.(?:partial|old)-[0-9a-f]+"
    )


def remove_partials(job: BatchJob) -> list[Path]:
    """Delete temporaries a killed or cancelled run of ``job`` left in its output folder."""
    from .io.writers import _remove

    if not job.output.is_dir():
        return []
    pattern = _partial_pattern(job)
    removed = [job.output / n for n in os.listdir(job.output) if pattern.match(n)]
    for path in removed:
        _remove(path)
    return removed


def _output_record(path: Path, fmt: str, object_id: int | None) -> dict[str, Any]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        return {
            "format": fmt,
            "object": object_id,
            "path": path.name,
            "files": [p.name for p in files],
            "bytes": sum(p.stat().st_size for p in files),
        }
    return {"format": fmt, "object": object_id, "path": path.name, "bytes": path.stat().st_size}


def _container_frames(path: Path) -> int | None:
    """Frame count a finished mov/mp4 declares in its header (None where it declares none)."""
    import av

    with av.open(str(path)) as container:
        frames = int(container.streams.video[0].frames)
    return frames or None


def completed_manifest(job: BatchJob) -> dict[str, Any] | None:
    """The job's manifest if its outputs are complete, else None.

    Complete means: the manifest was written for this job's current fingerprint (same input
    files, prompts and options), and every output it lists is still there with the same bytes;
    PNG folders hold exactly the frames' files, videos declare the job's frame count.
    """
    try:
        manifest = json.loads(job.manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != _MANIFEST_VERSION:
        return None
    if manifest.get("fingerprint") != job.fingerprint():
        return None
    frames = manifest.get("frames")
    outputs = manifest.get("outputs")
    if not isinstance(frames, int) or frames < 1 or not isinstance(outputs, list) or not outputs:
        return None
    try:
        for record in outputs:
            path = job.output / record["path"]
            now = _output_record(path, record["format"], record["object"])
            if now != record:
                return None
            if "files" in record:
                if len(record["files"]) != frames:
                    return None
            elif path.suffix in (".mov", ".mp4"):
                declared = _container_frames(path)
                if declared is not None and declared != frames:
                    return None
    except Exception:  # a vanished or unreadable output: not complete, run the job again
        return None
    return dict(manifest)


def _write_manifest(job: BatchJob, result: Any, seconds: float) -> dict[str, Any]:
    outputs = [
        _output_record(Path(path), fmt, obj)
        for (obj, fmt), path in sorted(result.paths.items(), key=str)
    ]
    manifest = {
        "version": _MANIFEST_VERSION,
        "job": job.describe(),
        "fingerprint": job.fingerprint(),
        "frames": int(result.num_frames),
        "seconds": round(seconds, 3),
        "outputs": outputs,
    }
    _write_atomic(job.manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest


# --------------------------------------------------------------------------------------------
# the task a worker runs
# --------------------------------------------------------------------------------------------
class _Cancelled(Exception):
    """Raised inside a job (at a frame boundary) when the batch was cancelled."""


def _topic(batch_id: str) -> str:
    return f"sam2matting-batch-{batch_id}"


def _limit_threads() -> None:
    """Hold OpenCV (and torch, if loaded) to the worker's share of the cores.

    Local workers get ``OMP_NUM_THREADS`` = cores / workers; torch reads it when it loads, but
    OpenCV's own thread pool does not, and several workers each running one thread per core
    oversubscribe the machine.
    """
    import sys

    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return
    if threads < 1:
        return
    import cv2

    cv2.setNumThreads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def run_job(job: BatchJob, batch_id: str, skip_complete: bool = True) -> dict[str, Any]:
    """Run one job on a Dask worker (or anywhere); returns its outcome as plain data.

    User errors (bad input, bad prompt, unwritable output) end the job as ``failed`` with the
    one-line message; anything else raises, so Dask may retry it.
    """
    from .api import matte_video
    from .errors import Sam2MattingError
    from .prompt_syntax import prompt_items_from_tokens, prompts_from_args

    try:
        from distributed import Event, get_worker

        worker: Any = get_worker()
        cancel: Any = Event(f"sam2matting-cancel-{batch_id}")
    except (ImportError, ValueError):  # not on a Dask worker: no events, no cancel
        worker, cancel = None, None
    _limit_threads()
    pid = os.getpid()
    where = f"{worker.address if worker is not None else 'local'} (pid {pid})"

    def emit(kind: str, **data: Any) -> None:
        if worker is not None:
            worker.log_event(
                _topic(batch_id),
                {"kind": kind, "job": job.index, "pid": pid, "where": where, **data},
            )

    outcome: dict[str, Any] = {"worker": where, "frames": 0, "seconds": 0.0, "outputs": []}
    if skip_complete:
        manifest = completed_manifest(job)
        if manifest is not None:
            outs = [str(job.output / r["path"]) for r in manifest["outputs"]]
            return {**outcome, "status": "skipped", "frames": manifest["frames"], "outputs": outs}
    if cancel is not None and cancel.is_set():  # queued when the batch was cancelled
        return {**outcome, "status": "cancelled"}
    # a previous attempt of this job (its worker died) may have left temporaries and a stale
    # manifest: neither may survive this attempt
    remove_partials(job)
    with contextlib.suppress(FileNotFoundError):
        job.manifest_path.unlink()
    emit("start")
    t0 = time.perf_counter()
    state = {"frames": 0, "last": 0.0}

    def on_frame(result: Any) -> None:
        state["frames"] += 1
        now = time.monotonic()
        if now - state["last"] >= _REPORT_INTERVAL:
            state["last"] = now
            emit("frames", frames=state["frames"])
            if cancel is not None and cancel.is_set():
                raise _Cancelled

    try:
        prompts = prompts_from_args(prompt_items_from_tokens(job.prompts))
        result = matte_video(
            job.input,
            prompts,
            job.output,
            stem=job.stem,
            progress=False,
            on_frame=on_frame,
            **job.matte_kwargs(),
        )
    except _Cancelled:
        seconds = time.perf_counter() - t0
        return {**outcome, "status": "cancelled", "frames": state["frames"], "seconds": seconds}
    except Sam2MattingError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        seconds = time.perf_counter() - t0
        failed = {"status": "failed", "error": message, "frames": state["frames"]}
        return {**outcome, **failed, "seconds": seconds}
    seconds = time.perf_counter() - t0
    manifest = _write_manifest(job, result, seconds)
    emit("frames", frames=int(result.num_frames))
    return {
        **outcome,
        "status": "done",
        "frames": int(result.num_frames),
        "seconds": seconds,
        "outputs": [str(job.output / r["path"]) for r in manifest["outputs"]],
    }


# --------------------------------------------------------------------------------------------
# local cluster
# --------------------------------------------------------------------------------------------
def default_local_workers(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """Worker processes for a CPU-only local cluster: one per core, as many as memory allows.

    Jobs are sequential inside (tracking frame by frame), so one process per core keeps every
    core busy; each process is planned with 2 GiB (models, frames, encoders).
    """
    cores = cores or os.cpu_count() or 1
    if memory_bytes is None:
        import psutil

        memory_bytes = int(psutil.virtual_memory().total)
    return max(1, min(cores, memory_bytes // _WORKER_MEMORY))


def _gpu_count() -> int:
    """CUDA devices this machine has (0 without a CUDA build of torch)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # a broken driver is "no GPU" for planning workers
        return 0


def local_worker_specs(workers: int | None, gpus: int, cores: int) -> dict[str, dict[str, Any]]:
    """Dask ``SpecCluster`` worker specs: one per GPU (``GPU=1``, ``CUDA_VISIBLE_DEVICES``
    pinned) when ``gpus`` and no explicit ``workers``; else ``workers`` (default
    :func:`default_local_workers`) CPU processes sharing the cores' threads."""
    from distributed import Nanny

    specs: dict[str, dict[str, Any]] = {}
    if gpus > 0 and workers is None:
        threads = max(1, cores // gpus)
        for i in range(gpus):
            env = {"CUDA_VISIBLE_DEVICES": str(i), "OMP_NUM_THREADS": str(threads)}
            opts = {"nthreads": 1, "resources": {"GPU": 1}, "env": env, **_QUIET}
            specs[f"gpu{i}"] = {"cls": Nanny, "options": opts}
        return specs
    n = workers if workers is not None else default_local_workers(cores)
    threads = max(1, cores // n)
    for i in range(n):
        env = {"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
        opts = {"nthreads": 1, "env": env, **_QUIET}
        specs[f"cpu{i}"] = {"cls": Nanny, "options": opts}
    return specs


def dask_setup(worker: Any) -> None:
    """Worker preload of the local cluster: ignore SIGINT.

    The terminal's Ctrl-C reaches the whole process group; the batch handles it in the client
    (running jobs stop at their next frame and delete their temporaries). A worker killed by it
    instead would leave temporaries and print tracebacks.
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _local_cluster(workers: int | None, retries: int, use_gpus: bool) -> Iterator[Any]:
    import dask
    from distributed import Client, Scheduler, SpecCluster

    cores = os.cpu_count() or 1
    specs = local_worker_specs(workers, _gpu_count() if use_gpus else 0, cores)
    config = {
        # a task whose worker died is re-run on another at most `retries` times
        "distributed.scheduler.allowed-failures": retries,
        "distributed.worker.daemon": False,
        # the statistical profiler samples every thread's stack 100 times a second: CPU that
        # the jobs need, for a dashboard nobody looks at
        "distributed.worker.profile.enabled": False,
    }
    previous = logging.getLogger("distributed").level
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        with dask.config.set(config):
            cluster = SpecCluster(
                workers=specs,
                scheduler={
                    "cls": Scheduler,
                    "options": {"dashboard": False, "dashboard_address": None},
                },
                silence_logs=logging.ERROR,
                name="sam2matting-batch",
            )
    except Exception as exc:
        from .cancel import check_cancelled

        logging.getLogger("distributed").setLevel(previous)
        check_cancelled()  # Ctrl-C while the workers started: an interrupt, not an error
        raise Sam2MattingError(f"could not start a local Dask cluster: {exc}") from exc
    try:
        client = Client(cluster)
        try:
            client.wait_for_workers(len(specs), timeout=120)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
        logging.getLogger("distributed").setLevel(previous)


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------
class _Progress:
    """The batch's console output: a progress line and one line per job as it ends."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.last_draw = 0.0
        self.shown = ""
        self.samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, frames: int) -> float:
        """Frames/s across workers over the last 10 seconds."""
        self.samples.append((now, frames))
        while len(self.samples) > 2 and now - self.samples[0][0] > 10.0:
            self.samples.popleft()
        t0, f0 = self.samples[0]
        return (frames - f0) / (now - t0) if now > t0 else 0.0

    def draw(self, counts: Mapping[str, int], frames: int, force: bool = False) -> None:
        now = time.monotonic()
        fps = self.rate(now, frames)
        if not self.enabled or (not force and now - self.last_draw < (0.5 if self.tty else 10.0)):
            return
        self.last_draw = now
        text = (
            f"batch: {counts['done'] + counts['skipped']}/{self.total} done, {counts['running']} "
            f"running, {counts['failed']} failed · {frames} frames · {fps:.1f} frames/s"
        )
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            self.shown = text
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def job_line(self, done: int, report: JobReport) -> None:
        if not self.enabled:
            return
        if self.tty and self.shown:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"[{done}/{self.total}] {report.line()}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _has_gpu_workers(client: Any) -> bool:
    info = client.scheduler_info()
    return any(w.get("resources", {}).get("GPU") for w in info.get("workers", {}).values())


def _error_line(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "its worker died on every attempt (KilledWorker): the retries are used up"
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name


def matte_batch(
    jobs: str | Path | Sequence[BatchJob | Mapping[str, Any]],
    client: Any = None,
    *,
    output: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = 2,
    skip_complete: bool = True,
    report: str | Path | None = None,
    progress: bool = True,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    **defaults: Any,
) -> BatchReport:
    """Matte many clips with Dask and return a :class:`BatchReport` (see the module doc).

    ``jobs``: a job file path (YAML / JSON / CSV), or a list of :class:`BatchJob` or job
    mappings (keys: :data:`~sam2matting.batch_jobs.JOB_KEYS`). ``client``: a
    ``distributed.Client`` to use; else ``scheduler`` / ``DASK_SCHEDULER_ADDRESS``; else a
    local cluster of ``workers`` processes (default: one per GPU, or
    :func:`default_local_workers`). ``output``: base folder of jobs without their own.
    ``retries``: re-runs of a job whose worker died or that raised an unexpected error.
    ``skip_complete``: skip jobs whose outputs are complete. ``report``: write
    ``<report>.json`` and ``<report>.md``. ``on_event``: called in this thread with each event
    (``start``, ``frames``, ``end``; keys ``job``, ``pid``, ``where`` (worker address and pid), …). ``defaults``:
    options of jobs that do not set them (``formats``, ``tracker``, ``head``, ``device``,
    ``dtype``, ``frames``, …).

    Every job is checked before anything runs (:class:`~sam2matting.batch_jobs.JobFileError`).
    Ctrl-C cancels the batch cleanly and re-raises ``KeyboardInterrupt``.
    """
    if retries < 0:
        raise Sam2MattingError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 1:
        raise Sam2MattingError(f"workers must be >= 1, got {workers}")
    if isinstance(jobs, (str, Path)):
        job_list = load_jobs(jobs, defaults=defaults, output=output)
    elif all(isinstance(j, BatchJob) for j in jobs):
        job_list = [j for j in jobs if isinstance(j, BatchJob)]
    else:
        job_list = build_jobs(list(jobs), defaults=defaults, output=output)
    require("distributed", "batch")
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    with contextlib.ExitStack() as stack:
        if client is None and address:
            from distributed import Client

            try:
                client = stack.enter_context(Client(address, timeout="30s"))
            except (OSError, TimeoutError) as exc:
                raise Sam2MattingError(
                    f"cannot reach the Dask scheduler at {address}: {exc}"
                ) from None
        elif client is None:
            use_gpus = all(j.options.get("device", "auto") != "cpu" for j in job_list)
            client = stack.enter_context(_local_cluster(workers, retries, use_gpus))
        return _run(client, job_list, retries, skip_complete, report, progress, on_event)


def _run(
    client: Any,
    jobs: list[BatchJob],
    retries: int,
    skip_complete: bool,
    report_prefix: str | Path | None,
    progress: bool,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> BatchReport:
    from distributed import Event

    from .cancel import check_cancelled

    batch_id = secrets.token_hex(6)
    info = client.scheduler_info()
    reports = {j.index: JobReport(j.index, j.name, str(j.input), str(j.output)) for j in jobs}
    report = BatchReport(
        list(reports.values()),
        scheduler=str(info.get("address", "")),
        workers=len(info.get("workers", {})),
    )
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    client.subscribe_topic(_topic(batch_id), lambda event: events.put(event[1]))
    cancel = Event(f"sam2matting-cancel-{batch_id}", client=client)
    gpu = _has_gpu_workers(client)
    futures: dict[Any, BatchJob] = {}
    for job in jobs:
        resources = {"GPU": 1} if gpu and job.options.get("device") != "cpu" else None
        key = f"sam2matting-job-{job.index}-{batch_id}"
        futures[
            client.submit(
                run_job,
                job,
                batch_id,
                skip_complete,
                key=key,
                pure=False,
                retries=retries,
                resources=resources,
            )
        ] = job
    console = _Progress(len(jobs), progress)
    frames_now: dict[int, int] = {}
    processed = 0
    running: set[int] = set()
    t_start = time.perf_counter()

    def counts() -> dict[str, int]:
        c = {s: report.count(s) for s in ("done", "skipped", "failed", "cancelled")}
        c["running"] = len(running)
        return c

    def drain() -> None:
        nonlocal processed
        while True:
            try:
                ev = events.get_nowait()
            except queue.Empty:
                return
            index = ev.get("job")
            if index not in reports or reports[index].status != "pending":
                continue
            if ev.get("kind") == "start":
                reports[index].attempts += 1
                reports[index].workers.append(str(ev.get("where")))
                frames_now[index] = 0
                running.add(index)
            elif ev.get("kind") == "frames":
                new = int(ev.get("frames", 0))
                processed += max(0, new - frames_now.get(index, 0))
                frames_now[index] = new
            if on_event is not None:
                on_event({**ev, "name": reports[index].name})

    def finish(job: BatchJob, outcome: dict[str, Any]) -> None:
        r = reports[job.index]
        r.status = outcome["status"]
        r.frames = int(outcome.get("frames", 0))
        r.seconds = float(outcome.get("seconds", 0.0))
        r.outputs = list(outcome.get("outputs", []))
        r.error = outcome.get("error")
        if r.status == "done" and str(outcome.get("worker")) not in r.workers[-1:]:
            r.workers.append(str(outcome.get("worker")))
        if r.status in ("failed", "cancelled"):
            remove_partials(job)
        running.discard(job.index)
        if on_event is not None:
            on_event({"kind": "end", "job": job.index, "name": r.name, **outcome})
        console.job_line(sum(x.status != "pending" for x in reports.values()), r)

    try:
        while futures:
            check_cancelled()
            drain()
            for future in [f for f in futures if f.done()]:
                job = futures.pop(future)
                drain()
                if future.status == "finished":
                    finish(job, future.result())
                elif future.status == "cancelled":
                    finish(job, {"status": "cancelled"})
                else:
                    finish(job, {"status": "failed", "error": _error_line(future.exception())})
            console.draw(counts(), processed)
            time.sleep(0.2)
        drain()
        report.seconds = time.perf_counter() - t_start
        console.draw(counts(), processed, force=True)
        console.close()
    except BaseException:
        # Ctrl-C / SIGTERM (or an error of our own). Jobs are not cancelled under their feet:
        # they see the cancel event at their next frame (or at once, if they have not started)
        # and stop, their writers deleting their temporaries; a job past its last frame
        # completes. Only jobs that did not answer within the grace period are forced.
        console.close()
        report.interrupted = True
        with contextlib.suppress(Exception):
            cancel.set()
        deadline = time.monotonic() + _CANCEL_GRACE
        while time.monotonic() < deadline:
            with contextlib.suppress(BaseException):  # a second Ctrl-C does not skip the cleanup
                drain()
                if all(f.done() for f in futures):
                    break
                time.sleep(0.1)
        with contextlib.suppress(Exception):
            client.cancel([f for f in futures if not f.done()], force=True)
        for future, job in futures.items():
            outcome = None
            if future.status == "finished":
                with contextlib.suppress(Exception):
                    outcome = future.result(timeout=5)
            if outcome is not None:
                finish(job, outcome)
            else:
                reports[job.index].status = "cancelled"
                remove_partials(job)
        report.seconds = time.perf_counter() - t_start
        if report_prefix is not None:
            with contextlib.suppress(Exception):
                report.write(report_prefix)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(_topic(batch_id))
    if report_prefix is not None:
        report.write(report_prefix)
    return report
