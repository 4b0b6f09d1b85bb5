#!/usr/bin/env bash
# Usage: bash scripts/compat_matrix.sh [--venvs DIR] [--out FILE] [VERSION ...]
#   default versions: 0.5.0 0.6.1 0.7.0 0.7.1 0.8.0 0.9.1; default venvs: runs/compat_venvs; default out: runs/compat.md
#
# For each verl version, in its own virtual environment (made once, reused):
#  1. CPU torch first (a bare verl install would pull a CUDA torch), then exactly that verl;
#  2. this package, editable: setup.py's declared range must leave that verl in place (checked);
#     before verl 0.9, both installs run under scripts/compat_constraints.txt (transformers 4 and the
#     neighbours that go with it, as those releases were made for; the file says why);
#  3. scripts/compat_check.py: that version's reward path end to end on CPU (real Ray, real
#     artifact, real DataProto batches through verl's own loader of the reward manager).
# Writes a markdown table (docs/compat.md shows the last one) and exits non-zero if any version failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
VENVS=$REPO/runs/compat_venvs
OUT=runs/compat.md
VERSIONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --venvs) VENVS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) VERSIONS+=("$1"); shift ;;
  esac
done
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(0.5.0 0.6.1 0.7.0 0.7.1 0.8.0 0.9.1)
mkdir -p "$VENVS" "$(dirname "$OUT")" runs/compat_logs

setup_venv() {  # $1 = verl version; prints nothing on success, the failing step otherwise
  local v=$1 venv=$VENVS/verl-$1 pip
  pip="$venv/bin/python -m pip install --quiet --disable-pip-version-check"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || { echo "venv"; return 1; }
  $pip "torch==2.13.0" || { echo "pip install torch==2.13.0"; return 1; }
  local constraints=()
  if [ "$(printf '%s\n' "$v" 0.9.0 | sort -V | head -1)" != 0.9.0 ]; then  # before 0.9: numpy<2, transformers 4
    constraints=(-c "$REPO/scripts/compat_constraints.txt")
  fi
  $pip "${constraints[@]}" "verl==$v" || { echo "pip install verl==$v"; return 1; }
  $pip "${constraints[@]}" -e "$REPO" || { echo "pip install ${constraints[*]} -e ."; return 1; }
  local now
  now=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('verl'))")
  [ "$now" = "$v" ] || { echo "pip install -e . changed verl $v -> $now"; return 1; }
}

rows=()
failed=0
for v in "${VERSIONS[@]}"; do
  log=runs/compat_logs/verl-$v.log
  echo "== verl $v (log: $log)"
  start=$(date +%s)
  if step=$(setup_venv "$v" 2>>"$log"); then
    # stdout also carries verl's own prints: the row is the last line starting with "| "
    if "$VENVS/verl-$v/bin/python" scripts/compat_check.py >"$log.out" 2>>"$log"; then
      status=pass
    else
      status=FAIL
    fi
    res=$(grep '^| ' "$log.out" | tail -1)
  else
    res="| $v | - | - | - | set-up failed: $step |"
    status=FAIL
  fi
  [ "$status" = pass ] || failed=1
  res=${res:-"| $v | - | - | - | see $log |"}
  rows+=("${res% |} | $status | $(( $(date +%s) - start )) s |")
  echo "${rows[-1]}"
done

{
  echo "| verl | API | manager loaded by | checks | result | time |"
  echo "| --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Command: \`bash scripts/compat_matrix.sh ${VERSIONS[*]}\` ($(date -u +%Y-%m-%d), $(python3 -V), CPU)"
} >"$OUT"
cat "$OUT"
exit $failed
