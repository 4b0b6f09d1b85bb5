"""Typed settings of a GRPO run through verl's ``main_ppo`` on CPU (demo, CI test, end-to-end benchmark)."""

from __future__ import annotations

from dataclasses import dataclass, field

from memreward_verl.cpu.precision import COMPUTE_DTYPES
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["CPUTrainConfig"]


@dataclass
class CPUTrainConfig:
    """Sizes and GRPO settings of a CPU run (defaults: the demo's, measured on 2 cores; BENCHMARKS.md).

    Attributes:
        steps: GRPO steps (``trainer.total_training_steps``).
        prompts_per_step: prompts per step (``data.train_batch_size``); each gets ``n`` rollouts.
        sampling: rollouts per prompt (the GRPO group), temperature, top-p and token limits: the SAME
            object the warm-up samples with, so memory and online rollouts come from one setting.
        lr: actor learning rate.
        kl_loss_coef: low-variance KL loss to the reference policy (0: no reference model at all).
        mini_batches: policy updates per step (``ppo_mini_batch_size = prompts_per_step / mini_batches``).
        micro_batch: sequences per forward/backward pass.
        val_every: validate every this many steps (and before training); 0: never.
        seed: data order, rollout sampling and actor initialisation.
        save_checkpoint: save the trained actor (with a Hugging Face copy) after the last step.
        threads: torch threads of the rollout server (default: every core).
        compute_dtype: what the FSDP actor and reference model compute in: ``fp32``, ``bf16`` (verl's
            default on GPUs) or ``auto`` (bf16 only where the CPU runs it natively; memreward_verl.cpu.precision).
        reward_workers: verl ``reward.num_workers``.
        ray_cpus: logical CPUs of the local Ray cluster (actors are time-shared on the real cores).
        timeout_s: the whole ``main_ppo`` run is stopped after this long (a stuck run is an error).
    """

    steps: int = 8
    prompts_per_step: int = 8
    sampling: SamplingConfig = field(
        default_factory=lambda: SamplingConfig(
            n=4, temperature=1.0, top_p=1.0, max_prompt_length=128, max_response_length=48
        )
    )
    lr: float = 3e-5
    kl_loss_coef: float = 0.001
    mini_batches: int = 1
    micro_batch: int = 16
    val_every: int = 2
    seed: int = 0
    save_checkpoint: bool = True
    threads: int | None = None
    compute_dtype: str = "auto"
    reward_workers: int = 2
    ray_cpus: int = 8
    timeout_s: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("steps", "prompts_per_step", "mini_batches", "micro_batch", "reward_workers", "ray_cpus"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"CPUTrainConfig.{name} must be a positive integer (got {value!r})")
        if self.lr <= 0 or self.kl_loss_coef < 0:
            raise ValueError(
                f"CPUTrainConfig: lr must be > 0 and kl_loss_coef >= 0 (got {self.lr}, {self.kl_loss_coef})"
            )
        if self.prompts_per_step % self.mini_batches:
            raise ValueError(
                f"CPUTrainConfig: prompts_per_step={self.prompts_per_step} is not divisible by "
                f"mini_batches={self.mini_batches}"
            )
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"CPUTrainConfig.compute_dtype must be one of {', '.join(COMPUTE_DTYPES)} (got {self.compute_dtype!r})"
            )
        if self.val_every < 0 or self.timeout_s <= 0:
            raise ValueError(
                f"CPUTrainConfig: val_every >= 0 and timeout_s > 0 (got {self.val_every}, {self.timeout_s})"
            )
