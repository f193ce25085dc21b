"""Personas: who each agent is and how it tends to act, derived without an LLM.

Traits follow Agent4Rec, computed from the user's starting ratings and ranked across the
population: activity (number of ratings), diversity (number of genres covering 80% of the user's
ratings) and conformity (closeness of the user's ratings to item means; Agent4Rec measures the
deviation, we store 1 - its percentile so that high means conforming). Roles are RecAgent's
(Watcher, Explorer, Critic, Chatter, Poster): taken from the dataset when it has them, else
derived from the traits, with Chatter and Poster drawn by chance (the data says nothing of them).

A persona's favourite genres come from its starting ratings, and its description is built from
those same genres (`describe`), so that what the persona lists and what its text says agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import Catalog, Interactions

ROLES = ("Watcher", "Explorer", "Critic", "Chatter", "Poster")
ACTS = ("browse", "search", "chat", "post", "nothing")

# Base act weights and how each role multiplies them (browse, search, chat, post, nothing).
BASE_WEIGHTS = np.array([0.50, 0.08, 0.15, 0.05, 0.22])
ROLE_MULTIPLIERS = {
    "Watcher": np.array([2.0, 1.0, 1.0, 1.0, 1.0]),
    "Explorer": np.array([1.3, 3.0, 1.0, 1.0, 1.0]),
    "Critic": np.array([1.0, 1.0, 1.3, 2.0, 1.0]),
    "Chatter": np.array([1.0, 1.0, 3.0, 1.0, 1.0]),
    "Poster": np.array([1.0, 1.0, 1.0, 4.0, 1.0]),
}


@dataclass
class Persona:
    name: str
    age: int
    gender: str
    occupation: str
    description: str
    roles: list[str]
    activity: float  # 0-1 percentile of number of ratings
    diversity: float  # 0-1 percentile of genres covering 80% of ratings
    conformity: float  # 0-1, high = ratings close to the crowd's
    favourite_genres: list[str] = field(default_factory=list)

    def summary(self) -> str:
        bits = [f"{self.age}-year-old" if self.age else "", self.gender, self.occupation]
        who = " ".join(b for b in bits if b) or "a movie fan"
        likes = f"; enjoys {', '.join(self.favourite_genres)}" if self.favourite_genres else ""
        roles = f"; a {'/'.join(self.roles)}" if self.roles else ""
        return f"{who}{likes}{roles}"


def favourite_genres(taste: np.ndarray, genre_names: list[str], k: int = 2) -> list[str]:
    """The user's `k` strongest genres by taste share (genres with no share left out)."""
    return [genre_names[g] for g in np.argsort(-taste)[:k] if taste[g] > 0]  # the order the model always used


def describe(dataset_description: str, favourites: list[str]) -> str:
    """The persona's description: what the dataset says of the user, then the favourite genres.

    "likes drama and action movies" is written from the same list the persona shows as
    `favourite_genres`; a dataset description is kept in front of it, never replaced.
    """
    genres = [g.lower() for g in favourites]
    likes = ""
    if genres:
        joined = genres[0] if len(genres) == 1 else ", ".join(genres[:-1]) + " and " + genres[-1]
        likes = f"likes {joined} movies"
    return "; ".join(part for part in (dataset_description.strip(), likes) if part)


def _percentile_rank(x: np.ndarray) -> np.ndarray:
    if len(x) <= 1:
        return np.full(len(x), 0.5)
    order = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    return order / (len(x) - 1)


def derive_traits(catalog: Catalog, interactions: Interactions, n_users: int) -> dict[str, np.ndarray]:
    """Per-user activity, diversity, conformity (0-1 percentiles) and genre taste vectors."""
    u, i, r = interactions.users, interactions.items, interactions.ratings.astype(np.float64)
    counts = np.bincount(u, minlength=n_users).astype(np.float64)
    n_genres = catalog.genres.shape[1]
    genre_counts = np.zeros((n_users, max(n_genres, 1)))
    if n_genres:
        np.add.at(genre_counts, u, catalog.genres[i].astype(np.float64))
    # genres needed to cover 80% of the user's genre mass
    sorted_mass = -np.sort(-genre_counts, axis=1)
    total = sorted_mass.sum(1, keepdims=True)
    covered = np.cumsum(sorted_mass, 1) / np.maximum(total, 1e-12)
    genres_for_80 = (covered < 0.8).sum(1) + 1
    item_mean = np.bincount(i, r, len(catalog)) / np.maximum(np.bincount(i, minlength=len(catalog)), 1)
    deviation = np.bincount(u, (r - item_mean[i]) ** 2, n_users) / np.maximum(counts, 1)
    deviation[counts == 0] = np.median(deviation[counts > 0]) if (counts > 0).any() else 0.0
    # taste: genre shares of liked (>= 4) ratings, plus a little of all ratings for users with few likes
    liked = r >= 4
    taste = np.zeros_like(genre_counts)
    if n_genres:
        np.add.at(taste, u[liked], catalog.genres[i[liked]].astype(np.float64))
    taste = taste + 0.1 * genre_counts
    taste /= np.maximum(taste.sum(1, keepdims=True), 1e-12)
    return {
        "activity": _percentile_rank(counts),
        "diversity": _percentile_rank(genres_for_80.astype(np.float64)),
        "conformity": 1.0 - _percentile_rank(deviation),
        "taste": taste,
        "n_ratings": counts,
    }


def derive_roles(traits: dict[str, np.ndarray], users: np.ndarray, rng: np.random.Generator,
                 shares: dict[str, float] | None) -> list[list[str]]:
    """Roles for users whose dataset has none: from given shares, else from traits."""
    role_sets, index = derive_role_sets(traits, users, rng, shares)
    return [list(role_sets[i]) for i in index.tolist()]


def derive_role_sets(traits: dict[str, np.ndarray], users: np.ndarray, rng: np.random.Generator,
                     shares: dict[str, float] | None) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """`derive_roles` as (distinct role sets, index of each user's set), vectorised over users.

    The draws are those of one draw per user in user order (a batch of uniforms equals the
    sequence of single draws), so the roles are the same as drawing user by user."""
    n = len(users)
    if shares:
        names = list(shares)
        p = np.array([shares[n] for n in names], dtype=np.float64)
        p /= p.sum()
        return [(name,) for name in names], rng.choice(len(names), size=n, p=p) if n else np.zeros(0, dtype=np.int64)
    flags = np.stack([traits["activity"][users] >= 0.6, traits["diversity"][users] >= 0.66,
                      traits["conformity"][users] <= 0.25], 1) if n else np.zeros((0, 3), dtype=bool)
    draw = rng.random(n)
    social = np.where(draw < 0.25, 1, np.where(draw < 0.35, 2, 0))  # Chatter, Poster, neither
    code = flags[:, 0] * 1 + flags[:, 1] * 2 + flags[:, 2] * 4 + social * 8
    codes, index = np.unique(code, return_inverse=True)
    role_sets = []
    for c in codes.tolist():
        roles = [name for bit, name in ((1, "Watcher"), (2, "Explorer"), (4, "Critic")) if c & bit]
        roles += {1: ["Chatter"], 2: ["Poster"]}.get(c // 8, [])
        role_sets.append(tuple(roles))
    return role_sets, index.reshape(-1)


def role_sets_of(roles: list[list[str]]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Given per-user role lists (a dataset's own), the distinct sets and each user's index."""
    sets: dict[tuple[str, ...], int] = {}
    index = np.fromiter((sets.setdefault(tuple(r), len(sets)) for r in roles), dtype=np.int64, count=len(roles))
    return list(sets), index


def act_weights(roles: list[str]) -> np.ndarray:
    """Normalised (browse, search, chat, post, nothing) propensities for a set of roles."""
    w = BASE_WEIGHTS.copy()
    for role in roles:
        w = w * ROLE_MULTIPLIERS.get(role, 1.0)
    return w / w.sum()
