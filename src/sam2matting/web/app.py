"""The HTTP layer of ``sam2matting serve``: FastAPI routes over :mod:`.sessions`.

Every ``/api`` route works on the caller's own session, found by an HTTP-only cookie that the
page (``/``) sets; there are no session ids in URLs, so one browser cannot name, see or cancel
another's clip, jobs or files. User errors come back as ``{"error": message}`` with a 4xx
status; the page shows the message. Slow calls (opening, prompts with their preview, frames)
are plain ``def`` routes, which FastAPI runs on its worker threads, so one session's preview
never waits for another's; propagation and export run on their own threads and report
progress by server-sent events (``/api/events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import (
    InputError,
    MissingDependencyError,
    OutputError,
    PromptError,
    Sam2MattingError,
)

try:
    from fastapi import Body, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "the web app needs FastAPI and uvicorn; install them with: pip install 'sam2matting[web]'"
    ) from _exc
from .sessions import (
    BusyError,
    ForbiddenPathError,
    NoSessionError,
    NotFoundError,
    SessionStore,
    TooLargeError,
    UnsupportedMediaError,
    WebConfig,
    WebSession,
    encode_png,
    resolve_clip,
)

__all__ = ["COOKIE", "create_app"]

log = logging.getLogger("sam2matting.web")

COOKIE = "sam2matting_session"

#: JSON request bodies (module-level so the route signatures stay plain)
_BODY = Body(...)
_OPTIONAL_BODY = Body(default={})

_STATUS: list[tuple[type[Exception], int]] = [
    (NoSessionError, 401),
    (NotFoundError, 404),
    (ForbiddenPathError, 403),
    (TooLargeError, 413),
    (UnsupportedMediaError, 415),
    (BusyError, 409),
    (PromptError, 422),
    (InputError, 400),
    (OutputError, 400),
    (MissingDependencyError, 500),
    (Sam2MattingError, 400),
]


def status_for(exc: Exception) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _static_dir() -> Path:
    return Path(str(resources.files("sam2matting.web") / "static"))


def create_app(config: WebConfig) -> Any:
    """Build the FastAPI application for ``config`` (needs the ``web`` extra)."""
    from ..types import Box, MaskPrompt, TextPrompt

    store = SessionStore(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(min(60.0, max(config.session_ttl / 4, 0.5)))
                await run_in_threadpool(store.reap)

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await run_in_threadpool(store.close_all)

    app = FastAPI(title="sam2matting", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.config = config

    @app.exception_handler(Sam2MattingError)
    async def user_error(request: Request, exc: Sam2MattingError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status_for(exc))

    @app.middleware("http")
    async def in_flight(request: Request, call_next: Any) -> Any:
        # a session with a request in progress is never reaped; its clock restarts after it
        session = store.get(request.cookies.get(COOKIE))
        if session is not None:
            session.requests += 1
        try:
            return await call_next(request)
        finally:
            if session is not None:
                session.requests -= 1
                session.touch()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(x) for x in e.get('loc', ()) if x not in ('path', 'query', 'body'))}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return JSONResponse({"error": "bad request: " + "; ".join(parts)}, status_code=422)

    def session_of(request: Request) -> WebSession:
        session = store.get(request.cookies.get(COOKIE))
        if session is None:
            raise NoSessionError(
                "no session (it expired or the cookie is missing): reload the page"
            )
        return session

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"error": f"internal error: {exc}"}, status_code=500)

    def _int(value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise InputError(f"{what} must be an integer, got {value!r}")
        return int(value)

    def _str(value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise InputError(f"{what} must be a string, got {value!r}")
        return value

    def _float(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{what} must be a number, got {value!r}")
        return float(value)

    # -- page ------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        session = store.get(request.cookies.get(COOKIE))
        response = FileResponse(_static_dir() / "index.html", media_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        if session is None:
            session = store.create()
            response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict")
        return response

    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")

    # -- session, clips ------------------------------------------------------------------------
    @app.get("/api/config")
    def get_config(request: Request) -> dict[str, Any]:
        from ..io.writers import FORMATS

        session_of(request)
        return {
            "max_upload_bytes": config.max_upload_bytes,
            "upload_extensions": config.upload_extensions(),
            "root": config.root is not None,
            "tracker": config.tracker,
            "formats": [{"name": f.name, "description": f.description} for f in FORMATS.values()],
        }

    @app.get("/api/state")
    def get_state(request: Request) -> dict[str, Any]:
        return session_of(request).state()

    @app.post("/api/session/end")
    def end_session(request: Request) -> Response:
        session = session_of(request)
        store.end(session.token)
        response = JSONResponse({"ended": True})
        response.delete_cookie(COOKIE)
        return response

    @app.get("/api/files")
    def list_files(request: Request, dir: str = "") -> dict[str, Any]:
        session_of(request)
        entries = store.list_root(dir)
        return {"dir": dir, "entries": [e.__dict__ for e in entries]}

    @app.post("/api/open")
    def open_file(request: Request, body: dict[str, Any] = _BODY) -> dict[str, Any]:
        session = session_of(request)
        rel = body.get("path")
        if not isinstance(rel, str):
            raise InputError("give the file to open as {'path': 'relative/path'}")
        path = resolve_clip(config, rel)
        return session.open_clip(path, path.name)

    @app.post("/api/upload")
    async def upload(request: Request, name: str) -> dict[str, Any]:
        session = session_of(request)
        declared = request.headers.get("content-length")
        size = int(declared) if declared and declared.isdigit() else None
        if size is not None and size > config.max_upload_bytes:
            raise TooLargeError(
                f"upload is {size / 2**20:.1f} MiB; the limit is {config.max_upload_bytes / 2**20:.1f} MiB"
            )
        # stream to disk on a worker thread, chunk by chunk, stopping at the limit
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
        loop = asyncio.get_running_loop()

        def chunks() -> Iterator[bytes]:
            while True:
                item = asyncio.run_coroutine_threadsafe(queue.get(), loop).result()
                if item is None:
                    return
                yield item

        async def feed() -> None:
            try:
                async for chunk in request.stream():
                    if chunk:
                        await queue.put(chunk)
            finally:
                await queue.put(None)

        feeder = asyncio.create_task(feed())
        try:
            path = await run_in_threadpool(session.save_upload, name, chunks(), size)
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder
        return await run_in_threadpool(session.open_clip, path, name, uploaded=True)

    @app.get("/api/frames/{index}")
    def frame(request: Request, index: int) -> Response:
        data = session_of(request).frame_jpeg(index)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    # -- objects ---------------------------------------------------------------------------------
    @app.post("/api/objects")
    def add_object(request: Request, body: dict[str, Any] = _OPTIONAL_BODY) -> dict[str, Any]:
        name = body.get("name")
        return session_of(request).add_object(name if isinstance(name, str) else None)

    @app.patch("/api/objects/{obj}")
    def rename_object(request: Request, obj: int, body: dict[str, Any] = _BODY) -> Any:
        name = body.get("name")
        if not isinstance(name, str):
            raise InputError("give the new name as {'name': '…'}")
        return session_of(request).rename_object(obj, name)

    @app.delete("/api/objects/{obj}")
    def remove_object(request: Request, obj: int) -> dict[str, Any]:
        session = session_of(request)
        session.remove_object(obj)
        return session.state()

    # -- prompts ---------------------------------------------------------------------------------
    @app.post("/api/prompts")
    def add_prompt(request: Request, body: dict[str, Any] = _BODY) -> dict[str, Any]:
        session = session_of(request)
        kind = body.get("kind")
        frame = _int(body.get("frame", 0), "frame")
        obj = _int(body.get("object_id", 1), "object_id")
        prompt: Any
        if kind == "point":
            label = _int(body.get("label", 1), "label")
            x, y = _float(body.get("x"), "x"), _float(body.get("y"), "y")
            return {"preview": session.add_click(x, y, label, frame, obj), "state": session.state()}
        if kind == "box":
            box = body.get("box")
            if not isinstance(box, list) or len(box) != 4:
                raise InputError("a box is [x0, y0, x1, y1]")
            x0, y0, x1, y1 = (_float(v, "box") for v in box)
            prompt = Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), frame, obj)
        elif kind == "text":
            text = body.get("text")
            if not isinstance(text, str):
                raise InputError("a text prompt needs 'text'")
            prompt = TextPrompt(text, frame=frame, object_id=obj)
        else:
            raise InputError(f"unknown prompt kind {kind!r}: use point, box, text (or /mask)")
        return {"preview": session.add_prompt(prompt), "state": session.state()}

    @app.post("/api/prompts/mask")
    async def add_mask(request: Request, frame: int, object_id: int) -> dict[str, Any]:
        session = session_of(request)
        limit = min(config.max_upload_bytes, 64 << 20)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLargeError(f"the mask image is over the limit of {limit / 2**20:.1f} MiB")
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLargeError(f"the mask image is over the limit of {limit / 2**20:.1f} MiB")
            parts.append(chunk)
        data = b"".join(parts)

        def work() -> dict[str, Any]:
            import io

            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(data)) as im:
                    im.load()
                    import numpy as np

                    arr = np.asarray(im.convert("RGBA") if im.mode in ("P", "LA") else im)
            except (UnidentifiedImageError, OSError) as exc:
                raise UnsupportedMediaError("the mask is not a readable image") from exc
            prompt = MaskPrompt(arr, frame=frame, object_id=object_id)
            return {"preview": session.add_prompt(prompt), "state": session.state()}

        return await run_in_threadpool(work)

    @app.delete("/api/prompts/{index}")
    def remove_prompt(request: Request, index: int) -> dict[str, Any]:
        session = session_of(request)
        return {"preview": session.remove_prompt(index), "state": session.state()}

    @app.post("/api/preview/{index}")
    def preview(request: Request, index: int) -> dict[str, Any]:
        session = session_of(request)
        return {"preview": session.preview_frame(index), "state": session.state()}

    @app.get("/api/alpha/{index}/{obj}")
    def alpha(request: Request, index: int, obj: int) -> Response:
        session = session_of(request)
        matte, origin = session.alpha(index, obj)
        headers = {"Cache-Control": "no-store", "X-Matte-Origin": origin}
        score = session.confidence(index, obj) if origin == "result" else None
        if score is not None:  # the tracker's confidence (below 0.5: the object is lost)
            headers["X-Confidence"] = f"{score:.3f}"
        return Response(encode_png(matte), media_type="image/png", headers=headers)

    # -- jobs ------------------------------------------------------------------------------------
    @app.post("/api/propagate")
    def propagate(request: Request, body: dict[str, Any] = _OPTIONAL_BODY) -> dict[str, Any]:
        backward = body.get("backward", True)
        if not isinstance(backward, bool):
            raise InputError("'backward' must be true or false")
        return session_of(request).start_propagation(backward=backward).snapshot()

    @app.post("/api/cancel")
    def cancel(request: Request) -> dict[str, Any]:
        return session_of(request).cancel()

    @app.post("/api/export")
    def export(request: Request, body: dict[str, Any] = _BODY) -> dict[str, Any]:
        formats = body.get("formats")
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise InputError("give the formats as a list, e.g. ['alpha-png', 'prores']")
        background = body.get("background")
        job = session_of(request).start_export(
            formats,
            combined=bool(body.get("combined", False)),
            background=background if isinstance(background, str) else None,
            alpha_bits=_int(body.get("alpha_bits", 8), "alpha_bits"),
            lossless=bool(body.get("lossless", False)),
            exr_colour=_str(body.get("exr_colour", "linear"), "exr_colour"),
            exr_compression=_str(body.get("exr_compression", "zip"), "exr_compression"),
            contact_sheet=bool(body.get("contact_sheet", False)),
        )
        return job.snapshot()

    @app.get("/api/exports/{job_id}/{name}")
    def download(request: Request, job_id: str, name: str) -> Response:
        path = session_of(request).export_file(job_id, name)
        return FileResponse(path, filename=name, media_type="application/octet-stream")

    @app.get("/api/events")
    async def events(request: Request) -> Response:
        session = session_of(request)

        async def stream() -> AsyncIterator[str]:
            # reads a snapshot five times a second on the event loop: no thread held per page
            last = None
            quiet = ended = 0
            while not session.closed:
                job = session.job
                snap = None if job is None else job.snapshot()
                key = None if snap is None else (snap["id"], snap["state"], snap["done"])
                if key != last:
                    last, quiet = key, 0
                    yield f"data: {json.dumps(snap)}\n\n"
                else:
                    quiet += 1
                    if quiet % 50 == 0:
                        yield ": keep-alive\n\n"
                if snap is None or snap["state"] != "running":
                    ended += 1
                    if ended > 4:
                        return  # the page reconnects when it starts the next job
                await asyncio.sleep(0.2)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return app
