"""Shared helpers for the feedback / keywords / eval tests: a fast fake embedding function."""

from __future__ import annotations

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
