#!/usr/bin/env bash
# Labelled-only baseline (R1-p in the paper): GRPO on the LABEL_RATIO labelled training prompts
# only (train_labelled_<ratio>.parquet), with their ground-truth reward.
# Policy Qwen2.5-3B-Instruct. DOMAIN (default mixed) picks the data: math, qa, code, mixed or ood.
#
# Usage: [DOMAIN=math] bash examples/run_labelled_only_qwen3b.sh [--dry-run] [hydra overrides...]

set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
recipe_main labelled_only "${DOMAIN:-mixed}" qwen2.5-3b "$@"
