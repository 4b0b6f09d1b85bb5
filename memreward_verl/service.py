"""The reward services at their old import path; they live in :mod:`memreward_verl.serve`.

serve/collector.py (grouping by uid, timeouts, stragglers), serve/memory_scorer.py (the graph-memory
service), serve/vote_scorer.py (majority vote), serve/load.py (building one from an artifact or a
labelled-ids file).
"""

from __future__ import annotations

from memreward_verl.serve.collector import GroupOutcome, GroupTimeoutError
from memreward_verl.serve.load import load_service, load_vote_service, read_labelled_ids_file
from memreward_verl.serve.memory_scorer import MemoryService, concat_groups
from memreward_verl.serve.options import CollectOptions
from memreward_verl.serve.vote_scorer import MajorityVoteService

# The services' config is the ``collect`` section of the job's options (serve/options.py), not a copy.
ServiceConfig = CollectOptions

__all__ = [
    "ServiceConfig",
    "GroupOutcome",
    "MemoryService",
    "MajorityVoteService",
    "GroupTimeoutError",
    "concat_groups",
    "load_service",
    "load_vote_service",
    "read_labelled_ids_file",
]
