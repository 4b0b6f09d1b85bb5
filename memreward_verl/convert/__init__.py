"""Converters from public rollout sets to the canonical rollout format (:mod:`memreward_verl.rollouts`).

Each module registers one converter ``(path, **opts) -> list[Query]`` in :data:`CONVERTERS`;
:func:`convert` looks one up by name and checks its options.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from memreward_verl.convert import (  # noqa: F401  (imported to register the converters)
    aime25,
    codet_humaneval,
    faithful_cot,
    game24,
    gsm8k_solutions,
    qwen_math,
    routerbench,
)
from memreward_verl.convert.base import CONVERTERS, Converter
from memreward_verl.rollouts import Query

__all__ = ["CONVERTERS", "Converter", "convert", "converter_options"]


def converter_options(fmt: str) -> list[str]:
    """Names of the keyword options the converter ``fmt`` accepts.

    Raises:
        KeyError: for an unknown format, listing the registered ones.
    """
    params = inspect.signature(CONVERTERS.get(fmt)).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def convert(fmt: str, path: str | os.PathLike, **opts: Any) -> list[Query]:
    """Convert the rollout set at ``path`` with the converter registered as ``fmt``.

    Args:
        fmt: a registered format name (see ``CONVERTERS.names()``).
        path: the converter's input file or directory.
        **opts: converter-specific options.

    Returns:
        The converted queries.

    Raises:
        KeyError: for an unknown format, listing the registered ones.
        ValueError: for an option the converter does not take (valid ones listed), or bad input.
        FileNotFoundError: if the input is missing.
    """
    func = CONVERTERS.get(fmt)
    valid = converter_options(fmt)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise ValueError(f"converter {fmt!r} does not take option(s) {unknown}; valid: {valid or '(none)'}")
    return func(path, **opts)
