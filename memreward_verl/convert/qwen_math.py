"""Qwen2.5-Math evaluation example ``math_cot_100.jsonl``: 100 MATH test problems x 8 CoT samples.

The file also carries a reward-model score per sample; it is kept in ``meta`` as a baseline for
reward prediction, never used as the label.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from memreward_verl.convert.base import CONVERTERS, coerce_label, iter_jsonl, require
from memreward_verl.rollouts import Query, Rollout

__all__ = ["convert_qwen_math"]

logger = logging.getLogger(__name__)


def _scalar(value: Any) -> Any:
    """Reward scores are stored as one-element lists (``[3.54]``); unwrap them."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


@CONVERTERS.register("qwen_math", aliases=("qwen25math",))
def convert_qwen_math(path: str | os.PathLike) -> list[Query]:
    """Convert a Qwen2.5-Math eval file with ``code[i]``, ``pred[i]``, ``score[i]``, ``pred_score[i]``.

    The text is ``code[i]`` (the full response), the label ``score[i]``; ``pred[i]`` (the extracted
    answer) and ``pred_score[i]`` (reward-model score) go into ``meta``. Ground truth is ``gt``
    (Qwen's normalised answer); the problem's MATH ``level`` is kept as an extra field.

    Args:
        path: the JSONL file.

    Returns:
        One query per line, ids ``qwen-math-<idx>``.

    Raises:
        ValueError: on a missing key or per-sample lists of different lengths (file and line named).
    """
    queries = []
    for where, rec in iter_jsonl(path):
        texts = require(rec, "code", where)
        scores = require(rec, "score", where)
        preds = rec.get("pred") or [None] * len(texts)
        rm_scores = rec.get("pred_score") or [None] * len(texts)
        lengths = {"code": len(texts), "score": len(scores), "pred": len(preds), "pred_score": len(rm_scores)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{where}: per-sample lists differ in length {lengths}")
        rollouts = [
            Rollout(
                text=text or "",
                label=coerce_label(score, f"{where} [score][{i}]"),
                meta={"sample": i, "pred": pred, "pred_score": _scalar(rm)},
            )
            for i, (text, score, pred, rm) in enumerate(zip(texts, scores, preds, rm_scores, strict=True))
        ]
        extra = {"level": rec["level"]} if "level" in rec else {}
        queries.append(
            Query(
                query_id=f"qwen-math-{require(rec, 'idx', where)}",
                domain="math",
                data_source="math",
                question=require(rec, "question", where),
                ground_truth=str(require(rec, "gt", where)),
                rollouts=rollouts,
                extra=extra,
            )
        )
    logger.info("qwen_math: %d queries from %s", len(queries), path)
    return queries
