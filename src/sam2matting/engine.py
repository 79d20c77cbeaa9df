"""The pipelined engine: decoding, tracking + matting, and foreground + encoding overlap.

One thread per stage, joined by bounded queues, so memory stays flat (a few frames in flight,
whatever the clip length) and the order of frames is the order they were produced in::

    decode thread ──q(depth)──▶ track + matte thread ──q(depth)──▶ caller (foreground, encode)
                                                                     └─▶ PNG encoder pool

Why threads, not processes: every heavy step (PyAV decoding, torch kernels, OpenCV resizes and
PNG compression, numba in pymatting) releases the GIL, and threads share the models and the
GPU context without copies. On a GPU the host-side work of one stage (decoding, PNG
compression) then runs while the device works on another frame.

Errors and cancellation: a stage that fails forwards its exception through its queue and the
consumer re-raises it (``KeyboardInterrupt`` from :func:`sam2matting.cancel.check_cancelled`
included, so Ctrl-C still aborts every writer and leaves no partial output). Closing a
:class:`Prefetch` early (the consumer failed or stopped) tells its thread to stop at the next
item and waits for it; the stage's own generator is closed in its own thread, so ``finally``
blocks (temporary folders, tracker state) run there.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["DEFAULT_DEPTH", "Prefetch", "prefetch"]

T = TypeVar("T")

#: items a stage may run ahead of its consumer: enough to ride out a slow frame, small enough
#: that memory does not grow (a 4K FrameResult is ~60 MB)
DEFAULT_DEPTH = 3

_ITEM, _END, _ERROR = 0, 1, 2


class Prefetch(Generic[T]):
    """Iterate ``make()`` in a background thread, at most ``depth`` items ahead of the consumer.

    ``waited``: seconds the consumer spent blocked on this iterator (what it did not overlap);
    ``lock``: held while the producer advances ``make()``'s iterator, so other calls into the
    same object (e.g. a video source's ``read_frame``, which shares its decoder) can take it
    too and never interleave with a half-done step.
    """

    def __init__(
        self,
        make: Callable[[], Iterator[T]],
        *,
        depth: int = DEFAULT_DEPTH,
        name: str = "sam2matting-stage",
        lock: threading.Lock | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._queue: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._lock = lock
        self.waited = 0.0
        self._thread = threading.Thread(target=self._run, args=(make,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: tuple[int, object]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make: Callable[[], Iterator[T]]) -> None:
        it: Iterator[T] | None = None
        try:
            it = make()
            while not self._stop.is_set():
                if self._lock is not None:
                    with self._lock:
                        item = next(it, _SENTINEL)
                else:
                    item = next(it, _SENTINEL)
                if item is _SENTINEL:
                    self._put((_END, None))
                    return
                if not self._put((_ITEM, item)):
                    return
        except BaseException as exc:  # forwarded to the consumer, who re-raises it
            self._put((_ERROR, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                # a failing cleanup must not hide the error being forwarded
                with contextlib.suppress(Exception):
                    close()

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        t0 = time.perf_counter()
        kind, value = self._queue.get()
        self.waited += time.perf_counter() - t0
        if kind == _ITEM:
            return value  # type: ignore[return-value]
        self._done = True
        self._thread.join()
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the producer at its next item and wait for it (idempotent)."""
        self._done = True
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SENTINEL: object = object()


def prefetch(
    make: Callable[[], Iterator[T]], *, depth: int = DEFAULT_DEPTH, name: str = "sam2matting-stage"
) -> Iterator[T]:
    """Generator form of :class:`Prefetch` that closes the thread when the consumer stops."""
    p = Prefetch(make, depth=depth, name=name)
    try:
        yield from p
    finally:
        p.close()
