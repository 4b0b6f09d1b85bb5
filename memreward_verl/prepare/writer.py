"""verl rows, the output file names, and atomic writes of the parquet / JSON outputs.

Other tools (shell recipes, the warm-up, the reward manager) find these files by name, so every
name comes from the functions here: use :func:`labelled_path` and friends instead of formatting
names by hand. A ratio is written with ``format(ratio, "g")`` (``0.2`` -> ``labelled_0.2.json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from memreward_verl.files import atomic_write, atomic_write_json
from memreward_verl.prepare.prompts import build_prompt
from memreward_verl.prepare.records import Example

__all__ = [
    "ROW_SCHEMA",
    "format_ratio",
    "split_path",
    "labelled_path",
    "labelled_parquet_path",
    "manifest_path",
    "make_row",
    "write_parquet",
    "write_json",
    "read_labelled",
]

# An explicit schema keeps every file's columns identical, whichever datasets (and domains) it holds.
ROW_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        (
            "extra_info",
            pa.struct(
                [
                    ("split", pa.string()),
                    ("index", pa.int64()),
                    ("query_id", pa.string()),
                    ("dataset", pa.string()),
                    ("source_split", pa.string()),
                    ("source_id", pa.string()),
                    ("choices", pa.list_(pa.string())),
                ]
            ),
        ),
    ]
)


def format_ratio(ratio: float) -> str:
    """The ratio as it appears in file names and JSON keys (``format(ratio, "g")``)."""
    return format(float(ratio), "g")


def split_path(out_dir: str | Path, split: str) -> Path:
    """``OUT/<split>.parquet`` (``train``, ``val``, ``test``)."""
    return Path(out_dir) / f"{split}.parquet"


def labelled_path(out_dir: str | Path, ratio: float) -> Path:
    """``OUT/labelled_<ratio>.json``: the labelled query ids of the train split at ``ratio``."""
    return Path(out_dir) / f"labelled_{format_ratio(ratio)}.json"


def labelled_parquet_path(out_dir: str | Path, ratio: float) -> Path:
    """``OUT/train_labelled_<ratio>.parquet``: only the labelled train rows (the labelled-only baseline)."""
    return Path(out_dir) / f"train_labelled_{format_ratio(ratio)}.parquet"


def manifest_path(out_dir: str | Path) -> Path:
    """``OUT/manifest.json``."""
    return Path(out_dir) / "manifest.json"


def make_row(ex: Example, domain: str, data_source: str, split: str, index: int) -> dict[str, Any]:
    """One verl row: the prompt as a one-message chat, the ground truth, and ids in ``extra_info``."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": build_prompt(ex, domain)}],
        "ability": domain,
        "reward_model": {"style": "rule", "ground_truth": ex.ground_truth},
        "extra_info": {
            "split": split,
            "index": index,
            "query_id": ex.query_id,
            "dataset": ex.dataset,
            "source_split": ex.source_split,
            "source_id": ex.source_id,
            # The choice verifier reads option texts from here ("#### Paris" then names an option).
            "choices": list(ex.choices) if ex.choices else None,
        },
    }


def write_parquet(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows with :data:`ROW_SCHEMA` (atomically: a reader never sees a half-written file)."""
    table = pa.Table.from_pylist(list(rows), schema=ROW_SCHEMA)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    return Path(path)


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON (sorted keys off: the key order is meaningful to a reader), atomically."""
    return atomic_write_json(path, obj)


def read_labelled(out_dir: str | Path, ratio: float) -> list[str]:
    """The labelled query ids written for ``ratio`` (in labelling order per dataset).

    Raises:
        FileNotFoundError: naming the expected file.
    """
    path = labelled_path(out_dir, ratio)
    if not path.is_file():
        raise FileNotFoundError(f"no labelled set for ratio {format_ratio(ratio)}: {path} does not exist")
    return list(json.loads(path.read_text(encoding="utf-8"))["query_ids"])
