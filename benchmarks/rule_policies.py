"""Hard-rule policies replayed on stored benchmark runs: would another way of choosing the rule have
given a lower test CAG than ``hard_rule=auto``?

Usage::

    python benchmarks/rule_policies.py

Every stored memreward run holds the test CAG of each base rule (``cag_by_rule``) and the out-of-fold
CAG of each candidate (``memreward_fit.oof_cag``), so fixed rules and "the lowest out-of-fold CAG, no
significance bar" (``argmin_oof``, base rules only: the moved thresholds have no stored test CAG) can
be replayed without refitting. Prints, per table and set, the mean test CAG of each policy over
seeds (``*`` = lowest), and per table the sum over sets of each policy's difference to ``auto``
(positive = worse than ``auto``).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
BASE_RULES = ("threshold", "plurality", "expected_cag", "constant")
POLICIES = ("auto", "argmin_oof", *BASE_RULES)
TABLES = {
    "main (20%)": ["quality_v13.json", "quality_v13_faithful.json"],
    "10% labels": ["quality_labels10_v13.json", "quality_labels10_v13_faithful.json"],
    "small groups": ["quality_small_groups_v13.json"],
}
UNSEEN = "quality_unseen_faithful_cot.json"

Run = tuple[str, dict[str, float], dict]


def stored_runs(files: list[str]) -> Iterator[Run]:
    """``(set, cag_by_rule, memreward_fit)`` of every memreward run in stored result files: bench_quality.py's
    (``{set: {"runs": [...]}}``) or the unseen sets' ``memreward eval`` reports (``{set: [...]}``)."""
    for name in files:
        for set_name, entry in json.loads((RESULTS / name).read_text())["results"].items():
            for run in entry["runs"] if isinstance(entry, dict) else entry:
                if "memreward" in run["methods"]:
                    yield set_name, run["methods"]["memreward"]["cag_by_rule"], run["memreward_fit"]


def policy_cags(runs: Iterator[Run]) -> dict[str, dict[str, float]]:
    """``{set: {policy: mean test CAG over seeds}}``."""
    per: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for set_name, by_rule, fit in runs:
        stored = fit.get("oof_cag") or {}
        oof = {rule: stored[rule] for rule in BASE_RULES if rule in stored}
        chosen = min(oof, key=oof.get) if oof else "auto"
        per[set_name]["argmin_oof"].append(by_rule[chosen])
        for rule in ("auto", *BASE_RULES):
            per[set_name][rule].append(by_rule[rule])
    return {s: {p: float(np.mean(v)) for p, v in cags.items()} for s, cags in per.items()}


def report(label: str, runs: Iterator[Run]) -> None:
    cags = policy_cags(runs)
    print(f"== {label}")
    print(f"{'set':38s} " + " ".join(f"{p:>13s}" for p in POLICIES))
    for set_name, by_policy in cags.items():
        best = min(by_policy.values())
        cells = (f"{by_policy[p]:12.3f}{'*' if by_policy[p] == best else ' '}" for p in POLICIES)
        print(f"{set_name:38s} " + " ".join(cells))
    total = {p: sum(c[p] - c["auto"] for c in cags.values()) for p in POLICIES}
    print("sum over sets of (policy - auto): " + ", ".join(f"{p} {v:+.3f}" for p, v in total.items()))


def main() -> None:
    for label, files in TABLES.items():
        report(label, stored_runs(files))
    report("unseen Faithful-CoT tasks (20%)", stored_runs([UNSEEN]))


if __name__ == "__main__":
    main()
