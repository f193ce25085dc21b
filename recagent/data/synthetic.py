"""A seeded synthetic world: users with latent genre tastes, items with genres and short text.

Used by the quickstart and the tests, so that recagent runs on a fresh machine with no dataset.
Ratings follow a simple generative story: a user's rating of an item rises with the share of the
item's genres the user likes, plus the item's quality and noise.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .core import Catalog, Dataset, Interactions, Users, spans

GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi", "Horror", "Documentary", "Animation",
          "Thriller", "Fantasy"]
GENRE_WORDS = {
    "Action": ["explosive chase", "fearless hero", "car stunts", "martial arts", "rescue mission"],
    "Comedy": ["witty banter", "absurd mishaps", "family chaos", "slapstick humour", "odd couple"],
    "Drama": ["quiet grief", "family secrets", "second chances", "moral choice", "coming of age"],
    "Romance": ["unlikely love", "first date", "long-distance letters", "wedding plans", "old flame"],
    "Sci-Fi": ["space station", "time loop", "rogue android", "alien signal", "distant planet"],
    "Horror": ["haunted house", "masked killer", "cursed tape", "creeping dread", "isolated cabin"],
    "Documentary": ["true story", "archival footage", "wildlife", "investigative reporting", "musicians"],
    "Animation": ["talking animals", "hand-drawn world", "magical quest", "toy adventure", "bright colours"],
    "Thriller": ["double agent", "heist plan", "missing witness", "conspiracy", "ticking clock"],
    "Fantasy": ["dragon", "enchanted forest", "sword and sorcery", "prophecy", "hidden kingdom"],
}
ADJECTIVES = ["Silent", "Crimson", "Last", "Broken", "Golden", "Hidden", "Electric", "Lonely", "Wild",
              "Midnight", "Paper", "Iron", "Velvet", "Endless", "Falling"]
NOUNS = ["River", "Signal", "Garden", "Empire", "Harbor", "Machine", "Promise", "Shadow", "Summer",
         "Frontier", "Letter", "Storm", "Mirror", "Kingdom", "Orbit"]
# First names by gender, so that a persona's name matches its gender. Both lists hold 25 names:
# one draw of 0-24 per user keeps the seeded stream (and so every later draw) as it was.
FEMALE_FIRST_NAMES = ["Ava", "Beatriz", "Chloe", "Dana", "Emma", "Fatima", "Grace", "Hana", "Isla", "Julia",
                      "Kira", "Lena", "Maya", "Nadia", "Olga", "Priya", "Qiu", "Rosa", "Sara", "Tara",
                      "Ulla", "Vera", "Wen", "Yara", "Zoe"]
MALE_FIRST_NAMES = ["Adam", "Ben", "Carlos", "Daniel", "Elias", "Farid", "George", "Hiro", "Ivan", "Jonas",
                    "Kofi", "Liam", "Mateo", "Noah", "Omar", "Pavel", "Quentin", "Rahul", "Sam", "Tomas",
                    "Umar", "Victor", "Wei", "Yusuf", "Zane"]
LAST_NAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Rossi", "Tanaka", "Haddad", "Larsen",
              "Silva", "Kowalski", "Nguyen", "Fischer", "Moreau", "Patel"]
ROLES = ["Watcher", "Explorer", "Critic", "Chatter", "Poster"]


def make_catalog(n_items: int, rng: np.random.Generator) -> Catalog:
    n_genres = len(GENRES)
    genres = np.zeros((n_items, n_genres), dtype=bool)
    titles, texts = [], []
    for i in range(n_items):
        k = rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])
        gs = rng.choice(n_genres, size=k, replace=False)
        genres[i, gs] = True
        titles.append(f"The {ADJECTIVES[rng.integers(len(ADJECTIVES))]} {NOUNS[rng.integers(len(NOUNS))]} ({1980 + i % 45})")
        phrases = [GENRE_WORDS[GENRES[g]][rng.integers(5)] for g in gs]
        texts.append(f"A {' and '.join(GENRES[g].lower() for g in gs)} story of {', '.join(phrases)}.")
    return Catalog(np.arange(1, n_items + 1), titles, list(GENRES), genres, texts)


def sample_ratings(catalog: Catalog, tastes: np.ndarray, quality: np.ndarray, popularity: np.ndarray,
                   history_length: int, rng: np.random.Generator, start_time: int = 1_600_000_000,
                   chunk: int = 65536) -> Interactions:
    """Each user rates `~history_length` items, chosen by popularity and taste; ratings 1-5.

    Items are drawn without replacement with probability proportional to popularity * (0.2 +
    affinity), affinity being the share of the item's genres the user likes. That weight is a
    mixture of G + 1 item distributions shared by everyone (popularity, and popularity * genre
    share for each genre) with per-user mixing weights, so one draw is a search among G + 1
    mixing weights and an alias-table look-up; the first `length` distinct items of a stream of
    such draws are a draw without replacement (each new item is drawn among those not drawn
    yet, in proportion to its weight). Users go `chunk` at a time to bound memory.
    """
    genre_share = catalog.genres / np.maximum(catalog.genres.sum(1, keepdims=True), 1)
    n_users, n_items = tastes.shape[0], len(catalog)
    lengths = np.minimum(np.maximum(3, rng.poisson(history_length, n_users)), n_items)
    components = np.vstack([0.2 * popularity, (popularity[:, None] * genre_share).T])  # (G + 1, n_items)
    mass = components.sum(1)
    tables = [alias_table(w) for w in components]
    accept, alias = np.stack([t[0] for t in tables]), np.stack([t[1] for t in tables])
    mean_affinity = tastes @ genre_share.mean(0)
    share_csr = sparse.csr_matrix(genre_share)
    offsets = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    users_out, items_out = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
    ratings_out = np.empty(total, dtype=np.float32)
    for start in range(0, n_users, chunk):
        users = np.arange(start, min(start + chunk, n_users))
        mixing = np.hstack([np.ones((len(users), 1)), tastes[users]]) * mass
        rows, items = draw_distinct(np.cumsum(mixing / mixing.sum(1, keepdims=True), axis=1), accept, alias,
                                    lengths[users], rng)
        u = users[rows]
        centred = pair_affinity(tastes, share_csr, u, items) - mean_affinity[u]
        score = 1.0 + 4.0 * np.clip(0.55 + 1.6 * centred + quality[items] + rng.normal(0, 0.15, len(items)), 0, 1)
        span = slice(int(offsets[start]), int(offsets[start]) + len(u))
        users_out[span], items_out[span], ratings_out[span] = u, items, np.clip(np.rint(score), 1, 5)
    times = start_time + rng.integers(0, 86400 * 365, total)
    return Interactions(users_out, items_out, ratings_out, times)


def pair_affinity(tastes: np.ndarray, share_csr: sparse.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """tastes[users[e]] . genre_share[items[e]] for every pair e, over the few genres each item has."""
    start = share_csr.indptr[items]
    pair, k = spans(share_csr.indptr[items + 1] - start)
    cell = start[pair] + k
    terms = tastes[users[pair], share_csr.indices[cell]] * share_csr.data[cell]
    return np.bincount(pair, weights=terms, minlength=len(items))


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction): cell j keeps j with probability accept[j], else alias[j].

    A loop over items, not users: built once per catalog component.
    """
    n = len(weights)
    total = weights.sum()
    scaled = (weights * n / total if total > 0 else np.ones(n)).tolist()
    accept, alias = np.ones(n), np.arange(n)
    small = [j for j, p in enumerate(scaled) if p < 1.0]
    large = [j for j, p in enumerate(scaled) if p >= 1.0]
    while small and large:
        s, g = small.pop(), large[-1]
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            small.append(large.pop())
    return accept, alias  # cells left over keep accept 1 (rounding)


def draw_distinct(mixing_cdf: np.ndarray, accept: np.ndarray, alias: np.ndarray, need: np.ndarray,
                  rng: np.random.Generator, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """need[r] distinct items for each row r, in draw order, as (row, item) pairs sorted by row.

    Row r's draws come from the mixture of the alias tables' components with cumulative weights
    mixing_cdf[r]. Rows draw with replacement until they hold need[r] distinct items; a row still
    short after `rounds` rounds (a catalog barely larger than the history) finishes with an
    exponential race over the items it lacks, which samples the same distribution.
    """
    n_rows, (n_components, n_items) = len(need), accept.shape
    # row r's cumulative weights shifted into (r, r + 1]: one searchsorted finds every draw's component
    shifted = (mixing_cdf + np.arange(n_rows)[:, None]).ravel()
    rows_seen, items_seen = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    active, extra = np.arange(n_rows), need + need // 4 + 2
    for _ in range(rounds):
        r = np.repeat(active, extra[active])
        component = np.searchsorted(shifted, r + rng.random(len(r)), side="right") - r * n_components
        np.minimum(component, n_components - 1, out=component)
        cell = rng.random(len(r)) * n_items
        item = cell.astype(np.int64)
        keep = (cell - item) < accept[component, item]
        items = np.where(keep, item, alias[component, item])
        rows_seen, items_seen = np.concatenate([rows_seen, r]), np.concatenate([items_seen, items])
        # first occurrence of each (row, item): sort by (row, item, draw position), keep run heads
        bits = len(rows_seen).bit_length()
        key = np.sort(((rows_seen * n_items + items_seen) << bits) | np.arange(len(rows_seen)))
        pair = key >> bits
        head = np.r_[True, pair[1:] != pair[:-1]]
        first = np.sort(key[head] & ((1 << bits) - 1))
        rows_seen, items_seen = rows_seen[first], items_seen[first]
        have = np.bincount(rows_seen, minlength=n_rows)
        active = np.flatnonzero(have < need)
        if not len(active):
            break
        extra = np.zeros(n_rows, dtype=np.int64)
        extra[active] = 2 * (need[active] - have[active]) + 4
    order = np.argsort(rows_seen, kind="stable")
    rows_seen, items_seen = rows_seen[order], items_seen[order]
    keep = spans(np.bincount(rows_seen, minlength=n_rows))[1] < need[rows_seen]
    rows_seen, items_seen = rows_seen[keep], items_seen[keep]
    if len(active):
        rows_seen, items_seen = _race_rest(active, rows_seen, items_seen, accept, alias, mixing_cdf, need, rng)
    return rows_seen, items_seen


def _race_rest(short, rows, items, accept, alias, mixing_cdf, need, rng) -> tuple[np.ndarray, np.ndarray]:
    """Complete the `short` rows by an exponential race among the items they do not hold yet."""
    n_components, n_items = accept.shape
    # each component's item probabilities, read back from its alias table
    weights = np.zeros((n_components, n_items))
    for c in range(n_components):
        np.add.at(weights[c], np.arange(n_items), accept[c] / n_items)
        np.add.at(weights[c], alias[c], (1 - accept[c]) / n_items)
    mixing = np.diff(np.hstack([np.zeros((len(short), 1)), mixing_cdf[short]]), axis=1)
    item_weight = mixing @ weights  # (short, n_items)
    held = np.isin(rows, short)
    item_weight[np.searchsorted(short, rows[held]), items[held]] = 0.0
    have = np.bincount(rows, minlength=len(need))[short]
    keys = rng.standard_exponential(item_weight.shape) / np.maximum(item_weight, 1e-300)
    keys[item_weight <= 0] = np.inf
    order = np.argsort(keys, axis=1)
    add_r, add_k = spans(need[short] - have)
    new_rows, new_items = short[add_r], order[add_r, add_k]
    rows, items = np.concatenate([rows, new_rows]), np.concatenate([items, new_items])
    position = np.arange(len(rows))
    keep = np.lexsort((position, rows))
    return rows[keep], items[keep]


def make_synthetic(n_users: int = 100, n_items: int = 300, history_length: int = 20, seed: int = 0) -> Dataset:
    """A reproducible synthetic dataset; the same arguments give the same data."""
    rng = np.random.default_rng(seed)
    catalog = make_catalog(n_items, rng)
    tastes = rng.dirichlet(np.full(len(GENRES), 0.3), size=n_users)
    quality = rng.normal(0, 0.12, n_items)
    popularity = rng.pareto(1.5, n_items) + 0.1
    interactions = sample_ratings(catalog, tastes, quality, popularity, history_length, rng)
    first_draws = rng.integers(len(FEMALE_FIRST_NAMES), size=n_users)
    last_draws = rng.integers(len(LAST_NAMES), size=n_users)
    # one or two roles each, as a sorted set; a code indexes the few distinct role lists
    first_role, second_role = rng.integers(len(ROLES), size=(2, n_users))
    two_roles = rng.integers(1, 3, n_users) == 2
    role_lists = [sorted({ROLES[a]} | ({ROLES[b - 1]} if b else set()))
                  for a in range(len(ROLES)) for b in range(len(ROLES) + 1)]
    role_codes = first_role * (len(ROLES) + 1) + np.where(two_roles, second_role + 1, 0)
    roles = list(map(list, map(role_lists.__getitem__, role_codes.tolist())))  # a list of its own per user
    ages = rng.integers(16, 70, n_users)
    female = rng.random(n_users) < 0.5
    genders = np.where(female, "female", "male").tolist()
    # every possible full name once; each user's is a look-up (str is immutable: sharing is safe)
    full_names = [f"{first} {last}" for firsts in (MALE_FIRST_NAMES, FEMALE_FIRST_NAMES) for first in firsts
                  for last in LAST_NAMES]
    name_codes = (female * len(MALE_FIRST_NAMES) + first_draws) * len(LAST_NAMES) + last_draws
    names = [full_names[c] for c in name_codes.tolist()]
    users = Users(
        raw_ids=np.arange(1, n_users + 1),
        names=names,
        ages=ages,
        genders=genders,
        occupations=rng.choice(["student", "engineer", "teacher", "nurse", "artist", "writer", "retired"],
                               n_users).tolist(),
        # no genre text here: the persona describes the favourite genres of the starting ratings
        # (agents/persona.py), which the latent tastes above only generate, so the two cannot disagree
        descriptions=[""] * n_users,
        roles=roles,
    )
    return Dataset("synthetic", catalog, users, interactions, meta={"seed": seed, "tastes": tastes})
