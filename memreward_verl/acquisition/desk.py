"""Online label acquisition inside a reward service: offers, purchases, re-use and persistence.

Both reward services (graph memory and majority vote) hand every complete group to one
:class:`AcquisitionDesk` once its pseudo rewards are known. The desk

- tracks training steps (the samples' ``global_step``, else every ``step_groups`` offered groups,
  else one running step) and hands the groups bought in a step to ``join`` at the next boundary,
  so every group of a step is scored with the same memory;
- re-uses purchases (``reuse``): a prompt whose label was bought is labelled from then on, so its
  groups in later steps (epochs) get the oracle's rewards without spending budget and are not
  offered again. This is the right model when buying a label means buying the prompt's reference
  answer; turn it off for oracles that charge for every group they grade;
- offers the other groups to an :class:`OnlineAcquirer`, asks the oracle only for bought groups
  (a failed oracle call returns the label to the budget);
- with ``state_path``, persists the budget counters after every offer (a restarted worker never
  spends a step's budget twice) and what was learned (CARE's probes, the threshold window, the
  prompts bought) at every step boundary, every ``save_every`` purchases and on :meth:`close`.
  A crash loses at most the learning since the last save, never budget accounting.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memreward_verl.acquisition.online import OnlineAcquirer
from memreward_verl.acquisition.oracle import LabelOracle, OracleRequest, VerifierOracle
from memreward_verl.acquisition.probes import GroupView
from memreward_verl.prepare.writer import write_json
from memreward_verl.reward import AcquisitionInfo, RewardSample
from memreward_verl.serve.options import AcquireOptions

__all__ = ["DeskConfig", "AcquisitionDesk", "BUDGET_SUFFIX", "LEARNED_SUFFIX"]

logger = logging.getLogger(__name__)

# Files beside the state path: budget counters (rewritten after every offer) and what was learned.
BUDGET_SUFFIX = ".acquisition.json"
LEARNED_SUFFIX = ".acquisition_learned.json"

Bought = tuple[list[RewardSample], list[float]]


@dataclass
class DeskConfig:
    """Settings of :class:`AcquisitionDesk`."""

    # The strategy, budget, step_groups (without global_steps in the samples: a new step after this many
    # offered groups; None: one step) and reuse (groups of a prompt bought earlier get the oracle's rewards,
    # free of budget; see the module doc): the job's ``acquire`` options, never a copy of them.
    acquire: AcquireOptions = field(default_factory=lambda: AcquireOptions("random", budget=1.0))
    # Persistence prefix (the service's state_dir): <prefix>.acquisition.json and
    # <prefix>.acquisition_learned.json. None: nothing persists; a restart starts the step's budget again.
    state_path: str | None = None
    # Also save what was learned after this many purchases (besides step boundaries and close).
    save_every: int = 16


def _read_json(path: Path, what: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is corrupt ({exc.msg}); fix or delete it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} is not a JSON object; fix or delete it")
    return data


class AcquisitionDesk:
    """One service's online acquisition (see the module doc).

    Args:
        cfg: strategy, budget, step, re-use and persistence settings.
        counters: the service's counters (``acq_*`` entries are added to them).
        oracle: labels bought groups (default :class:`VerifierOracle`: the verifiers against the
            ground truth the samples carry).
        join: receives the groups bought in a step at its boundary (the memory service adds them
            to its memory); None: bought groups are used only for their own rewards.

    Raises:
        ValueError: a corrupt persisted state (naming the file).
    """

    def __init__(
        self,
        cfg: DeskConfig,
        counters: Counter[str],
        oracle: LabelOracle | None = None,
        join: Callable[[list[Bought]], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.counters = counters
        self.oracle = oracle or VerifierOracle()
        self.acquirer = OnlineAcquirer(cfg.acquire.acquirer())
        self._join = join
        self.step: int | None = None  # the step in progress (None: none started)
        self.offered = 0  # groups offered in that step
        self.to_join: list[Bought] = []  # bought in this step, joining at the boundary
        self.owned: dict[str, int] = {}  # prompt (query_id) -> step it was bought in
        self.log: list[dict[str, object]] = []  # every offer, in order (the last 10,000)
        self._since_save = 0
        self.restored = False  # whether learned state was restored (then no warm start is needed)
        self._restore()

    # -- steps ------------------------------------------------------------------------------------
    def boundary(self, samples: Sequence[RewardSample]) -> None:
        """Start a new step when the group belongs to a later one; the previous step's purchases join."""
        steps = [s.global_step for s in samples if s.global_step is not None]
        if steps:
            new = self.step is None or max(steps) > self.step
            step = max(steps)
        else:
            size = self.cfg.acquire.step_groups
            new = self.step is None or (size is not None and self.offered >= size)
            step = 0 if self.step is None else self.step + int(new)
        if not new:
            return
        done = self.acquirer.new_step(step)
        if self.step is not None:
            logger.info("acquisition step %s done: %s", self.step, done)
            self._save_learned()
        self.step, self.offered = step, 0
        self._flush_joins()

    def _flush_joins(self) -> None:
        pending, self.to_join = self.to_join, []
        if pending and self._join is not None:
            self._join(pending)

    # -- decisions --------------------------------------------------------------------------------
    async def decide(
        self,
        uid: str,
        samples: list[RewardSample],
        prob: np.ndarray,
        pseudo: np.ndarray,
        clusters: np.ndarray,
        feats: np.ndarray | None,
        offer: bool = True,
    ) -> tuple[np.ndarray, AcquisitionInfo]:
        """The group's rewards (the oracle's when bought or owned, else ``pseudo``) and the verdict.

        ``offer=False`` (a straggler scored alone): never offered or bought, but still labelled by
        the oracle when its prompt was bought before (re-use costs no budget).
        """
        if any(s.ground_truth is None for s in samples):  # only presence is checked: nothing to buy
            self.counters["acq_no_ground_truth"] += 1
            return pseudo, AcquisitionInfo()
        first = samples[0]
        if any(s.ground_truth != first.ground_truth for s in samples):
            raise ValueError(f"group uid={uid!r}: its samples carry different ground truths")
        request = OracleRequest(
            group_id=uid,
            data_source=first.data_source,
            domain=first.domain,
            ground_truth=first.ground_truth,
            responses=[s.response for s in samples],
            extra_info=first.extra_info,
        )
        if self.cfg.acquire.reuse and first.query_id is not None and first.query_id in self.owned:
            true = await asyncio.get_running_loop().run_in_executor(None, self.oracle, request)
            self.counters["acq_reused"] += 1
            return np.asarray(true, dtype=np.float64), AcquisitionInfo(reused=1.0)
        if not offer:
            return pseudo, AcquisitionInfo()
        view = GroupView.of_group(uid, prob, pseudo, clusters, feats, first.domain)
        decision = self.acquirer.offer(view)
        self.offered += 1
        self._save_budget()
        spent = self.acquirer.budget.spent_step
        self.log.append(
            {"uid": uid, "query_id": first.query_id, "step": decision.step, "buy": decision.buy,
             "priority": decision.priority, "pred_cag": decision.predicted_cag}
        )  # fmt: skip
        del self.log[:-10_000]
        if not decision.buy:
            self.counters["acq_skipped"] += 1
            return pseudo, AcquisitionInfo(0.0, float(spent), decision.predicted_cag)
        try:
            true = await asyncio.get_running_loop().run_in_executor(None, self.oracle, request)
        except Exception:
            self.acquirer.release(uid)
            self._save_budget()
            self.counters["acq_oracle_errors"] += 1
            logger.exception("oracle failed on bought group uid=%r; its label went back to the budget", uid)
            raise
        real = self.acquirer.record_bought(uid, true)
        self.counters["acq_bought"] += 1
        if first.query_id is not None:
            self.owned.setdefault(first.query_id, decision.step)
        self.to_join.append((list(samples), [float(t) for t in true]))
        if self.cfg.acquire.step_groups is None and not any(s.global_step is not None for s in samples):
            self._flush_joins()  # one running step: join now
        self._since_save += 1
        if self._since_save >= self.cfg.save_every:
            self._save_learned()
        return np.asarray(true, dtype=np.float64), AcquisitionInfo(1.0, float(spent), decision.predicted_cag, real)

    # -- reporting --------------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        return {**self.acquirer.metrics(), "acquisition/owned_prompts": float(len(self.owned))}

    def state(self) -> dict[str, object]:
        """Metrics, every offer (``log``), the groups the oracle was asked for (``asked``), those
        the strategy learned from (``trained_on``: bought groups and the held-out ``warm_start``
        groups), those still to join (``to_join``) and the prompts bought so far (``owned``)."""
        return {
            "metrics": self.metrics(),
            "log": list(self.log),
            "asked": list(self.oracle.asked),
            "trained_on": list(self.acquirer.strategy.trained_on),
            "warm_start": list(self.acquirer.warm_ids),
            "to_join": [str(samples[0].uid) for samples, _ in self.to_join],
            "owned": dict(self.owned),
        }

    def close(self) -> None:
        self._save_learned()

    # -- persistence ------------------------------------------------------------------------------
    def _path(self, suffix: str) -> Path | None:
        if not self.cfg.state_path:
            return None
        base = Path(self.cfg.state_path)
        return base.with_name(base.name + suffix)

    def _save_budget(self) -> None:
        """Budget counters after every offer: a restarted worker continues the step's spending."""
        path = self._path(BUDGET_SUFFIX)
        if path is not None:
            state = {"acq_step": self.step, "acq_offered": self.offered, "budget": self.acquirer.budget.snapshot()}
            write_json(state, path)

    def _save_learned(self) -> None:
        path = self._path(LEARNED_SUFFIX)
        self._since_save = 0
        if path is not None:
            write_json({"acquirer": self.acquirer.state_dict(), "owned": self.owned}, path)

    def _restore(self) -> None:
        path = self._path(BUDGET_SUFFIX)
        state = _read_json(path, "acquisition budget state") if path is not None else None
        if state is not None and state.get("acq_step") is not None:
            self.acquirer.new_step(int(state["acq_step"]))
            self.acquirer.budget.restore(state["budget"])
            self.step, self.offered = int(state["acq_step"]), int(state["acq_offered"])
            logger.info("acquisition budget restored from %s: %s", path, state)
        path = self._path(LEARNED_SUFFIX)
        learned = _read_json(path, "acquisition learned state") if path is not None else None
        if learned is not None:
            try:
                self.acquirer.load_state_dict(learned.get("acquirer", {}))
                self.owned = {str(k): int(v) for k, v in learned.get("owned", {}).items()}
                self.restored = True
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"acquisition learned state {path} is invalid ({exc}); fix or delete it") from None
            logger.info(
                "acquisition learning restored from %s: %d probe groups, %d owned prompts",
                path, len(self.acquirer.strategy.trained_on), len(self.owned),
            )  # fmt: skip
