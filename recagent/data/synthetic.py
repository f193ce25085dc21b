"""A seeded synthetic world: users with latent genre tastes, items with genres and short text.

Used by the quickstart and the tests, so that recagent runs on a fresh machine with no dataset.
Ratings follow a simple generative story: a user's rating of an item rises with the share of the
item's genres the user likes, plus the item's quality and noise.
"""

from __future__ import annotations

import numpy as np

from .core import Catalog, Dataset, Interactions, Users

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
                   chunk: int = 1024) -> Interactions:
    """Each user rates `~history_length` items, chosen by popularity and taste; ratings 1-5.

    Items are drawn without replacement with probability proportional to popularity * (0.2 +
    affinity), by exponential races (the smallest Exp(1) / weight win) over a chunk of users at a time.
    """
    genre_share = catalog.genres / np.maximum(catalog.genres.sum(1, keepdims=True), 1)
    n_users, n_items = tastes.shape[0], len(catalog)
    lengths = np.minimum(np.maximum(3, rng.poisson(history_length, n_users)), n_items)
    u_all, i_all, r_all, t_all = [], [], [], []
    for start in range(0, n_users, chunk):
        users = np.arange(start, min(start + chunk, n_users))
        affinity = tastes[users] @ genre_share.T  # (rows, n_items) in [0, 1]
        keys = rng.standard_exponential(affinity.shape, dtype=np.float32) / (popularity * (0.2 + affinity))
        width = int(lengths[users].max())
        picks = np.argpartition(keys, width - 1, axis=1)[:, :width]
        keep = np.arange(width) < lengths[users][:, None]
        rows = np.broadcast_to(np.arange(len(users))[:, None], picks.shape)[keep]
        items = picks[keep]
        centred = affinity[rows, items] - affinity.mean(1)[rows]
        score = 1.0 + 4.0 * np.clip(0.55 + 1.6 * centred + quality[items] + rng.normal(0, 0.15, len(items)), 0, 1)
        u_all.append(users[rows])
        i_all.append(items)
        r_all.append(np.clip(np.rint(score), 1, 5))
        t_all.append(start_time + rng.integers(0, 86400 * 365, len(items)))
    return Interactions(np.concatenate(u_all), np.concatenate(i_all), np.concatenate(r_all), np.concatenate(t_all))


def make_synthetic(n_users: int = 100, n_items: int = 300, history_length: int = 20, seed: int = 0) -> Dataset:
    """A reproducible synthetic dataset; the same arguments give the same data."""
    rng = np.random.default_rng(seed)
    catalog = make_catalog(n_items, rng)
    tastes = rng.dirichlet(np.full(len(GENRES), 0.3), size=n_users)
    quality = rng.normal(0, 0.12, n_items)
    popularity = rng.pareto(1.5, n_items) + 0.1
    interactions = sample_ratings(catalog, tastes, quality, popularity, history_length, rng)
    name_draws = [(int(rng.integers(len(FEMALE_FIRST_NAMES))), int(rng.integers(len(LAST_NAMES))))
                  for _ in range(n_users)]
    roles = [sorted(set(rng.choice(ROLES, size=rng.integers(1, 3), replace=True).tolist())) for _ in range(n_users)]
    ages = rng.integers(16, 70, n_users)
    genders = rng.choice(["female", "male"], n_users).tolist()
    names = [f"{(FEMALE_FIRST_NAMES if gender == 'female' else MALE_FIRST_NAMES)[first]} {LAST_NAMES[last]}"
             for gender, (first, last) in zip(genders, name_draws)]
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
