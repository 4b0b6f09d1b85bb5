"""memreward_verl.train: every CPU run's overrides compose against the installed verl and pass its checks."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("verl")

from test_recipes import compose_overrides, select  # noqa: E402

from memreward_verl.cpu.precision import native_bf16, resolve_compute_dtype  # noqa: E402
from memreward_verl.train.config import CPUTrainConfig  # noqa: E402
from memreward_verl.train.overrides import METHODS, RunPaths, cpu_overrides, reward_overrides  # noqa: E402
from memreward_verl.warmup import SamplingConfig  # noqa: E402


@pytest.fixture()
def paths(tmp_path):
    return RunPaths(
        model=tmp_path / "m",
        train_files=tmp_path / "t.parquet",
        val_files=tmp_path / "v.parquet",
        out_dir=tmp_path / "o",
    )


@pytest.mark.parametrize("method", METHODS)
def test_every_method_composes_and_validates(method, paths):
    """The CPU settings + each method's reward compose (an unknown key would raise) and verl's own
    validate_config accepts the batch arithmetic; seeds and sampling reach rollout and actor."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = CPUTrainConfig(seed=3, sampling=SamplingConfig(n=4, temperature=0.9, top_p=0.95, max_response_length=40))
    rewards = reward_overrides(method, artifact_dir="/art", prompts_per_step=cfg.prompts_per_step)
    job = compose_overrides(cpu_overrides(cfg, paths) + rewards)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate_config(config=job, use_reference_policy=need_reference_policy(job), use_critic=need_critic(job))
    for key, want in {
        "actor_rollout_ref.rollout.name": "cpu",
        "actor_rollout_ref.rollout.n": 4,
        "actor_rollout_ref.rollout.temperature": 0.9,
        "actor_rollout_ref.rollout.top_p": 0.95,
        "actor_rollout_ref.rollout.seed": 3,
        "actor_rollout_ref.actor.fsdp_config.seed": 3,
        "actor_rollout_ref.actor.data_loader_seed": 3,
        "data.seed": 3,
        "data.max_response_length": 40,
        "actor_rollout_ref.actor.strategy": "fsdp2",
        "actor_rollout_ref.model.override_config.attn_implementation": "sdpa",
        "ray_kwargs.ray_init.num_gpus": 1,
        "actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype": resolve_compute_dtype("auto"),
        "actor_rollout_ref.ref.fsdp_config.mixed_precision.reduce_dtype": "fp32",
    }.items():
        assert select(job, key) == want, key
    if method in ("oracle", "labelled_only"):
        assert select(job, "reward.reward_manager.name") == "naive"
    else:
        from memreward_verl.integration.config import options_from_verl_config

        opts = options_from_verl_config(job)
        assert opts.worker.name == "memreward_worker"
        assert (opts.rule.mode == "majority_vote") == (method == "majority_vote")
        assert (opts.acquire.strategy == "care") == (method == "memreward_acquisition")


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_compute_dtype_reaches_the_engine_config(dtype, paths):
    """The actor's and the reference's FSDP engine configs (verl's own dataclass) get the dtype asked for."""
    from verl.utils.config import omega_conf_to_dataclass

    job = compose_overrides(cpu_overrides(CPUTrainConfig(compute_dtype=dtype), paths))
    for role in ("actor", "ref"):
        engine = omega_conf_to_dataclass(select(job, f"actor_rollout_ref.{role}.fsdp_config"))
        assert engine.mixed_precision["param_dtype"] == dtype, role


def test_auto_dtype_follows_the_cpu():
    """bf16 only where oneDNN runs it natively (emulated bf16 made a CPU step 8x slower)."""
    assert resolve_compute_dtype("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve_compute_dtype("fp32") == "fp32"


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="prompts_per_step must be a positive integer"):
        CPUTrainConfig(prompts_per_step=0)
    with pytest.raises(ValueError, match="not divisible by mini_batches=3"):
        CPUTrainConfig(prompts_per_step=8, mini_batches=3)
    with pytest.raises(ValueError, match="temperature"):
        CPUTrainConfig(sampling=SamplingConfig(n=4, temperature=0.0))
    with pytest.raises(ValueError, match="compute_dtype must be one of auto, fp32, bf16 .got 'fp16'"):
        CPUTrainConfig(compute_dtype="fp16")
    with pytest.raises(ValueError, match="unknown method 'grpo'"):
        reward_overrides("grpo")
    with pytest.raises(ValueError, match="needs the warm-up artifact"):
        reward_overrides("memreward")
