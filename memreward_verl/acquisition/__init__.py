"""Active label acquisition: buy ground truth where pseudo rewards would mislead GRPO most.

- :mod:`~memreward_verl.acquisition.oracle`: label oracles (verifiers in research mode, recorded
  labels, or your own).
- :mod:`~memreward_verl.acquisition.strategies`: ``random``, ``uncertainty``, ``care``, ``hybrid``
  behind one registry, all scoring by expected Corrective Advantage Gap (CAG).
- :mod:`~memreward_verl.acquisition.budget`: budgets that cannot be exceeded.
- :mod:`~memreward_verl.acquisition.online`: :class:`OnlineAcquirer`, group-by-group decisions for
  verl's streaming reward loop.
- :mod:`~memreward_verl.acquisition.simulate`: the offline simulation behind
  ``memreward eval-acquisition``.
"""

from memreward_verl.acquisition.budget import BudgetConfig, BudgetTracker
from memreward_verl.acquisition.expected import expected_cag, group_cag
from memreward_verl.acquisition.online import AcquirerConfig, Decision, OnlineAcquirer
from memreward_verl.acquisition.oracle import (
    LabelOracle,
    OracleRequest,
    RecordedLabelOracle,
    VerifierOracle,
    request_from_query,
)
from memreward_verl.acquisition.probes import CareProbes, GroupView, ProbeConfig
from memreward_verl.acquisition.strategies import STRATEGIES, Score, Strategy, StrategyConfig, make_strategy

__all__ = [
    "AcquirerConfig",
    "BudgetConfig",
    "BudgetTracker",
    "CareProbes",
    "Decision",
    "GroupView",
    "LabelOracle",
    "OnlineAcquirer",
    "OracleRequest",
    "ProbeConfig",
    "RecordedLabelOracle",
    "STRATEGIES",
    "Score",
    "Strategy",
    "StrategyConfig",
    "VerifierOracle",
    "expected_cag",
    "group_cag",
    "make_strategy",
    "request_from_query",
]
