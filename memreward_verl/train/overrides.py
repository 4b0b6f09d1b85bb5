"""Hydra overrides for verl's ``main_ppo``: the CPU backend's settings and each method's reward.

The same entry point as the GPU recipes (``python -m verl.trainer.main_ppo``); only the overrides
differ. :func:`cpu_overrides` holds what the CPU backend needs (memreward_verl.cpu) and the GRPO
settings of a :class:`CPUTrainConfig`; :func:`reward_overrides` what each method of the paper's
table rewards with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreward_verl.cpu.precision import resolve_compute_dtype
from memreward_verl.cpu.rollout_names import ROLLOUT_NAME
from memreward_verl.train.config import CPUTrainConfig

__all__ = ["METHODS", "RunPaths", "cpu_overrides", "reward_overrides", "kwargs_overrides"]

# oracle: every prompt verified; labelled_only: train on the labelled prompts alone (verified);
# memreward: labelled -> verifier, others -> GNN; majority_vote: TTRL-style votes for every prompt
# (labelled_ids=None) or for the unlabelled ones; memreward_acquisition: memreward + buying labels.
METHODS = ("oracle", "labelled_only", "memreward", "majority_vote", "memreward_acquisition")


@dataclass
class RunPaths:
    """Inputs and outputs of one run (absolute paths: Ray workers do not share the caller's cwd)."""

    model: str
    train_files: str
    val_files: str
    out_dir: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("model", "train_files", "val_files", "out_dir"):
            setattr(self, name, str(Path(getattr(self, name)).resolve()))

    @property
    def checkpoints(self) -> str:
        return str(Path(self.out_dir) / "checkpoints")

    @property
    def rollouts(self) -> str:
        return str(Path(self.out_dir) / "rollouts")

    @property
    def metrics(self) -> str:
        return str(Path(self.out_dir) / "metrics.jsonl")

    @property
    def reward_log(self) -> str:
        """Where MemRewardManager's ``reward_log`` goes (removed with the rest before a rerun)."""
        return str(Path(self.out_dir) / "reward_log.jsonl")


def cpu_overrides(cfg: CPUTrainConfig, paths: RunPaths) -> list[str]:
    """GRPO on one logical GPU of the CPU platform, with verl's FSDP2 actor and the ``cpu`` rollout."""
    sp = cfg.sampling
    mini = cfg.prompts_per_step // cfg.mini_batches
    kl = cfg.kl_loss_coef > 0
    dtype = resolve_compute_dtype(cfg.compute_dtype)
    # ``++``: the key is absent from verl 0.9's YAML (a dataclass field) but may be present in others.
    precision = f"{{param_dtype:{dtype},reduce_dtype:fp32,buffer_dtype:fp32}}"
    save = [
        f"trainer.save_freq={cfg.steps if cfg.save_checkpoint else -1}",
        "actor_rollout_ref.actor.checkpoint.save_contents=[model,hf_model]",
    ]
    return [
        "algorithm.adv_estimator=grpo",
        "algorithm.use_kl_in_reward=False",
        f"data.train_files={paths.train_files}",
        f"data.val_files={paths.val_files}",
        f"data.train_batch_size={cfg.prompts_per_step}",
        f"data.max_prompt_length={sp.max_prompt_length}",
        f"data.max_response_length={sp.max_response_length}",
        "data.filter_overlong_prompts=True",
        "data.truncation=error",
        "data.dataloader_num_workers=0",  # a loader process per worker only costs memory on CPU
        f"data.seed={cfg.seed}",
        f"actor_rollout_ref.model.path={paths.model}",
        "actor_rollout_ref.model.use_remove_padding=False",  # needs flash-attn's varlen kernels
        "actor_rollout_ref.model.enable_gradient_checkpointing=False",
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",  # no flash-attn on CPU
        "actor_rollout_ref.actor.strategy=fsdp2",  # FSDP1 syncs module states through a GPU
        "actor_rollout_ref.ref.strategy=fsdp2",
        "actor_rollout_ref.actor.use_torch_compile=False",
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile=False",  # what the engine reads
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile=False",
        f"++actor_rollout_ref.actor.fsdp_config.mixed_precision={precision}",
        f"++actor_rollout_ref.ref.fsdp_config.mixed_precision={precision}",
        f"actor_rollout_ref.actor.optim.lr={cfg.lr}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={mini}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={cfg.micro_batch}",
        f"actor_rollout_ref.actor.use_kl_loss={kl}",
        f"actor_rollout_ref.actor.kl_loss_coef={cfg.kl_loss_coef}",
        "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
        "actor_rollout_ref.actor.entropy_coeff=0",
        f"actor_rollout_ref.actor.data_loader_seed={cfg.seed}",
        f"actor_rollout_ref.actor.fsdp_config.seed={cfg.seed}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={cfg.micro_batch}",
        f"actor_rollout_ref.rollout.name={ROLLOUT_NAME}",
        f"actor_rollout_ref.rollout.n={sp.n}",
        f"actor_rollout_ref.rollout.temperature={sp.temperature}",
        f"actor_rollout_ref.rollout.top_p={sp.top_p}",
        f"actor_rollout_ref.rollout.seed={cfg.seed}",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={cfg.micro_batch}",
        "actor_rollout_ref.rollout.calculate_log_probs=False",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        f"+actor_rollout_ref.rollout.engine_kwargs.{ROLLOUT_NAME}.threads={cfg.threads or 0}",
        "trainer.n_gpus_per_node=1",  # one logical GPU (ray_init.num_gpus) = one trainer process
        "trainer.nnodes=1",
        f"trainer.total_training_steps={cfg.steps}",
        "trainer.total_epochs=1000",  # steps end the run
        "trainer.logger=[console,file]",
        f"trainer.val_before_train={cfg.val_every > 0}",
        f"trainer.test_freq={cfg.val_every if cfg.val_every > 0 else -1}",
        *save,
        f"trainer.default_local_dir={paths.checkpoints}",
        "trainer.resume_mode=disable",  # a rerun trains again instead of resuming a finished run
        f"trainer.rollout_data_dir={paths.rollouts}",
        "trainer.project_name=memreward_cpu",
        f"trainer.experiment_name={Path(paths.out_dir).name}",
        "+ray_kwargs.ray_init.num_gpus=1",
        f"ray_kwargs.ray_init.num_cpus={cfg.ray_cpus}",
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        f"reward.num_workers={cfg.reward_workers}",
    ]


def kwargs_overrides(reward_kwargs: dict[str, Any]) -> list[str]:
    """``+reward.reward_kwargs.<key>=<value>`` for each key (None values are left out; lists as ``[a,b]``)."""
    out = []
    for key, value in reward_kwargs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            text = "[" + ",".join(str(v) for v in value) + "]"
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(f"+reward.reward_kwargs.{key}={text}")
    return out


def reward_overrides(
    method: str,
    *,
    artifact_dir: str | None = None,
    labelled_ids_file: str | None = None,
    worker_name: str = "memreward_worker",
    acquisition: str = "care",
    budget: float = 0.2,
    prompts_per_step: int | None = None,
    extra_kwargs: dict[str, Any] | None = None,
) -> list[str]:
    """The reward manager of ``method`` (one of :data:`METHODS`).

    oracle / labelled_only use verl's own ``naive`` manager with this package's verifiers (the
    labelled-only training file is the caller's); the others use ``MemRewardManager``.

    Raises:
        ValueError: unknown method, or a missing artifact / labelled-ids file it needs.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method in ("oracle", "labelled_only"):
        return [
            "reward.reward_manager.name=naive",
            "reward.custom_reward_function.path=pkg://memreward_verl.verify",
            "reward.custom_reward_function.name=compute_score",
        ]
    base = [
        "reward.reward_manager.source=importlib",
        "reward.reward_manager.name=MemRewardManager",
        "reward.reward_manager.module.path=pkg://memreward_verl.reward_manager",
    ]
    kwargs: dict[str, Any] = {"worker_name": worker_name}
    if method == "majority_vote":
        kwargs |= {"reward_mode": "majority_vote", "labelled_ids_file": labelled_ids_file}
    else:
        if not artifact_dir:
            raise ValueError(f"method {method!r} needs the warm-up artifact (artifact_dir)")
        kwargs["artifact_dir"] = str(Path(artifact_dir).resolve())
    if method == "memreward_acquisition":
        kwargs |= {"acquisition": acquisition, "budget": budget, "acquisition_step_groups": prompts_per_step}
    kwargs |= extra_kwargs or {}
    return base + kwargs_overrides(kwargs)
