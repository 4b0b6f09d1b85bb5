"""Faithful-CoT GSM8K outputs: 30 configurations (6 LMs x 5 prompt styles), greedy, one answer each.

Labels are computed here, by numeric equality of the predicted ``answer`` field with the gold
``#### N``, because the source stores predictions, not grades.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from memreward_verl.convert.base import CONVERTERS, existing, iter_jsonl, require
from memreward_verl.convert.numeric import final_answer, last_number, numbers_match, parse_number
from memreward_verl.rollouts import Query, Rollout

__all__ = ["convert_faithful_cot", "split_config"]

logger = logging.getLogger(__name__)

PROMPT_STYLES = ("NL_SL", "noNL", "COT", "LtM", "standard")
ANSWER_PARSES = ("strict", "last_number")


def split_config(name: str) -> tuple[str, str]:
    """Split a configuration directory name such as ``gpt4_NL_SL`` into ``("gpt4", "NL_SL")``."""
    for style in PROMPT_STYLES:
        if name.endswith("_" + style):
            return name[: -len(style) - 1], style
    lm, _, style = name.rpartition("_")
    return (lm, style) if lm else (name, "")


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    return None


def _load_predictions(path: Path) -> dict[str, tuple[str, dict]]:
    preds: dict[str, tuple[str, dict]] = {}
    for where, rec in iter_jsonl(path):
        qid = str(require(rec, "id", where))
        if qid in preds:
            raise ValueError(f"{where}: duplicate id {qid!r} (first at {preds[qid][0]})")
        preds[qid] = (where, rec)
    return preds


@CONVERTERS.register("faithful_cot")
def convert_faithful_cot(
    path: str | os.PathLike, *, gold: str | os.PathLike | None = None, answer_parse: str = "last_number"
) -> list[Query]:
    """Convert the Faithful-CoT ``GSM8K`` directory (one ``<LM>_<prompt>/predictions.jsonl.gz`` per config).

    Each query gets one rollout per configuration directory, in sorted directory order; the text is
    the ``completion`` and the label is 1 iff the predicted ``answer`` parses (see
    :func:`~memreward_verl.convert.numeric.parse_number`) to the gold number within 1e-6 relative.
    An unparseable prediction is label 0. A question missing from a configuration still gets a
    rollout there, with empty text, label 0 and ``meta["missing"] = True``, so groups stay aligned.

    Args:
        path: the ``GSM8K`` directory.
        gold: gold file; default ``<path>/gold_test.jsonl(.gz)``.
        answer_parse: ``"strict"`` (the field must be one number, optionally with ``$``/``%``/
            commas/a unit word/a fraction) or ``"last_number"`` (fall back to the last number in
            the field, which recovers prose answers such as gpt4_COT's).

    Returns:
        One query per gold record, ids ``gsm8k-test-<id>``.

    Raises:
        ValueError: on an unknown ``answer_parse``, no configuration directory, or a bad record.
        FileNotFoundError: if the directory or the gold file is missing.
    """
    if answer_parse not in ANSWER_PARSES:
        raise ValueError(f"answer_parse must be one of {ANSWER_PARSES} (got {answer_parse!r})")
    root = existing(path)
    gold_path = existing(gold) if gold is not None else _find(root, "gold_test.jsonl")
    if gold_path is None:
        raise FileNotFoundError(f"no gold_test.jsonl(.gz) in {root}; pass gold=...")
    configs = sorted(d for d in root.iterdir() if d.is_dir() and _find(d, "predictions.jsonl"))
    if not configs:
        raise ValueError(f"{root}: no <LM>_<prompt>/predictions.jsonl(.gz) directories found")
    predictions = {d.name: _load_predictions(_find(d, "predictions.jsonl")) for d in configs}

    queries = []
    gold_ids: set[str] = set()
    for where, rec in iter_jsonl(gold_path):
        qid = str(require(rec, "id", where))
        gold_ids.add(qid)
        answer = final_answer(require(rec, "answer", where), "####", where)
        gold_value = parse_number(answer)
        if gold_value is None:
            raise ValueError(f"{where}: gold answer {answer!r} is not a number")
        rollouts = []
        for name, preds in predictions.items():
            lm, style = split_config(name)
            meta = {"config": name, "lm": lm, "prompt_style": style}
            if qid not in preds:
                rollouts.append(Rollout(text="", label=0, meta={**meta, "missing": True}))
                continue
            pwhere, pred = preds[qid]
            raw = require(pred, "answer", pwhere)
            value = parse_number(raw)
            if value is None and answer_parse == "last_number":
                value = last_number(raw)
            meta.update({"pred": raw, "pred_value": value})
            label = int(numbers_match(value, gold_value))
            rollouts.append(Rollout(text=require(pred, "completion", pwhere) or "", label=label, meta=meta))
        queries.append(
            Query(
                query_id=f"gsm8k-test-{qid}",
                domain="math",
                data_source="openai/gsm8k",
                question=require(rec, "question", where),
                ground_truth=answer,
                rollouts=rollouts,
            )
        )
    for name, preds in predictions.items():
        extra = sorted(set(preds) - gold_ids)
        if extra:
            logger.warning(
                "faithful_cot: %s has %d ids absent from the gold file (ignored), e.g. %s", name, len(extra), extra[:3]
            )
    missing = sum(r.meta.get("missing", False) for q in queries for r in q.rollouts)
    if missing:
        logger.warning("faithful_cot: %d (question, config) pairs missing; emitted as empty, label 0", missing)
    logger.info("faithful_cot: %d queries x %d configs from %s", len(queries), len(configs), root)
    return queries
