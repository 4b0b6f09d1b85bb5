"""examples/run_*.sh: every GRPO recipe composes against the installed verl's hydra config.

Each recipe runs with ``--dry-run`` (bash, no GPU, nothing written). Its main_ppo overrides are
composed with hydra's compose API against ``verl/trainer/config/ppo_trainer.yaml`` (an override key
that verl does not have fails there), checked for the paper's GRPO settings, passed through verl's
own ``validate_config``, and the reward manager is resolved from the composed config with verl's
resolution code (``verl.trainer.ppo.reward``). A stub interpreter then checks the
prepare -> warm-up -> preflight -> main_ppo order and the "if missing" skips without running anything real.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import verl
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PATCHES = REPO / "patches"
VERL_DIR = Path(verl.__file__).resolve().parent
VERL_CONFIG_DIR = VERL_DIR / "trainer" / "config"

DOMAINS = ("math", "qa", "code", "mixed", "ood")
BASELINES = ("oracle", "labelled_only", "majority_vote")
# Per model: the default model path and GPU count of its recipes.
MODELS = {"qwen3b": ("Qwen/Qwen2.5-3B-Instruct", 4), "qwen1_5b": ("Qwen/Qwen2.5-1.5B-Instruct", 2)}
RECIPE_RE = re.compile(rf"run_(?P<what>{'|'.join(BASELINES + DOMAINS)})_(?P<model>{'|'.join(MODELS)})\.sh")

# The paper's GRPO settings (method.md section 2), as main_ppo must receive them.
GRPO = {
    "algorithm.adv_estimator": "grpo",
    "algorithm.use_kl_in_reward": False,
    "data.train_batch_size": 128,
    "actor_rollout_ref.rollout.n": 8,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.actor.use_kl_loss": True,
    "actor_rollout_ref.actor.kl_loss_coef": 0.001,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
    "actor_rollout_ref.actor.entropy_coeff": 0,
    "data.max_prompt_length": 1024,
    "data.max_response_length": 1024,
    "actor_rollout_ref.rollout.prompt_length": 1024,
    "actor_rollout_ref.rollout.response_length": 1024,
    "actor_rollout_ref.rollout.temperature": 1.0,
    "actor_rollout_ref.rollout.top_p": 1.0,
    "actor_rollout_ref.rollout.name": "vllm",
    "actor_rollout_ref.rollout.val_kwargs.do_sample": False,
    "trainer.total_training_steps": 410,
    "trainer.nnodes": 1,
}
ATTN_KEY = "actor_rollout_ref.model.override_config.attn_implementation"
# Every seed of the run that SEED must reach (verl's defaults are 42), in verl 0.9.1's config.
SEED_KEYS = (
    "data.seed",
    "actor_rollout_ref.rollout.seed",
    "actor_rollout_ref.actor.data_loader_seed",
    "actor_rollout_ref.actor.fsdp_config.seed",
    "actor_rollout_ref.ref.fsdp_config.seed",
)
MEMREWARD_MANAGER = {
    "reward.reward_manager.source": "importlib",
    "reward.reward_manager.name": "MemRewardManager",
    "reward.reward_manager.module.path": "pkg://memreward_verl.reward_manager",
}
VERIFIER_REWARD = {
    "reward.reward_manager.source": "register",
    "reward.reward_manager.name": "naive",
    "reward.custom_reward_function.path": "pkg://memreward_verl.verify",
    "reward.custom_reward_function.name": "compute_score",
}


@dataclass
class Recipe:
    """What a recipe's file name promises."""

    path: Path
    method: str
    domain: str
    model: str

    @classmethod
    def from_path(cls, path: Path) -> Recipe:
        m = RECIPE_RE.fullmatch(path.name)
        assert m, f"{path.name}: not a known recipe name (run_<domain|baseline>_<model>.sh)"
        what = m["what"]
        if what in BASELINES:
            return cls(path, what, "mixed", m["model"])
        return cls(path, "memreward", what, m["model"])


@dataclass
class DryRun:
    """A recipe's --dry-run output: the main_ppo argv, its overrides and the plan lines."""

    argv: list[str]
    overrides: list[str]
    plan: list[str]

    def planned(self, step: str) -> list[str] | None:
        """The argv of a step the recipe would run (prepare, warm-up), or None if it skips it."""
        prefix = f"[dry-run] {step}: would run: "
        for line in self.plan:
            if line.startswith(prefix):
                return shlex.split(line[len(prefix) :])
        return None


# CPU scripts beside the GRPO recipes (no main_ppo call): checked by their own tests.
CPU_SCRIPTS = {"run_demo_cpu.sh"}
RECIPE_PATHS = sorted(p for p in EXAMPLES.glob("run_*.sh") if p.name not in CPU_SCRIPTS)
RECIPES = [Recipe.from_path(p) for p in RECIPE_PATHS if RECIPE_RE.fullmatch(p.name)]


def _ids(recipes: list[Recipe]) -> list[str]:
    return [r.path.stem for r in recipes]


def _base_env(output_root: Path, **params: str) -> dict[str, str]:
    """A clean environment: none of the caller's recipe parameters leak into the defaults."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(output_root.parent), "LC_ALL": "C"}
    env.update(PYTHON=sys.executable, OUTPUT_ROOT=str(output_root))
    env.update(params)
    return env


def run_recipe(path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(path), *args], env=env, capture_output=True, text=True, timeout=60, cwd=REPO, check=False
    )


def dry_run(path: Path, env: dict[str, str], *args: str) -> DryRun:
    proc = run_recipe(path, env, "--dry-run", *args)
    assert proc.returncode == 0, f"{path.name} --dry-run failed:\n{proc.stderr}"
    lines = proc.stdout.splitlines()
    assert lines, f"{path.name} --dry-run printed no command"
    argv = shlex.split(lines[0].removesuffix("\\"))
    overrides = []
    for line in lines[1:]:
        words = shlex.split(line.removesuffix("\\"))
        assert len(words) == 1, f"{path.name}: expected one override per line, got {line!r}"
        overrides.append(words[0])
    return DryRun(argv=argv, overrides=overrides, plan=proc.stderr.splitlines())


def compose_all(overrides_by_name: dict[str, list[str]]) -> dict[str, DictConfig]:
    """The job configs main_ppo would get: hydra's compose over verl's own ppo_trainer.yaml.

    Raises:
        ConfigCompositionException: an override key verl does not have, naming the recipe.
    """
    configs = {}
    with initialize_config_dir(config_dir=str(VERL_CONFIG_DIR), version_base=None):
        for name, overrides in overrides_by_name.items():
            try:
                configs[name] = compose(config_name="ppo_trainer", overrides=overrides)
            except ConfigCompositionException as exc:
                raise ConfigCompositionException(f"{name}: {exc}") from exc
    return configs


def compose_overrides(overrides: list[str]) -> DictConfig:
    return compose_all({"overrides": overrides})["overrides"]


def select(cfg: DictConfig, key: str):
    return OmegaConf.select(cfg, key, throw_on_missing=True)


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


@pytest.fixture(scope="module")
def output_root(tmp_path_factory) -> Path:
    """A fresh OUTPUT_ROOT for the default runs; a dry run must leave it absent."""
    return tmp_path_factory.mktemp("recipes") / "out"


@pytest.fixture(scope="module")
def dry_runs(output_root) -> dict[str, DryRun]:
    env = _base_env(output_root)
    return {r.path.stem: dry_run(r.path, env) for r in RECIPES}


@pytest.fixture(scope="module")
def configs(dry_runs) -> dict:
    return compose_all({name: d.overrides for name, d in dry_runs.items()})


def test_recipe_set_is_complete():
    """Every examples/run_*.sh is a known recipe, and every recipe of issue 5 is there."""
    unknown = [p.name for p in RECIPE_PATHS if not RECIPE_RE.fullmatch(p.name)]
    assert not unknown, f"unknown recipe names (add them to this test): {unknown}"
    expected = {f"run_{what}_{model}.sh" for what in DOMAINS + BASELINES for model in MODELS}
    assert {p.name for p in RECIPE_PATHS} == expected


@pytest.mark.parametrize("path", RECIPE_PATHS, ids=[p.stem for p in RECIPE_PATHS])
def test_script_hygiene(path):
    """Strict bash, the shared body, and no GPU ids anywhere."""
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "common.sh" in text and "recipe_main " in text
    for script in (path, EXAMPLES / "common.sh"):
        assert "CUDA_VISIBLE_DEVICES" not in script.read_text(), f"{script.name} pins GPU ids"


def test_shellcheck():
    """shellcheck finds nothing (skipped where shellcheck is not installed)."""
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck not installed")
    proc = subprocess.run(
        [exe, "-x", *map(str, sorted(EXAMPLES.glob("*.sh")))], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert proc.returncode == 0, proc.stdout


def test_dry_run_runs_nothing(dry_runs, output_root):
    """--dry-run neither prepares, warms up nor trains: OUTPUT_ROOT is never created."""
    assert dry_runs
    assert not output_root.exists()


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_overrides_exist_in_verl_config(recipe, dry_runs, configs):
    """Each override is a key of verl's config; only memreward's reward_kwargs are added with +."""
    d = dry_runs[recipe.path.stem]
    assert d.argv == [sys.executable, "-m", "verl.trainer.main_ppo"]
    keys = [override_key(o) for o in d.overrides]
    assert all("=" in o for o in d.overrides)
    assert len(keys) == len(set(keys)), "an override is given twice"
    added = [override_key(o) for o in d.overrides if o.startswith("+")]
    allowed = ("reward.reward_kwargs.", ATTN_KEY)  # override_config is an empty dict in verl's yaml
    assert all(k.startswith(allowed) for k in added), added
    assert configs[recipe.path.stem] is not None  # composed (an unknown key raises in the fixture)


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_grpo_settings_of_the_paper(recipe, configs):
    """128 x 8, lr 1e-6, KL loss 0.001 low_var_kl, 1024/1024, 410 steps; model and GPUs by default."""
    cfg = configs[recipe.path.stem]
    for key, value in GRPO.items():
        assert select(cfg, key) == value, key
    model_path, n_gpus = MODELS[recipe.model]
    assert cfg.actor_rollout_ref.model.path == model_path
    assert cfg.trainer.n_gpus_per_node == n_gpus
    assert n_gpus % cfg.actor_rollout_ref.rollout.tensor_model_parallel_size == 0
    assert list(cfg.trainer.logger) == ["console"]
    # Steps end the run: with one batch per epoch or more, TOTAL_EPOCHS >= steps never cuts it short.
    assert cfg.trainer.total_epochs >= cfg.trainer.total_training_steps
    assert 0 < cfg.actor_rollout_ref.rollout.gpu_memory_utilization < 1


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_verl_validate_config(recipe, configs):
    """verl's own start-up checks (batch-size arithmetic, micro batches) pass on the composed config."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = configs[recipe.path.stem]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Disabled critic as algorithm.adv_estimator != gae": wanted
        use_critic = need_critic(cfg)
    assert need_reference_policy(cfg) and not use_critic  # KL loss needs the reference; GRPO no critic
    validate_config(config=cfg, use_reference_policy=True, use_critic=False)


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_data_files(recipe, configs, output_root):
    """Train on train.parquet (labelled_only: the labelled rows only), validate on val.parquet."""
    cfg = configs[recipe.path.stem]
    data_dir = output_root / "data" / f"{recipe.domain}-s0"
    train = "train_labelled_0.2.parquet" if recipe.method == "labelled_only" else "train.parquet"
    assert cfg.data.train_files == str(data_dir / train)
    assert cfg.data.val_files == str(data_dir / "val.parquet")


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_prepare_plan(recipe, dry_runs, output_root):
    """The data set is prepared (it is missing) with the contract's arguments."""
    argv = dry_runs[recipe.path.stem].planned("prepare")
    assert argv is not None
    assert argv[:4] == [sys.executable, "-m", "memreward_verl.cli", "prepare"]
    args = dict(zip(argv[4::2], argv[5::2]))
    assert args == {
        "--domain": recipe.domain,
        "--out": str(output_root / "data" / f"{recipe.domain}-s0"),
        "--label-ratio": "0.2",
        "--seed": "0",
        "--source": "auto",
        "--data-root": str(REPO.parent / "shared" / "data"),
    }


MEMREWARD_RECIPES = [r for r in RECIPES if r.method == "memreward"]
VERIFIER_RECIPES = [r for r in RECIPES if r.method in ("oracle", "labelled_only")]
MAJORITY_RECIPES = [r for r in RECIPES if r.method == "majority_vote"]


@pytest.mark.parametrize("recipe", MEMREWARD_RECIPES, ids=_ids(MEMREWARD_RECIPES))
def test_memreward_reward_manager(recipe, dry_runs, configs):
    """verl resolves MemRewardManager from the config; its reward_kwargs pass memreward's checks."""
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase
    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls

    from memreward_verl.integration.config import options_from_verl_config
    from memreward_verl.integration.manager import MemRewardManager

    cfg = configs[recipe.path.stem]
    for key, value in MEMREWARD_MANAGER.items():
        assert select(cfg, key) == value, key
    cls = resolve_reward_manager_cls(cfg)
    assert cls is MemRewardManager and issubclass(cls, RewardManagerBase)
    assert get_custom_reward_fn(cfg) is None
    opts = options_from_verl_config(cfg)
    warmup = dry_runs[recipe.path.stem].planned("warm-up")
    assert warmup is not None
    assert opts.artifact_dir == warmup[warmup.index("--out") + 1]
    assert opts.rule.mode == "hard"


@pytest.mark.parametrize("recipe", MEMREWARD_RECIPES, ids=_ids(MEMREWARD_RECIPES))
def test_warmup_samples_like_the_rollout(recipe, dry_runs, configs, output_root):
    """The warm-up gets the rollout's own n, temperature, top-p and lengths, and the same model."""
    cfg = configs[recipe.path.stem]
    argv = dry_runs[recipe.path.stem].planned("warm-up")
    assert argv[:4] == [sys.executable, "-m", "memreward_verl.cli", "warmup"]
    args = dict(zip(argv[4::2], argv[5::2]))
    data_dir = output_root / "data" / f"{recipe.domain}-s0"
    rollout = cfg.actor_rollout_ref.rollout
    assert int(args["--n"]) == rollout.n
    assert float(args["--temperature"]) == rollout.temperature
    assert float(args["--top-p"]) == rollout.top_p
    assert int(args["--max-prompt-length"]) == cfg.data.max_prompt_length == rollout.prompt_length
    assert int(args["--max-response-length"]) == cfg.data.max_response_length == rollout.response_length
    assert args["--model"] == cfg.actor_rollout_ref.model.path
    assert args["--train"] == str(data_dir / "train.parquet")
    assert args["--labelled"] == str(data_dir / "labelled_0.2.json")
    assert args["--backend"] == "auto" and args["--seed"] == "0"
    assert Path(args["--out"]).parent == data_dir / "warmup"


@pytest.mark.parametrize("recipe", VERIFIER_RECIPES, ids=_ids(VERIFIER_RECIPES))
def test_ground_truth_reward(recipe, dry_runs, configs):
    """Oracle / labelled-only: verl builds its naive manager around memreward_verl.verify.compute_score."""
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import load_reward_manager

    from memreward_verl.verify import compute_score

    cfg = configs[recipe.path.stem]
    for key, value in VERIFIER_REWARD.items():
        assert select(cfg, key) == value, key
    assert "reward_kwargs" not in cfg.reward
    assert dry_runs[recipe.path.stem].planned("warm-up") is None
    manager = load_reward_manager(cfg, tokenizer=None)
    assert type(manager) is NaiveRewardManager
    assert manager.compute_score.args[0] is compute_score
    score = manager.compute_score(data_source="openai/gsm8k", solution_str="so #### 18", ground_truth="18")
    assert score == 1.0
    assert manager.compute_score(data_source="openai/gsm8k", solution_str="#### 17", ground_truth="18") == 0.0


@pytest.mark.parametrize("recipe", MAJORITY_RECIPES, ids=_ids(MAJORITY_RECIPES))
def test_majority_vote_reward_manager(recipe, dry_runs, configs, output_root):
    """Majority vote: the memreward manager in reward_mode=majority_vote, no artifact, no warm-up."""
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from memreward_verl.integration.manager import MemRewardManager

    cfg = configs[recipe.path.stem]
    for key, value in MEMREWARD_MANAGER.items():
        assert select(cfg, key) == value, key
    assert resolve_reward_manager_cls(cfg) is MemRewardManager
    assert dict(cfg.reward.reward_kwargs) == {
        "reward_mode": "majority_vote",
        "labelled_ids_file": str(output_root / "data" / "mixed-s0" / "labelled_0.2.json"),
    }
    assert dry_runs[recipe.path.stem].planned("warm-up") is None


@pytest.mark.parametrize("recipe", MAJORITY_RECIPES, ids=_ids(MAJORITY_RECIPES))
def test_majority_vote_options_accepted(recipe, configs, output_root):
    """memreward's option checks accept the majority-vote recipe's reward_kwargs (no artifact)."""
    from memreward_verl.integration.config import options_from_verl_config

    opts = options_from_verl_config(configs[recipe.path.stem])
    assert opts.rule.mode == "majority_vote"
    assert not opts.artifact_dir
    assert opts.labelled_ids_file == str(output_root / "data" / "mixed-s0" / "labelled_0.2.json")


def test_majority_vote_recipe_with_acquisition(tmp_path):
    """The examples/README.md command (votes + 20% of each batch bought, the CARE paper's setting) composes
    against verl's config and passes memreward's option checks."""
    from memreward_verl.integration.config import options_from_verl_config

    extra = (
        "+reward.reward_kwargs.acquisition=care",
        "+reward.reward_kwargs.budget=0.2",
        "+reward.reward_kwargs.acquisition_step_groups=128",
        f"+reward.reward_kwargs.state_dir={tmp_path / 'acq_state'}",
    )
    d = dry_run(EXAMPLES / "run_majority_vote_qwen3b.sh", _base_env(tmp_path / "out"), *extra)
    opts = options_from_verl_config(compose_overrides(d.overrides))
    got = (opts.rule.mode, opts.acquire.strategy, opts.acquire.budget, opts.acquire.reuse)
    assert got == ("majority_vote", "care", 0.2, True)


def test_plugin_name_resolves():
    """reward.reward_manager.name=memreward (the verl.plugins entry point) resolves to the same class."""
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from memreward_verl.integration.manager import MemRewardManager

    cfg = compose_overrides(["reward.reward_manager.name=memreward", "+reward.reward_kwargs.artifact_dir=/a"])
    assert resolve_reward_manager_cls(cfg) is MemRewardManager


def test_parameters_and_extra_args_pass_through(tmp_path):
    """MODEL_PATH, N_GPUS, DATA_DIR, LABEL_RATIO, SEED and extra hydra args reach main_ppo."""
    from memreward_verl.prepare import labelled_path

    data_dir = tmp_path / "my data"
    env = _base_env(
        tmp_path / "out",
        DATA_ROOT="",
        GPQA_FILE="/data/gpqa_main.csv",
        MODEL_PATH="/models/Qwen2.5-3B-Instruct/",
        N_GPUS="8",
        DATA_DIR=str(data_dir),
        LABEL_RATIO="0.30",
        SEED="3",
        LOGGER="console,wandb",
    )
    d = dry_run(
        EXAMPLES / "run_mixed_qwen3b.sh", env, "trainer.total_training_steps=20", "++reward.reward_kwargs.threshold=0.6"
    )
    cfg = compose_overrides(d.overrides)
    assert cfg.actor_rollout_ref.model.path == "/models/Qwen2.5-3B-Instruct/"
    assert cfg.trainer.n_gpus_per_node == 8
    assert cfg.trainer.total_training_steps == 20
    assert list(cfg.trainer.logger) == ["console", "wandb"]
    assert cfg.data.train_files == str(data_dir / "train.parquet")
    assert {key: select(cfg, key) for key in SEED_KEYS} == dict.fromkeys(SEED_KEYS, 3)
    assert cfg.reward.reward_kwargs.threshold == 0.6
    artifact = Path(cfg.reward.reward_kwargs.artifact_dir)
    assert artifact.parent == data_dir / "warmup"
    assert artifact.name.startswith("Qwen2.5-3B-Instruct-r0.3-s3-")
    prepare = d.planned("prepare")
    assert prepare[prepare.index("--out") + 1] == str(data_dir)
    assert prepare[prepare.index("--seed") + 1] == "3"
    assert prepare[prepare.index("--data-root") + 1] == ""  # hub and packages only
    assert prepare[prepare.index("--gpqa-file") + 1] == "/data/gpqa_main.csv"
    warmup = d.planned("warm-up")
    assert warmup[warmup.index("--labelled") + 1] == str(labelled_path(data_dir, 0.30))


def test_baseline_domain_is_a_parameter(tmp_path):
    """DOMAIN picks a baseline's data set."""
    d = dry_run(EXAMPLES / "run_labelled_only_qwen1_5b.sh", _base_env(tmp_path / "out", DOMAIN="code"))
    cfg = compose_overrides(d.overrides)
    assert cfg.data.train_files == str(tmp_path / "out" / "data" / "code-s0" / "train_labelled_0.2.parquet")
    assert d.planned("prepare")[d.planned("prepare").index("--domain") + 1] == "code"


def test_help(tmp_path):
    """--help prints the recipe's header and the shared one, and runs nothing."""
    proc = run_recipe(EXAMPLES / "run_mixed_qwen3b.sh", _base_env(tmp_path / "out"), "--help")
    assert proc.returncode == 0
    assert "the paper's main setting" in proc.stdout and "--dry-run" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_unknown_key_fails_composition(tmp_path):
    """An override key verl does not have (here a pass-through one) fails the composition."""
    d = dry_run(EXAMPLES / "run_math_qwen3b.sh", _base_env(tmp_path / "out"), "trainer.no_such_key=1")
    with pytest.raises(ConfigCompositionException, match="no_such_key"):
        compose_overrides(d.overrides)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"LABEL_RATIO": "1.5"}, "LABEL_RATIO"),
        ({"LABEL_RATIO": "0"}, "LABEL_RATIO"),
        ({"N_GPUS": "3"}, "ROLLOUT_TP"),
        ({"N_GPUS": "four"}, "N_GPUS"),
        ({"DOMAIN": "physics"}, "unknown domain"),
    ],
)
def test_bad_parameters_fail_early(tmp_path, params, message):
    """A bad parameter stops the recipe before anything runs, naming the variable."""
    script = EXAMPLES / ("run_oracle_qwen3b.sh" if "DOMAIN" in params else "run_math_qwen3b.sh")
    proc = run_recipe(script, _base_env(tmp_path / "out", **params), "--dry-run")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not proc.stdout


# A stand-in for the Python interpreter: logs what the recipe runs and writes what each step must
# leave behind, so the prepare -> warm-up -> main_ppo order and the skips run without data or GPUs.
_STUB = """#!/usr/bin/env bash
set -euo pipefail
if [[ "$1" == -c ]]; then exec {python} "$@"; fi
echo "$*" >> {log}
out=""
prev=""
for arg in "$@"; do
    if [[ "$prev" == --out ]]; then out="$arg"; fi
    prev="$arg"
done
case "$*" in
    *"memreward_verl.cli prepare"*)
        mkdir -p "$out"
        for f in train.parquet val.parquet test.parquet labelled_0.2.json train_labelled_0.2.parquet manifest.json; do
            : > "$out/$f"
        done ;;
    *"memreward_verl.cli warmup"*)
        mkdir -p "$out"
        : > "$out/artifact.json" ;;
    *"memreward_verl.cli preflight"*)
        if [[ -n "${{REAL_PREFLIGHT:-}}" ]]; then exec {python} "$@"; fi ;;
esac
"""


@pytest.mark.parametrize(
    "script,steps",
    [
        ("run_math_qwen3b.sh", ["prepare", "warmup", "preflight", "main_ppo"]),
        ("run_oracle_qwen1_5b.sh", ["prepare", "preflight", "main_ppo"]),
        ("run_majority_vote_qwen3b.sh", ["prepare", "preflight", "main_ppo"]),
    ],
)
def test_steps_run_in_order_and_only_when_missing(tmp_path, script, steps):
    """Prepare if missing -> warm-up if missing (memreward only) -> preflight -> main_ppo; a rerun only
    checks and trains."""
    log = tmp_path / "calls.log"
    stub = tmp_path / "python-stub"
    stub.write_text(_STUB.format(python=shlex.quote(sys.executable), log=shlex.quote(str(log))))
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = _base_env(tmp_path / "out", PYTHON=str(stub))

    def called() -> list[str]:
        names = []
        for line in log.read_text().splitlines():
            words = line.split()
            names.append(words[2] if words[1] == "memreward_verl.cli" else words[1].rsplit(".", 1)[-1])
        return names

    proc = run_recipe(EXAMPLES / script, env, "trainer.total_training_steps=1")
    assert proc.returncode == 0, proc.stderr
    assert called() == steps
    assert log.read_text().splitlines()[-1].endswith("trainer.total_training_steps=1")
    log.unlink()
    proc = run_recipe(EXAMPLES / script, env)
    assert proc.returncode == 0, proc.stderr
    assert called() == ["preflight", "main_ppo"]


def test_failed_step_stops_the_recipe(tmp_path):
    """A prepare that writes nothing stops the recipe before training."""
    stub = tmp_path / "python-stub"
    stub.write_text(f'#!/usr/bin/env bash\nif [[ "$1" == -c ]]; then exec {shlex.quote(sys.executable)} "$@"; fi\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    proc = run_recipe(EXAMPLES / "run_math_qwen3b.sh", _base_env(tmp_path / "out", PYTHON=str(stub)))
    assert proc.returncode != 0
    assert "prepare finished but did not write" in proc.stderr


def test_patches():
    """patches/README.md says why no patch is needed, or every patch names its verl version and applies
    cleanly (patch --dry-run) to the installed verl."""
    readme = (PATCHES / "README.md").read_text()
    assert "0.9" in readme
    patch_files = sorted(PATCHES.glob("*.patch"))
    if not patch_files:
        assert "no patch" in readme.lower()
    for patch_file in patch_files:
        text = patch_file.read_text()
        assert re.search(r"verl[ =]=?0\.9\.\d", text), f"{patch_file.name}: no target verl version"
        proc = subprocess.run(
            ["patch", "--dry-run", "--forward", "-p1", "-d", str(VERL_DIR.parent), "-i", str(patch_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"{patch_file.name}:\n{proc.stdout}{proc.stderr}"


# --- GPU-path first-contact defects: attention, seeds, greedy sampling, the preflight ---

HAS_FLASH_ATTN = importlib.util.find_spec("flash_attn") is not None


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_seed_reaches_rollout_and_actor(recipe, configs):
    """SEED (default 0) sets every seed of the run, not only the data loader's (verl's defaults are 42)."""
    cfg = configs[recipe.path.stem]
    assert {key: select(cfg, key) for key in SEED_KEYS} == dict.fromkeys(SEED_KEYS, 0)


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_attention_fits_the_node(recipe, configs):
    """ATTN_IMPLEMENTATION=auto: flash_attention_2 only where flash-attn imports, else sdpa (verl's default
    flash_attention_2 would fail at model load on a node without it)."""
    attn = select(configs[recipe.path.stem], ATTN_KEY)
    assert attn == ("flash_attention_2" if HAS_FLASH_ATTN else "sdpa")


@pytest.mark.skipif(HAS_FLASH_ATTN, reason="flash-attn is installed here")
def test_flash_attention_without_flash_attn_stops(tmp_path):
    """ATTN_IMPLEMENTATION=flash_attention_2 on a node without flash-attn stops, naming what to install."""
    env = _base_env(tmp_path / "out", ATTN_IMPLEMENTATION="flash_attention_2")
    proc = run_recipe(EXAMPLES / "run_math_qwen1_5b.sh", env, "--dry-run")
    assert proc.returncode != 0 and not proc.stdout
    assert "pip install flash-attn" in proc.stderr and "ATTN_IMPLEMENTATION=sdpa" in proc.stderr


@pytest.mark.parametrize(
    "params,ok",
    [
        ({"ATTN_IMPLEMENTATION": "eager"}, "eager"),
        ({"ATTN_IMPLEMENTATION": "sdpa"}, "sdpa"),
        ({"ATTN_IMPLEMENTATION": "flash"}, None),
        ({"TEMPERATURE": "0"}, None),
        ({"TEMPERATURE": "0.0", "ROLLOUT_N": "1"}, "sdpa"),
        ({"TEMPERATURE": "-1"}, None),
        ({"TOP_P": "0"}, None),
    ],
)
def test_attention_and_sampling_parameters(tmp_path, params, ok):
    """ATTN_IMPLEMENTATION is checked; TEMPERATURE=0 with ROLLOUT_N > 1 (vLLM rejects it) stops early."""
    proc = run_recipe(EXAMPLES / "run_oracle_qwen1_5b.sh", _base_env(tmp_path / "out", **params), "--dry-run")
    if ok is None:
        assert proc.returncode != 0 and not proc.stdout
        assert next(iter(params)) in proc.stderr
        if params.get("TEMPERATURE") == "0":
            assert "ROLLOUT_N=8" in proc.stderr and "actor_rollout_ref.rollout.temperature" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    d = dry_run(EXAMPLES / "run_oracle_qwen1_5b.sh", _base_env(tmp_path / "out", **params))
    cfg = compose_overrides(d.overrides)
    if "ATTN_IMPLEMENTATION" in params or not HAS_FLASH_ATTN:
        assert select(cfg, ATTN_KEY) == ok
    if "ROLLOUT_N" in params:
        assert (cfg.actor_rollout_ref.rollout.temperature, cfg.actor_rollout_ref.rollout.n) == (0.0, 1)


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids(RECIPES))
def test_preflight_is_planned_on_the_same_overrides(recipe, dry_runs):
    """--dry-run plans `memreward preflight` (and does not run it) on exactly main_ppo's overrides."""
    d = dry_runs[recipe.path.stem]
    argv = d.planned("preflight")
    assert argv == [sys.executable, "-m", "memreward_verl.cli", "preflight", *d.overrides]


@pytest.mark.parametrize(
    "name,needed",
    # 3 per GPU + TransferQueue controller 1 + 8 storage units + memory worker 1 (memreward / majority vote)
    [
        ("run_mixed_qwen3b", 22),
        ("run_math_qwen1_5b", 16),
        ("run_oracle_qwen3b", 21),
        ("run_majority_vote_qwen1_5b", 16),
    ],
)
def test_preflight_counts_the_recipes_ray_cpus(dry_runs, name, needed):
    """The preflight counts what the recipe's run holds; too few CPUs is an error naming the knobs."""
    from memreward_verl.integration.preflight import preflight

    overrides = dry_runs[name].overrides
    assert preflight(overrides, cpus=needed, check_imports=False).errors == []
    errors = preflight(overrides, cpus=needed - 1, check_imports=False).errors
    assert len(errors) == 1
    assert f"holds {needed} Ray CPUs" in errors[0] and f"have {needed - 1}" in errors[0]
    assert f"ray_kwargs.ray_init.num_cpus={needed}" in errors[0]
    assert "transfer_queue.backend.SimpleStorage.num_data_storage_units" in errors[0]


def test_failed_preflight_stops_before_main_ppo(tmp_path):
    """A real preflight in a (stubbed) recipe run: too few Ray CPUs stops it before main_ppo, with the count;
    PREFLIGHT=0 skips the check."""
    log = tmp_path / "calls.log"
    stub = tmp_path / "python-stub"
    stub.write_text(_STUB.format(python=shlex.quote(sys.executable), log=shlex.quote(str(log))))
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = _base_env(tmp_path / "out", PYTHON=str(stub), REAL_PREFLIGHT="1")
    proc = run_recipe(EXAMPLES / "run_math_qwen3b.sh", env, "ray_kwargs.ray_init.num_cpus=4")
    assert proc.returncode != 0
    assert "main_ppo" not in log.read_text()
    assert "holds 22 Ray CPUs" in proc.stderr and "ray_kwargs.ray_init.num_cpus=22" in proc.stderr
    assert "PREFLIGHT=0" in proc.stderr
    proc = run_recipe(EXAMPLES / "run_math_qwen3b.sh", {**env, "PREFLIGHT": "0"}, "ray_kwargs.ray_init.num_cpus=4")
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines()[-1].split()[1] == "verl.trainer.main_ppo"


@pytest.mark.parametrize(
    ("hard_rule", "env", "args", "labelled_only"),
    [
        ("constant", {}, [], True),
        ("threshold", {}, [], False),
        ("constant", {"UNLABELLED": "keep"}, [], False),
        ("threshold", {"UNLABELLED": "drop"}, [], True),
        ("constant", {}, ["++reward.reward_kwargs.hard_rule=threshold"], False),
        ("constant", {}, ["+reward.reward_kwargs.acquisition=care"], False),
    ],
)
def test_memreward_trains_on_the_labelled_prompts_where_the_fit_serves_constant(
    tmp_path, hard_rule, env, args, labelled_only
):
    """After the warm-up the recipe reads the rule its fit serves: `constant` (zero advantage for every
    unlabelled group) -> data.train_files is the labelled prompts alone, unless UNLABELLED=keep or the
    overrides choose the rule or acquisition; UNLABELLED=drop always."""
    log = tmp_path / "calls.log"
    stub = tmp_path / "python-stub"
    fit = json.dumps({"hard_rule": hard_rule, "hard_threshold": 0.5}).replace("{", "{{").replace("}", "}}")
    warmup = ': > "$out/artifact.json" ;;'
    body = _STUB.replace(warmup, f': > "$out/artifact.json"; echo \'{fit}\' > "$out/metrics.json" ;;')
    assert body != _STUB
    stub.write_text(body.format(python=shlex.quote(sys.executable), log=shlex.quote(str(log))))
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    proc = run_recipe(EXAMPLES / "run_math_qwen3b.sh", _base_env(tmp_path / "out", PYTHON=str(stub), **env), *args)
    assert proc.returncode == 0, proc.stderr
    main_ppo = log.read_text().splitlines()[-1]
    data = tmp_path / "out" / "data" / "math-s0"
    expected = data / ("train_labelled_0.2.parquet" if labelled_only else "train.parquet")
    assert f"data.train_files={expected} " in main_ppo
    assert ("training prompts: the labelled ones only" in proc.stderr) == labelled_only


def test_unlabelled_policy_is_checked(tmp_path):
    proc = run_recipe(EXAMPLES / "run_math_qwen3b.sh", _base_env(tmp_path / "out", UNLABELLED="sometimes"), "--dry-run")
    assert proc.returncode != 0 and "UNLABELLED must be auto, keep or drop" in proc.stderr
