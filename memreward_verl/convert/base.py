"""Shared pieces of the converters: the registry, tolerant file reading and label coercion.

Every source stores files gzip-compressed or plain, and stores correctness as bools, 0/1 ints,
``"1.0"`` strings or blank CSV cells; centralising that keeps each converter short.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from memreward_verl import files
from memreward_verl.registry import Registry
from memreward_verl.rollouts import Query

__all__ = [
    "CONVERTERS",
    "Converter",
    "coerce_label",
    "existing",
    "iter_jsonl",
    "open_text",
    "read_json",
    "require",
]

Converter = Callable[..., list[Query]]

#: Format name -> converter ``(path, **opts) -> list[Query]``; modules register on import.
CONVERTERS: Registry[Converter] = Registry("converter")

_TRUE = {"true", "1", "1.0"}
_FALSE = {"false", "0", "0.0"}


def existing(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path`, failing early with the missing path named.

    Raises:
        FileNotFoundError: if nothing exists at ``path``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"input not found: {p}")
    return p


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open a UTF-8 text file for reading, transparently gunzipping ``*.gz`` (:func:`memreward_verl.files.open_text`).

    Raises:
        FileNotFoundError: if nothing exists at ``path``.
        ValueError: a ``*.gz`` file that is not gzip (file named).
    """
    return files.open_text(existing(path))


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` for each non-blank line of a JSON Lines file (the package's one reader,
    :func:`memreward_verl.files.iter_json_lines`).

    ``where`` is ``"<file>:<line>"`` so callers can name the record at fault in their errors.

    Raises:
        FileNotFoundError: if nothing exists at ``path``.
        ValueError: on invalid JSON or a line that is not a JSON object (file and line named), or a file
            that cannot be read as (gzip-compressed) UTF-8 text at all (file named).
    """
    existing(path)
    try:
        for lineno, obj in files.iter_json_lines(path):
            where = f"{path}:{lineno}"
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            yield where, obj
    except files.JsonLinesError as exc:
        if exc.line is not None:
            raise ValueError(f"{path}:{exc.line}: {exc.problem}") from None
        raise


def read_json(path: str | os.PathLike) -> Any:
    """Load a whole JSON document (plain or gzipped).

    Raises:
        ValueError: on invalid JSON, naming the file and position.
    """
    with open_text(path) as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def require(record: dict[str, Any], key: str, where: str) -> Any:
    """Return ``record[key]``, or fail naming the record and the missing key.

    Raises:
        ValueError: if ``key`` is absent.
    """
    if key not in record:
        raise ValueError(f"{where}: missing key {key!r} (has {sorted(record)})")
    return record[key]


def coerce_label(value: Any, where: str) -> int | None:
    """Map a source's correctness value to 0, 1 or None (unknown).

    Blank strings and None mean "not graded" and become None rather than being dropped, so the
    rollout stays in its group.

    Args:
        value: bool, 0/1 number, or a string such as ``"True"``, ``"1.0"`` or ``""``.
        where: location used in the error message.

    Returns:
        1, 0, or None.

    Raises:
        ValueError: for anything else (e.g. ``2`` or ``"maybe"``), naming ``where``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
    raise ValueError(f"{where}: cannot read correctness value {value!r} as 0/1/blank")
