"""Building a reward service from the files a job names (artifact, saved state, labelled-ids file).

Every file is read through :mod:`memreward_verl.files`, so a broken one is named with what is wrong.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from memreward_verl.artifact import ArtifactError, load_artifact
from memreward_verl.embed import load_embedder
from memreward_verl.files import FileFormatError, read_json
from memreward_verl.reward import RewardRule
from memreward_verl.serve.memory_scorer import MemoryService
from memreward_verl.serve.options import AcquireOptions, CollectOptions
from memreward_verl.serve.vote_scorer import MajorityVoteService

__all__ = ["read_labelled_ids_file", "load_service", "load_vote_service"]

logger = logging.getLogger(__name__)


def read_labelled_ids_file(path: str | Path) -> list[str]:
    """The ``query_ids`` of a labelled-ids JSON file (``{"ratio": .., "seed": .., "query_ids": [...]}``).

    Raises:
        ValueError: a missing, empty or unreadable file, or ``query_ids`` that is not a list of distinct,
            non-empty strings (the message names the file and what is wrong).
    """
    try:
        data = read_json(path, dict, ("query_ids",))
    except FileFormatError as exc:
        raise ValueError(f"labelled_ids_file: {exc} (`memreward prepare` writes {{'query_ids': [...]}})") from None
    ids = data["query_ids"]
    if not isinstance(ids, list) or not all(isinstance(q, str) and q.strip() for q in ids):
        shown = ids if not isinstance(ids, list) else [q for q in ids if not (isinstance(q, str) and q.strip())][:3]
        raise ValueError(
            f"labelled_ids_file {str(path)!r}: 'query_ids' must be a list of non-empty query id strings "
            f"(as `memreward prepare` writes it); got {shown!r}"
        )
    dupes = sorted(q for q, c in Counter(ids).items() if c > 1)
    if dupes:
        raise ValueError(f"labelled_ids_file {str(path)!r}: 'query_ids' lists {dupes[:5]} more than once")
    return ids


def load_vote_service(
    artifact_dir: str | Path | None,
    labelled_ids_file: str | Path | None,
    rule: RewardRule,
    cfg: CollectOptions,
    acquire: AcquireOptions | None = None,
) -> MajorityVoteService:
    """A :class:`MajorityVoteService` whose labelled prompts come from an artifact, a file, or nowhere.

    With ``artifact_dir``, its labelled prompts keep their ground truth and its text settings split
    responses; with ``labelled_ids_file``, the file's ``query_ids`` are labelled; with neither,
    every training prompt is pseudo-labelled.

    Raises:
        ArtifactError: an artifact that cannot be loaded.
        ValueError: both sources given, or a bad ``labelled_ids_file``.
    """
    if artifact_dir and labelled_ids_file:
        raise ValueError("give artifact_dir or labelled_ids_file, not both: each names the labelled prompts")
    if artifact_dir:
        artifact = load_artifact(artifact_dir)
        return MajorityVoteService(artifact.labelled_ids, rule, cfg, acquire=acquire)
    ids = read_labelled_ids_file(labelled_ids_file) if labelled_ids_file else []
    return MajorityVoteService(ids, rule, cfg, acquire=acquire)


def load_service(
    artifact_dir: str | Path, rule: RewardRule, cfg: CollectOptions, acquire: AcquireOptions | None = None
) -> MemoryService:
    """Load the artifact (or, with ``grow_memory``, the last saved state) and its embedder; the service
    resolves ``hard_rule=auto`` to the loaded fit's choice (and again after each refit).

    Raises:
        ArtifactError: a missing, corrupt or mismatched artifact (the message names the path and cause).
    """
    path = Path(artifact_dir)
    grows = cfg.grow_memory or (acquire is not None and acquire.enabled)
    if grows and cfg.state_dir and (Path(cfg.state_dir) / "artifact.json").is_file():
        logger.info("resuming from the saved memory state at %s", cfg.state_dir)
        path = Path(cfg.state_dir)
    artifact = load_artifact(path)
    try:
        embedder = load_embedder(artifact.cfg.embed)
    except (FileNotFoundError, OSError) as exc:
        raise ArtifactError(
            f"artifact at {path}: cannot load its embedder {artifact.cfg.embed.model_name!r}: {exc}"
        ) from exc
    if embedder.model_id != artifact.memory.model_id:
        raise ArtifactError(
            f"artifact at {path} was embedded with {artifact.memory.model_id!r}, but its embedder config gives "
            f"{embedder.model_id!r}"
        )
    return MemoryService(artifact, embedder, rule, cfg, acquire=acquire)
