"""The served model: the mean logit of the fold models the fit judged.

:func:`memreward_verl.fit.fit_gnn` keeps a GNN residual only if every fold's model, each on the
queries it never trained on, beats its anchor out of fold. Serving one fold's model serves one draw
of that judgement: on Faithful-CoT at 10% labels (seed 2) fold 0's model, stopped at its own epoch
with its own anchor kind, scored test AUC 0.781 where the vote scored 0.809 and the mean of the four
fold models 0.873. The mean of their logits is what was judged, with one fold's variance averaged out.
Where only an anchor is served (no residual kept) the members are every fold's anchor of the served
kind, judged the same way; such members skip message passing (``MemRewardGNN.residual_free``).

Member 0 is fold 0's model: it never trained on ``FitResult.val_queries``, so held-out examples
(acquisition warm starts) are predicted with :attr:`FoldEnsemble.heldout` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from memreward_verl.gnn import MemRewardGNN

__all__ = ["FoldEnsemble"]


class FoldEnsemble(nn.Module):
    """Mean logit of one or more :class:`MemRewardGNN` (same graph, same label inputs).

    Raises:
        ValueError: without members.
    """

    def __init__(self, members: Sequence[MemRewardGNN]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a FoldEnsemble needs at least one member model")
        self.members = nn.ModuleList(members)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.members)} x {self.members[0]!r})"

    @property
    def heldout(self) -> MemRewardGNN:
        """Fold 0's model: the member that never trained on the fit's validation queries."""
        return self.members[0]

    def forward(self, data: HeteroData, label_in: Tensor | None = None) -> Tensor:
        """Full-graph logits ``[R]``: the mean over members of :meth:`MemRewardGNN.forward`."""
        return torch.stack([m(data, label_in) for m in self.members]).mean(dim=0)

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """``{"members": [{"model_args", "state_dict"}, ...]}``: tensors and plain values only."""
        return {"members": [{"model_args": m.model_args(), "state_dict": m.state_dict()} for m in self.members]}

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> FoldEnsemble:
        """Rebuild from :meth:`checkpoint`, or from one model's ``{"model_args", "state_dict"}`` (artifact
        format 2, one fold's model: a one-member ensemble, the same scores)."""
        members = ckpt["members"] if "members" in ckpt else [ckpt]
        if not isinstance(members, list) or not members:
            raise ValueError("'members' must be a non-empty list of {'model_args', 'state_dict'}")
        return cls([MemRewardGNN.from_checkpoint(m) for m in members]).eval()
