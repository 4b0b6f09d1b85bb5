"""What online acquisition learned survives a restart: strategies, probes and the acquirer round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memreward_verl.acquisition import AcquirerConfig, BudgetConfig, CareProbes, GroupView, OnlineAcquirer
from memreward_verl.acquisition.strategies import make_strategy


def _views(n_groups: int, n: int = 8, seed: int = 0) -> list[GroupView]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_groups):
        clusters = rng.integers(0, 3, size=n)
        probs = rng.random(3)[clusters]
        out.append(GroupView(f"s{seed}-{i}", probs, (probs >= 0.5).astype(int), clusters, None, True))
    return out


def _truth(view: GroupView, seed: int) -> np.ndarray:
    right = np.random.default_rng([seed, len(view.group_id)]).integers(0, 3)
    return (view.clusters == right).astype(float)


def test_care_state_round_trips_through_json():
    """A fresh CARE strategy loaded from another's JSON state scores every group identically."""
    views = _views(30, seed=1)
    care = make_strategy("care")
    for v in views[:20]:
        care.record(v, _truth(v, 1))
    state = json.loads(json.dumps(care.state_dict()))
    again = make_strategy("care")
    again.load_state_dict(state)
    assert again.trained_on == care.trained_on and len(again.trained_on) == 20
    assert again.probes.ready()
    assert [s.priority for s in again.score(views[20:])] == [s.priority for s in care.score(views[20:])]


def test_random_strategy_continues_its_stream():
    """A restarted random strategy continues the seeded stream where the first stopped."""
    views = _views(10, seed=2)
    whole = make_strategy("random")
    expected = [s.priority for s in whole.score(views)]
    first = make_strategy("random")
    head = [s.priority for s in first.score(views[:4])]
    second = make_strategy("random")
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert head + [s.priority for s in second.score(views[4:])] == expected


def test_acquirer_state_keeps_window_and_probes():
    """The threshold window and the strategy's learning come back; the same next offers decide the same."""
    cfg = AcquirerConfig(strategy="care", budget=BudgetConfig(fraction=0.3), min_window=2)
    views = _views(40, seed=3)
    a = OnlineAcquirer(cfg)
    for v in views[:30]:
        if a.offer(v).buy:
            a.record_bought(v.group_id, _truth(v, 3))
    b = OnlineAcquirer(cfg)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    b.budget.restore(a.budget.snapshot())
    assert b.state_dict() == a.state_dict()
    assert [b.offer(v).buy for v in views[30:]] == [a.offer(v).buy for v in views[30:]]


@pytest.mark.parametrize(
    "state,match",
    [
        ({"x": [[0.0] * 3], "major": [1.0], "other": [[0.0, 1.0]], "trained_on": ["g"]}, "features"),
        ({"x": [], "major": [1.0], "other": [], "trained_on": []}, "differ in length"),
    ],
)
def test_bad_probe_state_is_refused(state, match):
    with pytest.raises(ValueError, match=match):
        CareProbes().load_state_dict(state)
