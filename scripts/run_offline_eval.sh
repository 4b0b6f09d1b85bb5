#!/usr/bin/env bash
# Offline evaluation (CPU): set up, then evaluate MemReward against the
# baselines with 20% of the queries labelled. Uses the real GSM8K model solutions when
# ../shared/data is present, else a procedural arithmetic rollout set. Results in runs/eval/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=runs/eval
mkdir -p "$OUT"
SRC=../shared/data/rollouts/gsm8k_openai_model_solutions/example_model_solutions.jsonl.gz
if [ -f "$SRC" ]; then
  memreward convert --from gsm8k_model_solutions "$SRC" --out "$OUT/rollouts.jsonl"
else
  memreward synth --queries 300 --rollouts 8 --seed 0 --out "$OUT/rollouts.jsonl"
fi
memreward eval "$OUT/rollouts.jsonl" --label-ratio 0.2 --seed 0 --out "$OUT/report.json" \
  --cache-dir "$OUT/cache" "$@"
