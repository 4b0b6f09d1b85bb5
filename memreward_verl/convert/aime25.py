"""AIME 2025 long-CoT rollouts from 6 reasoning models, one file per model, merged per problem.

Each problem's group holds one rollout per model (not repeated samples of one policy).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from memreward_verl.convert.base import CONVERTERS, coerce_label, existing, iter_jsonl, require
from memreward_verl.rollouts import Query, Rollout

__all__ = ["convert_aime25", "model_name"]

logger = logging.getLogger(__name__)

_SUFFIX = re.compile(r"_aime_25_rollout.*$")
_TEMPERATURE = re.compile(r"temperature([0-9.]+?)\.jsonl")


def model_name(path: Path) -> str:
    """``QwQ-32B_aime_25_rollout_temperature0.6.jsonl.gz`` -> ``QwQ-32B``."""
    return _SUFFIX.sub("", path.name.split(".jsonl")[0])


def _files(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(path, (str, os.PathLike)):
        root = existing(path)
        if root.is_file():
            return [root]
        files = sorted(p for p in root.iterdir() if re.search(r"\.jsonl(\.gz)?$", p.name))
        if not files:
            raise ValueError(f"{root}: no *.jsonl(.gz) rollout files")
        return files
    return [existing(p) for p in path]


@CONVERTERS.register("aime25")
def convert_aime25(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Query]:
    """Merge the per-model AIME-25 files into one query per problem (joined on ``id``).

    The text is the full ``completion`` (``<think>`` trace included), the label ``is_correct``;
    ``meta`` holds the model (from the file name), ``extracted_model_answer`` and temperature.
    Rollouts follow the sorted file order; a problem absent from a file simply has fewer rollouts.

    Args:
        path: the directory of ``<model>_aime_25_rollout_temperature*.jsonl(.gz)`` files, one such
            file, or a list of files.

    Returns:
        One query per problem id, ids ``aime25-<id>``, in first-seen order.

    Raises:
        ValueError: on a missing key, a duplicate id within a file, or files disagreeing on a
            problem's gold answer (both places named).
    """
    by_id: dict[str, Query] = {}
    first_seen: dict[str, str] = {}
    files = _files(path)
    for file in files:
        model = model_name(file)
        temp = _TEMPERATURE.search(file.name)
        seen: set[str] = set()
        for where, rec in iter_jsonl(file):
            pid = str(require(rec, "id", where))
            if pid in seen:
                raise ValueError(f"{where}: duplicate id {pid!r} in one model's file")
            seen.add(pid)
            gold = str(require(rec, "answer", where)).strip()
            meta = {"model": model, "extracted_answer": rec.get("extracted_model_answer")}
            if temp:
                meta["temperature"] = float(temp.group(1))
            rollout = Rollout(
                text=require(rec, "completion", where) or "",
                label=coerce_label(require(rec, "is_correct", where), f"{where} [is_correct]"),
                meta=meta,
            )
            query = by_id.get(pid)
            if query is None:
                by_id[pid] = Query(
                    query_id=f"aime25-{pid}",
                    domain="math",
                    data_source="aime25",
                    question=require(rec, "instruction", where),
                    ground_truth=gold,
                    rollouts=[rollout],
                )
                first_seen[pid] = where
            elif query.ground_truth != gold:
                raise ValueError(
                    f"{where}: gold answer {gold!r} differs from {query.ground_truth!r} at {first_seen[pid]}"
                )
            else:
                query.rollouts.append(rollout)
    sizes = {len(q.rollouts) for q in by_id.values()}
    if sizes != {len(files)}:
        logger.warning("aime25: uneven groups (sizes %s over %d files)", sorted(sizes), len(files))
    logger.info("aime25: %d problems x %d models", len(by_id), len(files))
    return list(by_id.values())
