"""Warm-up training of the GNN on the labelled queries of a memory.

Protocol (what the reference got wrong is in brackets):
- labelled queries are split into train / validation by QUERY, seeded;
- the anchor (logistic regression on group features) is fitted on train rollouts, then frozen;
- every epoch a random half of the train queries are targets: their label inputs are hidden and
  their rollouts give the BCE loss, so a node never sees its own query's labels [label leak];
- validation queries never provide label inputs during fitting;
- early stopping on validation AUC restores the BEST weights, deep-copied [last, shallow copy];
- several seeds; the one with the best validation AUC is kept [lowest FPR: all-zeros wins].
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from memreward_verl.config import MemRewardConfig
from memreward_verl.gnn import NUM_NEIGHBOUR_FEATURES, MemRewardGNN
from memreward_verl.graph import build_graph, query_label_inputs
from memreward_verl.memory import ExperienceMemory

__all__ = ["FitResult", "fit_gnn", "split_labelled", "train_loop", "fit_anchor"]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """A trained model, how it was selected, and per-seed metrics."""

    model: nn.Module
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


def _grouped_cv_aucs(x: np.ndarray, y: np.ndarray, groups: np.ndarray, cols: list[int], folds: int = 5):
    """Held-out AUCs of a logistic regression on ``x[:, cols]``, folds split by query (same folds for all)."""
    uniq = np.unique(groups)
    fold_of = {g: i % folds for i, g in enumerate(np.random.default_rng(0).permutation(uniq))}
    f = np.array([fold_of[g] for g in groups])
    aucs = []
    for k in range(min(folds, len(uniq))):
        tr, te = f != k, f == k
        if len(np.unique(y[tr])) < 2 or len(np.unique(y[te])) < 2:
            continue
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x[tr][:, cols], y[tr])
        aucs.append(roc_auc_score(y[te], lr.decision_function(x[te][:, cols])))
    return np.array(aucs)


def fit_anchor(x: np.ndarray, y: np.ndarray, groups: np.ndarray, layer: nn.Linear) -> dict[str, Any]:
    """Fit the anchor logistic regression into ``layer`` and freeze it.

    Candidates, simplest first: ``share`` (the vote share alone: a monotone calibration of majority
    voting, same ranking), ``share_nbr`` (plus the neighbour-label inputs: how hard similar
    labelled queries were) and ``full`` (every anchor input, standardised). Query-grouped 5-fold
    cross-validation scores them and the one-standard-error rule picks the simplest candidate
    within one standard error of the best, so few labels give the calibrated vote and more labels
    buy more structure. With one class only, the anchor is the constant base rate.

    Returns:
        ``{"anchor": name, "cv_auc": {name: mean fold AUC}}``.
    """
    info: dict[str, Any] = {"anchor": "constant", "cv_auc": {}}
    with torch.no_grad():
        layer.weight.zero_()
        if len(np.unique(y)) < 2:
            rate = float(np.clip(y.mean() if len(y) else 0.5, 0.02, 0.98))
            layer.bias.fill_(math.log(rate / (1 - rate)))
            layer.requires_grad_(False)
            return info
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-8, std, 1.0)
        xs = (x - mean) / std
        nbr = list(range(x.shape[1] - NUM_NEIGHBOUR_FEATURES, x.shape[1]))
        candidates = {"share": [0], "share_nbr": [0, *nbr], "full": list(range(x.shape[1]))}
        folds = {name: _grouped_cv_aucs(xs, y, groups, cols) for name, cols in candidates.items()}
        info["cv_auc"] = {name: float(a.mean()) if len(a) else None for name, a in folds.items()}
        name = "share"
        scored = {n: a for n, a in folds.items() if len(a) >= 2}
        if scored:
            best = max(scored, key=lambda n: scored[n].mean())
            bar = scored[best].mean() - scored[best].std(ddof=1) / math.sqrt(len(scored[best]))
            name = next(n for n in candidates if n in scored and scored[n].mean() >= bar)
        cols = candidates[name]
        info["anchor"] = name
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(xs[:, cols], y)
        w = np.zeros(x.shape[1])
        w[cols] = lr.coef_[0]
        intercept = float(lr.intercept_[0])
        if w[0] <= 0:
            # Agreeing with more of the group is never taken as evidence of being wrong: a few
            # labels that say so are noise (or an unreadable answer format, where everyone
            # "agrees"). Refit without the share and keep the vote's ranking for ties.
            rest = [c for c in cols if c != 0]
            w[:] = 0.0
            rate = float(np.clip(y.mean(), 0.02, 0.98))
            intercept = math.log(rate / (1 - rate))
            if rest:
                lr = LogisticRegression(C=1.0, max_iter=1000).fit(xs[:, rest], y)
                w[rest], intercept = lr.coef_[0], float(lr.intercept_[0])
            w[0] = 1e-3
            info["anchor"] = f"{name}_flat"
        # Fold the standardisation into the layer: w'x + b' == w((x - mean) / std) + b.
        layer.weight.copy_(torch.as_tensor(w / std, dtype=torch.float32)[None])
        layer.bias.fill_(float(intercept - (w * mean / std).sum()))
    layer.requires_grad_(False)
    return info


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
) -> tuple[float, int, list[dict[str, float]]]:
    """Adam + BCE with early stopping on validation AUC; restores the best weights in place.

    Args:
        model: module to train (frozen parameters are left alone).
        forward: ``forward(model, label_in) -> logits [R]``.
        y: ``[R]`` float labels (only indexed where known).
        train_rollouts: per-epoch sampler -> ``(label_in for this step or None, target rollout ids)``.
        val_rollouts: rollout ids scored for validation (their query labels never input).

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
            continue
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


def fit_gnn(memory: ExperienceMemory, cfg: MemRewardConfig | None = None, conv: str = "gatv2", graph=None) -> FitResult:
    """Train the GNN on ``memory``'s labelled queries over ``cfg.fit.seeds``; keep the best.

    Returns:
        :class:`FitResult` whose ``metrics`` hold ``val_auc``, ``best_seed``, ``best_epoch`` and
        ``per_seed`` results.
    """
    cfg = cfg or MemRewardConfig()
    g = memory.groups
    graph = graph if graph is not None else build_graph(g, memory.labels, cfg.graph)
    has_label = np.zeros(g.num_queries, dtype=bool)
    has_label[g.rollout_query[memory.labels >= 0]] = True
    train_q, val_q = split_labelled(memory.query_labelled & has_label, cfg.fit.val_fraction, cfg.fit.seed)
    rq = g.rollout_query
    known = memory.labels >= 0
    y = torch.as_tensor(np.where(known, memory.labels, 0), dtype=torch.float32)
    in_train = np.isin(rq, train_q) & known
    val_rollouts = torch.as_tensor(np.flatnonzero(np.isin(rq, val_q) & known))
    fit_labels = np.where(np.isin(rq, train_q), memory.labels, -1)
    base_label_in = torch.from_numpy(query_label_inputs(fit_labels, rq, g.num_queries))

    def sampler(rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        k = max(1, int(round(len(train_q) * cfg.fit.target_fraction)))
        targets_q = rng.choice(train_q, size=min(k, len(train_q)), replace=False)
        label_in = base_label_in.clone()
        label_in[torch.as_tensor(targets_q)] = 0.0
        return label_in, torch.as_tensor(np.flatnonzero(np.isin(rq, targets_q) & known))

    def forward(model: nn.Module, label_in: Tensor | None) -> Tensor:
        return model(graph, base_label_in if label_in is None else label_in)

    feats = g.feats
    train_ids = np.flatnonzero(in_train)
    anchor_x = MemRewardGNN.anchor_x(graph, base_label_in).numpy()[train_ids]
    per_seed, best, anchor_info = [], None, {}
    for seed in cfg.fit.seeds:
        torch.manual_seed(seed)
        model = MemRewardGNN(g.query_emb.shape[1], feats.shape[1], cfg.gnn, conv=conv)
        if cfg.gnn.vote_anchor:
            y_tr = memory.labels[train_ids].astype(np.int64)
            anchor_info = fit_anchor(anchor_x, y_tr, rq[train_ids], model.anchor)
        auc, epoch, history = train_loop(
            model, forward, y, sampler, val_rollouts, cfg.fit.epochs, cfg.fit.lr, cfg.fit.weight_decay,
            cfg.fit.patience, seed,
        )  # fmt: skip
        if cfg.gnn.vote_anchor:
            auc, epoch = _gate_residual(
                model, forward, history, epoch, val_rollouts, y[val_rollouts].numpy(), rq[val_rollouts.numpy()]
            )
        per_seed.append({"seed": seed, "val_auc": auc, "best_epoch": epoch})
        logger.info("seed %d: best validation AUC %.4f at epoch %d", seed, auc, epoch)
        if best is None or auc > best[0]:
            best = (auc, seed, epoch, model, history)
    auc, seed, epoch, model, history = best
    # Validation F1/CAG at the selected weights, labels of train queries as inputs.
    model.eval()
    with torch.no_grad():
        p_val = torch.sigmoid(forward(model, None)[val_rollouts]).numpy()
    from memreward_verl.metrics import binary_metrics

    val = binary_metrics(p_val, y[val_rollouts].numpy().astype(int), rq[val_rollouts.numpy()])
    metrics = {
        "val_auc": auc,
        "val_f1": val["f1"],
        "val_cag": val["cag"],
        "val_accuracy": val["accuracy"],
        "best_seed": seed,
        "best_epoch": epoch,
        "per_seed": per_seed,
        "train_queries": int(len(train_q)),
        "val_queries": int(len(val_q)),
        "conv": conv,
        **anchor_info,
    }
    return FitResult(
        model=model, metrics=metrics, graph=graph, train_queries=train_q, val_queries=val_q, history=history
    )


def _query_bootstrap_gain(p_new: np.ndarray, p_old: np.ndarray, y: np.ndarray, q: np.ndarray, n: int = 200):
    """Mean and std of AUC(p_new) - AUC(p_old) over bootstrap resamples of whole queries.

    Rollouts of one query are strongly correlated, so resampling QUERIES (not rollouts) gives an
    honest spread when validation holds only a few of them.
    """
    rng = np.random.default_rng(0)
    uniq = np.unique(q)
    members = [np.flatnonzero(q == u) for u in uniq]
    gains = []
    for _ in range(n):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))])
        if len(np.unique(y[idx])) == 2:
            gains.append(roc_auc_score(y[idx], p_new[idx]) - roc_auc_score(y[idx], p_old[idx]))
    return (float(np.mean(gains)), float(np.std(gains))) if len(gains) >= 20 else (0.0, math.inf)


def _gate_residual(model: MemRewardGNN, forward, history: list, epoch: int, val_rollouts, y_val, q_val):
    """Keep the GNN residual only if it beats the anchor alone by one query-bootstrap SE on validation.

    The best epoch's validation AUC is optimistic (it was selected on the same queries); without a
    gain larger than its query-level bootstrap standard error the residual is zeroed and the model
    IS the cross-validated anchor.

    Returns:
        ``(validation AUC of the kept model, kept epoch)``.
    """
    anchor_auc = history[0]["val_auc"]
    if epoch > 0 and not math.isnan(anchor_auc):
        with torch.no_grad():
            p_new = forward(model, None)[val_rollouts].numpy()
            saved = (model.head[-1].weight.clone(), model.head[-1].bias.clone())
            model.head[-1].weight.zero_()
            model.head[-1].bias.zero_()
            p_old = forward(model, None)[val_rollouts].numpy()
            model.head[-1].weight.copy_(saved[0])
            model.head[-1].bias.copy_(saved[1])
        gain, se = _query_bootstrap_gain(p_new, p_old, y_val, q_val)
        if gain - se > 0:
            return next(h["val_auc"] for h in history if h["epoch"] == epoch), epoch
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.zero_()
    return anchor_auc, 0


def full_label_inputs(memory: ExperienceMemory) -> Tensor:
    """Label inputs at inference: every labelled query of the memory is known."""
    g = memory.groups
    return torch.from_numpy(query_label_inputs(memory.labels, g.rollout_query, g.num_queries))


def predict_memory(model: nn.Module, memory: ExperienceMemory, cfg: MemRewardConfig, graph=None) -> np.ndarray:
    """Probabilities ``[R]`` for every rollout of the memory graph (transductive inference)."""
    graph = graph if graph is not None else build_graph(memory.groups, memory.labels, cfg.graph)
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(graph, full_label_inputs(memory))).numpy()
