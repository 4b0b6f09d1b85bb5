"""benchmarks/faithful_cot_tasks.py: the unseen Faithful-CoT tasks' labels, order and errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "faithful_cot_tasks.py"
_spec = importlib.util.spec_from_file_location("faithful_cot_tasks", SCRIPT)
tasks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tasks)


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _checkout(tmp_path: Path, task: str, gold: list[dict], preds: dict[str, list[dict]]) -> Path:
    _write(tmp_path / "data" / task / "test.jsonl", gold)
    for config, records in preds.items():
        _write(tmp_path / "output_dir" / task / "test" / config / "predictions.jsonl", records)
    return tmp_path


def test_date_labels_order_and_missing(tmp_path, caplog):
    gold = [
        {"id": 0, "question": "Yesterday was April 30, 2021. Today?", "answer": "#### 05/01/2021"},
        {"id": 1, "question": "Today is 1/2/2020. Tomorrow?", "answer": "#### 01/03/2020"},
    ]
    preds = {
        "gpt4_COT": [
            {"id": 0, "answer": "5/1/2021", "completion": "So the answer is 05/01/2021."},
            {"id": 1, "answer": "[invalid]", "completion": "I cannot tell."},
        ],
        "code001_noNL": [{"id": 0, "answer": "04/30/2021", "completion": "date(2021, 4, 30)"}],
        "notaconfig_COT": [{"id": 0, "answer": "05/01/2021", "completion": "ignored"}],
    }
    queries = tasks.convert_task(_checkout(tmp_path, "date", gold, preds), "date")
    assert [q.query_id for q in queries] == ["date-0", "date-1"]
    assert queries[0].domain == "date" and queries[0].ground_truth == "05/01/2021"
    # configurations in sorted order; the unknown LM is not read
    assert [r.meta["config"] for r in queries[0].rollouts] == ["code001_noNL", "gpt4_COT"]
    assert [r.label for r in queries[0].rollouts] == [0, 1]  # 5/1/2021 is the same date
    # an unanswered question stays in its group, empty and wrong; [invalid] is wrong
    first, second = queries[1].rollouts
    assert first.text == "" and first.label == 0 and first.meta["missing"]
    assert second.label == 0
    assert "1 (question, configuration) pairs missing" in caplog.text


@pytest.mark.parametrize(
    ("task", "gold_answer", "pred", "label"),
    [
        ("AQUA", "C", "C", 1),
        ("AQUA", "C", "C).\n\nQ", 1),
        ("AQUA", "C", "B", 0),
        ("StrategyQA", True, True, 1),
        ("StrategyQA", True, "[invalid]", 0),
        ("sports", 1, "1", 1),
        ("sports", 0, "1", 0),
        ("CLUTRR", "husband-daughter #### daughter", "Daughter", 1),
        ("CLUTRR", "husband-daughter #### daughter", "son", 0),
        ("SVAMP", "#### 51", "$51", 1),
        ("SVAMP", "#### 51", "So you pay $51 for each pack", 1),
        ("SVAMP", "#### 51", "52", 0),
    ],
)
def test_judges(tmp_path, task, gold_answer, pred, label):
    gold = [{"id": 0, "question": "q", "answer": gold_answer}]
    preds = {"gpt4_COT": [{"id": 0, "answer": pred, "completion": "text"}]}
    (query,) = tasks.convert_task(_checkout(tmp_path, task, gold, preds), task)
    assert query.domain == tasks.DOMAINS[task]
    assert query.rollouts[0].label == label


def test_bad_gold_and_duplicates_are_named(tmp_path):
    preds = {"gpt4_COT": [{"id": 0, "answer": "x", "completion": "t"}]}
    root = _checkout(tmp_path / "a", "CLUTRR", [{"id": 0, "question": "q", "answer": "daughter"}], preds)
    with pytest.raises(ValueError, match=r"test\.jsonl:1: gold answer 'daughter' has no '#### <relation>'"):
        tasks.convert_task(root, "CLUTRR")
    dup = {"gpt4_COT": [{"id": 0, "answer": "A", "completion": "t"}, {"id": 0, "answer": "B", "completion": "t"}]}
    root = _checkout(tmp_path / "b", "AQUA", [{"id": 0, "question": "q", "answer": "A"}], dup)
    with pytest.raises(ValueError, match=r"predictions\.jsonl:2: duplicate id '0'"):
        tasks.convert_task(root, "AQUA")
    with pytest.raises(FileNotFoundError, match="no <LM>_<style>/predictions.jsonl"):
        tasks.convert_task(_checkout(tmp_path / "c", "date", [], {}), "date")
    with pytest.raises(ValueError, match=r"test\.jsonl: no questions"):
        tasks.convert_task(_checkout(tmp_path / "d", "date", [], preds), "date")
