"""RouterBench (via RouterDC) CSVs: one row per question, one response and 0/1 grade from each of 11 models.

RouterBench grades are kept as given; blank grade cells (upstream duplicates of a few ARC rows)
become label None instead of dropping the rollout, so every group keeps all 11 models.
"""

from __future__ import annotations

import ast
import csv
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from memreward_verl.convert.base import CONVERTERS, coerce_label, open_text, read_json
from memreward_verl.rollouts import Query, Rollout

__all__ = ["TASKS", "arc_gold_letter", "convert_routerbench"]

logger = logging.getLogger(__name__)

#: task -> (domain, data_source)
TASKS = {"mbpp": ("code", "mbpp"), "arc": ("qa", "arc_challenge")}
_FIXED_COLUMNS = {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}
_LETTER = re.compile(r"\s*([A-E])\s*")
csv.field_size_limit(1 << 28)  # MBPP responses can exceed the default 128 KiB cell limit


def _literal_list(cell: str | None, where: str) -> list[str]:
    """Cells hold Python-literal lists such as ``"['A\\n']"``; fall back to the raw cell otherwise."""
    if not cell:
        return []
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        logger.debug("%s: cell is not a Python literal; using it verbatim", where)
        return [cell]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return [cell] if not isinstance(value, str) else [value]


def _detect_task(path: Path, first_eval_name: str, task: str | None) -> str:
    if task is not None:
        key = "arc" if task.lower().startswith("arc") else task.lower()
        if key not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)} (got {task!r})")
        return key
    for text in (first_eval_name.lower(), path.name.lower()):
        if text.startswith("mbpp"):
            return "mbpp"
        if text.startswith("arc"):
            return "arc"
    raise ValueError(f"{path}: cannot tell mbpp from arc by eval_name {first_eval_name!r} or file name; pass task=")


def arc_gold_letter(responses: list[str], labels: list[int | None]) -> str | None:
    """Derive the ARC gold letter from graded single-letter answers.

    The letter is trusted only when every model graded 1 that answered with a bare letter agrees,
    and no model graded 0 gave that same letter; otherwise None.

    Args:
        responses: the models' response texts.
        labels: their grades (1, 0 or None).

    Returns:
        ``"A"``-``"E"`` or None.
    """
    right: set[str] = set()
    wrong: set[str] = set()
    for text, label in zip(responses, labels, strict=True):
        match = _LETTER.fullmatch(text)
        if match is None or label is None:
            continue
        (right if label == 1 else wrong).add(match.group(1))
    if len(right) == 1 and not (right & wrong):
        return right.pop()
    return None


def _mbpp_tests(path: str | os.PathLike) -> dict[str, str]:
    """Map the sanitized-MBPP prompt text to an MBPP-style ground-truth JSON string."""
    tests = {}
    for i, task in enumerate(read_json(path)):
        where = f"{path} item {i}"
        try:
            prompt, asserts = task["prompt"], task["test_list"]
        except (KeyError, TypeError):
            raise ValueError(f"{where}: expected an object with 'prompt' and 'test_list'") from None
        setup = "\n".join(task.get("test_imports") or [])
        tests[prompt.strip()] = json.dumps({"asserts": asserts, "setup": setup})
    return tests


@CONVERTERS.register("routerbench")
def convert_routerbench(
    path: str | os.PathLike, *, task: str | None = None, mbpp_tests: str | os.PathLike | None = None
) -> list[Query]:
    """Convert one RouterBench CSV (``{mbpp,arc_challenge}_{train,test}.csv(.gz)``).

    The question is the last element of the ``prompt`` list (the full text the models saw, with
    ARC's 5-shot examples). The rollout text is the model's response, the label its 0/1 column.
    Query ids are ``<sample_id>#<csv row id>``, because a few ARC sample ids repeat.

    Ground truth: ARC gets the letter from :func:`arc_gold_letter` (None when not derivable). MBPP
    gets None, since the prompt holds only the task description; with ``mbpp_tests`` (the
    sanitized-MBPP JSON) the asserts of the task whose prompt text matches exactly are used.

    Args:
        path: one CSV file.
        task: ``"mbpp"`` or ``"arc"``; detected from ``eval_name`` or the file name when omitted.
        mbpp_tests: optional ``sanitized-mbpp.json(.gz)`` to recover MBPP tests.

    Returns:
        One query per CSV row.

    Raises:
        ValueError: on an unknown task, a CSV without model columns, or a bad grade cell
            (file, row and column named).
    """
    path = Path(path)
    with open_text(path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no data rows")
    header = list(rows[0])
    absent = [c for c in ("sample_id", "prompt") if c not in header]
    if absent:
        raise ValueError(f"{path}: missing column(s) {absent}")
    models = [c for c in header if c not in _FIXED_COLUMNS and "|" not in c]
    missing = [m for m in models if f"{m}|model_response" not in header]
    if not models or missing:
        raise ValueError(f"{path}: expected '<model>' and '<model>|model_response' columns (missing {missing})")
    kind = _detect_task(path, rows[0].get("eval_name", ""), task)
    domain, data_source = TASKS[kind]
    tests = _mbpp_tests(mbpp_tests) if mbpp_tests is not None and kind == "mbpp" else {}
    split = next((s for s in ("train", "test") if s in path.name), None)

    queries = []
    for number, row in enumerate(rows, start=1):
        where = f"{path} data row {number}"
        prompt = _literal_list(row["prompt"], f"{where} [prompt]")
        question = prompt[-1] if prompt else ""
        texts, labels, rollouts = [], [], []
        for model in models:
            text = "".join(_literal_list(row[f"{model}|model_response"], f"{where} [{model}|model_response]"))
            label = coerce_label(row[model], f"{where} [{model}]")
            meta: dict[str, Any] = {"model": model}
            cost = row.get(f"{model}|total_cost", "")
            if cost:
                try:
                    meta["cost"] = float(cost)
                except ValueError:
                    raise ValueError(f"{where} [{model}|total_cost]: not a number: {cost!r}") from None
            texts.append(text)
            labels.append(label)
            rollouts.append(Rollout(text=text, label=label, meta=meta))
        ground_truth = arc_gold_letter(texts, labels) if kind == "arc" else tests.get(question.strip())
        extra: dict[str, Any] = {"sample_id": row["sample_id"]}
        if split:
            extra["split"] = split
        queries.append(
            Query(
                query_id=f"{row['sample_id']}#{row.get('') or number}",
                domain=domain,
                data_source=data_source,
                question=question,
                ground_truth=ground_truth,
                rollouts=rollouts,
                extra=extra,
            )
        )
    unlabelled = sum(r.label is None for q in queries for r in q.rollouts)
    if unlabelled:
        logger.info("routerbench: %d blank grade cells in %s kept as label null", unlabelled, path.name)
    with_gt = sum(q.ground_truth is not None for q in queries)
    logger.info("routerbench: %d %s queries from %s (%d with ground truth)", len(queries), kind, path.name, with_gt)
    return queries
