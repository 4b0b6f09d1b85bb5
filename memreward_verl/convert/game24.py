"""Tree-of-Thought Game-of-24 logs: 100 GPT-4 samples (T=0.7) per puzzle, CoT or standard prompting.

The logs hold only the responses, so the question is a short restatement of the task with the
puzzle's numbers (the few-shot prompt itself is not stored), and the ground truth is the four
numbers a checker needs (any valid expression is correct).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

from memreward_verl.convert.base import CONVERTERS, coerce_label, existing, open_text, read_json, require
from memreward_verl.rollouts import Query, Rollout

__all__ = ["convert_game24", "load_puzzles"]

logger = logging.getLogger(__name__)

# ToT log names look like ``gpt-4_0.7_naive_cot_sample_100_start900_end1000.json``.
_LOG_NAME = re.compile(r"^(?P<model>.+?)_(?P<temperature>\d+(?:\.\d+)?)_")


def load_puzzles(path: str | os.PathLike) -> list[str]:
    """Read the ``Puzzles`` column of ToT's ``24.csv(.gz)``; list index = ToT's puzzle ``idx``.

    Raises:
        ValueError: if the file has no ``Puzzles`` column.
    """
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        if "Puzzles" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no 'Puzzles' column (columns: {reader.fieldnames})")
        return [row["Puzzles"].strip() for row in reader]


def _default_puzzles(log: Path) -> Path:
    for name in ("24.csv.gz", "24.csv"):
        if (log.parent / name).exists():
            return log.parent / name
    raise FileNotFoundError(f"no 24.csv(.gz) next to {log}; pass puzzles=...")


@CONVERTERS.register("game24")
def convert_game24(path: str | os.PathLike, *, puzzles: str | os.PathLike | None = None) -> list[Query]:
    """Convert one ToT game24 log (``*_naive_{cot,standard}_sample_100_*.json(.gz)``).

    Labels come from ``infos[i]["r"]`` (CoT log) or ``accs[i]`` (standard log).

    Args:
        path: the JSON log file.
        puzzles: ToT's ``24.csv(.gz)``; default: the one next to the log.

    Returns:
        One query per puzzle, ids ``game24-<idx>``; ``meta`` holds the sample index, the prompt
        style, and the model and temperature read from the file name.

    Raises:
        ValueError: on an entry with neither ``infos`` nor ``accs``, mismatched lengths, or an
            ``idx`` outside the puzzle table (entry named).
    """
    log = existing(path)
    table = load_puzzles(puzzles if puzzles is not None else _default_puzzles(log))
    entries = read_json(log)
    if not isinstance(entries, list):
        raise ValueError(f"{log}: expected a JSON list of puzzle entries")
    name = _LOG_NAME.match(log.name)
    model = name.group("model") if name else None
    temperature = float(name.group("temperature")) if name else None
    queries = []
    for n, entry in enumerate(entries):
        where = f"{log} entry {n}"
        idx = int(require(entry, "idx", where))
        if not 0 <= idx < len(table):
            raise ValueError(f"{where}: idx {idx} outside the {len(table)} puzzles of the table")
        ys = require(entry, "ys", where)
        if "infos" in entry:
            style, raw = "cot", [info.get("r") if isinstance(info, dict) else None for info in entry["infos"]]
        elif "accs" in entry:
            style, raw = "standard", entry["accs"]
        else:
            raise ValueError(f"{where}: neither 'infos' (CoT) nor 'accs' (standard) present")
        if len(raw) != len(ys):
            raise ValueError(f"{where}: {len(ys)} samples but {len(raw)} grades")
        puzzle = table[idx]
        rollouts = [
            Rollout(
                text=y or "",
                label=coerce_label(r, f"{where} sample {i}"),
                meta={"sample": i, "model": model, "temperature": temperature, "prompt_style": style},
            )
            for i, (y, r) in enumerate(zip(ys, raw, strict=True))
        ]
        queries.append(
            Query(
                query_id=f"game24-{idx}",
                domain="game24",
                data_source="game24",
                question=f"Use the numbers {puzzle} and basic arithmetic operations (+ - * /) to obtain 24.",
                ground_truth=puzzle,
                rollouts=rollouts,
            )
        )
    logger.info("game24: %d puzzles from %s", len(queries), log.name)
    return queries
