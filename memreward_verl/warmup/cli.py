"""``memreward warmup``: sample from the initial policy, verify, build the artifact."""

from __future__ import annotations

import argparse

from memreward_verl.cli_args import creatable_dir, existing_file, non_negative_float, positive_int, ratio
from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import describe_choice
from memreward_verl.files import read_json
from memreward_verl.warmup.generate import BACKENDS
from memreward_verl.warmup.pipeline import WarmupConfig, run_warmup
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "warmup",
        help="sample rollouts from the initial policy, verify the labelled ones, build the memory + GNN artifact",
        description="Use the SAME --n/--temperature/--top-p/--max-*-length as the RL run's rollout config.",
    )
    p.add_argument(
        "--train", required=True, type=existing_file, help="verl parquet of the training prompts (memreward prepare)"
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--labelled", type=existing_file, help="labelled_<ratio>.json written by memreward prepare")
    who.add_argument("--label-ratio", type=ratio, help="draw this fraction of the prompts as labelled (seeded)")
    p.add_argument("--model", required=True, help="initial policy: Hugging Face folder or hub id")
    p.add_argument("--out", required=True, help="artifact directory to write")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="auto: vLLM with a GPU, else transformers")
    p.add_argument("--n", type=positive_int, default=8, help="rollouts per prompt (actor_rollout_ref.rollout.n)")
    p.add_argument("--temperature", type=non_negative_float, default=1.0)
    p.add_argument("--top-p", type=ratio, default=1.0, help="in (0, 1]")
    p.add_argument("--max-prompt-length", type=positive_int, default=1024)
    p.add_argument("--max-response-length", type=positive_int, default=1024)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-prompts", type=positive_int, default=None, help="prompts per generation call")
    p.add_argument("--cache-dir", default=None, help="generations + embeddings cache (default: <out>.cache)")
    p.add_argument("--max-queries", type=positive_int, default=None, help="only the first N prompts (quick runs)")
    p.add_argument("--hidden-eval", action="store_true", help="also verify unlabelled prompts to report GNN quality")
    p.add_argument("--verify-jobs", type=positive_int, default=None, help="verifier processes (default: one per CPU)")
    p.add_argument(
        "--config",
        type=existing_file,
        default=None,
        help="JSON file with a MemRewardConfig (embedder, graph, GNN, fit)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    memreward = MemRewardConfig()
    if args.config:
        memreward = MemRewardConfig.from_dict(read_json(args.config, dict))
    cfg = WarmupConfig(
        train=args.train,
        out=args.out,
        model_path=args.model,
        labelled=args.labelled,
        label_ratio=args.label_ratio,
        sampling=SamplingConfig(
            n=args.n,
            temperature=args.temperature,
            top_p=args.top_p,
            max_prompt_length=args.max_prompt_length,
            max_response_length=args.max_response_length,
            seed=args.seed,
        ),
        backend=args.backend,
        batch_prompts=args.batch_prompts,
        cache_dir=args.cache_dir,
        max_queries=args.max_queries,
        hidden_eval=args.hidden_eval,
        verify_jobs=args.verify_jobs,
        memreward=memreward,
        progress=not args.no_progress,
    )
    # the artifact is swapped in whole at the end, the cache filled from the start: both are tried before
    # the model is loaded (an hour of generation would be lost otherwise); nothing is created here
    creatable_dir(cfg.out, "--out", replace=True)
    creatable_dir(cfg.cache_path, "--cache-dir" if args.cache_dir else "the cache directory (<--out>.cache)")
    result = run_warmup(cfg)
    m = result.metrics
    fit = m["fit"]
    print(f"artifact: {result.artifact_dir}")
    print(
        f"{m['queries']} prompts x {m['sampling']['n']} rollouts, {m['labelled_queries']} labelled "
        f"(their rollouts {m['labelled_rollout_accuracy']:.1%} correct), {m['skipped_overlong_prompts']} skipped"
    )
    val = {k: fit[k] for k in ("val_auc", "val_f1", "val_cag") if k in fit}
    if val:
        print("validation (held-out labelled prompts): " + ", ".join(f"{k}={v:.3f}" for k, v in val.items()))
    print(describe_choice(fit))
    hidden = m.get("hidden_eval")
    if hidden and "memreward" in hidden:
        for name in ("memreward", "majority_vote"):
            r = hidden[name]
            print(f"hidden truth, {name}: AUC {r['auc']:.3f} acc {r['accuracy']:.3f} CAG {r['cag']:.3f}")
    print(f"times: generation {m['generation_s']} s, embed+fit {m['embed_and_fit_s']} s, total {m['total_s']} s")
    return 0
