"""Checks a ``main_ppo`` command before it starts: Ray CPUs, sampling settings, GPU-side imports.

verl 0.9.1 with too few Ray CPUs does not fail: it hangs at TransferQueue start-up (its controller and
storage units wait for CPUs that the GPU bundles hold), and a memory worker that cannot be placed
blocks every reward worker. This module counts what the run will hold against what Ray will have,
from the same hydra overrides ``main_ppo`` gets, and says which knob to turn. The recipes call it
(``memreward preflight -- OVERRIDES``) right before ``main_ppo``.

What holds Ray CPUs (read off verl 0.9.1 and TransferQueue 0.1.x): each GPU's placement-group bundle
(``{"CPU": 3, "GPU": 1}``, ``ResourcePoolManager.max_colocate_count``), the TransferQueue controller
(``num_cpus=1``), each SimpleStorage unit (``num_cpus=1``, ``num_data_storage_units``, 8 by default) and
the memreward memory worker (``worker_num_cpus``). Reward-loop, agent-loop and TaskRunner actors use
Ray's default (1 CPU to be placed, none held) and are not counted.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CPUS_PER_GPU",
    "CpuItem",
    "PreflightReport",
    "compose_job_config",
    "count_ray_cpus",
    "node_cpus",
    "sampling_errors",
    "missing_modules",
    "preflight",
]

# verl's ResourcePoolManager.max_colocate_count: every GPU bundle of the trainer's pool asks for 3 CPUs.
CPUS_PER_GPU = 3
# TransferQueue's controller and each SimpleStorage unit are ``@ray.remote(num_cpus=1)`` actors.
TQ_CONTROLLER_CPUS = 1
TQ_STORAGE_UNIT_CPUS = 1
MEMREWARD_MANAGER_NAMES = ("MemRewardManager", "memreward")
_TQ_UNITS_KEY = "transfer_queue.backend.SimpleStorage.num_data_storage_units"
_GPU_INSTALL = 'pip install -e ".[gpu]"'


@dataclass(frozen=True)
class CpuItem:
    """One thing that holds Ray CPUs on this node, and the override that changes it."""

    what: str
    cpus: float
    knob: str


@dataclass
class PreflightReport:
    """What the run needs and has; ``errors`` is empty when it may start."""

    items: list[CpuItem]
    needed: float
    available: float
    available_from: str
    errors: list[str] = field(default_factory=list)

    def breakdown(self) -> str:
        return ", ".join(f"{i.what}: {i.cpus:g}" for i in self.items)

    def summary(self) -> str:
        have = f"{self.available:g} available ({self.available_from})"
        return f"Ray CPUs on this node: {self.needed:g} needed ({self.breakdown()}); {have}"


def compose_job_config(overrides: Sequence[str]) -> Any:
    """The job config ``main_ppo`` would get: hydra's compose over the installed verl's ``ppo_trainer.yaml``.

    Raises:
        hydra.errors.ConfigCompositionException: an override key verl does not have.
    """
    import warnings

    from hydra import compose, initialize_config_dir

    with warnings.catch_warnings():  # verl lists every optional engine it lacks
        warnings.simplefilter("ignore", UserWarning)
        import verl

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(config_name="ppo_trainer", overrides=list(overrides))


def _select(cfg: Any, key: str, default: Any = None) -> Any:
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, key, default=default)
    return default if value is None else value


def node_cpus(cfg: Any) -> tuple[float, str]:
    """The CPUs Ray will have on this node: ``ray_kwargs.ray_init.num_cpus`` if set, else Ray's own count."""
    configured = _select(cfg, "ray_kwargs.ray_init.num_cpus")
    if configured is not None:
        return float(configured), "ray_kwargs.ray_init.num_cpus"
    try:  # what ray.init() itself uses (cgroup limits included)
        from ray._private.utils import get_num_cpus

        return float(get_num_cpus()), "this node, as Ray counts it"
    except Exception:
        return float(len(os.sched_getaffinity(0))), "this node"


def count_ray_cpus(cfg: Any) -> list[CpuItem]:
    """The Ray CPUs the job will hold on this (the head) node.

    With ``trainer.nnodes > 1`` the storage units spread round-robin over the nodes; this node gets
    its GPUs' bundles, its share of the units, the controller and the memory worker.
    """
    items = []
    gpus = int(_select(cfg, "trainer.n_gpus_per_node", 0))
    nnodes = max(1, int(_select(cfg, "trainer.nnodes", 1)))
    what = f"GPU bundles ({gpus} x {CPUS_PER_GPU})"
    items.append(CpuItem(what, float(gpus * CPUS_PER_GPU), "trainer.n_gpus_per_node"))
    if bool(_select(cfg, "trainer.use_v1", True)):
        items.append(CpuItem("TransferQueue controller", float(TQ_CONTROLLER_CPUS), "(fixed)"))
        if _select(cfg, "transfer_queue.backend.storage_backend", "SimpleStorage") == "SimpleStorage":
            units = int(_select(cfg, _TQ_UNITS_KEY, 8))
            here = math.ceil(units / nnodes)
            what = f"TransferQueue storage units ({here})"
            items.append(CpuItem(what, float(here * TQ_STORAGE_UNIT_CPUS), _TQ_UNITS_KEY))
    if _select(cfg, "reward.reward_manager.name") in MEMREWARD_MANAGER_NAMES:
        cpus = float(_select(cfg, "reward.reward_kwargs.worker_num_cpus", 1.0))
        items.append(CpuItem("memreward memory worker", cpus, "+reward.reward_kwargs.worker_num_cpus"))
    return items


def sampling_errors(cfg: Any) -> list[str]:
    """Greedy decoding with n > 1 (vLLM 0.24 raises, late, inside the rollout server)."""
    errors = []
    rollout = "actor_rollout_ref.rollout"
    n, temperature = int(_select(cfg, f"{rollout}.n", 1)), float(_select(cfg, f"{rollout}.temperature", 1.0))
    if temperature == 0 and n > 1:
        errors.append(
            f"{rollout}.temperature=0 (greedy) with {rollout}.n={n} > 1: vLLM rejects it and the group's rollouts "
            f"would be identical; set {rollout}.temperature > 0 or {rollout}.n=1 (recipes: TEMPERATURE, ROLLOUT_N)"
        )
    val = f"{rollout}.val_kwargs"
    val_n = int(_select(cfg, f"{val}.n", 1))
    val_greedy = not bool(_select(cfg, f"{val}.do_sample", False)) or float(_select(cfg, f"{val}.temperature", 0)) == 0
    if val_n > 1 and val_greedy:
        errors.append(
            f"{val}.n={val_n} > 1 with greedy validation ({val}.do_sample=False or {val}.temperature=0): "
            f"vLLM rejects it; set {val}.n=1, or {val}.do_sample=True with {val}.temperature > 0"
        )
    return errors


def missing_modules(cfg: Any) -> list[str]:
    """GPU-side modules ``main_ppo`` will import for this config that are not installed, each with its fix."""
    needed = {
        "fastapi": _GPU_INSTALL,  # verl/workers/rollout/utils.py (the rollout servers)
        "uvicorn": _GPU_INSTALL,
    }
    if bool(_select(cfg, "trainer.use_v1", True)):
        needed["transfer_queue"] = _GPU_INSTALL + " (TransferQueue, imported by main_ppo's V1 TaskRunner)"
    rollout = _select(cfg, "actor_rollout_ref.rollout.name", "vllm")
    if rollout in ("vllm", "sglang"):
        needed[rollout] = _GPU_INSTALL if rollout == "vllm" else "pip install 'verl[sglang]==0.9.1'"
    attn = _select(cfg, "actor_rollout_ref.model.override_config.attn_implementation", "flash_attention_2")
    if str(attn).startswith("flash_attention"):
        needed["flash_attn"] = (
            "pip install flash-attn --no-build-isolation (a source build: needs CUDA and a compiler), or run with "
            "+actor_rollout_ref.model.override_config.attn_implementation=sdpa (recipes: ATTN_IMPLEMENTATION=sdpa)"
        )
    return [f"{mod}: {fix}" for mod, fix in needed.items() if importlib.util.find_spec(mod) is None]


def preflight(overrides: Sequence[str], cpus: float | None = None, check_imports: bool = True) -> PreflightReport:
    """Every check on one ``main_ppo`` command line; the errors name the override to change.

    Args:
        overrides: the hydra overrides ``main_ppo`` gets.
        cpus: the CPUs Ray will have on this node (default: :func:`node_cpus`).
        check_imports: also check that the GPU-side modules are installed.
    """
    cfg = compose_job_config(overrides)
    items = count_ray_cpus(cfg)
    needed = sum(i.cpus for i in items)
    available, source = (float(cpus), "--cpus") if cpus is not None else node_cpus(cfg)
    report = PreflightReport(items, needed, available, source)
    if needed > available:
        knobs = ", ".join(dict.fromkeys(i.knob for i in items if i.knob != "(fixed)"))
        report.errors.append(
            f"the run holds {needed:g} Ray CPUs on this node ({report.breakdown()}) but Ray will have "
            f"{available:g} ({source}): verl would hang at start-up. Give Ray more logical CPUs with "
            f"ray_kwargs.ray_init.num_cpus={math.ceil(needed)} (they may exceed the cores: these actors are "
            f"mostly idle), or lower one of: {knobs}"
        )
    report.errors.extend(sampling_errors(cfg))
    if check_imports:
        missing = missing_modules(cfg)
        if missing:
            report.errors.append("main_ppo needs modules that are not installed: " + "; ".join(missing))
    return report
