#!/usr/bin/env bash
# MemReward GRPO with Qwen2.5-1.5B-Instruct on the code domain (HumanEval, MBPP).
# LABEL_RATIO (default 0.2) of the training prompts keep their verifier reward; the others get the
# graph-memory GNN's. Prepares the data and runs the warm-up when they are missing.
#
# Usage: bash examples/run_code_qwen1_5b.sh [--dry-run] [hydra overrides...]
# Variables: examples/README.md

set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
recipe_main memreward code qwen2.5-1.5b "$@"
