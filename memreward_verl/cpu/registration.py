"""Registers the CPU rollout under verl's rollout registries (name ``cpu``)."""

from __future__ import annotations

__all__ = ["register_rollout"]


def _load_replica():
    from memreward_verl.cpu.rollout import CPURolloutReplica

    return CPURolloutReplica


def register_rollout() -> None:
    """``actor_rollout_ref.rollout.name=cpu``: the replica (trainer side) and the worker adapter.

    verl 0.9 has a public registry for replicas; the worker-side adapter is looked up in a module
    dict keyed by ``(name, mode)``, which takes a dotted class path, so nothing is imported here.
    """
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from memreward_verl.cpu.rollout_names import ADAPTER_PATH, ROLLOUT_NAME

    RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
    base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = ADAPTER_PATH
