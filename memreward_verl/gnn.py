"""The MemReward GNN, whole, in reading order.

    inputs  query:  [query emb | label known | mean label]   (label part masked per query in training)
            think:  [thinking emb]
            answer: [answer emb | group features]
    encode  one Linear per node type -> hidden
    layers  HeteroConv of one GATv2Conv per relation (schema.py), residual + ReLU + dropout
    score   logit = anchor([group features | neighbour labels]) + MLP([h_answer | h_think | h_query])

The anchor is a logistic regression on the label-free group features (answer agreement and
friends) plus a parameter-free label propagation step (the mean label of each query's labelled
kNN neighbours: how hard similar labelled queries were). It is fitted first and frozen; the MLP's
last layer starts at zero, so training starts from the calibrated anchor and early stopping on
validation AUC keeps the GNN only where it helps.

The forward pass is split into ``encode`` / ``layer`` / ``score`` so online prediction can run the
layers over a few new nodes plus cached memory states (predict.py) instead of the whole memory.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATv2Conv, HeteroConv, SAGEConv

from memreward_verl import schema as S
from memreward_verl.config import GNNConfig
from memreward_verl.features import vote_score

__all__ = ["MemRewardGNN", "neighbour_label_features", "anchor_inputs", "NUM_NEIGHBOUR_FEATURES"]

NUM_NEIGHBOUR_FEATURES = 3


def neighbour_label_features(label_in: Tensor, edge_index: Tensor, num_queries: int) -> Tensor:
    """One parameter-free propagation step of query labels along query-query edges.

    Args:
        label_in: ``[Q_src, 2]`` (known, mean label) of source queries; masked rows are unknown.
        edge_index: ``[2, E]`` query -> query edges (source rows index ``label_in``).
        num_queries: number of destination queries.

    Returns:
        ``[num_queries, 2]``: (mean label of labelled neighbours - 0.5, or 0 without any;
        share of neighbours that are labelled).
    """
    src, dst = edge_index
    known = label_in[src, 0]
    ones = torch.ones_like(known)
    n_all = torch.zeros(num_queries).index_add_(0, dst, ones)
    n_known = torch.zeros(num_queries).index_add_(0, dst, known)
    pos = torch.zeros(num_queries).index_add_(0, dst, known * label_in[src, 1])
    mean_c = torch.where(n_known > 0, pos / n_known.clamp(min=1) - 0.5, torch.zeros_like(pos))
    return torch.stack([mean_c, n_known / n_all.clamp(min=1)], dim=1)


def anchor_inputs(feats: Tensor, nbr: Tensor, rollout_query: Tensor) -> Tensor:
    """``[R, F + 3]``: group features with the vote score (:func:`vote_score`) in column 0 in place of the
    share, neighbour labels, and their product with the vote score."""
    nbr_r = nbr[rollout_query]  # [R, 2]
    vote = vote_score(feats).unsqueeze(1)
    return torch.cat([vote, feats[:, 1:], nbr_r, vote * nbr_r[:, :1]], dim=1)


class MemRewardGNN(nn.Module):
    """Heterogeneous GNN scoring every rollout's probability of being correct.

    Args:
        emb_dim: sentence-embedding size ``d``.
        feat_dim: number of group features ``F``.
        cfg: architecture settings.
        conv: ``"gatv2"`` (default) or ``"sage"`` relation convolution.

    Shapes:
        forward(data) -> ``[R]`` logits, one per rollout (answer node).
    """

    def __init__(self, emb_dim: int, feat_dim: int, cfg: GNNConfig | None = None, conv: str = "gatv2") -> None:
        super().__init__()
        self.cfg = cfg or GNNConfig()
        if conv not in ("gatv2", "sage"):
            raise ValueError(f"'conv' must be either 'gatv2' or 'sage' (got {conv!r})")
        self.emb_dim, self.feat_dim, self.conv_kind = emb_dim, feat_dim, conv
        h = self.cfg.hidden
        q_in = emb_dim + (2 if self.cfg.label_inputs else 0)
        self.encoders = nn.ModuleDict(
            {S.QUERY: nn.Linear(q_in, h), S.THINK: nn.Linear(emb_dim, h), S.ANSWER: nn.Linear(emb_dim + feat_dim, h)}
        )
        self.layers = nn.ModuleList(
            HeteroConv({et: self._make_conv(h) for et in S.EDGE_TYPES}, aggr="sum") for _ in range(self.cfg.num_layers)
        )
        self.dropout = nn.Dropout(self.cfg.dropout)
        self.head = nn.Sequential(nn.Linear(3 * h, h), nn.ReLU(), nn.Dropout(self.cfg.dropout), nn.Linear(h, 1))
        self.anchor = nn.Linear(feat_dim + NUM_NEIGHBOUR_FEATURES, 1)
        self.reset_parameters()

    def _make_conv(self, h: int) -> nn.Module:
        if self.conv_kind == "sage":
            return SAGEConv((h, h), h)
        heads = self.cfg.heads
        return GATv2Conv((h, h), h // heads, heads=heads, add_self_loops=False, dropout=self.cfg.dropout)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        # Zero residual at start: the model begins as the calibrated anchor.
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        nn.init.zeros_(self.anchor.weight)
        nn.init.zeros_(self.anchor.bias)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(emb_dim={self.emb_dim}, feat_dim={self.feat_dim}, hidden={self.cfg.hidden}, "
            f"layers={self.cfg.num_layers}, conv={self.conv_kind}, label_inputs={self.cfg.label_inputs}, "
            f"vote_anchor={self.cfg.vote_anchor})"
        )

    # -- the three stages ----------------------------------------------------------------------
    def encode(self, x_dict: dict[str, Tensor], feats: Tensor, label_in: Tensor | None) -> dict[str, Tensor]:
        """Project node inputs to ``hidden``: ``{type: [N_type, hidden]}``."""
        q = x_dict[S.QUERY]
        if self.cfg.label_inputs:
            label_in = label_in if label_in is not None else q.new_zeros((q.shape[0], 2))
            q = torch.cat([q, label_in], dim=1)  # [Q, d + 2]
        inputs = {S.QUERY: q, S.THINK: x_dict[S.THINK], S.ANSWER: torch.cat([x_dict[S.ANSWER], feats], dim=1)}
        return {t: torch.relu(self.encoders[t](self.dropout(x))) for t, x in inputs.items()}

    def layer(self, i: int, h_dict: dict[str, Tensor], edge_index_dict: dict[Any, Tensor]) -> dict[str, Tensor]:
        """Layer ``i``: messages along every relation present; types without messages pass through."""
        out = self.layers[i](h_dict, edge_index_dict)
        return {t: self.dropout(h + torch.relu(out[t])) if t in out else h for t, h in h_dict.items()}

    def score(self, h_dict: dict[str, Tensor], anchor_x: Tensor, rollout_query: Tensor) -> Tensor:
        """Rollout logits ``[R]`` from final states and anchor inputs; rollout i is think i and answer i."""
        z = torch.cat([h_dict[S.ANSWER], h_dict[S.THINK], h_dict[S.QUERY][rollout_query]], dim=1)  # [R, 3h]
        return self.head(z).squeeze(-1) + self.anchor_logit(anchor_x)

    @property
    def residual_free(self) -> bool:
        """The residual's last layer is zero: every logit is the anchor's alone, whatever the node states."""
        last = self.head[-1]
        return not (bool(last.weight.any()) or bool(last.bias.any()))

    def anchor_logit(self, anchor_x: Tensor) -> Tensor:
        """The anchor's part of :meth:`score`, ``[R]`` (zero without ``vote_anchor``): all of it where the
        model is :attr:`residual_free`."""
        if self.cfg.vote_anchor:
            return self.anchor(anchor_x).squeeze(-1)
        return anchor_x.new_zeros(anchor_x.shape[0])

    def forward(self, data: HeteroData, label_in: Tensor | None = None) -> Tensor:
        """Full-graph logits ``[R]``; ``label_in`` overrides ``data['query'].label_in`` (masking).

        In eval mode a :attr:`residual_free` model (an anchor served alone) skips message passing: the
        residual it would add is exactly zero. Training always runs it (the residual's gradient needs it).
        """
        label_in = data[S.QUERY].label_in if label_in is None else label_in
        if not self.training and self.residual_free:
            return self.anchor_logit(self.anchor_x(data, label_in))
        feats, rq = data[S.ANSWER].feats, data[S.ANSWER].rollout_query
        h = self.encode(data.x_dict, feats, label_in)
        for i in range(len(self.layers)):
            h = self.layer(i, h, data.edge_index_dict)
        return self.score(h, self.anchor_x(data, label_in), rq)

    @staticmethod
    def anchor_x(data: HeteroData, label_in: Tensor) -> Tensor:
        """Anchor inputs of every rollout of ``data`` under the given (masked) label inputs."""
        nbr = neighbour_label_features(label_in, data[S.Q_SIM].edge_index, data[S.QUERY].num_nodes)
        return anchor_inputs(data[S.ANSWER].feats, nbr, data[S.ANSWER].rollout_query)

    # -- checkpoints ---------------------------------------------------------------------------
    def model_args(self) -> dict[str, Any]:
        return {"emb_dim": self.emb_dim, "feat_dim": self.feat_dim, "cfg": asdict(self.cfg), "conv": self.conv_kind}

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> MemRewardGNN:
        """Rebuild the exact model from ``{"model_args": ..., "state_dict": ...}``."""
        args = dict(ckpt["model_args"])
        model = cls(args["emb_dim"], args["feat_dim"], GNNConfig(**args["cfg"]), conv=args["conv"])
        model.load_state_dict(ckpt["state_dict"])
        model.eval()
        return model
