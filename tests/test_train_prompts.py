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
