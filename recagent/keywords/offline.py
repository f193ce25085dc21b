"""The offline keyword route: D_pos / D_neg extracted from the item's own text, no LLM.

How pros and cons are derived (also in the README):

1. Candidates. The item's title (year and article suffix removed) and free text (TMDB tagline and
   overview for MovieLens) are lower-cased and tokenised; English stop words split phrases;
   candidates are the remaining unigrams and adjacent bigrams, plurals folded ("friends" ->
   "friend"). Only candidates that occur in at least `min_items` items and in at most
   `max_candidate_fraction` of them are kept: a keyword held by one item can never match another
   item's, and one held by everything tells nothing apart.
2. Ranking. Each candidate phrase (embedded once with the bundled MiniLM) is scored by cosine to
   the embedding of the whole item description (title, genres, text), KeyBERT style; the `top_k`
   best become the item's salient aspects.
3. Pros. D_pos = the salient aspects plus the item's genres: what the item offers and what
   draws its audience.
4. Cons. D_neg = the item's genres plus the salient aspects with negative valence: a phrase's
   valence is its cosine to a set of appealing anchor phrases minus its cosine to a set of
   off-putting anchor phrases (violence, gore, grief, boredom...), so "serial killer" or "war"
   is a con while "friendship" is not. Genres are in both sets because a genre is a reason to
   watch for its fans and a reason to skip for everyone else; whether it counts as a pro or a
   con for a user is decided by f_mat / f_sim from that user's liked and disliked history.
5. The paper's frequency filter runs last over the union (keywords held by fewer than
   `min_items` items or more than `max_fraction` of items are dropped).

If the dataset carries user tags or reviews they would feed D_pos (from users who rated the item
>= 3) and D_neg (from users who rated it lower); ML-100K has none, so this route uses item text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from ..data import Catalog
from .base import ItemKeywords, assign_categories, frequency_filter

POSITIVE_ANCHORS = [
    "heartwarming", "funny comedy", "inspiring triumph", "beautiful romance", "exciting adventure",
    "friendship", "charming family fun", "uplifting", "clever and witty", "magical wonder",
]
NEGATIVE_ANCHORS = [
    "graphic violence", "gory horror", "disturbing", "depressing tragedy", "brutal murder",
    "war atrocities", "crude humour", "boring and slow", "drug addiction", "death and grief",
]
EXTRA_STOP = {"film", "movie", "story", "life", "man", "woman", "new", "year", "years", "time", "way",
              "world", "day", "make", "take", "find", "finds", "help", "begin", "begins", "get", "gets",
              "come", "comes", "tries", "try", "goes", "go", "just", "soon", "old", "young", "lives",
              "live", "turn", "turns", "discover", "discovers", "set", "end", "ends", "tell", "tells",
              "decide", "decides", "nan", "don", "doesn", "isn", "won", "ll", "ve"}
STOP = set(ENGLISH_STOP_WORDS) | EXTRA_STOP
TOKEN = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")


def clean_title(title: str) -> str:
    """'Usual Suspects, The (1995)' -> 'usual suspects'."""
    t = re.sub(r"\(\d{4}\)\s*$", "", title).strip()
    t = re.sub(r",\s*(the|a|an|les|la|le|il|das|der|die)$", "", t, flags=re.I)
    return t.lower()


def fold(word: str) -> str:
    """A light plural fold so that 'friends' and 'friend' are one keyword."""
    word = word.strip("'-").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word


def candidates(text: str) -> list[str]:
    """Unigrams and adjacent bigrams of non-stop-word tokens, in order of appearance."""
    out: list[str] = []
    run: list[str] = []
    for raw in TOKEN.findall(text.lower()) + ["."]:
        word = fold(raw) if raw != "." else "."
        if word == "." or raw in STOP or word in STOP or len(word) < 3:
            run = []
            continue
        out.append(word)
        if run:
            out.append(f"{run[-1]} {word}")
        run.append(word)
    return out


def _item_document(catalog: Catalog, i: int) -> str:
    genres = ", ".join(catalog.item_genres(i))
    text = catalog.texts[i]
    return f"{clean_title(catalog.titles[i])}. {genres}. {text}".strip()


def extract_offline(catalog: Catalog, top_k: int = 8, min_items: int = 2, max_candidate_fraction: float = 0.05,
                    max_fraction: float = 0.25, embed_fn: Callable[[list[str]], np.ndarray] | None = None,
                    progress: Callable[[str, float], None] | None = None) -> tuple[ItemKeywords, dict[str, np.ndarray]]:
    """Distil every catalog item offline. Returns the keywords and the embedding of each keyword.

    `progress(stage, fraction)` is called as work advances (for the CLI's progress bar).
    """
    if embed_fn is None:
        from ..embeddings import embed as embed_fn
    report = progress or (lambda stage, frac: None)
    n = len(catalog)
    per_item = [list(dict.fromkeys(candidates(clean_title(catalog.titles[i]) + " . " + catalog.texts[i])))
                for i in range(n)]
    df = Counter(c for cs in per_item for c in cs)
    pool = sorted(c for c, k in df.items() if k >= min_items and k <= max(max_candidate_fraction * n, min_items))
    report("embedding candidate phrases", 0.1)
    pool_index = {c: k for k, c in enumerate(pool)}
    pool_vecs = embed_fn(pool) if pool else np.zeros((0, 384), dtype=np.float32)
    report("embedding item descriptions", 0.4)
    docs = embed_fn([_item_document(catalog, i) for i in range(n)])
    report("ranking key phrases", 0.8)
    anchors = embed_fn(POSITIVE_ANCHORS + NEGATIVE_ANCHORS)
    pos_anchor = anchors[: len(POSITIVE_ANCHORS)]
    neg_anchor = anchors[len(POSITIVE_ANCHORS):]
    valence = (pool_vecs @ pos_anchor.T).max(1) - (pool_vecs @ neg_anchor.T).max(1) if pool else np.zeros(0)

    genre_words = [g.lower() for g in catalog.genre_names]
    pos_lists, neg_lists = [], []
    for i in range(n):
        own = [pool_index[c] for c in per_item[i] if c in pool_index]
        genres = [genre_words[g] for g in np.flatnonzero(catalog.genres[i])] if catalog.genres.shape[1] else []
        if own:
            own_arr = np.array(own)
            scores = pool_vecs[own_arr] @ docs[i]
            best = own_arr[np.argsort(-scores, kind="stable")[:top_k]]
        else:
            best = np.zeros(0, dtype=np.int64)
        salient = [pool[k] for k in best]
        cons = [pool[k] for k in best if valence[k] < 0]
        pos_lists.append(list(dict.fromkeys(genres + salient)))
        neg_lists.append(list(dict.fromkeys(genres + cons)))
    pos_lists, neg_lists = frequency_filter(pos_lists, neg_lists, min_items=min_items, max_fraction=max_fraction)
    keywords = ItemKeywords(assign_categories(catalog), pos_lists, neg_lists, route="offline", meta={
        "top_k": top_k, "min_items": min_items, "max_candidate_fraction": max_candidate_fraction,
        "max_fraction": max_fraction, "candidate_pool": len(pool),
    })
    vocab = keywords.vocabulary()
    known = {c: pool_vecs[pool_index[c]] for c in vocab if c in pool_index}
    missing = [k for k in vocab if k not in known]
    if missing:
        known.update(zip(missing, embed_fn(missing)))
    report("done", 1.0)
    return keywords, known
