"""ONE function from a verl sample (a one-row ``DataProto``) to a typed :class:`RewardSample`.

verl's own managers each repeat ~35 lines of unpacking; every memreward path uses this instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from memreward_verl.reward import RewardSample

__all__ = ["decode_sample", "SampleFormatError", "last_user_message", "prompt_key"]


class SampleFormatError(ValueError):
    """A verl sample lacks what memreward needs (the message names the field and the sample)."""


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def last_user_message(chat: Any) -> str | None:
    """The question of a verl ``prompt`` cell: the text itself, or the last user message of a chat."""
    if chat is None:
        return None
    if isinstance(chat, str):
        return chat
    users = [m.get("content", "") for m in list(chat) if isinstance(m, Mapping) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None


def prompt_key(data_source: str, question: str) -> str:
    """How a prompt is recognised across the parquet files and the samples (integration/validation.py)."""
    return f"{data_source}\x00{question.strip()}"


def _question(non_tensor: Mapping[str, Any], prompt_ids: Any, tokenizer: Any) -> str:
    """The last user message of ``raw_prompt``/``prompt``; else the decoded prompt tokens."""
    for key in ("raw_prompt", "prompt"):
        question = last_user_message(non_tensor.get(key))
        if question is not None:
            return question
    return tokenizer.decode(prompt_ids, skip_special_tokens=True)


def decode_sample(
    data: Any,
    tokenizer: Any,
    query_id_key: str = "query_id",
    val_data_sources: frozenset[str] = frozenset(),
    val_prompts: frozenset[str] = frozenset(),
) -> RewardSample:
    """Decode the last row of a verl ``DataProto`` into a :class:`RewardSample`.

    The response is ``responses[:valid_len]`` with ``valid_len = attention_mask[-response_len:].sum()``,
    decoded with special tokens skipped. A sample is a validation sample when verl marks it so
    (``meta_info["validate"]``, set on verl's validation batches), its prompt is one of
    ``val_prompts`` (prompts of ``data.val_files`` that training never uses) or its ``data_source`` is
    one of ``val_data_sources``. Never from a field of the row itself (``extra_info["split"]``): a
    training parquet made from a test set would otherwise hand every prompt its ground truth. ``global_step`` comes from
    ``non_tensor_batch["global_steps"]`` (verl's V1 trainer sets it on every sample), else from
    ``meta_info["global_steps"]``; None when neither is there (or it is -1, verl's "unknown").

    Args:
        data: a ``DataProto`` with one (or more; the last is used) row.
        tokenizer: the policy tokenizer.
        query_id_key: the ``extra_info`` key naming the prompt in the artifact.
        val_data_sources: data sources that only validation uses (their samples get the verifier).
        val_prompts: :func:`prompt_key` of each validation-only prompt.

    Returns:
        The record; ``uid``/``query_id`` are None when absent (the caller decides if that is an error).

    Raises:
        SampleFormatError: no ``data_source``, or no response tensors.
    """
    item = data[len(data) - 1]
    non_tensor = {k: _plain(v) for k, v in item.non_tensor_batch.items()}
    where = f"sample(uid={non_tensor.get('uid')!r}, index={non_tensor.get('index')!r})"
    if "responses" not in item.batch.keys() or "attention_mask" not in item.batch.keys():
        raise SampleFormatError(f"{where} has no 'responses'/'attention_mask' tensors")
    response_ids = item.batch["responses"]
    valid = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
    response = tokenizer.decode(response_ids[:valid], skip_special_tokens=True)
    data_source = non_tensor.get("data_source")
    if not isinstance(data_source, str) or not data_source:
        raise SampleFormatError(f"{where} has no 'data_source' (got {data_source!r}); the parquet must carry it")
    extra = non_tensor.get("extra_info")
    extra = dict(extra) if isinstance(extra, Mapping) else {}
    reward_model = non_tensor.get("reward_model")
    gt = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None
    uid = non_tensor.get("uid")
    qid = extra.get(query_id_key)
    prompt_ids = item.batch["prompts"] if "prompts" in item.batch.keys() else []
    question = _question(non_tensor, prompt_ids, tokenizer)
    validate = (
        _plain(data.meta_info.get("validate", False)) is True
        or data_source in val_data_sources
        or (bool(val_prompts) and prompt_key(data_source, question) in val_prompts)
    )
    step = non_tensor.get("global_steps", data.meta_info.get("global_steps"))
    ability = non_tensor.get("ability")
    return RewardSample(
        uid=None if uid is None else str(uid),
        query_id=None if qid is None else str(qid),
        data_source=data_source,
        question=question,
        response=response,
        ground_truth=None if gt is None else str(gt),
        ability=ability if isinstance(ability, str) else None,
        extra_info=extra,
        is_validation=validate,
        response_length=valid,
        global_step=_step(step, where),
    )


def _step(value: Any, where: str) -> int | None:
    """verl's ``global_steps`` as an int (None when absent or -1, the agent loop's "unknown")."""
    if value is None:
        return None
    try:
        step = int(value)
    except (TypeError, ValueError):
        raise SampleFormatError(f"{where} has a non-integer 'global_steps' ({value!r})") from None
    return None if step < 0 else step
