"""training_prompts: the unlabelled prompts leave GRPO's batches exactly when they would get zero advantage."""

from __future__ import annotations

import pytest

from memreward_verl.demo import DemoConfig
from memreward_verl.train.prompts import training_prompts


def _rows(n: int) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"q{i}"}], "extra_info": {"query_id": f"q{i}"}} for i in range(n)]


def test_constant_drops_the_unlabelled_other_rules_keep_them():
    rows, labelled = _rows(10), {"q1", "q4"}
    dropped = training_prompts(rows, labelled, "constant")
    assert [r["extra_info"]["query_id"] for r in dropped.rows] == ["q1", "q4"]
    assert (dropped.labelled, dropped.unlabelled, dropped.dropped) == (2, 0, 8) and "zero advantage" in dropped.reason
    for rule in ("threshold", "plurality", "expected_cag", None):
        kept = training_prompts(rows, labelled, rule)
        assert kept.rows == rows and (kept.labelled, kept.unlabelled, kept.dropped) == (2, 8, 0)
    # with acquisition bought groups get ground truth: the unlabelled prompts stay
    assert training_prompts(rows, labelled, "constant", acquisition=True).rows == rows


def test_explicit_policies_and_errors():
    rows, labelled = _rows(4), {"q0"}
    assert training_prompts(rows, labelled, "constant", "keep").rows == rows
    assert len(training_prompts(rows, labelled, "threshold", "drop").rows) == 1
    with pytest.raises(ValueError, match="policy"):
        training_prompts(rows, labelled, "constant", "sometimes")
    with pytest.raises(ValueError, match="no labelled training prompt"):
        training_prompts(rows, set(), "constant")
    with pytest.raises(ValueError, match="row 1 has no extra_info.query_id"):
        training_prompts([rows[0], {"prompt": []}], labelled, "threshold")
    with pytest.raises(ValueError, match="unlabelled"):
        DemoConfig(unlabelled="never")


def test_served_rule_reads_the_fit_record(tmp_path):
    """What hard_rule=auto serves for an artifact: its fit's choice; None without a record; bad records named."""
    import json

    from memreward_verl.train.prompts import served_rule

    assert served_rule(tmp_path) is None
    (tmp_path / "metrics.json").write_text(json.dumps({"hard_rule": "constant", "hard_threshold": 0.5}))
    assert served_rule(tmp_path) == "constant"
    (tmp_path / "metrics.json").write_text(json.dumps({"val_auc": 0.7}))  # a fit that chose nothing: threshold
    assert served_rule(tmp_path) == "threshold"
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="metrics.json: the top level must be a JSON object"):
        served_rule(tmp_path)
    (tmp_path / "metrics.json").write_text("{torn")
    with pytest.raises(ValueError, match="metrics.json: not valid JSON"):
        served_rule(tmp_path)
