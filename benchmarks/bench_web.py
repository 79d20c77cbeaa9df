"""Web app latency and speed, measured in a real browser, against the CLI on the same clip.

    python benchmarks/bench_web.py                  # 01_dog.mp4 (1280×720), first 60 frames
    python benchmarks/bench_web.py --frames 120 --screenshots docs

Starts ``sam2matting serve``'s app on a local port, drives Chromium with Playwright (Debian's
``/usr/bin/chromium``), opens the clip, then for each prompt (a box, positive and negative
clicks on the dog) measures *click → preview drawn*: from the mouse event to the page having
drawn the new mask and matte of that frame (the server's own preview time is reported beside
it). Then it propagates from the page (frames/s as the page's progress reports it) and runs the
CLI (``sam2matting matte``, same prompts, alpha PNG output) on the same clip. Without
``../shared/data`` the generated sample clip at 1280×720 is used instead.

Writes benchmarks/results/web_latency.{json,md} and screenshots (``--screenshots``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

SHARED = Path(os.environ.get("SAM2MATTING_SHARED_DATA", REPO.parent / "shared" / "data"))
DOG = SHARED / "videos" / "01_dog.mp4"
#: (kind, payload) in clip pixels: a box on the dog, clicks on it, clicks off it
DOG_PROMPTS: list[tuple[str, Any]] = [
    ("box", (444, 376, 704, 552)),
    ("pos", (574, 464)),
    ("pos", (520, 440)),
    ("neg", (460, 390)),
    ("pos", (640, 500)),
    ("neg", (690, 540)),
    ("pos", (600, 430)),
]


def cut_clip(source: Path, target: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` re-encoded as H.264 at the same size and rate."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        vin = src.streams.video[0]
        out = dst.add_stream("libx264", rate=vin.average_rate)
        out.width, out.height, out.pix_fmt = vin.width, vin.height, "yuv420p"
        out.options = {"crf": "16", "preset": "veryfast"}
        for i, frame in enumerate(src.decode(vin)):
            if i >= frames:
                break
            for packet in out.encode(av.VideoFrame.from_ndarray(frame.to_rgb().to_ndarray())):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return target


def sample_clip(target: Path, frames: int) -> tuple[Path, list[tuple[str, Any]]]:
    from sam2matting.samples import make_sample_clip, write_sample_video

    clip = make_sample_clip(1280, 720, frames)
    cx, cy = clip.center(0)
    r = clip.radius() * 0.5
    prompts: list[tuple[str, Any]] = [
        ("box", tuple(int(v) for v in clip.box(0))),
        ("pos", (cx, cy)),
        ("pos", (cx + r, cy)),
        ("neg", (20, 20)),
        ("pos", (cx, cy + r)),
    ]
    return write_sample_video(clip, target, audio=False), prompts


def browser_run(clip: Path, prompts: list[tuple[str, Any]], shots: Path | None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from sam2matting.web.app import create_app
    from sam2matting.web.sessions import WebConfig
    from test_web_browser import CHROMIUM_ARGS, find_chromium
    from web_fixtures import live_server

    executable = find_chromium()
    if executable is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    app = create_app(WebConfig(root=clip.parent))
    out: dict[str, Any] = {"prompts": []}
    with live_server(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(600_000)
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        t0 = time.perf_counter()
        page.click(f"#file-list li[data-path='{clip.name}']")
        page.wait_for_function("+document.body.dataset.renders >= 1")
        out["open_s"] = round(time.perf_counter() - t0, 2)
        info = page.evaluate("S.state.clip")
        w, h = info["width"], info["height"]

        def at(x: float, y: float) -> tuple[float, float]:
            b = page.locator("#view").bounding_box()
            return b["x"] + x * b["width"] / w, b["y"] + y * b["height"] / h

        for kind, payload in prompts:
            renders = int(page.get_attribute("body", "data-renders") or 0)
            tool = {"box": "box", "pos": "pos", "neg": "neg"}[kind]
            page.check(f"input[name=tool][value={tool}]")
            t0 = time.perf_counter()
            if kind == "box":
                x0, y0, x1, y1 = payload
                page.mouse.move(*at(x0, y0))
                page.mouse.down()
                page.mouse.move(*at(x1, y1), steps=2)
                t0 = time.perf_counter()  # the box is sent on release
                page.mouse.up()
            else:
                page.mouse.click(*at(*payload))
            page.wait_for_function(f"+document.body.dataset.renders > {renders}")
            seconds = time.perf_counter() - t0
            message = page.text_content("#message") if page.is_visible("#message") else ""
            timing = page.evaluate("S.lastTiming || {}")
            out["prompts"].append(
                {
                    "kind": kind,
                    "at": list(payload),
                    "click_to_drawn_ms": round(1e3 * seconds, 1),
                    "request_ms": round(timing.get("request_ms", float("nan")), 1),
                    "server_preview_ms": timing.get("server_preview_ms"),
                    "fetch_and_draw_ms": round(timing.get("draw_ms", float("nan")), 1),
                    "error": message or None,
                }
            )
        if shots is not None:
            page.check("input[name=tool][value=pos]")
            page.screenshot(path=str(shots / "web_preview.png"))
        page.click("#propagate")
        page.wait_for_function(
            "['done','failed','cancelled'].includes(document.getElementById('progress-text').dataset.state)"
        )
        job = page.evaluate("fetch('/api/state').then((r) => r.json()).then((s) => s.job)")
        out["propagation"] = {k: job[k] for k in ("state", "done", "total", "fps", "seconds")}
        if shots is not None:
            mid = info["frames"] // 2
            page.eval_on_selector(
                "#scrubber",
                f"(el) => {{ el.value = {mid}; el.dispatchEvent(new Event('input')); }}",
            )
            page.wait_for_function(
                "document.getElementById('matte-origin').textContent.includes('result')"
            )
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / "web_review.png"))
        out["clip"] = info
        browser.close()
    return out


def api_run(clip: Path, prompts: list[tuple[str, Any]]) -> list[float]:
    """The same prompts through MattingSession in-process: add_prompt + preview, ms each."""
    from sam2matting.api import MattingSession
    from sam2matting.types import Box, Points

    times = []
    with MattingSession(clip) as session:
        last_pos: tuple[float, float] | None = None
        for kind, payload in prompts:
            if kind == "box":
                prompt: Any = Box(*payload)
            elif kind == "pos":
                prompt = Points((tuple(payload),), (1,))
                last_pos = tuple(payload)
            else:  # as the page sends it: with the latest positive click
                prompt = Points((last_pos, tuple(payload)), (1, 0))
            t0 = time.perf_counter()
            session.add_prompt(prompt)
            session.preview(0)
            times.append(round(1e3 * (time.perf_counter() - t0), 1))
    return times


def cli_run(clip: Path, prompts: list[tuple[str, Any]]) -> dict[str, Any]:
    args = [sys.executable, "-m", "sam2matting", "matte", str(clip)]
    for kind, payload in prompts:
        if kind == "box":
            args += ["--box", ",".join(str(v) for v in payload)]
        else:
            x, y = payload
            args += ["--point", f"{x},{y}" + (",neg" if kind == "neg" else "")]
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run(
            [*args, "-o", out],
            capture_output=True,
            text=True,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
        wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"CLI failed: {done.stderr}")
    m = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) frames/s", done.stderr)
    if m is None:
        raise SystemExit(f"no timing line in the CLI's output: {done.stderr}")
    return {
        "frames": int(m.group(1)),
        "seconds": float(m.group(2)),
        "fps": float(m.group(3)),
        "wall_s_incl_start": round(wall, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=60, help="frames of the clip to use (default 60)")
    ap.add_argument("--screenshots", type=Path, help="folder for web_preview.png / web_review.png")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "web_latency")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        if DOG.is_file():
            clip = cut_clip(DOG, root / "01_dog_cut.mp4", args.frames)
            prompts = DOG_PROMPTS
            source = f"{DOG.name}, first {args.frames} frames"
        else:
            clip, prompts = sample_clip(root / "sample_1280x720.mp4", args.frames)
            source = f"generated sample clip, {args.frames} frames"
        if args.screenshots is not None:
            args.screenshots.mkdir(parents=True, exist_ok=True)
        load_before = os.getloadavg()
        web = browser_run(clip, prompts, args.screenshots)
        api = api_run(clip, prompts)
        cli = cli_run(clip, prompts)
        load_after = os.getloadavg()
    latencies = [p["click_to_drawn_ms"] for p in web["prompts"] if not p["error"]]
    server = [p["server_preview_ms"] for p in web["prompts"] if not p["error"]]
    requests = [p["request_ms"] for p in web["prompts"] if not p["error"]]
    import sam2matting

    result = {
        "clip": source,
        "size": f"{web['clip']['width']}x{web['clip']['height']}",
        "tracker": "builtin",
        "head": "default",
        "preview_click_to_drawn_ms_median": round(statistics.median(latencies), 1),
        "preview_server_ms_median": round(statistics.median(server), 1),
        "prompt_request_ms_median": round(statistics.median(requests), 1),
        "api_add_prompt_and_preview_ms": api,
        "api_add_prompt_and_preview_ms_median": round(statistics.median(api), 1),
        "prompts": web["prompts"],
        "open_s": web["open_s"],
        "propagation_browser": web["propagation"],
        "propagation_cli": cli,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "python": platform.python_version(),
        "sam2matting": sam2matting.__version__,
        "note": "shared CPU: other jobs ran at the same time (see the load average)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(
        f"| {p['kind']} {tuple(p['at'])} | {p['click_to_drawn_ms']:.0f} | {p['request_ms']:.0f} "
        f"| {p['server_preview_ms']:.0f} | {p['fetch_and_draw_ms']:.0f} | {a:.0f} |"
        for p, a in zip(web["prompts"], api)
    )
    md = f"""# Web app: preview latency and propagation speed ({result["size"]}, CPU)

Clip: {source}; tracker `builtin`, default head; {result["cpu_count"]} CPUs, load average
{result["load_average_before_after"][0]} → {result["load_average_before_after"][1]} (a shared machine).
`python benchmarks/bench_web.py --frames {args.frames}`.

| prompt | click → preview drawn (ms) | POST /api/prompts (ms) | of which preview (ms) | fetch matte + draw (ms) | API only: add_prompt + preview (ms) |
|---|---:|---:|---:|---:|---:|
{rows}

**Median click → preview drawn in the browser: {result["preview_click_to_drawn_ms_median"]:.0f} ms**;
the request (the tracker taking the prompt, then the one-frame preview) takes
{result["prompt_request_ms_median"]:.0f} ms of it, the preview alone
{result["preview_server_ms_median"]:.0f} ms; the same prompts through `MattingSession` in-process:
{result["api_add_prompt_and_preview_ms_median"]:.0f} ms.

| propagation, same clip and prompts | frames | seconds | frames/s |
|---|---:|---:|---:|
| browser (`serve`, progress as the page shows it) | {web["propagation"]["done"]} | {web["propagation"]["seconds"]} | {web["propagation"]["fps"]} |
| CLI (`sam2matting matte`, alpha PNG) | {cli["frames"]} | {cli["seconds"]} | {cli["fps"]} |
"""
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
