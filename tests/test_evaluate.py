"""Offline evaluation: report fields, leakage, label ratios and the CLI end to end."""

import json

import numpy as np
import pytest

from memreward_verl.cli import main
from memreward_verl.cpu.precision import native_bf16
from memreward_verl.evaluate import ALL_METHODS, choose_labelled, evaluate
from memreward_verl.rollouts import write_rollouts


def test_choose_labelled_is_seeded_nested_and_checked(arith_queries):
    a = choose_labelled(arith_queries, 0.2, seed=1)
    b = choose_labelled(arith_queries, 0.5, seed=1)
    assert len(a) == 12 and set(a) <= set(b)
    assert a == choose_labelled(arith_queries, 0.2, seed=1) and a != choose_labelled(arith_queries, 0.2, seed=2)
    with pytest.raises(ValueError, match="label_ratio"):
        choose_labelled(arith_queries, 1.5, 0)
    with pytest.raises(ValueError, match="at least 2"):
        choose_labelled(arith_queries[:5], 0.2, 0)


def test_evaluate_reports_every_method_and_ignores_hidden_labels(arith_queries, arith_groups, fast_cfg):
    rep = evaluate(arith_queries, 0.3, 0, fast_cfg, groups=arith_groups)
    assert set(rep["methods"]) == set(ALL_METHODS)
    for m in rep["methods"].values():
        assert {"auc", "accuracy", "f1", "brier", "cag"} <= set(m)
        assert 0.0 <= m["auc"] <= 1.0
    assert rep["n_labelled_queries"] == 18 and rep["n_test_queries"] == 42
    assert set(rep["per_domain"]["memreward"]) == {"math"}
    # The vote works on this data; a useful predictor must not be far below it.
    assert rep["methods"]["majority_vote"]["auc"] > 0.7
    # Shuffling the labels of unlabelled queries changes the metrics but never the predictions.
    test = rep["_predictions"]["test"]
    groups2 = type(arith_groups)(**{**arith_groups.__dict__, "labels": arith_groups.labels.copy()})
    groups2.labels[test] = np.random.default_rng(0).permutation(groups2.labels[test])
    rep2 = evaluate(arith_queries, 0.3, 0, fast_cfg, groups=groups2)
    for name in ALL_METHODS:
        assert np.array_equal(rep["_predictions"]["prob"][name], rep2["_predictions"]["prob"][name]), name


def test_eval_cli_end_to_end(arith_queries, tmp_path, capsys):
    path = tmp_path / "arith.jsonl"
    write_rollouts(arith_queries[:40], path)
    out = tmp_path / "report.json"
    rc = main(
        ["eval", str(path), "--label-ratio", "0.3", "--seed", "0", "--out", str(out), "--fit-seeds", "0",
         "--methods", "memreward,majority_vote,knn", "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"memreward", "majority_vote", "knn"}
    assert (tmp_path / "report" / "roc.png").stat().st_size > 1000
    assert (tmp_path / "report" / "calibration.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "memreward" in printed
    auto = "bf16" if native_bf16() else "fp32"
    assert report["embedder"] == {"model_id": "sentence-transformers/all-MiniLM-L6-v2@256", "compute_dtype": auto}
    assert f"embedder: sentence-transformers/all-MiniLM-L6-v2@256 computing in {auto}" in printed
    # A curve over label ratios in float32: from the cache where auto embedded in float32, else embedded anew.
    rc = main(
        ["eval", str(path), "--label-ratios", "0.2,0.5", "--out", str(tmp_path / "curve.json"), "--fit-seeds", "0",
         "--methods", "memreward,majority_vote", "--cache-dir", str(tmp_path / "cache"), "--embed-dtype", "fp32"]
    )  # fmt: skip
    assert rc == 0
    curve = json.loads((tmp_path / "curve.json").read_text())
    assert curve["ratios"] == [0.2, 0.5] and set(curve["runs"]) == {"0.2", "0.5"}
    assert curve["embedder"]["compute_dtype"] == "fp32"
    assert len(list((tmp_path / "cache").glob("emb-*.npz"))) == (1 if auto == "fp32" else 2)
    assert (tmp_path / "curve" / "label_curve.png").is_file()


def test_eval_cli_rejects_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query_id": "a", "domain": "math"}\n')
    assert main(["eval", str(bad), "--out", str(tmp_path / "r.json")]) == 2
    assert "bad.jsonl line 1" in capsys.readouterr().err
