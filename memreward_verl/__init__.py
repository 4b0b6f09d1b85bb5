"""memreward_verl: experience-memory GNN rewards for verl when only some prompts are labelled.

Stages, in data-flow order: rollout files -> node text -> embeddings -> group features ->
experience memory -> graph -> GNN (warm-up fit) -> online prediction -> rewards. Heavy modules
(torch, PyG, faiss, sentence-transformers) load on first use of a name below.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module, grouped by stage
_EXPORTS = {
    # data
    "Query": "rollouts",
    "Rollout": "rollouts",
    "read_rollouts": "rollouts",
    "write_rollouts": "rollouts",
    "RolloutFormatError": "rollouts",
    # configuration
    "MemRewardConfig": "config",
    # text -> numbers
    "build_node_text": "text",
    "load_embedder": "embed",
    "encode_groups": "groups",
    "EncodedGroups": "groups",
    # memory, graph, model
    "ExperienceMemory": "memory",
    "build_graph": "graph",
    "MemRewardGNN": "gnn",
    "FoldEnsemble": "ensemble",
    "fit_gnn": "fit",
    "Predictor": "predict",
    "build_artifact": "artifact",
    "load_artifact": "artifact",
    # rewards and evaluation
    "hard_rewards": "decision",
    "evaluate": "evaluate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"memreward_verl.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'memreward_verl' has no attribute {name!r}")
