"""Offline simulation of label acquisition over a rollout file.

Protocol, per seed:

1. Warm-up (``label_ratio > 0``): that share of the queries is labelled (``evaluate.choose_labelled``)
   and the reward predictor is fitted on them, exactly as ``memreward eval`` does. With
   ``label_ratio == 0`` there are no labels at all (the TTRL setting of the CARE paper) and the
   pseudo rewards must come from ``majority_vote``.
   ``validation_warm_start``: before the first step, learning strategies (CARE, hybrid) record the
   warm-up fit's VALIDATION groups, each predicted with its own labels hidden and every other
   warm-up label known (out-of-sample examples; :func:`validation_examples`, ``heldout.py``).
   Warm-up groups the predictor was trained on are never recorded (their views are in-sample).
2. The other queries are shuffled (seeded) into training steps of ``batch`` groups.
3. Per step, the predictor gives every group probabilities and hard pseudo rewards
   (``decision.hard_rewards``; the vote's plurality rule for ``majority_vote``); the strategy
   scores the groups and buys at most ``floor(budget * groups)`` labels from the oracle. Only
   bought groups reach the oracle; strategies learn only from what the oracle returned.
4. Bought labels join the memory as labelled (``update_memory``): later steps are predicted with
   them as label inputs (one forward pass, no refit); ``refit_every = k`` also refits every k
   steps (slow on CPU, off by default).
5. Afterwards, and only then, the true labels score the groups NOT bought: mean CAG of their
   pseudo rewards and AUC of their probabilities.

The loop runs on a copy of the encodings whose labels are hidden except the warm-up set, so
nothing in it can read a truth it did not buy.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from memreward_verl.acquisition.budget import BudgetConfig, BudgetTracker
from memreward_verl.acquisition.expected import group_cag
from memreward_verl.acquisition.heldout import held_out_examples
from memreward_verl.acquisition.online import AcquirerConfig, OnlineAcquirer
from memreward_verl.acquisition.oracle import LabelOracle, RecordedLabelOracle, request_from_query
from memreward_verl.acquisition.probes import GroupView
from memreward_verl.acquisition.strategies import STRATEGIES, StrategyConfig, make_strategy
from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import hard_rewards, resolve_rule, single_answer
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.groups import EncodedGroups
from memreward_verl.rollouts import Query

__all__ = [
    "PSEUDO_SOURCES",
    "SimulationConfig",
    "PseudoLabeler",
    "simulate_seed",
    "evaluate_acquisition",
    "validation_examples",
]

logger = logging.getLogger(__name__)

PSEUDO_SOURCES = ("memreward", "majority_vote")
_SHARE = GROUP_FEATURES.index("share")
_PLURALITY = GROUP_FEATURES.index("is_plurality")


@dataclass
class SimulationConfig:
    """Settings of one acquisition simulation."""

    strategies: tuple[str, ...] = ("random", "uncertainty", "care")
    budgets: tuple[float, ...] = (0.2,)
    batch: int = 128  # groups per training step
    seed: int = 0
    label_ratio: float = 0.2  # warm-up labels; 0 = none (TTRL: needs pseudo="majority_vote")
    pseudo: str = "memreward"  # where pseudo rewards come from: see PSEUDO_SOURCES
    update_memory: bool = True  # bought labels become label inputs of later predictions
    refit_every: int = 0  # refit the predictor every k steps (0 = never)
    online: bool = False  # decide group by group with OnlineAcquirer instead of top-k per step
    # Learning strategies (CARE, hybrid) first learn from the warm-up VALIDATION groups (labels paid
    # for before training, a uniform sample, never fitted on), each predicted with its own labels
    # hidden: out-of-sample examples before the first step (see heldout.py).
    validation_warm_start: bool = True
    strategy: StrategyConfig = field(default_factory=StrategyConfig)

    def __post_init__(self) -> None:
        if self.pseudo not in PSEUDO_SOURCES:
            raise ValueError(f"pseudo must be one of {PSEUDO_SOURCES} (got {self.pseudo!r})")
        if not 0.0 <= self.label_ratio < 1.0:
            raise ValueError(f"label_ratio must be in [0, 1) (got {self.label_ratio})")
        if self.label_ratio == 0.0 and self.pseudo == "memreward":
            raise ValueError("pseudo='memreward' needs warm-up labels (label_ratio > 0); use 'majority_vote'")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1 (got {self.batch})")
        for b in self.budgets:
            if not 0.0 <= b <= 1.0:
                raise ValueError(f"budgets must be in [0, 1] (got {b})")
        for name in self.strategies:
            STRATEGIES.get(name)  # KeyError listing the registered strategies


class PseudoLabeler:
    """Probabilities and hard pseudo rewards for every rollout, given the labels known so far.

    ``memreward``: the GNN fitted on the warm-up labels (refit on demand); known labels are its
    label inputs. ``majority_vote``: the answer-cluster share and the plurality rule (no labels).
    """

    def __init__(self, groups: EncodedGroups, cfg: MemRewardConfig, source: str) -> None:
        self.groups = groups  # labels hidden except the warm-up set
        self.cfg = cfg
        self.source = source
        self.clusters = groups.cluster_ids(cfg.graph.agreement_cosine)
        self.exclusive = single_answer(groups.domains)[groups.rollout_query]
        self.model = None
        self.fit_metrics: dict[str, Any] = {}
        self.val_queries = np.zeros(0, dtype=np.int64)  # labelled queries the last fit did not train on
        self._cache: dict[bytes, np.ndarray] = {}

    def _memory(self, labels: np.ndarray):
        from memreward_verl.memory import ExperienceMemory

        g = dataclasses.replace(self.groups, labels=labels)
        labelled = {self.groups.query_ids[q] for q in np.unique(g.rollout_query[labels >= 0])}
        return ExperienceMemory(g, labelled, self.cfg.memory)

    def fit(self, labels: np.ndarray) -> None:
        """(Re)fit the predictor on the queries whose labels are known."""
        if self.source != "memreward":
            return
        from memreward_verl.fit import fit_gnn

        result = fit_gnn(self._memory(labels), self.cfg)
        self.model, self.fit_metrics = result.model, result.metrics
        self.val_queries = np.asarray(result.val_queries, dtype=np.int64)
        self._cache.clear()

    def probs(self, labels: np.ndarray, heldout: bool = False) -> np.ndarray:
        """``[R]`` probabilities with ``labels`` (-1 = unknown) as the memory's labels; ``heldout``: by the
        fit's fold-0 member alone, the one that never trained on ``val_queries``."""
        if self.source == "majority_vote":
            return self.groups.feats[:, _SHARE].astype(np.float64)
        key = np.packbits(labels >= 0).tobytes() + np.packbits(labels == 1).tobytes() + bytes([heldout])
        if key not in self._cache:
            from memreward_verl.fit import predict_memory

            model = self.model.heldout if heldout else self.model
            self._cache = {key: predict_memory(model, self._memory(labels), self.cfg).astype(np.float64)}
        return self._cache[key]

    def pseudo(self, probs: np.ndarray, rollouts: np.ndarray) -> np.ndarray:
        """Hard rewards of the given rollout indices (whole groups)."""
        if self.source == "majority_vote":
            return self.groups.feats[rollouts, _PLURALITY].astype(np.int64)
        rule, threshold = resolve_rule(self.cfg.reward.hard_rule, self.cfg.reward.threshold, self.fit_metrics)
        return hard_rewards(
            probs[rollouts],
            self.groups.rollout_query[rollouts],
            self.clusters[rollouts],
            rule=rule,
            threshold=threshold,
            exclusive=self.exclusive[rollouts],
        )


def _hide_labels(groups: EncodedGroups, keep_queries: np.ndarray) -> EncodedGroups:
    """A copy of ``groups`` whose labels are -1 except on rollouts of ``keep_queries``."""
    keep = np.zeros(groups.num_queries, dtype=bool)
    keep[keep_queries] = True
    return dataclasses.replace(groups, labels=np.where(keep[groups.rollout_query], groups.labels, -1).astype(np.int8))


@dataclass
class _Run:
    """What one (strategy, budget) run decided and saw, per stream group."""

    bought: dict[int, bool] = field(default_factory=dict)
    probs: dict[int, np.ndarray] = field(default_factory=dict)
    pseudo: dict[int, np.ndarray] = field(default_factory=dict)
    predicted: dict[int, float] = field(default_factory=dict)
    spent_per_step: list[tuple[int, int]] = field(default_factory=list)  # (bought, groups)
    trained_on: list[str] = field(default_factory=list)


def _views(qs: np.ndarray, rows: np.ndarray, probs: np.ndarray, labeler: PseudoLabeler) -> list[GroupView]:
    """Views of the groups ``qs`` (``rows``: their rollouts, in order) under ``probs``."""
    g = labeler.groups
    slices = g.group_slices()
    pseudo_rows = labeler.pseudo(probs, rows)
    views, start = [], 0
    for q in qs:
        sl = slices[q]
        n = sl.stop - sl.start
        pseudo, clusters = pseudo_rows[start : start + n], labeler.clusters[sl]
        views.append(GroupView.of_group(g.query_ids[q], probs[sl], pseudo, clusters, g.feats[sl], g.domains[q]))
        start += n
    return views


def validation_examples(labeler: PseudoLabeler, known: np.ndarray) -> list[tuple[GroupView, np.ndarray]]:
    """Views and true rewards of the warm-up fit's validation groups, each with its labels hidden.

    The examples :func:`heldout.held_out_examples` describes; ``known`` must hold their labels
    (the warm-up labels). Empty without a fitted predictor (no warm-up).
    """
    if labeler.model is None or not len(labeler.val_queries):
        return []
    slices = labeler.groups.group_slices()

    def view(q: int, probs: np.ndarray) -> GroupView:
        return _views(np.array([q]), np.arange(slices[q].start, slices[q].stop), probs, labeler)[0]

    return held_out_examples(labeler.val_queries, known, slices, functools.partial(labeler.probs, heldout=True), view)


def _run(
    strategy_name: str,
    budget: float,
    steps: list[np.ndarray],
    queries: Sequence[Query],
    labeler: PseudoLabeler,
    known0: np.ndarray,
    oracle: LabelOracle,
    cfg: SimulationConfig,
    warm_examples: Sequence[tuple[GroupView, np.ndarray]] = (),
) -> _Run:
    g = labeler.groups
    slices = g.group_slices()
    known = known0.copy()
    run = _Run()
    scfg = dataclasses.replace(cfg.strategy, seed=cfg.seed)
    if cfg.online:
        acq = OnlineAcquirer(AcquirerConfig(strategy_name, BudgetConfig(fraction=budget), scfg))
    else:
        strategy = make_strategy(strategy_name, scfg)
        tracker = BudgetTracker(BudgetConfig(fraction=budget))
    model_state = labeler.model
    learner = acq.strategy if cfg.online else strategy
    for v, truth in warm_examples:
        learner.record(v, truth)
    for t, step in enumerate(steps):
        if cfg.refit_every and t and t % cfg.refit_every == 0:
            labeler.fit(known)
        probs = labeler.probs(known)
        rows = np.concatenate([np.arange(slices[q].start, slices[q].stop) for q in step])
        views = _views(step, rows, probs, labeler)
        got: dict[int, np.ndarray] = {}  # step position -> bought 0/1 rewards
        if cfg.online:
            acq.new_step(t)
            for i, v in enumerate(views):
                d = acq.offer(v)
                run.predicted[int(step[i])] = d.predicted_cag
                if d.buy:
                    got[i] = (oracle(request_from_query(queries[step[i]])) >= 0.5).astype(np.int8)
                    acq.record_bought(v.group_id, got[i])
        else:
            tracker.new_step()
            tracker.observe(len(views))
            scores = strategy.score(views)
            quota = tracker.available()
            order = sorted(range(len(views)), key=lambda i: (-scores[i].priority, i))
            chosen = [i for i in order if not scores[i].skip][:quota]
            for i in chosen:
                if not tracker.try_spend():
                    break
                got[i] = (oracle(request_from_query(queries[step[i]])) >= 0.5).astype(np.int8)
                strategy.record(views[i], got[i])
            for i, s in enumerate(scores):
                run.predicted[int(step[i])] = s.predicted_cag
        for i, v in enumerate(views):
            q = int(step[i])
            run.bought[q] = i in got
            run.probs[q], run.pseudo[q] = v.probs, v.pseudo
            if i in got and cfg.update_memory:
                known[slices[q]] = got[i]
        run.spent_per_step.append((len(got), len(views)))
    run.trained_on = list(acq.strategy.trained_on if cfg.online else strategy.trained_on)
    labeler.model = model_state  # refits are local to this run
    if cfg.refit_every:
        labeler._cache.clear()
    return run


def _metrics(run: _Run, groups: EncodedGroups, true_labels: np.ndarray, budget: float) -> dict[str, Any]:
    """Scores of one run against the truth (called after the run, never inside it)."""
    slices = groups.group_slices()
    qs = sorted(run.bought)
    cag = {q: group_cag(run.pseudo[q], true_labels[slices[q]]) for q in qs}
    unbought = [q for q in qs if not run.bought[q]]
    bought = [q for q in qs if run.bought[q]]
    p = np.concatenate([run.probs[q] for q in unbought]) if unbought else np.zeros(0)
    y = np.concatenate([true_labels[slices[q]] for q in unbought]) if unbought else np.zeros(0)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else math.nan
    pred_b = np.array([run.predicted[q] for q in bought])
    real_b = np.array([cag[q] for q in bought])
    corr = (
        float(np.corrcoef(pred_b, real_b)[0, 1])
        if len(bought) >= 3 and pred_b.std() > 0 and real_b.std() > 0
        else math.nan
    )
    quota = sum(math.floor(budget * n + 1e-9) for _, n in run.spent_per_step)
    return {
        "groups": len(qs),
        "labels_spent": len(bought),
        "labels_quota": quota,
        "labels_target": budget * len(qs),
        "spend_ratio": len(bought) / (budget * len(qs)) if budget > 0 and qs else math.nan,
        "max_step_fraction": max((b / n for b, n in run.spent_per_step if n), default=0.0),
        "mean_cag_unbought": float(np.mean([cag[q] for q in unbought])) if unbought else math.nan,
        "residual_cag": float(np.sum([cag[q] for q in unbought]) / max(1, len(qs))),
        "auc_unbought": auc,
        "mean_cag_bought": float(real_b.mean()) if len(bought) else math.nan,
        "mean_pred_cag_bought": float(pred_b.mean()) if len(bought) else math.nan,
        "pred_real_cag_corr_bought": corr,
        "probe_groups": len(run.trained_on),
    }


def _clairvoyant(
    none: _Run, steps: list[np.ndarray], groups: EncodedGroups, true_labels: np.ndarray, budget: float
) -> float:
    """Mean CAG of the unbought groups had each step bought its highest TRUE-CAG groups (a bound, not a strategy)."""
    slices = groups.group_slices()
    left = []
    for step in steps:
        cags = sorted((group_cag(none.pseudo[int(q)], true_labels[slices[int(q)]]) for q in step), reverse=True)
        left += cags[math.floor(budget * len(step) + 1e-9) :]
    return float(np.mean(left)) if left else math.nan


def simulate_seed(
    queries: Sequence[Query],
    groups: EncodedGroups,
    cfg: SimulationConfig,
    mcfg: MemRewardConfig | None = None,
    oracle: LabelOracle | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every strategy at every budget for one seed (one warm-up fit shared by all).

    Returns:
        ``{"seed", "n_stream_groups", "n_warm_groups", "steps", "warm_fit", "no_acquisition",
        "runs": {strategy: {str(budget): metrics}}}``; also ``"_trained_on"`` and ``"_bought"``
        (ids, for audits and tests).
    """
    from memreward_verl.evaluate import choose_labelled

    mcfg = mcfg or MemRewardConfig()
    mcfg = dataclasses.replace(mcfg, fit=dataclasses.replace(mcfg.fit, seed=cfg.seed))
    if [q.query_id for q in queries] != groups.query_ids:
        raise ValueError("groups must be the encodings of queries, in the same order")
    index = {qid: i for i, qid in enumerate(groups.query_ids)}
    warm = choose_labelled(queries, cfg.label_ratio, cfg.seed) if cfg.label_ratio > 0 else []
    warm_idx = np.array(sorted(index[q] for q in warm), dtype=np.int64)
    true_labels = groups.labels.copy()
    eligible = [
        i for i, q in enumerate(queries) if q.query_id not in set(warm) and all(r.label is not None for r in q.rollouts)
    ]
    order = np.random.default_rng([cfg.seed, 7]).permutation(np.array(eligible, dtype=np.int64))
    steps = [order[i : i + cfg.batch] for i in range(0, len(order), cfg.batch)]
    hidden = _hide_labels(groups, warm_idx)
    labeler = PseudoLabeler(hidden, mcfg, cfg.pseudo)
    t0 = time.perf_counter()
    labeler.fit(hidden.labels)
    fit_s = time.perf_counter() - t0
    base_oracle = oracle if oracle is not None else RecordedLabelOracle(queries)
    report: dict[str, Any] = {
        "seed": cfg.seed,
        "n_stream_groups": len(order),
        "n_warm_groups": len(warm_idx),
        "steps": len(steps),
        "warm_fit": {k: v for k, v in labeler.fit_metrics.items() if k != "per_fold"},
        "fit_s": round(fit_s, 2),
        "runs": {},
        "_trained_on": {},
        "_bought": {},
        "_warm": list(warm),
    }
    runs: dict[tuple[str, float], _Run] = {}
    none = _run("random", 0.0, steps, queries, labeler, hidden.labels, base_oracle, cfg)
    examples = validation_examples(labeler, hidden.labels) if cfg.validation_warm_start else []
    report["n_warm_examples"] = len(examples)
    report["_warm_examples"] = [v.group_id for v, _ in examples]
    report["no_acquisition"] = _metrics(none, groups, true_labels, 0.0)
    report["clairvoyant"] = {str(b): _clairvoyant(none, steps, groups, true_labels, b) for b in cfg.budgets}
    for name in cfg.strategies:
        report["runs"][name] = {}
        for budget in cfg.budgets:
            if progress:
                progress(f"{name} @ {budget}")
            t1 = time.perf_counter()
            run = _run(name, budget, steps, queries, labeler, hidden.labels, base_oracle, cfg, examples)
            m = _metrics(run, groups, true_labels, budget)
            m["wall_s"] = round(time.perf_counter() - t1, 2)
            report["runs"][name][str(budget)] = m
            key = f"{name}@{budget}"
            report["_trained_on"][key] = run.trained_on
            report["_bought"][key] = [groups.query_ids[q] for q in sorted(run.bought) if run.bought[q]]
            runs[(name, budget)] = run
    # AUC on the groups NEITHER this strategy nor random bought: did buying (and the memory
    # updates) change the predictor's quality, free of which groups each left behind?
    for (name, budget), run in runs.items():
        ref = runs.get(("random", budget))
        if ref is not None:
            common = [q for q in run.bought if not run.bought[q] and not ref.bought.get(q, True)]
            m = report["runs"][name][str(budget)]
            m["auc_common_unbought"] = _auc(run, common, groups, true_labels)
            m["auc_common_unbought_random"] = _auc(ref, common, groups, true_labels)
    return report


def _auc(run: _Run, qs: list[int], groups: EncodedGroups, true_labels: np.ndarray) -> float:
    """AUC of ``run``'s probabilities on the rollouts of groups ``qs``."""
    slices = groups.group_slices()
    if not qs:
        return math.nan
    p = np.concatenate([run.probs[q] for q in qs])
    y = np.concatenate([true_labels[slices[q]] for q in qs])
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else math.nan


def evaluate_acquisition(
    queries: Sequence[Query],
    groups: EncodedGroups,
    cfg: SimulationConfig,
    seeds: Sequence[int] = (0,),
    mcfg: MemRewardConfig | None = None,
    oracle_factory: Callable[[], LabelOracle] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """:func:`simulate_seed` over several seeds plus a mean-over-seeds summary.

    Returns:
        ``{"config", "seeds": [per-seed reports without ids], "summary": {strategy: {budget:
        {metric: mean}}}, "no_acquisition": {metric: mean}}``.
    """
    per_seed = []
    for seed in seeds:
        c = dataclasses.replace(cfg, seed=seed)
        rep = simulate_seed(queries, groups, c, mcfg, oracle_factory() if oracle_factory else None, progress)
        per_seed.append({k: v for k, v in rep.items() if not k.startswith("_")})
    keys = (
        "mean_cag_unbought",
        "residual_cag",
        "auc_unbought",
        "auc_common_unbought",
        "auc_common_unbought_random",
        "labels_spent",
        "spend_ratio",
        "mean_cag_bought",
        "mean_pred_cag_bought",
        "pred_real_cag_corr_bought",
    )
    summary: dict[str, Any] = {}
    for name in cfg.strategies:
        summary[name] = {}
        for b in cfg.budgets:
            runs = [r["runs"][name][str(b)] for r in per_seed]
            summary[name][str(b)] = {k: _nanmean([r.get(k) for r in runs]) for k in keys}
    none = {k: _nanmean([r["no_acquisition"][k] for r in per_seed]) for k in ("mean_cag_unbought", "auc_unbought")}
    clair = {str(b): _nanmean([r["clairvoyant"][str(b)] for r in per_seed]) for b in cfg.budgets}
    return {
        "config": dataclasses.asdict(cfg) | {"seeds": list(seeds)},
        "seeds": per_seed,
        "summary": summary,
        "no_acquisition": none,
        "clairvoyant": clair,
    }


def _nanmean(values: Sequence[float]) -> float:
    arr = np.array([math.nan if v is None else v for v in values], dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan
