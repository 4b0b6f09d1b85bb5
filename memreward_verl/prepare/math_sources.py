"""Math datasets (GSM8K, GSM-Symbolic, MATH, MATH-500, NuminaMath): one record -> one Example.

The ground truth is the final answer only (``#### N`` or the last ``\\boxed{}``); a solution with
no boxed answer cannot be graded and is skipped by reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from memreward_verl.prepare.readers import _need
from memreward_verl.prepare.records import Example, RecordError
from memreward_verl.verify.math_verifier import last_boxed


def _hash_answer(solution: str, where: str) -> str:
    if "####" not in solution:
        raise RecordError(f"{where}: answer has no '#### N' final line")
    final = solution.rsplit("####", 1)[1].strip()
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", final):
        final = final.replace(",", "")
    if not final:
        raise RecordError(f"{where}: empty answer after '####'")
    return final


def _gsm(dataset: str) -> Callable[..., Example | str]:
    def convert(where: str, rec: dict[str, Any], split: str, index: int) -> Example:
        question, answer = _need(rec, "question", where), _need(rec, "answer", where)
        sid = f"{rec['id']}-{rec['instance']}" if "id" in rec and "instance" in rec else str(index)
        return Example(dataset, split, sid, question.strip(), _hash_answer(answer, where), solution=answer)

    return convert


def _boxed_math(dataset: str, id_key: str | None = None) -> Callable[..., Example | str]:
    def convert(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
        problem, solution = _need(rec, "problem", where), _need(rec, "solution", where)
        answer = rec.get("answer") if isinstance(rec.get("answer"), str) and rec["answer"].strip() else None
        answer = answer or last_boxed(solution)
        if not answer:
            return "no \\boxed answer in the solution"
        sid = str(rec[id_key]) if id_key and rec.get(id_key) is not None else str(index)
        if dataset == "math500":  # "test/precalculus/807.json" -> "precalculus/807"
            sid = re.sub(r"^test/|\.json$", "", sid)
        return Example(dataset, split, sid, problem.strip(), answer.strip(), solution=solution)

    return convert
