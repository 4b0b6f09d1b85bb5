"""The ``prepare`` pipeline: load each dataset, split it, label the train split, write everything.

All inputs are validated and every split and label set is computed before the first file is
written, so a bad ratio or a bad record never leaves a half-written output directory behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memreward_verl.prepare.prompts import CODE_INSTRUCTION, MATH_INSTRUCTION, QA_INSTRUCTION
from memreward_verl.prepare.registry import get_spec
from memreward_verl.prepare.sources import SOURCES, LoadOptions, load_dataset
from memreward_verl.prepare.split import (
    SPLIT_NAMES,
    check_ratio,
    label_count,
    label_order,
    parse_fractions,
    split_pool,
)
from memreward_verl.prepare.writer import (
    format_ratio,
    labelled_parquet_path,
    labelled_path,
    make_row,
    manifest_path,
    split_path,
    write_json,
    write_parquet,
)

__all__ = ["PrepareConfig", "prepare", "MANIFEST_VERSION"]

MANIFEST_VERSION = 1


@dataclass
class PrepareConfig:
    """Everything ``memreward prepare`` does is set here (the paper's protocol by default).

    Attributes:
        datasets: dataset names, in output order.
        out_dir: output directory.
        source: ``auto`` (local when present, else the hub), ``local`` or ``hf``.
        data_root: folder with files in the layout of shared/data (``None``: hub/packages only).
        per_dataset: subsample size per dataset (``None``: the whole pool).
        splits: train, val, test fractions (sum to 1).
        label_ratios: labelled fractions of each dataset's train split, each in (0, 1].
        seed: seeds the subsample, the split and the labelling order.
        gpqa_file: the GPQA release CSV (GPQA is gated on the hub).
    """

    datasets: tuple[str, ...]
    out_dir: Path
    source: str = "auto"
    data_root: Path | None = Path("../shared/data")
    per_dataset: int | None = 1500
    splits: tuple[float, float, float] = (0.5, 0.2, 0.3)
    label_ratios: tuple[float, ...] = (0.2,)
    seed: int = 0
    gpqa_file: Path | None = None

    def __post_init__(self) -> None:
        names = self.datasets.split(",") if isinstance(self.datasets, str) else self.datasets
        self.datasets = tuple(get_spec(n).name for n in names if n.strip())
        if not self.datasets:
            raise ValueError("PrepareConfig.datasets is empty")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"PrepareConfig.datasets lists a dataset twice: {self.datasets}")
        self.out_dir = Path(self.out_dir)
        self.data_root = Path(self.data_root) if self.data_root is not None else None
        self.gpqa_file = Path(self.gpqa_file) if self.gpqa_file is not None else None
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; sources: {', '.join(SOURCES)}")
        if self.per_dataset is not None and (isinstance(self.per_dataset, bool) or int(self.per_dataset) < 1):
            raise ValueError(f"per_dataset must be >= 1 or None (got {self.per_dataset!r})")
        self.per_dataset = None if self.per_dataset is None else int(self.per_dataset)
        self.splits = parse_fractions(self.splits)
        ratios = tuple(check_ratio(r) for r in self.label_ratios)
        if not ratios:
            raise ValueError("PrepareConfig.label_ratios is empty")
        if len({format_ratio(r) for r in ratios}) != len(ratios):
            raise ValueError(f"label ratios repeat (as file names): {ratios}")
        self.label_ratios = ratios
        if isinstance(self.seed, bool) or int(self.seed) != self.seed:
            raise ValueError(f"seed must be an integer (got {self.seed!r})")
        self.seed = int(self.seed)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("out_dir", "data_root", "gpqa_file"):
            out[key] = None if out[key] is None else str(out[key])
        out["datasets"], out["splits"], out["label_ratios"] = (
            list(self.datasets),
            list(self.splits),
            list(ratios_g(self)),
        )
        return out


def ratios_g(cfg: PrepareConfig) -> list[float]:
    return [float(format_ratio(r)) for r in cfg.label_ratios]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def exclude_math500(name: str, source: str, examples: list[Any], opts: LoadOptions) -> tuple[list[Any], int]:
    """MATH from the local files = the 5,000 test problems minus MATH-500 (PRM800K's 4,500 "train").

    The local MATH file holds every MATH-500 problem; without this, selecting ``math`` and
    ``math500`` together would put one problem in two splits under two ids, and ``math`` alone
    would train on the standard MATH-500 test set. The count is recorded in the manifest.
    """
    if name != "math" or not source.startswith("local"):
        return examples, 0
    held_out = {_norm(ex.question) for ex in load_dataset("math500", "local", opts).examples}
    kept = [ex for ex in examples if _norm(ex.question) not in held_out]
    return kept, len(examples) - len(kept)


def prepare(cfg: PrepareConfig) -> dict[str, Any]:
    """Build the verl parquet files, the labelled sets and the manifest under ``cfg.out_dir``.

    Returns:
        The manifest (also written to ``OUT/manifest.json``).

    Raises:
        ValueError: unknown dataset, a malformed record, an empty dataset, or a ratio that labels
            no query of some dataset (each message names the dataset or record).
        FileNotFoundError: a dataset with no local copy where one is needed.
    """
    opts = LoadOptions(data_root=cfg.data_root, gpqa_file=cfg.gpqa_file)
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLIT_NAMES}
    info: dict[str, Any] = {}
    orders: dict[str, list[str]] = {}
    for name in cfg.datasets:
        spec = get_spec(name)
        loaded = load_dataset(name, cfg.source, opts)
        pool, excluded = exclude_math500(name, loaded.source, loaded.examples, opts)
        parts = split_pool(pool, name, cfg.per_dataset, cfg.splits, cfg.seed)
        for split in SPLIT_NAMES:
            for ex in parts[split]:
                rows[split].append(make_row(ex, spec.domain, spec.data_source, split, len(rows[split])))
        orders[name] = label_order([ex.query_id for ex in parts["train"]], name, cfg.seed)
        info[name] = {
            "domain": spec.domain,
            "data_source": spec.data_source,
            "source": loaded.source,
            "pool": len(loaded.examples),
            "excluded_math500": excluded,
            "skipped": dict(sorted(loaded.skipped.items())),
            "selected": sum(len(p) for p in parts.values()),
            "counts": {s: len(parts[s]) for s in SPLIT_NAMES},
        }
    labelled: dict[str, dict[str, Any]] = {}
    for ratio in cfg.label_ratios:
        per_dataset = {}
        ids: list[str] = []
        for name, order in orders.items():
            k = label_count(ratio, len(order), name)
            ids += order[:k]
            per_dataset[name] = {"n_train": len(order), "n_labelled": k}
        labelled[format_ratio(ratio)] = {"ratio": ratio, "ids": ids, "per_dataset": per_dataset}

    out = cfg.out_dir
    files = {}
    for split in SPLIT_NAMES:
        files[split] = write_parquet(rows[split], split_path(out, split)).name
    labelled_info = {}
    for key, lab in labelled.items():
        chosen = set(lab["ids"])
        train_rows = [r for r in rows["train"] if r["extra_info"]["query_id"] in chosen]
        j = write_json(
            {"ratio": lab["ratio"], "seed": cfg.seed, "query_ids": lab["ids"], "per_dataset": lab["per_dataset"]},
            labelled_path(out, lab["ratio"]),
        )
        p = write_parquet(train_rows, labelled_parquet_path(out, lab["ratio"]))
        labelled_info[key] = {"n_labelled": len(lab["ids"]), "file": j.name, "parquet": p.name}
    from memreward_verl import __version__

    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "package": "memreward_verl",
        "version": __version__,
        "seed": cfg.seed,
        "options": cfg.to_json(),
        "datasets": info,
        "counts": {s: len(rows[s]) for s in SPLIT_NAMES},
        "files": files,
        "labelled": labelled_info,
        "prompt_format": {"math": MATH_INSTRUCTION, "qa": QA_INSTRUCTION, "code": CODE_INSTRUCTION},
    }
    write_json(manifest, manifest_path(out))
    return manifest
