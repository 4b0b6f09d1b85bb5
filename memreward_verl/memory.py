"""ExperienceMemory: the warm-up rollouts as numbers, their known labels and a query index.

The memory holds every warm-up group (labelled or not: unlabelled groups are free context) and
the labels of the LABELLED queries only; labels of other queries never enter it. A faiss inner-
product index over unit-norm query embeddings finds neighbours (exact; IVF above a size threshold).

On disk (format version 1), written atomically (temp dir + rename), no pickled code::

    memory.json        version, embedder model id, query ids, domains, labelled ids
    arrays.npz         embeddings, features, rollout->query map, labels
    answer_keys.json   canonical answer key per rollout
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from memreward_verl.config import MemoryConfig
from memreward_verl.files import FileFormatError, atomic_replace_dir, read_json, read_npz
from memreward_verl.groups import EncodedGroups

__all__ = ["ExperienceMemory", "MemoryFormatError", "QueryIndex", "FORMAT_VERSION"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ARRAYS = ("query_emb", "think_emb", "answer_emb", "feats", "rollout_query", "labels")


class MemoryFormatError(ValueError):
    """A saved memory is missing, corrupt, of another version or of another embedder."""


_META_KEYS = ("format_version", "model_id", "query_ids", "domains", "labelled_ids", "num_rollouts")


def _check_sizes(path: Path, meta: dict, arrays: dict[str, np.ndarray], keys: list) -> None:
    """memory.json, arrays.npz and answer_keys.json must describe the same queries and rollouts."""
    n_q, n_r = len(meta["query_ids"]), meta["num_rollouts"]
    sizes = {
        "answer_keys.json entries": (len(keys), n_r),
        "arrays.npz think_emb rows": (arrays["think_emb"].shape[0], n_r),
        "arrays.npz labels": (arrays["labels"].shape[0], n_r),
        "arrays.npz query_emb rows": (arrays["query_emb"].shape[0], n_q),
        "memory.json domains": (len(meta["domains"]), n_q),
    }
    wrong = [f"{what} {got} != {want}" for what, (got, want) in sizes.items() if got != want]
    if wrong:
        raise MemoryFormatError(
            f"memory at {path} is corrupt: sizes disagree with memory.json ({n_q} queries, {n_r} rollouts): "
            + "; ".join(wrong)
        )


class QueryIndex:
    """Cosine kNN over unit-norm query embeddings (faiss; exact below ``approx_index_threshold``)."""

    def __init__(self, emb: np.ndarray, cfg: MemoryConfig | None = None) -> None:
        import faiss

        cfg = cfg or MemoryConfig()
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        n, d = emb.shape
        if n >= cfg.approx_index_threshold:
            nlist = min(cfg.ivf_nlist, max(1, n // 39))
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(emb)
            index.nprobe = cfg.ivf_nprobe
            self.exact = False
            self._quantizer = quantizer  # keep alive: faiss does not own it
        else:
            index = faiss.IndexFlatIP(d)
            self.exact = True
        index.add(emb)
        self.index = index
        self.size = n

    def search(self, emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours: ``(similarities [m, k], ids [m, k])``; missing slots have id -1."""
        k = min(k, self.size)
        if k == 0 or len(emb) == 0:
            return np.zeros((len(emb), 0), np.float32), np.zeros((len(emb), 0), np.int64)
        sims, ids = self.index.search(np.ascontiguousarray(emb, dtype=np.float32), k)
        return sims, ids.astype(np.int64)


class ExperienceMemory:
    """Warm-up groups plus the labels of the labelled queries.

    Args:
        groups: encoded warm-up groups (their true labels are NOT trusted: see ``labelled_ids``).
        labelled_ids: query ids whose labels the memory may hold; all other labels are set to -1.
        cfg: index settings.
    """

    def __init__(self, groups: EncodedGroups, labelled_ids: set[str] | list[str], cfg: MemoryConfig | None = None):
        self.cfg = cfg or MemoryConfig()
        self.groups = groups
        known = set(groups.query_ids)
        unknown = sorted(set(labelled_ids) - known)
        if unknown:
            raise ValueError(f"labelled query ids not in the memory: {unknown[:5]}{' ...' if len(unknown) > 5 else ''}")
        self.labelled_ids = sorted(set(labelled_ids))
        labelled = set(self.labelled_ids)
        is_labelled_query = np.array([qid in labelled for qid in groups.query_ids], dtype=bool)
        self.query_labelled = is_labelled_query
        mask = is_labelled_query[groups.rollout_query]
        self.labels = np.where(mask, groups.labels, -1).astype(np.int8)
        self.index = QueryIndex(groups.query_emb, self.cfg)

    # -- accessors ---------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.groups.model_id

    @property
    def num_queries(self) -> int:
        return self.groups.num_queries

    @property
    def num_rollouts(self) -> int:
        return self.groups.num_rollouts

    def set_labels(self, labels: np.ndarray) -> None:
        """Replace the stored labels (``[R]``, -1 unknown); used by label acquisition and tests."""
        labels = np.asarray(labels, dtype=np.int8)
        if labels.shape != self.labels.shape:
            raise ValueError(f"labels must have shape {self.labels.shape} (got {labels.shape})")
        self.labels = labels

    def __repr__(self) -> str:
        return (
            f"ExperienceMemory(queries={self.num_queries}, rollouts={self.num_rollouts}, "
            f"labelled_queries={len(self.labelled_ids)}, model_id={self.model_id!r})"
        )

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the memory directory atomically (a crash leaves the old copy intact)."""
        g = self.groups
        meta = {
            "format_version": FORMAT_VERSION,
            "model_id": g.model_id,
            "query_ids": g.query_ids,
            "domains": g.domains,
            "labelled_ids": self.labelled_ids,
            "num_rollouts": g.num_rollouts,
        }

        def fill(tmp: Path) -> None:
            (tmp / "memory.json").write_text(json.dumps(meta), encoding="utf-8")
            arrays = {name: getattr(g, name) for name in _ARRAYS if name != "labels"}
            np.savez(tmp / "arrays.npz", labels=self.labels, **arrays)
            (tmp / "answer_keys.json").write_text(json.dumps(g.answer_keys), encoding="utf-8")

        atomic_replace_dir(path, fill)

    @classmethod
    def load(cls, path: str | Path, expected_model_id: str | None = None, cfg: MemoryConfig | None = None):
        """Read a memory directory.

        Raises:
            MemoryFormatError: a missing, empty, truncated or malformed file (named, with what is wrong),
                another format version, or an embedder model id different from ``expected_model_id``.
        """
        path = Path(path)
        for name in ("memory.json", "arrays.npz", "answer_keys.json"):
            if not (path / name).is_file():
                raise MemoryFormatError(f"memory at {path} is missing {name}")
        try:
            meta = read_json(path / "memory.json", dict, _META_KEYS)
            arrays = read_npz(path / "arrays.npz", _ARRAYS)
            keys = read_json(path / "answer_keys.json", list)
        except FileFormatError as exc:
            raise MemoryFormatError(f"memory at {path} is corrupt: {exc}") from None
        if meta["format_version"] != FORMAT_VERSION:
            raise MemoryFormatError(
                f"memory at {path} has format version {meta['format_version']!r}; this code reads {FORMAT_VERSION}"
            )
        if expected_model_id is not None and meta["model_id"] != expected_model_id:
            raise MemoryFormatError(
                f"memory at {path} was embedded with {meta['model_id']!r}, but the embedder is {expected_model_id!r}"
            )
        _check_sizes(path, meta, arrays, keys)
        groups = EncodedGroups(
            model_id=meta["model_id"],
            query_ids=meta["query_ids"],
            domains=meta["domains"],
            answer_keys=keys,
            **{k: v for k, v in arrays.items() if k != "labels"},
            labels=arrays["labels"],
        )
        return cls(groups, meta["labelled_ids"], cfg)
