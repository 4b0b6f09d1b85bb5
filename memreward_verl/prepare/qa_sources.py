"""Multiple-choice datasets (MMLU, CSQA, OBQA, ARC, GPQA, SIQA, PIQA): one record -> one Example.

Every layout (original files, hub rows, llm-foundry rewrites) ends in :func:`_qa`: option texts in
label order and the gold letter, so the choice verifier grades all of them alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from memreward_verl.prepare.readers import _int_field, _need
from memreward_verl.prepare.records import Example, RecordError
from memreward_verl.verify.choice_verifier import LETTERS, parse_options


def _qa(dataset: str, split: str, sid: str, stem: str, choices: list[Any], gold: int, where: str) -> Example | str:
    texts = [" ".join(str(c).split()) if c is not None else "" for c in choices]
    if not 2 <= len(texts) <= len(LETTERS):
        raise RecordError(f"{where}: expected 2..{len(LETTERS)} options, got {len(texts)}")
    if not 0 <= gold < len(texts):
        raise RecordError(f"{where}: answer index {gold} is outside the {len(texts)} options")
    if not all(texts):
        return "empty option text"
    return Example(dataset, split, sid, stem.strip(), LETTERS[gold], tuple(texts))


def _ai2(dataset: str) -> Callable[..., Example | str]:
    """AI2 format (CSQA, OBQA, ARC): ``question{stem, choices[{label,text}]}``, ``answerKey``."""

    def convert(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
        if "query" in rec and "gold" in rec:  # llm-foundry rewrite (ARC test in shared/data)
            return _foundry(dataset, where, rec, split, index)
        q = rec.get("question")
        if isinstance(q, dict):  # original AI2 files
            stem, choices = _need(q, "stem", where), q.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
                raise RecordError(f"{where}: 'question.choices' must be a list of {{label, text}} objects")
            labels, texts = [str(c.get("label", "")).strip() for c in choices], [c.get("text") for c in choices]
        else:  # hub layout: question / question_stem + choices{label:[...], text:[...]}
            stem = rec.get("question_stem") or q
            if not isinstance(stem, str) or not stem.strip():
                raise RecordError(f"{where}: missing question stem")
            ch = rec.get("choices")
            if not isinstance(ch, dict) or not isinstance(ch.get("label"), list | tuple):
                raise RecordError(f"{where}: 'choices' must hold 'label' and 'text' lists")
            labels, texts = [str(x).strip() for x in ch["label"]], list(ch.get("text") or [])
        key = str(_need(rec, "answerKey", where)).strip()
        if key not in labels:
            raise RecordError(f"{where}: answerKey {key!r} is not one of the option labels {labels}")
        sid = str(rec["id"]) if rec.get("id") else str(index)
        return _qa(dataset, split, sid, stem, texts, labels.index(key), where)

    return convert


def _foundry(dataset: str, where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    """llm-foundry layout: ``query`` "Question: ...", ``choices`` texts, ``gold`` index; no ids."""
    stem = re.sub(r"^\s*Question:\s*", "", _need(rec, "query", where))
    return _qa(
        dataset,
        split,
        str(index),
        stem,
        _need(rec, "choices", where, list),
        _int_field(rec, "gold", where),
        where,
    )


def _piqa(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    if "goal" in rec:  # hub layout
        choices, gold = [_need(rec, "sol1", where), _need(rec, "sol2", where)], _int_field(rec, "label", where)
        stem = rec["goal"]
    else:  # llm-foundry
        stem = re.sub(r"^\s*Question:\s*", "", _need(rec, "query", where))
        choices, gold = _need(rec, "choices", where, list), _int_field(rec, "gold", where)
    if not isinstance(stem, str) or not stem.strip():
        raise RecordError(f"{where}: missing goal")
    return _qa(
        "piqa", split, str(index), f"Goal: {stem.strip()}\nWhich solution achieves the goal?", choices, gold, where
    )


def _siqa(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    if "context" in rec:  # hub layout: 3 options, label "1".."3"
        stem = f"Context: {_need(rec, 'context', where).strip()}\nQuestion: {_need(rec, 'question', where).strip()}"
        choices = [_need(rec, k, where) for k in ("answerA", "answerB", "answerC")]
        return _qa("siqa", split, str(index), stem, choices, _int_field(rec, "label", where) - 1, where)
    query = _need(rec, "query", where)  # llm-foundry 2-choice rewrite: options inside the query
    head, sep, tail = query.partition("Choices:")
    options = parse_options(tail.replace("Answer:", "")) if sep else {}
    if not options:
        raise RecordError(f"{where}: no 'Choices:' block with lettered options in 'query'")
    labels = sorted(options)
    if "".join(labels) != LETTERS[: len(labels)]:
        raise RecordError(f"{where}: option labels {labels} are not A, B, ...")
    return _qa(
        "siqa", split, str(index), head.strip(), [options[k] for k in labels], _int_field(rec, "gold", where), where
    )


def _mmlu_hub(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    # index is the record's position within its subject (see _hub_rows in sources.py)
    subject = _need(rec, "subject", where)
    choices = list(_need(rec, "choices", where, (list, tuple)))
    return _qa(
        "mmlu",
        split,
        f"{subject}/{index}",
        _need(rec, "question", where),
        choices,
        _int_field(rec, "answer", where),
        where,
    )


def _mmlu(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    return _mmlu_csv(where, rec, split, index) if "row" in rec else _mmlu_hub(where, rec, split, index)


def _mmlu_csv(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    row, subject = rec["row"], rec["subject"]
    if len(row) != 6:
        raise RecordError(f"{where}: expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
    answer = row[5].strip()
    if answer not in ("A", "B", "C", "D"):
        raise RecordError(f"{where}: answer {answer!r} is not one of A, B, C, D")
    if not row[0].strip():
        raise RecordError(f"{where}: empty question")
    return _qa("mmlu", split, f"{subject}/{index}", row[0], row[1:5], "ABCD".index(answer), where)


def _gpqa(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    question = _need(rec, "Question", where)
    right = _need(rec, "Correct Answer", where)
    wrong = [_need(rec, f"Incorrect Answer {i}", where) for i in (1, 2, 3)]
    sid = str(rec.get("Record ID") or index).strip()
    # GPQA lists the right answer first; shuffle per record, fixed by its id (stable across --seed).
    order = sorted(range(4), key=lambda i: hashlib.sha256(f"{sid}\0{i}".encode()).hexdigest())
    options = [right, *wrong]
    return _qa("gpqa", split, sid, question, [options[i] for i in order], order.index(0), where)
