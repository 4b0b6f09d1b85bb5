"""Online label acquisition for a streaming reward loop: decide group by group, never overspend.

verl's reward loop sees groups one at a time, so "buy the top 20% of the step" cannot be computed.
:class:`OnlineAcquirer` keeps a window of recent strategy priorities and buys a group when its
priority reaches the window's ``1 - rate`` quantile AND the budget tracker grants a label (checked
and counted atomically). The rate rises while spending lags the target, so a step ends close to
its budget without ever passing it.

Typical use inside a reward worker::

    acq = OnlineAcquirer(AcquirerConfig(strategy="care", budget=BudgetConfig(fraction=0.2)))
    acq.new_step(global_step)                       # at a training-step boundary
    d = acq.offer(view)                             # view: GroupView of the new group
    if d.buy:
        try:
            rewards = oracle(request)               # ground truth, at a cost
        except Exception:
            acq.release(view.group_id)              # budget returned, nothing learned
            raise
        acq.record_bought(view.group_id, rewards)   # probes learn; returns the realised CAG
    extra = acq.metrics()                           # into reward_extra_info
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from memreward_verl.acquisition.budget import BudgetConfig, BudgetTracker
from memreward_verl.acquisition.expected import group_cag
from memreward_verl.acquisition.oracle import LabelOracle, OracleRequest
from memreward_verl.acquisition.probes import GroupView
from memreward_verl.acquisition.strategies import StrategyConfig, make_strategy

__all__ = ["AcquirerConfig", "Decision", "OnlineAcquirer"]


@dataclass
class AcquirerConfig:
    """Settings of :class:`OnlineAcquirer`."""

    strategy: str = "care"
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    strategy_cfg: StrategyConfig = field(default_factory=StrategyConfig)
    # Recent priorities the buy threshold is the quantile of (spans steps: scores are comparable).
    window: int = 512
    # While fewer scores than this were seen, buy whenever the budget grants a label.
    min_window: int = 8
    # Each label behind the target pace raises the buy rate by one more ``rate``.
    catch_up_gain: float = 1.0


@dataclass(frozen=True)
class Decision:
    """The verdict on one offered group."""

    group_id: str
    buy: bool
    priority: float
    predicted_cag: float
    threshold: float
    step: int


class OnlineAcquirer:
    """Thread-safe online buy/skip decisions under a budget, with CARE-style learning.

    Args:
        cfg: strategy, budget and threshold settings.

    Every public method may be called from several threads; decisions, budget and probes are
    updated under one lock, so the budget can never be exceeded and the same arrival order with
    the same seed gives the same choices.
    """

    def __init__(self, cfg: AcquirerConfig | None = None) -> None:
        self.cfg = cfg or AcquirerConfig()
        self.strategy = make_strategy(self.cfg.strategy, self.cfg.strategy_cfg)
        self.budget = BudgetTracker(self.cfg.budget)
        self._lock = threading.RLock()
        self._window: deque[float] = deque(maxlen=self.cfg.window)
        self._pending: dict[str, tuple[GroupView, float]] = {}
        self._step_id: int | None = None
        self._step = self._fresh_step()
        self._pairs: list[tuple[float, float]] = []  # (predicted, realised) CAG of every bought group
        self.warm_ids: list[str] = []  # held-out labelled groups learned from before any purchase

    @staticmethod
    def _fresh_step() -> dict[str, float]:
        return {"offered": 0, "bought": 0, "skipped": 0, "pred_cag": 0.0, "real_cag": 0.0, "recorded": 0}

    # -- decisions ------------------------------------------------------------------------
    def new_step(self, step: int | None = None) -> dict[str, float]:
        """Start a training step (resets the per-step budget); returns the finished step's metrics."""
        with self._lock:
            done = self.metrics()
            self.budget.new_step()
            self._step_id = step if step is not None else self.budget.step
            self._step = self._fresh_step()
            return done

    def _threshold(self) -> float:
        rate = self.cfg.budget.rate
        if rate is None or not self._window or len(self._window) < self.cfg.min_window:
            return -math.inf
        rate = min(1.0, rate * (1.0 + self.cfg.catch_up_gain * max(0.0, self.budget.deficit())))
        if rate <= 0.0:
            return math.inf
        return float(np.quantile(np.asarray(self._window), 1.0 - rate, method="higher"))

    def offer(self, view: GroupView) -> Decision:
        """Score one arriving group and decide; a ``buy`` reserves one label of the budget.

        Raises:
            ValueError: when ``view.group_id`` is already awaiting its labels.
        """
        with self._lock:
            if view.group_id in self._pending:
                raise ValueError(f"group {view.group_id!r} was already bought and awaits record_bought")
            self.budget.observe()
            score = self.strategy.score([view])[0]
            self._window.append(score.priority)
            thr = self._threshold()
            buy = not score.skip and score.priority >= thr and self.budget.try_spend()
            self._step["offered"] += 1
            self._step["skipped"] += int(score.skip)
            if buy:
                self._pending[view.group_id] = (view, score.predicted_cag)
                self._step["bought"] += 1
            step = self._step_id if self._step_id is not None else self.budget.step
            return Decision(view.group_id, buy, score.priority, score.predicted_cag, thr, step)

    def record_bought(self, group_id: str, true_rewards: np.ndarray) -> float:
        """Give the true rewards of a BOUGHT group; the strategy learns from them.

        Returns:
            The realised CAG of the group's pseudo rewards.

        Raises:
            KeyError: when ``group_id`` was not bought (or was already recorded / released):
                labels of groups that were not bought are never learned from.
        """
        with self._lock:
            if group_id not in self._pending:
                raise KeyError(f"group {group_id!r} was not bought (or was already recorded); refusing its labels")
            view, predicted = self._pending.pop(group_id)
            true = (np.asarray(true_rewards, dtype=np.float64) >= 0.5).astype(np.float64)
            self.strategy.record(view, true)
            realised = group_cag(view.pseudo, true)
            self._pairs.append((predicted, realised))
            self._step["pred_cag"] += predicted
            self._step["real_cag"] += realised
            self._step["recorded"] += 1
            return realised

    def warm_start(self, examples: list[tuple[GroupView, np.ndarray]]) -> None:
        """Let the strategy learn from held-out labelled groups (``heldout.py``) before any purchase:
        labels paid for before training, so no budget is spent. Listed in ``warm_ids``."""
        with self._lock:
            for view, true in examples:
                self.strategy.record(view, (np.asarray(true, dtype=np.float64) >= 0.5).astype(np.float64))
                self.warm_ids.append(view.group_id)

    def release(self, group_id: str) -> None:
        """A bought group's labels could not be delivered: return its label to the budget."""
        with self._lock:
            if self._pending.pop(group_id, None) is not None:
                self.budget.refund()
                self._step["bought"] -= 1

    def acquire(self, view: GroupView, request: OracleRequest, oracle: LabelOracle) -> np.ndarray | None:
        """``offer`` + the oracle + ``record_bought``: true rewards when bought, else None.

        The oracle is called outside the lock, so slow oracles do not block other groups.
        """
        if not self.offer(view).buy:
            return None
        try:
            rewards = oracle(request)
        except Exception:
            self.release(view.group_id)
            raise
        self.record_bought(view.group_id, rewards)
        return rewards

    # -- persistence ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What was learned (recent priorities, strategy state, predicted/realised CAG pairs) as
        JSON-able data; the budget has its own snapshot (``budget.snapshot``)."""
        with self._lock:
            return {
                "window": list(self._window),
                "pairs": [list(p) for p in self._pairs],
                "strategy": self.strategy.state_dict(),
                "warm_ids": list(self.warm_ids),
            }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` of an acquirer with the same settings."""
        with self._lock:
            self._window = deque((float(v) for v in state.get("window", [])), maxlen=self.cfg.window)
            self._pairs = [(float(a), float(b)) for a, b in state.get("pairs", [])]
            self.strategy.load_state_dict(state.get("strategy", {}))
            self.warm_ids = [str(v) for v in state.get("warm_ids", [])]

    # -- reporting ------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Flat ``acquisition/*`` metrics of the current step and the run so far."""
        with self._lock:
            s, b = self._step, self.budget
            rec = max(1, s["recorded"])
            target_total = (
                self.cfg.budget.fraction * b.seen_total if self.cfg.budget.fraction is not None else b.target()
            )
            out = {
                "acquisition/step_groups": float(s["offered"]),
                "acquisition/step_bought": float(s["bought"]),
                "acquisition/step_target": float(b.target()) if self.cfg.budget.fraction is not None else math.nan,
                "acquisition/step_skipped_reliable": float(s["skipped"]),
                "acquisition/step_pred_cag_bought": s["pred_cag"] / rec if s["recorded"] else math.nan,
                "acquisition/step_real_cag_bought": s["real_cag"] / rec if s["recorded"] else math.nan,
                "acquisition/total_groups": float(b.seen_total),
                "acquisition/total_bought": float(b.spent_total),
                "acquisition/total_spend_ratio": b.spent_total / target_total if target_total > 0 else math.nan,
                "acquisition/pending": float(len(self._pending)),
                "acquisition/probe_groups": float(len(self.strategy.trained_on)),
                "acquisition/threshold": self._threshold(),
            }
            if len(self._pairs) >= 3:
                p, r = np.array(self._pairs).T
                ok = p.std() > 0 and r.std() > 0
                out["acquisition/pred_real_cag_corr"] = float(np.corrcoef(p, r)[0, 1]) if ok else math.nan
            return out
