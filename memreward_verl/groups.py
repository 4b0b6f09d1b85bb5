"""Groups (a query + its n rollouts) -> node embeddings and group features.

:func:`encode_groups` is the one path from text to numbers, used by the warm-up memory and by
online scoring alike: node text (text.py) -> embeddings (embed.py) -> answer keys (answers/)
-> group features (features.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memreward_verl.answers import group_keys
from memreward_verl.config import MemRewardConfig
from memreward_verl.embed import Embedder
from memreward_verl.features import GROUP_FEATURES, answer_clusters, group_features
from memreward_verl.rollouts import Query
from memreward_verl.text import build_node_text

logger = logging.getLogger(__name__)

__all__ = [
    "EncodedGroups",
    "NodeEmbeddings",
    "CodeBehaviour",
    "code_behaviour",
    "encode_groups",
    "embed_groups",
    "featurise_groups",
    "node_texts",
]

logger = logging.getLogger(__name__)


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
        for qi, sl in enumerate(self.group_slices()):
            ids = answer_clusters(self.answer_keys[sl], self.answer_emb[sl], cosine, self.domains[qi])
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


@dataclass
class NodeEmbeddings:
    """The expensive part of encoding: unit-norm embeddings of every node text.

    Kept apart from answer keys and group features, which are cheap and change with the method:
    a cache of these survives every change to answer parsing or features.
    """

    model_id: str
    query_emb: np.ndarray
    think_emb: np.ndarray
    answer_emb: np.ndarray

    def save(self, path: str | Path) -> None:
        np.savez(
            path,
            model_id=np.array(self.model_id),
            query_emb=self.query_emb,
            think_emb=self.think_emb,
            answer_emb=self.answer_emb,
        )

    @classmethod
    def load(cls, path: str | Path) -> NodeEmbeddings:
        z = np.load(path, allow_pickle=False)
        return cls(str(z["model_id"]), z["query_emb"], z["think_emb"], z["answer_emb"])


def node_texts(queries: list[Query], cfg: MemRewardConfig) -> tuple[list[str], list[str], list[str]]:
    """Query, thinking and answer texts (text.py) of every query and rollout, in flattened order."""
    q_texts, t_texts, a_texts = [], [], []
    for q in queries:
        for r in q.rollouts:
            node = build_node_text(q.question, r.text, cfg.text)
            t_texts.append(node.think)
            a_texts.append(node.answer)
        q_texts.append(build_node_text(q.question, "", cfg.text).query)
    return q_texts, t_texts, a_texts


def embed_groups(
    queries: list[Query], embedder: Embedder, cfg: MemRewardConfig | None = None, show_progress: bool = False
) -> NodeEmbeddings:
    """Embed every query, thinking and answer node text of ``queries``."""
    cfg = cfg or MemRewardConfig()
    q_texts, t_texts, a_texts = node_texts(queries, cfg)
    return NodeEmbeddings(
        model_id=embedder.model_id,
        query_emb=embedder.encode(q_texts, show_progress=show_progress),
        think_emb=embedder.encode(t_texts, show_progress=show_progress),
        answer_emb=embedder.encode(a_texts, show_progress=show_progress),
    )


# Per rollout of a code group: (behaviour cluster, combined agreement score), or None where the
# program did not run (it keeps its syntactic answer key). ``None`` for a whole group: not code, or
# the group could not be run (its status is logged).
CodeBehaviour = list[tuple[int, float] | None]


def code_behaviour(queries: list[Query], cfg: MemRewardConfig, progress: bool = False) -> list[CodeBehaviour | None]:
    """Run the programs of every ``code`` group in the sandbox (execution/); ``None`` for other groups."""
    out: list[CodeBehaviour | None] = [None] * len(queries)
    code = [i for i, q in enumerate(queries) if q.domain == "code"]
    if not code or not cfg.execution.enabled:
        return out
    from memreward_verl.execution import run_groups

    results = run_groups([queries[i] for i in code], cfg.execution.execution_config(), cfg.execution.workers, progress)
    for i, gb in zip(code, results):
        if not gb.ok:
            logger.info("code group %s keeps syntactic agreement: %s (%s)", queries[i].query_id, gb.status, gb.error)
            continue
        out[i] = [
            (int(p.cluster), float(p.combined or 0.0)) if p.status == "ok" and (p.cluster_share or 0) > 0 else None
            for p in gb.programs
        ]
    return out


def featurise_groups(
    queries: list[Query],
    emb: NodeEmbeddings,
    cfg: MemRewardConfig | None = None,
    behaviour: list[CodeBehaviour | None] | None = None,
) -> EncodedGroups:
    """Answer keys and group features of ``queries`` on top of their embeddings.

    A code rollout whose program ran gets its behaviour as its answer key (``exec:<cluster>``):
    programs that do the same thing agree, in the vote, the agreement edges and the features.

    Args:
        behaviour: :func:`code_behaviour` of ``queries`` (computed here when ``None``).

    Raises:
        ValueError: if ``emb`` or ``behaviour`` was made for other groups (their sizes differ).
    """
    cfg = cfg or MemRewardConfig()
    n_rollouts = sum(len(q.rollouts) for q in queries)
    if emb.query_emb.shape[0] != len(queries) or emb.answer_emb.shape[0] != n_rollouts:
        raise ValueError(
            f"embeddings hold {emb.query_emb.shape[0]} queries / {emb.answer_emb.shape[0]} rollouts, "
            f"the groups {len(queries)} / {n_rollouts}"
        )
    behaviour = code_behaviour(queries, cfg) if behaviour is None else behaviour
    if len(behaviour) != len(queries):
        raise ValueError(f"code behaviour holds {len(behaviour)} groups, the queries {len(queries)}")
    owner, labels, raw, keys = [], [], [], []
    for qi, q in enumerate(queries):
        for r in q.rollouts:
            owner.append(qi)
            raw.append(r.text)
            labels.append(-1 if r.label is None else int(r.label))
        keys.extend(group_keys([r.text for r in q.rollouts], q.domain, q.question, q.extra))  # as verifiers read
    feats = np.zeros((n_rollouts, len(GROUP_FEATURES)), dtype=np.float32)
    start = 0
    for qi, q in enumerate(queries):
        sl = slice(start, start + len(q.rollouts))
        exec_cols = None
        if behaviour[qi] is not None:
            if len(behaviour[qi]) != len(q.rollouts):
                raise ValueError(f"code behaviour of query {q.query_id!r} has {len(behaviour[qi])} programs")
            exec_cols = np.zeros((len(q.rollouts), 2))
            for j, b in enumerate(behaviour[qi]):
                if b is not None:
                    keys[sl.start + j] = f"exec:{b[0]}"
                    exec_cols[j] = (1.0, b[1])
        feats[sl] = group_features(
            keys[sl], raw[sl], emb.answer_emb[sl], emb.think_emb[sl], cfg.graph.agreement_cosine, exec_cols, q.domain
        )
        start = sl.stop
    return EncodedGroups(
        model_id=emb.model_id,
        query_ids=[q.query_id for q in queries],
        domains=[q.domain for q in queries],
        query_emb=emb.query_emb,
        think_emb=emb.think_emb,
        answer_emb=emb.answer_emb,
        feats=feats,
        rollout_query=np.asarray(owner, dtype=np.int64),
        labels=np.asarray(labels, dtype=np.int8),
        answer_keys=keys,
    )


def encode_groups(
    queries: list[Query],
    embedder: Embedder,
    cfg: MemRewardConfig | None = None,
    show_progress: bool = False,
) -> EncodedGroups:
    """Embed and featurise groups: :func:`embed_groups` then :func:`featurise_groups`.

    Args:
        queries: groups to encode (every rollout is kept, empty texts included).
        embedder: the sentence embedder; its ``model_id`` is recorded.
        cfg: configuration (text split, agreement cosine).
        show_progress: show embedding progress bars.

    Returns:
        :class:`EncodedGroups` with true labels where the records carry them (-1 otherwise).
    """
    cfg = cfg or MemRewardConfig()
    return featurise_groups(queries, embed_groups(queries, embedder, cfg, show_progress), cfg)
