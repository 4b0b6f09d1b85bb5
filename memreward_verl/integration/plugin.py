"""``verl.plugins`` entry point: makes ``reward.reward_manager.name=memreward`` resolvable.

``import verl`` loads every plugin of that group in every process and swallows load errors silently
(the only symptom would be ``Unknown reward manager: memreward``), so this module is light and logs
any failure at WARNING itself.
"""

import logging

logger = logging.getLogger(__name__)

try:
    from memreward_verl.integration.verl_version import detect_verl

    if detect_verl().api == "batch":  # verl < 0.7.1: the name lives in verl.workers.reward_manager
        from memreward_verl.integration import legacy as _manager  # noqa: F401  (registers "memreward")
    else:
        from memreward_verl.integration import manager as _manager  # noqa: F401  (registers "memreward")
except Exception as exc:  # keep verl importable; say why the name will be unknown
    logger.warning("memreward verl plugin failed to load; reward manager 'memreward' is unavailable: %r", exc)
