"""Batch jobs: read a YAML / JSON / CSV job file (or a glob) and validate every job up front.

A job names an input, its prompts and, optionally, its options and output folder::

    jobs:                                   # or a bare list of jobs
      - input: shots/a.mov                  # paths are relative to the job file
        mask: masks/a.png                   # shortcut keys: point, box, mask, text, frame, object
      - input: shots/b.mov
        prompts: --frame 10 --box 40,20,300,260 --object 2 --point 120,80
        head: guided
        formats: [prores, alpha-png]
        output: out/b-v2

A CSV file has a header row with the same keys (``formats`` separated by spaces, commas or
semicolons; ``prompts`` in the command line's syntax). Options a job does not set come from the
command line (or :func:`~sam2matting.batch.matte_batch`'s keywords), then the library defaults.

Everything that can be checked without opening the clips is checked here, before anything runs,
and every problem is reported as one line: syntax errors, unknown keys, missing inputs or mask
files, malformed prompts, unknown formats / trackers / heads, two jobs writing the same outputs.
Prompts that do not fit a clip (a box outside the frame, a frame past the end) fail that job
alone when it runs.
"""

from __future__ import annotations

import csv
import difflib
import glob as globlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PromptError, Sam2MattingError
from .prompt_syntax import PROMPT_OPTIONS, prompt_items_from_tokens, prompts_from_args

__all__ = [
    "JOB_KEYS",
    "OPTION_KEYS",
    "BatchJob",
    "JobFileError",
    "build_jobs",
    "jobs_from_glob",
    "load_jobs",
]

#: options a job may set; unset ones come from the caller's defaults, then the library's
OPTION_KEYS: tuple[str, ...] = (
    "tracker",
    "head",
    "formats",
    "device",
    "dtype",
    "combined",
    "background",
    "alpha_bits",
    "lossless",
    "backward",
    "masks_dir",
    "exr_colour",
    "exr_compression",
    "contact_sheet",
    "frames",
)
#: every key a job may have
JOB_KEYS: tuple[str, ...] = (
    "input",
    "output",
    "name",
    "stem",
    "prompts",
    *PROMPT_OPTIONS,
    *OPTION_KEYS,
)
_BOOL_KEYS = ("combined", "lossless", "backward", "contact_sheet")
_PATH_OPTIONS = ("masks_dir",)


class JobFileError(Sam2MattingError):
    """One or more jobs are invalid; :attr:`errors` holds one line per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class BatchJob:
    """One clip to matte: ``input`` into the folder ``output`` as ``<stem>.obj<id>.<format>…``.

    ``prompts``: tokens in the command line's syntax (``("--box", "1,2,30,40")``) with mask
    paths made absolute. ``options``: keyword arguments of :func:`~sam2matting.matte_video`
    that differ from the library defaults (``masks_dir`` goes into ``tracker_options``).
    ``index``: 1-based position in the batch.
    """

    index: int
    name: str
    input: Path
    output: Path
    stem: str
    prompts: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def matte_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`~sam2matting.matte_video` (besides source, prompts, output)."""
        kwargs = {k: v for k, v in self.options.items() if k != "masks_dir"}
        if "formats" in kwargs:
            kwargs["formats"] = list(kwargs["formats"])
        if self.options.get("masks_dir") is not None:
            kwargs["tracker_options"] = {"masks_dir": str(self.options["masks_dir"])}
        return kwargs

    @property
    def manifest_path(self) -> Path:
        """The completion marker written after every output of the job is in place."""
        return self.output / f"{self.stem}.batch.json"

    def fingerprint(self) -> str:
        """A digest of what the outputs depend on: the job's settings and its input files' state.

        A changed prompt, option, input or mask file changes it, so a re-run redoes that job.
        """
        files = [self.input]
        files += [Path(v) for k, v in _pairs(self.prompts) if k == "--mask"]
        if self.options.get("masks_dir") is not None:
            files.append(Path(self.options["masks_dir"]))
        state = {
            "input": str(self.input),
            "stem": self.stem,
            "prompts": list(self.prompts),
            "options": {k: _jsonable(v) for k, v in sorted(self.options.items())},
            "files": [_file_state(p) for p in files],
        }
        text = json.dumps(state, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The job as plain data (for reports)."""
        return {
            "index": self.index,
            "name": self.name,
            "input": str(self.input),
            "output": str(self.output),
            "stem": self.stem,
            "prompts": " ".join(_quote(t) for t in self.prompts),
            "options": {k: _jsonable(v) for k, v in self.options.items()},
        }


def _pairs(tokens: Sequence[str]) -> Iterable[tuple[str, str]]:
    return zip(tokens[::2], tokens[1::2])


def _quote(token: str) -> str:
    import shlex

    return shlex.quote(token)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _file_state(path: Path) -> list[Any]:
    """(name, size, mtime) of a file, or of every entry of a folder (not recursive)."""
    try:
        if path.is_dir():
            entries = sorted(os.scandir(path), key=lambda e: e.name)
            return [
                str(path),
                [[e.name, e.stat().st_size, e.stat().st_mtime_ns] for e in entries if e.is_file()],
            ]
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(path), None]


# --------------------------------------------------------------------------------------------
# reading job files
# --------------------------------------------------------------------------------------------
def _read_entries(path: Path) -> list[Any]:
    """The job file's entries (mappings, unchecked) or a one-line JobFileError."""
    where = path.name
    if not path.is_file():
        raise JobFileError([f"job file not found: {path}"])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError([f"{where}: cannot read the job file: {exc}"]) from None
    suffix = path.suffix.lower()
    data: Any
    if suffix in (".yaml", ".yml"):
        from .errors import require

        yaml: Any = require("yaml", "batch")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise JobFileError([f"{where}: YAML syntax error{at}: {problem}"]) from None
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobFileError(
                [f"{where}: JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
            ) from None
    elif suffix == ".csv":
        return _read_csv(text, where)
    else:
        raise JobFileError(
            [
                f"{where}: unknown job file type {suffix or '(none)'!r}: use .yaml, .yml, .json or .csv"
            ]
        )
    if isinstance(data, Mapping):
        extra = [k for k in data if k != "jobs"]
        if extra:
            raise JobFileError(
                [f"{where}: unknown top-level key {extra[0]!r}: the file holds 'jobs: [...]'"]
            )
        data = data.get("jobs")
    if data is None:
        raise JobFileError([f"{where}: the job file has no jobs"])
    if not isinstance(data, list):
        raise JobFileError(
            [f"{where}: expected a list of jobs (or 'jobs: [...]'), got {type(data).__name__}"]
        )
    return data


def _read_csv(text: str, where: str) -> list[Any]:
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise JobFileError([f"{where}: CSV syntax error: {exc}"]) from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise JobFileError([f"{where}: the job file has no jobs"])
    header = [h.strip() for h in rows[0]]
    entries: list[Any] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise JobFileError(
                [f"{where}: CSV row {number} has {len(row)} cells but the header has {len(header)}"]
            )
        entries.append({k: v.strip() for k, v in zip(header, row) if k and v.strip() != ""})
    return entries


# --------------------------------------------------------------------------------------------
# validating jobs
# --------------------------------------------------------------------------------------------
def _suggest(key: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{key} must be true or false, got {value!r}")


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in re.split(r"[\s,;]+", str(value)) if v]


def _resolve(base: Path, value: Any) -> Path:
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else base / p


def _check_options(options: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Typed, checked options (None values dropped). Raises ValueError with a one-line reason."""
    from .device import _DTYPE_NAMES
    from .io.readers import parse_frame_range
    from .io.writers import EXR_COLOURS, EXR_COMPRESSIONS, FORMATS
    from .matting.registry import HEADS
    from .trackers.registry import TRACKERS

    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in _BOOL_KEYS:
            out[key] = _as_bool(value, key)
        elif key == "alpha_bits":
            try:
                bits = int(value)
            except (TypeError, ValueError):
                bits = -1
            if bits not in (8, 16):
                raise ValueError(f"alpha_bits must be 8 or 16, got {value!r}")
            out[key] = bits
        elif key == "formats":
            formats = list(dict.fromkeys(_as_list(value)))
            if not formats:
                raise ValueError("formats is empty")
            for fmt in formats:
                if fmt not in FORMATS:
                    raise ValueError(
                        f"unknown output format {fmt!r}; choose from: {', '.join(FORMATS)}"
                    )
            out[key] = tuple(formats)
        elif key == "tracker":
            name = str(value)
            if name not in TRACKERS:
                path = _resolve(base, name)
                if not path.exists():
                    raise ValueError(
                        f"unknown tracker {name!r}; choose one of: {', '.join(TRACKERS)} or a local model path"
                    )
                name = str(path)
            out[key] = name
        elif key == "head":
            if str(value) not in HEADS:
                raise ValueError(
                    f"unknown matting head {value!r}; choose one of: {', '.join(HEADS)}"
                )
            out[key] = str(value)
        elif key in _PATH_OPTIONS:
            path = _resolve(base, value)
            if not path.exists():
                raise ValueError(f"{key} not found: {path}")
            out[key] = path
        elif key == "background":
            # a colour, or an image / video file (relative to the job file)
            path = _resolve(base, value)
            out[key] = str(path) if path.exists() else str(value)
        elif key == "device":
            out[key] = str(value)
        elif key == "dtype":
            # the device's support (fp16 on a CPU) is checked when the job runs, on its worker
            if str(value).lower() not in _DTYPE_NAMES:
                raise ValueError(f"unknown dtype {value!r}; use auto, fp32, bf16 or fp16")
            out[key] = str(value).lower()
        elif key == "exr_colour":
            if str(value) not in EXR_COLOURS:
                raise ValueError(
                    f"unknown EXR colour {value!r}; choose from: {', '.join(EXR_COLOURS)}"
                )
            out[key] = str(value)
        elif key == "exr_compression":
            if str(value) not in EXR_COMPRESSIONS:
                raise ValueError(
                    f"unknown EXR compression {value!r}; choose from: {', '.join(EXR_COMPRESSIONS)}"
                )
            out[key] = str(value)
        elif key == "frames":
            # "START:END" (END exclusive, either side may be empty) or a [start, end] pair
            if isinstance(value, (list, tuple)):
                text = ":".join("" if v is None else str(v) for v in value)
            elif isinstance(value, int):  # YAML 1.1 reads an unquoted 10:30 as 630
                raise ValueError(f"frames must be 'START:END' (quoted in YAML), got {value!r}")
            else:
                text = str(value)
            try:
                out[key] = parse_frame_range(text)
            except Sam2MattingError as exc:
                raise ValueError(str(exc)) from None
        else:  # pragma: no cover - OPTION_KEYS and this function change together
            raise ValueError(f"unknown option {key!r}")
    return out


def _prompt_tokens(entry: Mapping[str, Any], base: Path) -> tuple[str, ...]:
    """The job's prompts as checked tokens (mask paths absolute). Raises PromptError/ValueError."""
    shortcut = [k for k in PROMPT_OPTIONS if k in entry]
    if "prompts" in entry and shortcut:
        raise ValueError(
            f"give the prompts either as 'prompts' or as {', '.join(map(repr, shortcut))}, not both"
        )
    tokens: list[str] = []
    if "prompts" in entry:
        value = entry["prompts"]
        if isinstance(value, (list, tuple)):
            tokens = [str(v) for v in value]
        else:
            import shlex

            try:
                tokens = shlex.split(str(value))
            except ValueError as exc:
                raise PromptError(f"prompts {value!r}: {exc}") from None
    else:
        for key in ("frame", "object"):
            if key in entry:
                tokens += [f"--{key}", str(entry[key])]
        for key in ("point", "box", "mask", "text"):
            values = entry.get(key)
            if values is None:
                continue
            for v in values if isinstance(values, (list, tuple)) else [values]:
                tokens += [f"--{key}", str(v)]
    items = prompt_items_from_tokens(tokens)
    normalised: list[str] = []
    for item in items:
        if item[0] == "set":
            normalised += [f"--{item[1]}", str(item[2])]
        else:
            kind, value = item[0], item[1]
            if kind == "mask":
                value = str(_resolve(base, value))
            normalised += [f"--{kind}", str(value)]
    prompts = prompts_from_args(prompt_items_from_tokens(normalised))  # reads mask files
    if not prompts:
        raise PromptError("no prompt: give 'prompts', 'point', 'box', 'mask' or 'text'")
    return tuple(normalised)


def _stem_of(path: Path) -> str:
    return path.stem if path.suffix else path.name


def build_jobs(
    entries: Sequence[Any],
    *,
    base_dir: str | Path = ".",
    defaults: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
    where: str = "jobs",
) -> list[BatchJob]:
    """Check every entry (a mapping with :data:`JOB_KEYS`) and return the jobs.

    Relative paths are resolved against ``base_dir``. ``defaults``: options for jobs that do
    not set them. ``output``: the base folder of jobs without an ``output`` (each gets
    ``output/<name>``). Raises :class:`JobFileError` listing every problem, one line each.
    """
    base = Path(base_dir)
    errors: list[str] = []
    unknown_defaults = [k for k in (defaults or {}) if k not in OPTION_KEYS]
    if unknown_defaults:
        key = unknown_defaults[0]
        raise JobFileError([f"unknown batch option {key!r}{_suggest(key, OPTION_KEYS)}"])
    try:
        default_options = _check_options(defaults or {}, Path.cwd())
    except ValueError as exc:
        raise JobFileError([str(exc)]) from None
    jobs: list[BatchJob] = []
    for index, entry in enumerate(entries, start=1):
        label = f"{where}: job {index}"
        if not isinstance(entry, Mapping):
            errors.append(f"{label}: expected a mapping of keys, got {type(entry).__name__}")
            continue
        has_input = entry.get("input") not in (None, "")
        source = _resolve(base, entry["input"]) if has_input else Path()
        name = str(entry.get("name") or (_stem_of(source) if has_input else ""))
        if name:
            label = f"{where}: job {index} ({name})"
        unknown = [str(k) for k in entry if k not in JOB_KEYS]
        if unknown:
            errors += [f"{label}: unknown key {k!r}{_suggest(k, JOB_KEYS)}" for k in unknown]
            continue
        if not has_input:
            errors.append(f"{label}: no 'input'")
            continue
        if not source.exists():
            errors.append(f"{label}: input not found: {source}")
            continue
        try:
            prompts = _prompt_tokens(entry, base)
            options = {
                **default_options,
                **_check_options({k: entry[k] for k in OPTION_KEYS if k in entry}, base),
            }
        except (PromptError, ValueError) as exc:
            errors.append(f"{label}: {exc}")
            continue
        if entry.get("output") not in (None, ""):
            out_dir = _resolve(base, entry["output"])
        elif output is not None:
            out_dir = Path(output) / name
        else:
            errors.append(f"{label}: no 'output' for this job and no output folder given (-o)")
            continue
        stem = str(entry.get("stem") or _stem_of(source))
        jobs.append(
            BatchJob(
                index=index,
                name=name,
                input=source.absolute(),
                output=out_dir.absolute(),
                stem=stem,
                prompts=prompts,
                options=options,
            )
        )
    seen: dict[tuple[str, str], BatchJob] = {}
    for job in jobs:
        where_to = (os.path.normcase(os.path.abspath(job.output)), job.stem)
        if where_to in seen:
            first = seen[where_to]
            errors.append(
                f"{where}: jobs {first.index} ({first.name}) and {job.index} ({job.name}) write the "
                f"same outputs {job.output / job.stem}.*: give one a different 'output' or 'stem'"
            )
        else:
            seen[where_to] = job
    if not entries:
        errors.append(f"{where}: no jobs")
    if errors:
        raise JobFileError(errors)
    return jobs


def load_jobs(
    path: str | Path,
    *,
    defaults: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
) -> list[BatchJob]:
    """Read and check a job file (``.yaml``/``.yml``, ``.json`` or ``.csv``); see the module doc."""
    p = Path(path)
    entries = _read_entries(p)
    return build_jobs(entries, base_dir=p.parent, defaults=defaults, output=output, where=p.name)


def jobs_from_glob(
    pattern: str,
    *,
    mask_dir: str | Path | None = None,
    text: str | None = None,
    prompts: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
) -> list[BatchJob]:
    """One job per file matching ``pattern`` (sorted), each written to ``output/<stem>``.

    ``mask_dir``: each clip's first-frame mask is ``mask_dir/<stem>.png`` (or another image
    suffix). ``text``: a phrase for trackers that take text. ``prompts``: CLI-syntax prompts
    shared by every clip.
    """
    from .io.readers import IMAGE_EXTENSIONS

    paths = sorted(Path(p) for p in globlib.glob(os.path.expanduser(pattern)))
    if not paths:
        raise JobFileError([f"--glob {pattern!r} matches no file"])
    entries: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in paths:
        entry: dict[str, Any] = {"input": str(path)}
        if mask_dir is not None:
            stem = _stem_of(path)
            masks = [
                Path(mask_dir) / f"{stem}{ext}"
                for ext in sorted(IMAGE_EXTENSIONS)
                if (Path(mask_dir) / f"{stem}{ext}").is_file()
            ]
            if not masks:
                errors.append(f"{path.name}: no mask {stem}.png (or other image) in {mask_dir}")
                continue
            entry["mask"] = str(masks[0])
        if text is not None:
            entry["text"] = text
        if prompts is not None:
            if mask_dir is not None or text is not None:
                raise JobFileError(["give --prompts, or --mask-dir / --text, not both"])
            entry["prompts"] = prompts
        entries.append(entry)
    if errors:
        raise JobFileError(errors)
    return build_jobs(
        entries, base_dir=Path.cwd(), defaults=defaults, output=output, where="--glob"
    )
