"""The shared answer extractor and equivalence (answers/): every path, and agreement with the verifiers."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest

from memreward_verl.answers import (
    MAX_EQUIVALENCE_KEYS,
    answer_key,
    canonical_date,
    equivalent_keys,
    extract_answer,
    find_dates,
    normalize_answer,
    unify_keys,
)
from memreward_verl.features import answer_clusters
from memreward_verl.verify import ChoiceVerifier, MathVerifier
from memreward_verl.verify.math_verifier import gold_answer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENERIC = "date_understanding"


def same_cluster(a: str | None, b: str | None, domain: str = "math") -> bool:
    ids = equivalent_keys([a, b], domain)
    return a is not None and b is not None and ids[0] == ids[1]


# ------------------------------------------------------------------------------------ extraction


def test_boxed_with_nested_braces_is_read_whole():
    text = r"Combining, $x = \frac{\sqrt{3}}{2}$ and so the area is $\boxed{\frac{\sqrt{3}}{2}\pi}$."
    assert extract_answer(text, "math") == r"\frac{\sqrt{3}}{2}\pi"
    assert extract_answer(text, GENERIC) == r"\frac{\sqrt{3}}{2}\pi"
    assert answer_key(r"first \boxed{1}, corrected: \boxed{\left(2, \dfrac{1}{3}\right)}", "math") == r"(2,\frac{1}{3})"


def test_hashes_and_answer_is_markers():
    gsm = "She bakes 4 and eats 3, so 16 - 3 - 4 = <<16-3-4=9>>9 eggs remain.\n9 * 2 = $<<9*2=18>>18\n#### 18"
    assert extract_answer(gsm, "math") == "18" and answer_key(gsm, "math") == "18"
    assert answer_key("So the total is 1,000 + 234.\n#### 1,234", "math") == "1234"
    assert answer_key("Adding them up, the answer is 1,234 apples.", "math") == "1234"
    assert answer_key("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "math") == "0.75"
    assert answer_key("The answer is 42", GENERIC) == "42"
    assert answer_key("Therefore the answer is: Paris. It is in France.", GENERIC) == "paris"


def test_option_letters_follow_the_choice_verifier():
    question = "Which gas do plants absorb?\nA) oxygen\nB) carbon dioxide\nC) nitrogen\nD) helium"
    options = {"A": "oxygen", "B": "carbon dioxide", "C": "nitrogen", "D": "helium"}
    cases = [
        ("Plants use photosynthesis. The answer is (B).", "B"),
        ("Answer: **b**", None),  # lower-case unparenthesised letters name no option
        ("b", "B"),  # a response that is one letter commits to it
        ("\\boxed{\\text{(C)}}", "C"),
        ("They absorb CO2 during photosynthesis.\nCarbon dioxide", "B"),  # exactly one option's text
        ("I'd go with (D).", "D"),
        ("Maybe oxygen or nitrogen, hard to say", None),
    ]
    verifier = ChoiceVerifier(4)
    for text, expected in cases:
        assert answer_key(text, "qa", options) == expected, text
        # the verifier reads the same answer on the same string
        assert verifier.verify(text, "B", {"question": question}).answer == expected
    assert answer_key("Photosynthesis needs it: Carbon dioxide", GENERIC, options) == "B"
    assert answer_key("Looking at the table, (C) fits best.\n(C)", GENERIC) == "C"


DATE_FORMS = [
    "Counting back 10 days, the date is 11/22/2002.",
    "So the answer is Nov 22, 2002.",
    "One day after Nov 21, 2002 is November 22nd, 2002",
    "It was 22 November 2002.",
    "In ISO format: 2002-11-22",
    "The answer is Friday, Nov. 22, 2002.",
    "22/11/2002",  # day-first: 22 cannot be a month
    "So the answer is (B) 11/22/2002.",
    "yesterday was 11-22-02",
]


@pytest.mark.parametrize("text", DATE_FORMS)
def test_dates_in_many_formats_share_one_key(text):
    assert answer_key(text, GENERIC) == "2002-11-22"


def test_date_rules():
    assert canonical_date("03/04/2021") == "2021-03-04"  # ambiguous: US month-first
    assert canonical_date("13/04/2021") == "2021-04-13"  # first field > 12: day-first
    assert canonical_date("02/30/2021") is None  # no such day
    assert [d for _, _, d in find_dates("From 01/05/2020 to Jan 9, 2020")] == ["2020-01-05", "2020-01-09"]
    # the last date wins when no marker names the answer
    text = "Today is 12/31/2019. Tomorrow is therefore 01/01/2020."
    assert answer_key(text, GENERIC) == "2020-01-01"


def test_generic_final_line_number_phrase_and_number_fallback():
    assert answer_key("Each box has 3.\nSo she has 12 apples left.", GENERIC) == "12"
    assert answer_key("Let me think about capitals.\n**The Eiffel Tower**", GENERIC) == "eiffel tower"
    assert answer_key("Paris.", "geography") == "paris"
    assert answer_key("It costs $1,200.", GENERIC) == "1200"
    long_line = "so in total it turns out that there are 7 of them remaining after everything is done today"
    assert answer_key(long_line, GENERIC) == "7"
    assert answer_key("", GENERIC) is None and answer_key("   ", "math") is None


@pytest.mark.parametrize(
    ("said", "same_as"),
    [
        ("Sentiment: Negative", "The sentiment of this review is negative."),
        ("So, the overall sentiment is negative.", "negative"),
        ("Verdict: the claim is false", "Answer: False"),
        ("Yes, the Earth orbits the Sun.", "So the answer is yes."),
        ("No. It would not fit.", "Answer: no, because it is too large"),
        ("The correct option is B.", "Answer: (B)"),
        ("I choose option C.", "C"),
        ("The answer is four.", "4"),
        ("Twenty-five apples", "25"),
        ("The answer is 42 because 6*7 = 42", "42"),
        ("The answer is \u22123", "-3"),
    ],
)
def test_generic_answers_stated_in_a_sentence_share_the_plain_key(said, same_as):
    """Sets with other domain strings (sentiment, verdicts, counts) state short answers in sentences."""
    key = answer_key(said, GENERIC)
    assert key is not None and key == answer_key(same_as, GENERIC)


def test_generic_sentence_readings_stay_narrow():
    """Words that only look like an answer keep the whole phrase."""
    assert answer_key("No one knows", GENERIC) == "no one knows"
    assert answer_key("one of them", GENERIC) == "one of them"
    assert answer_key("Option A is incorrect", GENERIC) == "option is incorrect"
    assert answer_key("Yesterday was fine", GENERIC) == "yesterday was fine"
    assert answer_key("The sentiment is positive", GENERIC) != answer_key("The sentiment is negative", GENERIC)
    assert answer_key("True or false", GENERIC) == "true or false"


def test_unicode_minus_in_responses_options_and_ground_truths():
    assert normalize_answer("\u22123", GENERIC) == normalize_answer("-3", "math") == "-3"
    from memreward_verl.answers import group_keys

    question = "Solve.\nA. x \u2212 2\nB. x + 2"
    assert group_keys(["Answer: x - 2", "The answer is x \u2212 2."], "algebra", question) == ["A", "A"]


def test_code_keeps_its_syntactic_key():
    a = "Here:\n```python\ndef f(x):\n    # double\n    return 2 * x\n```"
    b = "```python\ndef f(x):\n\n    return 2 * x\n```\nDone."
    assert answer_key(a, "code") == answer_key(b, "code") == "def f(x):\nreturn 2 * x"


# ----------------------------------------------------------------------------------- equivalence


def test_math_equivalence_clusters_equal_answers_and_separates_others():
    keys = [
        answer_key("So $x = \\boxed{\\frac{1}{2}}$", "math"),
        answer_key("The answer is 0.5.", "math"),
        answer_key("#### 1,000", "math"),
        answer_key("\\boxed{1000}", "math"),
        answer_key("\\boxed{x=3}", "math"),
        answer_key("\\boxed{3}", "math"),
        answer_key("\\boxed{\\sqrt{2}/2}", "math"),
        answer_key("\\boxed{\\frac{\\sqrt{2}}{2}}", "math"),
        answer_key("\\boxed{0.6}", "math"),
        None,
    ]
    ids = equivalent_keys(keys, "math")
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5] and ids[6] == ids[7]
    assert len({ids[0], ids[2], ids[4], ids[6], ids[8]}) == 5 and ids[9] == -1
    assert unify_keys(["0.5", "\\frac{1}{2}", None, "3"], "math") == ["0.5", "0.5", None, "3"]


def test_generic_equivalence_only_for_math_looking_keys():
    # math-verify reads a date as a subtraction and a word as a product of symbols: never compared.
    assert not same_cluster("2002-11-22", "2002-12-21", GENERIC)
    assert not same_cluster("paris", "pairs", GENERIC)
    assert same_cluster("x=3", "3", GENERIC)
    assert same_cluster("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2", GENERIC)
    assert not same_cluster("x=3", "3", "qa")  # letters and code: equality only
    # words in a math answer are compared as text, in the verifier too
    assert not same_cluster("Evelyn", "Eveyln", "math")
    assert MathVerifier().verify("\\boxed{\\text{Eveyln}}", "\\text{Evelyn}").score == 0.0


def test_answer_clusters_use_the_equivalence_and_keep_old_calls_working():
    keys = ["0.5", "\\frac{1}{2}", "2", None, "2002-11-22"]
    emb = np.zeros((5, 4), dtype=np.float32)
    ids = answer_clusters(keys, emb, 0.95)  # the old 3-argument call
    assert ids.tolist() == [0, 0, 1, 3, 2]
    assert answer_clusters(keys, emb, 0.95, domain="math").tolist() == [0, 0, 1, 3, 2]
    assert answer_clusters(keys, emb, 0.95, domain="code").tolist() == [0, 1, 2, 4, 3]


def test_equivalence_is_bounded_and_never_hangs():
    many = [str(i) + ".5" for i in range(1, MAX_EQUIVALENCE_KEYS + 2)] + ["\\frac{1}{2}", "0.5"]
    started = time.monotonic()
    ids = equivalent_keys(many, "math")  # too many distinct keys: equality only
    assert len(set(ids)) == len(many)
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    ids = equivalent_keys(["9^{9^{9^{9^{9}}}}", "5", "5.0", "x" * 500], "math")
    assert ids[1] == ids[2] and ids[0] != ids[1] and ids[3] not in ids[:3]
    assert time.monotonic() - started < 10.0


def test_equivalence_from_a_worker_thread():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        ids = pool.submit(equivalent_keys, ["0.25", "\\frac{1}{4}", "\\frac{1}{5}"], "math").result(timeout=300)
    assert ids == [0, 0, 1]


# ---------------------------------------------------- the verifier and the vote read the same answer

VERIFIER_CASES = [
    ("so the answer is $\\boxed{\\frac{3}{4}}$.", "0.75"),
    ("\\boxed{0.75}", "\\frac{3}{4}"),
    ("\\boxed{0.76}", "\\frac{3}{4}"),
    ("Natalia sold 48/2 = 24 clips.\n#### 72", "72"),
    ("#### 1,000", "1000"),
    ("#### 1001", "1000"),
    ("The final answer is 18 dollars.", "18"),
    ("Final Answer: The final answer is $(1,2]$. I hope it is correct.", "(1,2]"),
    ("\\boxed{[1, 2]}", "(1,2]"),
    ("\\boxed{10\\text{ cm}}", "10"),
    ("\\boxed{90^\\circ}", "90"),
    ("The answer is 50%.", "50"),
    ("\\boxed{(x+1)^2}", "x^2+2x+1"),
    ("\\boxed{(x-1)^2}", "x^2+2x+1"),
    ("\\boxed{x = 5}", "5"),
    ("\\boxed{-5}", "5"),
    ("\\boxed{3, 2, 1}", "1,2,3"),
    ("\\boxed{\\frac{\\sqrt3}2}", "\\frac{\\sqrt{3}}{2}"),
    ("The answer is Evelyn.", "\\text{Evelyn}"),
    ("\\boxed{\\text{Alice}}", "\\text{Evelyn}"),
    ("<think>It could be 4.</think>The answer is 5", "5"),
    ("She has 5 apples and eats 2, leaving 3.", "3"),
    ("#### 5600", "5,600"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("The answer is \u22123.", "-3"),  # the Unicode minus sign
    ("The answer is 42 because 6*7=42 and 40+2", "42"),  # the reason after the answer is not the answer
    ("The answer is 41 since 6*7=42 and 40+2", "42"),
]


@pytest.mark.parametrize(("response", "gold"), VERIFIER_CASES)
def test_math_verifier_right_iff_key_clusters_with_gold(response, gold):
    right = MathVerifier().verify(response, gold).score == 1.0
    gold_key = normalize_answer(gold_answer(gold), "math")
    assert same_cluster(answer_key(response, "math"), gold_key) == right


def test_verifier_cases_cover_both_outcomes():
    outcomes = [MathVerifier().verify(r, g).score for r, g in VERIFIER_CASES]
    assert len(VERIFIER_CASES) >= 20 and 0.0 in outcomes and 1.0 in outcomes


@pytest.mark.data
def test_keys_clustering_with_gold_agree_with_real_scores():
    path = DATA / "rollouts" / "qwen25math_math_rm_maj" / "math_cot_100.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    verifier = MathVerifier()
    agree_score = agree_verifier = total = 0
    for row in rows:
        gold_key = normalize_answer(gold_answer(row["gt"]), "math")
        keys = [answer_key(text, "math") for text in row["code"]]
        ids = equivalent_keys([gold_key, *keys], "math")
        for text, key, cid, score in zip(row["code"], keys, ids[1:], row["score"]):
            with_gold = key is not None and cid == ids[0]
            total += 1
            agree_score += with_gold == bool(score)
            agree_verifier += with_gold == (verifier.verify(text, row["gt"]).score == 1.0)
    assert total == 800
    assert agree_score / total > 0.95  # measured 0.99875: the one miss is the dataset's "10{,}000" != 10000
    assert agree_verifier == total


@pytest.mark.parametrize(
    "text",
    [
        "The answer is **42**.",
        "**Answer:** 42",
        "Answer: **42**",
        "**Answer: 42**",
        "#### **42**",
        "So the answer is __42__.",
    ],
)
def test_a_bolded_answer_reads_and_grades_as_the_plain_one(text):
    """Markdown emphasis around an answer (common in instruct models' outputs) is not part of it: the math
    verifier grades it right, and the vote gives it the plain answer's key."""
    from memreward_verl.verify import verify

    assert extract_answer(text, "math") == "42"
    assert answer_key(text, "math") == answer_key("The answer is 42.", "math")
    assert verify("openai/gsm8k", text, "42") == 1.0
    assert extract_answer(text, "date_reasoning") == "42"


def test_emphasis_only_where_it_is_markdown():
    from memreward_verl.answers.markers import strip_emphasis

    assert extract_answer("**Answer:** B", "qa") == "B"
    assert extract_answer("The correct option is **C**.", "qa") == "C"
    assert strip_emphasis("**The answer is *42*.**") == "The answer is 42."
    for kept in ("2**10 = 1024", "2*3 = 6 and 4*5", "a * b", "x__y", "$x^*$", "A* search"):
        assert strip_emphasis(kept) == kept


@pytest.mark.parametrize(
    ("response", "domain", "gold", "key"),
    [
        ("<think>2 + 2 is 5? No: 4.</think>\n<answer>4</answer>", "math", "4", "4"),
        ("<answer>4</answer> Hope this helps; see step 3.", "math", "4", "4"),  # text after the tag
        ("<think>x = 3, so</think> <answer>The sum is \\boxed{4}</answer>", "math", "4", "4"),
        ("<think>I would write <answer>5</answer>? No.</think><answer>4</answer>", "math", "4", "4"),
        ("<think>so 4</think><answer>4", "math", "4", "4"),  # cut at the length limit inside the tag
        ("<think>A is wrong, C maybe.</think><answer>B</answer>", "qa", "B", "B"),
        ("<answer>(B) carbon dioxide</answer>", "qa", "B", "B"),
        ("<think>Nov 21 plus one day</think><answer>11/22/2002</answer>", GENERIC, None, "2002-11-22"),
        ("<answer> Paris </answer>", "trivia", None, "paris"),
        ("<ANSWER>Paris</ANSWER>", "trivia", None, "paris"),
    ],
)
def test_an_answer_tag_is_where_the_answer_is(response, domain, gold, key):
    """R1-style templates put the answer in ``<answer>`` tags: the verifier grades the tag's content
    (before, the choice verifier read no option in ``<answer>B</answer>`` and the math verifier took
    the last number after the tag), and the vote keys it as the plain answer."""
    from memreward_verl.verify import ChoiceVerifier, MathVerifier

    options = ["oxygen", "carbon dioxide", "nitrogen", "helium"]
    extra = {"options": options} if domain == "qa" else None
    assert answer_key(response, domain, options if domain == "qa" else None) == key
    if domain == "math":
        assert MathVerifier().verify(response, gold).score == 1.0
    if domain == "qa":
        assert ChoiceVerifier().verify(response, gold, extra).score == 1.0


def test_an_empty_answer_tag_is_no_answer_tag():
    assert answer_key("The answer is 7. <answer></answer>", "math") == "7"
    assert answer_key("<answer>3</answer> then <answer> </answer>", "math") == "3"


def test_a_boxed_phrase_keys_as_the_plain_phrase():
    assert answer_key("\\boxed{\\text{Paris}}", "trivia") == answer_key("Final answer: Paris.", "trivia") == "paris"
    assert answer_key("$\\text{Blue Whale}$", "trivia") == "blue whale"
    assert answer_key("\\boxed{\\text{Paris}}", "math") == "Paris"  # math keys keep case (math-verify decides)


def test_options_are_read_in_any_domain_but_math_and_code():
    """A multiple-choice set whose records name their domain "mmlu" (or a date task listing options)
    is voted on option labels, as domain "qa" is: a letter, the letter with its text and the text alone
    are one answer; an answer that is no option keeps its own key."""
    from memreward_verl.answers import group_keys

    question = "What is the capital of France?\nA. Lyon\nB. Paris\nC. Nice\nD. Lille"
    said = ["The answer is (B).", "The answer is B) Paris", "B. Paris", "Answer: Paris", "**B**", "Answer: Rome"]
    for domain in ("qa", "mmlu", GENERIC):
        assert group_keys(said, domain, question)[:5] == ["B"] * 5
    assert group_keys(said, "mmlu", question)[5] == "rome"
    dates = "Yesterday was 11/21/2002. Tomorrow?\nOptions:\n(A) 11/23/2002\n(B) 11/22/2002\n(C) 12/22/2002"
    said = ["So the answer is (B).", "Tomorrow is Nov 22, 2002.", "<answer>11/22/2002</answer>", "It is 11/24/2002."]
    assert group_keys(said, GENERIC, dates) == ["B", "B", "B", "2002-11-24"]
    assert group_keys(["B. Paris"], "mmlu", "no options here") == ["b paris"]
    # extra_info's options are read as the choice verifier reads them; math keeps its own extractor
    assert group_keys(["Answer: Paris"], "mmlu", "Capital?", {"options": ["Lyon", "Paris"]}) == ["B"]
    assert group_keys(["The answer is 2."], "math", "How many?\nA. 1\nB. 2") == ["2"]
