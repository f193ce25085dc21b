"""Content-based recommender: MiniLM embeddings of item text against each user's watched items.

A user's profile is the rating-weighted mean of the embeddings of the items they rated (weight =
rating - `centre`, so items rated below the centre push the profile away); items are scored by
cosine with the profile. Item text is the catalog's free text, or "title. genres" when an item
has none. Embeddings are cached on disk (cache_dir/embeddings/<hash>.npy) because encoding a
catalog takes seconds to minutes on a CPU.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from scipy import sparse

from ..data import Catalog, Interactions
from .base import top_k
from .state import Accumulated


def item_texts(catalog: Catalog) -> list[str]:
    out = []
    for i, text in enumerate(catalog.texts):
        text = (text or "").strip()
        head = f"{catalog.titles[i]}. {', '.join(catalog.item_genres(i))}."
        out.append(f"{head} {text}" if text else head)
    return out


def item_embeddings(catalog: Catalog, cache_dir: Path | None = None) -> np.ndarray:
    """(n_items, 384) normalised MiniLM embeddings of the catalog's item texts, cached on disk."""
    texts = item_texts(catalog)
    key = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:20]
    path = Path(cache_dir) / "embeddings" / f"items-{key}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    from ..embeddings import embed

    vectors = embed(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs time
    return vectors


class ContentRecommender:
    name = "content"

    def __init__(self, cache_dir: Path | None = None, centre: float = 2.5, features: str = "text"):
        if features not in ("text", "genres"):
            raise TypeError(f"features must be 'text' or 'genres', found {features!r}")
        self.cache_dir, self.centre, self.features = cache_dir, centre, features

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        if self.features == "text":
            vectors = item_embeddings(catalog, self.cache_dir)
        else:
            g = catalog.genres.astype(np.float32)
            vectors = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        self.vectors = vectors.astype(np.float32)
        self.data = Accumulated(len(catalog), interactions)
        self._profiles()

    def _profiles(self) -> None:
        d = self.data
        w = sparse.csr_matrix(((d.ratings - self.centre).astype(np.float32), (d.users, d.items)),
                              shape=(d.n_users, d.n_items))
        p = np.asarray(w @ self.vectors)
        self.profiles = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)

    def scores(self, user_ids: np.ndarray) -> np.ndarray:
        user_ids = np.asarray(user_ids)
        prof = np.zeros((len(user_ids), self.vectors.shape[1]), np.float32)
        known = user_ids < len(self.profiles)
        prof[known] = self.profiles[user_ids[known]]
        return (prof @ self.vectors.T).astype(np.float64)

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.scores(np.asarray(user_ids)), k, exclude)

    def update(self, feedback: Interactions) -> None:
        self.data.add(feedback)
        self._profiles()
