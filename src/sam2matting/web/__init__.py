"""``sam2matting serve``: a local web app for interactive matting.

Open a clip, click or drag prompts on any frame and see the current frame's mask and matte at
once, propagate with live progress, correct and re-propagate, export every CLI format. The app
is a thin client of :class:`sam2matting.api.MattingSession`: it holds per-browser sessions
(:mod:`.sessions`) and serves them over HTTP (:mod:`.app`, FastAPI); the page is static HTML,
JS and CSS under ``static/`` with no build step.

Importing this package loads nothing heavy; FastAPI and uvicorn are the optional extra
``web`` (``pip install 'sam2matting[web]'``).
"""

from __future__ import annotations

__all__: list[str] = []
