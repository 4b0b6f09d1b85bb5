"""Label-free group features of each rollout (self-consistency signals).

GRPO samples n rollouts per prompt; how a rollout sits within its group says a lot about its
correctness without any label (answer agreement alone reaches AUC ~0.85 on real QA rollouts).
These features need the WHOLE group, which is why the online worker collects groups by ``uid``.

Answers are clustered by canonical key (answers/); a rollout without a key joins the cluster of
the most similar answer embedding in its group when the cosine reaches ``agreement_cosine``
(code and free text), else it is a singleton.
"""

from __future__ import annotations

import numpy as np

from memreward_verl.answers import equivalent_keys

__all__ = ["GROUP_FEATURES", "answer_clusters", "group_features", "program_ran", "vote_score"]

# Names of the columns returned by group_features, in order.
GROUP_FEATURES = (
    "share",  # size of own answer cluster / n
    "is_plurality",  # own cluster is a largest cluster (and has a key or a match)
    "parsed",  # a canonical answer could be read
    "group_parsed_share",  # share of the group with a readable answer
    "n_clusters_ratio",  # number of clusters / n
    "entropy",  # normalised entropy of cluster sizes (0 = all agree)
    "top_share",  # size of the largest cluster / n (group confidence)
    "soft_agreement",  # mean answer-embedding cosine to the other rollouts
    "think_agreement",  # mean thinking-embedding cosine to the other rollouts
    "length_z",  # response length z-score within the group
    "log_length",  # log1p(characters) / 10
    "empty",  # response is empty or whitespace
    "exec_ran",  # code: the program ran and its behaviour is its answer (execution/); 0 elsewhere
    "exec_score",  # code: CodeT-style dual agreement x behaviour share, in [0, 1]; 0 elsewhere
)
_SHARE, _EXEC_RAN, _EXEC_SCORE = (GROUP_FEATURES.index(n) for n in ("share", "exec_ran", "exec_score"))


def vote_score(feats):
    """The label-free agreement score the reward stands on where labels prove nothing better.

    The answer-cluster share (majority voting) for every rollout, except a program that ran: its
    execution agreement score (``exec_score``: the behaviour cluster's share combined with CodeT's
    dual agreement and the prompt's own examples), which ranks programs better than the size of
    their behaviour cluster alone on every code set measured (BENCHMARKS.md section 9).

    Args:
        feats: ``[R, len(GROUP_FEATURES)]`` group features, numpy or torch.

    Returns:
        ``[R]`` scores in [0, 1], of the same array type.
    """
    ran = program_ran(feats)
    return ran * feats[:, _EXEC_SCORE] + ~ran * feats[:, _SHARE]


def program_ran(feats):
    """``bool [R]``: the rollout is a program that ran, so its behaviour is its answer (numpy or torch)."""
    return feats[:, _EXEC_RAN] > 0


def answer_clusters(
    keys: list[str | None], answer_emb: np.ndarray, cosine: float, domain: str | None = None
) -> np.ndarray:
    """Cluster id per rollout: equivalent keys share an id; keyless rollouts join by embedding.

    Keys are clustered by :func:`memreward_verl.answers.equivalent_keys`: equal keys, and keys the
    math verifier calls equal (``\\frac{1}{2}`` and ``0.5``, ``x=3`` and ``3``), share a cluster.

    Args:
        keys: canonical answer key per rollout (``None`` when unreadable).
        answer_emb: ``[n, d]`` unit-norm answer embeddings of the group.
        cosine: similarity at which a keyless answer joins another rollout's cluster.
        domain: the group's domain. ``"math"`` compares every key with math-verify, ``"qa"`` and
            ``"code"`` use key equality only; ``None`` (the default) compares only keys that look
            like math expressions (digits or LaTeX, not dates, words or code), which is right for
            every domain.

    Returns:
        ``int64 [n]`` cluster ids.
    """
    n = len(keys)
    ids = np.asarray(equivalent_keys(keys, domain), dtype=np.int64).reshape(n)
    next_id = int(ids.max()) + 1 if n else 0
    sims = answer_emb @ answer_emb.T if n else np.zeros((0, 0))
    for i in range(n):
        if ids[i] != -1:
            continue
        best, best_sim = -1, cosine
        for j in range(n):
            if j != i and (ids[j] != -1 or j < i) and sims[i, j] >= best_sim:
                best, best_sim = j, sims[i, j]
        if best != -1 and ids[best] != -1:
            ids[i] = ids[best]
        else:
            ids[i] = next_id
            next_id += 1
    return ids


def group_features(
    keys: list[str | None],
    texts: list[str],
    answer_emb: np.ndarray,
    think_emb: np.ndarray,
    cosine: float = 0.95,
    exec_cols: np.ndarray | None = None,
    domain: str | None = None,
) -> np.ndarray:
    """Features of every rollout of ONE group.

    Args:
        keys: canonical answer key per rollout.
        texts: raw rollout texts (for lengths).
        answer_emb: ``[n, d]`` unit-norm answer embeddings.
        think_emb: ``[n, d]`` unit-norm thinking embeddings.
        cosine: embedding similarity at which keyless answers agree.
        exec_cols: ``[n, 2]`` (ran, score) of code behaviour; zeros when absent.
        domain: the group's domain (which keys may be equivalent, see :func:`answer_clusters`).

    Returns:
        ``float32 [n, len(GROUP_FEATURES)]``.
    """
    n = len(keys)
    clusters = answer_clusters(keys, answer_emb, cosine, domain)
    sizes = np.bincount(clusters)
    own = sizes[clusters].astype(np.float64)
    # A keyless singleton is "no answer", not a confident lone answer.
    matched = np.array([k is not None or s > 1 for k, s in zip(keys, own)], dtype=np.float64)
    share = own / n * matched
    top = float(own.max()) if n else 0.0
    probs = sizes[sizes > 0] / n
    entropy = float(-(probs * np.log(probs)).sum() / np.log(n)) if n > 1 else 0.0
    parsed = np.array([k is not None for k in keys], dtype=np.float64)

    def mean_other_cos(emb: np.ndarray) -> np.ndarray:
        if n < 2:
            return np.ones(n)
        sims = emb @ emb.T
        return (sims.sum(1) - np.diag(sims)) / (n - 1)

    lengths = np.array([len(t) for t in texts], dtype=np.float64)
    std = lengths.std()
    length_z = (lengths - lengths.mean()) / std if std > 0 else np.zeros(n)
    feats = np.stack(
        [
            share,
            (own == top) * matched,
            parsed,
            np.full(n, parsed.mean()),
            np.full(n, len(sizes) / n),
            np.full(n, entropy),
            np.full(n, top / n),
            mean_other_cos(answer_emb),
            mean_other_cos(think_emb),
            np.clip(length_z, -3, 3),
            np.log1p(lengths) / 10.0,
            np.array([not t.strip() for t in texts], dtype=np.float64),
            *(np.zeros((2, n)) if exec_cols is None else np.asarray(exec_cols, dtype=np.float64).T),
        ],
        axis=1,
    )
    return feats.astype(np.float32)
