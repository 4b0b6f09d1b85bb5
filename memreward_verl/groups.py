"""Groups (a query + its n rollouts) -> node embeddings and group features.

:func:`encode_groups` is the one path from text to numbers, used by the warm-up memory and by
online scoring alike: node text (text.py) -> embeddings (embed.py) -> answer keys (answers.py)
-> group features (features.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memreward_verl.answers import answer_key
from memreward_verl.config import MemRewardConfig
from memreward_verl.embed import Embedder
from memreward_verl.features import GROUP_FEATURES, answer_clusters, group_features
from memreward_verl.rollouts import Query
from memreward_verl.text import build_node_text

__all__ = ["EncodedGroups", "encode_groups"]


@dataclass
class EncodedGroups:
    """Numbers for a list of groups, rollouts flattened in query order.

    Shapes: ``query_emb [Q, d]``, ``think_emb``/``answer_emb [R, d]``, ``feats [R, F]``,
    ``rollout_query [R]`` (index of the rollout's query), ``labels [R]`` (-1 = unknown).
    """

    model_id: str
    query_ids: list[str]
    domains: list[str]
    query_emb: np.ndarray
    think_emb: np.ndarray
    answer_emb: np.ndarray
    feats: np.ndarray
    rollout_query: np.ndarray
    labels: np.ndarray
    answer_keys: list[str | None]

    @property
    def num_queries(self) -> int:
        return len(self.query_ids)

    @property
    def num_rollouts(self) -> int:
        return int(self.rollout_query.shape[0])

    def group_slices(self) -> list[slice]:
        """Slice of the flattened rollouts belonging to each query."""
        counts = np.bincount(self.rollout_query, minlength=self.num_queries)
        ends = np.cumsum(counts)
        return [slice(int(e - c), int(e)) for c, e in zip(counts, ends)]

    def cluster_ids(self, cosine: float) -> np.ndarray:
        """Answer-cluster id per rollout, unique across groups: ``int64 [R]``."""
        out = np.zeros(self.num_rollouts, dtype=np.int64)
        offset = 0
        for sl in self.group_slices():
            ids = answer_clusters(self.answer_keys[sl], self.answer_emb[sl], cosine)
            out[sl] = ids + offset
            offset += int(ids.max()) + 1 if len(ids) else 0
        return out

    def save(self, path: str | Path) -> None:
        np.savez(
            path,
            model_id=np.array(self.model_id),
            query_ids=np.array(self.query_ids, dtype=object).astype(str),
            domains=np.array(self.domains, dtype=object).astype(str),
            query_emb=self.query_emb,
            think_emb=self.think_emb,
            answer_emb=self.answer_emb,
            feats=self.feats,
            rollout_query=self.rollout_query,
            labels=self.labels,
            answer_keys=np.array(["" if k is None else "\x00" + k for k in self.answer_keys]),
        )

    @classmethod
    def load(cls, path: str | Path) -> EncodedGroups:
        z = np.load(path, allow_pickle=False)
        return cls(
            model_id=str(z["model_id"]),
            query_ids=[str(x) for x in z["query_ids"]],
            domains=[str(x) for x in z["domains"]],
            query_emb=z["query_emb"],
            think_emb=z["think_emb"],
            answer_emb=z["answer_emb"],
            feats=z["feats"],
            rollout_query=z["rollout_query"],
            labels=z["labels"],
            answer_keys=[str(k)[1:] if str(k) else None for k in z["answer_keys"]],
        )


def encode_groups(
    queries: list[Query],
    embedder: Embedder,
    cfg: MemRewardConfig | None = None,
    show_progress: bool = False,
) -> EncodedGroups:
    """Embed and featurise groups.

    Args:
        queries: groups to encode (every rollout is kept, empty texts included).
        embedder: the sentence embedder; its ``model_id`` is recorded.
        cfg: configuration (text split, agreement cosine).
        show_progress: show embedding progress bars.

    Returns:
        :class:`EncodedGroups` with true labels where the records carry them (-1 otherwise).
    """
    cfg = cfg or MemRewardConfig()
    q_texts, t_texts, a_texts, raw, owner, keys, labels = [], [], [], [], [], [], []
    for qi, q in enumerate(queries):
        for r in q.rollouts:
            node = build_node_text(q.question, r.text, cfg.text)
            t_texts.append(node.think)
            a_texts.append(node.answer)
            raw.append(r.text)
            owner.append(qi)
            keys.append(answer_key(node.answer, q.domain))
            labels.append(-1 if r.label is None else int(r.label))
        q_texts.append(build_node_text(q.question, "", cfg.text).query)
    query_emb = embedder.encode(q_texts, show_progress=show_progress)
    think_emb = embedder.encode(t_texts, show_progress=show_progress)
    answer_emb = embedder.encode(a_texts, show_progress=show_progress)
    rollout_query = np.asarray(owner, dtype=np.int64)
    feats = np.zeros((len(raw), len(GROUP_FEATURES)), dtype=np.float32)
    start = 0
    for q in queries:
        sl = slice(start, start + len(q.rollouts))
        feats[sl] = group_features(keys[sl], raw[sl], answer_emb[sl], think_emb[sl], cosine=cfg.graph.agreement_cosine)
        start = sl.stop
    return EncodedGroups(
        model_id=embedder.model_id,
        query_ids=[q.query_id for q in queries],
        domains=[q.domain for q in queries],
        query_emb=query_emb,
        think_emb=think_emb,
        answer_emb=answer_emb,
        feats=feats,
        rollout_query=rollout_query,
        labels=np.asarray(labels, dtype=np.int8),
        answer_keys=keys,
    )
