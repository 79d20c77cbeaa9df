"""Command line: ``sam2matting matte | batch | demo | info | eval | train | serve``.

A thin client of :mod:`sam2matting.api`. User errors print one line and exit 2; Ctrl-C or
SIGTERM abort cleanly (no partial outputs under final names) and exit 130 / 143.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InputError, OutputError, PromptError, Sam2MattingError
from .prompt_syntax import prompts_from_args

__all__ = ["build_parser", "main", "prompts_from_args"]

log = logging.getLogger("sam2matting")

#: subcommands that live in their own modules (each has add_parser(subparsers) and run(args))
_PLUGIN_COMMANDS = {
    "batch": "sam2matting.batch_cli",
    "eval": "sam2matting.eval.cli",
    "train": "sam2matting.train.cli",
    "serve": "sam2matting.web.cli",
}

FORMAT_HELP = (
    "alpha-png (8/16-bit grey PNG sequence), rgba-png (straight RGBA PNGs), premul-png "
    "(premultiplied RGBA PNGs), prores (ProRes 4444 .mov with alpha), webm (VP9 with alpha), "
    "alpha-mp4 (alpha as grey H.264), composite (H.264 over --background), exr (half-float "
    "premultiplied RGBA EXR per frame), exr-layers (one EXR per frame: merged RGBA + obj<ID>.A "
    "per object)"
)


# --------------------------------------------------------------------------------------------
# prompt parsing: --frame / --object apply to the prompts that follow them
# --------------------------------------------------------------------------------------------
class _PromptAction(argparse.Action):
    """Records prompts in command-line order with the --frame/--object in force at that point."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = getattr(namespace, "prompt_items", None) or []
        state = getattr(namespace, "_state", None) or {"frame": None, "object": None}
        if self.dest in ("frame", "object"):
            try:
                number = int(values)
            except ValueError:
                parser.error(f"{option_string} needs an integer, got {values!r}")
            state = {**state, self.dest: number}
            items.append(("set", self.dest, number))
        else:
            items.append((self.dest, values, state["frame"], state["object"]))
        namespace.prompt_items = items
        namespace._state = state


# --------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings → a dict; VALUE parsed as JSON (numbers, true/false, null), else
    kept as text. A missing ``=`` or an empty key is a one-line usage error."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag} wants KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam2matting",
        description=(
            "Video and image matting: give a clip and a prompt (click, box, mask or text), get a "
            "fine alpha matte of that object on every frame, exported as PNG sequences, ProRes "
            "4444, WebM with alpha or composites."
        ),
        epilog="Run 'sam2matting demo' to try it on a generated sample clip.",
    )
    parser.add_argument("--version", action="version", version=f"sam2matting {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    m = sub.add_parser(
        "matte",
        help="matte a video, image folder or image",
        description=(
            "Matte the prompted object(s) of INPUT on every frame and write the chosen formats to "
            "the OUT folder. Prompts: --point, --box, --mask, --text (repeatable). --frame N and "
            "--object ID apply to the prompts after them (or, when nothing follows, to the ones "
            "before). Example: sam2matting matte clip.mp4 -o out --box 100,40,420,300 "
            "--format prores --format composite"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument(
        "input", help="video file (any format ffmpeg reads), folder of frames, or one image"
    )
    m.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    g = m.add_argument_group("prompts")
    g.add_argument(
        "--point",
        dest="point",
        action=_PromptAction,
        metavar="X,Y[,LABEL]",
        help="a click at pixel X,Y; LABEL 1/pos (default) or 0/neg",
    )
    g.add_argument(
        "--box",
        dest="box",
        action=_PromptAction,
        metavar="X0,Y0,X1,Y1",
        help="a box around the object, pixels",
    )
    g.add_argument(
        "--mask",
        dest="mask",
        action=_PromptAction,
        metavar="FILE",
        help="a mask image of the object (nonzero = object)",
    )
    g.add_argument(
        "--text",
        dest="text",
        action=_PromptAction,
        metavar="PHRASE",
        help="a phrase naming the object (needs --tracker sam3)",
    )
    g.add_argument(
        "--frame",
        dest="frame",
        action=_PromptAction,
        metavar="N",
        help="frame index (0-based) of the prompts after it (default 0)",
    )
    g.add_argument(
        "--object",
        dest="object",
        action=_PromptAction,
        metavar="ID",
        help="object id (1, 2, …) of the prompts after it (default 1)",
    )
    o = m.add_argument_group("outputs")
    o.add_argument(
        "-f",
        "--format",
        dest="formats",
        action="append",
        metavar="FMT",
        help=f"output format, repeatable (default alpha-png): {FORMAT_HELP}",
    )
    o.add_argument(
        "--combined",
        action="store_true",
        default=None,
        help="also write one output with all objects merged",
    )
    o.add_argument(
        "--background",
        metavar="COLOUR|FILE",
        help="for 'composite': a colour (#00b140, 0,177,64, green) or an image/video file",
    )
    o.add_argument(
        "--alpha-bits", type=int, choices=(8, 16), help="bit depth of PNG alpha (default 8)"
    )
    o.add_argument(
        "--exr-colour",
        choices=("linear", "display"),
        help="EXR colour: linear (default; sRGB decoded, what compositors expect) or display "
        "(the frame's sRGB values as they are)",
    )
    o.add_argument(
        "--exr-compression",
        choices=("zip", "zips", "piz", "rle", "none", "pxr24", "dwaa", "dwab", "b44"),
        help="EXR compression (default zip, lossless)",
    )
    o.add_argument(
        "--frames",
        dest="frame_range",
        metavar="START:END",
        help="only input frames START..END-1 (END exclusive; either may be empty, e.g. 100:); "
        "--frame numbers stay the input's; audio is trimmed to match",
    )
    o.add_argument(
        "--contact-sheet",
        action="store_true",
        default=None,
        help="also write <stem>.contact.png: sampled frames, their mattes and composites",
    )
    o.add_argument(
        "--lossless",
        action="store_true",
        default=None,
        help="lossless video encodes where the codec allows (alpha-mp4, webm)",
    )
    mm = m.add_argument_group("models")
    mm.add_argument(
        "--tracker",
        help="tracker name or local model path (default auto: sam2.1-hiera-tiny when its weights "
        "are cached or downloadable, else builtin; see 'sam2matting info')",
    )
    mm.add_argument(
        "--head",
        help="matting head: sam2matting (default, learned) or guided (classical, ~15x faster "
        "on CPU); all heads: 'sam2matting info'",
    )
    mm.add_argument(
        "--model",
        help="an official SAM2Matting checkpoint, tracker and heads in one: a preset "
        "(sam2matting-sam2.1-tiny, sam2matting-sam2.1-base-plus; downloaded once from "
        "FudanCVL/SAM2Matting, cached) or a .pt path; replaces --tracker and --head",
    )
    mm.add_argument(
        "--head-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the matting head, repeatable (VALUE as JSON, else text), e.g. "
        "temporal=0 (no temporal smoothing), edge_radius=0 (no colour-line refinement), "
        "arbiter=false (keep the heads' soft outline where the mask has a hard edge: for "
        "masks that are often a pixel or two off), roi_threshold=0.7, refine=false; a wrong "
        "key lists the head's options",
    )
    mm.add_argument(
        "--tracker-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the tracker, repeatable (VALUE as JSON, else text), e.g. for "
        "--tracker builtin: max_side=854 (track at a finer working resolution), "
        "thin_structures=false, hide_unconfirmed=false (show a re-detected look-alike while "
        "it is unconfirmed), learned_refine=true; a wrong key lists the tracker's options",
    )
    mm.add_argument(
        "--masks-dir", help="for --tracker oracle: folder of ground-truth masks, one per frame"
    )
    mm.add_argument(
        "--device",
        help="cpu, cuda, cuda:N, mps or auto (default auto): one device for the tracker and the "
        "heads; an unknown or absent device is an error",
    )
    mm.add_argument(
        "--dtype",
        help="compute precision: auto (default: bf16 autocast for SAM trackers on CUDA, fp32 "
        "heads), fp32, bf16 or fp16 (fp16: CUDA/MPS only)",
    )
    mm.add_argument(
        "--no-pipeline",
        dest="pipeline",
        action="store_false",
        default=None,
        help="run decoding, tracking/matting and encoding one after another on one thread",
    )
    mm.add_argument(
        "--compile",
        dest="torch_compile",
        action="store_true",
        default=None,
        help="torch.compile the tracker's image encoder and the learned head (needs a C++ "
        "compiler; the first frames wait tens of seconds for it)",
    )
    mm.add_argument(
        "--no-backward",
        dest="backward",
        action="store_false",
        default=None,
        help="do not track backward from a prompt on a later frame",
    )
    m.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log lines")
    m.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    d = sub.add_parser(
        "demo",
        help="generate a sample clip, matte it, write the outputs",
        description="Generates a small synthetic clip with a known matte (no downloads), mattes it with the default tracker and head, writes several output formats and reports the error against the known matte.",
    )
    d.add_argument(
        "-o",
        "--output",
        default="sam2matting-demo",
        help="output folder (default ./sam2matting-demo)",
    )
    d.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    d.add_argument("--size", default="512x288", help="WIDTHxHEIGHT (default 512x288)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    sub.add_parser(
        "info",
        help="versions, trackers, heads, weights and device",
        description="Print versions, the available trackers and matting heads, whether their weights are present, and the device that would be used.",
    )

    for name, module_name in _PLUGIN_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
        else:  # pragma: no cover - a plugin under construction
            log.debug("%s has no add_parser", name)
    return parser


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
class _BarSafeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes log lines through ``tqdm.write``, which clears the progress bar, prints the line
    above it and redraws it, instead of printing into the bar's line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", handlers=[_BarSafeHandler(sys.stderr)])


def _cmd_matte(args: argparse.Namespace) -> int:
    from .api import matte_video
    from .io.readers import parse_frame_range

    items = getattr(args, "prompt_items", None) or []
    prompts = prompts_from_args(items)
    if not prompts:
        raise PromptError("no prompt given: use --point, --box, --mask or --text (see --help)")
    if args.model and (args.tracker or args.head):
        raise Sam2MattingError("--model brings its own tracker and heads: drop --tracker / --head")
    tracker_options: dict[str, Any] = parse_key_values(args.tracker_option, "--tracker-option")
    if args.masks_dir:
        tracker_options["masks_dir"] = args.masks_dir
    head_options = parse_key_values(args.head_option, "--head-option")
    # prune None so CLI defaults never override library defaults
    kwargs = {
        k: v
        for k, v in {
            "formats": args.formats,
            "tracker": args.tracker,
            "head": args.head,
            "model": args.model,
            "device": args.device,
            "dtype": args.dtype,
            "pipeline": args.pipeline,
            "torch_compile": args.torch_compile,
            "combined": args.combined,
            "background": args.background,
            "alpha_bits": args.alpha_bits,
            "lossless": args.lossless,
            "exr_colour": args.exr_colour,
            "exr_compression": args.exr_compression,
            "contact_sheet": args.contact_sheet,
            "frames": parse_frame_range(args.frame_range) if args.frame_range else None,
            "backward": args.backward,
            "tracker_options": tracker_options or None,
            "head_options": head_options or None,
        }.items()
        if v is not None
    }
    src = Path(args.input)
    if not src.exists():
        raise InputError(f"input not found: {src}")
    if not args.output.strip():
        raise OutputError("output folder name is empty; give a folder, e.g. -o out")
    log.info("matting %s → %s", src, args.output)
    result = matte_video(src, prompts, args.output, progress=not args.quiet, **kwargs)
    log.info(
        "%d frames in %.1f s (%.1f frames/s; %s)",
        result.num_frames,
        result.seconds,
        result.num_frames / max(result.seconds, 1e-9),
        result.times.summary(),
    )
    for (obj, fmt), path in result.paths.items():
        who = "all objects" if obj is None else f"object {obj}"
        print(f"{fmt:>10}  {who:<12} {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if not args.output.strip():
        raise OutputError("output folder name is empty; give a folder, e.g. -o demo")
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise Sam2MattingError(
            f"bad --size {args.size!r}: expected WIDTHxHEIGHT, e.g. 512x288"
        ) from None
    return run_demo(
        Path(args.output), width=w, height=h, num_frames=args.frames, progress=not args.quiet
    )


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import collect_info

    print(collect_info())
    return 0


#: seconds a SIGTERM waits for a frame loop to take it before the process exits anyway
TERM_GRACE_S = 5.0
_INTERRUPTED = "sam2matting: interrupted; no partial output was kept"


def _install_signal_handlers() -> dict[int, Any]:
    """SIGINT/SIGTERM request a cooperative stop at the next frame (see sam2matting.cancel);
    a second signal while the first is still pending, or a SIGTERM that no loop takes within
    TERM_GRACE_S (a blocking read), ends the process at once after deleting its temporaries.
    Returns the previous handlers."""
    from .cancel import arm_watchdog, force_exit, request_cancel, start_watchdog

    def handler(signum: int, frame: Any) -> None:
        terminated = signum == signal.SIGTERM
        if request_cancel("terminated" if terminated else "interrupted"):
            force_exit(143 if terminated else 130, _INTERRUPTED)
        if terminated:
            arm_watchdog(TERM_GRACE_S, 143)

    previous: dict[int, Any] = {}
    # not possible outside the main thread (embedded use): then the defaults stay
    with contextlib.suppress(ValueError):
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, handler)
    if previous:
        start_watchdog(message=_INTERRUPTED)
    return previous


def _restore_signal_handlers(previous: dict[int, Any], exiting: bool) -> None:
    """Put the previous handlers back; when the process is about to exit, ignore further
    signals instead, so a Ctrl-C during interpreter shutdown cannot turn the exit status 130
    into a death by SIGINT."""
    from .cancel import stop_watchdog

    with contextlib.suppress(ValueError):
        for signum, old in previous.items():
            signal.signal(signum, signal.SIG_IGN if exiting else old)
    if previous:
        stop_watchdog()


#: options whose value may start with "-" (a negative coordinate: --box -50,10,200,300)
_NEGATIVE_VALUE_OPTIONS = ("--box", "--point")


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--box -50,…`` → ``--box=-50,…``: argparse takes a value starting with "-" for an option,
    and a coordinate list is never an option."""
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        if (
            item in _NEGATIVE_VALUE_OPTIONS
            and nxt is not None
            and len(nxt) > 1
            and nxt[0] == "-"
            and (nxt[1].isdigit() or nxt[1] == ".")
        ):
            out.append(f"{item}={nxt}")
            i += 2
            continue
        out.append(item)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sam2matting`` command; returns the exit status."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # a second Ctrl-C that landed while the first was reported
        return 130


def _quiet_interrupts_in_finalizers(unraisable: Any) -> None:
    """``sys.unraisablehook``: a second Ctrl-C raises ``KeyboardInterrupt`` wherever Python is,
    and inside a finalizer (``__del__``, e.g. llvmlite's during garbage collection) Python can
    only print it with a traceback and go on; the first request is already stopping the run,
    so such an interrupt is dropped silently. Anything else goes to the default hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def _main(argv: Sequence[str] | None) -> int:
    # torch's OpenMP workers spin while idle; on a busy CPU that slows inference 4-10x
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if argv is None:  # the command itself (not embedded use): the process is ours
        sys.unraisablehook = _quiet_interrupts_in_finalizers
    # before the parser: building it imports the plugin commands, which takes seconds
    previous = _install_signal_handlers()
    terminated = False
    try:
        parser = build_parser()
        args = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None else argv))
        if args.command is None:
            parser.print_help()
            return 2
        _setup_logging(getattr(args, "quiet", False), getattr(args, "verbose", False))
        if args.command == "matte":
            return _cmd_matte(args)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "info":
            return _cmd_info(args)
        module = importlib.import_module(_PLUGIN_COMMANDS[args.command])
        status: int = module.run(args)
        return status
    except Sam2MattingError as exc:
        # one line, whatever a wrapped third-party message carried
        message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        print(f"sam2matting: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = str(exc) == "terminated"
        print(_INTERRUPTED, file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        # output piped into a closed reader (e.g. `| head`): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        from .cancel import clear_cancel

        clear_cancel()
        _restore_signal_handlers(previous, exiting=argv is None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
