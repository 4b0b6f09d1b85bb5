"""Option letters: the label a multiple-choice response committed to (what ChoiceVerifier grades).

Also the option-line parser the verifier and the dataset loaders share.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from memreward_verl.answers.markers import _ASCII_SIGNS, _strip_reasoning, last_boxed

LETTERS = "ABCDEFGHIJ"


def _labels(n_options: int) -> str:
    if not 2 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be between 2 and {len(LETTERS)} (got {n_options!r})")
    return LETTERS[:n_options]


def _norm(text: str, fold: bool = True) -> str:
    """An option's text or a stated answer, compared loosely (responses are read with ASCII signs)."""
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text.translate(_ASCII_SIGNS))
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


#: ``extra_info`` keys that may hold a multiple-choice prompt's options, in the order they are read.
OPTION_KEYS = ("options", "choices")


def choice_options(
    question: str | None, extra_info: Mapping[str, object] | None = None
) -> dict[str, str] | list[str] | None:
    """The options a multiple-choice rollout is read against: ``extra_info["options"]`` or
    ``["choices"]`` where given, else those parsed from ``question`` (or ``extra_info["question"]``).

    The choice verifier and the vote both ask here, so on one rollout they read the same option.
    ``None`` where none are known (labels alone are then read).
    """
    extra = extra_info or {}
    for key in OPTION_KEYS:
        value = extra.get(key)
        if isinstance(value, Mapping | list | tuple) and value:
            return dict(value) if isinstance(value, Mapping) else list(value)
    if not isinstance(question, str):
        question = extra.get("question")
    return (parse_options(question) or None) if isinstance(question, str) else None


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
        re.compile(rf"(?i:(?:correct|right|best|final)\s+(?:option|choice)\s*(?:is|would\s+be|:))\s*[:\-]?\s*{lab}"),
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
