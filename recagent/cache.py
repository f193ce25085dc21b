"""Where prepared artefacts (keywords, trained models, embeddings, the LLM prompt cache) are kept."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable


def cache_dir() -> Path:
    """$RECAGENT_CACHE, else ~/.cache/recagent."""
    return Path(os.environ.get("RECAGENT_CACHE", "~/.cache/recagent")).expanduser()


def publish_folder(folder: Path, write: Callable[[Path], object], marker: str) -> None:
    """Write a cache folder whole or not at all.

    `write(tmp)` fills a temporary sibling, which is then renamed to `folder`, so a crash or an
    error leaves no half-written entry. A `folder` without its `marker` file (half-written by an
    older version) is replaced; one with it (another process finished the same entry first) is
    kept and this one dropped.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
        if folder.exists() and not (folder / marker).is_file():
            shutil.rmtree(folder)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / marker).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
