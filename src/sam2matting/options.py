"""Checking options against a config dataclass before anything is built — a head's
(``head_options``, ``--head-option KEY=VALUE``) or the built-in tracker's (``tracker_options``,
``--tracker-option``): an unknown key or a value of the wrong kind is a one-line
:class:`~sam2matting.errors.InputError` that names the component and what it accepts."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InputError

__all__ = ["check_head_options", "check_options"]


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether a field typed ``hint`` takes the JSON ``value``: True / False, or None when the
    type is not one this check knows (left to the head)."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        answers = [_accepts(h, value) for h in typing.get_args(hint)]
        return True if any(answers) else (None if None in answers else False)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return None


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def check_options(
    what: str, config_cls: Any, options: Mapping[str, Any], exclude: Iterable[str] = ()
) -> None:
    """Raise :class:`InputError` if ``options`` has a key that ``config_cls`` (a dataclass)
    lacks (or that is in ``exclude``), or a value whose kind the field cannot take. ``what``
    names the component in the message (e.g. ``"head 'guided'"``)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.name not in set(exclude)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise InputError(
            f"unknown option(s) for {what}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(config_cls)
    for key, value in options.items():
        hint = hints.get(key)
        if hint is not None and _accepts(hint, value) is False:
            raise InputError(f"{what} option {key}={value!r}: expected {_describe(hint)}")


def check_head_options(
    head: str, config_cls: Any, options: Mapping[str, Any], exclude: Iterable[str] = ()
) -> None:
    """:func:`check_options` for the matting head registered as ``head``."""
    check_options(f"head {head!r}", config_cls, options, exclude)
