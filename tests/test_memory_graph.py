"""Experience memory (labels, index, save/load) and the graph built from it."""

import json

import numpy as np
import pytest

from memreward_verl import schema as S
from memreward_verl.config import GraphConfig, MemoryConfig
from memreward_verl.embed import EmbedConfig, load_embedder
from memreward_verl.graph import build_graph, query_knn_edges
from memreward_verl.memory import ExperienceMemory, MemoryFormatError, QueryIndex


def test_memory_keeps_only_labelled_queries_labels(arith_groups):
    labelled = arith_groups.query_ids[:10]
    mem = ExperienceMemory(arith_groups, labelled)
    rq = arith_groups.rollout_query
    assert (mem.labels[rq < 10] == arith_groups.labels[rq < 10]).all()
    assert (mem.labels[rq >= 10] == -1).all()
    with pytest.raises(ValueError, match="not in the memory"):
        ExperienceMemory(arith_groups, ["nope"])


def test_memory_save_load_round_trip_and_errors(arith_groups, tmp_path, embedder):
    mem = ExperienceMemory(arith_groups, arith_groups.query_ids[:10])
    mem.save(tmp_path / "mem")
    mem.save(tmp_path / "mem")  # overwrite atomically
    back = ExperienceMemory.load(tmp_path / "mem", expected_model_id=embedder.model_id)
    assert back.labelled_ids == mem.labelled_ids
    assert np.array_equal(back.labels, mem.labels)
    assert np.array_equal(back.groups.think_emb, mem.groups.think_emb)
    assert back.groups.answer_keys == mem.groups.answer_keys
    with pytest.raises(MemoryFormatError, match="embedded with"):
        ExperienceMemory.load(tmp_path / "mem", expected_model_id="other-model@256")
    meta = json.loads((tmp_path / "mem" / "memory.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "mem" / "memory.json").write_text(json.dumps(meta))
    with pytest.raises(MemoryFormatError, match="format version"):
        ExperienceMemory.load(tmp_path / "mem")
    (tmp_path / "mem" / "arrays.npz").unlink()
    with pytest.raises(MemoryFormatError, match="missing arrays.npz"):
        ExperienceMemory.load(tmp_path / "mem")


def test_query_index_exact_and_approximate():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2000, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    exact = QueryIndex(emb)
    approx = QueryIndex(emb, MemoryConfig(approx_index_threshold=1000, ivf_nlist=16, ivf_nprobe=16))
    assert exact.exact and not approx.exact
    _, ids_e = exact.search(emb[:50], 1)
    _, ids_a = approx.search(emb[:50], 1)
    assert (ids_e[:, 0] == np.arange(50)).all() and (ids_a[:, 0] == np.arange(50)).all()


def test_graph_edges_flow_from_labelled_to_unlabelled(arith_groups):
    mem = ExperienceMemory(arith_groups, arith_groups.query_ids[:20])
    data = build_graph(arith_groups, mem.labels, GraphConfig())
    assert set(data.edge_types) == set(S.EDGE_TYPES)
    src, dst = data[S.Q_SIM].edge_index
    labelled = np.zeros(arith_groups.num_queries, bool)
    labelled[:20] = True
    assert (labelled[src.numpy()] & ~labelled[dst.numpy()]).any(), "no labelled -> unlabelled edge"
    assert (data[S.QUERY].label_in[:20, 0] == 1).all() and (data[S.QUERY].label_in[20:] == 0).all()
    # Agreement edges only join rollouts of one query with equivalent answers (one answer cluster).
    a_src, a_dst = data[S.A_AGREE].edge_index.numpy()
    rq = arith_groups.rollout_query
    assert (rq[a_src] == rq[a_dst]).all()
    clusters = arith_groups.cluster_ids(GraphConfig().agreement_cosine)
    assert (clusters[a_src] == clusters[a_dst]).all() and len(a_src) > 0


def test_reference_style_edges_never_reach_unlabelled():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(30, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labelled = np.zeros(30, bool)
    labelled[:10] = True
    src, dst = query_knn_edges(emb, 3, "to_memory", labelled).numpy()
    assert labelled[dst].all()
    src, dst = query_knn_edges(emb, 3, "both").numpy()
    assert (~labelled[dst]).any()


def test_unknown_embedding_model_is_an_error():
    with pytest.raises(FileNotFoundError, match="allow_download"):
        load_embedder(EmbedConfig(model_name="org/not-a-packaged-model"))
