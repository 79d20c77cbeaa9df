"""End to end in a real browser: Playwright drives Chromium through the web app.

Open the clip, click a point and check the preview mask's pixels, add a second object with a
box, propagate, scrub, export PNG + ProRes, download and check the files; then bad input through
the page (a non-video upload, an oversize upload, ``../`` paths, a frame past the end, a prompt
outside the frame, two sessions racing on one clip): a message in the page, a 4xx from the API,
the server still running, nothing written outside the sessions' folders.

Needs Debian's ``chromium`` (``scripts/test.sh`` installs it); skipped with the reason when no
Chromium is found. Screenshots go to ``$SAM2MATTING_SCREENSHOTS`` (default: a temporary folder).
"""

from __future__ import annotations

import io
import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')"
)

from playwright import sync_api as playwright_api

from sam2matting.web.app import create_app
from sam2matting.web.sessions import WebConfig
from web_fixtures import (
    TH,
    TN,
    TW,
    live_server,
    snapshot,
    two_object_positions,
    write_two_object_clip,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("one_torch_thread")]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UPLOAD_LIMIT = 2_000_000


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("SAM2MATTING_CHROMIUM"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Any:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium found (/usr/bin/chromium): install it with `apt-get install chromium` "
            "(scripts/test.sh does) or set SAM2MATTING_CHROMIUM"
        )
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("browser")
    root, outside, work = base / "root", base / "outside", base / "work"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"secret")
    write_two_object_clip(root / "two_objects.mp4")
    app = create_app(WebConfig(root=root, work_dir=work, max_upload_bytes=UPLOAD_LIMIT))
    before = snapshot(root), snapshot(outside)
    with live_server(app) as url:
        yield {"url": url, "root": root, "outside": outside, "work": work, "app": app}
    assert (snapshot(root), snapshot(outside)) == before  # nothing written outside sessions
    assert not work.exists() or list(work.iterdir()) == []  # shutdown removed every session


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SAM2MATTING_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_page(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']")
    return page


def canvas_xy(page: Any, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#view").bounding_box()
    return box["x"] + x * box["width"] / TW, box["y"] + y * box["height"] / TH


def pixel(page: Any, x: float, y: float) -> list[int]:
    return page.evaluate(
        "([x, y]) => Array.from(document.getElementById('view').getContext('2d')"
        ".getImageData(x, y, 1, 1).data)",
        [int(x), int(y)],
    )


def renders_of(page: Any) -> int:
    """How many times the page has drawn a frame with its mattes (it counts them)."""
    return int(page.get_attribute("body", "data-renders") or 0)


def set_mode(page: Any, mode: str) -> None:
    page.check(f"input[name=mode][value={mode}]")


def open_clip(page: Any) -> None:
    page.click("#file-list li[data-path='two_objects.mp4']")
    page.wait_for_function("document.getElementById('clip-info').textContent.includes('16 frames')")
    page.wait_for_function("document.getElementById('matte-origin').textContent !== ''")


def wait_job_state(page: Any, element: str, state: str = "done", timeout: float = 180_000) -> None:
    page.wait_for_function(
        f"['done','failed','cancelled'].includes(document.getElementById('{element}').dataset.state)",
        timeout=timeout,
    )
    got = page.get_attribute(f"#{element}", "data-state")
    assert got == state, page.text_content(f"#{element}")


def test_click_preview_propagate_scrub_export(browser: Any, server: Any, shots: Path) -> None:
    from sam2matting.io.writers import read_alpha_frames

    page = new_page(browser, server["url"])
    assert "up to 2 MiB" in page.text_content("#upload-limits")
    open_clip(page)
    assert "320×180" in page.text_content("#clip-info")
    page.screenshot(path=str(shots / "01_open.png"))

    # a click on the yellow disc: the preview mask appears on this frame, nothing propagated
    (dx, dy), (sx, sy) = two_object_positions(0)
    t0 = time.perf_counter()
    renders = renders_of(page)
    page.mouse.click(*canvas_xy(page, dx, dy))
    page.wait_for_function(f"+document.body.dataset.renders > {renders}")
    page.wait_for_function(
        "document.getElementById('preview-info').textContent.includes('frame 0')"
    )
    page.wait_for_function(
        "document.getElementById('matte-origin').textContent.includes('preview')"
    )
    click_to_preview = time.perf_counter() - t0
    set_mode(page, "alpha")
    # (read beside the click: the page draws the click marker on top)
    assert pixel(page, dx + 14, dy)[0] > 200  # inside the disc: opaque
    assert pixel(page, dx + 40, dy)[0] < 30  # background: transparent
    assert pixel(page, sx, sy)[0] < 30  # the square is not object 1
    set_mode(page, "overlay")
    page.screenshot(path=str(shots / "02_preview.png"))

    # a second object by a box around the purple square
    page.click("#add-object")
    page.wait_for_selector("#object-list li[data-id='2'].active")
    page.check("input[name=tool][value=box]")
    page.mouse.move(*canvas_xy(page, sx - 30, sy - 30))
    page.mouse.down()
    page.mouse.move(*canvas_xy(page, sx, sy), steps=3)
    page.mouse.move(*canvas_xy(page, sx + 30, sy + 30), steps=3)
    renders = renders_of(page)
    page.mouse.up()
    page.wait_for_function(f"+document.body.dataset.renders > {renders}")
    page.wait_for_function(
        "document.querySelectorAll('#object-list li[data-id=\"2\"] .prompts li').length === 1"
    )
    page.wait_for_function(
        "document.getElementById('matte-origin').textContent.includes('preview')"
    )
    r, _g, b, _ = pixel(page, sx, sy)
    assert b > r + 40  # object 2's colour (#3fa7ff) over the purple square
    set_mode(page, "alpha")
    assert pixel(page, sx, sy)[0] > 200 and pixel(page, dx + 14, dy)[0] > 200
    set_mode(page, "overlay")

    # propagate (forward and backward), live progress, results while it runs
    page.click("#propagate")
    wait_job_state(page, "progress-text")
    progress = page.text_content("#progress-text")
    assert f"{TN}/{TN} frames" in progress and "frames/s" in progress
    page.screenshot(path=str(shots / "03_propagated.png"))

    # scrub to the last frame: the propagated mattes follow both objects
    last = TN - 1
    page.wait_for_timeout(300)  # let the progress-driven redraws settle
    renders = renders_of(page)
    page.eval_on_selector(
        "#scrubber", f"(el) => {{ el.value = {last}; el.dispatchEvent(new Event('input')); }}"
    )
    page.wait_for_function(f"document.getElementById('frame-number').value === '{last}'")
    page.wait_for_function(f"+document.body.dataset.renders > {renders}")
    page.wait_for_function(f"document.body.dataset.drawnFrame === '{last}'")
    page.wait_for_function("document.getElementById('matte-origin').textContent.includes('result')")
    # the tracker's confidence is shown per object; lost spans (if any) listed under the bar
    shown = page.text_content("#matte-origin")
    assert "confidence object 1 " in shown and "object 2 " in shown, shown
    state = page.evaluate("fetch('/api/state').then((r) => r.json())")
    listed = page.eval_on_selector_all(
        "#lost-warnings li", "(els) => els.map((e) => e.textContent)"
    )
    assert listed == state["results"]["warnings"]
    (dx2, dy2), (sx2, sy2) = two_object_positions(last)
    set_mode(page, "alpha")
    assert pixel(page, dx2, dy2)[0] > 200 and pixel(page, sx2, sy2)[0] > 200
    assert pixel(page, dx, dy)[0] < 30  # where the disc was on frame 0
    set_mode(page, "checker")
    page.screenshot(path=str(shots / "04_review_checker.png"))
    set_mode(page, "overlay")

    # export PNG + ProRes, per object and combined; download and check the files
    page.check("#format-list input[value=prores]")
    page.check("#combined")
    page.click("#export")
    wait_job_state(page, "export-text", timeout=300_000)
    links = page.locator("#downloads a")
    assert links.count() == 6  # 2 objects + combined, 2 formats
    page.screenshot(path=str(shots / "05_export.png"))
    got = {}
    for i in range(links.count()):
        with page.expect_download() as info:
            links.nth(i).click()
        download = info.value
        target = shots / "downloads" / download.suggested_filename
        download.save_as(str(target))
        got[download.suggested_filename] = target
    zips = [p for n, p in got.items() if n.endswith(".zip")]
    movs = [p for n, p in got.items() if n.endswith(".mov")]
    assert len(zips) == 3 and len(movs) == 3
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            pngs = sorted(n for n in zf.namelist() if n.endswith(".png"))
            assert len(pngs) == TN
            from PIL import Image

            alpha = np.asarray(Image.open(io.BytesIO(zf.read(pngs[last]))))
            assert alpha.shape == (TH, TW) and alpha.max() == 255
    combined = next(p for p in movs if ".obj" not in p.name)
    alphas = list(read_alpha_frames(combined))
    assert len(alphas) == TN
    assert alphas[last][int(dy2), int(dx2)] > 0.8 and alphas[last][int(sy2), int(sx2)] > 0.8
    print(f"\nclick → preview in the browser: {1e3 * click_to_preview:.0f} ms ({TW}×{TH})")
    page.context.close()


def api_status(page: Any, method: str, url: str, body: Any = None) -> int:
    """Call the API through the page's own helper (which shows errors in the page)."""
    return page.evaluate(
        "([m, u, b]) => api(m, u, b === null ? undefined : b).then(() => 200, (e) => e.status)",
        [method, url, body],
    )


def expect_message(page: Any, words: str) -> None:
    """Wait until the page's message box says ``words`` (it updates after the response)."""
    page.wait_for_function(
        "(w) => { const m = document.getElementById('message'); return !m.hidden && m.textContent.includes(w); }",
        arg=words,
        timeout=30_000,
    )


def test_bad_input_through_the_page(browser: Any, server: Any, tmp_path: Path, shots: Path) -> None:
    page = new_page(browser, server["url"])

    # a non-video upload
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with page.expect_response("**/api/upload*") as response:
        page.set_input_files("#upload-input", str(notes))
    assert response.value.status == 415
    expect_message(page, "not a video or image")

    # a file named like a video that is not one
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 1000)
    with page.expect_response("**/api/upload*") as response:
        page.set_input_files("#upload-input", str(fake))
    assert response.value.status == 415
    expect_message(page, "cannot be opened")

    # an oversize upload
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\x00" * (UPLOAD_LIMIT + 1))
    with page.expect_response("**/api/upload*") as response:
        page.set_input_files("#upload-input", str(big))
    assert response.value.status == 413
    expect_message(page, "limit")
    page.screenshot(path=str(shots / "06_error_message.png"))

    # paths leading out of the root
    assert api_status(page, "POST", "/api/open", {"path": "../outside/secret.mp4"}) == 403
    expect_message(page, "outside the root folder: '../outside/secret.mp4'")
    assert api_status(page, "GET", "/api/files?dir=..%2F..") == 403
    expect_message(page, "outside the root folder: '../..'")

    # a frame past the end, a prompt outside the frame
    open_clip(page)
    assert api_status(page, "GET", f"/api/frames/{TN}") == 404
    expect_message(page, "outside the clip")
    body = {"kind": "point", "x": TW + 50, "y": 10, "frame": 0, "object_id": 1}
    assert api_status(page, "POST", "/api/prompts", body) == 422
    expect_message(page, "outside the 320×180 frame")
    body = {"kind": "point", "x": 10, "y": 10, "frame": TN + 3, "object_id": 1}
    assert api_status(page, "POST", "/api/prompts", body) == 422
    expect_message(page, "the clip has 16 frames")
    page.fill("#frame-number", str(TN + 20))  # the page clamps what it asks for
    page.dispatch_event("#frame-number", "change")
    page.wait_for_function(f"document.getElementById('frame-number').value === '{TN - 1}'")

    # the server kept running
    assert api_status(page, "GET", "/api/state") == 200
    page.context.close()


def test_two_sessions_race_on_one_clip(browser: Any, server: Any) -> None:
    pages = [new_page(browser, server["url"]) for _ in range(2)]
    (dx, dy), _ = two_object_positions(0)
    for page in pages:
        open_clip(page)
        page.mouse.click(*canvas_xy(page, dx, dy))
        page.wait_for_function(
            "document.getElementById('matte-origin').textContent.includes('preview')"
        )
    for page in pages:  # both start at once
        page.evaluate("propagate()")
    for page in pages:
        wait_job_state(page, "progress-text")
    # each session sees its own results; one cannot cancel the other's (nothing of its own runs)
    for page in pages:
        assert api_status(page, "POST", "/api/cancel") == 404
        expect_message(page, "nothing is running")
    states = [p.evaluate("fetch('/api/state').then((r) => r.json())") for p in pages]
    assert all(s["results"]["frames"] == TN for s in states)
    work = server["work"]
    assert len([p for p in work.iterdir() if p.is_dir()]) >= 2
    for page in pages:
        page.evaluate("fetch('/api/session/end', {method: 'POST'})")
        page.context.close()
