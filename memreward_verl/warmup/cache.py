"""Generations on disk, so an interrupted warm-up resumes where it stopped.

``meta.json`` records the model, the sampling settings and the sampler's version; reusing the folder
with other settings, or one written by an older sampler, is an error (rollouts of another policy must
not mix into the memory). ``generations.jsonl`` gains one line per prompt after each batch. A torn
last line (the process died mid-write) is dropped with a warning and that batch is generated again.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from memreward_verl.files import atomic_write_json, atomic_write_text
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["GenerationCache", "CacheMismatchError"]

logger = logging.getLogger(__name__)

# Bumped when the sampler itself changes what it draws for the same settings: 2 = transformers samples
# like verl's rollout (no default top_k=50, no model generation_config), so caches of 1 are refused.
SAMPLER_VERSION = 2


class CacheMismatchError(ValueError):
    """The cache folder holds generations made with another model, other sampling settings or an older sampler."""


class GenerationCache:
    """Responses per query id, persisted as JSON Lines."""

    def __init__(self, folder: str | Path, model_path: str, sampling: SamplingConfig) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"model": str(model_path), "sampling": sampling.to_dict(), "sampler_version": SAMPLER_VERSION}
        meta_path = self.folder / "meta.json"
        if meta_path.is_file():
            old = json.loads(meta_path.read_text(encoding="utf-8"))
            if old != meta:
                raise CacheMismatchError(
                    f"generation cache {self.folder} was made with {old}, not {meta}; "
                    "use another --cache-dir or delete it"
                )
        else:
            atomic_write_json(meta_path, meta)
        self.path = self.folder / "generations.jsonl"
        self.responses: dict[str, list[str]] = {}
        self.torn_lines = 0
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        good = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                self.responses[str(rec["query_id"])] = [str(t) for t in rec["responses"]]
                good.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                self.torn_lines += 1
                logger.warning("%s line %d is incomplete (interrupted write); it will be regenerated", self.path, i + 1)
        if self.torn_lines:  # rewrite without the torn line so later appends stay parseable
            atomic_write_text(self.path, "".join(g + "\n" for g in good))

    def __contains__(self, query_id: str) -> bool:
        return query_id in self.responses

    def add(self, items: dict[str, list[str]]) -> None:
        """Record one batch (appended and flushed together)."""
        with open(self.path, "a", encoding="utf-8") as fh:
            for qid, texts in items.items():
                fh.write(json.dumps({"query_id": qid, "responses": texts}) + "\n")
            fh.flush()
        self.responses.update(items)
