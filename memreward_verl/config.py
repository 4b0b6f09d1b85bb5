"""Typed configuration, one dataclass per stage, nested in :class:`MemRewardConfig`.

Every field has a default and a reason. Values are checked in ``__post_init__`` so a bad value fails
where it is set, naming the field. The same tree is saved with every artifact (``to_dict``) and
rebuilt from it (``from_dict``), so a checkpoint always reproduces the exact model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TextConfig",
    "EmbedConfig",
    "MemoryConfig",
    "GraphConfig",
    "GNNConfig",
    "FitConfig",
    "RewardConfig",
    "ExecConfig",
    "MemRewardConfig",
]


#: accepted values of ``EmbedConfig.dtype``
EMBED_DTYPES = ("auto", "fp32", "bf16")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass
class TextConfig:
    """How node text is made from a question and a response (warm-up and online alike)."""

    # Final-answer markers tried in order; the LAST occurrence of the first marker found splits the
    # response into thinking (before) and answer (from the marker on).
    markers: tuple[str, ...] = ("</think>", "<answer>", "####", "\\boxed", "the answer is", "answer:", "```")
    # Without a marker, the last `fallback_answer_chars` characters (cut at a line start when
    # possible) are the answer: final answers sit at the end of a response.
    fallback_answer_chars: int = 200
    # Character caps applied after the split; MiniLM reads 256 tokens (~1000 chars) anyway. They bound
    # what is embedded only: answer keys are read from the whole response (answers.rollout_key).
    max_query_chars: int = 1500
    max_think_chars: int = 1500
    max_answer_chars: int = 500

    def __post_init__(self) -> None:
        self.markers = tuple(self.markers)
        for name in ("fallback_answer_chars", "max_query_chars", "max_think_chars", "max_answer_chars"):
            _check(getattr(self, name) > 0, f"TextConfig.{name} must be > 0 (got {getattr(self, name)})")


@dataclass
class EmbedConfig:
    """Sentence embedder settings."""

    # Stored with every memory: loading a memory with another model is an error.
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    # Texts per bulk forward pass. On 2 CPU cores 16 embedded 1,500 Faithful-CoT texts 17% faster than
    # 64 in float32 (less padding, batches that stay in cache) and as fast in bfloat16.
    batch_size: int = 16
    max_seq_length: int = 256
    device: str = "cpu"
    # What the embedder computes in: fp32, bf16 (autocast: matmuls in bfloat16, norms and softmax in
    # float32) or auto (bf16 on a CPU that runs it natively, else fp32). The vectors are the same
    # model's to rounding (cosine >= 0.9999 with fp32's), so they share its id and its memories;
    # bf16 embedded 1.7x faster on a 2-core AVX512-BF16 EPYC (BENCHMARKS.md section 9).
    dtype: str = "auto"
    # Try the hub only when asked; the packaged weights work offline.
    allow_download: bool = False

    def __post_init__(self) -> None:
        _check(self.batch_size > 0, f"EmbedConfig.batch_size must be > 0 (got {self.batch_size})")
        _check(self.max_seq_length > 0, f"EmbedConfig.max_seq_length must be > 0 (got {self.max_seq_length})")
        _check(
            self.dtype in EMBED_DTYPES, f"EmbedConfig.dtype must be one of {list(EMBED_DTYPES)} (got {self.dtype!r})"
        )


@dataclass
class MemoryConfig:
    """Experience memory and its query index."""

    # Above this many queries the faiss index becomes approximate (IVF); exact below it. An exact
    # search is O(memory) per call; IVF with nprobe 8 of 1024 lists keeps a call's kNN cost near
    # flat up to 1e5 queries (benchmarks/results/cost.md) at some recall cost.
    approx_index_threshold: int = 20_000
    ivf_nlist: int = 1024
    ivf_nprobe: int = 8

    def __post_init__(self) -> None:
        _check(self.approx_index_threshold > 0, "MemoryConfig.approx_index_threshold must be > 0")


@dataclass
class GraphConfig:
    """Which edges the memory graph has."""

    # Query-query cosine kNN edges, made in BOTH directions so labels flow to unlabelled queries.
    query_knn: int = 7
    # Link rollouts of one query that reach the same normalised answer (every domain).
    answer_agreement: bool = True
    # Cap on agreement neighbours per answer node, to bound edges in large groups.
    max_agreement_edges: int = 16
    # Unparsable answers agree when their answer embeddings are this similar (code, free text).
    agreement_cosine: float = 0.95
    # Direction of query-query edges. "both" propagates; "to_memory" mimics the reference code
    # (new -> labelled only), kept as a baseline that shows what propagation is worth.
    query_edges: str = "both"

    def __post_init__(self) -> None:
        _check(self.query_knn >= 0, f"GraphConfig.query_knn must be >= 0 (got {self.query_knn})")
        _check(
            self.query_edges in ("both", "to_memory"),
            f"GraphConfig.query_edges must be 'both' or 'to_memory' (got {self.query_edges!r})",
        )
        _check(0.0 < self.agreement_cosine <= 1.0, "GraphConfig.agreement_cosine must be in (0, 1]")


@dataclass
class GNNConfig:
    """The heterogeneous GNN (see gnn.py)."""

    hidden: int = 64
    heads: int = 2
    num_layers: int = 2
    dropout: float = 0.2
    # Labels of other labelled queries are node inputs (masked per query in training).
    label_inputs: bool = True
    # Residual on a calibrated answer-agreement logit, so the model starts from the vote.
    vote_anchor: bool = True

    def __post_init__(self) -> None:
        _check(self.hidden > 0 and self.heads > 0, "GNNConfig.hidden and heads must be > 0")
        _check(self.num_layers in (1, 2, 3), f"GNNConfig.num_layers must be 1, 2 or 3 (got {self.num_layers})")
        _check(0.0 <= self.dropout < 1.0, f"GNNConfig.dropout must be in [0, 1) (got {self.dropout})")


@dataclass
class FitConfig:
    """Warm-up training."""

    epochs: int = 150
    lr: float = 3e-3
    weight_decay: float = 1e-4
    # Early stopping on validation AUC; the BEST weights are restored.
    patience: int = 15
    # Share of labelled queries held out for validation by the baselines that use one split (mlp).
    val_fraction: float = 0.25
    # Query-grouped folds of the labelled queries: one GNN per fold, each scored out of fold; the
    # OOF evidence decides whether the anchor, the residual and the whole model beat the vote.
    folds: int = 4
    # A learned part is kept only if its OOF AUC gain, bootstrapped over queries, exceeds this many
    # standard deviations (otherwise the simpler model, in the end the calibrated vote, is served).
    min_gain_z: float = 1.0
    # The last guard, the whole model against the calibrated vote, is stricter: its gain is read on
    # the same out-of-fold predictions that already chose the anchor kind and the residual, so a
    # 1-deviation bound is optimistic (RouterBench MBPP seed 1 kept a model at 1.02 deviations that
    # scored 0.034 AUC below the vote on the test queries; BENCHMARKS.md section 1).
    vote_gain_z: float = 1.5
    # Share of training queries whose labels are hidden (and predicted) at each step.
    target_fraction: float = 0.5
    # Restarts of the baselines that train on one split (mlp); the GNN's variation comes from folds.
    seeds: tuple[int, ...] = (0, 1, 2)
    seed: int = 0

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        _check(self.epochs > 0, f"FitConfig.epochs must be > 0 (got {self.epochs})")
        _check(0.0 < self.val_fraction < 1.0, f"FitConfig.val_fraction must be in (0, 1) (got {self.val_fraction})")
        _check(0.0 < self.target_fraction <= 1.0, "FitConfig.target_fraction must be in (0, 1]")
        _check(len(self.seeds) > 0, "FitConfig.seeds must not be empty")
        _check(self.folds >= 2, f"FitConfig.folds must be >= 2 (got {self.folds})")
        _check(self.min_gain_z >= 0, f"FitConfig.min_gain_z must be >= 0 (got {self.min_gain_z})")
        _check(self.vote_gain_z >= 0, f"FitConfig.vote_gain_z must be >= 0 (got {self.vote_gain_z})")


@dataclass
class RewardConfig:
    """How predicted probabilities become rewards (offline evaluation and verl alike)."""

    # "threshold": p >= threshold (as in the paper); "plurality": the group's answer cluster with the
    # highest mean probability; "expected_cag": per group, the hard rewards with the least expected
    # advantage error under the probabilities; "constant": 0 for every rollout (zero advantage);
    # "auto": the one of these, or threshold at one of auto_thresholds, with the lowest CAG on the
    # fit's out-of-fold predictions of labelled queries, if lower by more than noise than threshold
    # at `threshold` (than plurality, the vote's own rule, where the fit fell back to the vote;
    # decision.py; BENCHMARKS.md section 1). auto applies the fit's threshold too.
    hard_rule: str = "auto"
    threshold: float = 0.5
    auto_thresholds: tuple[float, ...] = (0.3, 0.4, 0.6, 0.7)
    # auto leaves the default rule only for a candidate whose out-of-fold CAG is lower by this many paired
    # standard errors: the best of seven candidates read on the same predictions is an optimistic pick, so
    # one error is too little (GSM8K seed 0 switched at 1.2 errors to a rule 0.09 CAG worse on the test
    # queries; 2 errors kept MBPP and Game-24 CoT from equal rewards that were right; BENCHMARKS.md section 1).
    auto_gain_z: float = 1.5

    def __post_init__(self) -> None:
        rules = ("auto", "threshold", "plurality", "expected_cag", "constant")
        _check(self.hard_rule in rules, f"RewardConfig.hard_rule must be one of {list(rules)} (got {self.hard_rule!r})")
        _check(0.0 < self.threshold < 1.0, f"RewardConfig.threshold must be in (0, 1) (got {self.threshold})")
        self.auto_thresholds = tuple(float(t) for t in self.auto_thresholds)
        bad = [t for t in self.auto_thresholds if not 0.0 < t < 1.0]
        _check(not bad, f"RewardConfig.auto_thresholds must all be in (0, 1) (got {bad})")
        _check(self.auto_gain_z >= 0, f"RewardConfig.auto_gain_z must be >= 0 (got {self.auto_gain_z})")


@dataclass
class ExecConfig:
    """Behavioural agreement for code (memreward_verl/execution): a code group's programs run in the
    sandbox on inputs from the prompt and the group's own responses (never hidden tests); programs that
    behave alike share an answer cluster, as equal final answers do in math."""

    enabled: bool = True
    # Sandboxes run at once when many groups are encoded (warm-up, offline evaluation).
    workers: int = 2
    # Wall budget of one group; a group over it keeps syntactic agreement (reported, not faked).
    group_budget_s: float = 150.0
    # CPU time of one call of the solution function.
    call_time_s: float = 0.25

    def __post_init__(self) -> None:
        _check(self.workers >= 1, f"ExecConfig.workers must be >= 1 (got {self.workers})")
        _check(self.group_budget_s > 0, f"ExecConfig.group_budget_s must be > 0 (got {self.group_budget_s})")
        _check(self.call_time_s > 0, f"ExecConfig.call_time_s must be > 0 (got {self.call_time_s})")

    def execution_config(self):
        """The :class:`memreward_verl.execution.ExecutionConfig` these settings describe."""
        from memreward_verl.execution import ExecutionConfig

        return ExecutionConfig(group_budget_s=self.group_budget_s, call_time_s=self.call_time_s)


@dataclass
class MemRewardConfig:
    """Root configuration; saved with every artifact."""

    text: TextConfig = field(default_factory=TextConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    gnn: GNNConfig = field(default_factory=GNNConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    execution: ExecConfig = field(default_factory=ExecConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemRewardConfig:
        """Rebuild from ``to_dict`` output; unknown keys are an error naming them."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            sub = data.get(f.name, {})
            sub_cls = f.default_factory  # type: ignore[misc]
            valid = {g.name for g in dataclasses.fields(sub_cls)}
            unknown = set(sub) - valid
            if unknown:
                raise ValueError(
                    f"unknown key(s) {sorted(unknown)} in config section {f.name!r}; valid: {sorted(valid)}"
                )
            kwargs[f.name] = sub_cls(**sub)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(unknown)}")
        return cls(**kwargs)
