"""Canonical answer keys: two rollouts with equal keys reached the same final answer.

Numbers are canonical (``1,000`` -> ``1000``, ``0.50`` and ``\\frac{1}{2}`` -> ``0.5``; outside math
also ``four`` -> ``4``), dates ISO, option letters upper case (outside math also "option B"), verdicts
one word ("Yes, because ..." -> ``yes``), short phrases lower case without punctuation or articles,
code without comments and layout noise. ``None`` means no answer could be read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from memreward_verl.answers.choice import LETTERS, _as_mapping, _label_in, _n_options, choice_options
from memreward_verl.answers.dates import canonical_date
from memreward_verl.answers.extract import _MAX_PHRASE_CHARS, extract_answer
from memreward_verl.answers.markers import _ASCII_SIGNS, _FENCE

_CODE_COMMENT = re.compile(r"#[^\n]*")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+")
_SIMPLE_FRACTION = re.compile(r"([-+]?)(?:\\frac\{([-+]?\d+)\}\{(\d+)\}|\\frac(\d)(\d)|(\d+)/(\d+))")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
# A verdict word opening the answer and closing its clause: "Yes, the Earth orbits the Sun" is "yes"
# ("No one knows" is not "no").
_VERDICT = re.compile(r"(yes|no|true|false)(?:\s*[,.;:!\u2014\u2013]|\s+-\s|\s*$)", re.IGNORECASE)
# An option named by its letter in words: "I choose option C", "The correct choice is (B)".
_OPTION_NAMED = re.compile(r"(?:.*\s)?(?:option|choice|letter)\s*(?:is\s*|:\s*|=\s*)?\(?([A-J])\)?\W*")
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# Words after a number word that make it something other than a count of units ("one of them").
_NOT_UNIT_WORDS = {"of", "or", "and", "more", "less", "than", "to", "in", "on", "at", "by", "for", "is", "are"}


def _canon_fraction(value: Fraction) -> str:
    """Exact decimal when it terminates within 6 places, else a reduced ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den == 1:
        text = f"{float(value):.6f}".rstrip("0").rstrip(".")
        if Fraction(text) == value:
            return text
    return f"{value.numerator}/{value.denominator}"


def _canon_number(token: str) -> str | None:
    """Canonical form of a plain number: ``1,000`` -> ``1000``, ``0.50`` -> ``0.5``, ``3/6`` -> ``0.5``.

    Decimals keep all their digits (math-verify decides whether ``8.333333333333334`` and
    ``8.33333333333333`` are the same answer); a fraction ``p/q`` becomes a decimal when it
    terminates within 6 places, else its reduced form.
    """
    tok = token.replace(",", "").replace(" ", "").strip()
    try:
        if "/" in tok:
            num, den = tok.split("/", 1)
            return _canon_fraction(Fraction(int(num), int(den)))
        value = Decimal(tok)
    except (ValueError, ZeroDivisionError, InvalidOperation):
        return None
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "+0") else text


def _squeeze_spaces(s: str) -> str:
    """Drop whitespace except between two letters (``\\pi r`` must not become ``\\pir``)."""
    s = re.sub(r"\s+", " ", s.strip())
    return re.sub(r"(?<![A-Za-z]) | (?![A-Za-z])", "", s)


def _canon_math(ans: str) -> str | None:
    """Canonical key of a math answer; keeps its meaning for math-verify (:func:`equivalent_keys`)."""
    s = ans.strip().strip("$").strip()
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])|\\[,!;:]|\\ ", "", s)
    s = s.replace("{,}", ",")
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    whole = _TEXT_WRAP.fullmatch(s)
    if whole:
        s = whole.group(1)
    s = _squeeze_spaces(s).rstrip(".")
    if not s:
        return None
    unit = re.fullmatch(r"(.*?\d)(?:\\%|%|" + _TEXT_WRAP.pattern + r")", s)  # "50\%", "10\text{cm}"
    core = unit.group(1) if unit else s
    if _PLAIN_NUMBER.fullmatch(core):
        return _canon_number(core) or s
    frac = _SIMPLE_FRACTION.fullmatch(core)
    if frac:
        sign, a1, b1, a2, b2, a3, b3 = frac.groups()
        num, den = int(a1 or a2 or a3), int(b1 or b2 or b3)
        if den:
            return _canon_fraction(Fraction(-num if sign == "-" else num, den))
    return s


def _canon_phrase(text: str) -> str | None:
    """Short free-text answer: lower case, no punctuation or articles; long texts give ``None``."""
    canon = re.sub(r"[^\w\s]", " ", _TEXT_WRAP.sub(r"\1", text).lower())
    canon = " ".join(_ARTICLES.sub(" ", canon).split())
    if not canon or len(canon) > _MAX_PHRASE_CHARS:
        return None
    return canon


def _number_words(text: str) -> str | None:
    """A number written in words, alone or before at most two unit words: "four", "twenty-five
    apples" -> ``4``, ``25``; up to 99 (larger ones are written in digits far more often)."""
    words = text.lower().replace("-", " ").split()
    value, used = None, 0
    if words and words[0] in _TENS:
        value, used = _TENS[words[0]], 1
        if len(words) > 1 and words[1] in _UNITS and 0 < _UNITS[words[1]] < 10:
            value, used = value + _UNITS[words[1]], 2
    elif words and words[0] in _UNITS:
        value, used = _UNITS[words[0]], 1
    rest = words[used:]
    if value is None or len(rest) > 2 or any(not w.isalpha() or w in _NOT_UNIT_WORDS for w in rest):
        return None
    return str(value)


def _canon_generic(ans: str) -> str | None:
    """Key of an answer in a domain without its own verifier's reading (see :func:`extract_generic`).

    Dates are ISO, option labels upper case ("(B)", "option B"), verdicts one word ("Yes, because
    ..." -> ``yes``), numbers canonical whether written in digits (with a currency sign, percent
    or unit words) or in words ("four" -> ``4``), other short phrases lower case.
    """
    s = ans.strip()
    whole = _TEXT_WRAP.fullmatch(s.strip("$ "))
    if whole:  # \boxed{\text{Paris}} is the phrase "Paris", as "Answer: Paris" is
        s = whole.group(1).strip()
    iso = canonical_date(s)
    if iso:
        return iso
    label = _label_in(s, LETTERS)
    if label and len(s.strip("*`$ ")) <= 3:
        return label
    if len(s) <= _MAX_PHRASE_CHARS:
        named = _OPTION_NAMED.fullmatch(s)
        if named:
            return named.group(1)
        verdict = _VERDICT.match(s)
        if verdict:
            return verdict.group(1).lower()
        spelled = _number_words(s)
        if spelled:
            return spelled
    # A number with a currency sign, percent or unit words: "$1,200", "45%", "12 apples".
    num = re.fullmatch(
        r"\$?\s*([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?)\s*(?:\\?%|[A-Za-z][A-Za-z\s\-]*)?\.?", s
    )
    if num:
        canon = _canon_number(num.group(1))
        if canon:
            return canon
    if "\\" in s or re.search(r"\d", s) and not re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}", s):
        return _canon_math(s)
    return _canon_phrase(s)


def _as_option(key: str | None, options: Mapping[str, str] | Sequence[str]) -> str | None:
    """The label of the one option whose text has ``key`` as its key ("Paris" -> ``B``), else ``key``.

    A generic-domain response may state an option by its text, in any form its key reads ("Nov 22,
    2002" for the option ``11/22/2002``); it then counts as that option in the vote.
    """
    if key is None or key in LETTERS:
        return key
    labelled = tuple(_as_mapping(options, LETTERS[: _n_options(options)]).items())
    hits = [label for label, option_key in _option_keys(labelled) if option_key == key]
    return hits[0] if len(hits) == 1 else key


@functools.lru_cache(maxsize=256)
def _option_keys(labelled: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str | None], ...]:
    """Each option's key, computed once per prompt's options (every rollout of a group asks)."""
    return tuple((label, _canon_generic(text.translate(_ASCII_SIGNS))) for label, text in labelled)


def _reads_options(domain: str) -> bool:
    """Multiple choice is read against its options in every domain but math and code."""
    return domain not in ("math", "code")


def normalize_answer(answer: str | None, domain: str) -> str | None:
    """Canonical key of an already-extracted answer (or a ground truth) for ``domain``."""
    if answer is None or not str(answer).strip():
        return None
    answer = str(answer).translate(_ASCII_SIGNS)  # a ground truth written "−3" is the answer -3
    if domain == "code":
        return code_key(answer)
    if domain == "qa":
        s = answer.strip().strip("()*.").strip()
        return s.upper() if len(s) == 1 and s.upper() in LETTERS else None
    if domain == "math":
        s = answer.strip()
        if len(s) == 1 and s in LETTERS:  # an option letter of a math multiple-choice item
            return s
        return _canon_math(s)
    return _canon_generic(answer)


def answer_key(text: str, domain: str, options: Mapping[str, str] | Sequence[str] | None = None) -> str | None:
    """Canonical key of the final answer of ``text`` for ``domain``.

    ``normalize_answer(extract_answer(text, domain, options), domain)``; code keeps its syntactic
    key (:func:`code_key`). Outside math and code, an answer whose key is one option's key is that
    option's label (:func:`_as_option`).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    if domain == "code":
        return code_key(text)
    key = normalize_answer(extract_answer(text, domain, options), domain)
    if options and _reads_options(domain):
        key = _as_option(key, options)
    return key


def rollout_key(
    response: str, domain: str, question: str | None = None, extra_info: Mapping[str, object] | None = None
) -> str | None:
    """Key of one rollout as its verifier reads it: the WHOLE response, and, in every domain but math
    and code, the options of a multiple-choice prompt (:func:`~memreward_verl.answers.choice.choice_options`:
    what the choice verifier reads), so "(B)", "B. Paris" and "Paris" are one answer whatever the
    record's ``domain`` string.

    Not the answer node's text (text.py keeps only its last ``max_answer_chars`` for embedding): a
    rollout that states ``\\boxed{25}`` and then runs on to its length limit answered 25, and its
    verifier says so; a key read from the tail would call it unreadable and split a unanimous group.
    """
    return group_keys([response], domain, question, extra_info)[0]


def group_keys(
    responses: Sequence[str], domain: str, question: str | None = None, extra_info: Mapping[str, object] | None = None
) -> list[str | None]:
    """:func:`rollout_key` of every response of one prompt (its options are read once)."""
    options = choice_options(question, extra_info) if _reads_options(domain) else None
    return [answer_key(r, domain, options) for r in responses]


def math_key(text: str) -> str | None:
    """Key of a math response (:func:`answer_key` for domain ``"math"``)."""
    return answer_key(text, "math")


def choice_key(text: str) -> str | None:
    """Option letter A-J a response committed to (:func:`answer_key` for domain ``"qa"``)."""
    return answer_key(text, "qa")


def code_key(text: str) -> str | None:
    """Code with comments, blank lines and indentation noise removed (syntactic identity)."""
    if not text or not text.strip():
        return None
    blocks = _FENCE.findall(text)
    code = blocks[-1] if blocks else text
    code = _CODE_COMMENT.sub("", code)
    lines = [" ".join(line.split()) for line in code.splitlines()]
    canon = "\n".join(line for line in lines if line)
    return canon or None


def text_key(text: str) -> str | None:
    """Short free-text answers: lower case, no punctuation or articles; long texts give ``None``."""
    return _canon_phrase(text) if text else None
