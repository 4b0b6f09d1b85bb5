"""Code answers are compared by behaviour: programs that do the same thing agree (groups.featurise_groups)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.features import GROUP_FEATURES, vote_score
from memreward_verl.gnn import MemRewardGNN
from memreward_verl.graph import build_graph
from memreward_verl.groups import encode_groups
from memreward_verl.rollouts import Query, Rollout
from memreward_verl.verify.sandbox import sandbox_capabilities

pytestmark = pytest.mark.skipif(
    not sandbox_capabilities().get("probe_ok"), reason="the sandbox cannot run programs on this machine"
)

QUESTION = "Write a function that returns the sum of the squares of a list of integers."
SQUARES_A = (
    "```python\ndef sum_squares(xs):\n    return sum(x * x for x in xs)\n```\n"
    "Example: sum_squares([1, 2, 3]) returns 14."
)
SQUARES_B = (
    "```python\ndef total_sq(values):\n    total = 0\n    for v in values:\n        total += v ** 2\n"
    "    return total\n```\n"
    "```python\nassert total_sq([1, 2, 3]) == 14\nprint(total_sq([4]))  # Output: 16\n```"
)
WRONG = "```python\ndef sum_squares(xs):\n    return sum(xs) ** 2\n```"


def _queries() -> list[Query]:
    code = Query("c1", "code", "mbpp", QUESTION, None, [Rollout(t) for t in (SQUARES_A, SQUARES_B, WRONG)])
    math = Query("m1", "math", "gsm8k", "What is 2 + 2?", "4", [Rollout(t) for t in ("It is 4.", "#### 4", "5")])
    return [code, math]


def test_programs_that_behave_alike_share_an_answer(embedder):
    cfg = MemRewardConfig()
    groups = encode_groups(_queries(), embedder, cfg)
    keys = groups.answer_keys
    assert keys[0] == keys[1] and keys[0].startswith("exec:") and keys[2] != keys[0]
    share, ran = groups.feats[:, GROUP_FEATURES.index("share")], groups.feats[:, GROUP_FEATURES.index("exec_ran")]
    assert share[:3] == pytest.approx([2 / 3, 2 / 3, 1 / 3]) and ran[:3].tolist() == [1, 1, 1]
    score = groups.feats[:3, GROUP_FEATURES.index("exec_score")]
    assert score[0] > score[2] and score[1] > score[2]
    assert ran[3:].tolist() == [0, 0, 0] and keys[3] == keys[4] == "4"  # math keeps its answers
    clusters = groups.cluster_ids(cfg.graph.agreement_cosine)
    assert clusters[0] == clusters[1] != clusters[2]
    # the vote the reward stands on: a program's execution agreement score, an answer's cluster share
    vote = vote_score(groups.feats)
    assert vote[:3] == pytest.approx(score) and vote[3:] == pytest.approx(share[3:])
    # ... and the anchor reads it in place of the share (column 0)
    graph = build_graph(groups, np.full(groups.num_rollouts, -1, dtype=np.int8), cfg.graph)
    label_in = torch.zeros(groups.num_queries, 2)
    assert MemRewardGNN.anchor_x(graph, label_in)[:, 0].numpy() == pytest.approx(vote)


def test_without_execution_code_agreement_is_syntactic(embedder):
    cfg = MemRewardConfig()
    cfg.execution.enabled = False
    groups = encode_groups(_queries(), embedder, cfg)
    assert len(set(groups.answer_keys[:3])) == 3 and not any(k.startswith("exec:") for k in groups.answer_keys[:3])
    assert np.all(groups.feats[:, GROUP_FEATURES.index("exec_ran")] == 0)
