"""The reward services (serve/) without Ray: grouping by uid, offline-identical probabilities, timeouts, growth."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest

from memreward_verl.acquisition import LabelOracle
from memreward_verl.artifact import ArtifactError, load_artifact
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import build_small_artifact
from memreward_verl.reward import RewardRule, RewardSample
from memreward_verl.serve.options import AcquireOptions
from memreward_verl.service import GroupTimeoutError, MemoryService, ServiceConfig, load_service
from memreward_verl.testing import arithmetic_rollouts
from memreward_verl.verify import verify


@pytest.fixture(scope="module")
def artifact_dir(arith_queries, arith_groups, tmp_path_factory):
    labelled = [q.query_id for q in arith_queries[:20]]
    return build_small_artifact(arith_groups, labelled, tmp_path_factory.mktemp("svc") / "artifact")


@pytest.fixture(scope="module")
def new_queries():
    return arithmetic_rollouts(n_queries=3, n_rollouts=4, seed=7)


def _samples(q, uid):
    return [
        RewardSample(uid=uid, query_id=q.query_id, data_source="openai/gsm8k", question=q.question, response=r.text,
                     domain="math", ground_truth=q.ground_truth)
        for r in q.rollouts
    ]  # fmt: skip


def _service(artifact_dir, embedder, **cfg):
    return MemoryService(load_artifact(artifact_dir), embedder, RewardRule("soft"), ServiceConfig(**cfg))


def test_interleaved_groups_match_offline(artifact_dir, embedder, new_queries):
    """Rollouts of three uids arriving interleaved get the offline predictor's probabilities."""
    svc = _service(artifact_dir, embedder)
    groups = [_samples(q, f"u{i}") for i, q in enumerate(new_queries)]
    order = [s for k in range(4) for g in groups for s in [g[k]]]

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in order))

    out = asyncio.run(run())
    art = load_artifact(artifact_dir)
    offline = art.predictor().predict_groups(encode_groups(list(new_queries), embedder, art.cfg))
    got = np.array([o.prob for o in out]).reshape(4, 3).T.reshape(-1)
    assert np.allclose(got, offline, atol=1e-5)
    assert svc.stats()["predict_groups_complete"] == 3 and svc.stats()["open_groups"] == 0


@pytest.mark.parametrize("policy", ["partial", "neutral", "error"])
def test_timeout_policies(artifact_dir, embedder, new_queries, policy):
    """A group missing rollouts closes after group_timeout_s as on_timeout says, and is counted."""
    svc = _service(artifact_dir, embedder, group_timeout_s=0.5, on_timeout=policy)
    arrived = _samples(new_queries[0], "late")[:2]

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in arrived), return_exceptions=True)

    out = asyncio.run(run())
    assert svc.stats()["predict_groups_timed_out"] == 1
    if policy == "error":
        assert all(isinstance(o, GroupTimeoutError) and "2/4" in str(o) for o in out)
    elif policy == "neutral":
        assert all(o.neutral and o.score == 0.0 and o.timed_out for o in out)
    else:
        assert all(o.timed_out and 0.0 <= o.prob <= 1.0 for o in out)


def test_straggler_after_timeout(artifact_dir, embedder, new_queries):
    """A rollout arriving after its group closed is scored alone (partial) and counted."""
    svc = _service(artifact_dir, embedder, group_timeout_s=0.3)
    s = _samples(new_queries[1], "u")

    async def run():
        first = await svc.predict(s[0], 2)
        late = await svc.predict(s[1], 2)
        return first, late

    first, late = asyncio.run(run())
    assert first.timed_out and late.timed_out and svc.stats()["predict_stragglers"] == 1


def test_missing_uid_is_an_error(artifact_dir, embedder, new_queries):
    """Unlabelled rollouts without uid cannot be grouped: a clear error, no reward."""
    svc = _service(artifact_dir, embedder)
    s = _samples(new_queries[0], None)[0]
    with pytest.raises(ValueError, match="uid"):
        asyncio.run(svc.predict(s, 4))


def test_embedder_mismatch(artifact_dir, embedder):
    """An artifact embedded with another model is refused, naming both ids."""
    art = load_artifact(artifact_dir)
    art.memory.groups.model_id = "other/model@256"
    with pytest.raises(ArtifactError, match="other/model"):
        MemoryService(art, embedder)


def test_grow_memory_refit_and_resume(artifact_dir, embedder, arith_queries, tmp_path):
    """Verified labelled groups join the memory, the GNN is refitted, and a restart resumes the state."""
    state = tmp_path / "state"
    cfg = ServiceConfig(grow_memory=True, refit_every=2, state_dir=str(state))
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), cfg)
    before = svc.predictor.memory.num_queries
    labelled = arith_queries[:2]

    async def run():
        for i, q in enumerate(labelled):
            labels = [float(r.label) for r in q.rollouts]
            await asyncio.gather(*(svc.observe(s, y, 8) for s, y in zip(_samples(q, f"g{i}"), labels)))

    asyncio.run(run())
    svc._refit_executor.shutdown(wait=True)
    stats = svc.stats()
    assert stats["grown_groups"] == 2 and stats["refits"] == 1 and stats["memory_queries"] == before + 2
    grown = svc.predictor.memory
    ids = [f"{q.query_id}#{n}" for n, q in enumerate(labelled, 1)]
    assert grown.groups.query_ids[-2:] == ids and set(ids) <= set(grown.labelled_ids)
    assert (grown.labels[-8:] == np.array([r.label for r in labelled[1].rollouts])).all()
    records = [{"memory_id": m, "query_id": q.query_id, "uid": f"g{i}", "kind": "grow"}
               for i, (m, q) in enumerate(zip(ids, labelled))]  # fmt: skip
    assert svc.joins == records
    saved = json.loads((state / "metrics.json").read_text())
    assert saved["joins"] == records and "val_auc" in saved  # the refit's metrics, still with the records
    resumed = load_service(artifact_dir, RewardRule(), cfg)
    assert resumed.predictor.memory.num_queries == before + 2 and resumed.joins == records
    assert json.loads((state / "labelled_ids.json").read_text()) == grown.labelled_ids


def test_auto_follows_each_refit_and_a_restart_serves_the_same_rule(artifact_dir, embedder, arith_queries, tmp_path):
    """hard_rule=auto is resolved against the fit that made the served model: after an online refit the
    refit's rule and threshold decide (not the warm-up's), every outcome carries the rule that decided it,
    and a worker restarted from state_dir serves that same rule."""
    import shutil

    copy = tmp_path / "artifact"
    shutil.copytree(artifact_dir, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics.update(hard_rule="expected_cag", hard_threshold=0.7)  # no fit records this pair: a refit must change it
    (copy / "metrics.json").write_text(json.dumps(metrics))
    cfg = ServiceConfig(grow_memory=True, refit_every=2, state_dir=str(tmp_path / "state"))
    svc = MemoryService(load_artifact(copy), embedder, RewardRule(), cfg)
    assert (svc.rule.hard_rule, svc.rule.threshold) == ("expected_cag", 0.7)
    assert svc.configured_rule.hard_rule == "auto"

    async def grow():
        for i, q in enumerate(arith_queries[:2]):
            labels = [float(r.label) for r in q.rollouts]
            await asyncio.gather(*(svc.observe(s, y, 8) for s, y in zip(_samples(q, f"g{i}"), labels)))

    asyncio.run(grow())
    svc._refit_executor.shutdown(wait=True)
    assert svc.stats()["refits"] == 1
    refit = json.loads((tmp_path / "state" / "metrics.json").read_text())
    served = (svc.rule.hard_rule, svc.rule.threshold)
    assert served == (refit["hard_rule"], refit["hard_threshold"]) != ("expected_cag", 0.7)
    q = arithmetic_rollouts(n_queries=1, n_rollouts=4, seed=11)[0]

    async def predict():
        return await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, "new")))

    outs = asyncio.run(predict())
    assert all(o.rule == served for o in outs)
    resumed = load_service(copy, RewardRule(), cfg)
    assert (resumed.rule.hard_rule, resumed.rule.threshold) == served
    # An explicit rule is served as configured, whatever the fit chose.
    explicit = MemoryService(load_artifact(copy), embedder, RewardRule(hard_rule="plurality"), ServiceConfig())
    assert (explicit.rule.hard_rule, explicit.rule.threshold) == ("plurality", 0.5)


def test_regrowth_after_a_restart_keeps_memory_ids_unique_and_the_join_records(artifact_dir, arith_queries, tmp_path):
    """A worker restarted from state_dir that grows the same prompt again gives the group a new memory id
    (the join count continues from the saved records) and keeps the earlier record; ids taken by the
    memory are skipped."""
    state = tmp_path / "state"
    cfg = ServiceConfig(grow_memory=True, state_dir=str(state))
    q = arith_queries[0]
    labels = [float(r.label) for r in q.rollouts]

    def grow(uid):
        svc = load_service(artifact_dir, RewardRule(), cfg)  # a fresh worker: resumes from state_dir once saved

        async def observe():
            await asyncio.gather(*(svc.observe(s, y, 8) for s, y in zip(_samples(q, uid), labels)))

        asyncio.run(observe())
        return svc

    first = grow("a")
    record = {"memory_id": f"{q.query_id}#1", "query_id": q.query_id, "uid": "a", "kind": "grow"}
    assert first.joins == [record]
    second = grow("b")  # the same prompt, after a restart
    ids = second.predictor.memory.groups.query_ids
    assert len(ids) == len(set(ids)) == first.predictor.memory.num_queries + 1
    assert second.joins == [record, {**record, "memory_id": f"{q.query_id}#2", "uid": "b"}]
    assert json.loads((state / "metrics.json").read_text())["joins"] == second.joins
    assert {f"{q.query_id}#1", f"{q.query_id}#2"} <= set(json.loads((state / "labelled_ids.json").read_text()))
    # A state without records (an older writer) whose memory holds the id the count gives: skipped.
    metrics = json.loads((state / "metrics.json").read_text())
    del metrics["joins"]
    (state / "metrics.json").write_text(json.dumps(metrics))
    third = grow("c")
    assert third.joins == [{**record, "memory_id": f"{q.query_id}#3", "uid": "c"}]
    ids = third.predictor.memory.groups.query_ids
    assert len(ids) == len(set(ids))
    metrics["joins"] = [{**record, "memory_id": "not-in-memory"}]
    (state / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ArtifactError, match="join records"):
        load_service(artifact_dir, RewardRule(), cfg)


def test_cache_reuses_texts_and_evicts(artifact_dir, embedder, new_queries):
    """Texts seen before (a prompt's question, repeated answers) are not embedded again; the cache is bounded."""
    svc = _service(artifact_dir, embedder, max_cached_texts=10)
    embed_keys = {"embedded_texts", "embed_calls", "embed_cache_hits", "embed_busy_s"}
    assert not embed_keys & svc.stats().keys()  # nothing embedded yet
    q = new_queries[0]

    async def run():
        first = await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, "a")))
        again = await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, "b")))
        return first, again

    first, again = asyncio.run(run())
    stats = svc.stats()
    assert stats["embed_cache_hits"] >= 9  # the second uid re-sends the same 4 rollouts (1 query text, shared)
    assert len(svc.arrival.cache) <= 10 and stats["embed_busy_s"] > 0 and stats["score_busy_s"] > 0
    assert embed_keys <= stats.keys() and 1 <= stats["embed_calls"] <= stats["embedded_texts"]
    assert np.allclose([o.prob for o in first], [o.prob for o in again], atol=1e-6)


# -- majority_vote ------------------------------------------------------------------------------
def _vote_samples(answers, uid, question="How many?"):
    return [
        RewardSample(uid=uid, query_id="v1", data_source="openai/gsm8k", question=question,
                     response=f"Some steps. The result is {a}.\n#### {a}" if a is not None else "I am not sure.",
                     domain="math")
        for a in answers
    ]  # fmt: skip


def test_majority_vote_service_groups_by_uid():
    """Interleaved groups are each rewarded by their own plurality answer; shares are the vote shares."""
    from memreward_verl.service import MajorityVoteService

    svc = MajorityVoteService()
    a = _vote_samples([18, 18, 20, 18], "a")
    b = _vote_samples([3, 4, 4, 5], "b")
    order = [s for pair in zip(a, b) for s in pair]

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in order))

    out = asyncio.run(run())
    got_a, got_b = [o.score for o in out[0::2]], [o.score for o in out[1::2]]
    assert got_a == [1, 1, 0, 1] and got_b == [0, 1, 1, 0]
    assert [o.prob for o in out[0::2]] == [0.75, 0.75, 0.25, 0.75]
    assert svc.stats()["predict_groups_complete"] == 2 and svc.describe()["model_id"] is None


def test_majority_vote_timeout_and_straggler():
    """A timed-out group votes among the rollouts that arrived; a straggler is compared with its group's vote."""
    from memreward_verl.service import MajorityVoteService

    svc = MajorityVoteService(cfg=ServiceConfig(group_timeout_s=0.3))
    s = _vote_samples([7, 7, 9, 7], "u")

    async def run():
        partial = await asyncio.gather(*(svc.predict(x, 4) for x in s[:3]))
        late = await svc.predict(s[3], 4)
        return partial, late

    partial, late = asyncio.run(run())
    assert [o.score for o in partial] == [1, 1, 0] and all(o.timed_out for o in partial)
    assert late.score == 1.0 and late.timed_out and late.prob == pytest.approx(2 / 3)
    stats = svc.stats()
    assert stats["predict_groups_timed_out"] == 1 and stats["predict_stragglers"] == 1


def test_majority_vote_neutral_timeout():
    """on_timeout=neutral gives every arrived rollout abstain_reward, as in the GNN modes."""
    from memreward_verl.service import MajorityVoteService

    rule = RewardRule("majority_vote", abstain_reward=0.5)
    svc = MajorityVoteService(rule=rule, cfg=ServiceConfig(group_timeout_s=0.2, on_timeout="neutral"))
    out = asyncio.run(svc.predict(_vote_samples([1], "n")[0], 4))
    assert out.neutral and out.score == 0.5


def test_labelled_ids_file_and_sources(artifact_dir, tmp_path):
    """Labelled prompts come from an artifact or a labelled-ids file (never both); bad files are named."""
    from memreward_verl.service import load_vote_service

    rule, cfg = RewardRule("majority_vote"), ServiceConfig()
    path = tmp_path / "labelled.json"
    path.write_text(json.dumps({"ratio": 0.2, "seed": 0, "query_ids": ["a", "b"]}))
    assert load_vote_service(None, path, rule, cfg).labelled_ids == {"a", "b"}
    assert load_vote_service(None, None, rule, cfg).labelled_ids == frozenset()
    from_artifact = load_vote_service(artifact_dir, None, rule, cfg)
    assert from_artifact.labelled_ids == set(load_artifact(artifact_dir).labelled_ids)
    with pytest.raises(ValueError, match="not both"):
        load_vote_service(artifact_dir, path, rule, cfg)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ids": ["a"]}))
    with pytest.raises(ValueError, match="bad.json.*query_ids"):
        load_vote_service(None, bad, rule, cfg)
    with pytest.raises(ValueError, match="missing.json"):
        load_vote_service(None, tmp_path / "missing.json", rule, cfg)
    garbage = {
        b"\x00\x01garbage": r"garbage.json: not (UTF-8 text|valid JSON)",
        b"": r"garbage.json: the file is empty",
        b'["a", "b"]': r"garbage.json: the top level must be a JSON object \(got list\)",
        b'{"query_ids": "a,b"}': r"'query_ids' must be a list of non-empty query id strings.*'a,b'",
        b'{"query_ids": ["a", ""]}': r"'query_ids' must be a list of non-empty query id strings.*\[''\]",
        b'{"query_ids": ["a", "a"]}': r"lists \['a'\] more than once",
    }
    for content, match in garbage.items():
        (tmp_path / "garbage.json").write_bytes(content)
        with pytest.raises(ValueError, match=match):
            load_vote_service(None, tmp_path / "garbage.json", rule, cfg)


def test_int8_embedder_has_its_own_id_and_is_refused_by_a_float_memory(artifact_dir):
    """The int8 embedder is a different embedder id, batch-independent, and cannot read a float memory."""
    from memreward_verl.config import EmbedConfig
    from memreward_verl.embed import load_embedder

    int8 = load_embedder(EmbedConfig(model_name="all-MiniLM-L6-v2:int8"))
    assert int8.model_id == "sentence-transformers/all-MiniLM-L6-v2:int8@256"
    alone = int8.encode(["The result is 18.\n#### 18"])
    mixed = int8.encode(["x " * 200, "The result is 18.\n#### 18"], batch_size=4)
    assert np.array_equal(alone[0], mixed[1])
    with pytest.raises(ArtifactError, match=r"all-MiniLM-L6-v2@256.*:int8@256"):
        MemoryService(load_artifact(artifact_dir), int8)


class _DownOracle(LabelOracle):
    """An oracle that cannot deliver (a judge that is down)."""

    def label(self, request):
        raise RuntimeError(f"judge unavailable for {request.group_id}")


def _acq_cfg(strategy="random", *, fraction=None, total=None, **more):
    return AcquireOptions(strategy, budget=fraction, budget_total=total, **more)


def test_acquisition_total_budget_without_steps_joins_at_once(artifact_dir, embedder, new_queries):
    """Without global_step the run is one step: budget_total=1 buys one group, which gets the verifier's
    rewards and joins the memory at once; the others keep their predictions and their truth is never read."""
    cfg = _acq_cfg("uncertainty", fraction=None, total=1)
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), acquire=cfg)
    before = svc.predictor.memory.num_queries

    async def run():
        out = []
        for i, q in enumerate(new_queries):  # one group at a time
            out.append(await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, f"u{i}"))))
            svc._executor.submit(lambda: None).result()  # the join (if any) is done
            out[-1] = (out[-1], svc.predictor.memory.num_queries)
        return out

    out = asyncio.run(run())
    bought = [i for i, (o, _) in enumerate(out) if o[0].acquisition.acquired]
    assert bought == [0]  # before min_window groups, the first group the budget allows is bought
    assert [m for _, m in out] == [before + 1] * 3
    truth = [verify("openai/gsm8k", r.text, new_queries[0].ground_truth) for r in new_queries[0].rollouts]
    assert [o.score for o in out[0][0]] == truth
    rest = [o for group, _ in out[1:] for o in group]
    assert all(o.acquisition.bought == 0.0 and math.isnan(o.acquisition.real_cag) for o in rest)
    state = svc.acquisition_state()
    assert state["asked"] == ["u0"] and state["joined"] == [f"{new_queries[0].query_id}#1"]
    assert state["joins"] == [{"memory_id": f"{new_queries[0].query_id}#1", "query_id": new_queries[0].query_id,
                               "uid": "u0", "kind": "acq"}]  # fmt: skip
    assert state["joined"] == svc.predictor.memory.groups.query_ids[before:]
    assert [d["step"] for d in state["log"]] == [0, 0, 0]
    assert svc.stats()["acquisition/total_bought"] == 1


def test_oracle_failure_returns_the_label_and_raises(artifact_dir, embedder, new_queries):
    """A bought group whose oracle fails: its samples fail (no fallback to predictions), the label goes
    back to the budget and nothing is learned or added to the memory."""
    svc = MemoryService(
        load_artifact(artifact_dir), embedder, RewardRule(), acquire=_acq_cfg(total=5), oracle=_DownOracle()
    )
    before = svc.predictor.memory.num_queries

    async def run():
        return await asyncio.gather(
            *(svc.predict(s, 4) for s in _samples(new_queries[0], "u0")), return_exceptions=True
        )

    out = asyncio.run(run())
    assert all(isinstance(o, RuntimeError) and "judge unavailable" in str(o) for o in out)
    stats = svc.stats()
    assert stats["acq_oracle_errors"] == 1 and stats["acquisition/total_bought"] == 0
    assert stats["acquisition/pending"] == 0 and svc.acquisition_state()["trained_on"] == []
    assert svc.predictor.memory.num_queries == before and svc.acquisition_state()["to_join"] == []


def test_acquisition_budget_holds_at_every_decision_under_interleaving(artifact_dir, embedder):
    """Twelve groups arriving interleaved (concurrent on the worker's loop), strict budget 0.25: after the
    i-th offer at most floor(0.25 i) labels were bought, and only bought groups reached the oracle."""
    queries = arithmetic_rollouts(n_queries=12, n_rollouts=4, seed=31)
    cfg = _acq_cfg("care", fraction=0.25)
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), acquire=cfg)
    groups = [_samples(q, f"c{i}") for i, q in enumerate(queries)]
    order = [g[k] for k in range(4) for g in groups]
    for s in order:
        s.global_step = 5

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in order))

    out = asyncio.run(run())
    log = svc.acquisition_state()["log"]
    assert len(log) == 12 and {d["step"] for d in log} == {5}
    running = np.cumsum([d["buy"] for d in log])
    assert all(running[i] <= math.floor(0.25 * (i + 1)) for i in range(12))
    bought = sorted(d["uid"] for d in log if d["buy"])
    assert 1 <= len(bought) <= 3 and sorted(svc.acquisition_state()["asked"]) == bought
    by_uid = {s.uid: o for s, o in zip(order, out)}
    assert sorted(u for u, o in by_uid.items() if o.acquisition.acquired) == bought
    assert sorted(svc.acquisition_state()["to_join"]) == bought  # they join when step 6 begins


def test_restarted_worker_continues_the_budget(artifact_dir, new_queries, tmp_path):
    """With state_dir, the budget counters survive a worker restart: a fresh service (what Ray's restart
    builds) on the same state_dir must not buy again what the step already spent (budget_total=1). The
    bought group's memory and join record are restored with it."""
    state = tmp_path / "state"

    def service():
        cfg = ServiceConfig(state_dir=str(state))
        return load_service(artifact_dir, RewardRule(), cfg, AcquireOptions("random", budget_total=1))

    async def offer(svc, q, uid):
        return await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, uid)))

    first = service()
    out = asyncio.run(offer(first, new_queries[0], "u0"))
    assert all(o.acquisition.acquired for o in out)
    saved = json.loads((tmp_path / "state.acquisition.json").read_text())
    assert saved["budget"]["spent_total"] == 1
    first._executor.submit(lambda: None).result()  # the bought group joined and the state was saved
    joined = first.acquisition_state()
    restarted = service()
    assert restarted.desk.acquirer.budget.spent_total == 1
    q0 = new_queries[0].query_id
    assert restarted.acquisition_state()["joined"] == joined["joined"] == [f"{q0}#1"]
    assert restarted.acquisition_state()["joins"] == [{"memory_id": f"{q0}#1", "query_id": q0, "uid": "u0",
                                                       "kind": "acq"}]  # fmt: skip
    assert restarted.predictor.memory.num_queries == first.predictor.memory.num_queries
    later = [asyncio.run(offer(restarted, q, f"r{i}")) for i, q in enumerate(new_queries[1:])]
    assert not any(o.acquisition.acquired for group in later for o in group)
    stats = restarted.stats()
    assert stats.get("acq_bought", 0) == 0 and stats["acquisition/total_bought"] == 1  # total: the whole run
    with pytest.raises(ValueError, match="spent_total"):
        restarted.desk.acquirer.budget.restore({**saved["budget"], "spent_total": -1})


def _stepped(q, uid, step):
    samples = _samples(q, uid)
    for s in samples:
        s.global_step = step
    return samples


@pytest.mark.parametrize("reuse", [True, False])
def test_bought_prompt_gets_ground_truth_in_later_steps(artifact_dir, embedder, new_queries, reuse):
    """A prompt bought at step 1 is labelled from then on: its group at step 2 (a new uid, the next epoch)
    gets the oracle's rewards without being offered or spending budget. With reuse off it is offered
    again and, the budget being spent, keeps its prediction."""
    cfg = _acq_cfg("random", fraction=None, total=1, reuse=reuse)
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), acquire=cfg)
    q = new_queries[0]

    async def run(samples):
        return await asyncio.gather(*(svc.predict(s, 4) for s in samples))

    first = asyncio.run(run(_stepped(q, "e1", 1)))
    assert all(o.acquisition.bought == 1.0 for o in first)
    again = asyncio.run(run(_stepped(q, "e2", 2)))
    truth = [verify("openai/gsm8k", r.text, q.ground_truth) for r in q.rollouts]
    state = svc.acquisition_state()
    assert svc.stats()["acquisition/total_bought"] == 1
    if reuse:
        assert all(o.acquisition.acquired and o.acquisition.reused == 1.0 for o in again)
        assert math.isnan(again[0].acquisition.bought) and [o.score for o in again] == truth
        assert state["asked"] == ["e1", "e2"] and [d["uid"] for d in state["log"]] == ["e1"]
        assert state["owned"] == {q.query_id: 1} and svc.stats()["acq_reused"] == 1
    else:
        assert not any(o.acquisition.acquired for o in again) and math.isnan(again[0].acquisition.reused)
        assert state["asked"] == ["e1"] and [d["uid"] for d in state["log"]] == ["e1", "e2"]


def test_restarted_worker_keeps_what_acquisition_learned(artifact_dir, embedder, tmp_path):
    """CARE's bought groups, the threshold window and the owned prompts survive a restart: saved at each
    step boundary, every few purchases and on close, then restored by a fresh service on the same state_dir."""
    queries = arithmetic_rollouts(n_queries=6, n_rollouts=4, seed=41)

    def service():
        cfg = ServiceConfig(state_dir=str(tmp_path / "state"))
        acquire = AcquireOptions("care", budget=0.5, min_window=1, step_groups=3)
        return MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), cfg, acquire=acquire)

    async def run(svc, groups):
        for uid, q in groups:  # one group at a time: three per step
            await asyncio.gather(*(svc.predict(s, 4) for s in _samples(q, uid)))

    first = service()
    warm = list(first.desk.acquirer.warm_ids)  # the artifact's validation groups, learned at start
    assert warm and first.desk.acquirer.strategy.trained_on == warm and first.desk.acquirer.budget.spent_total == 0
    asyncio.run(run(first, [(f"g{i}", q) for i, q in enumerate(queries[:4])]))  # the 4th group opens step 1
    learned = json.loads((tmp_path / "state.acquisition_learned.json").read_text())
    step0 = first.desk.acquirer.strategy.trained_on[: len(warm) + 1]
    assert learned["acquirer"]["strategy"]["probes"]["trained_on"] == step0
    first.close()
    trained, owned = first.desk.acquirer.strategy.trained_on, dict(first.desk.owned)
    bought = trained[len(warm) :]
    assert bought and set(owned) == {queries[int(u[1:])].query_id for u in bought}
    window = first.desk.acquirer.state_dict()["window"]
    restarted = service()
    assert restarted.desk.acquirer.strategy.trained_on == trained and restarted.desk.owned == owned
    assert restarted.desk.acquirer.state_dict()["window"] == window and restarted.desk.acquirer.warm_ids == warm
    bought_q = queries[int(bought[0][1:])]
    out = asyncio.run(restarted.predict(_samples(bought_q, "again")[0], 1))
    assert out.acquisition.reused == 1.0  # its prompt was bought before the restart
    (tmp_path / "state.acquisition_learned.json").write_text("{not json")
    with pytest.raises(ValueError, match="acquisition_learned.json is corrupt"):
        service()


def test_majority_vote_with_acquisition_buys_ground_truth():
    """reward_mode=majority_vote + acquisition (the CARE paper's setting): the bought group gets the
    verifier's rewards instead of its (wrong) vote; the other group keeps its vote, its truth unread."""
    from memreward_verl.service import MajorityVoteService

    cfg = _acq_cfg("uncertainty", fraction=None, total=1)
    svc = MajorityVoteService(acquire=cfg)
    wrong = _vote_samples([20, 20, 18, 20], "w")
    for s in wrong:
        s.ground_truth, s.query_id = "18", "w"
    right = _vote_samples([5, 5, 5, 5], "r")
    for s in right:
        s.ground_truth, s.query_id = "5", "r"

    async def run():
        out_w = await asyncio.gather(*(svc.predict(s, 4) for s in wrong))
        out_r = await asyncio.gather(*(svc.predict(s, 4) for s in right))
        return out_w, out_r

    out_w, out_r = asyncio.run(run())
    assert [o.score for o in out_w] == [0, 0, 1, 0] and all(o.acquisition.bought == 1.0 for o in out_w)
    assert out_w[0].acquisition.real_cag > 0  # the vote was wrong
    assert [o.score for o in out_r] == [1, 1, 1, 1] and out_r[0].acquisition.bought == 0.0
    assert svc.acquisition_state()["asked"] == ["w"] and svc.stats()["acquisition/total_bought"] == 1


def test_care_warm_start_learns_the_artifact_validation_groups_only(artifact_dir, embedder):
    """care starts from the artifact's validation groups (their labels hidden for the prediction, no
    oracle call, no budget); acquisition_warm_start=False and strategies that do not learn skip it."""
    art = load_artifact(artifact_dir)
    val = art.metrics["val_query_ids"]

    def service(strategy, warm=True):
        cfg = _acq_cfg(strategy, fraction=0.2, warm_start=warm)
        return MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), acquire=cfg)

    svc = service("care")
    assert svc.desk.acquirer.warm_ids == val and svc.desk.acquirer.strategy.trained_on == val
    assert svc.acquisition_state()["asked"] == [] and svc.desk.acquirer.budget.spent_total == 0
    assert svc.acquisition_state()["warm_start"] == val
    # their probabilities are those of a memory without their labels, by fold 0's member alone (the others
    # trained on these queries); the truth recorded is theirs
    from memreward_verl.fit import predict_memory
    from memreward_verl.memory import ExperienceMemory

    g = art.memory.groups
    hidden = ExperienceMemory(g, sorted(set(art.labelled_ids) - set(val)), art.memory.cfg)
    expected = predict_memory(art.model.heldout, hidden, art.cfg)
    slices, index = g.group_slices(), {q: i for i, q in enumerate(g.query_ids)}
    examples = svc._validation_examples()
    assert [v.group_id for v, _ in examples] == val
    for v, truth in examples:
        sl = slices[index[v.group_id]]
        assert np.allclose(v.probs, expected[sl]) and np.array_equal(truth, art.memory.labels[sl])
    assert service("care", warm=False).desk.acquirer.warm_ids == []
    assert service("uncertainty").desk.acquirer.warm_ids == []


def test_timed_out_group_is_offered_and_a_bought_prompts_straggler_gets_ground_truth(
    artifact_dir, embedder, new_queries
):
    """on_timeout=partial: a group that timed out is offered with the rollouts that arrived (bought here:
    their verifier rewards). Its straggler is never offered, but its prompt was bought, so it gets the
    oracle's reward too, at no budget. A straggler of a prompt not bought keeps its prediction."""
    cfg = _acq_cfg("random", fraction=None, total=1)
    svc = MemoryService(
        load_artifact(artifact_dir), embedder, RewardRule(), ServiceConfig(group_timeout_s=0.3), acquire=cfg
    )
    q, other = new_queries[0], new_queries[1]
    s, o = _samples(q, "t"), _samples(other, "o")

    async def run():
        partial = await asyncio.gather(*(svc.predict(x, 4) for x in s[:3]))
        late = await svc.predict(s[3], 4)
        other_partial = await asyncio.gather(*(svc.predict(x, 4) for x in o[:3]))
        other_late = await svc.predict(o[3], 4)
        return partial, late, other_partial, other_late

    partial, late, other_partial, other_late = asyncio.run(run())
    truth = [verify("openai/gsm8k", r.text, q.ground_truth) for r in q.rollouts]
    assert all(p.timed_out and p.acquisition.bought == 1.0 for p in partial)
    assert [p.score for p in partial] == truth[:3]
    assert late.timed_out and late.acquisition.reused == 1.0 and late.score == truth[3]
    assert all(p.acquisition.bought == 0.0 for p in other_partial)  # offered; the budget was spent
    assert not other_late.acquisition.acquired and math.isnan(other_late.acquisition.bought)
    assert svc.stats()["acquisition/total_bought"] == 1 and svc.acquisition_state()["asked"] == ["t", "t"]


def test_auto_hard_rule_is_the_artifacts_choice(artifact_dir, tmp_path):
    """hard_rule=auto (the default) serves the rule the warm-up fit chose; an explicit rule is kept as given."""
    import json
    import shutil

    fitted = load_artifact(artifact_dir).metrics["hard_rule"]
    assert load_service(artifact_dir, RewardRule(), ServiceConfig()).rule.hard_rule == fitted
    copy = tmp_path / "artifact"
    shutil.copytree(artifact_dir, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["hard_rule"] = "plurality"
    (copy / "metrics.json").write_text(json.dumps(metrics))
    assert load_service(copy, RewardRule(), ServiceConfig()).rule.hard_rule == "plurality"
    assert load_service(copy, RewardRule(hard_rule="expected_cag"), ServiceConfig()).rule.hard_rule == "expected_cag"
    # The fit's threshold comes with its rule; an explicit threshold rule keeps the configured threshold.
    metrics.update(hard_rule="threshold", hard_threshold=0.3)
    (copy / "metrics.json").write_text(json.dumps(metrics))
    rule = load_service(copy, RewardRule(), ServiceConfig()).rule
    assert (rule.hard_rule, rule.threshold) == ("threshold", 0.3)
    assert rule.group_rewards(np.array([0.35, 0.25]))[0].tolist() == [1.0, 0.0]
    explicit = load_service(copy, RewardRule(hard_rule="threshold"), ServiceConfig()).rule
    assert (explicit.hard_rule, explicit.threshold) == ("threshold", 0.5)
    # constant: equal rewards whatever the probabilities (zero advantage)
    metrics.update(hard_rule="constant")
    (copy / "metrics.json").write_text(json.dumps(metrics))
    rule = load_service(copy, RewardRule(), ServiceConfig()).rule
    assert rule.hard_rule == "constant" and rule.group_rewards(np.array([0.9, 0.1]))[0].tolist() == [0.0, 0.0]
    # Without a fit to ask, auto is the paper's threshold rule.
    assert RewardRule().group_rewards(np.array([0.4, 0.6]))[0].tolist() == [0.0, 1.0]
