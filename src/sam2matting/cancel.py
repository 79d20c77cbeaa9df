"""Cooperative cancellation: signals set a flag, long loops stop at the next frame boundary.

Raising straight from a signal handler lands the exception wherever the interpreter happens to
be — inside numba or PyAV it surfaces as a SystemError, not a clean interrupt. So the CLI's
SIGINT/SIGTERM handlers only call :func:`request_cancel`; the frame loops call
:func:`check_cancelled`, which raises ``KeyboardInterrupt`` there, where every writer can
abort cleanly. A second signal while a cancel is pending interrupts at once.
"""

from __future__ import annotations

import threading

__all__ = ["check_cancelled", "clear_cancel", "request_cancel"]

_requested = threading.Event()
_reason = ["interrupted"]


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
        raise KeyboardInterrupt(_reason[0])


def clear_cancel() -> None:
    _requested.clear()
