"""Argument types and output-path checks shared by the ``memreward`` subcommands.

Everything a command can check from its arguments is checked before any compute (embedding, fitting,
generation), so a typo never costs an hour of work: argparse types reject bad values with exit code 2,
and :func:`writable_file` / :func:`writable_dir` try the output locations first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

__all__ = ["ratio", "ratio_list", "existing_file", "writable_file", "writable_dir"]


def ratio(text: str) -> float:
    """A label ratio in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1] (got {text!r})") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (got {text!r})")
    return value


def ratio_list(text: str) -> list[float]:
    """Comma-separated, distinct label ratios in (0, 1]; an empty list is an error, not a default."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"must list at least one ratio in (0, 1], such as 0.1,0.2 (got {text!r})")
    if not all(parts):
        raise argparse.ArgumentTypeError(f"has an empty item (got {text!r})")
    values = []
    for part in parts:
        try:
            values.append(ratio(part))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"item {part!r} {exc} in {text!r}") from None
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"lists a ratio twice (got {text!r})")
    return values


def existing_file(text: str) -> str:
    """An input path that exists and is a file (not a directory)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    return text


def writable_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Create ``path`` (and parents) and prove a file can be written there, before any compute.

    Raises:
        ValueError: naming the path and why it cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot be written ({exc.strerror or exc})") from None
    return path


def writable_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """``path`` is not a directory and its directory can be written (see :func:`writable_dir`).

    Raises:
        ValueError: naming the path and why it cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path}: is a directory; give a file path")
    writable_dir(path.parent, f"directory of {what} {path}")
    return path
