"""Held-out labelled groups as out-of-sample training examples for learning strategies.

A learning strategy (CARE's probes, ``hybrid``) must learn how the predictor's view of a group
relates to its TRUE rewards. The only honest examples are groups whose view was produced without
their own labels: the groups bought during training (the predictor never had their labels when
it scored them), and the warm-up queries the predictor was fitted WITHOUT, i.e. its validation
split. Those validation labels were paid for before training, as a uniform sample (no selection
bias), and were never label inputs or targets while fitting (they only chose the epoch, a mild
selection). Recording them before the first step gives the probes examples from step 0 on, which
matters most when there are few steps.

Warm-up groups used for TRAINING are not usable: the predictor was fitted to reproduce their
labels, so their views look more certain than any unlabelled group's (in-sample, leaky). And a
held-out group must be predicted with its OWN label inputs hidden, the other known labels kept:
exactly the situation of an unlabelled group in the stream.

:func:`held_out_examples` takes the predictor and the view builder as callables, so a reward
worker can call it with its own predictor as well as :mod:`simulate` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from memreward_verl.acquisition.probes import GroupView

__all__ = ["held_out_examples"]


def held_out_examples(
    held_out: Sequence[int],
    labels: np.ndarray,
    slices: Sequence[slice],
    predict: Callable[[np.ndarray], np.ndarray],
    view: Callable[[int, np.ndarray], GroupView],
    jointly: bool = False,
) -> list[tuple[GroupView, np.ndarray]]:
    """``(view, true rewards)`` of each held-out labelled group, predicted with its labels hidden.

    Args:
        held_out: indices of groups whose labels are known but were NOT used to fit the predictor
            (e.g. ``FitResult.val_queries``). A group with any rollout unlabelled in ``labels`` is
            skipped: a strategy learns from a group's complete true rewards only.
        labels: ``[R]`` known labels per rollout (-1 = unknown); the held-out groups' included.
        slices: ``slices[q]`` = the rollouts of group ``q``.
        predict: ``labels -> [R]`` probabilities with those labels as the predictor's inputs.
        view: ``(q, probs) -> GroupView`` of group ``q`` under ``probs`` (pseudo rewards included).
        jointly: hide every held-out group at once and predict once (the condition the fit
            validated them under) instead of one prediction per group; for a reward worker at
            start-up, where one prediction per group over a large memory would take minutes.

    Returns:
        One ``(view, 0/1 rewards as float)`` per fully labelled held-out group, in the order given.
    """
    complete = [int(q) for q in held_out if (np.asarray(labels[slices[int(q)]]) >= 0).all()]

    def hidden(qs: list[int]) -> np.ndarray:
        masked = labels.copy()
        for q in qs:
            masked[slices[q]] = -1
        return predict(masked)

    joint = hidden(complete) if jointly and complete else None
    return [
        (view(q, joint if joint is not None else hidden([q])), np.asarray(labels[slices[q]]).astype(np.float64))
        for q in complete
    ]
