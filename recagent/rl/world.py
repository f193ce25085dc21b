"""What an RL environment simulates: a catalog, users with a starting history, a fitted feedback model.

`RLWorld` is built once (fitting the feedback model is the expensive part) and shared by every
environment, vectorised environment and evaluation that runs against it. `load_world` builds one
from a dataset name ("synthetic") or a MovieLens-100K folder and a feedback model named in the
registry, so swapping the user simulator ("bias" -> "ensemble") is a change of one string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ..cache import cache_dir
from ..data import Catalog, Dataset, History, Interactions, load_movielens_100k, make_synthetic
from ..errors import UserError
from ..feedback import FEEDBACK_MODELS, FeedbackContext, FeedbackModel, make_feedback


def default_feedback() -> str:
    """The ensemble simulator when it is installed in the registry, else the bias model."""
    return "ensemble" if "ensemble" in FEEDBACK_MODELS else "bias"


@dataclass
class RLWorld:
    """Everything an environment needs that does not change between episodes."""

    name: str
    catalog: Catalog
    interactions: Interactions  # the users' starting ratings (what the feedback model was fitted on)
    feedback: FeedbackModel
    feedback_name: str
    history: History = field(init=False)  # starting history per user; never mutated by environments
    seen: sparse.csr_matrix = field(init=False)  # (n_users, n_items) items each user rated at the start
    user_features: np.ndarray = field(init=False)  # (n_users, 2G+2) float32 profile, see `profile_features`
    n_users: int = field(init=False)
    n_items: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_items = len(self.catalog)
        self.n_users = int(self.interactions.users.max()) + 1 if len(self.interactions) else 0
        self.history = History.from_interactions(self.interactions, self.n_users)
        self.seen = self.history.seen_matrix(np.arange(self.n_users), self.n_items)
        self.user_features = profile_features(self.catalog, self.interactions, self.n_users)

    @property
    def n_genres(self) -> int:
        return len(self.catalog.genre_names)


def profile_features(catalog: Catalog, interactions: Interactions, n_users: int) -> np.ndarray:
    """Per user: genre affinity (G), genre share (G), mean rating, activity; all in [-1, 1].

    Affinity of genre g = shrunk mean of (rating - user's mean) over the user's items of genre g,
    divided by 2; share = fraction of the user's ratings with genre g; mean rating scaled
    (r - 3) / 2; activity = log1p(count) / log1p(max count).
    """
    genres = catalog.genres.astype(np.float64)
    n_genres = genres.shape[1]
    u, i, r = interactions.users, interactions.items, interactions.ratings.astype(np.float64)
    counts = np.bincount(u, minlength=n_users).astype(np.float64)
    mean = np.bincount(u, r, n_users) / np.maximum(counts, 1)
    mean[counts == 0] = 3.0
    onehot = sparse.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, len(catalog)))
    centred = sparse.csr_matrix((r - mean[u], (u, i)), shape=(n_users, len(catalog)))
    genre_counts = np.asarray(onehot @ genres)
    affinity = np.asarray(centred @ genres) / (genre_counts + 2.0) / 2.0
    share = genre_counts / np.maximum(counts, 1)[:, None]
    activity = np.log1p(counts) / max(np.log1p(counts.max(initial=1.0)), 1e-9)
    out = np.hstack([affinity, share, ((mean - 3.0) / 2.0)[:, None], activity[:, None]])
    assert out.shape[1] == 2 * n_genres + 2
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def world_from_dataset(dataset: Dataset, feedback: str | None = None, feedback_params: dict | None = None,
                       seed: int = 0) -> RLWorld:
    """Fit the named feedback model on the dataset's ratings and wrap it as a world."""
    name = feedback or default_feedback()
    if name not in FEEDBACK_MODELS:
        raise UserError(f"unknown feedback model {name!r}; known: {', '.join(sorted(FEEDBACK_MODELS))}",
                        "feedback")
    try:
        model = make_feedback(name, FeedbackContext(seed, cache_dir(), dataset.name), **(feedback_params or {}))
    except TypeError as e:
        raise UserError(f"bad feedback params for {name!r}: {e}", "feedback_params") from None
    model.fit(dataset.catalog, dataset.interactions)
    return RLWorld(dataset.name, dataset.catalog, dataset.interactions, model, name)


_WORLDS: dict[tuple, RLWorld] = {}


def load_dataset(dataset: str | Path = "synthetic", users: int = 100, items: int = 300, seed: int = 0) -> Dataset:
    """"synthetic" (seeded, `users` x `items`) or a MovieLens-100K folder (holding u.data and u.item)."""
    if str(dataset) == "synthetic":
        return make_synthetic(users, items, 20, seed)
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise UserError("expected 'synthetic' or a MovieLens-100K folder holding u.data and u.item; "
                        "no such folder", folder)
    return load_movielens_100k(folder)


def load_world(dataset: str | Path = "synthetic", feedback: str | None = None, feedback_params: dict | None = None,
               seed: int = 0, users: int = 100, items: int = 300) -> RLWorld:
    """A world for the dataset and feedback model, fitted once per process and then reused."""
    name = feedback or default_feedback()
    key = (str(dataset), name, repr(sorted((feedback_params or {}).items())), seed, users, items)
    if key not in _WORLDS:
        _WORLDS[key] = world_from_dataset(load_dataset(dataset, users, items, seed), name, feedback_params, seed)
    return _WORLDS[key]


def world_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Split the world-building keyword arguments off an environment's keyword arguments."""
    keys = ("dataset", "feedback", "feedback_params", "world_seed", "users", "items")
    out = {k: kwargs.pop(k) for k in keys if k in kwargs}
    if "world_seed" in out:
        out["seed"] = out.pop("world_seed")
    return out
