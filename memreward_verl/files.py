"""The package's file I/O: one atomic writer, and readers whose errors name the file and what is wrong.

Writers put the new content in a temporary sibling and rename it over the target, so a reader (a
restarted worker, a second run sharing a cache) sees the old file or the new one, never half of one.
Readers turn every way a file can be broken (missing, empty, truncated, not JSON, a missing key,
an array missing from an archive) into :class:`FileFormatError` with the path and the problem, instead
of a bare ``BadZipFile``, ``EOFError`` or ``KeyError``. :func:`iter_json_lines` is the package's one
JSON Lines reader (plain or gzip); the rollout reader and the converters raise their own error types
from its :class:`JsonLinesError`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FileFormatError",
    "JsonLinesError",
    "atomic_write",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_replace_dir",
    "read_json",
    "read_npz",
    "read_checkpoint",
    "open_text",
    "iter_json_lines",
]


class FileFormatError(ValueError):
    """A file that is missing, empty, truncated or not what it should be (the message names the file)."""


class JsonLinesError(FileFormatError):
    """A JSON Lines file that cannot be read, or one of its lines that is not JSON.

    Attributes:
        path: the file.
        problem: what is wrong, without the location (callers re-word the location in their own format).
        line: the 1-based line at fault for a line that is not JSON; None when the file as a whole cannot
            be read (a directory, a ``.gz`` that is not gzip, a truncated archive, bytes that are not UTF-8).
    """

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        super().__init__(f"{path} line {line}: {problem}" if line is not None else f"{path}: {problem}")


# -- writing ---------------------------------------------------------------------------------------
def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` (same suffix: ``.gz`` stays gzip), then rename.

    A failed ``write`` leaves ``path`` as it was and no temporary file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON atomically (keys in their given order; floats such as numpy's as floats)."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, default=float) + ("\n" if indent else "")
    return atomic_write_text(path, text)


def atomic_replace_dir(path: str | os.PathLike, fill: Callable[[Path], Any]) -> Path:
    """Build a directory with ``fill(tmp_dir)``, then swap it in for ``path`` (the old copy is removed).

    A crash while filling leaves the old directory intact; between the two renames the old copy sits at
    ``.<name>.old`` beside it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        fill(tmp)
        if path.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


# -- reading ---------------------------------------------------------------------------------------
def _brief(exc: BaseException) -> str:
    """``Type: first line`` of a library's error (torch's run to a dozen lines of advice)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first[:200]}"


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if not path.is_file():
        raise FileFormatError(f"{path}: is a directory, not a file")
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path}: the file is empty (0 bytes)")
    return path


def read_json(path: str | os.PathLike, expect: type = dict, keys: Sequence[str] = ()) -> Any:
    """Parse a JSON file whose top level is an ``expect`` (dict or list) holding ``keys`` (dict only).

    Raises:
        FileFormatError: missing, empty, not UTF-8 JSON, another top-level type, or a missing key.
    """
    path = _existing(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, expect):
        want = "object" if expect is dict else "array" if expect is list else expect.__name__
        raise FileFormatError(f"{path}: the top level must be a JSON {want} (got {type(data).__name__})")
    missing = [k for k in keys if k not in data]
    if missing:
        raise FileFormatError(f"{path}: missing key(s) {missing} (has {sorted(data)})")
    return data


def read_npz(path: str | os.PathLike, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Read the arrays ``names`` of an ``.npz`` archive, all of them now (a truncated member fails here).

    Raises:
        FileFormatError: missing, empty, truncated or not an npz archive, or an array missing from it.
    """
    path = _existing(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise FileFormatError(f"{path}: the archive lacks array(s) {missing} (has {sorted(z.files)})")
            return {n: np.asarray(z[n]) for n in names}
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise FileFormatError(f"{path}: not a readable .npz archive, truncated or corrupt ({_brief(exc)})") from None


def read_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load`` a checkpoint with weights only (tensors and plain data, no pickled code).

    Raises:
        FileFormatError: missing, empty, truncated or not a torch checkpoint.
    """
    import torch

    path = _existing(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise FileFormatError(f"{path}: not a readable torch checkpoint ({_brief(exc)})") from None


_GZIP_MAGIC = b"\x1f\x8b"


def _not_gzip(path: Path) -> str | None:
    """Why ``path`` (named ``*.gz``) is not gzip data, or None when it starts like gzip (or is empty)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head or head.startswith(_GZIP_MAGIC):
        return None
    return f"not gzip: the name ends in .gz but the file starts with {head!r}"


def open_text(path: str | os.PathLike, mode: str = "r") -> io.TextIOBase:
    """Open a UTF-8 text file for reading (``"r"``) or writing (``"w"``), gzip-compressed when named ``*.gz``.

    Raises:
        FileFormatError: reading a ``*.gz`` file that does not start with the gzip signature.
        OSError: a missing or unreadable path (``filename`` set).
    """
    if mode not in ("r", "w"):
        raise ValueError(f"open_text: mode must be 'r' or 'w' (got {mode!r})")
    path = Path(path)
    if not path.name.endswith(".gz"):
        return open(path, mode, encoding="utf-8")
    if mode == "r":
        problem = _not_gzip(path)
        if problem:
            raise FileFormatError(f"{path}: cannot be read as gzip-compressed data ({problem})")
    return gzip.open(path, mode + "t", encoding="utf-8")


def iter_json_lines(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, decoded value)`` for each non-blank line of a JSON Lines file (plain or ``*.gz``).

    The file is read line by line (a large file is never held whole). Callers check the values' type
    and turn :class:`JsonLinesError` into their own error type, keeping ``line`` and ``problem``.

    Raises:
        FileNotFoundError: nothing at ``path`` (``filename`` set).
        JsonLinesError: with ``line`` set, a line that is not valid JSON; with ``line`` None, a directory,
            a ``*.gz`` that is not gzip, a truncated or corrupt archive, bytes that are not UTF-8, or a
            read error (the message says after which line).
    """
    path = Path(path)
    gz = path.name.endswith(".gz")
    what = f"{'gzip-compressed ' if gz else ''}UTF-8 JSON Lines"
    if path.is_dir():
        raise JsonLinesError(path, "is a directory, not a file")
    lineno = 0
    try:
        problem = _not_gzip(path) if gz else None
        if problem:
            raise JsonLinesError(path, f"cannot be read as {what} ({problem})")
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise JsonLinesError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", lineno) from None
                yield lineno, value
    except (JsonLinesError, FileNotFoundError):
        raise
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # truncated or corrupt gzip, binary data
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        after = f" after line {lineno}" if lineno else ""
        raise JsonLinesError(path, f"cannot be read as {what}{after} ({type(exc).__name__}: {detail})") from None
