"""Shared helpers for the feedback / keywords / eval tests: a fast fake embedding function, CSV files."""

from __future__ import annotations

import csv
import hashlib

import numpy as np


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors from a hash of each text (stands in for MiniLM in fast tests)."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for k, t in enumerate(texts):
        seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=384)
        out[k] = v / np.linalg.norm(v)
    return out


def write_rating_csvs(data, ratings, items, user_col: str = "userId", item_col: str = "movieId", review=None):
    """A synthetic Dataset as a ratings CSV (users 1-based, the catalog's raw item ids) and an items
    CSV (title, genres, overview). `review(item, rating)`, when given, fills a review column."""
    with open(ratings, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([user_col, item_col, "rating", "timestamp"] + (["review"] if review else []))
        for u, i, r, t in zip(data.interactions.users, data.interactions.items, data.interactions.ratings,
                              data.interactions.times):
            row = [int(u) + 1, int(data.catalog.raw_ids[i]), float(r), int(t)]
            w.writerow(row + ([review(i, r)] if review else []))
    with open(items, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([item_col, "title", "genres", "overview"])
        for k in range(len(data.catalog)):
            w.writerow([int(data.catalog.raw_ids[k]), data.catalog.titles[k], "|".join(data.catalog.item_genres(k)),
                        data.catalog.texts[k]])
    return ratings, items
