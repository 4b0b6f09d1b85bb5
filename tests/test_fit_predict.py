"""Warm-up training, propagation, leakage, incremental prediction and artifacts."""

import copy
import dataclasses

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from memreward_verl import schema as S
from memreward_verl.anchor import fit_anchor
from memreward_verl.artifact import ArtifactError, build_artifact, load_artifact
from memreward_verl.decision import threshold_key
from memreward_verl.ensemble import FoldEnsemble
from memreward_verl.features import GROUP_FEATURES, vote_score
from memreward_verl.fit import _label_inputs, fit_gnn, full_label_inputs, predict_memory, split_labelled
from memreward_verl.gnn import MemRewardGNN
from memreward_verl.graph import agreement_edges, build_graph
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import ExperienceMemory
from memreward_verl.predict import Predictor

LABELLED = 20


def _subset(groups: EncodedGroups, q_idx: np.ndarray) -> EncodedGroups:
    """The groups of the given queries, re-indexed (a 'new' batch of groups)."""
    mask = np.isin(groups.rollout_query, q_idx)
    remap = {int(q): i for i, q in enumerate(q_idx)}
    return dataclasses.replace(
        groups,
        query_ids=[groups.query_ids[i] + "-new" for i in q_idx],
        domains=[groups.domains[i] for i in q_idx],
        query_emb=groups.query_emb[q_idx],
        think_emb=groups.think_emb[mask],
        answer_emb=groups.answer_emb[mask],
        feats=groups.feats[mask],
        rollout_query=np.array([remap[int(q)] for q in groups.rollout_query[mask]]),
        labels=np.full(int(mask.sum()), -1, np.int8),
        answer_keys=[k for k, m in zip(groups.answer_keys, mask) if m],
    )


@pytest.fixture(scope="module")
def trained(arith_groups):
    from memreward_verl.config import MemRewardConfig

    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience, cfg.fit.seeds = 40, 10, (0,)
    mem = ExperienceMemory(arith_groups, arith_groups.query_ids[:LABELLED])
    return cfg, mem, fit_gnn(mem, cfg)


def test_probabilities_keep_ties_and_order():
    """Equal logits get one probability wherever they sit in the array, and confident logits stay ordered."""
    from memreward_verl.fit import probabilities

    tied = probabilities(torch.full((1000,), -1.4565852))
    assert tied.dtype == np.float64 and np.ptp(tied) == 0
    assert np.all(np.diff(probabilities(torch.tensor([17.0, 20.0, 30.0, 40.0]))) > 0)  # float32 sigmoid: all 1.0


def test_split_is_by_query_and_seeded():
    mask = np.ones(10, bool)
    tr, va = split_labelled(mask, 0.3, seed=3)
    assert len(va) == 3 and not set(tr) & set(va)
    assert np.array_equal(tr, split_labelled(mask, 0.3, seed=3)[0])
    with pytest.raises(ValueError, match="at least 2"):
        split_labelled(np.array([True, False]), 0.3, 0)


def test_fit_reports_its_out_of_fold_choice(trained):
    """One model per fold, and what is served follows from the out-of-fold evidence the report shows."""
    cfg, mem, result = trained
    m = result.metrics
    assert {"val_f1", "val_cag", "anchor", "cv_auc", "per_fold", "oof_auc", "residual_kept", "fallback_to_vote"} <= set(
        m
    )
    assert m["folds"] == len(m["per_fold"]) == cfg.fit.folds
    assert m["anchor"].removesuffix("_flat") in ("vote", "vote_nbr", "features", "full")
    assert m["members"] == len(result.model.members) == cfg.fit.folds  # every fold's model is served
    if not m["residual_kept"]:  # the GNN did not earn its place: every fold's anchor of the served kind
        assert m["best_epoch"] == 0 and all(member.residual_free for member in result.model.members)
        assert [a.removesuffix("_flat") for a in m["served_anchors"]] == [m["anchor"].removesuffix("_flat")] * 4
    # the last guard: the whole model only where its gain over the vote clears vote_gain_z deviations
    gain, sd = m["gain_over_vote"]
    assert m["fallback_to_vote"] == (gain - cfg.fit.vote_gain_z * sd <= 0)
    if m["fallback_to_vote"]:
        assert m["anchor"].removesuffix("_flat") == "vote" and not m["residual_kept"]
    elif not m["residual_kept"]:  # the anchor alone: of the kind most folds chose
        kinds = [a.removesuffix("_flat") for a in m["fold_anchors"]]
        assert kinds.count(m["anchor"].removesuffix("_flat")) == max(map(kinds.count, kinds))
    # the hard rule for hard_rule=auto: the default (the vote's plurality on a fallback, else threshold; these
    # rollouts are answers, not programs) unless another rule's out-of-fold CAG is lower (constant: the default
    # never split a group)
    default = "plurality" if m["fallback_to_vote"] else "threshold"
    assert m["hard_rule_default"] == default
    key = threshold_key(m["hard_threshold"]) if m["hard_threshold"] != cfg.reward.threshold else m["hard_rule"]
    assert key in m["oof_cag"] and (m["hard_rule"] == "threshold" or m["hard_threshold"] == cfg.reward.threshold)
    assert key == default or m["oof_cag"][key] < m["oof_cag"][default] or m["oof_cag"][key] == m["oof_cag"][default]
    # fold 0's queries are held out of the served model's training and never overlap its training queries
    assert not set(result.val_queries) & set(result.train_queries)


@pytest.mark.parametrize("programs", [False, True], ids=["answers", "programs"])
def test_noise_labels_fall_back_to_the_calibrated_vote(arith_groups, programs):
    """Labels that carry no signal cannot buy a learned part: the served model ranks exactly like the vote
    score, which for a program that ran is its execution agreement score, not its cluster share."""
    from memreward_verl.config import MemRewardConfig

    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience = 30, 8
    rng = np.random.default_rng(1)
    feats = arith_groups.feats.copy()
    if programs:  # most rollouts "ran", with an execution score that disagrees with their share
        ran = rng.random(len(feats)) < 0.75
        feats[:, GROUP_FEATURES.index("exec_ran")] = ran
        feats[:, GROUP_FEATURES.index("exec_score")] = np.where(ran, 1.0 - feats[:, 0], 0.0)
    noisy = dataclasses.replace(
        arith_groups, feats=feats, labels=rng.integers(0, 2, arith_groups.num_rollouts).astype(np.int8)
    )
    mem = ExperienceMemory(noisy, noisy.query_ids[:40])
    result = fit_gnn(mem, cfg)
    assert result.metrics["fallback_to_vote"] and not result.metrics["residual_kept"]
    # the plain vote's own rule is the default only where the vote score is the plain vote
    assert result.metrics["hard_rule_default"] == ("threshold" if programs else "plurality")
    prob = predict_memory(result.model, mem, cfg)
    vote = vote_score(feats)
    if programs:
        assert not np.allclose(vote, feats[:, 0])
    order = np.lexsort((prob, vote))  # by vote score, ties by prob
    assert np.all(np.diff(prob[order]) >= 0), "a higher vote score never gets a lower probability"
    for v in np.unique(vote):
        assert np.ptp(prob[vote == v]) == 0
    assert len(np.unique(prob.round(5))) > 1


@pytest.mark.parametrize("label", [1, 0], ids=["all-right", "all-wrong"])
def test_one_class_labels_serve_the_vote_ranking_at_the_base_rate(arith_groups, label):
    """Labelled rollouts all right (an easy set at a low label ratio) or all wrong (Game-24): no label can
    calibrate the vote, but the served model still ranks as the vote does (a constant would rank below it:
    Qwen MATH at 10% labels, seed 1, served AUC 0.500 against the vote's 0.866), near the base rate."""
    from memreward_verl.config import MemRewardConfig

    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience = 20, 5
    one = dataclasses.replace(arith_groups, labels=np.full(arith_groups.num_rollouts, label, np.int8))
    mem = ExperienceMemory(one, one.query_ids[:LABELLED])
    result = fit_gnn(mem, cfg)
    assert result.metrics["anchor"] == "vote_flat" and not result.metrics["residual_kept"]
    prob = predict_memory(result.model, mem, cfg)
    vote = vote_score(one.feats)
    order = np.lexsort((prob, vote))
    assert np.all(np.diff(prob[order]) >= 0), "a higher vote score never gets a lower probability"
    for v in np.unique(vote):  # ties of the vote stay ties, exactly (a broken tie moves AUC: fit.probabilities)
        assert np.ptp(prob[vote == v]) == 0
    assert len(np.unique(prob)) == len(np.unique(vote)) > 1  # every step of the vote is a step of prob
    assert np.all(prob > 0.9) if label else np.all(prob < 0.1)


def test_query_bootstrap_gain_needs_a_real_gain():
    from memreward_verl.fit import query_bootstrap_gain, significant

    rng = np.random.default_rng(0)
    q = np.repeat(np.arange(60), 8)
    y = rng.integers(0, 2, len(q))
    weak = y + rng.normal(0, 2.0, len(q))
    strong = y + rng.normal(0, 0.3, len(q))
    assert not significant(query_bootstrap_gain(weak, weak, y, q), 0.0)  # no gain over itself
    assert significant(query_bootstrap_gain(strong, weak, y, q), 2.0)
    assert not significant(query_bootstrap_gain(weak, strong, y, q), 0.0)
    assert query_bootstrap_gain(strong[:8], weak[:8], y[:8], q[:8]) == (0.0, float("inf"))  # one query: no evidence


@pytest.fixture(scope="module")
def propagating(embedder):
    """Few rollouts per query (a weak vote), difficulty shared by similar queries, half labelled."""
    from memreward_verl.config import MemRewardConfig
    from memreward_verl.groups import encode_groups
    from memreward_verl.testing import arithmetic_rollouts

    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience, cfg.fit.seeds = 40, 10, (0,)
    groups = encode_groups(arithmetic_rollouts(n_queries=120, n_rollouts=2, seed=5), embedder, cfg)
    mem = ExperienceMemory(groups, groups.query_ids[:60])
    return cfg, mem, fit_gnn(mem, cfg)


def test_a_stricter_vote_guard_serves_the_vote(propagating):
    """The same evidence under a guard it cannot clear: the calibrated vote is served, ranking as the vote."""
    cfg, mem, result = propagating
    strict = dataclasses.replace(cfg, fit=dataclasses.replace(cfg.fit, vote_gain_z=1e6))
    guarded = fit_gnn(mem, strict)
    assert guarded.metrics["gain_over_vote"] == result.metrics["gain_over_vote"]  # same folds, same evidence
    assert guarded.metrics["fallback_to_vote"] and not guarded.metrics["residual_kept"]
    assert guarded.metrics["anchor"].removesuffix("_flat") == "vote"
    # served as the vote serves itself (plurality) unless a rule beat that out of fold
    m = guarded.metrics
    key = threshold_key(m["hard_threshold"]) if m["hard_threshold"] != strict.reward.threshold else m["hard_rule"]
    assert key == "plurality" or m["oof_cag"][key] <= m["oof_cag"]["plurality"]
    prob, share = predict_memory(guarded.model, mem, strict), mem.groups.feats[:, 0]
    order = np.lexsort((prob, share))
    assert np.all(np.diff(prob[order]) >= -1e-6), "a higher vote share never gets a lower probability"


def test_auto_rule_leaves_the_default_only_by_auto_gain_z(propagating):
    """The fit's rule choice reads reward.auto_gain_z: no bar gives the lowest out-of-fold CAG, an unreachable
    bar the default rule, on the same evidence."""
    cfg, mem, _ = propagating
    chosen = {}
    for z in (0.0, 1e6):
        c = copy.deepcopy(cfg)
        c.reward.auto_gain_z = z
        chosen[z] = fit_gnn(mem, c).metrics
    loose, strict = chosen[0.0], chosen[1e6]
    assert loose["oof_cag"] == pytest.approx(strict["oof_cag"])
    default = "plurality" if strict["fallback_to_vote"] else "threshold"
    assert strict["hard_rule"] == strict["hard_rule_default"] == default
    assert strict["hard_threshold"] == cfg.reward.threshold
    key = threshold_key(loose["hard_threshold"]) if loose["hard_threshold"] != cfg.reward.threshold else None
    assert loose["oof_cag"][key or loose["hard_rule"]] == min(loose["oof_cag"].values()) < loose["oof_cag"][default]


@pytest.fixture(scope="module")
def by_wording(embedder):
    """Every group holds one right and one wrong answer twice: the vote ties everywhere (AUC 0.5), and only the
    wording of the reasoning tells right from wrong, which the GNN reads from the texts and the anchor cannot."""
    from memreward_verl.config import MemRewardConfig
    from memreward_verl.groups import encode_groups
    from memreward_verl.rollouts import Query, Rollout

    right = ["I checked each step twice and verified it.", "Verified carefully by recomputing every step."]
    wrong = ["I rushed through it and skipped the checks.", "Guessing quickly without checking anything."]
    rng = np.random.default_rng(0)
    queries = []
    for i in range(120):
        a, b = (int(x) for x in rng.integers(10, 99, size=2))
        value, off = a * b, a * b + int(rng.choice([-10, -1, 1, 10]))
        rollouts = [
            Rollout(text=f"{(right, wrong)[r % 2][r // 2]} {a} times {b} is {(value, off)[r % 2]}.\n#### "
                    f"{(value, off)[r % 2]}", label=int(r % 2 == 0))
            for r in range(4)
        ]  # fmt: skip
        queries.append(Query(f"w{i}", "math", "synthetic", f"What is {a} times {b}?", str(value), rollouts))
    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience = 40, 10
    mem = ExperienceMemory(encode_groups(queries, embedder, cfg), [f"w{i}" for i in range(60)])
    return cfg, mem, fit_gnn(mem, cfg)


def test_a_kept_residual_serves_every_fold_model(by_wording):
    """What was judged out of fold is every fold's model, so every one is served (their mean logit); fold 0's
    stays first, as the member that never trained on the validation queries."""
    cfg, mem, result = by_wording
    m, members = result.metrics, result.model.members
    assert m["residual_kept"] and not m["fallback_to_vote"] and m["members"] == len(members) == cfg.fit.folds
    assert all(member.head[-1].weight.any() for member in members)  # each member's residual, as trained
    heads = [member.head[-1].weight for member in members]
    assert not any(torch.equal(heads[0], h) for h in heads[1:])
    with torch.no_grad():
        li = full_label_inputs(mem)
        member_logits = torch.stack([member(result.graph, li) for member in members])
    prob = predict_memory(result.model, mem, cfg)
    np.testing.assert_allclose(prob, torch.sigmoid(member_logits.mean(0)).numpy(), rtol=1e-5, atol=1e-6)
    assert prob.dtype == np.float64
    unl = ~mem.query_labelled[mem.groups.rollout_query]
    assert roc_auc_score(mem.groups.labels[unl], prob[unl]) > 0.9  # the vote ties: 0.5
    # fold 0's held-out metrics are read with fold 0's member alone
    val = np.flatnonzero(np.isin(mem.groups.rollout_query, result.val_queries))
    with torch.no_grad():
        logits = result.model.heldout(result.graph, _label_inputs(mem, result.train_queries))[val]
    assert m["val_auc"] == pytest.approx(roc_auc_score(mem.labels[val], logits.numpy()))


def test_anchors_served_alone_are_every_fold_anchor(trained):
    """Without a residual every fold's anchor of the served kind is served: the mean of their logits, each
    fold's the one it fitted on its own training queries (fold 0's held out of the validation queries); the
    skipped message passing changes no logit (the zero residual, computed, adds exactly nothing)."""
    cfg, mem, result = trained
    assert not result.metrics["residual_kept"]
    graph, li = result.graph, full_label_inputs(mem)
    x = MemRewardGNN.anchor_x(graph, li)
    with torch.no_grad():
        anchors = torch.stack([member.anchor(x).squeeze(-1) for member in result.model.members])
        np.testing.assert_allclose(predict_memory(result.model, mem, cfg), torch.sigmoid(anchors.mean(0)).numpy())
        assert len({tuple(member.anchor.weight.flatten().tolist()) for member in result.model.members}) > 1
        for member in result.model.members:  # the full computation, states and zero residual included
            h = member.encode(graph.x_dict, graph[S.ANSWER].feats, li)
            for i in range(len(member.layers)):
                h = member.layer(i, h, graph.edge_index_dict)
            full = member.score(h, x, graph[S.ANSWER].rollout_query)
            assert torch.equal(member(graph, li), full)
        # fold 0's member never trained on the validation queries: the held-out metrics read it alone
        val = np.flatnonzero(np.isin(mem.groups.rollout_query, result.val_queries))
        logits = result.model.heldout(graph, _label_inputs(mem, result.train_queries))[val]
    assert result.metrics["val_auc"] == pytest.approx(roc_auc_score(mem.labels[val], logits.numpy()))


def test_changing_memory_labels_changes_unlabelled_predictions(propagating):
    """Propagation: labels in the memory reach unlabelled queries (the reference's defect #1).

    Where label-free group features rank best the fit serves an anchor that reads no labels (``vote``
    or ``features``, no residual); the served model's label path is then exercised with its anchor
    refitted as ``vote_nbr`` (the vote score and the neighbours' labels) on the memory's labels."""
    cfg, mem, result = propagating
    model, m = result.model, result.metrics
    if m["anchor"].removesuffix("_flat") in ("vote", "features") and not m["residual_kept"]:
        model = copy.deepcopy(model)
        x = MemRewardGNN.anchor_x(result.graph, full_label_inputs(mem)).numpy()
        rows = np.flatnonzero(mem.labels >= 0)
        y, q = mem.labels[rows].astype(np.int64), mem.groups.rollout_query[rows]
        for member in model.members:  # the anchor alone is served by every member
            info = fit_anchor(x[rows], y, q, member.anchor, candidates=("vote_nbr",))
            assert info["anchor"].startswith("vote_nbr")
    rq = mem.groups.rollout_query
    unl = rq >= 60
    before = predict_memory(model, mem, cfg)
    flipped = ExperienceMemory(mem.groups, mem.labelled_ids)
    flipped.set_labels(np.where(mem.labels >= 0, 1 - mem.labels, -1))
    after = predict_memory(model, flipped, cfg)
    assert np.abs(after[unl] - before[unl]).max() > 1e-3
    new = _subset(mem.groups, np.arange(60, 70))
    p1 = Predictor(model, mem, cfg).predict_groups(new)
    p2 = Predictor(model, flipped, cfg).predict_groups(new)
    assert np.abs(p1 - p2).max() > 1e-3


def test_hidden_labels_of_unlabelled_queries_never_matter(arith_groups, trained):
    """No leakage: shuffling the true labels of unlabelled queries leaves predictions bit-identical."""
    cfg, mem, result = trained
    rng = np.random.default_rng(0)
    shuffled = dataclasses.replace(arith_groups, labels=arith_groups.labels.copy())
    unl = shuffled.rollout_query >= LABELLED
    shuffled.labels[unl] = rng.permutation(shuffled.labels[unl])
    mem2 = ExperienceMemory(shuffled, mem.labelled_ids)
    result2 = fit_gnn(mem2, cfg)
    assert np.array_equal(predict_memory(result.model, mem, cfg), predict_memory(result2.model, mem2, cfg))


@pytest.mark.parametrize("fit", ["trained", "by_wording"], ids=["anchors", "residuals"])
def test_incremental_prediction_equals_full_forward_on_joined_graph(fit, request):
    """predict_groups == a full pass over memory + new groups wired memory -> new (each member's cached
    states, the members' mean logit; anchors served alone need no states)."""
    cfg, mem, result = request.getfixturevalue(fit)
    assert len(result.model.members) == cfg.fit.folds
    assert all(m.residual_free for m in result.model.members) == (fit == "trained")
    q_new = np.arange(40, 46)
    new = _subset(mem.groups, q_new)
    fast = Predictor(result.model, mem, cfg).predict_groups(new)

    g = mem.groups
    data = build_graph(g, mem.labels, cfg.graph)
    qm, rm = g.num_queries, g.num_rollouts
    joined = data.clone()
    joined[S.QUERY].x = torch.cat([data[S.QUERY].x, torch.from_numpy(new.query_emb)])
    label_in = torch.cat([data[S.QUERY].label_in, torch.zeros(new.num_queries, 2)])
    joined[S.THINK].x = torch.cat([data[S.THINK].x, torch.from_numpy(new.think_emb)])
    joined[S.ANSWER].x = torch.cat([data[S.ANSWER].x, torch.from_numpy(new.answer_emb)])
    joined[S.ANSWER].feats = torch.cat([data[S.ANSWER].feats, torch.from_numpy(new.feats)])
    joined[S.ANSWER].rollout_query = torch.cat([data[S.ANSWER].rollout_query, torch.from_numpy(new.rollout_query + qm)])
    r_new = torch.arange(rm, rm + new.num_rollouts)
    q_of = torch.from_numpy(new.rollout_query) + qm
    add = {
        S.Q_THINK: (q_of, r_new), S.THINK_Q: (r_new, q_of), S.THINK_A: (r_new, r_new),
        S.A_THINK: (r_new, r_new), S.Q_A: (q_of, r_new), S.A_Q: (r_new, q_of),
    }  # fmt: skip
    for et, (s, d) in add.items():
        joined[et].edge_index = torch.cat([data[et].edge_index, torch.stack([s, d])], dim=1)
    _, nbrs = mem.index.search(new.query_emb, cfg.graph.query_knn)
    s = torch.from_numpy(nbrs.reshape(-1))
    d = torch.arange(qm, qm + new.num_queries).repeat_interleave(nbrs.shape[1])
    joined[S.Q_SIM].edge_index = torch.cat([data[S.Q_SIM].edge_index, torch.stack([s, d])], dim=1)
    joined[S.A_AGREE].edge_index = torch.cat([data[S.A_AGREE].edge_index, agreement_edges(new, cfg.graph, rm)], dim=1)
    with torch.no_grad():
        full = torch.sigmoid(result.model(joined, label_in)).numpy()[rm:]
    np.testing.assert_allclose(fast, full, rtol=1e-5, atol=1e-6)


def test_artifact_round_trip_same_predictions_and_errors(arith_groups, tmp_path, embedder):
    from memreward_verl.config import MemRewardConfig

    cfg = MemRewardConfig()
    cfg.fit.epochs, cfg.fit.patience, cfg.fit.seeds = 20, 5, (0,)
    art = build_artifact(arith_groups, arith_groups.query_ids[:LABELLED], cfg, out_dir=tmp_path / "art")
    back = load_artifact(tmp_path / "art", expected_model_id=embedder.model_id)
    new = _subset(arith_groups, np.arange(50, 55))
    assert np.array_equal(art.predictor().predict_groups(new), back.predictor().predict_groups(new))
    assert back.labelled_ids == sorted(arith_groups.query_ids[:LABELLED])
    # The held-out validation queries are recorded (and survive saving); the fit's graph is kept in memory
    # only, and predicting the memory with it equals building it again.
    val = back.metrics["val_query_ids"]
    assert val == art.metrics["val_query_ids"] and 0 < len(val) < LABELLED
    assert set(val) <= set(arith_groups.query_ids[:LABELLED]) and back.graph is None and art.graph is not None
    from memreward_verl.fit import predict_memory

    with_graph = predict_memory(art.model, art.memory, cfg, graph=art.graph)
    assert np.array_equal(with_graph, predict_memory(art.model, art.memory, cfg))
    # Same seed, same result.
    again = build_artifact(arith_groups, arith_groups.query_ids[:LABELLED], cfg)
    assert np.array_equal(again.predictor().predict_groups(new), back.predictor().predict_groups(new))
    with pytest.raises(ArtifactError, match="embedded with"):
        load_artifact(tmp_path / "art", expected_model_id="another/model@256")
    (tmp_path / "art" / "model.pt").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(tmp_path / "art")
    (tmp_path / "art" / "model.pt").unlink()
    with pytest.raises(ArtifactError, match="missing model.pt"):
        load_artifact(tmp_path / "art")


def test_every_fold_artifact_round_trip_and_format_2(by_wording, tmp_path, embedder):
    """Every served member survives saving; a format-2 artifact (one model in model.pt) still loads, as one
    member scoring as that model; format 1 is refused."""
    import json

    from memreward_verl.artifact import Artifact, save_artifact

    cfg, mem, result = by_wording
    art = Artifact(cfg=cfg, memory=mem, model=result.model, metrics=result.metrics)
    save_artifact(tmp_path / "art", art)
    back = load_artifact(tmp_path / "art", expected_model_id=embedder.model_id)
    assert len(back.model.members) == cfg.fit.folds
    new = _subset(mem.groups, np.arange(100, 110))
    assert np.array_equal(art.predictor().predict_groups(new), back.predictor().predict_groups(new))
    one = result.model.heldout
    torch.save({"model_args": one.model_args(), "state_dict": one.state_dict()}, tmp_path / "art" / "model.pt")
    meta = tmp_path / "art" / "artifact.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "format_version": 2}))
    old = load_artifact(tmp_path / "art")
    assert len(old.model.members) == 1
    expected = Predictor(FoldEnsemble([one]), mem, cfg).predict_groups(new)  # fold 0's model alone
    assert np.array_equal(old.predictor().predict_groups(new), expected)
    meta.write_text(json.dumps({**info, "format_version": 1}))
    with pytest.raises(ArtifactError, match="format version 1; this code reads 2 or 3"):
        load_artifact(tmp_path / "art")


def test_out_of_fold_anchors_of_one_kind(arith_groups):
    """Folds may choose different anchors; what is served is judged (against the vote, by the hard rules) with
    every fold's anchor of the served kind: a fold of another kind is refitted, so a vote anchor keeps the
    vote's ranking and ties out of fold too."""
    from memreward_verl.config import MemRewardConfig
    from memreward_verl.fit import _anchor_oof, _fit_fold, _fold_anchor, query_folds

    cfg = MemRewardConfig()
    mem = ExperienceMemory(arith_groups, arith_groups.query_ids[:LABELLED])
    graph = build_graph(mem.groups, mem.labels, cfg.graph)
    folds = query_folds(np.arange(LABELLED), 2, seed=0)
    runs = [_fit_fold(mem, graph, cfg, "gatv2", folds[1 - k], folds[k], seed=k, train_gnn=False) for k in range(2)]
    runs[0].anchor["anchor"], runs[1].anchor["anchor"] = "vote", "full"
    anchor_of = lambda k, kind: _fold_anchor(mem, graph, runs[k], kind)  # noqa: E731
    out = _anchor_oof(mem, graph, runs, "vote", anchor_of)
    n0 = len(runs[0].val_rollouts)
    assert np.array_equal(out[:n0], runs[0].logits[0])  # fold 0 already is the served kind
    share = mem.groups.feats[runs[1].val_rollouts, 0]
    refit = out[n0:]
    order = np.argsort(share, kind="stable")
    assert np.all(np.diff(refit[order]) >= -1e-6)  # monotone in the share: the vote's ranking and ties
    for s in np.unique(share):
        assert np.ptp(refit[share == s]) < 1e-6
    runs[1].anchor["anchor"] = "vote_flat"  # the same kind: its own held-out logits, not a refit
    assert np.array_equal(_anchor_oof(mem, graph, runs, "vote", anchor_of)[n0:], runs[1].logits[0])
