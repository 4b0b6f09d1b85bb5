"""Multiple-choice verification: extraction cases and the real QA datasets' formats."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from memreward_verl.verify import ChoiceVerifier, Status, resolve, verify, verify_detailed
from memreward_verl.verify.choice_verifier import extract_choice, parse_options

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LETTERS = "ABCDEFGHIJ"


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("The answer is (C).", 4, "C"),
        ("Answer: **B**", 4, "B"),
        ("\\boxed{D}", 4, "D"),
        ("\\boxed{\\text{(A)}}", 4, "A"),
        ("#### C", 4, "C"),
        ("C", 4, "C"),
        ("(b)", 4, "B"),
        ("C. Paris", 4, "C"),
        ("A is wrong since... B fails too. Therefore the answer is D because it fits.", 4, "D"),
        ("The correct answer is option J.", 10, "J"),
        ("Option B is correct.", 4, "B"),
        ("I'd go with (B).", 4, "B"),
        ("<think>Maybe A?</think>The answer is B", 4, "B"),
        ("Therefore, the answer is: B) 12 apples", 4, "B"),
        # No commitment, or not an option of this question:
        ("The answer is E", 4, None),
        ("The answer is Apple", 4, None),
        ("The answer is a dog", 4, None),
        ("answer: c", 4, None),
        ("(A) is wrong, (B) is right", 4, None),
        ("I am not sure.", 4, None),
        ("", 4, None),
    ],
)
def test_extract_choice(text, n, expected):
    assert extract_choice(text, n) == expected


def test_option_text_answers():
    options = ["London", "Paris", "Rome", "Berlin"]
    assert extract_choice("The answer is Paris.", 4, options) == "B"
    assert extract_choice("rome", 4, options) == "C"
    assert extract_choice("After thinking it over, it must be Berlin", 4, options) == "D"
    assert extract_choice("Paris or Rome, hard to say", 4, options) is None
    question = "Capital of Italy?\nA. London\nB. Paris\nC. Rome\nD. Berlin"
    assert parse_options(question) == {"A": "London", "B": "Paris", "C": "Rome", "D": "Berlin"}
    assert verify("mmlu", "It is Rome.", "C", {"question": question}) == 1.0
    assert verify("mmlu", "It is Paris.", "C", {"question": question}) == 0.0
    assert verify("mmlu", "Rome", "Rome", {"choices": options}) == 1.0  # gold given as option text


def test_gold_forms_and_errors():
    v = ChoiceVerifier(4)
    assert v.verify("The answer is (B)", "(B)").score == 1.0
    assert v.verify("The answer is (B)", "2").score == 1.0  # 1-based index, as in some ARC items
    with pytest.raises(ValueError, match="'E' is not one of the labels A, B, C, D"):
        v.verify("The answer is (B)", "E")
    with pytest.raises(ValueError, match="mmlu"):
        verify("mmlu", "B", "")
    res = verify_detailed("mmlu", "no idea", "B")
    assert res.status is Status.NO_ANSWER and res.score == 0.0
    res = verify_detailed("mmlu", "The answer is (A)", "B")
    assert res.status is Status.WRONG_ANSWER and res.answer == "A"


def test_routing_sets_the_number_of_options():
    expected = {"mmlu": 4, "mmlu_pro": 10, "commonsense_qa": 5, "openbookqa": 4, "arc_challenge": 5, "gpqa": 4,
                "piqa": 2, "siqa": 3, "TIGER-Lab/MMLU-Pro": 10, "cais/mmlu": 4}  # fmt: skip
    for name, n in expected.items():
        verifier = resolve(name)
        assert verifier.domain == "qa" and verifier.n_options == n, name
    assert verify("mmlu_pro", "The answer is (J).", "J") == 1.0
    assert verify("mmlu", "The answer is (J).", "D") == 0.0
    assert resolve("my_quiz", ability="qa").n_options == 10


# ------------------------------------------------------------------------------------------ real data


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _mmlu() -> list[tuple[str, list[str], str]]:
    folder = DATA / "mmlu" / "test"
    if not folder.exists():
        pytest.skip(f"{folder} not found")
    items = []
    for path in sorted(folder.glob("*_test.csv.gz"))[:20]:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for row in list(csv.reader(io.StringIO(fh.read())))[:15]:
                items.append((row[0], row[1:5], row[5]))
    return items


def _ai2(path: Path) -> list[tuple[str, list[str], str]]:
    items = []
    for r in _jsonl(path):
        labels = [c["label"] for c in r["question"]["choices"]]
        gold = LETTERS[labels.index(r["answerKey"])]  # ARC uses "1".."4" for a few items
        items.append((r["question"]["stem"], [c["text"] for c in r["question"]["choices"]], gold))
    return items


def _llmfoundry(path: Path) -> list[tuple[str, list[str], str]]:
    return [(r["query"], r["choices"], LETTERS[r["gold"]]) for r in _jsonl(path)]


DATASETS = {
    "mmlu": _mmlu,
    "commonsense_qa": lambda: _ai2(DATA / "commonsenseqa" / "dev_rand_split.jsonl.gz"),
    "openbookqa": lambda: _ai2(DATA / "openbookqa" / "test.jsonl.gz"),
    "arc_challenge": lambda: _ai2(DATA / "arc_challenge" / "ARC-Challenge-Dev.jsonl.gz"),
    "piqa": lambda: _llmfoundry(DATA / "piqa" / "dev_llmfoundry.jsonl.gz"),
    "siqa": lambda: _llmfoundry(DATA / "siqa" / "dev_llmfoundry.jsonl.gz"),
}
STYLES = (
    "The answer is ({}).",
    "Answer: {}",
    "#### {}",
    "\\boxed{{{}}}",
    "{}",
    "After weighing the options, {} is the best answer.",
)


@pytest.mark.data
@pytest.mark.parametrize("data_source", sorted(DATASETS))
def test_real_questions_all_answer_styles(data_source):
    items = DATASETS[data_source]()
    assert len(items) >= 250
    n = resolve(data_source).n_options
    mistakes = []
    for i, (question, options, gold) in enumerate(items):
        other = LETTERS[(LETTERS.index(gold) + 1) % len(options)]
        style = STYLES[i % len(STYLES)]
        if verify(data_source, style.format(gold), gold) != 1.0:
            mistakes.append(("right letter", style, gold))
        if verify(data_source, style.format(other), gold) != 0.0:
            mistakes.append(("wrong letter", style, other, gold))
        # The option's own text, with the options shown in the prompt.
        shown = question + "\n" + "\n".join(f"{LETTERS[k]}. {t}" for k, t in enumerate(options))
        if len(set(options)) == len(options) and data_source != "siqa":  # SIQA's options are the letters
            text = options[LETTERS.index(gold)]
            if verify(data_source, f"The answer is {text}", gold, {"question": shown}) != 1.0:
                mistakes.append(("option text", text, gold))
        assert n >= len(options)
    assert mistakes == []
