#!/usr/bin/env bash
# Majority-vote baseline: the same labelled prompts as MemReward keep their ground truth, every
# other rollout is rewarded for agreeing with its group's most common answer (no memory, no warm-up;
# LABEL_RATIO=0 gives pure pseudo-labels).
# Policy Qwen2.5-3B-Instruct. DOMAIN (default mixed) picks the data: math, qa, code, mixed or ood.
#
# Usage: [DOMAIN=math] bash examples/run_majority_vote_qwen3b.sh [--dry-run] [hydra overrides...]

set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
recipe_main majority_vote "${DOMAIN:-mixed}" qwen2.5-3b "$@"
