"""The web app's HTTP API, in-process (FastAPI's TestClient): every route, happy path and errors,
session isolation, limits, paths outside the root, and clean-up."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("httpx", reason="httpx (TestClient) is not installed")

from fastapi.testclient import TestClient

from sam2matting.web.app import COOKIE, create_app
from sam2matting.web.sessions import WebConfig
from web_fixtures import FPS, H, N, W, decode_png, make_root, sample_clip, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("web")
    root, outside = make_root(base)
    work = base / "work"
    return root, outside, work


@pytest.fixture(scope="module")
def app(dirs: tuple[Path, Path, Path]) -> Any:
    root, _outside, work = dirs
    return create_app(WebConfig(root=root, work_dir=work, max_upload_bytes=400_000))


@pytest.fixture()
def client(app: Any) -> Any:
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        yield c
        c.post("/api/session/end")


def other_client(app: Any) -> TestClient:
    """A second browser on the same server (no lifespan of its own)."""
    c = TestClient(app)
    assert c.get("/").status_code == 200
    return c


def open_sample(c: TestClient) -> dict[str, Any]:
    r = c.post("/api/open", json={"path": "sample.mp4"})
    assert r.status_code == 200, r.text
    return r.json()


def click_centre(c: TestClient, frame: int = 0, obj: int = 1) -> dict[str, Any]:
    cx, cy = sample_clip().center(frame)
    r = c.post(
        "/api/prompts", json={"kind": "point", "x": cx, "y": cy, "frame": frame, "object_id": obj}
    )
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(c: TestClient, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get("/api/state").json()["job"]
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.1)


def error_of(r: Any, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    message = r.json()["error"]
    assert "Traceback" not in message
    for word in words:
        assert word in message, message
    return message


# -------------------------------------------------------------------------------- sessions
def test_page_sets_an_http_only_cookie_and_the_api_needs_it(app: Any) -> None:
    with TestClient(app) as c:
        error_of(c.get("/api/state"), 401, "reload the page")
        r = c.get("/")
        assert r.status_code == 200 and "sam2matting" in r.text
        assert "httponly" in r.headers["set-cookie"].lower()
        assert c.get("/api/state").json()["clip"] is None
        assert c.get("/static/app.js").status_code == 200
        c.post("/api/session/end")
        error_of(c.get("/api/state"), 401)


def test_config_states_limits_and_formats(client: Any) -> None:
    cfg = client.get("/api/config").json()
    assert cfg["max_upload_bytes"] == 400_000
    assert ".mp4" in cfg["upload_extensions"] and ".png" in cfg["upload_extensions"]
    assert {f["name"] for f in cfg["formats"]} >= {"alpha-png", "prores", "webm", "composite"}
    assert cfg["root"] is True and cfg["tracker"] == "builtin"


# -------------------------------------------------------------------------------- root folder
def test_listing_shows_clips_and_hides_what_leads_out(client: Any) -> None:
    entries = {e["name"]: e["kind"] for e in client.get("/api/files").json()["entries"]}
    assert entries == {
        "empty": "dir",
        "frames": "images",
        "leaky": "images",
        "sample.mp4": "video",
        "still.png": "image",
    }
    sub = client.get("/api/files", params={"dir": "frames"}).json()["entries"]
    assert [e["path"] for e in sub] == [f"frames/f{t}.png" for t in range(4)]
    leaky = client.get("/api/files", params={"dir": "leaky"}).json()["entries"]
    assert [e["name"] for e in leaky] == ["f0.png"]  # the linked-in frame is not listed
    error_of(client.get("/api/files", params={"dir": "../outside"}), 403, "outside the root")
    error_of(client.get("/api/files", params={"dir": "escape_dir"}), 403, "outside the root")
    error_of(client.get("/api/files", params={"dir": "/etc"}), 403, "relative")
    error_of(client.get("/api/files", params={"dir": "nope"}), 404)
    error_of(client.get("/api/files", params={"dir": "notes.txt"}), 404, "not a folder")


@pytest.mark.parametrize(
    ("path", "status", "word"),
    [
        ("../outside/secret.txt", 403, "outside the root"),
        ("../../../../etc/passwd", 403, "outside the root"),
        ("frames/../../outside/secret.mp4", 403, "outside the root"),
        ("escape.mp4", 403, "outside the root"),
        ("escape_dir/secret.mp4", 403, "outside the root"),
        ("leaky", 403, "outside the root"),
        ("/etc/passwd", 403, "relative"),
        ("missing.mp4", 404, "no such file"),
        ("notes.txt", 415, "not a video"),
        ("empty", 415, "without images"),
    ],
)
def test_open_refuses_paths_outside_the_root_and_non_clips(
    client: Any, path: str, status: int, word: str
) -> None:
    error_of(client.post("/api/open", json={"path": path}), status, word)
    assert client.get("/api/state").status_code == 200  # the server keeps going


def test_open_video_folder_and_image(client: Any) -> None:
    clip = open_sample(client)
    assert (clip["width"], clip["height"], clip["frames"], clip["fps"]) == (W, H, N, FPS)
    assert clip["duration"] == pytest.approx(N / FPS)
    folder = client.post("/api/open", json={"path": "frames"}).json()
    assert (folder["kind"], folder["frames"]) == ("images", 4)
    still = client.post("/api/open", json={"path": "still.png"}).json()
    assert (still["kind"], still["frames"]) == ("image", 1)
    state = client.get("/api/state").json()
    assert state["clip"]["name"] == "still.png"
    assert [o["id"] for o in state["objects"]] == [1]  # a new clip starts with one object
    error_of(client.post("/api/open", json={"where": 1}), 400, "path")


# -------------------------------------------------------------------------------- uploads
def test_upload_video(client: Any, dirs: tuple[Path, Path, Path]) -> None:
    root = dirs[0]
    data = (root / "sample.mp4").read_bytes()
    r = client.post("/api/upload", params={"name": "my clip.mp4"}, content=data)
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["frames"]) == ("my clip.mp4", N)
    assert client.get("/api/frames/0").headers["content-type"] == "image/jpeg"


def uploads_of(app: Any, c: TestClient) -> list[Path]:
    session = app.state.store.get(c.cookies.get(COOKIE))
    folder = session.folder / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_upload_refuses_non_media_oversize_and_garbage(app: Any, client: Any) -> None:
    error_of(
        client.post("/api/upload", params={"name": "notes.txt"}, content=b"hello"), 415, "allowed"
    )
    error_of(
        client.post("/api/upload", params={"name": "fake.mp4"}, content=b"\x00" * 5000),
        415,
        "cannot be opened",
    )
    big = b"\x00" * 400_001
    error_of(client.post("/api/upload", params={"name": "big.mp4"}, content=big), 413, "limit")

    def chunked() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"\x00" * 50_000

    error_of(client.post("/api/upload", params={"name": "big.mp4"}, content=chunked()), 413)
    error_of(client.post("/api/upload", params={"name": "empty.mp4"}, content=b""), 415, "empty")
    assert uploads_of(app, client) == []  # nothing refused is kept
    assert client.get("/api/state").json()["clip"] is None


# -------------------------------------------------------------------------------- frames, objects
def test_frames(client: Any) -> None:
    error_of(client.get("/api/frames/0"), 404, "no clip")
    open_sample(client)
    r = client.get(f"/api/frames/{N - 1}")
    assert r.status_code == 200
    image = decode_png(r.content)  # imdecode reads JPEG too
    assert image.shape == (H, W, 3)
    error_of(client.get(f"/api/frames/{N}"), 404, "outside the clip")
    error_of(client.get("/api/frames/-1"), 404, "outside the clip")


def test_objects_add_rename_remove(client: Any) -> None:
    error_of(client.post("/api/objects", json={}), 404, "no clip")
    open_sample(client)
    o2 = client.post("/api/objects", json={"name": "dog"}).json()
    assert (o2["id"], o2["name"]) == (2, "dog") and o2["colour"].startswith("#")
    assert client.patch("/api/objects/2", json={"name": "cat"}).json()["name"] == "cat"
    error_of(client.patch("/api/objects/2", json={"name": "  "}), 422, "empty")
    error_of(client.patch("/api/objects/9", json={"name": "x"}), 404)
    error_of(client.patch("/api/objects/2", json={}), 400)
    click_centre(client, obj=2)
    state = client.delete("/api/objects/2").json()
    assert [o["id"] for o in state["objects"]] == [1] and state["prompts"] == []
    error_of(client.delete("/api/objects/2"), 404)


# -------------------------------------------------------------------------------- prompts, preview
def test_click_previews_the_frame_without_propagating(client: Any) -> None:
    open_sample(client)
    out = click_centre(client, frame=3)
    preview = out["preview"]
    assert preview["frame"] == 3 and preview["objects"] == [1]
    assert 0.02 < preview["coverage"]["1"] < 0.6
    r = client.get("/api/alpha/3/1")
    assert r.status_code == 200 and r.headers["x-matte-origin"] == "preview"
    alpha = decode_png(r.content)
    assert alpha.shape == (H, W)
    cx, cy = sample_clip().center(3)
    assert alpha[int(cy), int(cx)] > 200 and alpha[2, 2] < 30
    assert out["state"]["results"]["frames"] == 0  # nothing was propagated
    error_of(client.get("/api/alpha/4/1"), 404, "no matte yet")
    error_of(client.get(f"/api/alpha/{N}/1"), 404, "outside the clip")
    error_of(client.get("/api/alpha/3/7"), 404, "no object")


def test_negative_click_box_mask_and_removal(client: Any) -> None:
    open_sample(client)
    r = client.post("/api/prompts", json={"kind": "point", "x": 5, "y": 5, "label": 0})
    error_of(r, 422, "positive")
    click_centre(client)
    r = client.post("/api/prompts", json={"kind": "point", "x": 3, "y": 3, "label": 0})
    assert r.status_code == 200, r.text
    prompts = r.json()["state"]["prompts"]  # the negative click is a prompt of its own
    assert len(prompts) == 2 and [p[2] for p in prompts[1]["points"]] == [1, 0]
    assert prompts[1]["points"][1][:2] == [3, 3]
    client.delete("/api/prompts/1")
    client.post("/api/objects", json={})
    x0, y0, x1, y1 = sample_clip().box(0)
    r = client.post("/api/prompts", json={"kind": "box", "box": [x1, y1, x0, y0], "object_id": 2})
    assert r.status_code == 200, r.text  # corners in any order
    assert r.json()["preview"]["objects"] == [1, 2]
    mask = np.zeros((H, W), np.uint8)
    mask[30:80, 60:130] = 255
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(mask).save(buf, format="PNG")
    r = client.post(
        "/api/prompts/mask", params={"frame": 5, "object_id": 2}, content=buf.getvalue()
    )
    assert r.status_code == 200, r.text
    assert 0.12 < r.json()["preview"]["coverage"]["2"] < 0.2  # the 50×70 mask
    kinds = [p["kind"] for p in client.get("/api/state").json()["prompts"]]
    assert kinds == ["point", "box", "mask"]
    state = client.delete("/api/prompts/2").json()["state"]
    assert [p["kind"] for p in state["prompts"]] == ["point", "box"]
    error_of(client.delete("/api/prompts/5"), 422, "no prompt 5")
    error_of(
        client.post("/api/prompts/mask", params={"frame": 0, "object_id": 1}, content=b"xx"), 415
    )
    error_of(
        client.post(
            "/api/prompts/mask", params={"frame": 0, "object_id": 1}, content=b"\0" * 400_001
        ),
        413,
        "limit",
    )
    small = io.BytesIO()
    Image.fromarray(mask[30:50, 60:80]).save(small, format="PNG")
    error_of(
        client.post(
            "/api/prompts/mask", params={"frame": 0, "object_id": 1}, content=small.getvalue()
        ),
        422,
        "frames are",
    )


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"kind": "point", "x": W + 5, "y": 10}, 422, "outside"),
        ({"kind": "point", "x": -1, "y": 10}, 422, "outside"),
        ({"kind": "point", "x": 10, "y": 10, "frame": N}, 422, "frames"),
        ({"kind": "point", "x": 10, "y": 10, "frame": 1.5}, 400, "integer"),
        ({"kind": "point", "x": "a", "y": 10}, 400, "number"),
        ({"kind": "point", "x": 10, "y": 10, "label": 3}, 422, "label"),
        ({"kind": "box", "box": [W + 10, 0, W + 20, 10]}, 422, "outside"),
        ({"kind": "box", "box": [1, 2, 3]}, 400, "box"),
        ({"kind": "box", "box": [5, 5, 5, 9]}, 422, "empty"),
        ({"kind": "text", "text": "a ball"}, 422, "cannot use text"),
        ({"kind": "lasso"}, 400, "unknown prompt"),
        ({"kind": "point", "x": 10, "y": 10, "object_id": 9}, 404, "no object"),
    ],
)
def test_bad_prompts_are_4xx_with_a_message(
    client: Any, body: dict[str, Any], status: int, word: str
) -> None:
    open_sample(client)
    error_of(client.post("/api/prompts", json=body), status, word)
    assert client.get("/api/state").json()["prompts"] == []


def test_preview_route(client: Any) -> None:
    open_sample(client)
    error_of(client.post("/api/preview/0"), 422, "no prompt")
    click_centre(client, frame=2)
    out = client.post("/api/preview/2").json()["preview"]
    assert out["frame"] == 2 and out["coverage"]["1"] > 0.02
    before = client.post("/api/preview/0").json()["preview"]
    assert before["coverage"]["1"] == 0  # the object starts on frame 2
    error_of(client.post(f"/api/preview/{N}"), 400, "outside the clip")


# -------------------------------------------------------------------------------- jobs
def read_events(c: TestClient) -> list[dict[str, Any] | None]:
    import json

    events = []
    with c.stream("GET", "/api/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


def test_propagate_stream_export_download(client: Any, tmp_path: Path) -> None:
    from sam2matting.io.writers import read_alpha_frames

    open_sample(client)
    error_of(client.post("/api/propagate", json={}), 422, "no prompt")
    error_of(client.post("/api/export", json={"formats": ["alpha-png"]}), 422, "propagate")
    click_centre(client, frame=2)
    client.post("/api/objects", json={})
    x0, y0, x1, y1 = sample_clip().box(4)
    client.post(
        "/api/prompts", json={"kind": "box", "box": [x0, y0, x1, y1], "frame": 4, "object_id": 2}
    )
    error_of(client.post("/api/propagate", json={"backward": "yes"}), 400)
    job = client.post("/api/propagate", json={"backward": True}).json()
    assert job["kind"] == "propagation" and job["total"] == N
    events = read_events(client)
    assert events[-1] is not None and events[-1]["state"] == "done"
    assert events[-1]["done"] == N and events[-1]["fps"] > 0
    state = client.get("/api/state").json()
    warnings = state["results"].pop("warnings")
    assert state["results"] == {"frames": N, "objects": [1, 2], "stale": False}
    # backward from frame 2 (object 1) and frame 4 (object 2): both prompts are on the clip's one
    # subject, so which object owns it on frame 0 is the tracker's call (one pixel, one owner)
    r1, r2 = client.get("/api/alpha/0/1"), client.get("/api/alpha/0/2")
    assert r1.headers["x-matte-origin"] == r2.headers["x-matte-origin"] == "result"
    assert max(decode_png(r1.content).max(), decode_png(r2.content).max()) > 200
    # honesty: the tracker's confidence per frame and object, and the lost spans as warnings
    # (two objects on one subject: one of them loses it somewhere)
    scores = {
        (f, o): float(client.get(f"/api/alpha/{f}/{o}").headers["x-confidence"])
        for f in range(N)
        for o in (1, 2)
    }
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert warnings and warnings == events[-1]["warnings"]
    assert all("lost from frame" in w and "add a prompt there" in w for w in warnings)
    for w in warnings:  # each warning names frames where that object's confidence is low
        obj = int(w.split()[1])
        first = int(w.split("from frame ")[1].split()[0].rstrip(";"))
        assert scores[(first, obj)] < 0.5

    for body, word in [
        ({"formats": ["gif"]}, "unknown output format"),
        ({"formats": []}, "no output format"),
        ({"formats": "prores"}, "list"),
        ({"formats": ["alpha-png"], "alpha_bits": 12}, "8 or 16"),
        ({"formats": ["composite"], "background": "../x.png"}, "colour"),
    ]:
        error_of(client.post("/api/export", json=body), 400, word)
    job = client.post(
        "/api/export", json={"formats": ["alpha-png", "prores"], "combined": True}
    ).json()
    assert job["kind"] == "export"
    job = wait_job(client)
    assert job["state"] == "done", job
    names = {(o["object"], o["format"]): o for o in job["outputs"]}
    assert set(names) == {(o, f) for o in (1, 2, None) for f in ("alpha-png", "prores")}
    png = client.get(names[(1, "alpha-png")]["url"])
    assert png.status_code == 200
    with zipfile.ZipFile(io.BytesIO(png.content)) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == N
    mov = client.get(names[(None, "prores")]["url"])
    assert mov.status_code == 200
    path = tmp_path / "combined.mov"
    path.write_bytes(mov.content)
    alphas = list(read_alpha_frames(path))
    assert len(alphas) == N and max(float(a.max()) for a in alphas) > 0.9
    error_of(client.get(f"/api/exports/{job['id']}/nope.mov"), 404)
    error_of(client.get("/api/exports/..%2F..%2Fetc/passwd"), 404)
    error_of(client.get("/api/exports/../../etc/passwd"), 404)
    error_of(client.get("/api/frames/abc"), 422, "bad request")

    # a correction marks the results stale until propagated again
    click_centre(client, frame=6)
    assert client.get("/api/state").json()["results"]["stale"] is True
    error_of(client.post("/api/export", json={"formats": ["alpha-png"]}), 422, "again")


def test_export_has_the_exr_options_and_contact_sheet_of_the_cli(
    client: Any, tmp_path: Path
) -> None:
    openexr = pytest.importorskip("OpenEXR")
    from sam2matting.io.writers import read_exr

    open_sample(client)
    click_centre(client)
    client.post("/api/propagate", json={"backward": False})
    assert wait_job(client)["state"] == "done"
    for body, word in [
        ({"formats": ["exr"], "exr_compression": "lzma"}, "unknown EXR compression"),
        ({"formats": ["exr"], "exr_colour": "srgb"}, "unknown EXR colour"),
        ({"formats": ["exr"], "exr_colour": 1}, "string"),
    ]:
        error_of(client.post("/api/export", json=body), 400, word)
    body = {"formats": ["exr"], "exr_compression": "piz", "contact_sheet": True}
    client.post("/api/export", json=body)
    job = wait_job(client)
    assert job["state"] == "done", job
    names = {(o["object"], o["format"]): o for o in job["outputs"]}
    assert set(names) == {(1, "exr"), (None, "contact-sheet")}
    sheet = decode_png(client.get(names[(None, "contact-sheet")]["url"]).content)
    assert sheet.shape[1] == 6 * 320 + 5 * 4  # six sampled frames, as the CLI's sheet
    exrs = client.get(names[(1, "exr")]["url"])
    with zipfile.ZipFile(io.BytesIO(exrs.content)) as zf:
        members = sorted(n for n in zf.namelist() if n.endswith(".exr"))
        assert len(members) == N
        data = zf.read(members[0])
    path = tmp_path / "check.exr"
    path.write_bytes(data)
    with openexr.File(str(path)) as handle:
        assert "PIZ" in str(dict(handle.header())["compression"])
    assert read_exr(path)["A"].max() > 0.9


def test_busy_session_refuses_conflicting_requests_and_cancels(app: Any, client: Any) -> None:
    open_sample(client)
    click_centre(client)
    session = app.state.store.get(client.cookies.get(COOKIE))
    gate = threading.Event()
    real = session.matting.propagate

    def slow(**kwargs: Any) -> Any:
        for result in real(**kwargs):
            if result.index >= 2:
                gate.wait(10)
            yield result

    session.matting.propagate = slow
    client.post("/api/propagate", json={})
    deadline = time.monotonic() + 60
    while client.get("/api/state").json()["results"]["frames"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = client.get("/api/alpha/1/1")  # finished frames are viewable while the rest runs
    assert r.status_code == 200 and r.headers["x-matte-origin"] == "result"
    error_of(client.get("/api/alpha/5/1"), 404, "no matte yet")
    error_of(client.post("/api/propagate", json={}), 409, "cancel it or wait")
    error_of(client.post("/api/prompts", json={"kind": "point", "x": 9, "y": 9}), 409)
    error_of(client.post("/api/open", json={"path": "sample.mp4"}), 409)
    error_of(client.post("/api/export", json={"formats": ["alpha-png"]}), 409)
    assert client.get("/api/frames/1").status_code == 200  # viewing stays possible
    assert client.post("/api/cancel").json()["state"] == "running"
    gate.set()
    job = wait_job(client)
    assert job["state"] == "cancelled" and job["done"] < N
    error_of(client.post("/api/cancel"), 404, "nothing is running")


# -------------------------------------------------------------------------------- isolation
def test_sessions_are_isolated(app: Any, client: Any) -> None:
    open_sample(client)
    click_centre(client)
    client.post("/api/propagate", json={})
    wait_job(client)
    job = client.post("/api/export", json={"formats": ["alpha-mp4"]}).json()
    job = wait_job(client)
    url = job["outputs"][0]["url"]
    other = other_client(app)
    try:
        assert other.get("/api/state").json()["clip"] is None
        error_of(other.get(url), 404)
        error_of(other.get("/api/alpha/0/1"), 404)
        error_of(other.post("/api/cancel"), 404)
        forged = TestClient(app, cookies={COOKIE: "guess"})
        error_of(forged.get("/api/state"), 401)
    finally:
        other.post("/api/session/end")
    assert client.get(url).status_code == 200


def test_two_sessions_racing_on_one_clip(
    app: Any, client: Any, dirs: tuple[Path, Path, Path]
) -> None:
    root, outside, work = dirs
    before_root, before_outside = snapshot(root), snapshot(outside)
    other = other_client(app)
    try:
        for c in (client, other):
            open_sample(c)
            click_centre(c)
        barrier = threading.Barrier(2)
        answers: list[int] = []

        def go(c: TestClient) -> None:
            barrier.wait()
            answers.append(c.post("/api/propagate", json={}).status_code)

        threads = [threading.Thread(target=go, args=(c,)) for c in (client, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200, 200]
        jobs = [wait_job(c) for c in (client, other)]
        assert [j["state"] for j in jobs] == ["done", "done"]
        a = decode_png(client.get("/api/alpha/7/1").content)
        b = decode_png(other.get("/api/alpha/7/1").content)
        assert np.array_equal(a, b)  # same clip, same prompt: same result, no cross-talk
        folders = {app.state.store.get(c.cookies.get(COOKIE)).folder for c in (client, other)}
        assert len(folders) == 2 and all(f.parent == work for f in folders)
    finally:
        other.post("/api/session/end")
    assert snapshot(root) == before_root and snapshot(outside) == before_outside


def test_preview_is_not_blocked_by_another_sessions_propagation(app: Any, client: Any) -> None:
    open_sample(client)
    click_centre(client)
    session = app.state.store.get(client.cookies.get(COOKIE))
    real = session.matting.propagate
    release = threading.Event()

    def held(**kwargs: Any) -> Any:
        for result in real(**kwargs):
            release.wait(30)
            yield result

    session.matting.propagate = held
    client.post("/api/propagate", json={})
    other = other_client(app)
    try:
        open_sample(other)
        t0 = time.perf_counter()
        out = click_centre(other)
        assert out["preview"]["coverage"]["1"] > 0.02
        assert client.get("/api/state").json()["job"]["state"] == "running"
        assert time.perf_counter() - t0 < 25
    finally:
        release.set()
        other.post("/api/session/end")
    assert wait_job(client)["state"] == "done"


def test_session_end_and_expiry_remove_files(dirs: tuple[Path, Path, Path]) -> None:
    root, _outside, work = dirs
    app = create_app(WebConfig(root=root, work_dir=work / "ttl", session_ttl=0.5))
    with TestClient(app) as c:
        c.get("/")
        open_sample(c)
        click_centre(c)
        store = app.state.store
        folder = store.get(c.cookies.get(COOKIE)).folder
        assert folder.is_dir()
        assert store.reap() == 0  # just used
        deadline = time.monotonic() + 10
        while folder.exists() and time.monotonic() < deadline:  # the server's reaper, or ours
            time.sleep(0.2)
            store.reap()
        assert not folder.exists() and len(store) == 0
        error_of(c.get("/api/state"), 401)
        c.get("/")
        folder = store.get(c.cookies.get(COOKIE)).folder
        assert c.post("/api/session/end").json() == {"ended": True}
        assert not folder.exists()
        c.get("/")
        folder = store.get(c.cookies.get(COOKIE)).folder
    assert not folder.exists()  # server shutdown removes the rest
    assert list((work / "ttl").iterdir()) == []


def test_no_root_means_uploads_only(dirs: tuple[Path, Path, Path]) -> None:
    app = create_app(WebConfig(root=None, work_dir=dirs[2]))
    with TestClient(app) as c:
        c.get("/")
        assert c.get("/api/config").json()["root"] is False
        error_of(c.get("/api/files"), 403, "--root")
        error_of(c.post("/api/open", json={"path": "sample.mp4"}), 403, "--root")


def test_cancelled_export_keeps_no_file(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sam2matting.web.sessions as sessions

    open_sample(client)
    click_centre(client)
    client.post("/api/propagate", json={})
    assert wait_job(client)["state"] == "done"
    gate = threading.Event()
    read = sessions._read_alpha
    seen: list[Path] = []

    def slow_read(path: Path) -> Any:
        seen.append(path)
        if len(seen) > 2:
            gate.wait(10)
        return read(path)

    monkeypatch.setattr(sessions, "_read_alpha", slow_read)
    client.post("/api/export", json={"formats": ["alpha-png", "prores"]})
    deadline = time.monotonic() + 60
    while len(seen) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.post("/api/cancel").json()["kind"] == "export"
    gate.set()
    job = wait_job(client)
    assert job["state"] == "cancelled" and "no file was kept" in job["message"]
    folder = app.state.store.get(client.cookies.get(COOKIE)).folder
    assert not (folder / "exports" / job["id"]).exists()
