#!/usr/bin/env bash
# examples/common.sh: the shared body of the GRPO recipes in examples/. It is sourced, not run.
#
# Each recipe is one call, `recipe_main METHOD DOMAIN MODEL "$@"`, which
#   1. prepares the data set in DATA_DIR unless its files are there (`memreward prepare`),
#   2. for METHOD=memreward, runs the warm-up into ARTIFACT_DIR unless artifact.json is there,
#      and trains on the labelled prompts alone where its fit serves `constant` (UNLABELLED=auto),
#   3. checks the main_ppo command (`memreward preflight`: Ray CPUs, sampling, GPU-side modules),
#   4. runs verl 0.9's main_ppo with the paper's GRPO settings and the method's reward.
# Arguments: --dry-run prints the plan (stderr) and the final main_ppo command with one override
# per line (stdout) and runs nothing; --help prints this header; anything else is a hydra override
# appended to the main_ppo command (a later plain key wins; to change a +reward.reward_kwargs key
# the recipe sets, pass it with ++).
#
# Every CAPITALISED name read below is a script parameter: set it in the environment to change it.
# examples/README.md lists them.

METHODS=(memreward oracle labelled_only majority_vote)
DOMAINS=(math qa code mixed ood)

die() {
    echo "error: $*" >&2
    exit 1
}

log() {
    echo "[${RECIPE_NAME}] $*" >&2
}

# _contains WORD LIST...: whether WORD is one of LIST.
_contains() {
    local word="$1" item
    shift
    for item in "$@"; do
        [[ "${item}" == "${word}" ]] && return 0
    done
    return 1
}

# _quoted ARGS...: the arguments as one line of shell words (single-quoted where needed).
_quoted() {
    local arg out=() q="'"
    for arg in "$@"; do
        if [[ "${arg}" =~ ^[A-Za-z0-9_./:=+@%,-]+$ ]]; then
            out+=("${arg}")
        else
            out+=("${q}${arg//${q}/${q}\\${q}${q}}${q}")
        fi
    done
    echo "${out[*]}"
}

# _model_defaults MODEL: GPU sizing for one policy model (80 GB GPUs, FSDP actor, vLLM rollout).
_model_defaults() {
    case "$1" in
        qwen2.5-3b)
            : "${MODEL_PATH:=Qwen/Qwen2.5-3B-Instruct}"
            : "${N_GPUS:=4}"
            : "${ROLLOUT_TP:=2}"
            : "${PPO_MICRO_BATCH_SIZE_PER_GPU:=16}"
            : "${LOG_PROB_MICRO_BATCH_SIZE_PER_GPU:=32}"
            : "${REF_PARAM_OFFLOAD:=True}"
            ;;
        qwen2.5-1.5b)
            : "${MODEL_PATH:=Qwen/Qwen2.5-1.5B-Instruct}"
            : "${N_GPUS:=2}"
            : "${ROLLOUT_TP:=1}"
            : "${PPO_MICRO_BATCH_SIZE_PER_GPU:=32}"
            : "${LOG_PROB_MICRO_BATCH_SIZE_PER_GPU:=64}"
            : "${REF_PARAM_OFFLOAD:=False}"
            ;;
        *)
            die "unknown model '$1' (known: qwen2.5-3b, qwen2.5-1.5b)"
            ;;
    esac
}

# _defaults: everything not tied to the model. Needs METHOD, DOMAIN and the model defaults.
_defaults() {
    # The paper's GRPO settings (docs: method.md section 2), in one place. The warm-up samples
    # its memory with ROLLOUT_N, TEMPERATURE, TOP_P and the two lengths, and main_ppo's rollout
    # gets the same variables, so the memory's rollouts and the online ones come from one setting.
    : "${TRAIN_BATCH_SIZE:=128}"      # prompts per GRPO step
    : "${ROLLOUT_N:=8}"               # rollouts per prompt (the GRPO group)
    : "${TEMPERATURE:=1.0}"
    : "${TOP_P:=1.0}"
    : "${MAX_PROMPT_LENGTH:=1024}"
    : "${MAX_RESPONSE_LENGTH:=1024}"
    : "${LR:=1e-6}"
    : "${KL_LOSS_COEF:=0.001}"        # KL loss, low_var_kl
    : "${TOTAL_TRAINING_STEPS:=410}"
    # The paper does not give the PPO mini-batch; 64 prompts = 2 policy updates per step.
    : "${PPO_MINI_BATCH_SIZE:=64}"

    # Resources and the rest of the GPU sizing.
    : "${NNODES:=1}"
    : "${GPU_MEMORY_UTILIZATION:=0.6}"
    : "${REWARD_NUM_WORKERS:=8}"
    # auto: flash_attention_2 when flash-attn is importable, else sdpa (flash-attn is a source build).
    : "${ATTN_IMPLEMENTATION:=auto}"
    : "${PREFLIGHT:=1}"               # 0 skips `memreward preflight` (e.g. on a Ray cluster of many nodes)

    # Data, labels and seeds.
    : "${LABEL_RATIO:=0.2}"
    : "${SEED:=0}"
    : "${PREPARE_SOURCE:=auto}"       # auto | local | hf
    # Local copies in the layout of shared/ (beside the repository here); set DATA_ROOT= (empty)
    # for the hub and packages only. GPQA is gated on the hub: GPQA_FILE is its release CSV.
    : "${DATA_ROOT=${REPO_DIR%/*}/shared/data}"
    : "${GPQA_FILE:=}"
    : "${WARMUP_BACKEND:=auto}"
    # MemReward: train on the unlabelled prompts? auto: not when the warm-up fit serves `constant`
    # (every unlabelled group would get equal rewards: zero GRPO advantage); keep; drop.
    : "${UNLABELLED:=auto}"

    # Where things go.
    : "${OUTPUT_ROOT:=${REPO_DIR}/runs/verl}"
    : "${DATA_DIR:=${OUTPUT_ROOT}/data/${DOMAIN}-s${SEED}}"
    : "${VAL_FILE:=${DATA_DIR}/val.parquet}"

    # Trainer bookkeeping. Steps, not epochs, end the run: TOTAL_EPOCHS only has to be large enough.
    : "${TOTAL_EPOCHS:=1000}"
    : "${SAVE_FREQ:=50}"
    : "${TEST_FREQ:=10}"
    : "${VAL_BEFORE_TRAIN:=True}"
    : "${LOGGER:=console}"            # e.g. console,wandb
    : "${PROJECT_NAME:=memreward}"
    : "${PYTHON:=python3}"
}

# _check_params: fail early, with the variable's name, on values main_ppo would reject late.
_check_params() {
    local name
    for name in N_GPUS NNODES ROLLOUT_TP ROLLOUT_N TRAIN_BATCH_SIZE PPO_MINI_BATCH_SIZE \
        PPO_MICRO_BATCH_SIZE_PER_GPU LOG_PROB_MICRO_BATCH_SIZE_PER_GPU MAX_PROMPT_LENGTH \
        MAX_RESPONSE_LENGTH TOTAL_TRAINING_STEPS TOTAL_EPOCHS; do
        [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "${name} must be a positive integer (got '${!name}')"
    done
    ((N_GPUS % ROLLOUT_TP == 0)) ||
        die "N_GPUS (${N_GPUS}) must be a multiple of ROLLOUT_TP (${ROLLOUT_TP}); set ROLLOUT_TP=1 on fewer GPUs"
    [[ "${SEED}" =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer (got '${SEED}')"
    [[ "${PREFLIGHT}" == 0 || "${PREFLIGHT}" == 1 ]] || die "PREFLIGHT must be 0 or 1 (got '${PREFLIGHT}')"
    _contains "${UNLABELLED}" auto keep drop || die "UNLABELLED must be auto, keep or drop (got '${UNLABELLED}')"
    # vLLM (and transformers, in the warm-up) reject greedy decoding with n > 1.
    local sampling_error
    sampling_error="$("${PYTHON}" -c '
import sys
try:
    t, p = float(sys.argv[1]), float(sys.argv[2])
except ValueError:
    sys.exit("TEMPERATURE and TOP_P must be numbers (got %r, %r)" % tuple(sys.argv[1:3]))
if t < 0:
    sys.exit("TEMPERATURE must be >= 0 (got %s)" % sys.argv[1])
if not 0.0 < p <= 1.0:
    sys.exit("TOP_P must be in (0, 1] (got %s)" % sys.argv[2])
if t == 0 and int(sys.argv[3]) > 1:
    sys.exit("TEMPERATURE=0 (greedy) with ROLLOUT_N=%s > 1: vLLM rejects it (actor_rollout_ref.rollout.temperature"
             " / actor_rollout_ref.rollout.n) and the group would be identical; set TEMPERATURE > 0 or ROLLOUT_N=1"
             % sys.argv[3])
' "${TEMPERATURE}" "${TOP_P}" "${ROLLOUT_N}" 2>&1)" || die "${sampling_error}"
    # The labelled file's name uses Python's format(ratio, "g"), as `memreward prepare` writes it.
    RATIO_TAG="$("${PYTHON}" -c '
import sys
try:
    r = float(sys.argv[1])
except ValueError:
    sys.exit(1)
if not 0.0 < r <= 1.0:
    sys.exit(1)
print(format(r, "g"))
' "${LABEL_RATIO}")" || die "LABEL_RATIO must be a number in (0, 1] (got '${LABEL_RATIO}')"
}

# _attn_implementation: ATTN_IMPLEMENTATION resolved into ATTN (the model's attention for actor and
# reference). verl defaults to flash_attention_2, which needs flash-attn (a source build); without it
# a node would fail at model load, so auto falls back to sdpa.
_attn_implementation() {
    local has_flash=0 found="not found"
    if "${PYTHON}" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("flash_attn") is None)'; then
        has_flash=1
        found=found
    fi
    case "${ATTN_IMPLEMENTATION}" in
        auto)
            if ((has_flash)); then ATTN=flash_attention_2; else ATTN=sdpa; fi
            log "attention: ${ATTN} (ATTN_IMPLEMENTATION=auto, flash-attn ${found})"
            ;;
        flash_attention_2)
            ((has_flash)) || die "ATTN_IMPLEMENTATION=flash_attention_2 needs flash-attn, which ${PYTHON} cannot import" \
                "(pip install flash-attn --no-build-isolation: a source build needing CUDA); or set ATTN_IMPLEMENTATION=sdpa"
            ATTN=flash_attention_2
            ;;
        sdpa | eager)
            ATTN="${ATTN_IMPLEMENTATION}"
            ;;
        *)
            die "ATTN_IMPLEMENTATION must be auto, flash_attention_2, sdpa or eager (got '${ATTN_IMPLEMENTATION}')"
            ;;
    esac
}

# _preflight ARGS...: `memreward preflight` on main_ppo's overrides (Ray CPUs against this node's,
# sampling, GPU-side modules); a problem stops the recipe here instead of a hang inside verl.
_preflight() {
    if [[ "${PREFLIGHT}" == 0 ]]; then
        log "preflight: skipped (PREFLIGHT=0)"
        return 0
    fi
    _run preflight "${PYTHON}" -m memreward_verl.cli preflight "$@" ||
        die "preflight found the problems above; fix them (or set PREFLIGHT=0 to skip the check)"
}

# _run NAME CMD...: run one step, or in dry-run mode only say what it would run.
_run() {
    local name="$1"
    shift
    if [[ "${DRY_RUN}" == 1 ]]; then
        echo "[dry-run] ${name}: would run: $(_quoted "$@")" >&2
        return 0
    fi
    log "${name}: $(_quoted "$@")"
    "$@"
}

# _prepare: `memreward prepare` unless every file of the data set is in DATA_DIR. Any missing file
# means an incomplete set (or another LABEL_RATIO); prepare is deterministic given the seed.
_prepare() {
    local needed=(train.parquet val.parquet test.parquet "labelled_${RATIO_TAG}.json"
        "train_labelled_${RATIO_TAG}.parquet" manifest.json)
    local file missing=()
    for file in "${needed[@]}"; do
        [[ -f "${DATA_DIR}/${file}" ]] || missing+=("${file}")
    done
    if ((${#missing[@]} == 0)); then
        log "prepare: found the data set in ${DATA_DIR}; skipped"
        return 0
    fi
    local cmd=(prepare --domain "${DOMAIN}" --out "${DATA_DIR}" --label-ratio "${LABEL_RATIO}"
        --seed "${SEED}" --source "${PREPARE_SOURCE}" --data-root "${DATA_ROOT}")
    if [[ -n "${GPQA_FILE}" ]]; then
        cmd+=(--gpqa-file "${GPQA_FILE}")
    fi
    _run prepare "${PYTHON}" -m memreward_verl.cli "${cmd[@]}"
    if [[ "${DRY_RUN}" == 1 ]]; then
        return 0
    fi
    for file in "${needed[@]}"; do
        [[ -f "${DATA_DIR}/${file}" ]] || die "prepare finished but did not write ${DATA_DIR}/${file}"
    done
}

# _warmup: the warm-up (initial-policy rollouts -> memory -> GNN) unless ARTIFACT_DIR/artifact.json
# exists.
_warmup() {
    if [[ -f "${ARTIFACT_DIR}/artifact.json" ]]; then
        log "warm-up: found ${ARTIFACT_DIR}/artifact.json; skipped"
        return 0
    fi
    _run warm-up "${PYTHON}" -m memreward_verl.cli warmup \
        --train "${DATA_DIR}/train.parquet" \
        --labelled "${LABELLED_FILE}" \
        --model "${MODEL_PATH}" \
        --n "${ROLLOUT_N}" \
        --temperature "${TEMPERATURE}" \
        --top-p "${TOP_P}" \
        --max-prompt-length "${MAX_PROMPT_LENGTH}" \
        --max-response-length "${MAX_RESPONSE_LENGTH}" \
        --backend "${WARMUP_BACKEND}" \
        --seed "${SEED}" \
        --out "${ARTIFACT_DIR}"
    if [[ "${DRY_RUN}" == 1 ]]; then
        return 0
    fi
    [[ -f "${ARTIFACT_DIR}/artifact.json" ]] ||
        die "warm-up finished but did not write ${ARTIFACT_DIR}/artifact.json"
}

# _unlabelled_prompts OVERRIDES...: for MemReward, TRAIN_FILE becomes the labelled prompts alone with
# UNLABELLED=drop, or with UNLABELLED=auto when the warm-up fit serves `constant` (their rewards would
# all be equal: zero advantage, and they would only thin out each step's labelled groups). Not when
# TRAIN_FILE was set, nor when the overrides set the hard rule, the reward mode or acquisition.
_unlabelled_prompts() {
    [[ "${METHOD}" == memreward && -z "${TRAIN_FILE_GIVEN}" && "${UNLABELLED}" != keep ]] || return 0
    local labelled="${DATA_DIR}/train_labelled_${RATIO_TAG}.parquet" arg rule
    if [[ "${UNLABELLED}" == drop ]]; then
        TRAIN_FILE="${labelled}"
        log "training prompts: the labelled ones only (UNLABELLED=drop)"
        return 0
    fi
    for arg in "$@"; do
        case "${arg}" in
            *reward_kwargs.hard_rule=* | *reward_kwargs.rule.hard_rule=* | *reward_kwargs.reward_mode=* | \
                *reward_kwargs.rule.mode=* | *reward_kwargs.acquisition=* | *reward_kwargs.acquire.*)
                log "training prompts: all (UNLABELLED=auto; the overrides set the reward rule or acquisition)"
                return 0
                ;;
        esac
    done
    if [[ "${DRY_RUN}" == 1 && ! -f "${ARTIFACT_DIR}/metrics.json" ]]; then
        log "training prompts: chosen after the warm-up (UNLABELLED=auto: the labelled ones only if it serves constant)"
        return 0
    fi
    rule="$("${PYTHON}" -c '
import sys
from memreward_verl.train.prompts import served_rule
print(served_rule(sys.argv[1]) or "")' "${ARTIFACT_DIR}")" || die "cannot read the warm-up's rule in ${ARTIFACT_DIR}"
    if [[ "${rule}" == constant ]]; then
        TRAIN_FILE="${labelled}"
        log "training prompts: the labelled ones only (the warm-up fit serves constant: the unlabelled would get equal rewards, zero advantage; UNLABELLED=keep trains on them anyway)"
    fi
}

# _reward_overrides: the reward part of the main_ppo command for METHOD, into REWARD_ARGS.
_reward_overrides() {
    case "${METHOD}" in
        memreward)
            REWARD_ARGS=(
                reward.reward_manager.source=importlib
                reward.reward_manager.name=MemRewardManager
                reward.reward_manager.module.path=pkg://memreward_verl.reward_manager
                "+reward.reward_kwargs.artifact_dir=${ARTIFACT_DIR}"
            )
            ;;
        majority_vote)
            # The labelled prompts are MemReward's (the same file); the others are rewarded for
            # agreeing with their group's most common answer. No memory, so no warm-up.
            REWARD_ARGS=(
                reward.reward_manager.source=importlib
                reward.reward_manager.name=MemRewardManager
                reward.reward_manager.module.path=pkg://memreward_verl.reward_manager
                +reward.reward_kwargs.reward_mode=majority_vote
                "+reward.reward_kwargs.labelled_ids_file=${LABELLED_FILE}"
            )
            ;;
        oracle | labelled_only)
            # verl's built-in naive manager with our verifiers as its reward function: the ground
            # truth of every rollout. pkg:// imports the module by name in every reward worker.
            REWARD_ARGS=(
                reward.reward_manager.source=register
                reward.reward_manager.name=naive
                reward.custom_reward_function.path=pkg://memreward_verl.verify
                reward.custom_reward_function.name=compute_score
            )
            ;;
        *)
            die "unknown method '${METHOD}'"
            ;;
    esac
}

# recipe_main METHOD DOMAIN MODEL [--dry-run] [hydra overrides...]
recipe_main() {
    METHOD="$1"
    DOMAIN="$2"
    local model="$3"
    shift 3
    RECIPE_NAME="$(basename "$0" .sh)"
    REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    DRY_RUN=0
    local extra=() arg
    for arg in "$@"; do
        case "${arg}" in
            --dry-run) DRY_RUN=1 ;;
            -h | --help)
                sed -s -n '2,/^$/s/^# \{0,1\}//p' "$0" "${BASH_SOURCE[0]}"
                exit 0
                ;;
            *) extra+=("${arg}") ;;
        esac
    done
    _contains "${METHOD}" "${METHODS[@]}" || die "unknown method '${METHOD}' (known: ${METHODS[*]})"
    _contains "${DOMAIN}" "${DOMAINS[@]}" || die "unknown domain '${DOMAIN}' (known: ${DOMAINS[*]})"

    _model_defaults "${model}"
    _defaults
    _check_params

    local model_tag="${MODEL_PATH%/}"
    model_tag="${model_tag##*/}"
    LABELLED_FILE="${DATA_DIR}/labelled_${RATIO_TAG}.json"
    # The artifact depends on the data, the labels, the model and the sampling: all in its name.
    local sampling="n${ROLLOUT_N}-t${TEMPERATURE}-p${TOP_P}-len${MAX_PROMPT_LENGTH}-${MAX_RESPONSE_LENGTH}"
    : "${ARTIFACT_DIR:=${DATA_DIR}/warmup/${model_tag}-r${RATIO_TAG}-s${SEED}-${sampling}}"
    if [[ "${METHOD}" == oracle ]]; then
        : "${EXPERIMENT_NAME:=${METHOD}-${DOMAIN}-${model_tag}-s${SEED}}"
    else
        : "${EXPERIMENT_NAME:=${METHOD}-${DOMAIN}-${model_tag}-r${RATIO_TAG}-s${SEED}}"
    fi
    : "${RUN_DIR:=${OUTPUT_ROOT}/runs/${EXPERIMENT_NAME}}"
    TRAIN_FILE_GIVEN="${TRAIN_FILE:-}"
    if [[ "${METHOD}" == labelled_only ]]; then
        : "${TRAIN_FILE:=${DATA_DIR}/train_labelled_${RATIO_TAG}.parquet}"
    else
        : "${TRAIN_FILE:=${DATA_DIR}/train.parquet}"
    fi

    # The memreward CLI runs on the interpreter that runs main_ppo.
    _prepare
    if [[ "${METHOD}" == memreward ]]; then
        _warmup
        _unlabelled_prompts "${extra[@]}"
    fi
    local REWARD_ARGS=()
    _reward_overrides
    local ATTN
    _attn_implementation

    local cmd=(
        "${PYTHON}" -m verl.trainer.main_ppo
        algorithm.adv_estimator=grpo
        algorithm.use_kl_in_reward=False
        "data.train_files=${TRAIN_FILE}"
        "data.val_files=${VAL_FILE}"
        "data.train_batch_size=${TRAIN_BATCH_SIZE}"
        "data.max_prompt_length=${MAX_PROMPT_LENGTH}"
        "data.max_response_length=${MAX_RESPONSE_LENGTH}"
        data.filter_overlong_prompts=True
        data.truncation=error
        "data.seed=${SEED}"
        "actor_rollout_ref.model.path=${MODEL_PATH}"
        "+actor_rollout_ref.model.override_config.attn_implementation=${ATTN}"
        actor_rollout_ref.model.use_remove_padding=True
        actor_rollout_ref.model.enable_gradient_checkpointing=True
        "actor_rollout_ref.actor.optim.lr=${LR}"
        "actor_rollout_ref.actor.ppo_mini_batch_size=${PPO_MINI_BATCH_SIZE}"
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=${PPO_MICRO_BATCH_SIZE_PER_GPU}"
        actor_rollout_ref.actor.use_kl_loss=True
        "actor_rollout_ref.actor.kl_loss_coef=${KL_LOSS_COEF}"
        actor_rollout_ref.actor.kl_loss_type=low_var_kl
        actor_rollout_ref.actor.entropy_coeff=0
        "actor_rollout_ref.actor.data_loader_seed=${SEED}"
        "actor_rollout_ref.actor.fsdp_config.seed=${SEED}"
        actor_rollout_ref.actor.fsdp_config.param_offload=False
        actor_rollout_ref.actor.fsdp_config.optimizer_offload=False
        actor_rollout_ref.rollout.name=vllm
        "actor_rollout_ref.rollout.n=${ROLLOUT_N}"
        "actor_rollout_ref.rollout.temperature=${TEMPERATURE}"
        "actor_rollout_ref.rollout.top_p=${TOP_P}"
        "actor_rollout_ref.rollout.seed=${SEED}"
        "actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP}"
        "actor_rollout_ref.rollout.gpu_memory_utilization=${GPU_MEMORY_UTILIZATION}"
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=${LOG_PROB_MICRO_BATCH_SIZE_PER_GPU}"
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=${LOG_PROB_MICRO_BATCH_SIZE_PER_GPU}"
        "actor_rollout_ref.ref.fsdp_config.param_offload=${REF_PARAM_OFFLOAD}"
        "actor_rollout_ref.ref.fsdp_config.seed=${SEED}"
        "reward.num_workers=${REWARD_NUM_WORKERS}"
        "${REWARD_ARGS[@]}"
        "trainer.n_gpus_per_node=${N_GPUS}"
        "trainer.nnodes=${NNODES}"
        trainer.critic_warmup=0
        "trainer.total_training_steps=${TOTAL_TRAINING_STEPS}"
        "trainer.total_epochs=${TOTAL_EPOCHS}"
        "trainer.save_freq=${SAVE_FREQ}"
        "trainer.test_freq=${TEST_FREQ}"
        "trainer.val_before_train=${VAL_BEFORE_TRAIN}"
        "trainer.logger=[${LOGGER}]"
        "trainer.project_name=${PROJECT_NAME}"
        "trainer.experiment_name=${EXPERIMENT_NAME}"
        "trainer.default_local_dir=${RUN_DIR}/checkpoints"
        "hydra.run.dir=${RUN_DIR}"
        "${extra[@]}"
    )

    _preflight "${cmd[@]:3}"
    if [[ "${DRY_RUN}" == 1 ]]; then
        # One override per line, each a shell word: `bash` can run the printed text as it is.
        echo "$(_quoted "${cmd[@]:0:3}") \\"
        local i last=$((${#cmd[@]} - 1))
        for ((i = 3; i <= last; i++)); do
            if ((i < last)); then
                echo "    $(_quoted "${cmd[i]}") \\"
            else
                echo "    $(_quoted "${cmd[i]}")"
            fi
        done
        return 0
    fi
    log "main_ppo: ${EXPERIMENT_NAME} (run dir ${RUN_DIR})"
    "${cmd[@]}"
}
