"""Node text: one split rule for warm-up and online use."""

from memreward_verl.answers import answer_key, choice_key, code_key, math_key
from memreward_verl.config import TextConfig
from memreward_verl.text import build_node_text, split_response, truncate_middle


def test_split_on_hashes_keeps_marker_in_answer():
    think, answer = split_response("3 + 4 = 7 so the total is 7.\n#### 7")
    assert think == "3 + 4 = 7 so the total is 7."
    assert answer == "#### 7"


def test_split_on_think_tag_drops_the_tag():
    think, answer = split_response("<think>long reasoning</think> The answer is 42.")
    assert think == "<think>long reasoning"
    assert answer == "The answer is 42."


def test_split_on_answer_tag_keeps_the_tag_in_the_answer():
    think, answer = split_response("Adding 3 and 4 gives 7, so the total is 7.\n<answer>7</answer>")
    assert think == "Adding 3 and 4 gives 7, so the total is 7."
    assert answer == "<answer>7</answer>"
    think, answer = split_response("<think>3 + 4 = 7</think> <answer>7</answer>")  # the trace comes first
    assert (think, answer) == ("<think>3 + 4 = 7", "<answer>7</answer>")


def test_split_uses_last_boxed():
    think, answer = split_response(r"first \boxed{1} then corrected: \boxed{2}")
    assert answer == r"\boxed{2}"
    assert think.endswith("then corrected:")


def test_split_last_fenced_block_is_the_answer():
    text = "Plan:\n```python\nx = 1\n```\nFinal:\n```python\ndef f():\n    return 2\n```\n"
    think, answer = split_response(text)
    assert answer == "def f():\n    return 2"
    assert "x = 1" in think


def test_fallback_takes_the_tail_and_empty_is_empty():
    long = "word " * 200 + "\nfinal line 9"
    think, answer = split_response(long, TextConfig(markers=(), fallback_answer_chars=50))
    assert answer.endswith("final line 9") and len(answer) <= 50
    assert think and long.startswith(think[:20])
    assert split_response("") == ("", "")
    assert split_response("   \n ") == ("", "")


def test_truncation_keeps_head_and_tail():
    text = "A" * 1000 + "END"
    out = truncate_middle(text, 300)
    assert len(out) == 300 and out.startswith("A") and out.endswith("END")


def test_build_node_text_same_for_both_phases_and_capped():
    cfg = TextConfig(max_answer_chars=10)
    a = build_node_text("  Q?  ", "reasoning #### 12345678901234", cfg)
    b = build_node_text("Q?", "reasoning #### 12345678901234", cfg)
    assert a == b
    assert a.query == "Q?" and len(a.answer) == 10 and a.answer.endswith("1234")


def test_answer_keys_canonicalise():
    assert math_key("#### 1,234") == math_key("The answer is 1234.") == "1234"
    assert math_key(r"\boxed{\dfrac{3}{4}}") == math_key(r"\boxed{\frac{3}{4}}")
    assert math_key("no number here") is None
    assert choice_key("The answer is (C).") == "C" and choice_key("b") == "B"
    assert choice_key("I am not sure") is None
    assert code_key("def f(x):\n    # comment\n    return x\n") == code_key("def f(x):\n\n    return x")
    assert answer_key("Paris.", "geography") == "paris"


def test_embedder_is_offline_normalised_and_deduplicating(embedder):
    import numpy as np

    assert embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2@256" and embedder.dim == 384
    emb = embedder.encode(["same text", "", "same text", "other text"])
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(emb[0], emb[2]) and not np.allclose(emb[0], emb[3])


def test_package_exports_resolve():
    import memreward_verl

    for name in memreward_verl.__all__:
        assert getattr(memreward_verl, name) is not None
