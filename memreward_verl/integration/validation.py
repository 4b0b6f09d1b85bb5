"""Which prompts are validation: the rows of verl's ``data.val_files`` that training never uses.

verl's streaming reward loop sends each rollout on its own, without the ``validate`` flag of its
batch, so the manager cannot ask verl whether a sample is validation. It asks the job's files instead:
a prompt of ``data.val_files`` that is not also in ``data.train_files`` is validation (and gets the
verifier). A prompt in both is training data, treated like any other: a test set used as the
training set (TTRL) never hands its prompts their ground truth. Never a field of the row itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from memreward_verl.integration.decode import last_user_message, prompt_key

__all__ = ["validation_prompts", "read_prompt_keys"]

logger = logging.getLogger(__name__)


def _paths(files: Any) -> list[str]:
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    return [str(f) for f in files]


def read_prompt_keys(paths: Iterable[str]) -> set[str]:
    """:func:`prompt_key` of every row of verl parquet files (columns ``data_source`` and ``prompt``).

    Raises:
        FileNotFoundError: a file that does not exist (named).
        ValueError: a file that is not a parquet with those columns (named, with the cause).
    """
    import pyarrow.parquet as pq

    keys: set[str] = set()
    for path in paths:
        local = os.path.expanduser(path)
        if not os.path.isfile(local):
            raise FileNotFoundError(f"{path}: no such file")
        try:
            table = pq.read_table(local, columns=["data_source", "prompt"]).to_pydict()
        except Exception as exc:  # pyarrow raises several types for a bad file or a missing column
            raise ValueError(f"{path}: cannot read columns data_source and prompt as parquet: {exc}") from exc
        for source, chat in zip(table["data_source"], table["prompt"]):
            question = last_user_message(chat)
            if isinstance(source, str) and question is not None:
                keys.add(prompt_key(source, question))
    return keys


def validation_prompts(config: Any) -> frozenset[str]:
    """Keys of the prompts in ``data.val_files`` and not in ``data.train_files`` of a verl job config.

    Files that cannot be read (a remote path, a missing file) leave the set empty, with a WARNING that
    says how validation samples are then recognised (verl's flag, ``val_data_sources``). Empty is the
    safe side: a validation prompt then gets a predicted reward, never a training prompt its truth.
    """
    data = config.get("data") if hasattr(config, "get") else None
    val_files = _paths(data.get("val_files") if data is not None else None)
    train_files = _paths(data.get("train_files") if data is not None else None)
    if not val_files:
        return frozenset()
    try:
        val = read_prompt_keys(val_files)
        train = read_prompt_keys(train_files)
    except (OSError, ValueError) as exc:
        logger.warning(
            "memreward cannot tell validation prompts from data.val_files (%s); validation samples are recognised "
            "only by verl's validate flag and +reward.reward_kwargs.val_data_sources, others get predicted rewards",
            exc,
        )
        return frozenset()
    shared = len(val & train)
    if shared:
        logger.warning("%d prompts of data.val_files are also training prompts: they are treated as training", shared)
    return frozenset(val - train)
