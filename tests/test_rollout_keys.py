"""A rollout's answer key is read from what its verifier reads: the whole response, the same options.

The answer node's text (text.py) is cut to its last characters for embedding; a key read from it
called a rollout unreadable when the model kept writing after its answer, though its verifier had
graded that answer (three such rollouts in the Qwen MATH set, each splitting a unanimous group).
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from memreward_verl.answers import choice_options, rollout_key
from memreward_verl.config import MemRewardConfig
from memreward_verl.groups import encode_groups
from memreward_verl.reward import RewardSample
from memreward_verl.rollouts import Query, Rollout
from memreward_verl.text import build_node_text
from memreward_verl.verify import ChoiceVerifier, MathVerifier

# A run-on tail longer than the answer node keeps (TextConfig.max_answer_chars = 500).
RUN_ON = " ".join(f"token{i} ))] {{ fragment" for i in range(120))
LONG_TAIL = f"The legs are 5 each, so the area is \\boxed{{25}}.\n{RUN_ON}"
QUESTION = "Which is wet?\nA. water\nB. fire\nC. sand"


def test_a_run_on_rollout_keeps_the_answer_its_verifier_grades():
    cfg = MemRewardConfig()
    assert len(build_node_text("q", LONG_TAIL, cfg.text).answer) <= cfg.text.max_answer_chars
    assert "boxed" not in build_node_text("q", LONG_TAIL, cfg.text).answer  # the node text lost it
    assert MathVerifier().verify(LONG_TAIL, "25").score == 1.0
    assert rollout_key(LONG_TAIL, "math") == "25"


def test_choice_keys_use_the_options_the_verifier_uses():
    response = "Water is wet, so the answer is water"
    assert ChoiceVerifier(3).verify(response, "A", {"question": QUESTION}).score == 1.0
    assert rollout_key(response, "qa", QUESTION) == "A"
    assert rollout_key(response, "qa") is None  # without options a text answer names no label
    # Options given with the record win over those in the question, for the verifier and the key.
    listed = {"options": ["fire", "water"]}
    assert choice_options(QUESTION, listed) == ["fire", "water"]
    assert rollout_key(response, "qa", QUESTION, listed) == "B"
    assert ChoiceVerifier(2).verify(response, "B", {"question": QUESTION, **listed}).score == 1.0


def test_encoded_groups_cluster_a_run_on_rollout_with_its_answer(embedder):
    rollouts = [Rollout(f"Half of 50 is \\boxed{{{a}}}.") for a in (25, 25, 24)] + [Rollout(LONG_TAIL)]
    queries = [
        Query("m", "math", "math", "What is half of 50?", None, rollouts),
        Query(
            "c",
            "qa",
            "arc_challenge",
            QUESTION,
            None,
            [Rollout("The answer is A."), Rollout("water"), Rollout("The answer is (B).")],
        ),
    ]
    groups = encode_groups(queries, embedder, MemRewardConfig())
    assert groups.answer_keys == ["25", "25", "24", "25", "A", "A", "B"]
    clusters = groups.cluster_ids(MemRewardConfig().graph.agreement_cosine)
    assert clusters[0] == clusters[1] == clusters[3] != clusters[2]
    assert clusters[4] == clusters[5] != clusters[6]


def test_the_vote_service_counts_a_run_on_rollout_with_its_answer():
    from memreward_verl.service import MajorityVoteService

    texts = ["So \\boxed{25}.", "So \\boxed{25}.", "So \\boxed{24}.", LONG_TAIL]
    samples = [
        RewardSample(uid="u", query_id="q", data_source="math", question="Half of 50?", response=t, domain="math")
        for t in texts
    ]

    svc = MajorityVoteService()

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in samples))

    out = asyncio.run(run())
    assert [o.score for o in out] == [1, 1, 0, 1]
    assert [o.prob for o in out] == [0.75, 0.75, 0.25, 0.75]


@pytest.mark.data
def test_every_qwen_math_group_keys_what_the_verifier_read(shared_data, embedder):
    """The three run-on rollouts of the real set are keyed by their boxed answers, as graded."""
    path = shared_data / "rollouts" / "qwen25math_math_rm_maj" / "math_cot_100.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    picked = [(25, "25"), (45, "36"), (48, "6")]  # groups whose every rollout the dataset scores right
    queries = [
        Query(str(i), "math", "math", rows[i]["question"], None, [Rollout(t) for t in rows[i]["code"]])
        for i, _ in picked
    ]
    assert all(all(rows[i]["score"]) for i, _ in picked)
    assert any(len(t) > 8000 for q in queries for t in (r.text for r in q.rollouts))
    groups = encode_groups(queries, embedder, MemRewardConfig())
    for (_, gold), sl in zip(picked, groups.group_slices()):
        assert set(groups.answer_keys[sl]) == {gold}
