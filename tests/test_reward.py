"""reward.py: routing, reward modes and the fixed extra-info keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memreward_verl.reward import (
    ACQ_KEYS,
    EXTRA_KEYS,
    SOURCES,
    AcquisitionInfo,
    RewardRule,
    RewardSample,
    SampleReward,
    route_sample,
)


def _sample(**kw):
    base = dict(uid="u", query_id="q1", data_source="openai/gsm8k", question="1+1?", response="#### 2")
    base.update(kw)
    return RewardSample(**base)


def test_route_validation_labelled_unlabelled():
    """Validation first, then the labelled set, then the prediction (also for a missing query id)."""
    labelled = frozenset({"q1"})
    assert route_sample(_sample(is_validation=True), labelled) == "validation"
    assert route_sample(_sample(), labelled) == "ground_truth"
    assert route_sample(_sample(query_id="q2"), labelled) == "predicted"
    assert route_sample(_sample(query_id=None), labelled) == "predicted"


def test_modes_hard_soft_abstain():
    """hard thresholds, soft passes probabilities, abstain gives a constant only to unsure groups."""
    p = np.array([0.2, 0.45, 0.55, 0.9])
    r, ab = RewardRule("hard", threshold=0.5).group_rewards(p)
    assert r.tolist() == [0, 0, 1, 1] and not ab
    r, _ = RewardRule("soft").group_rewards(p)
    assert np.allclose(r, p)
    unsure = np.array([0.4, 0.45, 0.55, 0.6])
    r, ab = RewardRule("abstain", abstain_band=0.15, abstain_reward=0.0).group_rewards(unsure)
    assert ab and r.tolist() == [0, 0, 0, 0]
    r, ab = RewardRule("abstain", abstain_band=0.15).group_rewards(p)
    assert not ab and r.tolist() == [0, 0, 1, 1]


def test_expected_cag_rule_runs():
    """expected_cag gives 0/1 rewards for a group (decision.py)."""
    r, _ = RewardRule("hard", hard_rule="expected_cag").group_rewards(
        np.array([0.9, 0.9, 0.1, 0.1]), np.array([0, 0, 1, 1])
    )
    assert set(r.tolist()) <= {0.0, 1.0}


def test_bad_rule_names_choices():
    """Unknown mode/rule: the error lists the choices."""
    with pytest.raises(ValueError, match="hard.*soft.*abstain"):
        RewardRule("median")
    with pytest.raises(ValueError, match="threshold"):
        RewardRule(hard_rule="vote")


def test_extra_info_keys_fixed():
    """Every kind of result has exactly the same keys; hidden_gt is logged, not the reward."""
    a = SampleReward.from_verifier(1.0, "ground_truth").extra_info()
    b = SampleReward.from_prediction(0.0, 0.3, 1.0, abstained=False, timed_out=False, neutral=False)
    c = SampleReward.from_prediction(0.0, math.nan, None, abstained=True, timed_out=True, neutral=True)
    assert tuple(a) == tuple(b.extra_info()) == tuple(c.extra_info()) == EXTRA_KEYS
    assert b.score == 0.0 and b.hidden_gt == 1.0 and b.pred_correct == 0.0
    assert c.extra_info()["reward_source"] == "neutral" and math.isnan(c.pred_correct)
    with pytest.raises(ValueError, match="validation"):
        SampleReward.from_verifier(1.0, "predicted")
    assert all(math.isnan(a[k]) and math.isnan(b.extra_info()[k]) for k in ACQ_KEYS)


def test_acquired_group_reward_and_keys():
    """A bought group's sample: the oracle's reward, source "acquired", acc = that reward, the GNN's
    probability kept; a group offered and not bought: predicted, no realised CAG."""
    bought = AcquisitionInfo(1.0, 1.0, 0.8, 0.5)
    r = SampleReward.from_prediction(1.0, 0.2, 1.0, abstained=False, timed_out=False, neutral=False, acquisition=bought)
    info = r.extra_info()
    assert tuple(info) == EXTRA_KEYS and "acquired" in SOURCES
    assert info["reward_source"] == "acquired" and r.score == 1.0 and info["acc"] == 1.0 and info["pred_prob"] == 0.2
    assert (info["acq_bought"], info["acq_spent"], info["acq_pred_cag"], info["acq_real_cag"]) == (1.0, 1.0, 0.8, 0.5)
    skipped = SampleReward.from_prediction(
        0.0, 0.2, None, abstained=False, timed_out=False, neutral=False, acquisition=AcquisitionInfo(0.0, 1.0, 0.3)
    ).extra_info()
    assert skipped["reward_source"] == "predicted" and skipped["acq_bought"] == 0.0
    assert math.isnan(skipped["acq_real_cag"]) and skipped["acc"] == 0.0
    with pytest.raises(ValueError, match="neutral"):
        SampleReward.from_prediction(0.0, 0.2, None, abstained=True, timed_out=True, neutral=True, acquisition=bought)


def test_acc_is_the_reward_given_never_the_hidden_verdict():
    """verl's group filter (filter_groups.metric=acc) sees the predicted reward; the verifier's verdict on an
    unlabelled rollout (here 1, the GNN said 0) stays under hidden_gt."""
    r = SampleReward.from_prediction(0.0, 0.3, 1.0, abstained=False, timed_out=False, neutral=False)
    info = r.extra_info()
    assert info["acc"] == 0.0 == r.score and info["hidden_gt"] == 1.0 and info["pred_correct"] == 0.0


def test_majority_vote_plurality_ties_and_unparseable():
    """Plurality answers get 1; tied top answers all count; unparseable answers get 0 and never vote."""
    from memreward_verl.reward import majority_vote_rewards

    rewards, shares, top = majority_vote_rewards(["18", "18", "20", None, "18", "7"])
    assert rewards.tolist() == [1, 1, 0, 0, 1, 0] and top == {"18"}
    assert shares.tolist() == pytest.approx([0.5, 0.5, 1 / 6, 0, 0.5, 1 / 6])
    rewards, _, top = majority_vote_rewards(["3", "4", "3", "4", "5", None])
    assert rewards.tolist() == [1, 1, 1, 1, 0, 0] and top == {"3", "4"}
    rewards, shares, top = majority_vote_rewards([None, None])
    assert rewards.tolist() == [0, 0] and shares.tolist() == [0, 0] and top == frozenset()
    assert majority_vote_rewards(["1", "2", "3"])[0].tolist() == [1, 1, 1]  # no consensus: zero advantage


def test_majority_vote_rule_rejects_probabilities():
    """The majority_vote mode votes on answers; asking it to map probabilities is an error."""
    with pytest.raises(ValueError, match="majority_vote"):
        RewardRule("majority_vote").group_rewards(np.array([0.5]))


def test_pred_correct_uses_the_decision_when_given():
    """With a decision (the vote), pred_correct compares it, not the probability, with hidden_gt."""
    r = SampleReward.from_prediction(1.0, 0.375, 1.0, abstained=False, timed_out=False, neutral=False, decision=1.0)
    assert r.pred_correct == 1.0 and r.pred_prob == 0.375 and r.score == 1.0
    r = SampleReward.from_prediction(0.0, 0.625, 1.0, abstained=False, timed_out=False, neutral=False, decision=0.0)
    assert r.pred_correct == 0.0
