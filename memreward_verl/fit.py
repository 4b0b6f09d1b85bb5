"""Warm-up training of the GNN on the labelled queries of a memory, and the choice of what to keep.

The model is ``calibrated vote + learned parts``; every learned part must EARN its place on
queries it never saw, or the model is the calibrated majority vote. Protocol:
- the labelled queries are split into ``FitConfig.folds`` query-grouped folds (seeded); one model
  is trained per fold on the other folds and scored on its own (out-of-fold, OOF, predictions);
- the anchor (a logistic regression on group features) is chosen per training set by an inner
  query-grouped cross-validation: a richer candidate replaces the vote score only if its OOF AUC
  gain over the vote, bootstrapped over QUERIES, is positive by ``min_gain_z`` standard deviations;
- every epoch a random half of the train queries are targets: their label inputs are hidden and
  their rollouts give the BCE loss, so a node never sees its own query's labels;
- held-out queries never provide label inputs during fitting;
- early stopping per fold restores the best weights; to judge the GNN residual without the
  optimism of that choice, each fold's OOF predictions are read at the best epoch of ANOTHER fold;
- the residual is kept only if its OOF AUC gain over the anchor is significant (same rule), and
  the whole model only if its OOF gain over the vote is, by ``vote_gain_z`` deviations (stricter:
  those OOF predictions already chose the anchor kind and the residual); otherwise the calibrated
  vote is served;
- with the residual, every fold's model is served, the mean of their logits (ensemble.py): what was
  judged is each of them, not fold 0's alone;
- without the residual the anchor alone is served, of the kind most folds' inner CVs chose (one
  fold's choice rests on a few queries; the vote score's on a fallback), judged with every fold's
  anchor of that kind (refitted where a fold chose another); again every fold's anchor is served,
  the mean of their logits (a linear model: one fold's fit on three quarters of the labels is one
  draw of what was judged). Models without a residual skip message passing when served (gnn.py).
Fold 0's model is the ensemble's first member; its held-out queries are ``FitResult.val_queries``.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from memreward_verl.anchor import ANCHORS, fit_anchor
from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import choose_hard_rule, single_answer
from memreward_verl.ensemble import FoldEnsemble
from memreward_verl.evidence import query_bootstrap_gain, query_folds, significant
from memreward_verl.features import program_ran, vote_score
from memreward_verl.gnn import MemRewardGNN
from memreward_verl.graph import build_graph, query_label_inputs
from memreward_verl.memory import ExperienceMemory
from memreward_verl.metrics import binary_metrics

__all__ = [
    "FitResult",
    "fit_gnn",
    "probabilities",
    "split_labelled",
    "train_loop",
    "fit_anchor",
    "query_folds",
    "query_bootstrap_gain",
    "significant",
]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """A trained model, how it was selected, and per-seed metrics."""

    model: FoldEnsemble  # member 0 is fold 0's model, which never trained on ``val_queries``
    metrics: dict[str, Any]
    graph: Any  # the memory graph it was trained on (reuse it for transductive prediction)
    train_queries: np.ndarray
    val_queries: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)


def split_labelled(query_labelled: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train / validation split of labelled query indices (at least one of each).

    Raises:
        ValueError: with fewer than 2 labelled queries.
    """
    idx = np.flatnonzero(query_labelled)
    if len(idx) < 2:
        raise ValueError(f"need at least 2 labelled queries to train and validate (got {len(idx)})")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(idx)
    n_val = min(len(idx) - 1, max(1, int(round(len(idx) * val_fraction))))
    return np.sort(idx[n_val:]), np.sort(idx[:n_val])


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else math.nan


def train_loop(
    model: nn.Module,
    forward: Callable[[nn.Module, Tensor | None], Tensor],
    y: Tensor,
    train_rollouts: Callable[[np.random.Generator], tuple[Tensor | None, Tensor]],
    val_rollouts: Tensor,
    epochs: int,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    val_logits: list[np.ndarray] | None = None,
) -> tuple[float, int, list[dict[str, float]]]:
    """Adam + BCE with early stopping on validation AUC; restores the best weights in place.

    Args:
        model: module to train (frozen parameters are left alone).
        forward: ``forward(model, label_in) -> logits [R]``.
        y: ``[R]`` float labels (only indexed where known).
        train_rollouts: per-epoch sampler -> ``(label_in for this step or None, target rollout ids)``.
        val_rollouts: rollout ids scored for validation (their query labels never input).
        val_logits: if given, receives the validation logits of every epoch (index = epoch).

    Returns:
        ``(best validation AUC, best epoch, history)``; epoch 0 is the untrained model.
    """
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay) if params else None
    y_val = y[val_rollouts].numpy()

    def evaluate() -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            logits = forward(model, None)[val_rollouts]
        if val_logits is not None:
            val_logits.append(logits.numpy().copy())
        loss = float(nn.functional.binary_cross_entropy_with_logits(logits, y[val_rollouts]))
        return _auc(y_val, logits.numpy()), loss

    best_auc, best_loss = evaluate()
    best_key = (-math.inf if math.isnan(best_auc) else best_auc, -best_loss)
    best_state, best_epoch, since = copy.deepcopy(model.state_dict()), 0, 0
    history = [{"epoch": 0, "val_auc": best_auc, "val_loss": best_loss}]
    for epoch in range(1, epochs + 1 if opt else 1):
        model.train()
        label_in, targets = train_rollouts(rng)
        if len(targets) == 0:
            break
        logits = forward(model, label_in)[targets]
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y[targets])
        opt.zero_grad()
        loss.backward()
        opt.step()
        auc, vloss = evaluate()
        history.append({"epoch": epoch, "train_loss": loss.item(), "val_auc": auc, "val_loss": vloss})
        key = (-math.inf if math.isnan(auc) else auc, -vloss)
        if key > best_key:
            best_key, best_state, best_epoch, since = key, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            since += 1
            if since >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return best_key[0], best_epoch, history


@dataclass
class _FoldRun:
    """One fold's model (restored to its best epoch) and what it predicted on its held-out queries."""

    model: MemRewardGNN
    train_q: np.ndarray
    val_q: np.ndarray
    val_rollouts: np.ndarray
    best_epoch: int
    logits: list[np.ndarray]  # held-out logits per epoch, 0 = the anchor alone
    history: list[dict[str, float]]
    anchor: dict[str, Any]


def fit_gnn(memory: ExperienceMemory, cfg: MemRewardConfig | None = None, conv: str = "gatv2", graph=None) -> FitResult:
    """Train one GNN per query fold, decide by out-of-fold evidence what to keep, serve what was judged.

    Returns:
        :class:`FitResult` whose ``metrics`` hold the OOF AUCs of the vote, the anchor and the
        anchor + residual (``oof_auc``), each fold's anchor kind (``fold_anchors``; ``anchor`` is the
        served kind: the majority kind, ``vote`` on a fallback; ``served_anchors`` where the anchor alone is
        served), the kept choice (``residual_kept``, ``fallback_to_vote``), the bootstrapped gains behind
        it, the number of served fold models (``members``: every fold's, with or without its residual;
        one with a single fold),
        the hard rule and threshold for ``hard_rule=auto`` (``hard_rule``, ``hard_threshold``: the
        default rule ``hard_rule_default`` unless another candidate's out-of-fold CAG is significantly
        lower; ``threshold`` at the configured threshold without folds; ``oof_cag`` per candidate), and
        fold 0's ``val_auc``/``best_epoch`` (fold 0's model on its held-out queries).

    Raises:
        ValueError: with fewer than 2 labelled queries.
    """
    cfg = cfg or MemRewardConfig()
    g = memory.groups
    graph = graph if graph is not None else build_graph(g, memory.labels, cfg.graph)
    has_label = np.zeros(g.num_queries, dtype=bool)
    has_label[g.rollout_query[memory.labels >= 0]] = True
    labelled = np.flatnonzero(memory.query_labelled & has_label)
    if len(labelled) < 2:
        raise ValueError(f"need at least 2 labelled queries to train and validate (got {len(labelled)})")
    folds = query_folds(labelled, cfg.fit.folds, cfg.fit.seed)

    def fold(k: int, train_gnn: bool) -> _FoldRun:
        return _fit_fold(
            memory, graph, cfg, conv, np.setdiff1d(labelled, folds[k]), folds[k], cfg.fit.seed + k, train_gnn
        )

    served = fold(0, True)
    runs = [served]
    if cfg.gnn.vote_anchor:
        # The GNN is trained on the other folds only if fold 0's best epoch beats its anchor on its
        # held-out queries at all; otherwise the residual would not be kept, and only the anchors
        # are compared out of fold (cheap). One fold is too few queries to judge significance.
        hope = served.best_epoch > 0 and _fold_gain(memory, served, cfg.fit.seed)[0] > 0
        runs += [fold(k, hope) for k in range(1, len(folds))]
    rq, z = g.rollout_query, cfg.fit.min_gain_z
    metrics: dict[str, Any] = {"folds": len(runs), "conv": conv, **served.anchor}
    if len(runs) > 1:
        ids = np.concatenate([r.val_rollouts for r in runs])
        y, q = memory.labels[ids].astype(np.int64), rq[ids]
        # Each fold read at another fold's best epoch: no fold judges an epoch it chose itself.
        res = np.concatenate(
            [r.logits[min(runs[(k + 1) % len(runs)].best_epoch, len(r.logits) - 1)] for k, r in enumerate(runs)]
        )
        anchor = np.concatenate([r.logits[0] for r in runs])
        vote = vote_score(g.feats[ids]).astype(np.float64)
        fold_of = np.concatenate([np.full(len(r.val_rollouts), k) for k, r in enumerate(runs)])
        residual_gain = query_bootstrap_gain(res, anchor, y, q, seed=cfg.fit.seed, strata=fold_of)
        keep_residual = served.best_epoch > 0 and significant(residual_gain, z)
        # Without the residual the anchor alone is served. Each fold chose its kind by an inner CV on its own
        # training queries; the served kind is the one most folds chose, judged with every fold's anchor of
        # that kind (refitted where a fold chose another): what is judged is what is served.
        kind = _majority_kind(runs)
        anchor_of = functools.cache(lambda k, kind: _fold_anchor(memory, graph, runs[k], kind))  # refitted once
        anchor_oof = functools.cache(lambda kind: _anchor_oof(memory, graph, runs, kind, anchor_of))
        final = res if keep_residual else anchor_oof(kind)
        vote_gain = query_bootstrap_gain(final, vote, y, q, seed=cfg.fit.seed, strata=fold_of)
        fallback = not significant(vote_gain, cfg.fit.vote_gain_z)
        metrics.update(
            oof_auc={"vote": _auc(y, vote), "anchor": _auc(y, anchor), "anchor_residual": _auc(y, res)},
            fold_anchors=[r.anchor.get("anchor", "constant") for r in runs],
            residual_gain=list(residual_gain),
            gain_over_vote=list(vote_gain),
            residual_kept=bool(keep_residual and not fallback),
            fallback_to_vote=bool(fallback),
        )
        # The hard rule for ``hard_rule=auto``: judged on out-of-fold scores of what is served.
        # On a fallback every fold's vote-score anchor is served: judged the same way.
        oof = expit(anchor_oof("vote") if fallback else final)
        exclusive = single_answer(g.domains)[rq[ids]]
        clusters = g.cluster_ids(cfg.graph.agreement_cosine)[ids]
        # On a fallback the vote is served as the vote serves itself (its plurality) unless a rule beats that
        # significantly: what is served then equals the plain vote, so noise cannot put it below the vote. Where
        # most rollouts are programs that ran, the vote score is their execution agreement score, not the plain
        # vote, and several behaviours of a group can be right: the default is threshold, as for a learned part.
        plain_vote = float(program_ran(g.feats[ids]).mean()) <= 0.5
        default = "plurality" if fallback and plain_vote else "threshold"
        rule, threshold, cag_by_rule = choose_hard_rule(
            oof,
            y,
            q,
            clusters,
            exclusive,
            cfg.reward.threshold,
            cfg.fit.seed,
            cfg.reward.auto_gain_z,
            cfg.reward.auto_thresholds,
            default=default,
        )
        metrics.update(hard_rule=rule, hard_threshold=threshold, hard_rule_default=default, oof_cag=cag_by_rule)
        if keep_residual and not fallback:  # every fold's model, each at its own best epoch with its own anchor
            metrics["anchor"] = kind  # the members' kinds are fold_anchors; this is the most common
        else:  # every fold's anchor of the served kind (the vote score's on a fallback), residual zeroed
            serve_kind = "vote" if fallback else kind
            names = []
            for k, r in enumerate(runs):
                layer, name = anchor_of(k, serve_kind)
                with torch.no_grad():
                    r.model.head[-1].weight.zero_()
                    r.model.head[-1].bias.zero_()
                    r.model.anchor.load_state_dict(layer.state_dict())
                names.append(name)
            # ``_flat``: every fold's fit flattened the vote score's weight (the vote's ranking, no slope)
            flat = all(n.endswith("_flat") for n in names)
            metrics["anchor"] = f"{serve_kind}_flat" if flat else serve_kind  # cv_auc/cv_gain: fold 0's inner CV
            metrics["served_anchors"] = names
        members = [r.model for r in runs]
    else:  # one fold (or no anchor to fall back on): fold 0's early stopping decides
        metrics.update(residual_kept=served.best_epoch > 0, fallback_to_vote=False)
        metrics.update(hard_rule="threshold", hard_threshold=cfg.reward.threshold, hard_rule_default="threshold")
        members = [served.model]
    # Fold 0's held-out metrics at fold 0's weights (the other members trained on these queries).
    val_ids = served.val_rollouts
    served.model.eval()
    with torch.no_grad():
        logits = served.model(graph, _label_inputs(memory, served.train_q))[torch.as_tensor(val_ids)]
    val = binary_metrics(probabilities(logits), memory.labels[val_ids].astype(int), rq[val_ids])
    metrics.update(
        val_auc=val["auc"],
        val_f1=val["f1"],
        val_cag=val["cag"],
        val_accuracy=val["accuracy"],
        best_epoch=served.best_epoch if metrics["residual_kept"] else 0,
        members=len(members),
        per_fold=[
            {
                "fold": k,
                "val_auc": r.history[r.best_epoch]["val_auc"],
                "best_epoch": r.best_epoch,
                "anchor": r.anchor.get("anchor"),
                "epochs_run": len(r.history) - 1,  # 0: the GNN was not trained on this fold
            }
            for k, r in enumerate(runs)
        ],
        train_queries=int(len(served.train_q)),
        val_queries=int(len(served.val_q)),
    )
    logger.info(
        "fit: anchor %s, residual %s, vote fallback %s, %d served model(s); fold-0 validation AUC %.4f",
        metrics.get("anchor"), metrics["residual_kept"], metrics["fallback_to_vote"], len(members), val["auc"],
    )  # fmt: skip
    return FitResult(
        model=FoldEnsemble(members).eval(),
        metrics=metrics,
        graph=graph,
        train_queries=served.train_q,
        val_queries=served.val_q,
        history=served.history,
    )


def _fold_gain(memory: ExperienceMemory, run: _FoldRun, seed: int) -> tuple[float, float]:
    """Bootstrapped held-out AUC gain of a fold's best epoch over its anchor alone."""
    y = memory.labels[run.val_rollouts].astype(np.int64)
    q = memory.groups.rollout_query[run.val_rollouts]
    return query_bootstrap_gain(run.logits[run.best_epoch], run.logits[0], y, q, seed=seed)


def _kind(run: _FoldRun) -> str:
    """The candidate kind of a fold's anchor (``vote``, ``vote_nbr``, ``features``, ``full`` or ``constant``)."""
    return run.anchor.get("anchor", "constant").removesuffix("_flat")


def _fold_anchor_x(memory: ExperienceMemory, graph, run: _FoldRun) -> np.ndarray:
    """Anchor inputs of every rollout with only the fold's training queries' labels known."""
    return MemRewardGNN.anchor_x(graph, _label_inputs(memory, run.train_q)).numpy()


def _majority_kind(runs: list[_FoldRun]) -> str:
    """The anchor kind most folds chose (``constant`` counts as ``vote``); a tie goes to the simpler kind
    (:data:`ANCHORS` order), as a richer anchor is served only where the evidence asks for it."""
    kinds = [k if k in ANCHORS else "vote" for k in map(_kind, runs)]
    top = max(map(kinds.count, ANCHORS))
    return next(k for k in ANCHORS if kinds.count(k) == top)


def _fold_anchor(memory: ExperienceMemory, graph, run: _FoldRun, kind: str) -> tuple[nn.Linear, str]:
    """A fold's anchor of ``kind`` and its name: the fold's own where its inner CV chose that kind, else one
    fitted on the fold's training queries alone (a new layer; the fold's model is left as it is)."""
    if _kind(run) == kind:
        return run.model.anchor, run.anchor.get("anchor", kind)
    rq, labels = memory.groups.rollout_query, memory.labels
    x = _fold_anchor_x(memory, graph, run)
    train_ids = np.flatnonzero(np.isin(rq, run.train_q) & (labels >= 0))
    layer = nn.Linear(x.shape[1], 1)
    info = fit_anchor(x[train_ids], labels[train_ids].astype(np.int64), rq[train_ids], layer, candidates=(kind,))
    return layer, info["anchor"]


def _anchor_oof(
    memory: ExperienceMemory, graph, runs: list[_FoldRun], kind: str, anchor_of: Callable[[int, str], tuple]
) -> np.ndarray:
    """Out-of-fold anchor logits with every fold's anchor of ``kind`` (``anchor_of``: :func:`_fold_anchor`)."""
    out = []
    for k, r in enumerate(runs):
        if _kind(r) == kind:
            out.append(r.logits[0])  # the fold's own anchor, as scored while it trained
            continue
        layer, _ = anchor_of(k, kind)
        x = torch.as_tensor(_fold_anchor_x(memory, graph, r)[r.val_rollouts], dtype=torch.float32)
        with torch.no_grad():
            out.append(layer(x).squeeze(-1).numpy())
    return np.concatenate(out)


def _label_inputs(memory: ExperienceMemory, queries: np.ndarray) -> Tensor:
    """Label inputs with only ``queries``' labels known."""
    rq = memory.groups.rollout_query
    labels = np.where(np.isin(rq, queries), memory.labels, -1)
    return torch.from_numpy(query_label_inputs(labels, rq, memory.groups.num_queries))


def _fit_fold(
    memory: ExperienceMemory,
    graph,
    cfg: MemRewardConfig,
    conv: str,
    train_q: np.ndarray,
    val_q: np.ndarray,
    seed: int,
    train_gnn: bool = True,
) -> _FoldRun:
    """Anchor, then (``train_gnn``) the residual with early stopping on ``val_q``; held-out logits per epoch."""
    g = memory.groups
    rq = g.rollout_query
    known = memory.labels >= 0
    y = torch.as_tensor(np.where(known, memory.labels, 0), dtype=torch.float32)
    val_ids = np.flatnonzero(np.isin(rq, val_q) & known)
    base_label_in = _label_inputs(memory, train_q)

    def sampler(rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        k = max(1, int(round(len(train_q) * cfg.fit.target_fraction)))
        targets_q = rng.choice(train_q, size=min(k, len(train_q)), replace=False)
        label_in = base_label_in.clone()
        label_in[torch.as_tensor(targets_q)] = 0.0
        return label_in, torch.as_tensor(np.flatnonzero(np.isin(rq, targets_q) & known))

    def forward(model: nn.Module, label_in: Tensor | None) -> Tensor:
        return model(graph, base_label_in if label_in is None else label_in)

    torch.manual_seed(seed)
    model = MemRewardGNN(g.query_emb.shape[1], g.feats.shape[1], cfg.gnn, conv=conv)
    anchor_info: dict[str, Any] = {}
    if cfg.gnn.vote_anchor:
        train_ids = np.flatnonzero(np.isin(rq, train_q) & known)
        anchor_x = MemRewardGNN.anchor_x(graph, base_label_in).numpy()[train_ids]
        anchor_info = fit_anchor(
            anchor_x, memory.labels[train_ids].astype(np.int64), rq[train_ids], model.anchor, cfg.fit.min_gain_z
        )
    logits: list[np.ndarray] = []
    if not train_gnn:  # the anchor alone (the residual starts at zero): one cheap held-out score
        with torch.no_grad():
            logits.append(model.anchor(MemRewardGNN.anchor_x(graph, base_label_in)[val_ids]).squeeze(-1).numpy())
        auc = _auc(memory.labels[val_ids].astype(np.int64), logits[0])
        return _FoldRun(model, train_q, val_q, val_ids, 0, logits, [{"epoch": 0, "val_auc": auc}], anchor_info)
    _, epoch, history = train_loop(
        model, forward, y, sampler, torch.as_tensor(val_ids), cfg.fit.epochs, cfg.fit.lr, cfg.fit.weight_decay,
        cfg.fit.patience, seed, val_logits=logits,
    )  # fmt: skip
    logger.info("fold seed %d: best held-out AUC %.4f at epoch %d", seed, history[epoch]["val_auc"], epoch)
    return _FoldRun(model, train_q, val_q, val_ids, epoch, logits, history, anchor_info)


def probabilities(logits: Tensor) -> np.ndarray:
    """``[R]`` float64 probabilities of logits, element by element.

    Not ``torch.sigmoid``: its vectorised float32 kernel can give equal logits different probabilities
    (SIMD body vs tail of the array: 0.18899016 vs 0.18899018), which breaks the vote's ties by position
    and moves AUC (AIME-25, seed 0, four vote anchors served: 0.930 -> 0.925); float64 also keeps logits
    over 17 apart, where float32 rounds both to 1.0.
    """
    return expit(logits.detach().double().numpy())


def full_label_inputs(memory: ExperienceMemory) -> Tensor:
    """Label inputs at inference: every labelled query of the memory is known."""
    g = memory.groups
    return torch.from_numpy(query_label_inputs(memory.labels, g.rollout_query, g.num_queries))


def predict_memory(model: nn.Module, memory: ExperienceMemory, cfg: MemRewardConfig, graph=None) -> np.ndarray:
    """Probabilities ``[R]`` for every rollout of the memory graph (transductive inference)."""
    graph = graph if graph is not None else build_graph(memory.groups, memory.labels, cfg.graph)
    model.eval()
    with torch.no_grad():
        return probabilities(model(graph, full_label_inputs(memory)))
