"""Cooperative cancellation: signals set a flag, long loops stop at the next frame boundary.

Raising straight from a signal handler lands the exception wherever the interpreter happens to
be — inside numba or PyAV it surfaces as a SystemError, not a clean interrupt. So the CLI's
SIGINT/SIGTERM handlers only call :func:`request_cancel`; the frame loops call
:func:`check_cancelled`, which raises ``KeyboardInterrupt`` there, where every writer can
abort cleanly. A second signal while a cancel is pending interrupts at once.

A loop blocked in a read (a stalled network file) never reaches :func:`check_cancelled`, so
:func:`arm_watchdog` gives a pending cancel a grace period: if nothing has taken it by then,
the temporaries registered with :func:`register_temporary` are deleted and the process exits
at once (status 143 for SIGTERM), since nothing else can make it stop.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

__all__ = [
    "arm_watchdog",
    "check_cancelled",
    "clear_cancel",
    "register_temporary",
    "remove_temporaries",
    "request_cancel",
    "unregister_temporary",
]

_temporaries: set[Path] = set()
_lock = threading.Lock()

_requested = threading.Event()
_reason = ["interrupted"]
#: bumped whenever a request is taken, so a watchdog knows its request is the pending one
_generation = [0]


def request_cancel(reason: str = "interrupted") -> None:
    """Ask running loops to stop at the next frame; a second request raises immediately."""
    if _requested.is_set():
        raise KeyboardInterrupt(_reason[0])
    _reason[0] = reason
    _requested.set()


def check_cancelled() -> None:
    """Raise ``KeyboardInterrupt(reason)`` if a cancel was requested (and clear the request)."""
    if _requested.is_set():
        _requested.clear()
        _generation[0] += 1
        raise KeyboardInterrupt(_reason[0])


def clear_cancel() -> None:
    _requested.clear()


def register_temporary(path: Path) -> None:
    """Record a temporary file/folder that a forced exit must delete."""
    with _lock:
        _temporaries.add(Path(path))


def unregister_temporary(path: Path) -> None:
    with _lock:
        _temporaries.discard(Path(path))


def remove_temporaries() -> None:
    """Delete every registered temporary (best effort; never raises)."""
    with _lock:
        paths = list(_temporaries)
        _temporaries.clear()
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass


def arm_watchdog(grace_s: float, exit_status: int) -> threading.Timer:
    """If the pending cancel is still untaken after ``grace_s`` seconds (a blocking read),
    delete the registered temporaries and exit with ``exit_status`` (``os._exit``)."""
    requested_at = _generation[0]

    def expire() -> None:
        if _requested.is_set() and _generation[0] == requested_at:
            remove_temporaries()
            os._exit(exit_status)

    timer = threading.Timer(grace_s, expire)
    timer.daemon = True
    timer.start()
    return timer
