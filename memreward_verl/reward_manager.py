"""Stable verl entry: ``reward.reward_manager.module.path=pkg://memreward_verl.reward_manager``.

With ``reward.reward_manager.source=importlib reward.reward_manager.name=MemRewardManager``; the
implementation lives in :mod:`memreward_verl.integration.manager` and may move, this path will not.
"""

from memreward_verl.integration.manager import MemRewardManager

__all__ = ["MemRewardManager"]
