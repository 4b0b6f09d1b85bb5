"""The warm-up job: prompts -> rollouts of the initial policy -> verified labels -> artifact.

Only the labelled prompts' rollouts are verified for the memory; every other prompt enters the
memory with unknown labels (the transductive memory: an online rollout then meets its own query's
warm-up history). With ``hidden_eval`` the unlabelled rollouts are also verified, in a separate
list that never reaches the memory, to report how well the GNN predicts them (research mode).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from memreward_verl.artifact import build_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import hard_rewards, resolve_rule, single_answer
from memreward_verl.embed import Embedder, load_embedder
from memreward_verl.evaluate import encode_cached
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.files import atomic_write_json, atomic_write_text
from memreward_verl.fit import predict_memory
from memreward_verl.metrics import binary_metrics
from memreward_verl.rollouts import Query, Rollout, write_rollouts
from memreward_verl.verify.label import LabelConfig, label_queries
from memreward_verl.warmup.cache import GenerationCache
from memreward_verl.warmup.generate import Generator, make_generator
from memreward_verl.warmup.plots import plot_warmup
from memreward_verl.warmup.prompts import PromptRow, read_labelled_ids, read_prompt_rows
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["WarmupConfig", "WarmupResult", "run_warmup", "choose_labelled_rows", "generate_rollouts"]

logger = logging.getLogger(__name__)


@dataclass
class WarmupConfig:
    """Options of :func:`run_warmup`.

    Attributes:
        train: verl parquet of the training prompts (``memreward prepare`` writes it).
        out: the artifact directory to write.
        model_path: the initial policy (a Hugging Face folder or hub id).
        labelled: ``labelled_<ratio>.json`` naming the labelled prompts; or else
        label_ratio: draw this fraction of the prompts as labelled (seeded by ``sampling.seed``).
        sampling: the RL run's rollout settings.
        backend: ``auto`` | ``vllm`` | ``transformers``.
        batch_prompts: prompts per generation call (default: 256 for vLLM, 8 for transformers).
        cache_dir: generations and embeddings (default ``<out>.cache`` beside ``out``).
        max_queries: use only the first this many prompts (quick runs; labelled ids outside are dropped).
        hidden_eval: verify the unlabelled prompts' rollouts too and report the GNN against them.
        verify_jobs: verifier processes (``None``: one per CPU).
        memreward: embedder, graph, GNN and fit settings.
        progress: tqdm bars on stderr.
    """

    train: str
    out: str
    model_path: str
    labelled: str | None = None
    label_ratio: float | None = None
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    backend: str = "auto"
    batch_prompts: int | None = None
    cache_dir: str | None = None
    max_queries: int | None = None
    hidden_eval: bool = False
    verify_jobs: int | None = None
    memreward: MemRewardConfig = field(default_factory=MemRewardConfig)
    progress: bool = True

    def __post_init__(self) -> None:
        if (self.labelled is None) == (self.label_ratio is None):
            raise ValueError("give exactly one of WarmupConfig.labelled (a file) and WarmupConfig.label_ratio")
        if self.label_ratio is not None and not 0.0 < self.label_ratio <= 1.0:
            raise ValueError(f"label_ratio must be in (0, 1] (got {self.label_ratio})")
        if self.max_queries is not None and self.max_queries < 1:
            raise ValueError(f"max_queries must be >= 1 (got {self.max_queries})")

    @property
    def cache_path(self) -> Path:
        out = Path(self.out)
        return Path(self.cache_dir) if self.cache_dir else out.with_name(out.name + ".cache")


@dataclass
class WarmupResult:
    """Where the artifact went and what the warm-up measured (also in ``<out>/warmup.json``)."""

    artifact_dir: Path
    metrics: dict[str, Any]
    queries: list[Query]


def choose_labelled_rows(rows: list[PromptRow], ratio: float, seed: int) -> list[str]:
    """The first ``round(ratio * N)`` prompts of one seeded permutation (nested across ratios)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i].query_id for i in order[: int(round(ratio * len(rows)))]]


def generate_rollouts(
    rows: list[PromptRow], generator: Generator, cache: GenerationCache, progress: bool = True
) -> tuple[list[Query], list[str]]:
    """Rollouts for every prompt not longer than ``max_prompt_length``; the skipped ids second.

    Batches are fixed slices of ``rows``, each seeded by its position, so a resumed run regenerates
    exactly what an uninterrupted one would have.
    """
    s = generator.sampling
    too_long = [
        r.query_id
        for r in rows
        if r.query_id not in cache and generator.prompt_length(r.messages) > s.max_prompt_length
    ]
    skipped = set(too_long)
    kept = [r for r in rows if r.query_id not in skipped]
    step = generator.batch_prompts
    batches = [kept[i : i + step] for i in range(0, len(kept), step)]
    todo = [(b, batch) for b, batch in enumerate(batches) if any(r.query_id not in cache for r in batch)]
    for b, batch in tqdm(todo, desc="generate", unit="batch", disable=not progress):
        texts = generator.generate([r.messages for r in batch], seed=s.seed * 1_000_003 + b)
        cache.add({r.query_id: t for r, t in zip(batch, texts)})
    queries = [
        Query(
            query_id=r.query_id,
            domain=r.domain,
            data_source=r.data_source,
            question=r.question,
            ground_truth=r.ground_truth,
            rollouts=[Rollout(text=t) for t in cache.responses[r.query_id]],
            extra={"extra_info": r.extra_info} if r.extra_info else {},
        )
        for r in kept
    ]
    return queries, too_long


def _hidden_truth(artifact, hidden: dict[str, list[int | None]]) -> np.ndarray:
    """``[R]`` hidden 0/1 truth of the memory's rollouts, -1 where unknown (never given to the memory)."""
    g = artifact.memory.groups
    truth = np.full(g.num_rollouts, -1, dtype=np.int64)
    for qi, sl in enumerate(g.group_slices()):
        labels = hidden.get(g.query_ids[qi])
        if labels is not None:
            truth[sl] = [-1 if v is None else v for v in labels]
    return truth


def _hidden_eval(
    artifact, prob: np.ndarray, share: np.ndarray, truth: np.ndarray, cfg: MemRewardConfig
) -> dict[str, Any]:
    """MemReward and the majority vote against the hidden truth of the unlabelled prompts."""
    g = artifact.memory.groups
    mask = truth >= 0
    if mask.sum() == 0 or len(np.unique(truth[mask])) < 2:
        return {"rollouts": int(mask.sum()), "note": "hidden truth has a single class; AUC undefined"}
    clusters = g.cluster_ids(cfg.graph.agreement_cosine)
    exclusive = single_answer(g.domains)[g.rollout_query]
    n_queries = len(np.unique(g.rollout_query[mask]))
    out: dict[str, Any] = {"rollouts": int(mask.sum()), "queries": n_queries, "accuracy": float(truth[mask].mean())}
    rq = g.rollout_query[mask]
    for name, p in (("memreward", prob), ("majority_vote", share)):
        # The vote's own rule is plurality; memreward's is the configured (auto: the fit's) rule.
        rule, threshold = (
            resolve_rule(cfg.reward.hard_rule, cfg.reward.threshold, artifact.metrics)
            if name == "memreward"
            else ("plurality", cfg.reward.threshold)
        )
        hard = hard_rewards(p, g.rollout_query, clusters, rule=rule, threshold=threshold, exclusive=exclusive)
        out[name] = binary_metrics(p[mask], truth[mask], rq, hard[mask])
    return out


def run_warmup(cfg: WarmupConfig, generator: Generator | None = None, embedder: Embedder | None = None) -> WarmupResult:
    """Run the warm-up and write the artifact directory (see module docstring).

    Raises:
        FileNotFoundError: a missing dataset or labelled-id file.
        ValueError: an empty dataset, labelled ids not in the dataset, a labelled prompt without
            ground truth, or a label ratio that labels no prompt.
    """
    t0 = time.time()
    rows = read_prompt_rows(cfg.train)
    if cfg.max_queries is not None:
        rows = rows[: cfg.max_queries]
    ids = {r.query_id for r in rows}
    if cfg.labelled is not None:
        wanted = read_labelled_ids(cfg.labelled)
        missing = [q for q in wanted if q not in ids]
        if missing and cfg.max_queries is None:
            raise ValueError(
                f"{len(missing)} labelled ids of {cfg.labelled} are not in {cfg.train}, e.g. {missing[:3]}"
            )
        labelled = [q for q in wanted if q in ids]
    else:
        labelled = choose_labelled_rows(rows, cfg.label_ratio, cfg.sampling.seed)
    if not labelled:
        raise ValueError(f"no labelled prompt among the {len(rows)} prompts of {cfg.train}; raise the label ratio")
    by_id = {r.query_id: r for r in rows}
    no_gt = [q for q in labelled if by_id[q].ground_truth is None]
    if no_gt:
        raise ValueError(f"labelled prompts without reward_model.ground_truth: {no_gt[:3]}")

    generator = generator or make_generator(cfg.backend, cfg.model_path, cfg.sampling, cfg.batch_prompts)
    cache = GenerationCache(cfg.cache_path / "generations", generator.model_path, generator.sampling)
    t_gen = time.time()
    queries, too_long = generate_rollouts(rows, generator, cache, cfg.progress)
    gen_s = time.time() - t_gen
    if too_long:
        logger.warning("%d prompts exceed max_prompt_length and were skipped (as verl filters them)", len(too_long))
    labelled_set = set(labelled) - set(too_long)
    if not labelled_set:
        raise ValueError("every labelled prompt is longer than max_prompt_length")

    label_cfg = LabelConfig(jobs=cfg.verify_jobs, progress=cfg.progress)
    report = label_queries([q for q in queries if q.query_id in labelled_set], label_cfg)
    hidden: dict[str, list[int | None]] = {}
    if cfg.hidden_eval:
        shadow = [copy.deepcopy(q) for q in queries if q.query_id not in labelled_set and q.ground_truth is not None]
        label_queries(shadow, label_cfg)
        hidden = {q.query_id: q.labels for q in shadow}

    embedder = embedder or load_embedder(cfg.memreward.embed)
    t_fit = time.time()
    groups = encode_cached(queries, cfg.memreward, embedder, cache_dir=cfg.cache_path / "embeddings")
    ordered = [q.query_id for q in queries if q.query_id in labelled_set]
    artifact = build_artifact(groups, ordered, cfg.memreward, out_dir=cfg.out, embedder=embedder)
    fit_s = time.time() - t_fit

    n_roll = sum(len(q.rollouts) for q in queries)
    metrics: dict[str, Any] = {
        "train": str(cfg.train),
        "model_path": str(cfg.model_path),
        "sampling": cfg.sampling.to_dict(),
        "queries": len(queries),
        "rollouts": n_roll,
        "labelled_queries": len(labelled_set),
        "skipped_overlong_prompts": len(too_long),
        "labelled_rollout_accuracy": report.n_correct / max(1, report.n_rollouts_verified),
        "verify_statuses": report.statuses,
        "generation_s": round(gen_s, 2),
        "embed_and_fit_s": round(fit_s, 2),
        "embedder": {"model_id": embedder.model_id, "compute_dtype": embedder.compute_dtype},
        "total_s": round(time.time() - t0, 2),
        "fit": artifact.metrics,
    }
    g = artifact.memory.groups
    prob = predict_memory(artifact.model, artifact.memory, cfg.memreward, graph=artifact.graph)
    share = g.feats[:, GROUP_FEATURES.index("share")].astype(np.float64)
    truth = _hidden_truth(artifact, hidden) if cfg.hidden_eval else None
    if truth is not None:
        metrics["hidden_eval"] = _hidden_eval(artifact, prob, share, truth, cfg.memreward)
    out = Path(cfg.out)
    labelled_rollouts = np.isin(g.rollout_query, [i for i, q in enumerate(g.query_ids) if q in labelled_set])
    plot_warmup(out / "warmup.png", metrics, prob, labelled_rollouts, truth, share)
    atomic_write_json(out / "warmup.json", metrics)
    atomic_write_text(out / "warmup_config.json", json.dumps(_config_dict(cfg), indent=2, default=str))
    # The rollouts as stored: labels only for labelled prompts (hidden truth is never written here).
    write_rollouts(queries, out / "rollouts.jsonl")
    return WarmupResult(artifact_dir=out, metrics=metrics, queries=queries)


def _config_dict(cfg: WarmupConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["memreward"] = cfg.memreward.to_dict()
    return d
