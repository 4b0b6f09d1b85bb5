"""reward_log_stats: per-step sources and the audit that a predicted reward follows from its probability."""

from __future__ import annotations

import json

import pytest

from memreward_verl.train.report import reward_log_stats


def _row(qid: str, reward: float, prob: float, hidden: float, rule: str, threshold: float = 0.5, **kw) -> dict:
    return {
        "reward_mode": "hard",
        "hard_rule": rule,
        "threshold": threshold,
        "step": 1,
        "query_id": qid,
        "uid": qid,
        "data_source": "d",
        "validation": False,
        "reward": reward,
        "reward_source": "predicted",
        "pred_prob": prob,
        "hidden_gt": hidden,
        **kw,
    }


def _write(tmp_path, rows):
    path = tmp_path / "reward_log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rewards_that_follow_the_logged_rule_pass(tmp_path):
    """threshold at the logged 0.7 (p=0.6 -> 0), constant (p=0.9 -> 0), plurality (not checked per rollout)."""
    rows = [
        _row("a", 0.0, 0.6, 1.0, "threshold", 0.7),
        _row("a", 1.0, 0.8, 1.0, "threshold", 0.7),
        _row("b", 0.0, 0.9, 1.0, "constant"),
        _row("c", 1.0, 0.2, 0.0, "plurality"),
        {**_row("v", 1.0, 0.0, 1.0, "threshold"), "reward_source": "ground_truth"},
    ]
    stats = reward_log_stats(_write(tmp_path, rows))
    assert stats[1]["sources"] == {"ground_truth": 1, "predicted": 4}
    assert stats[1]["gnn_vs_hidden_truth"]["n"] == 4


@pytest.mark.parametrize(
    ("row", "named"),
    [
        (_row("q7", 1.0, 0.6, 1.0, "threshold", 0.7), "threshold 0.7"),
        (_row("q8", 1.0, 0.9, 1.0, "constant"), "hard_rule constant"),
    ],
)
def test_a_reward_that_does_not_follow_its_probability_is_an_error(tmp_path, row, named):
    """A reward the logged rule cannot give (e.g. the hidden verdict) raises, naming the query and the rule."""
    with pytest.raises(ValueError, match=rf"'{row['query_id']}'.*{named}"):
        reward_log_stats(_write(tmp_path, [row]))
