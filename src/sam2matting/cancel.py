"""Cooperative cancellation: signals set a flag, long loops stop at the next frame boundary.

Raising straight from a signal handler lands the exception wherever the interpreter happens to
be — inside numba or PyAV it surfaces as a ``SystemError`` with a traceback, not a clean
interrupt. So the CLI's SIGINT/SIGTERM handlers only call :func:`request_cancel`; the frame
loops call :func:`check_cancelled`, which raises ``KeyboardInterrupt`` there, where every
writer can abort cleanly.

A second signal while the first is still pending means "stop now": the handler calls
:func:`force_exit`, which deletes the registered temporaries and the output folders the run
created (when empty), writes one line and ends the process with ``os._exit``. Nothing is raised
into whatever the main thread was doing.

Nothing here takes a lock. Python runs signal handlers between bytecodes of the main thread, so
a second Ctrl-C can run its handler *inside* the first one's, or while the main thread holds
any lock: a ``threading.Event`` (whose ``set`` takes a non-reentrant lock) made the nested
handler wait for good on a lock its own thread held. Single attribute reads and writes, and
``set.add`` / ``set.pop`` / ``set.discard``, are atomic under the GIL, which is all this needs.

A loop blocked in a read (a stalled network file) never reaches :func:`check_cancelled`, so
:func:`arm_watchdog` gives a pending cancel a grace period: a watchdog thread, started outside
any handler by :func:`start_watchdog`, calls :func:`force_exit` if nothing has taken the
request by then (status 143 for SIGTERM), since nothing else can make the process stop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

__all__ = [
    "arm_watchdog",
    "check_cancelled",
    "clear_cancel",
    "force_exit",
    "register_created",
    "register_temporary",
    "remove_temporaries",
    "request_cancel",
    "start_watchdog",
    "stop_watchdog",
    "unregister_created",
    "unregister_temporary",
]

#: temporaries (files or folders) a forced exit deletes
_temporaries: set[Path] = set()
#: folders the run created for its outputs: a forced exit removes them when empty, deepest first
_created: dict[Path, int] = {}


class _Pending:
    """The pending request and the watchdog's deadline; no locks (see the module's docstring)."""

    requested = False
    reason = "interrupted"
    #: bumped whenever a request is taken, so a watchdog knows its request is the pending one
    generation = 0
    #: (monotonic deadline, generation it was armed for, exit status), or None
    deadline: tuple[float, int, int] | None = None
    watching = False


_pending = _Pending()


def request_cancel(reason: str = "interrupted") -> bool:
    """Ask running loops to stop at the next frame. Returns whether a request was already
    pending (the caller's cue to :func:`force_exit`). Safe inside a signal handler, nested
    handlers included: it takes no lock and raises nothing."""
    already = _pending.requested
    if not already:
        _pending.reason = reason
        _pending.requested = True
    return already


def check_cancelled() -> None:
    """Raise ``KeyboardInterrupt(reason)`` if a cancel was requested (and clear the request)."""
    if _pending.requested:
        _pending.requested = False
        _pending.generation += 1
        raise KeyboardInterrupt(_pending.reason)


def clear_cancel() -> None:
    _pending.requested = False
    _pending.deadline = None


def register_temporary(path: Path) -> None:
    """Record a temporary file/folder that a forced exit must delete."""
    _temporaries.add(Path(path))


def unregister_temporary(path: Path) -> None:
    _temporaries.discard(Path(path))


def register_created(folders: list[Path]) -> None:
    """Record output folders the run created, deepest first (a forced exit removes them when
    they are empty, as a failed run does)."""
    for depth, folder in enumerate(folders):
        _created[Path(folder)] = depth


def unregister_created(folders: list[Path]) -> None:
    for folder in folders:
        _created.pop(Path(folder), None)


def _remove(path: Path) -> bool:
    """Delete one temporary; True when it is gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass
    return not os.path.lexists(path)


def remove_temporaries(attempts: int = 1) -> None:
    """Delete every registered temporary (best effort; never raises). With ``attempts`` > 1, a
    temporary that is still there (a worker thread wrote into a folder while it was being
    removed) is tried again after a short pause."""
    paths: list[Path] = []
    while True:
        try:
            paths.append(_temporaries.pop())
        except KeyError:
            break
    for attempt in range(max(1, attempts)):
        paths = [p for p in paths if not _remove(p)]
        if not paths:
            return
        if attempt + 1 < attempts:
            time.sleep(0.02)


def force_exit(status: int, message: str = "") -> None:
    """Stop now: delete the temporaries and the empty folders the run created, write
    ``message`` (one line, unbuffered: no stream lock is taken) and ``os._exit(status)``."""
    remove_temporaries(attempts=5)
    for folder in sorted(list(_created), key=lambda f: -len(f.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()
    if message:
        with contextlib.suppress(OSError):
            os.write(2, (message.rstrip("\n") + "\n").encode("utf-8", "replace"))
    os._exit(status)


def arm_watchdog(grace_s: float, exit_status: int) -> None:
    """If the pending cancel is still untaken after ``grace_s`` seconds (a blocking read),
    the watchdog thread (:func:`start_watchdog`) calls :func:`force_exit` with
    ``exit_status``. Only sets a deadline: safe inside a signal handler."""
    _pending.deadline = (time.monotonic() + grace_s, _pending.generation, exit_status)


def start_watchdog(poll_s: float = 0.1, message: str = "") -> None:
    """Start the thread that enforces :func:`arm_watchdog`'s deadlines (idempotent). Call it
    where handlers are installed, never from a handler (starting a thread takes locks)."""
    if _pending.watching:
        return
    _pending.watching = True

    def watch() -> None:
        while _pending.watching:
            time.sleep(poll_s)
            deadline = _pending.deadline
            if deadline is None:
                continue
            when, generation, status = deadline
            if not _pending.requested or _pending.generation != generation:
                _pending.deadline = None  # a frame loop took the request in time
            elif time.monotonic() >= when:
                force_exit(status, message)

    threading.Thread(target=watch, name="sam2matting-watchdog", daemon=True).start()


def stop_watchdog() -> None:
    """Let the watchdog thread end (it checks every ``poll_s``)."""
    _pending.watching = False
    _pending.deadline = None
