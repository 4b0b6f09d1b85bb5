"""verl integration: the only package importing verl or ray.

``manager.py`` (``MemRewardManager``, registered as ``"memreward"``), ``actor.py`` (the shared
graph-memory worker), ``decode.py`` (verl sample -> record), ``config.py`` (``reward.reward_kwargs``),
``plugin.py`` (the ``verl.plugins`` entry). Submodules are imported on use, to keep this light.
"""

__all__ = ["actor", "config", "decode", "manager", "plugin"]
