"""Label budgets that cannot be exceeded: a fraction of the groups of each step, or a total.

Spending is checked and counted in one locked operation (:meth:`BudgetTracker.try_spend`), so
concurrent reward workers can never buy more than the budget together.

Modes:
- ``fraction`` (default, strict): after ``m`` groups of the current step have arrived, at most
  ``floor(fraction * m)`` of them may have been bought. Never above the fraction of the groups
  actually seen, at any moment; the price is that the first ``1 / fraction`` groups of a step
  cannot be bought before credit accrues.
- ``fraction`` with ``step_groups`` declared (verl knows its batch size): the step's quota
  ``floor(fraction * step_groups)`` is available from its first group. The bound then holds
  against the DECLARED step size.
- ``total``: at most ``total`` labels over the run; with ``expected_groups`` the spending is paced
  (at most ``floor(total * seen / expected_groups)`` by the time ``seen`` groups have arrived).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

__all__ = ["BudgetConfig", "BudgetTracker"]


@dataclass
class BudgetConfig:
    """How many labels may be bought (exactly one of ``fraction`` / ``total``)."""

    fraction: float | None = 0.2
    total: int | None = None
    step_groups: int | None = None  # declared groups per step (fraction mode): quota usable early
    expected_groups: int | None = None  # total mode: groups over the whole run, to pace spending

    def __post_init__(self) -> None:
        if (self.fraction is None) == (self.total is None):
            raise ValueError("set exactly one of BudgetConfig.fraction and BudgetConfig.total")
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"budget fraction must be in [0, 1] (got {self.fraction})")
        if self.total is not None and self.total < 0:
            raise ValueError(f"budget total must be >= 0 (got {self.total})")
        for name in ("step_groups", "expected_groups"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"BudgetConfig.{name} must be positive (got {value})")

    @property
    def rate(self) -> float | None:
        """Target share of groups to buy (None: a total without a pace)."""
        if self.fraction is not None:
            return self.fraction
        return min(1.0, self.total / self.expected_groups) if self.expected_groups else None


_COUNTERS = ("step", "seen_step", "spent_step", "seen_total", "spent_total")


class BudgetTracker:
    """Thread-safe counter of groups seen and labels bought, per step and in total."""

    def __init__(self, cfg: BudgetConfig) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self.step = 0
        self.seen_step = self.spent_step = 0
        self.seen_total = self.spent_total = 0

    # -- state changes (all under the lock) -------------------------------------------------
    def new_step(self) -> None:
        with self._lock:
            self.step += 1
            self.seen_step = self.spent_step = 0

    def observe(self, groups: int = 1) -> None:
        """``groups`` more groups arrived."""
        with self._lock:
            self.seen_step += groups
            self.seen_total += groups

    def try_spend(self, labels: int = 1) -> bool:
        """Atomically spend ``labels`` if the budget allows it; False (nothing spent) otherwise."""
        with self._lock:
            if self._available() < labels:
                return False
            self.spent_step += labels
            self.spent_total += labels
            return True

    def refund(self, labels: int = 1) -> None:
        """Give back labels that were reserved but not delivered (the oracle failed)."""
        with self._lock:
            self.spent_step = max(0, self.spent_step - labels)
            self.spent_total = max(0, self.spent_total - labels)

    def snapshot(self) -> dict[str, int]:
        """The counters, to persist (a restarted worker must not spend a step's budget twice)."""
        with self._lock:
            return {k: getattr(self, k) for k in _COUNTERS}

    def restore(self, state: dict[str, int]) -> None:
        """Counters from :meth:`snapshot` (missing or negative values are an error naming the key)."""
        with self._lock:
            for k in _COUNTERS:
                v = state.get(k)
                if not isinstance(v, int) or v < 0:
                    raise ValueError(f"budget state: {k!r} must be a non-negative integer (got {v!r})")
            for k in _COUNTERS:
                setattr(self, k, int(state[k]))

    # -- queries ------------------------------------------------------------------------------
    def _cap(self) -> tuple[int, int]:
        """(cap, spent) of the binding constraint."""
        c = self.cfg
        if c.fraction is not None:
            base = c.step_groups if c.step_groups is not None else self.seen_step
            return math.floor(c.fraction * base + 1e-9), self.spent_step
        if c.expected_groups:
            paced = math.floor(c.total * min(1.0, self.seen_total / c.expected_groups) + 1e-9)
            return min(c.total, paced), self.spent_total
        return c.total, self.spent_total

    def _available(self) -> int:
        cap, spent = self._cap()
        return max(0, cap - spent)

    def available(self) -> int:
        """Labels that may be bought right now."""
        with self._lock:
            return self._available()

    def target(self) -> float:
        """Labels the budget intends by now (the fraction of the groups seen, or the pace)."""
        with self._lock:
            return self._target()

    def _target(self) -> float:
        c = self.cfg
        if c.fraction is not None:
            return c.fraction * self.seen_step
        if c.expected_groups:
            return c.total * min(1.0, self.seen_total / c.expected_groups)
        return float(c.total)

    def deficit(self) -> float:
        """Labels behind the intended pace (negative: ahead)."""
        with self._lock:
            spent = self.spent_step if self.cfg.fraction is not None else self.spent_total
            return self._target() - spent
