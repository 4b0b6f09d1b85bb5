"""Argument types and output-path checks shared by the ``memreward`` subcommands.

Everything a command can check from its arguments is checked before any compute (embedding, fitting,
generation), so a typo never costs an hour of work: argparse types reject bad values with exit code 2,
and :func:`writable_file` / :func:`creatable_dir` try the output locations first, without creating
anything (a command that stops leaves no empty folders behind).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "ratio",
    "ratio_list",
    "fraction",
    "fraction_list",
    "int_at_least",
    "positive_int",
    "non_negative_int",
    "int_list",
    "positive_float",
    "non_negative_float",
    "existing_file",
    "existing_path",
    "writable_file",
    "creatable_dir",
]


def ratio(text: str) -> float:
    """A label ratio in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1] (got {text!r})") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (got {text!r})")
    return value


def _distinct_list(text: str, item: Callable[[str], float], what: str) -> list[float]:
    """Comma-separated, distinct ``item`` values; an empty list or an empty item is an error, not a default."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"must list at least one {what}, such as 0.1,0.2 (got {text!r})")
    if not all(parts):
        raise argparse.ArgumentTypeError(f"has an empty item (got {text!r})")
    values = []
    for part in parts:
        try:
            values.append(item(part))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"item {part!r} {exc} in {text!r}") from None
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"lists a {what} twice (got {text!r})")
    return values


def ratio_list(text: str) -> list[float]:
    """Comma-separated, distinct label ratios in (0, 1]."""
    return _distinct_list(text, ratio, "ratio")


def fraction(text: str) -> float:
    """A share in [0, 1] (0 allowed, unlike :func:`ratio`): a label budget."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1] (got {text!r})") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1] (got {text!r})")
    return value


def fraction_list(text: str) -> tuple[float, ...]:
    """Comma-separated, distinct shares in [0, 1]."""
    return tuple(_distinct_list(text, fraction, "number"))


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum} (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} (got {text!r})")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


positive_int = int_at_least(1)
positive_int.__doc__ = "An integer >= 1 (a count)."
non_negative_int = int_at_least(0)
non_negative_int.__doc__ = "An integer >= 0 (0 usually meaning never / none)."


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers (seeds), at least one, no empty item."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"must list integers without empty items, such as 0,1,2 (got {text!r})")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers (got {text!r})") from None


def _float(text: str, positive: bool) -> float:
    bound = "> 0" if positive else ">= 0"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number {bound} (got {text!r})") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(f"must be a finite number {bound} (got {text!r})")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a time limit, a learning rate, a CPU count)."""
    return _float(text, positive=True)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (a temperature)."""
    return _float(text, positive=False)


def existing_path(text: str) -> str:
    """An input that exists, a file or a directory (for inputs that may legitimately be either)."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or directory")
    return text


def existing_file(text: str) -> str:
    """An input path that exists and is a file (not a directory)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    return text


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_create_in(path: Path, what: str) -> None:
    """``path`` can be made a directory: its nearest existing ancestor is a directory we can write in.

    Nothing is created (a probe file is written and removed in the existing ancestor).
    """
    base = _nearest_existing(path)
    if not base.is_dir():
        raise ValueError(f"{what}: {base} exists and is not a directory")
    try:
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        raise ValueError(f"{what}: {base} cannot be written ({exc.strerror or exc})") from None


def writable_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """``path`` is not a directory and its directory exists or can be created, and can be written.

    Nothing is created: the writer makes the missing directories when it writes.

    Raises:
        ValueError: naming the path and why it cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path}: is a directory; give a file path")
    _can_create_in(path.parent, f"{what} {path}")
    return path


def creatable_dir(path: str | os.PathLike, what: str = "output directory", replace: bool = False) -> Path:
    """``path`` is a directory we can write in, or can be created as one, without creating anything.

    For outputs written late: a path that is an existing file, or lies under one, fails here instead of
    after the compute. With ``replace`` (a directory built in a temporary sibling and renamed over
    ``path``, see :func:`memreward_verl.files.atomic_replace_dir`) its parent must be writable too.

    Raises:
        ValueError: naming the path and why it cannot be a directory.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path}: exists and is not a directory")
    _can_create_in(path, f"{what} {path}")
    if replace:
        _can_create_in(path.parent, f"{what} {path}")
    return path
