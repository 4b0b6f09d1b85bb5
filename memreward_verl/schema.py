"""Node types and relation triplets of the memory graph, defined once (PyG vocabulary).

Every rollout is one ``think`` node and one ``answer`` node with the same index; every query one
``query`` node. Relations come in both directions so information reaches every node type.
"""

from __future__ import annotations

__all__ = ["NodeType", "EdgeType", "QUERY", "THINK", "ANSWER", "NODE_TYPES", "EDGE_TYPES", "STRUCTURAL_EDGES"]

NodeType = str
EdgeType = tuple[str, str, str]

QUERY: NodeType = "query"
THINK: NodeType = "think"
ANSWER: NodeType = "answer"
NODE_TYPES: tuple[NodeType, ...] = (QUERY, THINK, ANSWER)

# Structural edges of one group: query -> think -> answer, the query-answer shortcut, reversed too.
Q_THINK: EdgeType = (QUERY, "has", THINK)
THINK_Q: EdgeType = (THINK, "of", QUERY)
THINK_A: EdgeType = (THINK, "leads_to", ANSWER)
A_THINK: EdgeType = (ANSWER, "from", THINK)
Q_A: EdgeType = (QUERY, "has_answer", ANSWER)
A_Q: EdgeType = (ANSWER, "answers", QUERY)
STRUCTURAL_EDGES: tuple[EdgeType, ...] = (Q_THINK, THINK_Q, THINK_A, A_THINK, Q_A, A_Q)

# Query-query cosine kNN (labelled <-> unlabelled) and answer agreement within a group.
Q_SIM: EdgeType = (QUERY, "similar", QUERY)
A_AGREE: EdgeType = (ANSWER, "agrees", ANSWER)

EDGE_TYPES: tuple[EdgeType, ...] = (*STRUCTURAL_EDGES, Q_SIM, A_AGREE)
