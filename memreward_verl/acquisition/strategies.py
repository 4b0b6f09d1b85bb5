"""Acquisition strategies: which groups' ground truth is worth buying, behind one registry.

Every strategy scores groups by ``priority`` (buy the highest first; ``-inf`` = never buy) and
states its ``predicted_cag`` (what it expects the pseudo rewards to be off by). Strategies that
learn (CARE) are told the true rewards of the groups that were bought, and only of those.

- ``random``: uniform priorities (the baseline every other strategy is measured against).
- ``uncertainty``: expected CAG under the reward predictor's own probabilities.
- ``care``: expected CAG under a belief from CARE's probes (probes.py), trained online on bought
  groups; groups the probes call reliable (P(CAG = 0) >= ``skip_reliable``) are never bought.
  Until the probes have enough bought groups it scores like ``uncertainty``.
- ``hybrid``: the even mixture of CARE's belief and the predictor's, per answer cluster.

Add one with ``@STRATEGIES.register("name")`` on a :class:`Strategy` subclass.
"""

from __future__ import annotations

import abc
import math
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memreward_verl.acquisition.expected import GroupBelief, expected_cag
from memreward_verl.acquisition.probes import CareProbes, GroupView, ProbeConfig, cluster_stats, group_summary
from memreward_verl.registry import Registry

__all__ = ["STRATEGIES", "Strategy", "StrategyConfig", "Score", "make_strategy"]

STRATEGIES: Registry[type[Strategy]] = Registry("acquisition strategy")


@dataclass
class StrategyConfig:
    """Settings shared by the strategies."""

    seed: int = 0
    # Monte-Carlo draws of the truth for groups whose clusters are right independently (code).
    samples: int = 256
    # "domain": single-answer groups (math, QA) have at most one right answer cluster, as the task
    # says; "independent": every cluster is right with its own probability (the predictor's
    # marginals taken as they are, which also survives answers of one value split over clusters).
    belief: str = "domain"
    # CARE: never buy a group whose pseudo rewards are exactly right with at least this probability.
    skip_reliable: float = 0.9
    probes: ProbeConfig = field(default_factory=ProbeConfig)


@dataclass(frozen=True)
class Score:
    """A strategy's verdict on one group."""

    priority: float  # buy the highest first; -inf: never buy
    predicted_cag: float  # expected CAG of the group's pseudo rewards (the strategy's belief)
    p_reliable: float  # probability the pseudo rewards are exactly right (CAG == 0)

    @property
    def skip(self) -> bool:
        return self.priority == -math.inf


class Strategy(abc.ABC):
    """Base class: score groups; optionally learn from bought ones.

    Thread-safe: scoring and recording hold the strategy's lock.
    """

    name = "base"
    learns = False  # whether record() changes later scores (then held-out examples are worth recording)

    def __init__(self, cfg: StrategyConfig | None = None) -> None:
        self.cfg = cfg or StrategyConfig()
        self._lock = threading.RLock()

    def _exclusive(self, view: GroupView) -> bool:
        if self.cfg.belief not in ("domain", "independent"):
            raise ValueError(f"StrategyConfig.belief must be 'domain' or 'independent' (got {self.cfg.belief!r})")
        return view.exclusive and self.cfg.belief == "domain"

    def _belief(self, view: GroupView) -> GroupBelief:
        inv, _, cp, _ = cluster_stats(view)
        return expected_cag(view.pseudo, inv, cp, self._exclusive(view), self.cfg.samples, self._rng(view))

    def _rng(self, view: GroupView) -> np.random.Generator:
        """Per-group generator: a group's score does not depend on which groups came before it."""
        return np.random.default_rng([self.cfg.seed, zlib.crc32(view.group_id.encode())])

    @abc.abstractmethod
    def score(self, views: Sequence[GroupView]) -> list[Score]:
        """One priority (and predicted CAG) per group; higher = buy first."""

    def record(self, view: GroupView, true_rewards: np.ndarray) -> None:
        """Learn from a bought group (default: nothing to learn)."""
        return None

    @property
    def trained_on(self) -> list[str]:
        """Ids of the groups whose true rewards the strategy has learned from."""
        return []

    def state_dict(self) -> dict:
        """What the strategy has learned, as JSON-able data (a restarted worker continues from it)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` of an earlier instance with the same settings."""
        return None


@STRATEGIES.register("random")
class RandomStrategy(Strategy):
    """Uniform priorities from a seeded stream: same seed and arrival order, same choices."""

    name = "random"

    def __init__(self, cfg: StrategyConfig | None = None) -> None:
        super().__init__(cfg)
        self._stream = np.random.default_rng(self.cfg.seed)
        self._drawn = 0

    def score(self, views: Sequence[GroupView]) -> list[Score]:
        with self._lock:
            draws = self._stream.random(len(views))
            self._drawn += len(views)
        out = []
        for v, d in zip(views, draws):
            b = self._belief(v)
            out.append(Score(float(d), b.expected_cag, b.p_reliable))
        return out

    def state_dict(self) -> dict:
        with self._lock:
            return {"drawn": self._drawn}

    def load_state_dict(self, state: dict) -> None:
        with self._lock:  # replay the stream: a restart continues the same seeded sequence
            self._stream = np.random.default_rng(self.cfg.seed)
            self._drawn = int(state.get("drawn", 0))
            self._stream.random(self._drawn)


@STRATEGIES.register("uncertainty")
class UncertaintyStrategy(Strategy):
    """Expected CAG under the predictor's own probabilities."""

    name = "uncertainty"

    def score(self, views: Sequence[GroupView]) -> list[Score]:
        out = []
        for v in views:
            b = self._belief(v)
            out.append(Score(b.expected_cag, b.expected_cag, b.p_reliable))
        return out


def _care_cluster_p(
    view: GroupView, p_major: float, share_other: float, exclusive: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(inv, cluster probabilities)`` from the probes' two numbers.

    The majority cluster is right with ``p_major``; the expected number of right non-majority
    rollouts, ``share_other * (n - |majority|)``, is spread over the other clusters in proportion
    to the predictor's probabilities (the probes say how many, the predictor says which).
    """
    inv, sizes, cp, major = cluster_stats(view)
    q = np.zeros(len(sizes))
    q[major] = p_major
    others = np.arange(len(sizes)) != major
    if others.any():
        w = cp[others] + 1e-3
        target = share_other * sizes[others].sum()
        q[others] = np.clip(w * target / float((w * sizes[others]).sum()), 0.0, 1.0)
        if exclusive and q[others].sum() > 1.0 - p_major:
            q[others] *= max(0.0, 1.0 - p_major) / q[others].sum()
    return inv, q


@STRATEGIES.register("care")
class CareStrategy(Strategy):
    """CARE: probes trained on bought groups predict the truth; score = expected CAG; skip reliable."""

    name = "care"
    learns = True

    def __init__(self, cfg: StrategyConfig | None = None) -> None:
        super().__init__(cfg)
        self.probes = CareProbes(self.cfg.probes)

    def _probe_score(self, view: GroupView, p_major: float, share: float) -> GroupBelief:
        """Expected CAG under the probes' belief."""
        inv, q = _care_cluster_p(view, p_major, share, self._exclusive(view))
        return expected_cag(view.pseudo, inv, q, self._exclusive(view), self.cfg.samples, self._rng(view))

    def score(self, views: Sequence[GroupView]) -> list[Score]:
        with self._lock:
            prior = [self._belief(v) for v in views]
            ready = bool(views) and self.probes.ready()
            if ready:
                summaries = np.stack([group_summary(v, b) for v, b in zip(views, prior)])
                p_major, share = self.probes.predict(summaries)
            out = []
            for i, v in enumerate(views):
                b = prior[i]
                if ready:
                    b = self._probe_score(v, float(p_major[i]), float(share[i]))
                skip = ready and b.p_reliable >= self.cfg.skip_reliable
                out.append(Score(-math.inf if skip else b.expected_cag, b.expected_cag, b.p_reliable))
            return out

    def record(self, view: GroupView, true_rewards: np.ndarray) -> None:
        with self._lock:
            self.probes.record(view, true_rewards, group_summary(view, self._belief(view)))

    @property
    def trained_on(self) -> list[str]:
        return list(self.probes.trained_on)

    def state_dict(self) -> dict:
        return {"probes": self.probes.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.probes.load_state_dict(state.get("probes", {}))


@STRATEGIES.register("hybrid")
class HybridStrategy(CareStrategy):
    """The even mixture of CARE's belief and the predictor's (per cluster), then expected CAG.

    Where the predictor is already calibrated on labels (MemReward) CARE's probes, trained on a
    few selected groups, add noise; where it is not (the raw vote) they correct it. Averaging the
    two beliefs is the hedge that needs no switch.
    """

    name = "hybrid"

    def _probe_score(self, view: GroupView, p_major: float, share: float) -> GroupBelief:
        inv, q = _care_cluster_p(view, p_major, share, self._exclusive(view))
        _, _, cp, _ = cluster_stats(view)
        q = 0.5 * q + 0.5 * cp
        return expected_cag(view.pseudo, inv, q, self._exclusive(view), self.cfg.samples, self._rng(view))


def make_strategy(name: str, cfg: StrategyConfig | None = None) -> Strategy:
    """A fresh strategy registered as ``name`` (KeyError lists the registered names)."""
    return STRATEGIES.get(name)(cfg)
