"""The graph-memory service: embedder + memory + predictor scoring each complete group.

Each rollout's node texts are embedded as soon as it arrives (:class:`ArrivalEmbedder`, arrival.py),
so a completed group only runs the GNN; the text-to-numbers path is
:func:`memreward_verl.groups.encode_groups`, exactly as offline. Embedding and scoring share one
worker thread; the public coroutines run on the caller's event loop. With ``grow_memory``, verified
groups of labelled prompts join the memory and the GNN is refitted every ``refit_every`` groups;
with acquisition, bought groups join too. Each joined group gets a fresh memory query id and a
:class:`JoinRecord` (kept in the saved state's metrics), so what joined, and why, is read from the
records, never parsed out of ids, and ids stay unique across worker restarts. No Ray.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict

import numpy as np

from memreward_verl.acquisition.heldout import held_out_examples
from memreward_verl.acquisition.oracle import LabelOracle
from memreward_verl.acquisition.probes import GroupView
from memreward_verl.answers.choice import OPTION_KEYS
from memreward_verl.artifact import Artifact, ArtifactError, save_artifact
from memreward_verl.decision import resolve_rule
from memreward_verl.embed import Embedder
from memreward_verl.groups import EncodedGroups, encode_groups
from memreward_verl.memory import ExperienceMemory
from memreward_verl.reward import AcquisitionInfo, RewardRule, RewardSample
from memreward_verl.rollouts import Query, Rollout
from memreward_verl.serve.arrival import ArrivalEmbedder
from memreward_verl.serve.collector import Group, GroupCollector, GroupOutcome
from memreward_verl.serve.options import AcquireOptions, CollectOptions

__all__ = ["MemoryService", "JoinRecord", "JOINS_KEY", "concat_groups"]

logger = logging.getLogger(__name__)

# The artifact's metrics key holding the join records (saved with the memory, restored with it).
JOINS_KEY = "joins"
JOIN_KINDS = ("grow", "acq")


class JoinRecord(TypedDict):
    """A group that joined the memory online."""

    memory_id: str  # its query id in the memory: ``<query_id or uid>#<n>``, n the join's ordinal in the run
    query_id: str | None  # its prompt
    uid: str  # its group
    kind: str  # "grow": a verified group of a labelled prompt; "acq": a bought group


def _restored_joins(artifact: Artifact) -> list[JoinRecord]:
    """The join records of a saved state (none in a warm-up artifact), checked against its memory."""
    records = artifact.metrics.get(JOINS_KEY, [])
    ids = set(artifact.memory.groups.query_ids)
    ok = isinstance(records, list) and all(
        isinstance(r, dict)
        and r.keys() == JoinRecord.__annotations__.keys()
        and r["memory_id"] in ids
        and r["kind"] in JOIN_KINDS
        for r in records
    )
    if not ok or len({r["memory_id"] for r in records}) != len(records):
        raise ArtifactError(
            f"the artifact's metrics {JOINS_KEY!r} must list distinct join records of memory queries "
            f"(memory_id, query_id, uid, kind in {JOIN_KINDS}); got {str(records)[:200]}"
        )
    return [JoinRecord(**r) for r in records]


def concat_groups(a: EncodedGroups, b: EncodedGroups) -> EncodedGroups:
    """Append the groups of ``b`` after those of ``a`` (same embedder)."""
    if a.model_id != b.model_id:
        raise ValueError(f"cannot join groups of {a.model_id!r} and {b.model_id!r}")
    return EncodedGroups(
        model_id=a.model_id,
        query_ids=a.query_ids + b.query_ids,
        domains=a.domains + b.domains,
        query_emb=np.concatenate([a.query_emb, b.query_emb]),
        think_emb=np.concatenate([a.think_emb, b.think_emb]),
        answer_emb=np.concatenate([a.answer_emb, b.answer_emb]),
        feats=np.concatenate([a.feats, b.feats]),
        rollout_query=np.concatenate([a.rollout_query, b.rollout_query + a.num_queries]),
        labels=np.concatenate([a.labels, b.labels]),
        answer_keys=a.answer_keys + b.answer_keys,
    )


class MemoryService(GroupCollector):
    """Collects rollouts by uid and scores complete groups with the artifact's predictor.

    Args:
        artifact: the loaded warm-up artifact (memory, model, config).
        embedder: the embedder whose ``model_id`` matches the memory's.
        rule: how a group's probabilities become rewards.
        cfg: collection and growth settings.
        clock: monotonic clock (tests substitute a fake).
        oracle: labels of bought groups with ``acquire`` (default: :class:`VerifierOracle`,
            the verifiers against the ground truth the samples carry).
        acquire: online label acquisition (None or ``strategy=None``: off).

    Online acquisition (``acquire``, :class:`AcquisitionDesk`): every group (a timed-out one
    with what arrived; not a straggler) whose samples carry a ground truth is offered once scored, as a
    GroupView of its probabilities, pseudo rewards, answer clusters and features. A bought group
    gets the oracle's rewards and joins the memory as labelled at the next step boundary, so every
    group of a step is scored with the same memory; its prompt keeps ground truth in later steps
    (``acquisition_reuse``). A group that is not bought gets its predicted rewards; only the oracle
    reads ground truth, and only for bought groups and prompts.

    Raises:
        ArtifactError: when the embedder differs from the one the memory was built with.
    """

    def __init__(
        self,
        artifact: Artifact,
        embedder: Embedder,
        rule: RewardRule | None = None,
        cfg: CollectOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        oracle: LabelOracle | None = None,
        acquire: AcquireOptions | None = None,
    ) -> None:
        if embedder.model_id != artifact.memory.model_id:
            raise ArtifactError(
                f"the artifact's memory was embedded with {artifact.memory.model_id!r}, "
                f"the embedder is {embedder.model_id!r}"
            )
        super().__init__(rule or RewardRule(), cfg or CollectOptions(), clock, acquire)
        self.configured_rule = self.rule  # as given; ``auto`` is resolved against each fit (load, refit)
        self._apply_rule(artifact.metrics)
        self.artifact = artifact
        self.embedder = embedder
        self.predictor = artifact.predictor()
        self.labelled_ids = frozenset(artifact.labelled_ids)
        self.joins = _restored_joins(artifact)  # every group that joined, in order, across restarts
        self._state_lock = threading.Lock()  # memory, model and joins change together (grow vs refit)
        self.busy_s: Counter[str] = Counter()  # seconds the worker thread spent scoring
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-score")
        self.arrival = ArrivalEmbedder(embedder, artifact.cfg.text, self.cfg, self._executor)
        self._refit_executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-refit")
        self._refit_running = False
        self.desk = self._make_desk(oracle, lambda pending: self._executor.submit(self._join_acquired, pending))
        if self.desk is not None and self.acquire.warm_start and not self.desk.restored:
            if self.desk.acquirer.strategy.learns:
                self.desk.acquirer.warm_start(self._validation_examples())

    def stats(self) -> dict[str, float]:
        """Counters (samples, groups, timeouts, stragglers, texts embedded and reused, growth, refits),
        open groups, memory size, and the seconds spent embedding (``embed_busy_s``) and scoring
        (``score_busy_s``)."""
        busy = {f"{k}_busy_s": round(v, 3) for k, v in self.busy_s.items()}
        acq = self.desk.metrics() if self.desk is not None else {}
        memory = {"memory_queries": self.predictor.memory.num_queries}
        return {**super().stats(), **self.arrival.stats(), **busy, **acq, **memory}

    def acquisition_state(self) -> dict[str, object]:
        """Online acquisition so far (see :meth:`AcquisitionDesk.state`), plus the bought groups that
        joined the memory, in join order and across restarts: ``joined``, their MEMORY query ids (as in
        the memory's labelled ids; one prompt bought in two steps without reuse joins twice), and
        ``joins``, their :class:`JoinRecord` (prompt query id and uid). Empty when acquisition is off."""
        if self.desk is None:
            return {}
        bought = [dict(r) for r in self.joins if r["kind"] == "acq"]
        return {**self.desk.state(), "joined": [r["memory_id"] for r in bought], "joins": bought}

    def describe(self) -> dict[str, object]:
        return {
            "labelled_ids": sorted(self.labelled_ids),
            "model_id": self.embedder.model_id,
            "memory_queries": self.predictor.memory.num_queries,
        }

    def close(self) -> None:
        if self.desk is not None:
            self.desk.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._refit_executor.shutdown(wait=False, cancel_futures=True)

    # -- scoring --------------------------------------------------------------------------------
    def _on_arrival(self, sample: RewardSample) -> asyncio.Future:
        return self.arrival.on_arrival(sample)

    async def _decide(self, group: Group, timed_out: bool) -> list[GroupOutcome]:
        loop = asyncio.get_running_loop()
        # A timed-out group is offered with the rollouts that arrived; a straggler never is (it may
        # still get the oracle's reward when its prompt was bought before).
        offer = self.desk is not None and not group.straggler
        if offer:  # before scoring: a new step's purchases join the memory first (same thread, FIFO)
            self.desk.boundary(group.samples)
        prob, clusters, feats = await loop.run_in_executor(self._executor, self._predict_sync, group.samples)
        rule = self.rule  # one rule per group, even if a refit replaces it meanwhile
        rewards, abstained = rule.group_rewards(prob, clusters, group.samples[0].domain)
        n = len(group.samples)
        info = AcquisitionInfo()
        if self.desk is not None:
            rewards, info = await self.desk.decide(group.uid, group.samples, prob, rewards, clusters, feats, offer)
        applied = (rule.hard_rule, rule.threshold)
        return [
            GroupOutcome(float(r), float(p), abstained and not info.acquired, timed_out, False, n, info, applied)
            for r, p in zip(rewards, prob)
        ]

    def _apply_rule(self, fit_metrics: dict) -> None:
        """Serve the configured rule, ``auto`` resolved to what this fit chose (its rule and threshold):
        what is served is what the fit judged, after a refit as after a restart."""
        configured = self.configured_rule
        applied, threshold = resolve_rule(configured.hard_rule, configured.threshold, fit_metrics)
        rule = dataclasses.replace(configured, hard_rule=applied, threshold=threshold)
        if rule == self.rule:
            return
        logger.info(
            "hard_rule %s: %s at threshold %g (the fit's choice by out-of-fold CAG)",
            configured.hard_rule, applied, threshold,
        )  # fmt: skip
        if applied == "constant" and configured.mode in ("hard", "abstain"):
            logger.warning(
                "the fit found no rule whose out-of-fold CAG beat equal rewards': unlabelled prompts get equal "
                "rewards (no GRPO advantage); set hard_rule to override"
            )
        self.rule = rule

    def _validation_examples(self) -> list[tuple[GroupView, np.ndarray]]:
        """The artifact's validation groups as held-out examples: predicted in one pass with all of
        their labels hidden (as the fit validated them), viewed as a stream group would be."""
        from memreward_verl.fit import predict_memory

        memory = self.predictor.memory
        g = memory.groups
        index = {q: i for i, q in enumerate(g.query_ids)}
        val = [index[q] for q in self.artifact.metrics.get("val_query_ids", []) if q in index]
        if not val:
            return []
        slices = g.group_slices()
        clusters = g.cluster_ids(self.artifact.cfg.graph.agreement_cosine)

        def predict(labels: np.ndarray) -> np.ndarray:
            known = {g.query_ids[q] for q in np.unique(g.rollout_query[labels >= 0])}
            hidden = ExperienceMemory(g, sorted(known & set(memory.labelled_ids)), memory.cfg)
            # Fold 0's member alone: the ensemble's other members trained on these queries.
            return predict_memory(self.artifact.model.heldout, hidden, self.artifact.cfg)

        def view(q: int, probs: np.ndarray) -> GroupView:
            sl, domain = slices[q], g.domains[q]
            pseudo, _ = self.rule.group_rewards(probs[sl], clusters[sl], domain)
            return GroupView.of_group(g.query_ids[q], probs[sl], pseudo, clusters[sl], g.feats[sl], domain)

        examples = held_out_examples(val, memory.labels, slices, predict, view, jointly=True)
        logger.info("acquisition warm start: %d validation groups of the artifact", len(examples))
        return examples

    def _join_acquired(self, groups: list[tuple[list[RewardSample], list[float]]]) -> None:
        """Add bought groups to the memory as labelled (the grow path); errors are logged and counted."""
        for samples, labels in groups:
            try:
                self._grow_sync(samples, labels, kind="acq")
            except Exception:
                self.counters["acq_join_errors"] += 1
                logger.exception("bought group uid=%r could not join the memory", samples[0].uid)

    def _encode(self, samples: list[RewardSample], labels: list[float] | None, query_id: str) -> EncodedGroups:
        """The group as :class:`EncodedGroups`, through the offline path; ground truth never enters."""
        first = samples[0]
        rollouts = [
            Rollout(text=s.response, label=None if labels is None else int(labels[i] >= 0.5))
            for i, s in enumerate(samples)
        ]
        # Only the options reach the keys (answers.rollout_key reads them as the choice verifier does).
        options = {k: first.extra_info[k] for k in OPTION_KEYS if k in (first.extra_info or {})}
        query = Query(query_id, first.domain, first.data_source, first.question, None, rollouts, options)
        return encode_groups([query], self.arrival.cached(), self.artifact.cfg)

    def _predict_sync(self, samples: list[RewardSample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(probabilities, answer clusters, group features)`` of one group."""
        start = time.perf_counter()
        groups = self._encode(samples, None, samples[0].query_id or str(samples[0].uid))
        prob = self.predictor.predict_groups(groups)
        clusters = groups.cluster_ids(self.artifact.cfg.graph.agreement_cosine)
        self.busy_s["score"] += time.perf_counter() - start
        return prob, clusters, groups.feats

    # -- memory growth --------------------------------------------------------------------------
    async def _grow_group(self, group: Group, timed_out: bool, resolve: bool = True) -> GroupOutcome:
        await asyncio.gather(*group.embeds)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._grow_sync, group.samples, group.labels)
        out = GroupOutcome(float("nan"), float("nan"), timed_out=timed_out, group_size=len(group.samples))
        if resolve and not group.future.done():
            group.future.set_result([out] * len(group.samples))
        return out

    def _grow_sync(self, samples: list[RewardSample], labels: list[float], kind: str = "grow") -> None:
        """Append one verified group (``kind="grow"``: of a labelled prompt, ``"acq"``: bought) under a
        fresh memory id, with its join record; refresh or refit; save the state. ``refit_every`` counts
        both kinds."""
        first = samples[0]
        with self._state_lock:
            memory = self.predictor.memory
            mid = self._memory_id(str(first.query_id or first.uid), memory)
            new = self._encode(samples, labels, mid)
            grown = ExperienceMemory(concat_groups(memory.groups, new), [*memory.labelled_ids, mid], memory.cfg)
            self.joins.append(JoinRecord(memory_id=mid, query_id=first.query_id, uid=str(first.uid), kind=kind))
            self.artifact = self._with(grown, self.artifact.model, self.artifact.metrics)
            self.predictor = self.artifact.predictor()
            n_grown = self.counters["grown_groups"] + self.counters["acq_joined"] + 1
            if self.cfg.refit_every and n_grown % self.cfg.refit_every == 0 and not self._refit_running:
                self._refit_running = True
                self._refit_executor.submit(self._refit, grown)  # saves the state with the refitted model
            else:
                self._save_state()
            # Counted once the state that holds it is saved (or its refit is under way): ``stats()`` reads the
            # counters without the lock, so a caller that sees the count also finds the saved state.
            self.counters["grown_groups" if kind == "grow" else "acq_joined"] += 1

    def _memory_id(self, base: str, memory: ExperienceMemory) -> str:
        """``<base>#<n>``: n is the join's ordinal in the run (the records survive restarts), raised past
        any id the memory already holds (a warm-up query id may have that form)."""
        taken = set(memory.groups.query_ids)
        n = len(self.joins) + 1
        while f"{base}#{n}" in taken:
            n += 1
        return f"{base}#{n}"

    def _with(self, memory: ExperienceMemory, model, metrics: dict) -> Artifact:
        """The service's artifact with this memory, model and metrics, and the join records so far."""
        return Artifact(self.artifact.cfg, memory, model, {**metrics, JOINS_KEY: [dict(r) for r in self.joins]})

    def _refit(self, memory: ExperienceMemory) -> None:
        from memreward_verl.fit import fit_gnn

        try:
            result = fit_gnn(memory, self.artifact.cfg)
            with self._state_lock:  # the memory may have grown during the fit: keep it, take the new model
                self.artifact = self._with(self.predictor.memory, result.model, result.metrics)
                self.predictor = self.artifact.predictor()
                self._apply_rule(result.metrics)  # the new model's probabilities under the rule chosen for them
                self.counters["refits"] += 1
                self._save_state()
            logger.info("refitted the GNN on %d memory queries: %s", memory.num_queries, result.metrics.get("val_auc"))
        except Exception:
            self.counters["refit_errors"] += 1
            logger.exception("refit of the GNN failed; keeping the previous model")
        finally:
            self._refit_running = False

    def _save_state(self) -> None:
        if self.cfg.state_dir:
            save_artifact(self.cfg.state_dir, self.artifact)
