"""verl parquet rows -> the prompts the warm-up samples from, with the fields the memory needs.

The question stored in the memory is the last user message of ``prompt``: the same text the
reward manager reads from ``raw_prompt`` online (integration/decode.py), so both phases agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PromptRow", "read_prompt_rows", "read_labelled_ids", "domain_of"]

# verl's ``ability`` values -> the answer domains of this package (answers/, decision.py).
_DOMAINS = {
    "math": "math",
    "qa": "qa",
    "choice": "qa",
    "multiple_choice": "qa",
    "mcq": "qa",
    "code": "code",
    "coding": "code",
}


def domain_of(ability: str | None) -> str:
    """The answer domain of a verl ``ability`` (an unknown ability is kept as its own domain)."""
    if not ability:
        return "unknown"
    return _DOMAINS.get(ability.lower(), ability.lower())


@dataclass
class PromptRow:
    """One prompt of a verl dataset."""

    query_id: str
    data_source: str
    domain: str
    messages: list[dict[str, str]]
    ground_truth: str | None
    extra_info: dict[str, Any] = field(default_factory=dict)

    @property
    def question(self) -> str:
        users = [m["content"] for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else self.messages[-1]["content"]


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: 'prompt' must be a non-empty list of chat messages (got {value!r:.80})")
    out = []
    for m in value:
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            raise ValueError(f"{where}: every prompt message needs string 'role' and 'content' (got {m!r:.80})")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def read_prompt_rows(path: str | Path, query_id_key: str = "query_id") -> list[PromptRow]:
    """Read a verl parquet file (one row per prompt).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a row without ``data_source``/``prompt``/``extra_info[query_id_key]``,
            or a duplicated query id (each named with its row number).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {path} does not exist (run `memreward prepare` first)")
    table = pq.read_table(path)
    if table.num_rows == 0:
        raise ValueError(f"dataset {path} has no rows")
    for col in ("data_source", "prompt", "extra_info"):
        if col not in table.column_names:
            raise ValueError(f"dataset {path} has no column {col!r} (columns: {table.column_names})")
    rows: list[PromptRow] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(table.to_pylist()):  # plain Python lists and dicts
        where = f"{path.name} row {i}"
        extra = rec.get("extra_info") or {}
        if not isinstance(extra, dict) or not extra.get(query_id_key):
            raise ValueError(f"{where}: extra_info has no {query_id_key!r} (the prompt's id in the memory)")
        qid = str(extra[query_id_key])
        if qid in seen:
            raise ValueError(f"{where}: query id {qid!r} already used by row {seen[qid]}")
        seen[qid] = i
        source = rec.get("data_source")
        if not isinstance(source, str) or not source:
            raise ValueError(f"{where}: 'data_source' must be a non-empty string (got {source!r})")
        reward_model = rec.get("reward_model") or {}
        gt = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
        rows.append(
            PromptRow(
                query_id=qid,
                data_source=source,
                domain=domain_of(rec.get("ability")),
                messages=_messages(rec["prompt"], where),
                ground_truth=None if gt is None else str(gt),
                extra_info=extra,
            )
        )
    return rows


def read_labelled_ids(path: str | Path) -> list[str]:
    """Labelled query ids from a ``labelled_<ratio>.json`` (``{"query_ids": [...]}``) or a JSON list."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled-id file {path} does not exist")
    obj = json.loads(path.read_text(encoding="utf-8"))
    ids = obj.get("query_ids") if isinstance(obj, dict) else obj
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise ValueError(f"{path}: expected a list of query ids or an object with 'query_ids'")
    return ids
