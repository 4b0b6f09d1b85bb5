"""verl integration: the only package importing verl or ray.

``manager.py`` (``MemRewardManager``, verl 0.7.1 on's reward loop, registered as ``"memreward"``),
``legacy.py`` (``MemRewardBatchManager``, the batch reward-manager API of verl 0.5.0 - 0.7.0),
``scoring.py`` (the per-sample steps both managers share, so their rewards cannot differ),
``actor.py`` (the shared graph-memory worker), ``decode.py`` (verl sample -> record),
``validation.py`` (validation prompts from ``data.val_files``), ``config.py`` (``reward.reward_kwargs``),
``verl_version.py`` (which API the installed verl uses), ``plugin.py`` (the ``verl.plugins`` entry).
Submodules are imported on use, to keep this light.
"""

__all__ = ["actor", "config", "decode", "legacy", "manager", "plugin", "scoring", "validation", "verl_version"]
