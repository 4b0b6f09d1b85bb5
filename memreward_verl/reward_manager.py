"""Stable verl entry: ``reward.reward_manager.module.path=pkg://memreward_verl.reward_manager``.

With ``reward.reward_manager.source=importlib reward.reward_manager.name=MemRewardManager``; the
implementation lives in :mod:`memreward_verl.integration.manager` and may move, this path will not.
It needs verl's reward loop (0.7.1 on); an older verl gets one error naming the batch-API entry instead.
"""

from memreward_verl.integration.verl_version import require_api

require_api("reward_loop", "memreward_verl.reward_manager.MemRewardManager")

from memreward_verl.integration.manager import MemRewardManager  # noqa: E402  (after the version check)

__all__ = ["MemRewardManager"]
