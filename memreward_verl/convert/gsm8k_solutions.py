"""OpenAI grade-school-math ``example_model_solutions.jsonl``: GSM8K test, 4 GPT-3 solutions each.

The four rollouts come from different models (6B/175B x finetuning/verification), not from
repeated samples of one policy; the model key is kept in ``meta``.
"""

from __future__ import annotations

import logging
import os

from memreward_verl.convert.base import CONVERTERS, coerce_label, iter_jsonl, require
from memreward_verl.convert.numeric import final_answer
from memreward_verl.rollouts import Query, Rollout

__all__ = ["SOLUTION_KEYS", "convert_gsm8k_solutions"]

logger = logging.getLogger(__name__)

#: The solution columns, in the order the rollouts are emitted.
SOLUTION_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


@CONVERTERS.register("gsm8k_model_solutions", aliases=("gsm8k_solutions",))
def convert_gsm8k_solutions(path: str | os.PathLike) -> list[Query]:
    """Convert ``example_model_solutions.jsonl(.gz)``.

    Query ids are ``gsm8k-test-<line index>`` (0-based, the GSM8K test order). The ground truth is
    the number on the gold solution's final ``A: N`` line; the label is the file's ``is_correct``.

    Args:
        path: the JSONL file.

    Returns:
        One query per line, with one rollout per key of :data:`SOLUTION_KEYS`.

    Raises:
        ValueError: on a missing key or an unreadable ``is_correct``, naming file, line and key.
    """
    queries = []
    for index, (where, rec) in enumerate(iter_jsonl(path)):
        rollouts = []
        for key in SOLUTION_KEYS:
            sol = require(rec, key, where)
            if not isinstance(sol, dict):
                raise ValueError(f"{where}: {key!r} must be an object with 'solution' and 'is_correct'")
            size, method = key.split("_", 1)
            rollouts.append(
                Rollout(
                    text=require(sol, "solution", f"{where} [{key}]") or "",
                    label=coerce_label(require(sol, "is_correct", f"{where} [{key}]"), f"{where} [{key}]"),
                    meta={"model": f"gpt3-{size}", "method": method, "source_key": key},
                )
            )
        queries.append(
            Query(
                query_id=f"gsm8k-test-{index}",
                domain="math",
                data_source="openai/gsm8k",
                question=require(rec, "question", where),
                ground_truth=final_answer(require(rec, "ground_truth", where), "A:", where),
                rollouts=rollouts,
            )
        )
    logger.info("gsm8k_model_solutions: %d queries from %s", len(queries), path)
    return queries
