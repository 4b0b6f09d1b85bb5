#!/usr/bin/env bash
# Oracle baseline: GRPO with the verifier's ground-truth reward for every training prompt
# (100% labels), through verl's naive reward manager and memreward_verl.verify.compute_score.
# Policy Qwen2.5-3B-Instruct. DOMAIN (default mixed) picks the data: math, qa, code, mixed or ood.
#
# Usage: [DOMAIN=math] bash examples/run_oracle_qwen3b.sh [--dry-run] [hydra overrides...]

set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
recipe_main oracle "${DOMAIN:-mixed}" qwen2.5-3b "$@"
