"""What an acquisition strategy sees of a group, and CARE's two online probes.

A :class:`GroupView` holds only label-free information: the reward predictor's probabilities, the
pseudo rewards the group gets unless its label is bought, answer clusters and the group features
of ``features.py``. :func:`group_summary` turns it into one fixed-length vector.

:class:`CareProbes` are two small logistic regressions over that vector, trained ONLY on groups
whose labels were bought (``record``): P(the majority answer cluster is right) and the share of
non-majority rollouts that are right. They are what CARE uses instead of the predictor's own
(possibly overconfident) probabilities.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from memreward_verl.acquisition.expected import GroupBelief, cluster_index, expected_cag
from memreward_verl.decision import single_answer
from memreward_verl.features import GROUP_FEATURES

__all__ = [
    "GroupView",
    "ProbeConfig",
    "CareProbes",
    "SUMMARY_FEATURES",
    "cluster_stats",
    "group_summary",
    "predictor_belief",
]

SUMMARY_FEATURES = (
    "top_share",  # largest answer cluster / n
    "second_share",  # second largest / n
    "n_clusters_ratio",  # clusters / n
    "entropy",  # normalised entropy of cluster sizes
    "parsed_share",  # share of rollouts with a readable answer
    "empty_share",  # share of empty responses
    "log_length",  # mean log1p(characters) / 10
    "major_length_gap",  # mean log length of the majority cluster minus the rest
    "soft_agreement",  # mean answer-embedding agreement
    "think_agreement",  # mean thinking-embedding agreement
    "p_major",  # predictor: mean probability of the majority cluster
    "p_best_other",  # predictor: highest mean probability of another cluster
    "p_mean",  # predictor: mean probability
    "pseudo_share",  # share of rollouts whose pseudo reward is 1
    "pseudo_split",  # pseudo rewards are not all equal (the group carries a gradient)
    "pred_ecag",  # expected CAG under the predictor / sqrt(n)
    "pred_reliable",  # P(CAG = 0) under the predictor
    "log_n",  # log(n) / 5
)

_COL = {name: i for i, name in enumerate(GROUP_FEATURES)}


@dataclass(frozen=True)
class GroupView:
    """Label-free information about one group (a prompt and its n rollouts).

    Attributes:
        group_id: stable id (the prompt's uid / query id).
        probs: ``[n]`` predicted probability that each rollout is right.
        pseudo: ``[n]`` 0/1 rewards the group gets if its label is NOT bought.
        clusters: ``[n]`` answer-cluster id per rollout (only equality matters).
        feats: ``[n, len(GROUP_FEATURES)]`` group features (``features.group_features``) or None.
        exclusive: the task has a single right answer (math, multiple choice): at most one
            cluster is right.
    """

    group_id: str
    probs: np.ndarray
    pseudo: np.ndarray
    clusters: np.ndarray
    feats: np.ndarray | None = None
    exclusive: bool = True

    @classmethod
    def of_group(
        cls,
        group_id: str,
        probs: np.ndarray,
        pseudo: np.ndarray,
        clusters: np.ndarray,
        feats: np.ndarray | None,
        domain: str,
    ) -> GroupView:
        """The view of one group of ``domain``, as every caller builds it: probabilities and pseudo
        rewards as float64, ``exclusive`` from the domain (:func:`decision.single_answer`)."""
        return cls(
            group_id=group_id,
            probs=np.asarray(probs, dtype=np.float64),
            pseudo=np.asarray(pseudo, dtype=np.float64),
            clusters=np.asarray(clusters),
            feats=feats,
            exclusive=bool(single_answer([domain])[0]),
        )

    @property
    def n(self) -> int:
        return int(len(self.probs))


def cluster_stats(view: GroupView) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(inv, sizes, cluster mean probabilities, majority cluster)``; ties go to the likelier cluster."""
    inv, sizes = cluster_index(view.clusters)
    probs = np.asarray(view.probs, dtype=np.float64)
    cp = np.bincount(inv, weights=probs, minlength=len(sizes)) / np.maximum(sizes, 1)
    major = int(np.lexsort((-np.arange(len(sizes)), cp, sizes))[-1])  # size, then prob, then first
    return inv, sizes, cp, major


def predictor_belief(view: GroupView, samples: int = 256, seed: int = 0) -> GroupBelief:
    """Expected CAG of the pseudo rewards under the predictor's own cluster probabilities."""
    inv, _, cp, _ = cluster_stats(view)
    return expected_cag(view.pseudo, inv, cp, view.exclusive, samples, np.random.default_rng(seed))


def group_summary(view: GroupView, belief: GroupBelief | None = None) -> np.ndarray:
    """``float64 [len(SUMMARY_FEATURES)]`` label-free summary of one group."""
    n = view.n
    inv, sizes, cp, major = cluster_stats(view)
    desc = np.sort(sizes)[::-1]
    frac = sizes / n
    entropy = float(-(frac * np.log(frac)).sum() / math.log(n)) if n > 1 else 0.0
    f = view.feats
    in_major = inv == major
    if f is not None and len(f):
        parsed = float(f[:, _COL["parsed"]].mean())
        empty = float(f[:, _COL["empty"]].mean())
        loglen = f[:, _COL["log_length"]].astype(np.float64)
        gap = float(loglen[in_major].mean() - loglen[~in_major].mean()) if (~in_major).any() else 0.0
        soft = float(f[:, _COL["soft_agreement"]].mean())
        think = float(f[:, _COL["think_agreement"]].mean())
        mean_len = float(loglen.mean())
    else:
        parsed, empty, gap, soft, think, mean_len = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
    belief = belief or predictor_belief(view)
    pseudo = np.asarray(view.pseudo, dtype=np.float64)
    others = np.delete(cp, major)
    return np.array(
        [
            desc[0] / n,
            desc[1] / n if len(desc) > 1 else 0.0,
            len(sizes) / n,
            entropy,
            parsed,
            empty,
            mean_len,
            gap,
            soft,
            think,
            cp[major],
            others.max() if len(others) else 0.0,
            float(np.mean(view.probs)),
            pseudo.mean(),
            float(pseudo.min() != pseudo.max()),
            belief.expected_cag / math.sqrt(max(n, 1)),
            belief.p_reliable,
            math.log(max(n, 1)) / 5.0,
        ],
        dtype=np.float64,
    )


@dataclass
class ProbeConfig:
    """Settings of CARE's probes."""

    # Fewer bought groups than this (or one class only): the probes abstain and CARE uses the
    # predictor's belief; a logistic regression on a handful of groups is noise.
    min_groups: int = 8
    # Inverse L2 strength of both logistic regressions (small data: keep them smooth).
    c: float = 0.5


class CareProbes:
    """P(majority right) and the right share of non-majority rollouts, learned from bought groups only.

    Thread-safe: ``record`` and ``predict`` may be called from several threads.
    """

    def __init__(self, cfg: ProbeConfig | None = None) -> None:
        self.cfg = cfg or ProbeConfig()
        self._lock = threading.Lock()
        self._x: list[np.ndarray] = []
        self._major: list[float] = []
        self._other: list[tuple[float, float]] = []  # (right share of non-majority rollouts, how many)
        self.trained_on: list[str] = []  # group ids, in order: the audit trail of what was learned from
        self._models: tuple | None = None
        self._dirty = False

    def __len__(self) -> int:
        return len(self.trained_on)

    def record(self, view: GroupView, true_rewards: np.ndarray, summary: np.ndarray | None = None) -> None:
        """Learn from one BOUGHT group (its true 0/1 rewards)."""
        true = np.asarray(true_rewards, dtype=np.float64)
        if true.shape != (view.n,):
            raise ValueError(f"true_rewards must have shape ({view.n},) (got {true.shape})")
        inv, _, _, major = cluster_stats(view)
        in_major = inv == major
        x = summary if summary is not None else group_summary(view)
        with self._lock:
            self._x.append(x)
            self._major.append(float(true[in_major].mean() >= 0.5))
            rest = true[~in_major]
            self._other.append((float(rest.mean()) if len(rest) else 0.0, float(len(rest))))
            self.trained_on.append(view.group_id)
            self._dirty = True

    def state_dict(self) -> dict:
        """The bought groups learned from (summaries, targets, ids), as JSON-able lists."""
        with self._lock:
            return {
                "x": [x.tolist() for x in self._x],
                "major": list(self._major),
                "other": [list(o) for o in self._other],
                "trained_on": list(self.trained_on),
            }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (replaces what was learned so far).

        Raises:
            ValueError: lists of different lengths or summaries of another width (naming the key).
        """
        x = [np.asarray(v, dtype=np.float64) for v in state.get("x", [])]
        major = [float(v) for v in state.get("major", [])]
        other = [(float(a), float(b)) for a, b in state.get("other", [])]
        ids = [str(v) for v in state.get("trained_on", [])]
        if not len(x) == len(major) == len(other) == len(ids):
            raise ValueError(
                f"CARE probe state: 'x', 'major', 'other', 'trained_on' differ in length "
                f"({len(x)}, {len(major)}, {len(other)}, {len(ids)})"
            )
        if any(v.shape != (len(SUMMARY_FEATURES),) for v in x):
            raise ValueError(f"CARE probe state: every 'x' row must have {len(SUMMARY_FEATURES)} features")
        with self._lock:
            self._x, self._major, self._other, self.trained_on = x, major, other, ids
            self._models, self._dirty = None, True

    def _fit(self) -> tuple | None:
        """(scaler mean, std, major model, other model or rate); None while abstaining."""
        if len(self._x) < self.cfg.min_groups:
            return None
        x = np.stack(self._x)
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-8, std, 1.0)
        xs = (x - mean) / std
        y = np.asarray(self._major)
        if len(np.unique(y)) < 2:
            return None
        major = LogisticRegression(C=self.cfg.c, max_iter=1000).fit(xs, y)
        share = np.array([s for s, _ in self._other])
        count = np.array([c for _, c in self._other])
        keep = count > 0
        if keep.sum() >= 2 and 0.0 < share[keep].mean() < 1.0:
            # A fractional target as two weighted rows: a proper probability, no clipping needed.
            xx = np.concatenate([xs[keep], xs[keep]])
            yy = np.concatenate([np.ones(keep.sum()), np.zeros(keep.sum())])
            ww = np.concatenate([share[keep], 1.0 - share[keep]]) * np.concatenate([count[keep], count[keep]])
            other = LogisticRegression(C=self.cfg.c, max_iter=1000).fit(xx, yy, sample_weight=ww)
        else:
            other = float((share[keep] * count[keep]).sum() + 0.5) / float(count[keep].sum() + 1.0)
        return mean, std, major, other

    def ready(self) -> bool:
        """Whether the probes predict (else CARE falls back to the predictor's belief)."""
        with self._lock:
            if self._dirty:
                self._models, self._dirty = self._fit(), False
            return self._models is not None

    def predict(self, summaries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(P(majority right), right share of non-majority rollouts)``, each ``[m]``, for ``[m, F]`` summaries.

        Raises:
            RuntimeError: when not :meth:`ready`.
        """
        if not self.ready():
            raise RuntimeError("CARE probes are not trained yet (too few bought groups)")
        with self._lock:
            mean, std, major, other = self._models
        xs = (np.atleast_2d(summaries) - mean) / std
        p_major = major.predict_proba(xs)[:, 1]
        share = other.predict_proba(xs)[:, 1] if isinstance(other, LogisticRegression) else np.full(len(xs), other)
        return p_major, share
