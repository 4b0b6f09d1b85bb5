"""The warm-up artifact: memory + trained GNN + config + metrics, as one directory.

Layout (format version 3; written atomically; tensors and JSON only, no pickled code)::

    artifact.json   format version, package version, embedder model id
    config.json     the full MemRewardConfig
    memory/         ExperienceMemory (see memory.py)
    model.pt        {"members": [{"model_args", "state_dict"}, ...]} loaded with ``weights_only=True``
                    (the served fold models, ensemble.py; format 2 held one model, read as one member)
    metrics.json    fold 0's validation AUC/F1/CAG and epoch, per-fold results; in a service's
                    saved state also ``joins``, the groups that joined online (serve/memory_scorer.py)
    labelled_ids.json

:func:`build_artifact` turns rollouts with a labelled subset into an artifact; :func:`load_artifact`
gives back a :class:`Artifact` whose :meth:`Artifact.predictor` scores new groups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from memreward_verl import __version__
from memreward_verl.config import MemRewardConfig
from memreward_verl.embed import Embedder
from memreward_verl.ensemble import FoldEnsemble
from memreward_verl.files import FileFormatError, atomic_replace_dir, read_checkpoint, read_json
from memreward_verl.fit import fit_gnn
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import ExperienceMemory, MemoryFormatError
from memreward_verl.predict import Predictor

__all__ = ["Artifact", "ArtifactError", "build_artifact", "load_artifact", "save_artifact", "ARTIFACT_VERSION"]

# 2: the anchor's vote column holds a program's execution agreement score (features.vote_score), so a
# version-1 model would read code rollouts differently than it was trained to: refused, not reinterpreted.
# 3: model.pt holds every served fold model (ensemble.py); a version-2 file's one model is read as one member.
ARTIFACT_VERSION = 3
_READABLE_VERSIONS = (2, 3)
_FILES = ("artifact.json", "config.json", "model.pt", "metrics.json", "labelled_ids.json")


class ArtifactError(MemoryFormatError):
    """An artifact directory is missing, corrupt, of another version or of another embedder."""


@dataclass
class Artifact:
    """A loaded warm-up artifact."""

    cfg: MemRewardConfig
    memory: ExperienceMemory
    model: FoldEnsemble
    metrics: dict[str, Any]
    # The memory graph fit_gnn built (only right after building, never saved): callers that
    # predict the whole memory at once reuse it instead of building it again.
    graph: Any = field(default=None, repr=False, compare=False)

    @property
    def labelled_ids(self) -> list[str]:
        return self.memory.labelled_ids

    def predictor(self) -> Predictor:
        return Predictor(self.model, self.memory, self.cfg)


def save_artifact(path: str | Path, artifact: Artifact) -> Path:
    """Write ``artifact`` to ``path`` atomically (replacing an older one)."""
    info = {"format_version": ARTIFACT_VERSION, "package_version": __version__, "model_id": artifact.memory.model_id}

    def fill(tmp: Path) -> None:
        (tmp / "artifact.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(artifact.cfg.to_dict(), indent=2), encoding="utf-8")
        (tmp / "metrics.json").write_text(json.dumps(artifact.metrics, indent=2, default=float), encoding="utf-8")
        (tmp / "labelled_ids.json").write_text(json.dumps(artifact.labelled_ids), encoding="utf-8")
        torch.save(artifact.model.checkpoint(), tmp / "model.pt")
        artifact.memory.save(tmp / "memory")

    return atomic_replace_dir(path, fill)


def load_artifact(path: str | Path, expected_model_id: str | None = None) -> Artifact:
    """Load an artifact directory; every file it reads is checked, and an error names the file.

    Args:
        path: the directory written by :func:`save_artifact`.
        expected_model_id: the embedder that will encode new groups; a different id is an error.

    Raises:
        ArtifactError: a missing, empty, truncated or malformed file (named, with what is wrong), another
            format version, another embedder, or a labelled_ids.json that disagrees with the memory.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"artifact directory {path} does not exist")
    for name in _FILES:
        if not (path / name).is_file():
            raise ArtifactError(f"artifact at {path} is missing {name}")
    try:
        info = read_json(path / "artifact.json", dict, ("format_version", "model_id"))
        cfg_dict = read_json(path / "config.json", dict)
        metrics = read_json(path / "metrics.json", dict)
        labelled = read_json(path / "labelled_ids.json", list)
        ckpt = read_checkpoint(path / "model.pt")
    except FileFormatError as exc:
        raise ArtifactError(f"artifact at {path} is corrupt: {exc}") from None
    try:
        cfg = MemRewardConfig.from_dict(cfg_dict)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"artifact at {path} is corrupt: {path / 'config.json'}: {exc}") from None
    try:
        model = FoldEnsemble.from_checkpoint(ckpt)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ArtifactError(f"artifact at {path} is corrupt: {path / 'model.pt'}: {exc}") from None
    if info["format_version"] not in _READABLE_VERSIONS:
        raise ArtifactError(
            f"artifact at {path} has format version {info['format_version']!r}; this code reads "
            f"{' or '.join(map(str, _READABLE_VERSIONS))} "
            "(rebuild it with `memreward warmup`)"
        )
    if expected_model_id is not None and info["model_id"] != expected_model_id:
        raise ArtifactError(
            f"artifact at {path} was embedded with {info['model_id']!r}, but the embedder is {expected_model_id!r}"
        )
    try:
        memory = ExperienceMemory.load(path / "memory", expected_model_id=info["model_id"], cfg=cfg.memory)
    except MemoryFormatError as exc:
        raise ArtifactError(str(exc)) from exc
    _check_labelled(path / "labelled_ids.json", labelled, memory)
    return Artifact(cfg=cfg, memory=memory, model=model, metrics=metrics)


def _check_labelled(path: Path, labelled: list, memory: ExperienceMemory) -> None:
    """labelled_ids.json must list exactly the memory's labelled query ids (it is what readers trust)."""
    bad = [q for q in labelled if not isinstance(q, str)]
    if bad:
        raise ArtifactError(f"{path}: must be a JSON array of query id strings (got {bad[:3]!r})")
    if sorted(labelled) != sorted(memory.labelled_ids):
        extra = sorted(set(labelled) - set(memory.labelled_ids))[:5]
        lacking = sorted(set(memory.labelled_ids) - set(labelled))[:5]
        raise ArtifactError(
            f"{path}: disagrees with the memory's labelled queries ({len(labelled)} listed, "
            f"{len(memory.labelled_ids)} in memory/memory.json; not in the memory: {extra}, missing: {lacking})"
        )


def build_artifact(
    groups: EncodedGroups,
    labelled_ids: list[str],
    cfg: MemRewardConfig | None = None,
    out_dir: str | Path | None = None,
    embedder: Embedder | None = None,
) -> Artifact:
    """Memory from encoded warm-up groups, GNN trained on the labelled ones, optionally saved.

    Only the labels of ``labelled_ids`` enter the memory; other labels in ``groups`` are dropped.
    """
    cfg = cfg or MemRewardConfig()
    if embedder is not None and embedder.model_id != groups.model_id:
        raise ArtifactError(f"groups were embedded with {groups.model_id!r}, the embedder is {embedder.model_id!r}")
    memory = ExperienceMemory(groups, labelled_ids, cfg.memory)
    result = fit_gnn(memory, cfg)
    # The validation queries were never label inputs or targets of the fit: held-out examples
    # (e.g. for acquisition strategies that learn how predictions relate to the truth).
    metrics = {**result.metrics, "val_query_ids": [groups.query_ids[int(q)] for q in result.val_queries]}
    artifact = Artifact(cfg=cfg, memory=memory, model=result.model, metrics=metrics, graph=result.graph)
    if out_dir is not None:
        save_artifact(out_dir, artifact)
    return artifact
