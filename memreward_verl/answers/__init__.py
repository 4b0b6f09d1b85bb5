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
  see features.py). :func:`rollout_key` is the key of one rollout as the vote, the features and the
  memory worker read it: the whole response, with, in every domain but math and code, the options
  the choice verifier uses (:func:`choice_options`; an answer stated by an option's text counts as
  that option); :func:`group_keys` keys a prompt's rollouts with its options read once.
* :func:`equivalent_keys` clusters the keys of ONE group: different strings that are the same
  mathematical answer under the math verifier's own comparison
  (:func:`memreward_verl.verify.math_verifier.math_equal`, math-verify) share a cluster, e.g.
  ``x=3`` and ``3``. It is bounded (at most :data:`MAX_EQUIVALENCE_KEYS` distinct keys per group,
  keys of at most :data:`MAX_EQUIVALENCE_CHARS` characters, a per-comparison timeout and a
  per-group time budget) and cached, so it never hangs.

The verifiers import their extraction from this package, so on the same rollout the vote and the
verifier read the same answer.

Modules: ``markers`` (where an answer is stated: ``<answer>`` tags, ``\\boxed{}``, ``####``, "the
answer is", code fences), ``math_answer``, ``choice`` and ``dates`` (reading one kind of answer), ``extract`` (the
per-domain entry point and the generic path), ``keys`` (canonical keys), ``equivalence``
(clustering keys with math-verify).
"""

from __future__ import annotations

# ``X as X``: public before the split but never in ``__all__``; still importable from the package.
from memreward_verl.answers.choice import LETTERS as LETTERS
from memreward_verl.answers.choice import choice_options, extract_choice, parse_options
from memreward_verl.answers.dates import canonical_date, find_dates
from memreward_verl.answers.equivalence import EQUIVALENCE_BUDGET_S as EQUIVALENCE_BUDGET_S
from memreward_verl.answers.equivalence import EQUIVALENCE_TIMEOUT_S as EQUIVALENCE_TIMEOUT_S
from memreward_verl.answers.equivalence import (
    MAX_EQUIVALENCE_CHARS,
    MAX_EQUIVALENCE_KEYS,
    equivalent_keys,
    unify_keys,
)
from memreward_verl.answers.extract import extract_answer, extract_generic
from memreward_verl.answers.keys import (
    answer_key,
    choice_key,
    code_key,
    group_keys,
    math_key,
    normalize_answer,
    rollout_key,
    text_key,
)
from memreward_verl.answers.markers import last_boxed
from memreward_verl.answers.math_answer import clean_math_answer, extract_math_answer

__all__ = [
    "MAX_EQUIVALENCE_CHARS",
    "MAX_EQUIVALENCE_KEYS",
    "answer_key",
    "canonical_date",
    "choice_options",
    "choice_key",
    "clean_math_answer",
    "code_key",
    "equivalent_keys",
    "extract_answer",
    "extract_choice",
    "extract_generic",
    "extract_math_answer",
    "find_dates",
    "group_keys",
    "last_boxed",
    "math_key",
    "normalize_answer",
    "parse_options",
    "rollout_key",
    "text_key",
    "unify_keys",
]
