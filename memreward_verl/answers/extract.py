"""The final answer of a response *as written*, per domain: the one entry point, and the generic path.

``"math"`` and ``"qa"`` read exactly what their verifiers grade (math_answer.py, choice.py);
``"code"`` is the code itself; any other domain string takes :func:`extract_generic`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from memreward_verl.answers.choice import LETTERS, _label_in, _n_options, extract_choice
from memreward_verl.answers.dates import find_dates
from memreward_verl.answers.markers import (
    _ANSWER_IS,
    _FENCE,
    _HASHES,
    _answer_sentence,
    _strip_reasoning,
    last_boxed,
)
from memreward_verl.answers.math_answer import extract_math_answer

_GENERIC_NUMBER = re.compile(r"(?<![\w./])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\w/])|(?<![\w./])-?\.\d+")
_MAX_PHRASE_CHARS = 80
_MAX_PHRASE_WORDS = 10

# A final line that states a short answer in a sentence: "So, the sentiment of this review is
# negative." -> "negative"; "Sentiment: Negative" -> "Negative". The subject is a few words opened
# by a determiner, the key of "Key: value" at most three words, so a line of reasoning is kept whole.
_LEAD_IN = re.compile(r"(?:so|thus|therefore|hence|in\s+conclusion|overall|finally)\b\s*,?\s*", re.IGNORECASE)
_KEY_VALUE = re.compile(r"[A-Za-z][A-Za-z '\-]{0,30}:\s*(\S.*)")
_SUBJECT_IS = re.compile(
    r"(?:the|this|that|my|our|its|it)\b(?:\s+[^\s,;:]+){0,6}?\s+"
    r"(?:is|are|was|were|would\s+be|will\s+be|should\s+be)\s+(\S.*)",
    re.IGNORECASE,
)


def _capture_after_marker(captured: str) -> str:
    """The answer inside an "answer is ..." capture: a date if it starts with one, else its sentence."""
    captured = captured.strip()
    inner = _ANSWER_IS.search(captured)
    while inner:
        captured = inner.group(1).strip()
        inner = _ANSWER_IS.search(captured)
    dates = find_dates(captured)
    if dates:  # "is 11/22/2002." / "is Friday, Nov. 22, 2002" / "is (B) 11/22/2002"
        prefix = captured[: dates[0][0]]
        if len(prefix) <= 24 and not re.search(r"[.;!?]\s", prefix):
            return captured[dates[0][0] : dates[0][1]]
    return _answer_sentence(captured)


def _final_phrase(line: str) -> str:
    """The short answer a final line states: its ``Key: value`` value, its "the ... is X" predicate, or itself."""
    phrase = line.strip("*`$ ").rstrip(".!").strip()
    lead = _LEAD_IN.match(phrase)
    if lead and lead.end() < len(phrase):
        phrase = phrase[lead.end() :]
    for pattern in (_KEY_VALUE, _SUBJECT_IS):  # "Verdict: the claim is false" -> "false"
        m = pattern.fullmatch(phrase)
        if m:
            phrase = m.group(1).strip().rstrip(".!").strip()
    return phrase


def extract_generic(text: str, options: Mapping[str, str] | Sequence[str] | None = None) -> str | None:
    """Final answer of a response in a domain without its own extractor, as written.

    Order (the first that yields an answer wins), after skipping a ``<think>`` trace:

    1. with ``options``: the option letter, by the choice verifier's rules (:func:`extract_choice`);
    2. the last ``\\boxed{...}`` (balanced braces);
    3. the last ``#### X``;
    4. the last "the answer is X" / "Answer: X" (a date right after the marker is taken whole,
       else the sentence is cut at its end);
    5. the last date anywhere in the text (:func:`find_dates`);
    6. the final non-empty line: an option label (``(B)``, ``B.``) -> the label; else its last
       number; else its short phrase (at most 10 words, 80 characters): the value of a
       ``Key: value`` line, the predicate of a "the ... is X" sentence, else the line itself
       (:func:`_final_phrase`);
    7. the last number anywhere in the text.

    Returns:
        The answer string, or ``None`` when nothing could be read.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    body = _strip_reasoning(text).strip()
    if options:
        hit = extract_choice(body, _n_options(options), options)
        if hit:
            return hit
    boxed = last_boxed(body)
    if boxed is not None:
        return boxed
    for captured in reversed(_HASHES.findall(body)):
        found = _capture_after_marker(captured).strip()
        if found:
            return found
    for captured in reversed(_ANSWER_IS.findall(body)):
        found = _capture_after_marker(captured).strip().rstrip(".,;:!").strip()
        if found:
            return found
    dates = find_dates(body)
    if dates:
        return body[dates[-1][0] : dates[-1][1]]
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    label = _label_in(last, LETTERS) if len(last) < 400 else None
    if label and len(last) <= 3:
        return label
    numbers = _GENERIC_NUMBER.findall(last)
    if numbers:
        return numbers[-1]
    phrase = _final_phrase(last)
    if phrase and len(phrase) <= _MAX_PHRASE_CHARS and len(phrase.split()) <= _MAX_PHRASE_WORDS:
        return phrase
    numbers = _GENERIC_NUMBER.findall(body)
    return numbers[-1] if numbers else None


def extract_answer(text: str, domain: str, options: Mapping[str, str] | Sequence[str] | None = None) -> str | None:
    """The final answer of ``text`` as written, for ``domain``.

    ``"math"``: :func:`extract_math_answer` (the math verifier's extraction); with ``options``
    the option letter comes first (a math multiple-choice item). ``"qa"``: :func:`extract_choice`
    (the choice verifier's). ``"code"``: the last fenced block, else the text. Any other domain:
    :func:`extract_generic`.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    if domain == "qa":
        return extract_choice(text, _n_options(options), options)
    if domain == "code":
        blocks = _FENCE.findall(text)
        return blocks[-1] if blocks else text
    if domain == "math":
        if options:
            hit = extract_choice(text, _n_options(options), options)
            if hit:
                return hit
        return extract_math_answer(text)
    return extract_generic(text, options)
