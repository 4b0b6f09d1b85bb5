"""CAG and the hard-reward decision rules."""

import math

import numpy as np
import pytest

from memreward_verl.decision import hard_rewards
from memreward_verl.metrics import binary_metrics, cag, grpo_advantages


def test_cag_known_values():
    n = 8
    zeros = np.zeros(n)
    wrong_pseudo = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    groups = np.zeros(n, dtype=int)
    assert cag(zeros, zeros, groups) == 0.0
    # Truth all-equal (zero advantages), prediction split: gap = |adv(pred)| = sqrt(n).
    assert cag(wrong_pseudo, zeros, groups) == pytest.approx(math.sqrt(n), rel=1e-5)
    # Inverted split: the largest gap.
    assert cag(1 - wrong_pseudo, wrong_pseudo, groups) == pytest.approx(2 * math.sqrt(n), rel=1e-5)
    assert np.allclose(grpo_advantages(np.ones(4)), 0)


def test_binary_metrics_fields_and_single_class():
    m = binary_metrics(np.array([0.9, 0.2, 0.7, 0.4]), np.array([1, 0, 1, 0]), np.array([0, 0, 1, 1]))
    assert m["auc"] == 1.0 and m["accuracy"] == 1.0 and m["f1"] == 1.0 and m["cag"] == pytest.approx(0, abs=1e-5)
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.09, 0.16]))
    assert math.isnan(binary_metrics(np.array([0.3, 0.6]), np.array([1, 1]), np.array([0, 0]))["auc"])


def test_expected_cag_rule_flattens_uncertain_groups_and_keeps_confident_ones():
    p = np.array([0.95, 0.9, 0.1, 0.05, 0.55, 0.5, 0.45, 0.5])
    g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    hard = hard_rewards(p, g, rule="expected_cag")
    assert hard[:4].tolist() == [1, 1, 0, 0]
    assert len(set(hard[4:].tolist())) == 1  # unsure: equal rewards, zero advantage
    assert hard_rewards(p, g, rule="threshold").tolist() == [1, 1, 0, 0, 1, 1, 0, 1]
    assert np.array_equal(hard, hard_rewards(p, g, rule="expected_cag"))  # deterministic
    with pytest.raises(ValueError, match="rule"):
        hard_rewards(p, g, rule="median")


def test_expected_cag_rule_is_better_in_expectation_on_calibrated_probabilities():
    rng = np.random.default_rng(0)
    p = rng.beta(0.7, 0.7, size=(300, 8)).clip(0.01, 0.99)
    truth = (rng.random(p.shape) < p).astype(int)
    g = np.repeat(np.arange(300), 8)
    flat_p, flat_t = p.reshape(-1), truth.reshape(-1)
    ours = cag(hard_rewards(flat_p, g, rule="expected_cag"), flat_t, g)
    threshold = cag(hard_rewards(flat_p, g, rule="threshold"), flat_t, g)
    assert ours < threshold


def test_within_group_auc_ignores_between_group_ranking():
    from memreward_verl.metrics import within_group_auc

    g = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    y = np.array([1, 0, 0, 1, 0, 1, 1, 1])
    # Group 0 ranked right, group 1 ranked wrong; group 2 (all right) has no ranking to get right.
    p = np.array([0.9, 0.1, 0.2, 0.5, 0.8, 0.4, 0.0, 0.0])
    auc, mixed = within_group_auc(p, y, g)
    assert mixed == 2 and auc == pytest.approx((1.0 + 0.0) / 2)
    # A shift per group changes pooled AUC but not the within-group AUC.
    assert within_group_auc(p + g * 10, y, g)[0] == pytest.approx(auc)
    assert np.isnan(within_group_auc(p[6:], y[6:], g[6:])[0])
    assert binary_metrics(p, y, g)["auc_within"] == pytest.approx(auc)
    assert within_group_auc(p, y, np.array([f"uid-{i}" for i in g]))[0] == pytest.approx(auc)  # string uids


def test_plurality_rule_rewards_the_cluster_with_the_highest_mean_probability():
    p = np.array([0.9, 0.2, 0.8, 0.3, 0.6, 0.1])
    g = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([5, 5, 6, 1, 2, 2])
    # Group 0: cluster 6 (0.8) beats cluster 5 (mean 0.55); group 1: cluster 2 (0.35) beats cluster 1 (0.3).
    assert hard_rewards(p, g, clusters, rule="plurality").tolist() == [0, 0, 1, 0, 1, 1]
    # Without clusters every rollout is its own cluster: the single most likely rollout per group.
    assert hard_rewards(p, g, rule="plurality").tolist() == [1, 0, 0, 0, 1, 0]
    # Clusters tied at the top all get 1, as the vote does (no arbitrary winner, no advantage).
    assert hard_rewards(np.array([0.25] * 4), np.zeros(4, int), np.arange(4), rule="plurality").tolist() == [1] * 4


def test_choose_hard_rule_leaves_threshold_only_for_a_clear_gain():
    from memreward_verl.decision import HARD_RULES, choose_hard_rule, resolve_rule

    g = np.repeat(np.arange(40), 4)
    clusters = np.tile([0, 0, 1, 2], 40) + 10 * g
    # Probabilities all below 0.5 but ranking the true cluster first: threshold gives all-0 (zero
    # advantages, a large gap), plurality recovers the truth exactly.
    p = np.tile([0.4, 0.4, 0.2, 0.1], 40)
    y = np.tile([1, 1, 0, 0], 40)
    rule, threshold, by_rule = choose_hard_rule(p, y, g, clusters, np.ones(len(p), dtype=bool))
    assert (rule, threshold) == ("plurality", 0.5) and set(by_rule) == set(HARD_RULES)
    assert by_rule["plurality"] == pytest.approx(0, abs=1e-4) and by_rule["threshold"] > 1.0
    # Confident, right probabilities: every rule but constant is exact, and the tie goes to threshold.
    rule, _, by_rule = choose_hard_rule(np.tile([0.99, 0.99, 0.01, 0.01], 40), y, g, clusters)
    assert rule == "threshold" and by_rule["threshold"] == by_rule["expected_cag"] == pytest.approx(0, abs=1e-4)
    assert by_rule["constant"] == pytest.approx(2.0, abs=1e-4)  # sqrt(4): the truth's advantages, missed
    # Too few groups are no evidence: threshold stays although plurality is better on these four.
    assert choose_hard_rule(p[:16], y[:16], g[:16], clusters[:16])[0] == "threshold"
    # A gain that is noise (half the groups favour plurality, half threshold) does not move the rule.
    mixed_p = np.concatenate([p[:80], np.tile([0.6, 0.6, 0.7, 0.1], 20)])
    rule, _, by_rule = choose_hard_rule(mixed_p, y, g, clusters, min_gain_z=3.0)
    assert rule == "threshold"
    assert resolve_rule("auto", 0.5, {"hard_rule": "plurality"}) == ("plurality", 0.5)
    assert resolve_rule("auto", 0.5, {"hard_rule": "threshold", "hard_threshold": 0.3}) == ("threshold", 0.3)
    assert resolve_rule("auto", 0.6, {}) == ("threshold", 0.6)
    assert resolve_rule("expected_cag", 0.5, {"hard_rule": "plurality"}) == ("expected_cag", 0.5)
    with pytest.raises(ValueError, match="hard_rule"):
        resolve_rule("auto", 0.5, {"hard_rule": "median"})
    with pytest.raises(ValueError, match="hard_threshold"):
        resolve_rule("auto", 0.5, {"hard_rule": "threshold", "hard_threshold": 1.5})


def test_choose_hard_rule_keeps_its_default_without_a_clear_gain():
    """The fit's fallback serves the vote by its own rule (``default="plurality"``): another rule must beat
    it by the same significance that ``threshold`` asks of its challengers."""
    from memreward_verl.decision import choose_hard_rule

    g = np.repeat(np.arange(40), 4)
    clusters = np.tile([0, 0, 1, 2], 40) + 10 * g
    y = np.tile([1, 1, 0, 0], 40)
    right = np.tile([0.99, 0.99, 0.01, 0.01], 40)  # every rule but constant exact: the default stays
    assert choose_hard_rule(right, y, g, clusters)[0] == "threshold"
    assert choose_hard_rule(right, y, g, clusters, default="plurality")[0] == "plurality"
    # A confident majority that is always wrong: plurality's splits cost sqrt(4) a group, equal rewards 0.
    wrong = np.tile([0.7, 0.7, 0.2, 0.1], 40)
    assert choose_hard_rule(wrong, 0 * y, g, clusters, default="plurality")[0] == "constant"
    # Unanimous groups: plurality never splits one, so equal rewards are what it served anyway.
    one = np.repeat(np.arange(40), 4)
    assert choose_hard_rule(np.full(160, 0.8), y, g, one, default="plurality")[0] == "constant"
    # Plurality far better, but on 3 of 40 groups only (the rules agree on the rest): no evidence, the default stays.
    few = right.copy()
    few[:12] = np.tile([0.4, 0.4, 0.2, 0.1], 3)  # threshold gives all 0 in these three groups, plurality the truth
    _, _, by_rule = choose_hard_rule(few, y, g, clusters)
    assert by_rule["plurality"] < by_rule["threshold"]
    assert choose_hard_rule(few, y, g, clusters)[0] == "threshold"
    few[:20] = np.tile([0.4, 0.4, 0.2, 0.1], 5)  # five such groups: a difference a paired test can read
    assert choose_hard_rule(few, y, g, clusters)[0] == "plurality"
    # Equal rewards need less: threshold splits 3 all-right groups (and no other), each split a cost.
    all_right, p3 = np.ones(160, dtype=int), np.full(160, 0.9)
    p3[:12] = np.tile([0.9, 0.9, 0.1, 0.1], 3)
    rule, _, by_rule = choose_hard_rule(p3, all_right, g, clusters)
    assert rule == "constant" and by_rule["constant"] == 0.0 < by_rule["threshold"]
    with pytest.raises(ValueError, match="default rule"):
        choose_hard_rule(right, y, g, clusters, default="median")


def test_every_rule_is_a_valid_config_choice():
    """RewardConfig (dependency-free) lists the rules itself: it must accept every rule decision.py has."""
    from memreward_verl.config import RewardConfig
    from memreward_verl.decision import AUTO_RULE, HARD_RULES

    for rule in (AUTO_RULE, *HARD_RULES):
        assert RewardConfig(hard_rule=rule).hard_rule == rule
    with pytest.raises(ValueError, match="hard_rule"):
        RewardConfig(hard_rule="median")
    with pytest.raises(ValueError, match="auto_thresholds"):
        RewardConfig(auto_thresholds=(0.3, 1.0))
    with pytest.raises(ValueError, match="auto_gain_z"):
        RewardConfig(auto_gain_z=-1.0)


def test_choose_hard_rule_prefers_no_advantage_to_a_wrong_one():
    """Where every group's rollouts are all wrong, any split costs sqrt(n) and equal rewards cost nothing."""
    from memreward_verl.decision import choose_hard_rule, hard_rewards

    g = np.repeat(np.arange(40), 4)
    clusters = np.tile([0, 0, 1, 2], 40) + 10 * g
    p = np.tile([0.7, 0.7, 0.2, 0.1], 40)  # a confident majority ...
    y = np.zeros(len(p), dtype=int)  # ... that is always wrong
    rule, _, by_rule = choose_hard_rule(p, y, g, clusters, np.ones(len(p), dtype=bool))
    assert rule == "constant" and by_rule["constant"] == 0.0
    assert by_rule["threshold"] == by_rule["plurality"] == pytest.approx(2.0, abs=1e-4)
    assert not hard_rewards(p, g, clusters, rule="constant").any()


def test_choose_hard_rule_moves_the_threshold_only_on_evidence():
    """A threshold from ``thresholds`` wins where it splits the groups right and 0.5 does not."""
    from memreward_verl.decision import choose_hard_rule, threshold_key

    g = np.repeat(np.arange(40), 4)
    clusters = np.arange(len(g))  # no shared answers: plurality crowns one rollout
    rng = np.random.default_rng(0)
    p = np.tile([0.45, 0.4, 0.15, 0.1], 40) + rng.uniform(-0.02, 0.02, len(g))  # under-confident
    y = np.tile([1, 1, 0, 0], 40)
    rule, threshold, by_rule = choose_hard_rule(p, y, g, clusters, thresholds=(0.3, 0.7))
    assert (rule, threshold) == ("threshold", 0.3)
    assert by_rule[threshold_key(0.3)] == pytest.approx(0, abs=1e-4) and by_rule["threshold"] > 1.0
    assert threshold_key(0.7) in by_rule and threshold_key(0.5) not in by_rule  # the configured one is "threshold"
    # The same probabilities, right in half the groups and all wrong in the rest: 0.3 wins the first half
    # by as much as 0.5 (equal rewards) wins the second, so 0.3 is not taken. 0.5 splits no group here
    # (every p < 0.5), so what it would do on a group it splits is untested: equal rewards are served.
    y_half = np.concatenate([y[:80], np.zeros(80, dtype=int)])
    rule, threshold, by_rule = choose_hard_rule(p, y_half, g, clusters, thresholds=(0.3, 0.7))
    assert (rule, threshold) == ("constant", 0.5)
    assert by_rule[threshold_key(0.3)] == pytest.approx(by_rule["threshold"], abs=1e-4)
    assert by_rule["threshold"] == by_rule["constant"]
    # One more group that 0.5 splits right: threshold has been seen to split, and stays.
    g1, c1 = np.append(g, [40] * 4), np.append(clusters, np.arange(4) + len(g))
    p1, y1 = np.append(p, [0.9, 0.8, 0.1, 0.1]), np.append(y_half, [1, 1, 0, 0])
    assert choose_hard_rule(p1, y1, g1, c1, thresholds=(0.3, 0.7))[:2] == ("threshold", 0.5)
