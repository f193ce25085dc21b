"""Where prepared artefacts (keywords, trained models, embeddings, the LLM prompt cache) are kept."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$RECAGENT_CACHE, else ~/.cache/recagent."""
    return Path(os.environ.get("RECAGENT_CACHE", "~/.cache/recagent")).expanduser()
