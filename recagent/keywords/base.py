"""Item keywords (D_cate, D_pos, D_neg): the distilled item knowledge the ensemble simulator reads.

Whatever route produced them (offline extraction or an LLM), keywords end up in `ItemKeywords`:
one category per item and two keyword lists per item, filtered by how many items share a keyword
(the paper drops keywords that are too common to discriminate or too rare to ever match).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from ..data import Catalog

NO_CATEGORY = "(none)"


@dataclass
class ItemKeywords:
    """Per item: one category, why one would like it (pos), why one would dislike it (neg)."""

    categories: list[str]
    pos: list[list[str]]
    neg: list[list[str]]
    route: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (len(self.categories) == len(self.pos) == len(self.neg)):
            raise ValueError("keyword columns have different lengths")

    def __len__(self) -> int:
        return len(self.categories)

    # --- arrays for the hot path -------------------------------------------------------------
    def vocabulary(self) -> list[str]:
        """Every distinct keyword, sorted, so indices are stable across save/load."""
        return sorted({k for ks in self.pos for k in ks} | {k for ks in self.neg for k in ks})

    def category_names(self) -> list[str]:
        return sorted(set(self.categories))

    def category_index(self) -> np.ndarray:
        names = {c: n for n, c in enumerate(self.category_names())}
        return np.array([names[c] for c in self.categories], dtype=np.int64)

    def matrices(self, vocab: list[str] | None = None) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """Binary (n_items, n_vocab) CSR matrices of D_pos and D_neg."""
        vocab = vocab if vocab is not None else self.vocabulary()
        index = {k: n for n, k in enumerate(vocab)}

        def build(lists: list[list[str]]) -> sparse.csr_matrix:
            rows = np.repeat(np.arange(len(lists)), [len(ks) for ks in lists])
            cols = np.array([index[k] for ks in lists for k in ks], dtype=np.int64)
            m = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)),
                                  shape=(len(lists), len(vocab)))
            m.data[:] = 1.0  # duplicates summed by the constructor count once
            return m

        return build(self.pos), build(self.neg)

    # --- persistence ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"route": self.route, "meta": self.meta,
                "items": [{"category": c, "pos": p, "neg": n}
                          for c, p, n in zip(self.categories, self.pos, self.neg)]}

    @classmethod
    def from_json(cls, data: dict) -> ItemKeywords:
        items = data["items"]
        return cls([x["category"] for x in items], [list(x["pos"]) for x in items],
                   [list(x["neg"]) for x in items], data["route"], data.get("meta", {}))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> ItemKeywords:
        return cls.from_json(json.loads(Path(path).read_text()))


def assign_categories(catalog: Catalog) -> list[str]:
    """D_cate per item, the paper's rule: drop the most and the least frequent categories, keep one.

    Categories are the catalog's genres. The globally most frequent genre (too broad to say
    anything, e.g. Drama) and the least frequent one (too few items to ever give a same-category
    history) are removed from each item's genres unless nothing would be left; of what remains
    the item gets its globally most frequent genre, so same-category histories are as large as
    possible. Items without any genre share the category "(none)".
    """
    genres = np.asarray(catalog.genres, dtype=bool)
    if genres.shape[1] == 0:
        return [NO_CATEGORY] * len(catalog)
    freq = genres.sum(0).astype(np.int64)
    present = np.flatnonzero(freq > 0)
    dropped = set()
    if len(present) > 2:
        dropped = {int(present[np.argmax(freq[present])]), int(present[np.argmin(freq[present])])}
    out = []
    for row in genres:
        own = np.flatnonzero(row)
        if len(own) == 0:
            out.append(NO_CATEGORY)
            continue
        kept = [g for g in own if g not in dropped] or list(own)
        best = max(kept, key=lambda g: (freq[g], -g))
        out.append(catalog.genre_names[best])
    return out


def frequency_filter(pos: list[list[str]], neg: list[list[str]], min_items: int = 2,
                     max_fraction: float = 0.25, keep: set[str] | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """Drop keywords held by fewer than `min_items` items or by more than `max_fraction` of items.

    A keyword is counted once per item whether it is a pro, a con or both. `keep` lists keywords
    exempt from the filter.
    """
    n = max(len(pos), 1)
    counts = Counter(k for p, q in zip(pos, neg) for k in set(p) | set(q))
    keep = keep or set()
    ok = {k for k, c in counts.items() if k in keep or (c >= min_items and c <= max_fraction * n)}
    dedupe = lambda ks: list(dict.fromkeys(k for k in ks if k in ok))  # noqa: E731
    return [dedupe(p) for p in pos], [dedupe(q) for q in neg]
