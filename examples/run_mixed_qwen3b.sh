#!/usr/bin/env bash
# MemReward GRPO with Qwen2.5-3B-Instruct on all three domains at once
# (math, QA, code): the paper's main setting.
# LABEL_RATIO (default 0.2) of the training prompts keep their verifier reward; the others get the
# graph-memory GNN's. Prepares the data and runs the warm-up when they are missing.
#
# Usage: bash examples/run_mixed_qwen3b.sh [--dry-run] [hydra overrides...]
# Variables: examples/README.md

set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
recipe_main memreward mixed qwen2.5-3b "$@"
