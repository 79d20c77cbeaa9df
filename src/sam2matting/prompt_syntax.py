"""The command line's prompt syntax, shared by ``sam2matting matte`` and batch job files.

``--point X,Y[,LABEL]``, ``--box X0,Y0,X1,Y1``, ``--mask FILE``, ``--text PHRASE``; ``--frame N``
and ``--object ID`` apply to the prompts after them (or, when none follow, to the ones before
them that have none). :func:`prompt_items_from_tokens` reads that syntax from a token list (a
job file's ``prompts: "--frame 10 --box 1,2,30,40"``); :func:`prompts_from_args` turns the
recorded items into typed prompts, for both the CLI's argparse action and job files.
Coordinates must be finite numbers; negative ones are fine (a token list takes ``--box
-50,10,200,300`` as it is; the command line first joins it to ``--box=-50,…`` for argparse,
see :func:`sam2matting.cli._join_negative_values`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .errors import PromptError

__all__ = ["PROMPT_OPTIONS", "prompt_items_from_tokens", "prompts_from_args"]

#: the prompt options and what their value is
PROMPT_OPTIONS = {
    "point": "X,Y[,LABEL]",
    "box": "X0,Y0,X1,Y1",
    "mask": "FILE",
    "text": "PHRASE",
    "frame": "N",
    "object": "ID",
}


def prompt_items_from_tokens(tokens: Sequence[str]) -> list[tuple[Any, ...]]:
    """Record ``--point/--box/--mask/--text/--frame/--object`` tokens as the CLI does.

    Returns the items :func:`prompts_from_args` takes. Raises :class:`PromptError` on an unknown
    option, a missing value or a non-integer frame / object id.
    """
    items: list[tuple[Any, ...]] = []
    state: dict[str, int | None] = {"frame": None, "object": None}
    it = iter(tokens)
    for token in it:
        name, eq, inline = token.partition("=")
        option = name[2:] if name.startswith("--") else None
        if option not in PROMPT_OPTIONS:
            known = ", ".join(f"--{k}" for k in PROMPT_OPTIONS)
            raise PromptError(f"unknown prompt option {token!r}: use {known}")
        value = inline if eq else next(it, None)
        if value is None or (not eq and value.startswith("--")):
            raise PromptError(f"--{option} needs a value ({PROMPT_OPTIONS[option]})")
        if option in ("frame", "object"):
            try:
                number = int(value)
            except ValueError:
                raise PromptError(f"--{option} needs an integer, got {value!r}") from None
            state[option] = number
            items.append(("set", option, number))
        else:
            items.append((option, value, state["frame"], state["object"]))
    return items


def _floats(text: str, count: tuple[int, ...], what: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise PromptError(f"bad {what} {text!r}: expected comma-separated numbers") from None
    if len(values) not in count:
        raise PromptError(f"bad {what} {text!r}: expected {' or '.join(map(str, count))} numbers")
    if not all(math.isfinite(v) for v in values):
        raise PromptError(f"bad {what} {text!r}: coordinates must be finite numbers")
    return values


def prompts_from_args(items: list[tuple[Any, ...]]) -> list[Any]:
    """Turn the recorded ``--point/--box/--mask/--text`` items into typed prompts.

    ``--frame N`` and ``--object ID`` apply to the prompts after them; a ``--frame``/``--object``
    that no prompt follows applies to the prompts before it that have none (so
    ``--box … --frame 10`` works). Points on the same frame and object form one prompt.
    """
    from .types import Box, MaskPrompt, Points, TextPrompt

    # trailing settings: apply to earlier prompts that had none
    trailing: dict[str, int] = {}
    for item in reversed(items):
        if item[0] != "set":
            break
        trailing.setdefault(item[1], item[2])
    prompts: list[Any] = []
    points: dict[tuple[int, int], tuple[list[tuple[float, float]], list[int]]] = {}
    for item in items:
        if item[0] == "set":
            continue
        kind, value, frame, obj = item
        frame = frame if frame is not None else trailing.get("frame", 0)
        obj = obj if obj is not None else trailing.get("object", 1)
        if kind == "point":
            v = value.split(",")
            label = 1
            if len(v) == 3:
                lab = v[2].strip().lower()
                if lab in ("1", "pos", "+", "positive"):
                    label = 1
                elif lab in ("0", "neg", "-", "negative"):
                    label = 0
                else:
                    raise PromptError(f"bad point label {v[2]!r} in {value!r}: use 1/pos or 0/neg")
                v = v[:2]
            x, y = _floats(",".join(v), (2,), "point")
            coords, labels = points.setdefault((frame, obj), ([], []))
            coords.append((x, y))
            labels.append(label)
        elif kind == "box":
            x0, y0, x1, y1 = _floats(value, (4,), "box")
            prompts.append(Box(x0, y0, x1, y1, frame=frame, object_id=obj))
        elif kind == "mask":
            prompts.append(MaskPrompt.from_file(value, frame=frame, object_id=obj))
        elif kind == "text":
            prompts.append(TextPrompt(value, frame=frame, object_id=obj))
    for (frame, obj), (coords, labels) in points.items():
        prompts.append(Points(tuple(coords), tuple(labels), frame=frame, object_id=obj))
    return prompts
