"""verl 0.5's ``main_ppo`` with ``reward_model.reward_manager=memreward`` resolvable.

Usage::

    python -m memreward_verl.integration.legacy_main reward_model.reward_manager=memreward \\
        +reward_model.reward_kwargs.artifact_dir=/path/to/artifact <the usual main_ppo overrides>

verl 0.5 looks the reward manager up in its TaskRunner actor, where no user code was imported, and
its ``ray.init`` takes no runtime environment from the config. This entry starts Ray as verl 0.5 does
(its runtime environment, ``ray_init.num_cpus``) plus a worker set-up hook that imports the batch
adapter in every Ray process, then hands over to verl's own ``run_ppo``. verl 0.6 and later need no
launcher (docs/compat.md).
"""

from __future__ import annotations

import os
from typing import Any

import hydra
import ray
import verl

from memreward_verl.integration.verl_version import SETUP_HOOK, UnsupportedVerlError, detect_verl

__all__ = ["main", "ray_runtime_env"]

CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")


def ray_runtime_env() -> dict[str, Any]:
    """verl's own PPO runtime environment plus the hook registering ``memreward`` in every Ray worker."""
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    env = dict(get_ppo_ray_runtime_env())
    env["worker_process_setup_hook"] = SETUP_HOOK
    return env


@hydra.main(config_path=CONFIG_DIR, config_name="ppo_trainer", version_base=None)
def main(config) -> None:
    """Start Ray with the set-up hook, then run verl's ``run_ppo`` on the composed config.

    Raises:
        UnsupportedVerlError: the installed verl is not 0.5.x (later versions take the hook as an override).
    """
    found = detect_verl()
    if not found.version.startswith("0.5."):
        raise UnsupportedVerlError(
            f"legacy_main is for verl 0.5.x; verl {found.version} runs python -m verl.trainer.main_ppo with the "
            "overrides in docs/compat.md"
        )
    from verl.trainer.main_ppo import run_ppo

    import memreward_verl.integration.legacy  # noqa: F401  (the driver too: a config check may resolve the name)

    if not ray.is_initialized():
        ray.init(runtime_env=ray_runtime_env(), num_cpus=config.ray_init.num_cpus)
    run_ppo(config)


if __name__ == "__main__":
    main()
