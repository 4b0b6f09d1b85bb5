"""From predicted probabilities to hard 0/1 rewards of a GRPO group.

``threshold``: reward 1 where ``p >= threshold`` (the reference's rule).

``expected_cag``: choose, per group, the hard reward vector that minimises the EXPECTED
Corrective Advantage Gap under the predicted probabilities. Candidates are "the top-j rollouts by
probability get 1" for j = 0..n. Possible truths are sampled with rollouts of one answer cluster
sharing one draw (same final answer, same correctness) at the cluster's mean probability. For
single-answer domains (math, multiple choice) at most one cluster is right, so the draw picks one
cluster (or none); elsewhere (code, open tasks) clusters are drawn independently. GRPO
only sees advantages, so a group the predictor is unsure about is better given equal rewards (zero
advantage) than a coin-flip ranking: this rule does that automatically.

``plurality``: per group, the rollouts of the answer cluster(s) with the highest mean probability
get 1 (what majority voting does with its own shares; with learned probabilities the cluster may
differ).

``constant``: every rollout gets 0. Equal rewards give the group zero GRPO advantage: where the
predictor's rankings are worth less than no signal, unlabelled prompts then teach nothing rather
than the wrong thing. A wrong ranking costs more CAG than none (a non-constant 0/1 vector scores
``sqrt(n)`` against a group whose rollouts are all right or all wrong, and more than that against a
mixed group unless it agrees with it better than by correlation 0.5).

``auto`` is not a rule here but a choice among these, and among ``threshold`` at a few other
thresholds (``RewardConfig.auto_thresholds``): the warm-up fit scores every candidate by the CAG of
its hard rewards on out-of-fold predictions of the labelled queries (:func:`choose_hard_rule`) and
leaves the default rule only for a candidate whose CAG is lower by more than noise
(``RewardConfig.auto_gain_z`` paired standard errors), or for ``constant`` where the rule chosen
split no labelled group (its splits are untested). No rule wins on every set (BENCHMARKS.md section 1).
"""

from __future__ import annotations

import numpy as np

from memreward_verl.metrics import group_cags

__all__ = [
    "hard_rewards",
    "group_expected_cag_choice",
    "choose_hard_rule",
    "resolve_rule",
    "describe_choice",
    "threshold_key",
    "HARD_RULES",
    "AUTO_RULE",
    "SINGLE_ANSWER_DOMAINS",
    "single_answer",
]

# In order of preference on a tie (the first is the paper's rule).
HARD_RULES = ("threshold", "plurality", "expected_cag", "constant")
# Chosen per artifact from out-of-fold CAG (the fit records the choice as ``hard_rule``).
AUTO_RULE = "auto"
# Domains whose tasks have one right final answer: at most one answer cluster of a group is right.
SINGLE_ANSWER_DOMAINS = ("math", "qa")


def single_answer(domains) -> np.ndarray:
    """``bool`` per entry of ``domains``: True where the task has a single right answer."""
    return np.isin(np.asarray(domains, dtype=object), SINGLE_ANSWER_DOMAINS)


def _advantages(r: np.ndarray) -> np.ndarray:
    """Row-wise GRPO advantages of ``[m, n]`` reward vectors (as ``metrics.grpo_advantages``)."""
    mean = r.mean(1, keepdims=True)
    std = r.std(1, keepdims=True)
    return (r - mean) / (std + 1e-6)


def _draw_truths(p_c: np.ndarray, exclusive: bool, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``[samples, clusters]`` 0/1 draws of which answer clusters are right."""
    if not exclusive:
        return (rng.random((samples, len(p_c))) < p_c).astype(np.float64)
    total = p_c.sum()
    probs = np.append(p_c / max(total, 1.0), max(0.0, 1.0 - total))  # last: no cluster is right
    pick = rng.choice(len(probs), size=samples, p=probs / probs.sum())
    out = np.zeros((samples, len(p_c) + 1))
    out[np.arange(samples), pick] = 1.0
    return out[:, :-1]


def group_expected_cag_choice(
    prob: np.ndarray, clusters: np.ndarray, samples: int, rng: np.random.Generator, exclusive: bool = False
) -> np.ndarray:
    """Hard rewards ``[n]`` of one group minimising expected CAG (see module docstring)."""
    n = len(prob)
    if n < 2:
        return (prob >= 0.5).astype(np.int64)
    order = np.argsort(-prob, kind="stable")
    cands = np.zeros((n + 1, n))
    for j in range(1, n + 1):
        cands[j, order[:j]] = 1.0
    uniq, inv = np.unique(clusters, return_inverse=True)
    p_c = np.bincount(inv, weights=prob, minlength=len(uniq)) / np.bincount(inv, minlength=len(uniq))
    draws = _draw_truths(p_c, exclusive, samples, rng)[:, inv]  # [S, n]
    a_true = _advantages(draws)  # [S, n]
    a_cand = _advantages(cands)  # [n+1, n]
    gaps = np.linalg.norm(a_cand[:, None, :] - a_true[None, :, :], axis=2).mean(1)  # [n+1]
    # All-0 and all-1 give the same (zero) advantages; break such ties by expected label error.
    hamming = np.abs(cands[:, None, :] - draws[None, :, :]).mean((1, 2))  # [n+1]
    return cands[int(np.argmin(gaps + 1e-3 * hamming))].astype(np.int64)


def plurality_rewards(prob: np.ndarray, rollout_group: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """1 for the rollouts of each group's answer cluster(s) with the highest mean probability.

    Clusters tied at the top all get 1, as in majority voting (a 1-1-1-1 group gets equal rewards,
    no advantage, rather than an arbitrary winner).
    """
    pairs, inv = np.unique(np.stack([rollout_group, clusters], 1), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    mean = np.bincount(inv, weights=prob) / np.bincount(inv)
    group_of_pair = np.unique(pairs[:, 0], return_inverse=True)[1].reshape(-1)
    top = np.full(group_of_pair.max() + 1, -np.inf)
    np.maximum.at(top, group_of_pair, mean)
    winner = mean >= top[group_of_pair] - 1e-12
    return winner[inv].astype(np.int64)


def hard_rewards(
    prob: np.ndarray,
    rollout_group: np.ndarray,
    clusters: np.ndarray | None = None,
    rule: str = "expected_cag",
    threshold: float = 0.5,
    samples: int = 512,
    seed: int = 0,
    exclusive: np.ndarray | None = None,
) -> np.ndarray:
    """Hard 0/1 rewards ``[R]`` for rollouts grouped by ``rollout_group``.

    Args:
        prob: ``[R]`` predicted probabilities of correctness.
        rollout_group: ``[R]`` group id per rollout.
        clusters: ``[R]`` answer-cluster id per rollout (unique within a group); default: every
            rollout its own cluster.
        rule: one of :data:`HARD_RULES`.
        threshold: for ``"threshold"``.
        samples: Monte-Carlo draws per group for ``"expected_cag"``.
        seed: makes ``"expected_cag"`` deterministic.
        exclusive: ``bool [R]``, True where the rollout's task has a single right answer (math,
            multiple choice): at most one answer cluster of its group is right. Default: False.
    """
    prob = np.asarray(prob, dtype=np.float64)
    if rule == "threshold":
        return (prob >= threshold).astype(np.int64)
    if rule == "constant":
        return np.zeros(len(prob), dtype=np.int64)
    if rule not in HARD_RULES:
        raise ValueError(f"'rule' must be one of {HARD_RULES} (got {rule!r})")
    rollout_group = np.asarray(rollout_group)
    clusters = np.arange(len(prob)) if clusters is None else np.asarray(clusters)
    if rule == "plurality":
        return plurality_rewards(prob, rollout_group, clusters)
    out = np.zeros(len(prob), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for g in np.unique(rollout_group):
        m = np.flatnonzero(rollout_group == g)
        excl = bool(exclusive[m[0]]) if exclusive is not None else False
        out[m] = group_expected_cag_choice(prob[m], clusters[m], samples, rng, excl)
    return out


# Fewer groups than this, or fewer on which two rules' CAGs differ, are no evidence that one beats the other.
MIN_RULE_GROUPS = 5


def threshold_key(threshold: float) -> str:
    """The name of ``threshold`` at a threshold other than the configured one in ``oof_cag``."""
    return f"threshold@{threshold:g}"


def choose_hard_rule(
    prob: np.ndarray,
    y: np.ndarray,
    rollout_group: np.ndarray,
    clusters: np.ndarray,
    exclusive: np.ndarray | None = None,
    threshold: float = 0.5,
    seed: int = 0,
    min_gain_z: float = 1.0,
    thresholds: tuple[float, ...] = (),
    default: str = "threshold",
) -> tuple[str, float, dict[str, float]]:
    """The hard rule and threshold for ``auto``, and every candidate's mean CAG of ``prob`` against ``y``.

    Candidates: every rule of :data:`HARD_RULES` (``threshold`` at ``threshold``) and ``threshold`` at
    each of ``thresholds`` (named by :func:`threshold_key`). The ``default`` rule stays unless a
    candidate's CAG is lower by ``min_gain_z`` standard errors of the paired per-group difference
    (the largest such lower bound wins), the two differing on at least :data:`MIN_RULE_GROUPS`
    groups (``constant``, equal rewards, on at least one: a wrong split costs more than none): on a
    handful of labelled queries the candidates differ by noise, and one picked by noise is worse
    than the default on new prompts. Where the rule chosen scored every group exactly as equal
    rewards do (it never split a labelled group, e.g. a vote that fires only on unanimous groups),
    ``constant`` is served: nothing says its splits of new groups are right, and a wrong split
    costs more than none. ``prob`` must be out-of-sample (e.g. out-of-fold predictions of
    labelled queries): in-sample scores are over-confident.

    Returns:
        ``(rule, threshold, {candidate: mean CAG})``; ``threshold`` is the one to apply with ``rule``
        (the given one unless a ``threshold@t`` candidate won).
    """
    rollout_group = np.asarray(rollout_group)
    candidates = {rule: (rule, threshold) for rule in HARD_RULES}
    candidates.update({threshold_key(t): ("threshold", float(t)) for t in thresholds if t != threshold})
    gaps = {
        key: group_cags(
            hard_rewards(prob, rollout_group, clusters, rule, t, seed=seed, exclusive=exclusive), y, rollout_group
        )
        for key, (rule, t) in candidates.items()
    }
    by_rule = {key: float(g.mean()) if len(g) else float("nan") for key, g in gaps.items()}
    if default not in candidates:
        raise ValueError(f"default rule must be one of {sorted(candidates)} (got {default!r})")
    best, best_bound = default, 0.0
    if len(gaps[default]) >= MIN_RULE_GROUPS:
        for key, g in gaps.items():
            diff = gaps[default] - g
            # A paired test needs pairs that differ; equal rewards need less: a split costs more when wrong
            # than none does, so splits that cost CAG on even a few labelled groups are evidence enough.
            if key == default or np.count_nonzero(diff) < (1 if key == "constant" else MIN_RULE_GROUPS):
                continue
            bound = diff.mean() - min_gain_z * diff.std(ddof=1) / np.sqrt(len(diff))
            if bound > best_bound:
                best, best_bound = key, float(bound)
        if not (gaps[best] - gaps["constant"]).any():
            # the rule never split a labelled group: its splits of new groups are untested, equal rewards harmless
            best = "constant"
    return (*candidates[best], by_rule)


def resolve_rule(rule: str, threshold: float, fit_metrics: dict | None) -> tuple[str, float]:
    """``(rule, threshold)`` as given, or for ``auto`` the fit's choice (``threshold`` at the given
    threshold where the fit made none)."""
    if rule != AUTO_RULE:
        return rule, threshold
    metrics = fit_metrics or {}
    chosen = metrics.get("hard_rule", "threshold")
    if chosen not in HARD_RULES:
        raise ValueError(f"fit metrics name an unknown hard_rule {chosen!r}; expected one of {list(HARD_RULES)}")
    chosen_threshold = float(metrics.get("hard_threshold", threshold))
    if not 0.0 < chosen_threshold < 1.0:
        raise ValueError(f"fit metrics name a hard_threshold outside (0, 1): {chosen_threshold!r}")
    return chosen, chosen_threshold


def describe_choice(fit_metrics: dict | None) -> str:
    """One line for the CLIs: what ``auto`` serves and the out-of-fold CAG it was chosen by."""
    rule, threshold = resolve_rule(AUTO_RULE, 0.5, fit_metrics)
    text = f"hard rule (auto): {rule}" + (f" at {threshold:g}" if rule == "threshold" else "")
    oof = (fit_metrics or {}).get("oof_cag") or {}
    if oof:
        text += "; out-of-fold CAG " + ", ".join(f"{k} {v:.3f}" for k, v in oof.items() if v is not None)
    if rule == "constant":
        text += " -- no rule beat equal rewards out of fold: unlabelled prompts get zero advantage"
    return text
