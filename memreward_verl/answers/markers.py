"""Where a response states its final answer: the markers every extractor of this package looks for.

A ``<think>`` trace is skipped and an ``<answer>...</answer>`` tag, where there is one, narrows the
text to its content; then the answer is the last ``\\boxed{...}`` (balanced braces), a ``#### X``
line, a "the answer is X" / "Answer: X" sentence, inline math, or (code) the last fenced block.
The math, choice and generic extractors differ only in the order they try these and in how they
clean what they find, so the markers live here once.
"""

from __future__ import annotations

import re


def _strip_reasoning(text: str) -> str:
    """The part of a response that states its answer (every extractor reads this).

    The text after a ``<think>`` trace, narrowed to its last non-empty ``<answer>`` tag where it has
    one (R1-style templates: ``<think>...</think> <answer>...</answer>``), markdown emphasis removed,
    typographic signs and spaces as ASCII (``−3`` is ``-3``; see :data:`_ASCII_SIGNS`).
    """
    # Imported lazily: the verify package imports this module at load time.
    from memreward_verl.verify.base import strip_reasoning

    body = strip_emphasis(strip_reasoning(text).translate(_ASCII_SIGNS))
    tagged = answer_tag(body)
    return body if tagged is None else tagged


# Signs models write in place of ASCII ones: the minus sign (U+2212; every number pattern reads
# ``-``), and no-break / thin spaces around numbers and units.
_ASCII_SIGNS = str.maketrans({"\u2212": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " "})

_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)


def answer_tag(text: str) -> str | None:
    """Content of the last non-empty ``<answer>...</answer>`` tag, or None where there is none.

    An unclosed last tag runs to the end of the text: a response cut at its length limit inside
    the tag still stated what it wrote there.
    """
    for m in reversed(list(_ANSWER_OPEN.finditer(text))):
        close = _ANSWER_CLOSE.search(text, m.end())
        inner = text[m.end() : close.start() if close else len(text)].strip()
        if inner:
            return inner
    return None


# Markdown emphasis, paired on one line: ``*x*``, ``**x**``, ``***x***``, ``__x__`` ("**Answer:** 42",
# "The answer is **42**."). Not a run after a word character, ``^`` or ``\`` ("2**10", "2*3", "x^*"),
# nor one that does not open before and close after non-space text ("a * b", "A* search").
_EMPHASIS = re.compile(r"(?<![\w*\\^])(\*{1,3}|__)(?=[^\s*])(.+?)(?<=[^\s*\\^])\1(?![\w*])")


def strip_emphasis(text: str) -> str:
    """``text`` without markdown emphasis markers, so a bolded answer reads as the plain one."""
    previous = None
    while previous != text:  # nested: "**The answer is *42*.**"
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return text


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


# --------------------------------------------------------------------------- answer statements

_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*(?:is\s*)?:?\s*([^\n]+)",
    re.IGNORECASE,
)
_INLINE_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


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
    return _SENTENCE_END.split(captured, maxsplit=1)[0]


# Where an answer statement's own clause ends: a sentence end, a parenthesis, or a clause that
# gives the reason ("is 42 because 6*7=42", "is 12, so ...", "is B since ...").
_SENTENCE_END = re.compile(
    r"\.\s|;\s|\s\(|,\s(?:so|which|and|because|since)\b|\s(?:because|since|which|given\s+that|as\s+shown)\b",
    re.IGNORECASE,
)
