"""Faithful-CoT's other tasks as rollout sets nobody here tuned on (issue 12: "sets that are not in
../shared/data measure it again").

Usage::

    git clone https://github.com/veronica320/Faithful-COT     # MIT; not in ../shared/data
    python benchmarks/faithful_cot_tasks.py Faithful-COT benchmarks/data_unseen
    memreward eval benchmarks/data_unseen/faithful_cot_date.jsonl --label-ratio 0.2 --seed 0 --out date.json

../shared/data holds Faithful-CoT's GSM8K outputs only. The same repository holds the same 6 LMs x 5
prompt styles (greedy) on other tasks with other answer formats: dates (MM/DD/YYYY), multiple choice
(AQuA, letters A-E), yes/no (StrategyQA, sports understanding), kinship words (CLUTRR) and numbers
(SVAMP). One rollout per configuration ``<LM>_<style>`` whose predictions file exists; the text is the
``completion`` (a rationale, or a program for the NL+SL / noNL styles, whose text may not state the
answer at all). Labels judge the predicted ``answer`` field (what their
pipeline read or executed) against the gold answer: the same date, option letter (the field, else the
last "X)" or lone A-E in a prose field), yes/no, kinship word, or number (the field, else its last
number, as the GSM8K converter reads prose fields); a field that does not parse (``[invalid]``) is
wrong, as in their evaluation. No label is derived from the response text, so nothing here shares
code with memreward's answer reading.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memreward_verl.convert.base import existing, iter_jsonl, require
from memreward_verl.convert.faithful_cot import _load_predictions as load_predictions  # the GSM8K converter's reader
from memreward_verl.convert.numeric import final_answer, last_number, numbers_match, parse_number
from memreward_verl.rollouts import Query, Rollout, write_rollouts

LMS = ("code001", "code002", "text002", "text003", "gpt-3.5-turbo", "gpt4")
STYLES = ("COT", "LtM", "NL+SL", "noNL", "standard")
#: task directory -> the record's ``domain`` (only ``math`` and ``qa`` name a verifier's reading)
DOMAINS = {
    "date": "date",
    "AQUA": "qa",
    "StrategyQA": "yesno",
    "sports": "yesno",
    "CLUTRR": "relation",
    "SVAMP": "math",
}

_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_LETTER = re.compile(r"\(?([A-Ea-e])\)?")
_LETTER_IN_PROSE = (re.compile(r"\b([A-E])\)"), re.compile(r"\b([A-E])\b"))

logger = logging.getLogger("faithful_cot_tasks")


def _date(value: Any) -> tuple[int, int, int] | None:
    found = _DATE.findall(str(value))
    return tuple(int(x) for x in found[-1]) if found else None


def _letter(value: Any) -> str | None:
    """The option letter of a field: the field itself, else the last "X)" in it, else the last lone A-E."""
    text = str(value).strip()
    match = _LETTER.fullmatch(text)
    if match:
        return match.group(1).upper()
    for pattern in _LETTER_IN_PROSE:
        found = pattern.findall(text)
        if found:
            return found[-1]
    return None


def _yes_no(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("1", "true", "yes") else False if text in ("0", "false", "no") else None


def _number(value: Any) -> float | None:
    """The field as one number, else its last number (the GSM8K converter's ``last_number`` reading)."""
    parsed = parse_number(value)
    return parsed if parsed is not None else last_number(value)


def gold_and_judge(task: str, record: dict[str, Any], where: str) -> tuple[str, Callable[[Any], bool]]:
    """The gold answer as the record's ``ground_truth`` and the judge of a predicted ``answer`` field.

    Raises:
        ValueError: a gold answer this task cannot read (record named).
    """
    raw = require(record, "answer", where)
    if task == "date":
        gold = _date(raw)
        if gold is None:
            raise ValueError(f"{where}: gold answer {raw!r} holds no MM/DD/YYYY date")
        return final_answer(str(raw), "####", where), lambda pred: _date(pred) == gold
    if task == "AQUA":
        letter = _letter(raw)
        if letter is None:
            raise ValueError(f"{where}: gold answer {raw!r} is not an option letter A-E")
        return letter, lambda pred: _letter(pred) == letter
    if task in ("StrategyQA", "sports"):
        truth = _yes_no(raw)
        if truth is None:
            raise ValueError(f"{where}: gold answer {raw!r} is not yes/no")
        return ("yes" if truth else "no"), lambda pred: _yes_no(pred) is truth
    if task == "CLUTRR":
        if "####" not in str(raw):  # "grandson-brother #### grandson": the chain, then the relation
            raise ValueError(f"{where}: gold answer {raw!r} has no '#### <relation>'")
        relation = str(raw).rpartition("####")[2].strip().lower()
        return relation, lambda pred: str(pred).strip().lower() == relation
    if task == "SVAMP":
        answer = final_answer(str(raw), "####", where)
        value = parse_number(answer)
        if value is None:
            raise ValueError(f"{where}: gold answer {raw!r} is not a number")
        return answer, lambda pred: numbers_match(_number(pred), value)
    raise ValueError(f"unknown task {task!r}; one of {sorted(DOMAINS)}")


def convert_task(root: Path, task: str, limit: int | None = None) -> list[Query]:
    """One query per gold record (the first ``limit``), one rollout per configuration found.

    A question a configuration did not answer gets an empty rollout, label 0, ``meta["missing"]``
    (groups stay aligned; counted in the log).

    Raises:
        FileNotFoundError: the task's gold file or every configuration is missing.
        ValueError: a bad or duplicate record (file and line named), or a gold file without questions.
    """
    gold_path = existing(root / "data" / task / "test.jsonl")
    outputs = root / "output_dir" / task / "test"
    every = sorted(f"{lm}_{style}" for lm in LMS for style in STYLES)  # sorted, as the GSM8K converter orders them
    configs = [name for name in every if (outputs / name / "predictions.jsonl").exists()]
    if not configs:
        raise FileNotFoundError(f"no <LM>_<style>/predictions.jsonl under {outputs}")
    absent = [name for name in every if name not in configs]
    if absent:
        logger.warning("%s: %d configuration(s) absent, left out: %s", task, len(absent), ", ".join(absent))
    predictions = {name: load_predictions(outputs / name / "predictions.jsonl") for name in configs}

    queries, missing = [], 0
    for where, rec in iter_jsonl(gold_path):
        if limit is not None and len(queries) >= limit:
            break
        qid = str(require(rec, "id", where))
        gold, judge = gold_and_judge(task, rec, where)
        rollouts = []
        for name, preds in predictions.items():
            if qid not in preds:
                missing += 1
                rollouts.append(Rollout(text="", label=0, meta={"config": name, "missing": True}))
                continue
            pwhere, pred = preds[qid]
            answer = require(pred, "answer", pwhere)
            meta = {"config": name, "pred": str(answer)}
            rollouts.append(Rollout(text=pred.get("completion") or "", label=int(judge(answer)), meta=meta))
        queries.append(
            Query(
                query_id=f"{task}-{qid}",
                domain=DOMAINS[task],
                data_source=f"faithful_cot/{task}",
                question=require(rec, "question", where),
                ground_truth=gold,
                rollouts=rollouts,
            )
        )
    if not queries:
        raise ValueError(f"{gold_path}: no questions")
    if missing:
        logger.warning("%s: %d (question, configuration) pairs missing; emitted empty, label 0", task, missing)
    return queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", help="a clone of github.com/veronica320/Faithful-COT")
    parser.add_argument("out_dir")
    parser.add_argument("--tasks", default=",".join(DOMAINS), help=f"comma-separated, of {','.join(DOMAINS)}")
    parser.add_argument("--limit", type=int, default=0, help="first N questions per task (0, the default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for task in args.tasks.split(","):
        queries = convert_task(Path(args.checkout), task, args.limit or None)
        path = out / f"faithful_cot_{task.lower()}.jsonl"
        write_rollouts(queries, path)
        labels = [r.label for q in queries for r in q.rollouts]
        mixed = sum(0 < sum(r.label for r in q.rollouts) < len(q.rollouts) for q in queries)
        print(
            f"{path}: {len(queries)} queries x {len(queries[0].rollouts)} rollouts, "
            f"{sum(labels) / len(labels):.1%} correct, {mixed} groups mixed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
