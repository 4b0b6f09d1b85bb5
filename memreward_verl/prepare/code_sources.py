"""Code datasets (HumanEval, HumanEval+, MBPP, MBPP+): one record -> one Example.

The prompt is a stub (signature + description); the tests go into the ground truth only, and a
prompt that would show one of them is an error (:func:`~memreward_verl.prepare.prompts.leaked_test`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from memreward_verl.prepare.prompts import code_stub, leaked_test
from memreward_verl.prepare.readers import _need
from memreward_verl.prepare.records import Example, RecordError


def _number(task_id: Any) -> str:
    return str(task_id).rsplit("/", 1)[-1].strip()


def _code_example(
    dataset: str, split: str, sid: str, stub: str, tests: dict[str, Any], solution: str, where: str
) -> Example:
    gt = json.dumps({**tests, "prompt": stub}, ensure_ascii=False)
    leak = leaked_test(stub, gt)
    if leak:
        raise RecordError(f"{where}: the prompt would show the test {leak!r}")
    return Example(dataset, split, sid, stub, gt, solution=solution)


def _humaneval(dataset: str) -> Callable[..., Example | str]:
    def convert(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
        prompt, test = _need(rec, "prompt", where), _need(rec, "test", where)
        entry, canonical = _need(rec, "entry_point", where), _need(rec, "canonical_solution", where)
        tests = {"test": test, "entry_point": entry}
        return _code_example(
            dataset, split, _number(_need(rec, "task_id", where)), prompt, tests, prompt + canonical, where
        )

    return convert


def _tested_function(code: str, asserts: str) -> str | None:
    for name in re.findall(r"^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", code, re.MULTILINE):
        if re.search(rf"\b{re.escape(name)}\s*\(", asserts):
            return name
    return None


def _mbpp(dataset: str) -> Callable[..., Example | str]:
    """MBPP (google-research sanitized layout) and MBPP+ (EvalPlus: hub layout or PropertyEval file)."""

    def convert(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
        sid = _number(_need(rec, "task_id", where, (str, int)))
        if "canonical_solution" in rec:  # PropertyEval MBPP+ file: base tests only (see docs)
            code, entry = _need(rec, "canonical_solution", where), _need(rec, "entry_point", where)
            asserts = [ln.strip() for ln in _need(rec, "assertion", where).splitlines() if ln.strip()]
            tests: dict[str, Any] = {"asserts": asserts, "setup": "import math", "entry_point": entry}
        else:
            code = _need(rec, "code", where)
            imports = rec.get("test_imports") or []
            if isinstance(imports, str):
                imports = [imports]
            if dataset == "mbppplus":
                asserts = [_need(rec, "test", where)]  # a script: inputs, results and an assertion loop
            else:
                asserts = [str(a) for a in _need(rec, "test_list", where, list)]
            entry = _tested_function(code, "\n".join(asserts))
            if entry is None:
                return "reference defines none of the functions its tests call"
            tests = {"asserts": asserts, "setup": "\n".join(str(x) for x in imports), "entry_point": entry}
        description = _need(rec, "prompt", where)
        stub = code_stub(description, code, entry, where)
        return _code_example(dataset, split, sid, stub, tests, code, where)

    return convert
