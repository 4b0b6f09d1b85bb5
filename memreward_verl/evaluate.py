"""Offline evaluation: label a fraction of the queries, train, predict the rest, compare.

The yardstick for every later change. For one rollout file, ``label_ratio`` of the queries that
carry labels are drawn (seeded) as the labelled set; the memory keeps only their labels; every
method predicts all rollouts; metrics are computed on the rollouts of the OTHER queries against
their true labels, overall and per domain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memreward_verl.baselines import BASELINES
from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import AUTO_RULE, HARD_RULES, hard_rewards, resolve_rule, single_answer
from memreward_verl.embed import Embedder, load_embedder
from memreward_verl.files import atomic_write, atomic_write_json
from memreward_verl.fit import fit_gnn, predict_memory
from memreward_verl.groups import (
    CodeBehaviour,
    EncodedGroups,
    NodeEmbeddings,
    code_behaviour,
    embed_groups,
    featurise_groups,
)
from memreward_verl.memory import ExperienceMemory
from memreward_verl.metrics import binary_metrics, cag
from memreward_verl.rollouts import Query

__all__ = ["ALL_METHODS", "choose_labelled", "evaluate", "evaluate_curve", "encode_cached", "embed_cached"]

logger = logging.getLogger(__name__)

ALL_METHODS = ("memreward", "majority_vote", "mlp", "knn", "reference_style")


def choose_labelled(queries: Sequence[Query], label_ratio: float, seed: int) -> list[str]:
    """Seeded choice of ``label_ratio`` of the queries that carry any label (at least 2).

    Ratios are nested for one seed: the labelled set at 0.2 is contained in the set at 0.3.

    Raises:
        ValueError: on a ratio outside (0, 1) or fewer than 2 labelled queries available.
    """
    if not 0.0 < label_ratio < 1.0:
        raise ValueError(f"label_ratio must be in (0, 1) (got {label_ratio})")
    eligible = [q.query_id for q in queries if any(r.label is not None for r in q.rollouts)]
    order = np.random.default_rng(seed).permutation(len(eligible))
    n = int(round(label_ratio * len(eligible)))
    if n < 2 or n >= len(eligible):
        raise ValueError(
            f"label_ratio {label_ratio} of {len(eligible)} labelled-able queries gives {n} labelled queries; "
            "need at least 2 and at least one left to evaluate"
        )
    return [eligible[i] for i in order[:n]]


def _cache_key(queries: Sequence[Query], embedder: Embedder, cfg: MemRewardConfig) -> str:
    """Embeddings depend on the model, its compute dtype, the text split and the texts only (not on
    labels or parsing)."""
    h = hashlib.sha256()
    h.update(embedder.model_id.encode())
    h.update(embedder.compute_dtype.encode())
    h.update(json.dumps(cfg.to_dict()["text"], sort_keys=True).encode())
    for q in queries:
        h.update(json.dumps([q.question, [r.text for r in q.rollouts]]).encode())
    return h.hexdigest()[:24]


def embed_cached(
    queries: Sequence[Query],
    cfg: MemRewardConfig,
    embedder: Embedder | None = None,
    cache_dir: str | Path | None = None,
) -> NodeEmbeddings:
    """:func:`embed_groups` with an optional on-disk cache keyed by texts, model and text settings."""
    embedder = embedder or load_embedder(cfg.embed)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"emb-{_cache_key(queries, embedder, cfg)}.npz"
        if path.is_file():
            logger.info("embeddings loaded from cache %s", path)
            return NodeEmbeddings.load(path)
    emb = embed_groups(list(queries), embedder, cfg, show_progress=True)
    if path is not None:
        atomic_write(path, emb.save)
    return emb


def encode_cached(
    queries: Sequence[Query],
    cfg: MemRewardConfig,
    embedder: Embedder | None = None,
    cache_dir: str | Path | None = None,
) -> EncodedGroups:
    """:func:`encode_groups` whose embeddings are cached (:func:`embed_cached`).

    Answer keys, group features and true labels are computed from ``queries`` every time (they are
    cheap), so a cache never carries stale parsing or labels.
    """
    emb = embed_cached(queries, cfg, embedder, cache_dir)
    return featurise_groups(list(queries), emb, cfg, behaviour_cached(queries, cfg, cache_dir))


def behaviour_cached(
    queries: Sequence[Query], cfg: MemRewardConfig, cache_dir: str | Path | None = None
) -> list[CodeBehaviour | None]:
    """:func:`code_behaviour` (sandboxed runs of code groups) with an optional JSON cache keyed by texts."""
    queries = list(queries)
    if cache_dir is None or not cfg.execution.enabled or not any(q.domain == "code" for q in queries):
        return code_behaviour(queries, cfg, progress=True)
    h = hashlib.sha256(json.dumps(dataclasses.asdict(cfg.execution), sort_keys=True).encode())
    for q in queries:
        h.update(json.dumps([q.domain, q.question, [r.text for r in q.rollouts]]).encode())
    path = Path(cache_dir) / f"exec-{h.hexdigest()[:24]}.json"
    if path.is_file():
        logger.info("code behaviour loaded from cache %s", path)
        return [
            None if b is None else [None if p is None else (int(p[0]), float(p[1])) for p in b]
            for b in json.loads(path.read_text(encoding="utf-8"))
        ]
    out = code_behaviour(queries, cfg, progress=True)
    atomic_write_json(path, out, indent=None)
    return out


def _memreward(
    memory: ExperienceMemory, cfg: MemRewardConfig
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    result = fit_gnn(memory, cfg)
    prob = predict_memory(result.model, memory, cfg, result.graph).astype(np.float64)
    g = memory.groups
    exclusive = single_answer(g.domains)[g.rollout_query]
    clusters = g.cluster_ids(cfg.graph.agreement_cosine)
    rules = {rule: (rule, cfg.reward.threshold) for rule in HARD_RULES}
    rules[AUTO_RULE] = resolve_rule(AUTO_RULE, cfg.reward.threshold, result.metrics)  # the fit's rule and threshold
    by_pair = {  # auto is usually one of the rules at the configured threshold: computed once
        (rule, threshold): hard_rewards(
            prob, g.rollout_query, clusters, rule=rule, threshold=threshold, exclusive=exclusive
        )
        for rule, threshold in set(rules.values())
    }
    return prob, {name: by_pair[pair] for name, pair in rules.items()}, result.metrics


def _clean(value: Any) -> Any:
    """NaN -> None so reports are valid JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def evaluate(
    queries: Sequence[Query],
    label_ratio: float = 0.2,
    seed: int = 0,
    cfg: MemRewardConfig | None = None,
    methods: Sequence[str] = ALL_METHODS,
    groups: EncodedGroups | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate reward predictors on one rollout set.

    Args:
        queries: the rollout file's records (true labels where known).
        label_ratio: share of label-carrying queries whose labels the memory gets.
        seed: draws the labelled set and seeds training.
        cfg: configuration (``cfg.fit.seed`` is overridden by ``seed``).
        methods: subset of :data:`ALL_METHODS`.
        groups: pre-computed encodings of ``queries`` (skips embedding).
        embedder: embedder to use when ``groups`` is not given.
        progress: callback receiving the name of each method when it has finished.

    Returns:
        A JSON-ready report: ``methods.<name>.{auc, accuracy, f1, brier, cag, ...}``, a
        ``per_domain`` breakdown per method, sizes, the memreward fit metrics and timings.
    """
    cfg = cfg or MemRewardConfig()
    cfg.fit.seed = seed
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(ALL_METHODS)}")
    labelled = choose_labelled(queries, label_ratio, seed)
    groups = groups if groups is not None else encode_cached(queries, cfg, embedder)
    true = groups.labels.copy()
    memory = ExperienceMemory(groups, labelled, cfg.memory)
    rq = groups.rollout_query
    test = (~memory.query_labelled[rq]) & (true >= 0)
    domains = np.array(groups.domains)[rq]
    report: dict[str, Any] = {
        "label_ratio": label_ratio,
        "seed": seed,
        "n_queries": groups.num_queries,
        "n_rollouts": groups.num_rollouts,
        "n_labelled_queries": len(labelled),
        "n_test_queries": int(len(np.unique(rq[test]))),
        "n_test_rollouts": int(test.sum()),
        "test_positive_rate": float(true[test].mean()) if test.any() else None,
        "methods": {},
        "per_domain": {},
        "timing_s": {},
    }
    predictions = {}
    for name in methods:
        t0 = time.perf_counter()
        cag_by_rule = None
        if name == "memreward":
            prob, by_rule, fit_metrics = _memreward(memory, cfg)
            hard = by_rule[cfg.reward.hard_rule]
            cag_by_rule = {rule: cag(h[test], true[test], rq[test]) for rule, h in by_rule.items()}
            report["memreward_fit"] = fit_metrics
        else:
            prob, hard = BASELINES[name](memory, cfg)
        report["timing_s"][name] = round(time.perf_counter() - t0, 3)
        predictions[name] = prob
        report["methods"][name] = binary_metrics(prob[test], true[test], rq[test], hard[test])
        if cag_by_rule is not None:
            report["methods"][name]["cag_by_rule"] = cag_by_rule
        if progress:
            progress(name)
        report["per_domain"][name] = {
            d: binary_metrics(prob[test & (domains == d)], true[test & (domains == d)], rq[test & (domains == d)])
            for d in sorted(set(domains[test]))
        }
    report["_predictions"] = {"test": test, "true": true, "prob": predictions}
    return report


def evaluate_curve(
    queries: Sequence[Query],
    label_ratios: Sequence[float],
    seed: int = 0,
    cfg: MemRewardConfig | None = None,
    methods: Sequence[str] = ALL_METHODS,
    groups: EncodedGroups | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """:func:`evaluate` at several label ratios: ``{"ratios": [...], "runs": {ratio: report}}``."""
    runs = {}
    for ratio in label_ratios:
        runs[str(ratio)] = evaluate(queries, ratio, seed, cfg, methods, groups, progress=progress)
    return {"ratios": list(label_ratios), "runs": runs}


def strip_predictions(report: dict[str, Any]) -> dict[str, Any]:
    """The report without raw predictions, NaN made JSON ``null``."""
    out = {k: v for k, v in report.items() if k != "_predictions"}
    if "runs" in out:
        out["runs"] = {k: strip_predictions(v) for k, v in out["runs"].items()}
    return _clean(out)
