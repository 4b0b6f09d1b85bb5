"""The majority-vote service (``reward_mode="majority_vote"``): TTRL-style pseudo-labels per group.

No artifact, memory or embedder: a rollout gets 1 when its normalised answer is its group's
plurality answer (collector.py collects the group first).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

import numpy as np

from memreward_verl.acquisition.oracle import LabelOracle
from memreward_verl.answers import rollout_key, unify_keys
from memreward_verl.reward import AcquisitionInfo, RewardRule, RewardSample, majority_vote_rewards
from memreward_verl.serve.collector import Group, GroupCollector, GroupOutcome
from memreward_verl.serve.options import AcquireOptions, CollectOptions

__all__ = ["MajorityVoteService"]

logger = logging.getLogger(__name__)


class MajorityVoteService(GroupCollector):
    """TTRL-style pseudo-labels: each group votes on its normalised answers; no memory, GNN or embedder.

    With ``acquire`` (the CARE paper's setting), complete groups are offered as in
    :class:`MemoryService` with the vote shares as probabilities and equal answers as clusters; a
    bought group gets the oracle's rewards instead of its vote.

    A rollout's answer is :func:`memreward_verl.answers.rollout_key` of its whole response (what its
    verifier reads), the same keys the GNN's group features use; the rule (ties, unparseable answers)
    is :func:`memreward_verl.reward.majority_vote_rewards`.
    Without an embedder, an answer that has no key (long free text, empty output) is unparseable;
    it is not matched by embedding as the offline features do. A straggler (arrived after its group
    closed) is compared with the plurality answers its group had; ``pred_prob`` is the share of the
    group giving the rollout's answer.

    Args:
        labelled_ids: query ids whose rollouts get ground truth instead (routed by the managers).
        rule: only ``abstain_reward`` is used (neutral timeouts).
        cfg: collection settings (``grow_memory`` must be off).
        clock: monotonic clock (tests substitute a fake).
        oracle: labels of bought groups with ``acquire`` (default: :class:`VerifierOracle`).
        acquire: online label acquisition (None or ``strategy=None``: off).
    """

    def __init__(
        self,
        labelled_ids: frozenset[str] | set[str] | list[str] = frozenset(),
        rule: RewardRule | None = None,
        cfg: CollectOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        oracle: LabelOracle | None = None,
        acquire: AcquireOptions | None = None,
    ) -> None:
        super().__init__(rule or RewardRule("majority_vote"), cfg or CollectOptions(), clock, acquire)
        if self.cfg.grow_memory:
            raise ValueError("'grow_memory' needs a memory; reward mode 'majority_vote' has none")
        self.labelled_ids = frozenset(labelled_ids)
        # uid -> (answer counts, group size) of closed groups, for stragglers
        self._votes: OrderedDict[str, tuple[Counter[str], int]] = OrderedDict()
        self.desk = self._make_desk(oracle, None)  # no memory: purchases only reward their own group

    def stats(self) -> dict[str, float]:
        acq = self.desk.metrics() if self.desk is not None else {}
        return {**super().stats(), **acq}

    def close(self) -> None:
        if self.desk is not None:
            self.desk.close()

    def answer_key(self, sample: RewardSample) -> str | None:
        """The normalised answer of one rollout (None: unparseable)."""
        return rollout_key(sample.response, sample.domain, sample.question, sample.extra_info)

    async def _decide(self, group: Group, timed_out: bool) -> list[GroupOutcome]:
        # Equivalent answers (1/2 and 0.5) count as one, as in the offline vote's clusters.
        keys = unify_keys(
            [self.answer_key(s) for s in group.samples], group.samples[0].domain if group.samples else None
        )
        n = len(keys)
        offer = self.desk is not None and not group.straggler  # as in MemoryService._decide
        if offer:
            self.desk.boundary(group.samples)
        if group.straggler and group.uid in self._votes:
            counts, size = self._votes[group.uid]
            top = max(counts.values(), default=0)
            key = keys[0]
            rewards = [float(key is not None and counts[key] == top > 0)]
            shares = [counts[key] / size if key is not None else 0.0]
            self.counters["vote_stragglers_compared"] += 1
        else:
            rewards, shares, plurality = majority_vote_rewards(keys)
            if not group.straggler:
                self._votes[group.uid] = (Counter(k for k in keys if k is not None), n)
                while len(self._votes) > self.cfg.max_closed_uids:
                    self._votes.popitem(last=False)
            self.counters["vote_groups_no_answer"] += int(not plurality)
            self.counters["vote_groups_tied"] += int(len(plurality) > 1)
        info = AcquisitionInfo()
        if self.desk is not None:
            # Answer clusters = equal keys; an unparseable answer is a cluster of its own.
            ids = {k: i for i, k in enumerate(dict.fromkeys(k for k in keys if k is not None))}
            clusters = np.array([ids[k] if k is not None else len(ids) + i for i, k in enumerate(keys)])
            pseudo = np.asarray(rewards, dtype=np.float64)
            rewards, info = await self.desk.decide(
                group.uid, group.samples, np.asarray(shares), pseudo, clusters, None, offer
            )
        return [GroupOutcome(float(r), float(p), False, timed_out, False, n, info) for r, p in zip(rewards, shares)]
