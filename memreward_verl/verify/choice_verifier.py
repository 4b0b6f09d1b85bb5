"""Multiple-choice answers: find which option the response committed to.

Models state choices in many ways ("the answer is (C)", "Answer: **C**", ``\\boxed{C}``,
``#### C``, a bare "C.", or the option's text). Grading by "first capital letter" rewards noise,
so extraction only trusts explicit statements, a response that *is* an option label, or (when
the options are known) a response whose final answer is exactly one option's text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

# The extraction is shared with the answer-agreement vote: memreward_verl/answers/.
from memreward_verl.answers.choice import (
    LETTERS,
    _as_mapping,
    _labels,
    _norm,
    choice_options,
    extract_choice,
    parse_options,
)
from memreward_verl.verify.base import VERIFIERS, Status, Verifier, VerifyResult

__all__ = ["ChoiceVerifier", "extract_choice", "parse_options", "CHOICE_SOURCES", "LETTERS"]

logger = logging.getLogger(__name__)

# Data source -> (number of options, aliases).
CHOICE_SOURCES: dict[str, tuple[int, tuple[str, ...]]] = {
    "mmlu": (4, ("cais/mmlu", "hendrycks_test", "hendrycks/test")),
    "mmlu_pro": (10, ("TIGER-Lab/MMLU-Pro", "mmlupro")),
    "commonsense_qa": (5, ("tau/commonsense_qa", "csqa", "commonsenseqa")),
    "openbookqa": (4, ("allenai/openbookqa", "obqa")),
    "arc_challenge": (5, ("allenai/ai2_arc", "ai2_arc", "arc_easy", "arc")),
    "gpqa": (4, ("Idavidrein/gpqa", "gpqa_diamond", "gpqa_main")),
    "piqa": (2, ("ybisk/piqa",)),
    "siqa": (3, ("social_i_qa", "allenai/social_i_qa")),
    "multiple_choice": (10, ("mcq", "choice")),
}


class ChoiceVerifier(Verifier):
    """Option-label extraction + exact label comparison.

    Args:
        n_options: number of options of the data source (labels ``A``.. the n-th letter).
    """

    domain = "qa"

    def __init__(self, n_options: int = 10) -> None:
        self.labels = _labels(n_options)
        self.n_options = n_options

    def gold_label(self, ground_truth: str, options: Mapping[str, str] | Sequence[str] | None) -> str:
        """Normalise a ground truth (``"C"``, ``"(C)"``, ``"3"`` meaning the third, or an option text).

        Raises:
            ValueError: naming the ground truth when it is no valid label (nor a known option text).
        """
        if not isinstance(ground_truth, str) or not ground_truth.strip():
            raise ValueError(f"multiple-choice ground truth must be an option label (got {ground_truth!r})")
        gt = ground_truth.strip().strip("()").strip().rstrip(".")
        if len(gt) == 1 and gt.upper() in self.labels:
            return gt.upper()
        if gt.isdigit() and 1 <= int(gt) <= self.n_options:
            return self.labels[int(gt) - 1]
        opts = _as_mapping(options, self.labels)
        hits = [label for label, text in opts.items() if _norm(text) == _norm(gt)]
        if len(hits) == 1:
            return hits[0]
        raise ValueError(
            f"multiple-choice ground truth {ground_truth!r} is not one of the labels {', '.join(self.labels)}"
            + (" nor an option text" if opts else "")
        )

    def verify(self, response: str, ground_truth: str, extra_info: Mapping[str, Any] | None = None) -> VerifyResult:
        options = choice_options(None, extra_info)
        gold = self.gold_label(ground_truth, options)
        answer = extract_choice(response or "", self.n_options, options)
        if answer is None:
            return VerifyResult.wrong(Status.NO_ANSWER, reason="the response commits to no option")
        if answer == gold:
            return VerifyResult.right(answer)
        return VerifyResult.wrong(Status.WRONG_ANSWER, answer, f"chose {answer}, expected {gold}")

    def __repr__(self) -> str:
        return f"ChoiceVerifier(n_options={self.n_options})"


for _name, (_n, _aliases) in CHOICE_SOURCES.items():
    VERIFIERS.register(_name, aliases=_aliases)(ChoiceVerifier(_n))
