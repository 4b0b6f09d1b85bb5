"""The canonical rollout file: JSON Lines, one record per query.

Every stage (converters, labelling, warm-up, offline evaluation) reads and writes this format::

    {"query_id": str, "domain": "math"|"qa"|"code"|<other str>, "data_source": str,
     "question": str, "ground_truth": str|null,
     "rollouts": [{"text": str, "label": 0|1|null, "meta": {...}}, ...]}

Bad records are rejected with :class:`RolloutFormatError` naming the file and line. Empty or
garbage rollout *texts* are valid (they must still be scored downstream). Unknown keys in ``meta``
are kept verbatim; unknown top-level keys are kept in ``Query.extra``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreward_verl.files import JsonLinesError, atomic_write, iter_json_lines, open_text

__all__ = [
    "Rollout",
    "Query",
    "RolloutFormatError",
    "parse_record",
    "read_rollouts",
    "iter_rollouts",
    "write_rollouts",
]

REQUIRED_KEYS = ("query_id", "domain", "data_source", "question", "ground_truth", "rollouts")


class RolloutFormatError(ValueError):
    """A record of a rollout file does not follow the canonical format."""


@dataclass
class Rollout:
    """One sampled response and, when known, its true 0/1 correctness."""

    text: str
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "label": self.label, "meta": self.meta}


@dataclass
class Query:
    """One prompt with its group of rollouts (a GRPO group)."""

    query_id: str
    domain: str
    data_source: str
    question: str
    ground_truth: str | None
    rollouts: list[Rollout]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[int | None]:
        return [r.label for r in self.rollouts]

    @property
    def fully_labelled(self) -> bool:
        return all(r.label is not None for r in self.rollouts)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "query_id": self.query_id,
            "domain": self.domain,
            "data_source": self.data_source,
            "question": self.question,
            "ground_truth": self.ground_truth,
            "rollouts": [r.to_dict() for r in self.rollouts],
        }
        out.update(self.extra)
        return out


def _fail(where: str, msg: str) -> RolloutFormatError:
    return RolloutFormatError(f"{where}: {msg}")


def _parse_label(value: Any, where: str) -> int | None:
    if value is None:
        return None
    # bool is a subclass of int; accept True/False as 1/0 explicitly, reject 0.5, "1", 2, ...
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    raise _fail(where, f"'label' must be 0, 1 or null (got {value!r})")


def parse_record(obj: Any, where: str = "record") -> Query:
    """Validate one decoded JSON object and return a :class:`Query`.

    Args:
        obj: the decoded JSON value of one line.
        where: location used in error messages, e.g. ``"rollouts.jsonl line 7"``.

    Raises:
        RolloutFormatError: on a missing key, a wrong type, an empty rollouts list or a bad label.
    """
    if not isinstance(obj, dict):
        raise _fail(where, f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise _fail(where, f"missing key(s) {missing}; required: {list(REQUIRED_KEYS)}")
    for key in ("query_id", "domain", "data_source", "question"):
        if not isinstance(obj[key], str):
            raise _fail(where, f"{key!r} must be a string (got {type(obj[key]).__name__})")
    if not obj["query_id"]:
        raise _fail(where, "'query_id' must not be empty")
    gt = obj["ground_truth"]
    if gt is not None and not isinstance(gt, str):
        raise _fail(where, f"'ground_truth' must be a string or null (got {type(gt).__name__})")
    raw = obj["rollouts"]
    if not isinstance(raw, list):
        raise _fail(where, f"'rollouts' must be a list (got {type(raw).__name__})")
    if not raw:
        raise _fail(where, f"query {obj['query_id']!r} has an empty 'rollouts' list")
    rollouts = []
    for i, r in enumerate(raw):
        rw = f"{where} rollout {i}"
        if not isinstance(r, dict):
            raise _fail(rw, f"expected an object, got {type(r).__name__}")
        if "text" not in r:
            raise _fail(rw, "missing key 'text'")
        text = r["text"]
        if text is None:
            text = ""  # a missing response is an empty response: still scored, never dropped
        if not isinstance(text, str):
            raise _fail(rw, f"'text' must be a string (got {type(text).__name__})")
        meta = r.get("meta") or {}
        if not isinstance(meta, dict):
            raise _fail(rw, f"'meta' must be an object (got {type(meta).__name__})")
        rollouts.append(Rollout(text=text, label=_parse_label(r.get("label"), rw), meta=meta))
    extra = {k: v for k, v in obj.items() if k not in REQUIRED_KEYS}
    return Query(
        query_id=obj["query_id"],
        domain=obj["domain"],
        data_source=obj["data_source"],
        question=obj["question"],
        ground_truth=gt,
        rollouts=rollouts,
        extra=extra,
    )


def iter_rollouts(path: str | os.PathLike) -> Iterator[Query]:
    """Stream queries from a JSONL (or ``.jsonl.gz``) file, validating each line.

    Lines come from :func:`memreward_verl.files.iter_json_lines`. Blank lines are skipped.

    Raises:
        FileNotFoundError: nothing at ``path``.
        RolloutFormatError: naming the line on bad JSON, a bad record or a duplicate ``query_id``; naming
            the file when it cannot be read at all (a directory, a ``.gz`` that is not gzip, a truncated
            archive, bytes that are not UTF-8).
    """
    seen: dict[str, int] = {}
    name = Path(path).name
    try:
        for lineno, obj in iter_json_lines(path):
            where = f"{name} line {lineno}"
            q = parse_record(obj, where)
            if q.query_id in seen:
                raise _fail(where, f"duplicate query_id {q.query_id!r} (first seen on line {seen[q.query_id]})")
            seen[q.query_id] = lineno
            yield q
    except JsonLinesError as exc:
        if exc.line is not None:
            raise _fail(f"{name} line {exc.line}", exc.problem) from None
        raise RolloutFormatError(str(exc)) from None


def read_rollouts(path: str | os.PathLike) -> list[Query]:
    """Read and validate a whole rollout file (see :func:`iter_rollouts`).

    Raises:
        RolloutFormatError: on any bad record, or when the file holds no record at all.
    """
    queries = list(iter_rollouts(path))
    if not queries:
        raise RolloutFormatError(f"{Path(path).name}: the file holds no records")
    return queries


def write_rollouts(queries: Iterable[Query], path: str | os.PathLike) -> int:
    """Write queries atomically (files.atomic_write: a ``.gz`` path stays gzip); returns the number written."""
    path = Path(path)
    written = [0]

    def write(tmp: Path) -> None:
        seen: set[str] = set()
        with open_text(tmp, "w") as fh:
            for q in queries:
                if q.query_id in seen:
                    raise RolloutFormatError(f"duplicate query_id {q.query_id!r} while writing {path.name}")
                seen.add(q.query_id)
                fh.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
                written[0] += 1

    atomic_write(path, write)
    return written[0]
