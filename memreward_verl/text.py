"""Node text: the ONLY place where query, thinking and answer texts are made.

Warm-up and online scoring both call :func:`build_node_text`, so the GNN sees the same features in
both phases (the reference code built them differently in each, a defect this module exists to
prevent).

Split rule: the first marker of ``TextConfig.markers`` that occurs in the response splits it at
its LAST occurrence; thinking is the text before, the answer the text from the marker on (for
``</think>`` the marker itself is dropped). A fenced code block (```` ``` ````) takes the last
block as the answer. Without any marker the tail of the response is the answer. Texts are then
capped: the query and thinking keep head and tail, the answer keeps its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memreward_verl.config import TextConfig

__all__ = ["NodeText", "build_node_text", "split_response", "truncate_middle"]

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class NodeText:
    """The three texts that become graph node features for one rollout."""

    query: str
    think: str
    answer: str


def truncate_middle(text: str, max_chars: int) -> str:
    """Keep the first third and last two thirds of ``max_chars``; the end carries the conclusion."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 3
    tail = max_chars - head - 5
    return text[:head] + " ... " + text[-tail:]


def _fallback_split(response: str, n_chars: int) -> tuple[str, str]:
    if len(response) <= n_chars:
        return "", response
    cut = len(response) - n_chars
    newline = response.find("\n", cut)
    # Cut at a line start when one is near, so the answer does not begin mid-word.
    if newline != -1 and newline < len(response) - 1 and newline - cut < n_chars // 2:
        cut = newline + 1
    return response[:cut], response[cut:]


def split_response(response: str, cfg: TextConfig | None = None) -> tuple[str, str]:
    """Split a response into (thinking, answer) by the configured markers.

    Args:
        response: the rollout text (may be empty or garbage; never raises).
        cfg: text settings (default: :class:`TextConfig`).

    Returns:
        ``(think, answer)``; both stripped. An empty response gives ``("", "")``.
    """
    cfg = cfg or TextConfig()
    text = response.strip()
    if not text:
        return "", ""
    lower = text.lower()
    for marker in cfg.markers:
        m = marker.lower()
        if m == "```":
            blocks = list(_FENCE.finditer(text))
            if blocks:
                last = blocks[-1]
                return text[: last.start()].strip(), last.group(1).strip()
            continue
        pos = lower.rfind(m)
        if pos == -1:
            continue
        think = text[:pos]
        answer = text[pos + len(marker) :] if m == "</think>" else text[pos:]
        if m == "</think>" and not answer.strip():
            # Nothing after the reasoning: the reasoning's own tail stands in for the answer.
            return _fallback_split(think.strip(), cfg.fallback_answer_chars)
        return think.strip(), answer.strip()
    think, answer = _fallback_split(text, cfg.fallback_answer_chars)
    return think.strip(), answer.strip()


def build_node_text(question: str, response: str, cfg: TextConfig | None = None) -> NodeText:
    """Build the query, thinking and answer node texts of one rollout.

    Args:
        question: the full user-visible prompt (QA options included).
        response: the rollout text.
        cfg: text settings (default: :class:`TextConfig`).
    """
    cfg = cfg or TextConfig()
    think, answer = split_response(response, cfg)
    if len(answer) > cfg.max_answer_chars:
        answer = answer[-cfg.max_answer_chars :]
    return NodeText(
        query=truncate_middle(question.strip(), cfg.max_query_chars),
        think=truncate_middle(think, cfg.max_think_chars),
        answer=answer,
    )
