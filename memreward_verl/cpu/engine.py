"""verl's FSDP training engine on the CPU platform, and the one process-group setting it needs there.

verl 0.9 registers its FSDP engines for ``cuda`` and ``npu`` only. On CPU the same engine works with
two differences, both applied here and nowhere else:

* the forward-only (reference) model is built with ``CPUOffloadPolicy(pin_memory=True)``; pinning
  needs an accelerator, so on CPU the policy is built unpinned (the parameters live in host memory
  either way);
* verl's workers start their process group with the backend string ``"cpu:gloo,<device>:<backend>"``,
  which is ``"cpu:gloo,cpu:gloo"`` on CPU and rejected by torch; plain ``gloo`` is what it means.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from verl.workers import engine_workers
from verl.workers.engine.base import EngineRegistry
from verl.workers.engine.fsdp import transformer_impl
from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

__all__ = ["CPUFSDPEngineWithLMHead", "CPUFSDPEngineWithValueHead", "install_engine"]

_BACKENDS = ["fsdp", "fsdp2"]


@contextlib.contextmanager
def _unpinned_offload_policy() -> Iterator[None]:
    """While building the FSDP module, ``CPUOffloadPolicy(...)`` in verl's engine never pins memory."""
    original = transformer_impl.CPUOffloadPolicy

    def unpinned(*args, **kwargs):
        return original(*args, **{**kwargs, "pin_memory": False})

    transformer_impl.CPUOffloadPolicy = unpinned
    try:
        yield
    finally:
        transformer_impl.CPUOffloadPolicy = original


class _CPUBuildMixin:
    def _build_fsdp_module(self, module):
        if self.engine_config.strategy != "fsdp2":
            raise ValueError(
                f"on the CPU platform only FSDP2 works (FSDP1 syncs module states through a GPU); got "
                f"strategy={self.engine_config.strategy!r}: set actor_rollout_ref.actor.strategy=fsdp2 "
                "(and ref.strategy, critic.strategy)"
            )
        with _unpinned_offload_policy():
            return super()._build_fsdp_module(module)


class CPUFSDPEngineWithLMHead(_CPUBuildMixin, FSDPEngineWithLMHead):
    """verl's FSDP2 language-model engine (actor, reference) on CPU."""


class CPUFSDPEngineWithValueHead(_CPUBuildMixin, FSDPEngineWithValueHead):
    """verl's FSDP2 value-model engine (critic) on CPU."""


def _gloo_process_group(original):
    @functools.wraps(original)
    def init(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or "gloo")

    return init


def install_engine() -> None:
    """Register the CPU engines and the gloo process group in this process (idempotent)."""
    lm = EngineRegistry._engines.get("language_model", {})
    if lm.get("fsdp2", {}).get("cpu") is CPUFSDPEngineWithLMHead:
        return
    EngineRegistry.register(model_type="language_model", backend=_BACKENDS, device="cpu")(CPUFSDPEngineWithLMHead)
    EngineRegistry.register(model_type="value_model", backend=_BACKENDS, device="cpu")(CPUFSDPEngineWithValueHead)
    engine_workers.initialize_global_process_group_ray = _gloo_process_group(
        engine_workers.initialize_global_process_group_ray
    )
