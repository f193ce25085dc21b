"""`recagent prepare --route llm`: LLM-distilled keywords, computed once per dataset and model, cached.

The keywords land in `<cache>/keywords/llm-<hash>/` (keywords.json, keyword_vectors.npz and a
manifest with each file's sha256 and provenance: model, endpoint host, T_sub source, reply counts), next to the offline
route's `offline-<hash>/`. The hash covers the catalog, the model and its sampling parameters, the
prompts, the (rating, comment) pairs and the filter parameters, not the endpoint URL (like the
prompt cache: load-balanced servers of one model share entries). The folder is written to a
temporary name and renamed when complete, so a failed run leaves nothing half-written; replies
that validated stay in the prompt cache (`<cache>/llm_cache.sqlite`), so a re-run does not pay
for them again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import numpy as np

from ..cache import publish_folder
from ..data import Catalog
from .base import ItemKeywords
from .llm import T_OBJ, T_OBJ_SYSTEM, T_SUB, T_SUB_SYSTEM, distil_with_llm

OPENAI_HOST = "api.openai.com"


@dataclass
class PreparedKeywords:
    keywords: ItemKeywords
    vectors: dict[str, np.ndarray]
    folder: Path
    loaded: bool  # True when the folder was already there (no LLM call made)


def endpoint_hosts(base_url: str | list[str] | None) -> list[str]:
    """host[:port] of each endpoint (never the path, query or credentials); the OpenAI API when None."""
    urls = base_url if isinstance(base_url, list) else [base_url]
    out = []
    for url in urls:
        if url is None:
            out.append(OPENAI_HOST)
            continue
        parsed = urlparse(url)
        out.append(f"{parsed.hostname}:{parsed.port}" if parsed.port else str(parsed.hostname))
    return out


def _sha(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _no_rows(path: Path) -> bool:
    from ..llm import PromptCache

    cache = PromptCache(path)
    try:
        return len(cache) == 0
    finally:
        cache.close()


def llm_keyword_params(spec, comments: list[list[tuple[float, str]]] | None, like_threshold: float,
                       min_items: int, max_fraction: float) -> dict:
    """What the cached keywords depend on besides the catalog."""
    return {"route": "llm", "model": spec.model, "temperature": spec.temperature, "max_tokens": spec.max_tokens,
            "prompts": _sha([T_OBJ_SYSTEM, T_OBJ, T_SUB_SYSTEM, T_SUB]),
            "comments": _sha(comments) if comments else None, "like_threshold": like_threshold,
            "min_items": min_items, "max_fraction": max_fraction}


def prepare_llm_keywords(catalog: Catalog, dataset_name: str, cache_dir: Path, spec, make_backend: Callable,
                         comments: list[list[tuple[float, str]]] | None = None, t_sub_note: str = "",
                         like_threshold: float = 3.0, min_items: int = 2, max_fraction: float = 0.25,
                         max_failed: float = 0.1, progress: Callable[[str, float], None] | None = None,
                         embed_fn: Callable | None = None) -> PreparedKeywords:
    """Load the LLM keywords of this catalog and model from the cache, or distil and cache them.

    `spec` is an `LLMSpec`; `make_backend()` builds its `LanguageBackend` (only called when the
    cache has no entry). `t_sub_note` says where the comments came from, or why T_sub was skipped.
    Raises `LLMRouteError` (a UserError) for a dead or misbehaving endpoint, leaving the keyword
    cache untouched.
    """
    from ..feedback.ensemble import fingerprint, save_keywords
    from ..feedback.ensemble_prepare import cached_keywords

    kw_params = llm_keyword_params(spec, comments, like_threshold, min_items, max_fraction)
    folder = Path(cache_dir) / "keywords" / f"llm-{fingerprint(catalog, None, kw_params)[:12]}"
    found = cached_keywords(folder)  # a usable entry, else None (an unusable one is said and removed)
    if found is not None:
        return PreparedKeywords(*found, folder, True)

    prompt_cache = Path(cache_dir) / "llm_cache.sqlite" if spec.cache is True else None
    new_prompt_cache = prompt_cache is not None and not prompt_cache.exists()
    hosts = endpoint_hosts(spec.base_url)
    new_cache_dir = not Path(cache_dir).exists()
    backend, ok = None, False
    try:
        backend = make_backend()
        keywords = distil_with_llm(catalog, backend, comments=comments, like_threshold=like_threshold,
                                   min_items=min_items, max_fraction=max_fraction, max_failed=max_failed,
                                   progress=progress, source=f"LLM endpoint {', '.join(hosts)} (model {spec.model})")
        ok = True
    finally:
        if backend is not None:
            backend.close()
        if not ok:  # nothing learnt: leave no empty file or folder behind
            if new_prompt_cache and prompt_cache.exists() and _no_rows(prompt_cache):
                prompt_cache.unlink()
            if new_cache_dir and Path(cache_dir).is_dir() and not any(Path(cache_dir).iterdir()):
                Path(cache_dir).rmdir()
    keywords.meta.update({"model": spec.model, "endpoint": hosts[0] if len(hosts) == 1 else hosts,
                          "t_sub": t_sub_note})
    if embed_fn is None:
        from ..embeddings import embed as embed_fn
    vocab = keywords.vocabulary()
    vectors = dict(zip(vocab, embed_fn(vocab)))

    publish_folder(folder, lambda tmp: save_keywords(tmp, keywords, vectors, {
        "dataset": dataset_name, "params": kw_params,
        "llm": {"model": spec.model, "endpoint": hosts, "temperature": spec.temperature,
                "max_tokens": spec.max_tokens, "max_retries": spec.max_retries,
                "max_concurrency": spec.max_concurrency},
        "t_sub": t_sub_note, "replies": keywords.meta.get("replies", {}),
        "failed_items": len(keywords.meta.get("failed_items", [])),
        "failed_comments": keywords.meta.get("failed_comments", 0),
    }), "manifest.json")
    return PreparedKeywords(keywords, vectors, folder, False)
