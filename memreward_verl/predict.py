"""Score new groups against a frozen memory in O(new groups), not O(memory).

A new group (a query + its n rollouts) is attached to the memory by query kNN, with edges from
memory queries INTO the new query only. Memory states therefore do not depend on new nodes, so
the per-layer query states of the whole memory are computed once (``refresh``) and cached; each
call runs the GNN layers over the new nodes plus the cached states of their k neighbours. The
result is exactly what a full forward pass over memory + new groups (wired that way) gives.

An ensemble (ensemble.py) caches each member's states and averages the members' logits, as its
full forward pass does; a member whose residual is zero (an anchor served alone) needs no states.

Call :meth:`Predictor.refresh` after the memory's labels or contents change.
"""

from __future__ import annotations

import numpy as np
import torch

from memreward_verl import schema as S
from memreward_verl.config import MemRewardConfig
from memreward_verl.ensemble import FoldEnsemble
from memreward_verl.fit import full_label_inputs, probabilities
from memreward_verl.gnn import anchor_inputs, neighbour_label_features
from memreward_verl.graph import agreement_edges, build_graph, structural_edges
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import ExperienceMemory, MemoryFormatError

__all__ = ["Predictor"]


class Predictor:
    """Online scorer: a trained model over a frozen memory.

    Args:
        model: the trained :class:`FoldEnsemble` (put in eval mode).
        memory: the experience memory it was trained on (or a grown copy).
        cfg: configuration used to build the memory graph.
    """

    def __init__(self, model: FoldEnsemble, memory: ExperienceMemory, cfg: MemRewardConfig) -> None:
        self.model = model.eval()
        self.memory = memory
        self.cfg = cfg
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute the cached per-layer query states of the memory (after label changes)."""
        g = self.memory.groups
        graph = build_graph(g, self.memory.labels, self.cfg.graph)
        self._label_in = full_label_inputs(self.memory)
        # per member: the input of layer l for every memory query, [Q_mem, hidden]; None: an anchor alone
        self._query_states: list[list[torch.Tensor] | None] = []
        for member in self.model.members:
            if member.residual_free:  # an anchor served alone reads no node states
                self._query_states.append(None)
                continue
            h = member.encode(graph.x_dict, graph[S.ANSWER].feats, self._label_in)
            states = [h[S.QUERY]]
            for i in range(len(member.layers) - 1):
                h = member.layer(i, h, graph.edge_index_dict)
                states.append(h[S.QUERY])
            self._query_states.append(states)

    @torch.no_grad()
    def predict_groups(self, new: EncodedGroups) -> np.ndarray:
        """Probabilities ``[R_new]`` for the rollouts of new groups.

        Raises:
            MemoryFormatError: when ``new`` was embedded with another model than the memory.
        """
        if new.model_id != self.memory.model_id:
            raise MemoryFormatError(
                f"new groups were embedded with {new.model_id!r}, the memory with {self.memory.model_id!r}"
            )
        if new.num_rollouts == 0:
            return np.zeros(0)
        k = self.cfg.graph.query_knn
        _, nbrs = self.memory.index.search(new.query_emb, k) if k else (None, np.zeros((new.num_queries, 0), int))
        mem_ids, local = np.unique(nbrs[nbrs >= 0], return_inverse=True)
        m = len(mem_ids)
        edges = {et: ei.clone() for et, ei in structural_edges(new.rollout_query).items()}
        for et in (S.Q_THINK, S.Q_A):
            edges[et][0] += m  # new queries sit after the m memory neighbours
        for et in (S.THINK_Q, S.A_Q):
            edges[et][1] += m
        if self.cfg.graph.query_edges == "both" and m:
            dst = np.repeat(np.arange(new.num_queries), nbrs.shape[1])[nbrs.reshape(-1) >= 0] + m
            edges[S.Q_SIM] = torch.as_tensor(np.stack([local, dst]), dtype=torch.long)
        if self.cfg.graph.answer_agreement:
            edges[S.A_AGREE] = agreement_edges(new, self.cfg.graph)
        x = {
            S.QUERY: torch.from_numpy(np.asarray(new.query_emb, np.float32)),
            S.THINK: torch.from_numpy(np.asarray(new.think_emb, np.float32)),
            S.ANSWER: torch.from_numpy(np.asarray(new.answer_emb, np.float32)),
        }
        feats = torch.from_numpy(np.asarray(new.feats, np.float32))
        mem_idx = torch.as_tensor(mem_ids, dtype=torch.long)
        rq = torch.as_tensor(new.rollout_query, dtype=torch.long)
        label_in = torch.cat([self._label_in[mem_idx], torch.zeros((new.num_queries, 2))])
        q_sim = edges.get(S.Q_SIM, torch.zeros((2, 0), dtype=torch.long))
        anchor_x = anchor_inputs(feats, neighbour_label_features(label_in, q_sim, m + new.num_queries)[m:], rq)
        logits = []
        for member, states in zip(self.model.members, self._query_states, strict=True):
            if states is None:
                logits.append(member.anchor_logit(anchor_x))
                continue
            h = member.encode(x, feats, None)  # new queries carry no labels
            for i in range(len(member.layers)):
                h[S.QUERY] = torch.cat([states[i][mem_idx], h[S.QUERY][-new.num_queries :]])
                h = member.layer(i, h, edges)
            h[S.QUERY] = h[S.QUERY][-new.num_queries :]
            logits.append(member.score(h, anchor_x, rq))
        return probabilities(torch.stack(logits).mean(dim=0))
