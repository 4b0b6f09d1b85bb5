"""The one answer extractor and the one answer equivalence, shared by the verifiers and the vote.

Three things live here:

* :func:`extract_answer` reads the final answer of a response *as written*. Domain ``"math"`` is
  exactly what :class:`~memreward_verl.verify.MathVerifier` grades (:func:`extract_math_answer`),
  ``"qa"`` exactly what :class:`~memreward_verl.verify.ChoiceVerifier` grades
  (:func:`extract_choice`); ``"code"`` is the code itself; any other domain string takes the
  generic path (see :func:`extract_generic`).
* :func:`answer_key` canonicalises the extracted answer into a short key: two rollouts with equal
  keys reached the same final answer. Numbers are canonical (``1,000`` -> ``1000``, ``0.50`` and
  ``\\frac{1}{2}`` -> ``0.5``), dates are ISO (``Nov 22, 2002`` -> ``2002-11-22``), option letters
  upper case, short phrases lower case without punctuation or articles. ``None`` means no answer
  could be read; such rollouts agree with nobody by key (embedding similarity may still link them,
  see features.py).
* :func:`equivalent_keys` clusters the keys of ONE group: different strings that are the same
  mathematical answer under the math verifier's own comparison
  (:func:`memreward_verl.verify.math_verifier.math_equal`, math-verify) share a cluster, e.g.
  ``x=3`` and ``3``. It is bounded (at most :data:`MAX_EQUIVALENCE_KEYS` distinct keys per group,
  keys of at most :data:`MAX_EQUIVALENCE_CHARS` characters, a per-comparison timeout and a
  per-group time budget) and cached, so it never hangs.

The verifiers import their extraction from this module, so on the same rollout the vote and the
verifier read the same answer.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "MAX_EQUIVALENCE_CHARS",
    "MAX_EQUIVALENCE_KEYS",
    "answer_key",
    "canonical_date",
    "choice_key",
    "clean_math_answer",
    "code_key",
    "equivalent_keys",
    "extract_answer",
    "extract_choice",
    "extract_generic",
    "extract_math_answer",
    "find_dates",
    "last_boxed",
    "math_key",
    "normalize_answer",
    "parse_options",
    "text_key",
    "unify_keys",
]

LETTERS = "ABCDEFGHIJ"

# Equivalence bounds: beyond these, clustering falls back to key equality.
MAX_EQUIVALENCE_KEYS = 64  # distinct keys in one group
MAX_EQUIVALENCE_CHARS = 120  # characters of one key
EQUIVALENCE_TIMEOUT_S = 1.0  # one math-verify comparison
EQUIVALENCE_BUDGET_S = 3.0  # all comparisons of one group


def _strip_reasoning(text: str) -> str:
    # Imported lazily: the verify package imports this module at load time.
    from memreward_verl.verify.base import strip_reasoning

    return strip_reasoning(text)


# ------------------------------------------------------------------------------------ \boxed{}

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)\s*")


def _balanced(text: str, open_idx: int) -> str | None:
    """Content of the brace group starting at ``text[open_idx] == '{'``, or None if unbalanced."""
    depth = 0
    for i in range(open_idx, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1 : i]
    return None


def last_boxed(text: str) -> str | None:
    """The last non-empty ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed N`` content (balanced braces)."""
    for m in reversed(list(_BOX_CMD.finditer(text))):
        end = m.end()
        if end < len(text) and text[end] == "{":
            inner = _balanced(text, end)
        else:
            tail = re.match(r"([^\s$]+)", text[end:])
            inner = tail.group(1) if tail else None
        if inner is not None and inner.strip():
            return inner.strip()
    return None


# ------------------------------------------------------------------------------ math extraction

_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*(?:is\s*)?:?\s*([^\n]+)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_INLINE_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_UNIT_WORDS = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s*([A-Za-z][A-Za-z\s\-/]*)$")
_NOT_UNITS = {"pi", "i", "e", "sqrt", "x", "y", "n", "k"}


def clean_math_answer(ans: str) -> str:
    """Strip delimiters, trailing punctuation and plain-word units from an answer string."""
    ans = ans.strip()
    m = _INLINE_MATH.search(ans)
    if m and "\\boxed" not in ans:
        ans = next(g for g in m.groups() if g is not None)
    boxed = last_boxed(ans)
    if boxed is not None:
        ans = boxed
    ans = ans.strip().rstrip(".,;:!").strip()
    if ans.startswith("$") and ans.count("$") == 1:  # "$18" means eighteen dollars, not math mode
        ans = ans[1:]
    if ans.endswith("$") and ans.count("$") == 1:
        ans = ans[:-1]
    unit = _UNIT_WORDS.match(ans)
    if unit and unit.group(1) and "\\" not in ans and unit.group(2).strip().lower() not in _NOT_UNITS:
        ans = unit.group(1)
    ans = re.sub(r"(?<!\\)%", r"\\%", ans)
    return ans.strip()


def _answer_sentence(captured: str) -> str:
    """Cut an "answer is ..." capture at the end of its sentence, keeping inline math whole."""
    captured = captured.strip()
    inner = _ANSWER_IS.search(captured)  # "Final Answer: The final answer is $5$." -> the inner one
    while inner:
        captured = inner.group(1).strip()
        inner = _ANSWER_IS.search(captured)
    m = _INLINE_MATH.search(captured)
    if m:
        return m.group(0)
    cut = re.split(r"\.\s|;\s|\s\(|,\s(?:so|which|and|because)\b", captured, maxsplit=1)[0]
    return cut


def extract_math_answer(text: str, *, last_number_fallback: bool = True) -> str | None:
    """Extract the final answer of a math response (what :class:`MathVerifier` grades).

    Priority: the last ``\\boxed{}``; then the last ``#### X``; then the last "answer is X" /
    "Answer: X"; then (optionally) the last number. Reasoning inside ``<think>...</think>`` is
    skipped when an answer follows it.

    Args:
        text: the model response.
        last_number_fallback: use the last number when no explicit answer marker exists.

    Returns:
        The cleaned answer string (e.g. ``"\\frac{3}{4}"``, ``"72"``), or ``None`` if none found.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    body = _strip_reasoning(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return clean_math_answer(boxed) or None
    hashes = _HASHES.findall(body)
    if hashes:
        found = clean_math_answer(hashes[-1])
        if found:
            return found
    stated = _ANSWER_IS.findall(body)
    for captured in reversed(stated):
        found = clean_math_answer(_answer_sentence(captured))
        if found:
            return found
    if last_number_fallback:
        numbers = _NUMBER.findall(body)
        if numbers:
            return re.sub(r"\s+", "", numbers[-1])
    return None


# ---------------------------------------------------------------------------- choice extraction


def _labels(n_options: int) -> str:
    if not 2 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be between 2 and {len(LETTERS)} (got {n_options!r})")
    return LETTERS[:n_options]


def _norm(text: str, fold: bool = True) -> str:
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"[*_`$]", "", text)
    text = re.sub(r"\s+", " ", text).strip().strip(".:;,!\"'").strip()
    return text.lower() if fold else text


def parse_options(question: str) -> dict[str, str]:
    """Parse ``A. text`` / ``(B) text`` / ``C) text`` option lines out of a question.

    Args:
        question: the prompt shown to the model.

    Returns:
        Mapping from label to option text (empty if fewer than two options were found).
    """
    found: dict[str, str] = {}
    for m in re.finditer(r"(?m)^\s*\(?([A-J])[\.\):]\s+(.+?)\s*$", question or ""):
        found[m.group(1)] = m.group(2)  # the last listing wins: options follow the stem
    if len(found) < 2:
        inline = re.findall(r"\(([A-J])\)\s*(.+?)(?=\s*\([A-J]\)|$)", question or "", re.DOTALL)
        found = {k: v.strip() for k, v in inline}
    return found if len(found) >= 2 else {}


@functools.lru_cache(maxsize=16)
def _patterns(labels: str) -> list[re.Pattern[str]]:
    # Words match in any case, labels only in upper case ("the answer is a dog" names no option)
    # unless parenthesised: "(c)".
    cls, low = re.escape(labels), re.escape(labels.lower())
    lab = rf"(?:\(?\**\(?([{cls}])\)?\**\)?|\(([{low}])\))(?![A-Za-z0-9])"
    return [
        re.compile(
            rf"(?i:answer\s*(?:is|would\s+be|will\s+be|:)\s*[:\-]?\s*(?:option|choice|letter)?\s*[:\-]?)\s*{lab}"
        ),
        re.compile(rf"####\s*{lab}"),
        re.compile(rf"(?i:option|choice)\s*{lab}\s*(?i:is|would\s+be)\s*(?i:the\s+)?(?i:correct|right|best)"),
        re.compile(rf"{lab}\s*(?i:is)\s*(?i:the\s+)?(?i:correct|right|best)\s*(?i:answer|option|choice)"),
        re.compile(rf"(?i:I\s+(?:choose|pick|select)|my\s+choice\s+is|go\s+with)\s*(?i:option)?\s*{lab}"),
    ]


_NOT_OPTION_TEXT = re.compile(r"^(?:is|are|was|were|and|or|seems?|could|might|may|can|but|vs)\b", re.IGNORECASE)


def _label_in(fragment: str, labels: str) -> str | None:
    """``fragment`` *is* a label: ``C``, ``(C)``, ``C.``, ``**C**``, ``C) text``, ``C. text``."""
    frag = re.sub(r"\\text\{([^{}]*)\}", r"\1", fragment).strip().strip("*`$").strip()
    m = re.fullmatch(rf"\(?([{re.escape(labels)}])\)?(?:[.):\]]\s*(.*)|\s*)", frag, re.DOTALL)
    if m:
        rest = (m.group(2) or "").strip()
        # "C. Paris" names option C; "(A) is wrong, (B) is right" does not.
        if not rest or (not _NOT_OPTION_TEXT.match(rest) and not re.search(rf"\(([{labels}])\)", rest)):
            return m.group(1)
        return None
    m = re.fullmatch(rf"\(([{re.escape(labels.lower())}])\)", frag)
    return m.group(1).upper() if m else None


def _as_mapping(options: Mapping[str, str] | Sequence[str] | None, labels: str) -> dict[str, str]:
    if not options:
        return {}
    if isinstance(options, Mapping):
        return {str(k).strip().upper(): str(v) for k, v in options.items() if str(k).strip().upper() in labels}
    return {labels[i]: str(v) for i, v in enumerate(options) if i < len(labels)}


def _match_option_text(body: str, lines: list[str], opts: dict[str, str], exact_only: bool = False) -> str | None:
    normalised = {label: _norm(text) for label, text in opts.items() if _norm(text)}
    candidates = []
    stated = re.findall(r"answer\s*(?:is|:)\s*([^\n]+)", body, re.IGNORECASE)
    if stated:
        candidates.append(stated[-1])
    candidates.append(body)
    if lines:
        candidates.append(lines[-1])
    for cand in candidates:
        c = _norm(cand)
        hits = [label for label, text in normalised.items() if c == text]
        if len(hits) > 1:  # "Cc or cc" vs "CC or Cc": let case decide
            hits = [label for label in hits if _norm(cand, fold=False) == _norm(opts[label], fold=False)]
        if len(hits) == 1:
            return hits[0]
    if lines and not exact_only:  # "It must be Rome": the last line ends with exactly one (non-trivial) option
        last = _norm(lines[-1])
        hits = [lab for lab, text in normalised.items() if len(text) >= 3 and re.search(rf"\b{re.escape(text)}$", last)]
        if len(hits) == 1:
            return hits[0]
    return None


def extract_choice(
    text: str, n_options: int = 10, options: Mapping[str, str] | Sequence[str] | None = None
) -> str | None:
    """Extract the option label a multiple-choice response committed to (what :class:`ChoiceVerifier` grades).

    Tried in order: a final answer that is exactly one option's text (when ``options`` are given);
    ``\\boxed{C}``; the last explicit statement ("the answer is (C)", "Answer: C", ``#### C``,
    "option C is correct", ...); a response or last line that is a label (``C``, ``(C)``,
    ``C. text``, or a response that is one letter in any case: ``b``); the option text itself (when
    ``options`` are given); finally a single distinct ``(C)`` mentioned in the response.

    Args:
        text: the model response.
        n_options: number of options; labels are ``A`` .. the n-th letter.
        options: option texts, as ``{"A": "...", ...}`` or a list in label order (optional).

    Returns:
        The label (``"A"``..``"J"``) or ``None`` when the response commits to no option.
    """
    labels = _labels(n_options)
    if not isinstance(text, str) or not text.strip():
        return None
    body = _strip_reasoning(text).strip()
    lines = [ln for ln in body.splitlines() if ln.strip()]
    opts = _as_mapping(options, labels)
    if opts:  # "The answer is A Season" names the option "A Season", not option A
        hit = _match_option_text(body, lines, opts, exact_only=True)
        if hit:
            return hit
    if len(body) == 1 and body.upper() in labels:  # the whole response is one letter: "b"
        return body.upper()
    boxed = last_boxed(body)
    if boxed is not None:
        hit = _label_in(boxed, labels)
        if hit:
            return hit
    best: tuple[int, str] | None = None
    for pat in _patterns(labels):
        for m in pat.finditer(body):
            if best is None or m.start() > best[0]:
                best = (m.start(), (m.group(1) or m.group(2)).upper())
    if best:
        return best[1]
    for fragment in (body, lines[-1] if lines else ""):
        hit = _label_in(fragment, labels) if len(fragment) < 400 else None
        if hit:
            return hit
    if opts:
        hit = _match_option_text(body, lines, opts)
        if hit:
            return hit
    mentioned = set(re.findall(rf"\(([{re.escape(labels)}])\)", body))
    if len(mentioned) == 1:
        return mentioned.pop()
    return None


def _n_options(options: Mapping[str, str] | Sequence[str] | None) -> int:
    """Number of labels implied by ``options`` (10 = ``A``..``J`` when unknown)."""
    if not options:
        return len(LETTERS)
    if isinstance(options, Mapping):
        idx = [LETTERS.index(k) for k in (str(k).strip().upper() for k in options) if len(k) == 1 and k in LETTERS]
        return min(len(LETTERS), max(2, max(idx, default=len(LETTERS) - 1) + 1))
    return min(len(LETTERS), max(2, len(options)))


# ------------------------------------------------------------------------------------------ dates

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        )
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_PATTERNS = (
    # 2002-11-22, 2002/11/22, 2002.11.22
    re.compile(r"(?<![\d/.-])(?P<year>\d{4})([-/.])(?P<a>\d{1,2})\2(?P<b>\d{1,2})(?![\d/-]|\.\d)"),
    # 11/22/2002, 22/11/2002, 11-22-2002, 11.22.2002, 11/22/02
    re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})([-/.])(?P<b>\d{1,2})\2(?P<year>\d{4}|\d{2})(?![\d/-]|\.\d)"),
    # Nov 22, 2002 / November 22nd 2002
    re.compile(rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    # 22 November 2002 / 22nd of Nov. 2002 / 22 Nov, 2002
    re.compile(rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),
)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _date_from_match(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    year = int(groups["year"])
    if len(groups["year"]) == 2:
        year += 2000 if year < 50 else 1900
    if groups.get("mon"):
        return _iso(year, _MONTHS[groups["mon"].lower()], int(groups["day"]))
    a, b = int(groups["a"]), int(groups["b"])
    if m.re is _DATE_PATTERNS[0]:
        return _iso(year, a, b)
    # Numeric day/month order: US month-first unless the first field cannot be a month (> 12).
    return _iso(year, b, a) if a > 12 else _iso(year, a, b)


def find_dates(text: str) -> list[tuple[int, int, str]]:
    """Every calendar date written in ``text`` as ``(start, end, ISO date)``, in text order.

    Formats: ``2002-11-22`` (also ``/`` or ``.``), ``11/22/2002`` (also ``-`` or ``.``, two-digit
    years meaning 2000-2049 / 1950-1999), ``Nov 22, 2002``, ``November 22nd 2002``,
    ``22 November 2002``, ``22nd of Nov. 2002``. Numeric ``a/b/yyyy`` is month-first (US) unless
    ``a`` > 12, in which case it is day-first (``22/11/2002`` is 22 November). Impossible dates
    (``02/30/2002``) are skipped.
    """
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            iso = _date_from_match(m)
            if iso:
                found.append((m.start(), m.end(), iso))
                taken.append((m.start(), m.end()))
    return sorted(found)


def canonical_date(text: str) -> str | None:
    """``text`` is one date (up to punctuation and a weekday): its ISO form, else ``None``."""
    s = re.sub(r"^(?i:(?:mon|tues|wednes|thurs|fri|satur|sun)day),?\s*", "", text.strip().strip("*$`.,;:!()[]"))
    dates = find_dates(s)
    if len(dates) == 1 and dates[0][0] == 0 and dates[0][1] >= len(s.rstrip(".")):
        return dates[0][2]
    return None


# ----------------------------------------------------------------------------- generic extraction

_GENERIC_NUMBER = re.compile(r"(?<![\w./])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\w/])|(?<![\w./])-?\.\d+")
_MAX_PHRASE_CHARS = 80
_MAX_PHRASE_WORDS = 10


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
       number; else the line itself when it is a short phrase (at most 10 words, 80 characters);
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
    phrase = last.strip("*`$ ").rstrip(".!")
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


# -------------------------------------------------------------------------------- canonical keys

_CODE_COMMENT = re.compile(r"#[^\n]*")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+")
_SIMPLE_FRACTION = re.compile(r"([-+]?)(?:\\frac\{([-+]?\d+)\}\{(\d+)\}|\\frac(\d)(\d)|(\d+)/(\d+))")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


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


def _canon_generic(ans: str) -> str | None:
    s = ans.strip()
    iso = canonical_date(s)
    if iso:
        return iso
    label = _label_in(s, LETTERS)
    if label and len(s.strip("*`$ ")) <= 3:
        return label
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


def normalize_answer(answer: str | None, domain: str) -> str | None:
    """Canonical key of an already-extracted answer (or a ground truth) for ``domain``."""
    if answer is None or not str(answer).strip():
        return None
    answer = str(answer)
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
    key (:func:`code_key`).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    if domain == "code":
        return code_key(text)
    return normalize_answer(extract_answer(text, domain, options), domain)


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


# ----------------------------------------------------------------------------------- equivalence

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _looks_math(key: str) -> bool:
    """Whether a key of an unknown domain is a math expression worth comparing with math-verify.

    Dates, option letters, code, words and phrases are compared by equality only (math-verify reads
    ``2002-11-22`` as a subtraction and ``paris`` as a product of symbols).
    """
    if _ISO_DATE.fullmatch(key) or "\n" in key:
        return False
    if not re.search(r"[\d\\]", key):
        return False
    return not re.search(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", "", key))


def _eligible(key: str, domain: str | None) -> bool:
    if len(key) > MAX_EQUIVALENCE_CHARS or "\n" in key:
        return False
    # In math too: identifiers and words ("dollars_per_day", the variable a program answer printed)
    # would reach sympy as products of symbols, which is slow and never a meaningful equivalence.
    return _looks_math(key)


@functools.lru_cache(maxsize=4096)
def _math_classes(keys: tuple[str, ...]) -> tuple[int, ...]:
    from memreward_verl.verify.math_verifier import math_equivalence_classes

    return tuple(math_equivalence_classes(list(keys), EQUIVALENCE_TIMEOUT_S, EQUIVALENCE_BUDGET_S))


def equivalent_keys(keys: Sequence[str | None], domain: str | None = None) -> list[int]:
    """Cluster id per key of ONE group: equal keys, and keys the math verifier calls equal, share one.

    Args:
        keys: canonical answer keys (:func:`answer_key`); ``None`` = no answer.
        domain: ``"math"``: every key (up to :data:`MAX_EQUIVALENCE_CHARS`) is compared with
            :func:`memreward_verl.verify.math_verifier.math_equal`; ``"qa"`` / ``"code"``: key
            equality only; any other value (``None`` included): only keys that look like math
            expressions (digits or LaTeX, no words, no dates) are compared.

    Returns:
        Cluster ids ``0..k-1`` numbered in order of first appearance; ``-1`` for a ``None`` key.
        With more than :data:`MAX_EQUIVALENCE_KEYS` distinct keys, equality only.
    """
    distinct = list(dict.fromkeys(k for k in keys if k is not None))
    cls = {k: i for i, k in enumerate(distinct)}
    if domain not in ("qa", "code") and 2 <= len(distinct) <= MAX_EQUIVALENCE_KEYS:
        cands = [k for k in distinct if _eligible(k, domain)]
        if len(cands) >= 2:
            classes = _math_classes(tuple(cands))
            first: dict[int, str] = {}
            for k, c in zip(cands, classes):
                rep = first.setdefault(c, k)
                cls[k] = cls[rep]
    renumber: dict[int, int] = {}
    return [-1 if k is None else renumber.setdefault(cls[k], len(renumber)) for k in keys]


def unify_keys(keys: Sequence[str | None], domain: str | None = None) -> list[str | None]:
    """Each key replaced by the first key of its :func:`equivalent_keys` cluster (for a key-count vote)."""
    ids = equivalent_keys(keys, domain)
    rep: dict[int, str] = {}
    for k, c in zip(keys, ids):
        if k is not None:
            rep.setdefault(c, k)
    return [None if k is None else rep[c] for k, c in zip(keys, ids)]
