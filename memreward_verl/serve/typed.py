"""Typed, range-checked dataclass fields: where a user's value meets its annotation, once.

A YAML or hydra value arrives as whatever the parser made of it: ``test`` for a list, ``'0.6'`` for a
number, ``4.5`` for a count. :func:`check_options` checks every field of a dataclass against its type
annotation and the range declared with :func:`option`, and raises :class:`OptionError` naming the key,
the value and what is allowed. Nothing is coerced from text: ``'false'`` is not a boolean.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["OptionError", "option", "check_options", "option_key"]


class OptionError(ValueError):
    """A bad option value; the message starts with the option's key."""


def option(
    default: Any = dataclasses.MISSING,
    *,
    key: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[str] | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with the user-facing ``key`` (default: the field name) and its allowed range."""
    meta = {"key": key, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": tuple(choices) if choices else None}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def option_key(f: dataclasses.Field) -> str:
    """The name a user writes for field ``f``."""
    return f.metadata.get("key") or f.name


def check_options(obj: Any) -> None:
    """Check (and normalise: list -> tuple, numpy scalar -> Python) every field of dataclass ``obj``.

    Raises:
        OptionError: a value of the wrong type or out of range (the message names key, value, allowed).
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        key = option_key(f)
        value = _typed(key, getattr(obj, f.name), hints[f.name])
        _in_range(key, value, f.metadata)
        object.__setattr__(obj, f.name, value)  # frozen dataclasses too


def _fail(key: str, value: Any, allowed: str) -> OptionError:
    return OptionError(f"{key} must be {allowed} (got {value!r} of type {type(value).__name__})")


def _typed(key: str, value: Any, hint: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
        if len(rest) != 1:
            return value  # no union of two real types is declared; nothing to check
        allowed_none = " or null"
    else:
        allowed_none = ""
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise _fail(key, value, f"a {hint.__name__}{allowed_none}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(key, value, f"true or false{allowed_none} (not text)")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(key, value, f"an integer{allowed_none}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _fail(key, value, f"a finite number{allowed_none} (not text)")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(key, value, f"a string{allowed_none}")
        return value
    if typing.get_origin(hint) is tuple and args[1:] == (Ellipsis,) and args[0] is str:
        if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
            raise _fail(key, value, f"a list of strings such as [a, b]{allowed_none}")
        return tuple(value)
    return value


_BOUNDS = (("ge", ">=", operator.ge), ("gt", ">", operator.gt), ("le", "<=", operator.le), ("lt", "<", operator.lt))


def _in_range(key: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise OptionError(f"{key} must be one of {list(meta['choices'])} (got {value!r})")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    wanted = [f"{sign} {meta[name]:g}" for name, sign, _ in _BOUNDS if meta.get(name) is not None]
    if any(meta.get(name) is not None and not holds(value, meta[name]) for name, _, holds in _BOUNDS):
        raise OptionError(f"{key} must be {' and '.join(wanted)} (got {value!r})")
