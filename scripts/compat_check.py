"""One row of the verl compatibility table: the installed verl's reward path, end to end on CPU.

Usage (inside a virtual environment holding one verl; scripts/compat_matrix.sh makes them)::

    python scripts/compat_check.py [--workdir DIR]

Builds a small real warm-up artifact and a local tokenizer, composes the installed verl's own
``ppo_trainer.yaml`` with the overrides docs/compat.md gives for that version (``verl_usage``), and
scores real ``DataProto`` batches the way that version's trainer does:

- batch API (0.5.0 - 0.7.0): Ray started as the documented entry starts it (verl's ``run_ppo`` with the
  overrides; memreward's launcher on 0.5), then, in a Ray actor standing in for verl's TaskRunner,
  verl's ``load_reward_manager`` and ``compute_reward`` on the whole batch;
- reward loop (0.7.1 on): verl's ``RewardLoopManager`` with two reward workers.

Two jobs: ``hard`` (artifact: labelled and validation prompts get the verifier, unlabelled ones the
GNN, compared with the offline predictor) and ``majority_vote`` (compared with the offline vote).
Validation samples are those of a data source in ``val_data_sources`` (what both APIs honour without
the job's files); the training rows say ``extra_info.split='test'`` (a test set used for training), which
must never hand an unlabelled prompt its ground truth.
Prints one markdown row ``| verl | API | manager loaded by | checks |``; exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import ray

from memreward_verl.artifact import load_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.embed import load_embedder
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import build_small_artifact, build_tokenizer, make_batch, queries_to_specs
from memreward_verl.integration.verl_version import detect_verl, verl_usage
from memreward_verl.reward import EXTRA_KEYS
from memreward_verl.testing import arithmetic_rollouts
from memreward_verl.verify import verify

RAY_CPUS = 4  # logical CPUs: the stand-in TaskRunner, reward workers and the memory worker
VAL_SOURCE = "gsm8k_val"  # a data source only validation uses (the val_data_sources option)


class Mismatch(AssertionError):
    """A reward differs from what the offline path or the verifier says it must be."""


def compose(version: str, tokenizer_dir: str, reward_kwargs: dict) -> object:
    """The installed verl's ``ppo_trainer.yaml`` with the documented overrides for this version."""
    import os

    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    usage = verl_usage(version, reward_kwargs)
    extra = [f"actor_rollout_ref.model.path={tokenizer_dir}", "actor_rollout_ref.rollout.n=8"]
    api = detect_verl(version).api
    if api == "reward_loop":
        extra.append("reward.num_workers=2")
    elif not version.startswith("0.5."):
        extra.append(f"+ray_kwargs.ray_init.num_cpus={RAY_CPUS}")
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose("ppo_trainer", overrides=[*usage.overrides, *extra])


def score_batch_api(version: str, config, batch, out_file: Path) -> tuple[np.ndarray, dict]:
    """verl's batch-API trainer path: its loader and ``compute_reward`` in a TaskRunner-like Ray actor."""

    class CheckRunner:
        """Stands in for verl's TaskRunner: only verl code is imported here, as in the real one."""

        def run(self, config):
            from verl.trainer.ppo.reward import compute_reward, load_reward_manager
            from verl.utils import hf_tokenizer

            tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
            kwargs = config.reward_model.get("reward_kwargs", {})
            reward_fn = load_reward_manager(config, tokenizer, num_examine=0, **kwargs)
            from verl.workers.reward_manager import get_reward_manager_cls

            if get_reward_manager_cls("memreward") is not type(reward_fn):  # verl's legacy registry holds it too
                raise Mismatch(f"verl's registry does not yield the loaded {type(reward_fn).__name__} as 'memreward'")
            tensor, extra = compute_reward(batch, reward_fn)
            out = {"rewards": tensor.sum(-1).tolist(), "extra": {k: list(v) for k, v in extra.items()}}
            out_file.write_text(json.dumps(out))

    runner = ray.remote(num_cpus=1)(CheckRunner)
    if version.startswith("0.5."):  # as memreward's launcher: verl 0.5's runtime env plus the set-up hook
        from memreward_verl.integration.legacy_main import ray_runtime_env

        ray.init(runtime_env=ray_runtime_env(), num_cpus=RAY_CPUS, include_dashboard=False)
        ray.get(runner.remote().run.remote(config))
    else:  # verl's own run_ppo: its ray.init reads the documented ray_kwargs overrides
        from verl.trainer.main_ppo import run_ppo

        run_ppo(config, task_runner_class=runner)
    out = json.loads(out_file.read_text())
    return np.asarray(out["rewards"]), out["extra"]


def score_reward_loop(config, batch) -> tuple[np.ndarray, dict]:
    """verl's reward-loop path: ``RewardLoopManager.compute_rm_score`` over two reward workers."""
    from verl.experimental import reward_loop

    if hasattr(reward_loop, "migrate_legacy_reward_impl"):  # what main_ppo does to the config first
        config = reward_loop.migrate_legacy_reward_impl(config)
    ray.init(num_cpus=RAY_CPUS, include_dashboard=False)
    manager = reward_loop.RewardLoopManager(config)
    out = manager.compute_rm_score(batch)
    extra = {k: list(out.non_tensor_batch[k]) for k in EXTRA_KEYS}
    return out.batch["rm_scores"].sum(-1).numpy(), extra


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise Mismatch(msg)


def run(work: Path) -> tuple[str, str, str, str]:
    found = detect_verl()
    embedder = load_embedder()
    warm = arithmetic_rollouts(n_queries=40, n_rollouts=8, seed=0)
    labelled = [q.query_id for q in warm[:20]]
    artifact = build_small_artifact(encode_groups(warm, embedder, MemRewardConfig()), labelled, work / "artifact")
    online = arithmetic_rollouts(n_queries=3, n_rollouts=8, seed=11)
    validation = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)
    texts = [q.question for q in warm + online + validation] + [
        r.text for q in warm + online + validation for r in q.rollouts
    ]
    tokenizer_dir = build_tokenizer(texts, work / "tokenizer")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    art = load_artifact(artifact)
    probs = art.predictor().predict_groups(encode_groups(online, embedder, art.cfg))
    offline_prob = dict(zip([(q.query_id, r.text) for q in online for r in q.rollouts], probs))
    feats = encode_groups(online[1:], embedder, MemRewardConfig()).feats
    plurality = dict(
        zip(
            [(q.query_id, r.text) for q in online[1:] for r in q.rollouts],
            feats[:, GROUP_FEATURES.index("is_plurality")],
        )
    )
    (work / "labelled.json").write_text(json.dumps({"query_ids": [online[0].query_id]}))
    jobs = {
        "hard": (
            {
                "artifact_dir": artifact,
                "worker_name": "mw_compat_hard",
                "hard_rule": "threshold",
                "val_data_sources": [VAL_SOURCE],
            },
            warm[:2] + online,
        ),
        "majority_vote": (
            {
                "reward_mode": "majority_vote",
                "labelled_ids_file": str(work / "labelled.json"),
                "worker_name": "mw_vote",
                "val_data_sources": [VAL_SOURCE],
            },
            online,
        ),
    }
    counts = {}
    for mode, (kwargs, queries) in jobs.items():
        specs = queries_to_specs(queries, split="test") + queries_to_specs(validation, data_source=VAL_SOURCE)
        specs = [specs[i] for i in np.random.default_rng(0).permutation(len(specs))]
        config = compose(found.version, tokenizer_dir, kwargs)
        batch = make_batch(specs, tokenizer)
        try:
            if found.api == "batch":
                rewards, extra = score_batch_api(found.version, config, batch, work / f"{mode}.json")
            else:
                rewards, extra = score_reward_loop(config, batch)
        finally:
            ray.shutdown()
        check(set(EXTRA_KEYS) <= set(extra), f"{mode}: reward_extra_info lacks {sorted(set(EXTRA_KEYS) - set(extra))}")
        n = {"verifier": 0, "memory": 0}
        for i, s in enumerate(specs):
            qid, truth = s["extra_info"]["query_id"], verify("openai/gsm8k", s["response"], s["ground_truth"])
            src = extra["reward_source"][i]
            where = f"{mode}: {qid} rollout {i} ({src}, reward {rewards[i]})"
            if s["data_source"] == VAL_SOURCE or qid in labelled or (mode != "hard" and qid == online[0].query_id):
                check(src in ("validation", "ground_truth") and rewards[i] == truth, f"{where}: verifier says {truth}")
                n["verifier"] += 1
                continue
            check(src == "predicted", f"{where}: an unlabelled prompt must be predicted, whatever its split")
            check(extra["hidden_gt"][i] == truth, f"{where}: hidden_gt {extra['hidden_gt'][i]} != {truth}")
            if mode == "hard":
                p = offline_prob[(qid, s["response"])]
                check(
                    abs(extra["pred_prob"][i] - p) < 1e-4, f"{where}: pred_prob {extra['pred_prob'][i]} != offline {p}"
                )
                check(rewards[i] == float(p >= 0.5), f"{where}: offline probability {p}")
            else:
                check(rewards[i] == plurality[(qid, s["response"])], f"{where}: offline vote differs")
            n["memory"] += 1
        counts[mode] = n
    usage = verl_usage(found.version)
    picked = next(o for o in usage.overrides if ".name=" in o or o.endswith("reward_manager=memreward"))
    loaded_by = f"`{picked}`"
    if any("worker_process_setup_hook" in o for o in usage.overrides):
        loaded_by += " + Ray set-up hook"
    if usage.entry != "python -m verl.trainer.main_ppo":
        loaded_by = f"`{usage.entry}` + {loaded_by}"
    h, v = counts["hard"], counts["majority_vote"]
    checks = (
        f"hard: {h['verifier']} verifier + {h['memory']} GNN = offline predictor; "
        f"vote: {v['verifier']} verifier + {v['memory']} vote = offline vote; hidden GT never a reward, "
        "split='test' rows predicted"
    )
    return found.version, found.api, loaded_by, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=None, help="where the artifact and tokenizer go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            version, api, loaded_by, checks = run(work)
        except Exception as exc:
            found = detect_verl()
            print(f"| {found.version} | {found.api} | - | {type(exc).__name__}: {str(exc)[:300]} |")
            raise
    print(f"| {version} | {api} | {loaded_by} | {checks} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
