"""``sam2matting serve``: starts, prints its URL, serves the page; bad options fail in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install '.[web]')")


def serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sam2matting", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def first_url(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "http://" in line:
            return line.split()[3]
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
    raise AssertionError("serve printed no URL")


def test_serve_prints_the_url_and_serves_the_page(tmp_path: Path) -> None:
    proc = serve("--root", str(tmp_path))
    try:
        url = first_url(proc)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b"sam2matting" in r.read()
            assert "httponly" in r.headers["set-cookie"].lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_warns_when_not_bound_to_localhost(tmp_path: Path) -> None:
    proc = serve("--host", "0.0.0.0")
    try:
        first_url(proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "other machines can reach this app" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--root", "/nonexistent/folder"], "--root is not a folder"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be positive"),
    ],
)
def test_serve_bad_options_fail_in_one_line(args: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sam2matting", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("sam2matting: error: ") and out.stderr.count("\n") == 1
    assert message in out.stderr and "Traceback" not in out.stderr


def test_serve_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sam2matting", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "--root" in out.stdout and "127.0.0.1" in out.stdout
