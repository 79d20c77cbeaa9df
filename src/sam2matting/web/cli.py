"""``sam2matting serve``: start the local web app (see :mod:`sam2matting.web`).

Called by the main CLI through :func:`add_parser` and :func:`run`; importing this module is
cheap (FastAPI and uvicorn load in :func:`run` and, when missing, the error names the extra).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

log = logging.getLogger("sam2matting.web")

_DESCRIPTION = """\
Start a local web app for interactive matting: open a clip (upload, or pick a file under
--root), click or drag prompts on any frame and see that frame's mask and matte at once,
propagate with live progress, correct and re-propagate, export every output format.

The server binds to 127.0.0.1 (this machine only) unless --host says otherwise. Only files
under --root can be opened; nothing is ever written there: each browser session works in its
own temporary folder, removed when the session ends or expires (--session-ttl).
"""


def add_parser(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to the main CLI's subparsers."""
    p = subparsers.add_parser(
        "serve",
        help="start the interactive web app (click, preview, propagate, export)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)"
    )
    p.add_argument("--root", help="folder whose videos, image folders and images can be opened")
    p.add_argument("--tracker", default="builtin", help="tracker name or path (default: builtin)")
    p.add_argument("--head", help="matting head (default: the shipped default)")
    p.add_argument("--device", help="cpu, cuda, mps or auto, for trackers/heads that use one")
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=1024.0,
        help="largest upload accepted, MiB (default: 1024)",
    )
    p.add_argument(
        "--session-ttl",
        type=float,
        default=3600.0,
        help="seconds of inactivity after which a session and its files are removed (default: 3600)",
    )
    p.add_argument("--open", action="store_true", help="open the app in the default browser")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError, require

    require("fastapi", "web")
    require("uvicorn", "web")
    import uvicorn

    from .app import create_app
    from .sessions import WebConfig

    root = None
    if args.root is not None:
        root = Path(args.root).expanduser()
        if not root.is_dir():
            raise InputError(f"--root is not a folder: {root}")
        root = root.resolve()
    if args.max_upload_mb <= 0:
        raise InputError("--max-upload-mb must be positive")
    if not 0 <= args.port < 65536:
        raise InputError(f"--port must be 0..65535, got {args.port}")
    config = WebConfig(
        root=root,
        tracker=args.tracker,
        head=args.head,
        device=args.device,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        session_ttl=args.session_ttl,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "warning: serving on %s: other machines can reach this app; it has no login, so "
            "anyone who can connect can use it (and the files under --root)",
            args.host,
        )
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    )

    async def announce() -> None:
        # print the URL once the socket is bound (the port may have been 0)
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        port = args.port
        for s in server.servers:
            for sock in s.sockets:
                port = sock.getsockname()[1]
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        print(f"sam2matting web app: {url}  (Ctrl-C stops it)", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(url)

    import asyncio

    async def main() -> None:
        task = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            task.cancel()

    asyncio.run(main())
    return 0
