"""Reading a verl job config's ``reward.reward_kwargs`` into the options tree, once, at start-up.

verl hands every reward manager the whole job ``DictConfig``; :func:`options_from_verl_config` reads the
memreward section into :class:`~memreward_verl.serve.options.MemRewardOptions` (typed and range-checked
there) and reports legacy keys that verl 0.9 parses but ignores, naming the 0.9 key to use instead.
"""

from __future__ import annotations

import logging
from typing import Any

from memreward_verl.serve.options import ON_TIMEOUT, MemRewardOptions

__all__ = ["MemRewardOptions", "ON_TIMEOUT", "legacy_key_messages", "options_from_verl_config"]

logger = logging.getLogger(__name__)

# verl 0.9 key paths that older recipes used; ``migrate_legacy_reward_impl`` is not called by main_ppo.
_LEGACY_KEYS = {
    ("reward_model", "reward_manager"): "reward.reward_manager.name",
    ("reward_model", "reward_kwargs"): "+reward.reward_kwargs.<key>",
    ("reward_model", "reward_loop_source"): "reward.reward_manager.source",
    ("reward_model", "reward_loop_module_path"): "reward.reward_manager.module.path",
    ("reward_model", "reward_loop_class_name"): "reward.reward_manager.name",
    ("reward_model", "num_workers"): "reward.num_workers",
    ("custom_reward_function", "path"): "reward.custom_reward_function.path",
    ("custom_reward_function", "name"): "reward.custom_reward_function.name",
}


def _get(config: Any, path: tuple[str, ...]) -> Any:
    node = config
    for key in path:
        if node is None:
            return None
        try:
            node = node.get(key) if hasattr(node, "get") else None
        except Exception:  # omegaconf raises on missing keys in struct mode for some node types
            return None
    return node


def legacy_key_messages(config: Any) -> list[str]:
    """One message per legacy key that is set (verl 0.9 parses these but its trainer ignores them)."""
    out = []
    for path, new in _LEGACY_KEYS.items():
        value = _get(config, path)
        if value is None or (hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 0):
            continue
        out.append(f"{'.'.join(path)} is ignored by verl 0.9; use {new} instead")
    return out


def options_from_verl_config(config: Any) -> MemRewardOptions:
    """Read ``reward.reward_kwargs`` of a verl job config into :class:`MemRewardOptions`.

    Legacy keys are logged at WARNING; memreward options left under the legacy
    ``reward_model.reward_kwargs`` (where verl 0.9 would drop them silently) are an error.

    Raises:
        ValueError: unknown or bad options, or options only under the legacy key.
    """
    from omegaconf import OmegaConf

    def plain(node: Any) -> dict[str, Any]:
        if node is None:
            return {}
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)

    current = plain(_get(config, ("reward", "reward_kwargs")))
    legacy = plain(_get(config, ("reward_model", "reward_kwargs")))
    if not current and legacy:
        raise ValueError(
            f"memreward options were given as reward_model.reward_kwargs ({sorted(legacy)}), which verl 0.9 ignores; "
            "pass them as +reward.reward_kwargs.<key>=<value>"
        )
    for msg in legacy_key_messages(config):
        logger.warning(msg)
    return MemRewardOptions.from_mapping(current)
