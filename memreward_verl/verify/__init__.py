"""Ground-truth verifiers for math, multiple-choice QA and code.

Usage::

    from memreward_verl.verify import verify, verify_detailed
    verify("openai/gsm8k", "... so she makes $18.\\n#### 18", "18")            # -> 1.0
    verify_detailed("mmlu", "The answer is (B).", "C")                        # -> VerifyResult(0.0, wrong_answer, "B")

Routing: ``data_source`` is looked up in :data:`VERIFIERS` (case-insensitive, ``-`` == ``_``); an
unknown source falls back to its family prefix (``numina_*``, ``aime*``, ``amc*``) and then to
``ability`` (``math``, ``qa``/``choice``/``multiple_choice``, ``code``). Extend it with
:func:`register_verifier`. :func:`compute_score` has verl's ``custom_reward_function`` signature.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from memreward_verl.verify.base import VERIFIERS, FunctionVerifier, Status, Verifier, VerifyResult, register_verifier
from memreward_verl.verify.choice_verifier import ChoiceVerifier, extract_choice
from memreward_verl.verify.code_verifier import CodeConfig, CodeVerifier, extract_code
from memreward_verl.verify.math_verifier import MathConfig, MathVerifier, extract_math_answer
from memreward_verl.verify.sandbox import SandboxConfig, SandboxResult, run_python, sandbox_capabilities

__all__ = [
    "verify",
    "verify_detailed",
    "VerifierUndecidedError",
    "compute_score",
    "resolve",
    "VERIFIERS",
    "register_verifier",
    "Verifier",
    "FunctionVerifier",
    "VerifyResult",
    "Status",
    "MathVerifier",
    "MathConfig",
    "ChoiceVerifier",
    "CodeVerifier",
    "CodeConfig",
    "SandboxConfig",
    "SandboxResult",
    "run_python",
    "sandbox_capabilities",
    "extract_math_answer",
    "extract_choice",
    "extract_code",
]

logger = logging.getLogger(__name__)

# verify(): an undecided verdict (the verifier's own time budget ran out) is tried again this many times.
UNDECIDED_RETRIES = 2


class VerifierUndecidedError(RuntimeError):
    """The verifier ran out of its time budget every time: there is no verdict, so there is no reward."""


# Families of data sources named by prefix (verl uses e.g. "numina_olympiads", "aime2024").
_PREFIXES = (("numina", "numina_math"), ("aime", "math"), ("amc", "math"), ("gsm", "openai/gsm8k"))
# ``ability`` / domain -> registered data source whose verifier serves the whole domain.
_ABILITIES = {
    "math": "math",
    "qa": "multiple_choice",
    "choice": "multiple_choice",
    "multiple_choice": "multiple_choice",
    "mcq": "multiple_choice",
    "code": "code",
    "coding": "code",
    "python": "code",
}


def resolve(data_source: str, ability: str | None = None) -> Verifier:
    """Find the verifier for a data source.

    Args:
        data_source: dataset name, e.g. ``"openai/gsm8k"``, ``"mmlu_pro"``, ``"lighteval/MATH"``.
        ability: domain used when the data source is unknown (``"math"``, ``"qa"``, ``"code"``).

    Returns:
        The :class:`Verifier`.

    Raises:
        KeyError: naming the data source (and ability) and listing the registered names.
    """
    if not isinstance(data_source, str):
        raise KeyError(f"data_source must be a string (got {data_source!r})")
    if data_source in VERIFIERS:
        return VERIFIERS.get(data_source)
    key = data_source.strip().lower()
    for prefix, target in _PREFIXES:
        if key.startswith(prefix):
            return VERIFIERS.get(target)
    if ability:
        target = _ABILITIES.get(ability.strip().lower().replace("-", "_"))
        if target is None:
            raise KeyError(
                f"unknown data source {data_source!r} and unknown ability {ability!r}; "
                f"abilities: {', '.join(sorted(_ABILITIES))}"
            )
        return VERIFIERS.get(target)
    return VERIFIERS.get(data_source)  # raises KeyError listing every registered name


def verify_detailed(
    data_source: str,
    response: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    *,
    ability: str | None = None,
) -> VerifyResult:
    """Verify one response and say why it got its score.

    Args:
        data_source: dataset name used for routing (see :func:`resolve`).
        response: the model's response text.
        ground_truth: the answer string (math, QA) or the tests JSON (code).
        extra_info: optional metadata; ``extra_info["ability"]`` is used when ``ability`` is None.
        ability: domain fallback for unknown data sources.

    Returns:
        A :class:`VerifyResult` (score in [0, 1], status, extracted answer, reason).

    Raises:
        KeyError: if no verifier serves ``data_source``.
        ValueError: if ``ground_truth`` is malformed (the message names the data source).
    """
    if ability is None and extra_info:
        maybe = extra_info.get("ability")
        ability = maybe if isinstance(maybe, str) else None
    verifier = resolve(data_source, ability)
    try:
        return verifier.verify(response if isinstance(response, str) else "", ground_truth, extra_info)
    except ValueError as exc:
        raise ValueError(f"{data_source}: {exc}") from exc


def verify(
    data_source: str,
    response: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    *,
    ability: str | None = None,
) -> float:
    """Score one response in [0, 1]: a reward-grade verdict (see :func:`verify_detailed` for arguments).

    A verifier that runs out of its own time budget (``Status.UNDECIDED``: math-verify on a loaded
    machine, a process pool still starting) has not decided; that is retried ``UNDECIDED_RETRIES``
    times and then raised, never scored 0.

    Raises:
        VerifierUndecidedError: still undecided after the retries (names the data source and answer).
        KeyError, ValueError: as :func:`verify_detailed`.
    """
    for attempt in range(1, UNDECIDED_RETRIES + 2):
        result = verify_detailed(data_source, response, ground_truth, extra_info, ability=ability)
        if result.status is not Status.UNDECIDED:
            return result.score
        logger.warning(
            "[Attempt %d/%d] %s verifier undecided on answer %r (%s)",
            attempt, UNDECIDED_RETRIES + 1, data_source, result.answer, result.reason,
        )  # fmt: skip
    raise VerifierUndecidedError(
        f"{data_source}: the verifier could not decide on answer {result.answer!r} against {ground_truth!r} "
        f"in {UNDECIDED_RETRIES + 1} attempts ({result.reason}); not scored 0. Raise the verifier's time budget "
        "(MathConfig.timeout_s) if the machine is this busy"
    )


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl ``custom_reward_function`` entry point (verl passes these keyword names).

    Extra keyword arguments verl may pass (``sandbox_fusion_url``, ...) are ignored.
    """
    return verify(data_source, solution_str, ground_truth, extra_info)
