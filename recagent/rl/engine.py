"""The array engine behind every recagent RL environment: many users stepped with one feedback call.

`RecBatch` holds the state of `n` episode slots (one simulated user each) as numpy arrays and
steps any subset of them together: the slates of all stepping slots go to the feedback model in
ONE batched call asking the "shown" question (`predict_shown`: the policy put the items in front of
the user, they did not choose them; see recagent/feedback/exposure.py). The single environment is a batch of one,
the vectorised environment a batch of many, and the evaluation steps a batch of all evaluation
users, so the three cannot disagree about the rules.

Rules of an episode (`EnvConfig`):

- reset: a user is drawn from the pool with the slot's generator (one draw per reset, always, so
  random streams stay aligned whether or not the user is given); the slot's history row becomes
  a fresh copy of the user's starting history; items the user rated before are unavailable when
  `mask_rated`.
- step: the policy recommends `slate_size` items. An item that is unavailable (already rated or
  already recommended this episode) or repeated inside the slate is *invalid*: it is not shown to
  the feedback model, earns `invalid_reward` and counts as not liked. Valid items are judged by the
  feedback model against the user's live history:
    reward "vote"   like = the model's verdict: for the ensemble the paper's Eq. 9 majority vote of
                    f_mat, f_sim and f_sta (its `vote` method), for other models
                    P(like) >= like_threshold; reward 1 / 0
    reward "proba"  like = P(like) >= like_threshold; reward = P(like) (the soft vote)
    reward "sample" like ~ Bernoulli(P(like)) from the slot's generator; reward 1 / 0
    reward "rating" rating = the shown rating; like = rating >= 3; reward = the 1-5 rating
  (P(like) and the rating are the model's answers for a *shown* item; the ensemble's vote for a
  shown item is the majority vetoed where the corrected P(like | shown) < 0.5.)
  The responses are appended to the user's history (rating `like_rating` / `dislike_rating` for
  the like-based modes, the predicted rating in "rating" mode) so later verdicts see them. The
  slot's reward is the mean over the slate. With `update_history=False` users are frozen: every
  verdict is against the starting history (the mask still stops repeats).
- leave model (termination): satisfaction s starts at 0 and moves s <- decay * s + (2 f - 1),
  f = fraction of the slate liked. The user leaves (terminated) after `patience` consecutive
  steps with nothing liked, when s < `leave_below` (if set), or with probability `quit_prob` per
  step (the reference implementation's 0.025). Otherwise the episode is truncated at `horizon`
  steps, or when fewer than `slate_size` items are left to recommend.

History and feedback caches: environments never mutate the world's history. The engine's
`History` holds references to the world's per-user lists, and a user entering a slot gets fresh
copies that only grow during the episode. Feedback models may cache per-user state keyed on
history length and signature (`History.signatures`): here a row is always the world's row plus
the responses of one episode, so the signature is exact and costs nothing (an episode number).
A user is never in two slots of one batch at once (`exclude` in `reset_slot`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..data import History
from ..data.core import spans
from ..errors import UserError
from ..feedback import LIKE_THRESHOLD, predict_both
from .world import RLWorld

REWARD_MODES = ("vote", "proba", "sample", "rating")
OBS_MODES = ("vector", "dict")


@dataclass
class EnvConfig:
    horizon: int = 20
    slate_size: int = 1
    reward: str = "vote"
    patience: int = 3  # consecutive steps with nothing liked before the user leaves; 0 = never
    satisfaction_decay: float = 0.8
    leave_below: float | None = None  # leave when satisfaction drops below this; None = rule off
    quit_prob: float = 0.0  # chance per step that the user leaves anyway
    mask_rated: bool = True  # items the user rated before the episode are unavailable
    invalid_reward: float = 0.0
    memory: int = 10  # recent responses in the observation
    update_history: bool = True  # append responses to the user's history (False: frozen users; faster
    # because a model's per-user state, like the ensemble's SASRec state, then never needs refreshing)
    like_threshold: float = 0.5  # P(like) at or above which a response is a like (0.5 = majority vote)
    like_rating: float = 4.0  # rating written to history for a like (like-based reward modes)
    dislike_rating: float = 2.0
    obs: str = "vector"  # "vector": flat Box for MLP policies; "dict": raw ids and features

    def __post_init__(self) -> None:
        checks = [
            (self.horizon >= 1, "horizon", "an integer >= 1"),
            (self.slate_size >= 1, "slate_size", "an integer >= 1"),
            (self.reward in REWARD_MODES, "reward", f"one of {', '.join(REWARD_MODES)}"),
            (self.patience >= 0, "patience", "an integer >= 0"),
            (0.0 <= self.satisfaction_decay < 1.0, "satisfaction_decay", "a number in [0, 1)"),
            (0.0 <= self.quit_prob <= 1.0, "quit_prob", "a probability in [0, 1]"),
            (self.memory >= 1, "memory", "an integer >= 1"),
            (0.0 < self.like_threshold <= 1.0, "like_threshold", "a probability in (0, 1]"),
            (self.obs in OBS_MODES, "obs", f"one of {', '.join(OBS_MODES)}"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise UserError(f"expected {expected}, found {getattr(self, name)!r}", f"env.{name}")

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> EnvConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise UserError(f"unknown environment option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}",
                            "env")
        return cls(**kwargs)

    def to_dict(self) -> dict:
        return asdict(self)


class EpisodeHistory(History):
    """The world's starting histories plus the responses of the episodes running in a batch.

    The world's rows are kept as one flat array plus a small per-slot array of this episode's
    responses, so every batched read (`lengths`, `padded`, `since`, `signatures`, and through
    `since` `seen_matrix`) is vectorised; `items[u]` reads a row as a list. Only the engine writes to it.
    """

    def __init__(self, world: RLWorld, n_slots: int, capacity: int):
        base = world.history
        self.world_history = base
        every = np.arange(len(base))
        self.base_len, self.base_items, base_ratings = base.since(every, np.zeros(len(base), dtype=np.int64))
        self.base_ratings = base_ratings.astype(np.float32)
        self.base_ptr = np.concatenate([[0], np.cumsum(self.base_len)])
        self.slot_of = np.full(len(base), -1, dtype=np.int64)
        self.ep_len = np.zeros(n_slots, dtype=np.int64)
        self.ep_items = np.full((n_slots, capacity), -1, dtype=np.int64)
        self.ep_ratings = np.full((n_slots, capacity), np.nan, dtype=np.float32)
        # every episode gets a new lineage number: a row longer than the world's is the world's row
        # plus the responses of the episode with that number (see `signatures`)
        self.lineage = np.zeros(len(base), dtype=np.int64)
        self.episodes = 0

    def __len__(self) -> int:
        return len(self.base_len)

    def start(self, slot: int, user: int) -> None:
        self.slot_of[user] = slot
        self.ep_len[slot] = 0
        self.episodes += 1
        self.lineage[user] = self.episodes

    def end(self, user: int) -> None:
        self.slot_of[user] = -1

    def _row(self, user: int, column: str) -> list:
        _, items, ratings = self.since([user], [0])
        return (items if column == "items" else ratings).tolist()

    def _set_row(self, user: int, column: str, values) -> None:
        raise TypeError("an episode's history grows only through the engine's add()")

    def add(self, users, items, ratings) -> None:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        slots = self.slot_of[users]
        if (slots < 0).any():
            raise ValueError("responses can only be added for users in a slot")
        # a slot's k-th response in this call goes k places after its episode so far
        order = np.argsort(slots, kind="stable")
        rank = np.empty(len(slots), dtype=np.int64)
        rank[order] = spans(np.unique(slots, return_counts=True)[1])[1]
        pos = self.ep_len[slots] + rank
        while pos.max(initial=-1) >= self.ep_items.shape[1]:  # grow (slates longer than planned)
            self.ep_items = np.hstack([self.ep_items, np.full_like(self.ep_items, -1)])
            self.ep_ratings = np.hstack([self.ep_ratings, np.full_like(self.ep_ratings, np.nan)])
        self.ep_items[slots, pos], self.ep_ratings[slots, pos] = items, ratings
        np.add.at(self.ep_len, slots, 1)

    def episode_lengths(self, u: np.ndarray) -> np.ndarray:
        slot = self.slot_of[u]
        return np.where(slot >= 0, self.ep_len[np.maximum(slot, 0)], 0)

    def lengths(self, user_ids) -> np.ndarray:
        u = np.asarray(user_ids, dtype=np.int64)
        return self.base_len[u] + self.episode_lengths(u)

    def signatures(self, user_ids, lengths) -> np.ndarray:
        """Exact: a row is the world's row (up to its length: signature 0) or it plus one episode's responses."""
        u = np.asarray(user_ids, dtype=np.int64)
        return np.where(np.asarray(lengths) <= self.base_len[u], 0, self.lineage[u])

    def since(self, user_ids, starts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u, starts = np.asarray(user_ids, dtype=np.int64), np.asarray(starts, dtype=np.int64)
        e = self.episode_lengths(u)
        b_take = np.maximum(self.base_len[u] - starts, 0)
        e_take = e - np.maximum(starts - self.base_len[u], 0)
        counts = b_take + e_take
        offset = np.cumsum(counts) - counts
        items = np.empty(int(counts.sum()), dtype=np.int64)
        ratings = np.empty(len(items), dtype=np.float64)
        r, k = spans(b_take)
        src = (self.base_ptr[u] + starts)[r] + k
        items[offset[r] + k], ratings[offset[r] + k] = self.base_items[src], self.base_ratings[src]
        r, k = spans(e_take)
        dst, pos = (offset + b_take)[r] + k, (e - e_take)[r] + k
        slot = self.slot_of[u][r]
        items[dst], ratings[dst] = self.ep_items[slot, pos], self.ep_ratings[slot, pos]
        return counts, items, ratings

    def padded(self, user_ids, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        n = len(u)
        slot = self.slot_of[u]
        e = self.episode_lengths(u)
        b = self.base_len[u]
        total = b + e
        width = int(total.max(initial=0)) if max_len is None else int(max_len)
        items = np.full((n, width), -1, dtype=np.int64)
        ratings = np.full((n, width), np.nan, dtype=np.float32)
        if width == 0 or n == 0:
            return items, ratings
        take = np.minimum(total, width)
        e_take = np.minimum(e, take)
        b_take = take - e_take
        r, k = spans(b_take)
        cols = (width - take)[r] + k
        src = (self.base_ptr[u] + b - b_take)[r] + k
        items[r, cols], ratings[r, cols] = self.base_items[src], self.base_ratings[src]
        r, k = spans(e_take)
        cols = (width - e_take)[r] + k
        pos = (e - e_take)[r] + k
        items[r, cols], ratings[r, cols] = self.ep_items[slot[r], pos], self.ep_ratings[slot[r], pos]
        return items, ratings


class RecBatch:
    """State of `n` episode slots and the batched step."""

    def __init__(self, world: RLWorld, config: EnvConfig, n: int, users: np.ndarray | None = None):
        self.world, self.config, self.n = world, config, n
        self.pool = np.arange(world.n_users) if users is None else np.asarray(users, dtype=np.int64)
        if len(self.pool) == 0:
            raise UserError("the user pool is empty", "users")
        if self.pool.min() < 0 or self.pool.max() >= world.n_users:
            raise UserError(f"user indices must be in 0..{world.n_users - 1}", "users")
        self.pool_list = self.pool.tolist()
        self.history = EpisodeHistory(world, n, config.horizon * config.slate_size)
        genres = world.catalog.genres.astype(np.float32)
        self.item_genres = genres
        L, G = config.memory, world.n_genres
        self.user = np.full(n, -1, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.consec = np.zeros(n, dtype=np.int64)
        self.sat = np.zeros(n, dtype=np.float64)
        self.ret = np.zeros(n, dtype=np.float64)  # return so far (for episode statistics)
        self.unavailable = np.zeros((n, world.n_items), dtype=bool)
        self.recent_items = np.full((n, L), -1, dtype=np.int64)
        self.recent_fb = np.zeros((n, L), dtype=np.float32)
        self.genre_fb = np.zeros((n, 2, G), dtype=np.float32)

    # ----------------------------------------------------------------------------------- reset
    def reset_slot(self, slot: int, rng: np.random.Generator, user: int | None = None,
                   exclude: set[int] | frozenset = frozenset()) -> int:
        """Start a new episode in `slot` for `user` (drawn from the pool when None); returns the user."""
        draw = int(rng.integers(len(self.pool)))
        if user is None:
            user = self.pool_list[draw]
            if user in exclude:  # walk the pool from the draw: no extra random numbers used
                pool = self.pool_list
                for j in range(1, len(pool) + 1):
                    user = int(pool[(draw + j) % len(pool)])
                    if user not in exclude:
                        break
                else:
                    raise UserError(f"{self.n} slots need at least as many distinct users; the pool has "
                                    f"{len(set(pool))}", "users")
        user = int(user)
        if not 0 <= user < self.world.n_users:
            raise UserError(f"user index must be in 0..{self.world.n_users - 1}, found {user}", "user")
        old = int(self.user[slot])
        if old >= 0:
            self.history.end(old)
        self.history.start(slot, user)
        self.user[slot] = user
        self.t[slot] = self.consec[slot] = 0
        self.sat[slot] = self.ret[slot] = 0.0
        self.unavailable[slot] = False
        if self.config.mask_rated:
            seen = self.world.seen
            self.unavailable[slot, seen.indices[seen.indptr[user]:seen.indptr[user + 1]]] = True
        self.recent_items[slot] = -1
        self.recent_fb[slot] = 0.0
        self.genre_fb[slot] = 0.0
        return user

    def release_all(self) -> None:
        """End every slot's episode: history rows back to the world's, no user in any slot."""
        for u in self.user.tolist():
            if u >= 0:
                self.history.end(u)
        self.user[:] = -1

    # ------------------------------------------------------------------------------------ step
    def judge(self, users: np.ndarray, items: np.ndarray, draws: np.ndarray | None = None):
        """One batched feedback call: (liked bool, reward, rating written to history) per pair."""
        cfg, fb = self.config, self.world.feedback
        if len(users) == 0:
            z = np.zeros(0)
            return z.astype(bool), z, z
        # the policy put these items in front of the user: the feedback model's "shown" question
        if cfg.reward == "rating":
            rating = np.asarray(predict_both(fb, users, items, self.history, exposure="shown")[1], dtype=np.float64)
            return rating >= LIKE_THRESHOLD, rating, rating
        if cfg.reward == "vote" and hasattr(fb, "vote"):  # the ensemble's own verdict: Eq. 9 majority vote
            liked = np.asarray(fb.vote(users, items, self.history, exposure="shown"), dtype=bool)
            return liked, liked.astype(np.float64), np.where(liked, cfg.like_rating, cfg.dislike_rating)
        p = np.asarray(predict_both(fb, users, items, self.history, exposure="shown")[0], dtype=np.float64)
        liked = draws < p if cfg.reward == "sample" else p >= cfg.like_threshold
        reward = p if cfg.reward == "proba" else liked.astype(np.float64)
        return liked, reward, np.where(liked, cfg.like_rating, cfg.dislike_rating)

    def step(self, rows: np.ndarray, actions: np.ndarray, rngs: list[np.random.Generator]) -> dict:
        """Advance the slots `rows` with `actions` (len(rows), slate_size); `rngs[j]` is row j's generator.

        Returns arrays over `rows`: reward, terminated, truncated, liked (items liked), invalid.
        """
        cfg = self.config
        k = cfg.slate_size
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(actions, dtype=np.int64).reshape(len(rows), k)
        if items.size and (items.min() < 0 or items.max() >= self.world.n_items):
            raise ValueError(f"actions must be item indices in 0..{self.world.n_items - 1}")
        invalid = self.unavailable[rows[:, None], items]
        for j in range(1, k):
            invalid[:, j] |= (items[:, :j] == items[:, j:j + 1]).any(1)
        draws = np.stack([g.random(k) for g in rngs]) if cfg.reward == "sample" else None
        vr, vc = np.nonzero(~invalid)
        liked_v, reward_v, rating_v = self.judge(self.user[rows[vr]], items[vr, vc],
                                                 None if draws is None else draws[vr, vc])
        rewards = np.full((len(rows), k), cfg.invalid_reward, dtype=np.float64)
        rewards[vr, vc] = reward_v
        liked = np.zeros((len(rows), k), dtype=bool)
        liked[vr, vc] = liked_v
        if cfg.update_history:
            self.history.add(self.user[rows[vr]], items[vr, vc], rating_v)

        self.unavailable[rows[:, None], items] = True
        L = cfg.memory
        self.recent_items[rows] = np.concatenate([self.recent_items[rows], items], 1)[:, -L:]
        fb = np.where(liked, 1.0, -1.0).astype(np.float32)
        self.recent_fb[rows] = np.concatenate([self.recent_fb[rows], fb], 1)[:, -L:]
        g = self.item_genres[items]  # (n, k, G)
        self.genre_fb[rows, 0] += (g * liked[:, :, None]).sum(1)
        self.genre_fb[rows, 1] += (g * ~liked[:, :, None]).sum(1)

        reward = rewards.mean(1)
        frac = liked.mean(1)
        self.consec[rows] = np.where(liked.any(1), 0, self.consec[rows] + 1)
        self.sat[rows] = cfg.satisfaction_decay * self.sat[rows] + (2.0 * frac - 1.0)
        self.t[rows] += 1
        self.ret[rows] += reward
        terminated = np.zeros(len(rows), dtype=bool)
        if cfg.patience:
            terminated |= self.consec[rows] >= cfg.patience
        if cfg.leave_below is not None:
            terminated |= self.sat[rows] < cfg.leave_below
        if cfg.quit_prob > 0:
            terminated |= np.array([g.random() for g in rngs]) < cfg.quit_prob
        left = self.world.n_items - self.unavailable[rows].sum(1)
        truncated = ~terminated & ((self.t[rows] >= cfg.horizon) | (left < k))
        return {"reward": reward, "terminated": terminated, "truncated": truncated,
                "liked": liked.sum(1), "invalid": invalid.sum(1)}

    # ----------------------------------------------------------------------------- observation
    @property
    def obs_size(self) -> int:
        return self.world.user_features.shape[1] + self.world.n_items + 2 * self.world.n_genres + self.config.memory + 3

    def vector_obs(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Flat float32 observations in [-1, 1], see `RecSimEnv` for the layout."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        cfg = self.config
        scale = float(cfg.horizon * cfg.slate_size)
        state = np.stack([self.t[rows] / cfg.horizon,
                          self.consec[rows] / max(cfg.patience, 1),
                          self.sat[rows] * (1.0 - cfg.satisfaction_decay)], 1)
        # written block by block into one array; only the state block can leave [-1, 1] (the
        # profile is clipped when built, the rest are 0/1 flags, +-1 responses and counts / scale)
        out = np.empty((len(rows), self.obs_size), dtype=np.float32)
        at = 0
        for block in (self.world.user_features[self.user[rows]], self.unavailable[rows],
                      self.genre_fb[rows].reshape(len(rows), -1) / scale, self.recent_fb[rows],
                      np.clip(state, -1.0, 1.0)):
            out[:, at:at + block.shape[1]] = block
            at += block.shape[1]
        return out

    def dict_obs(self, slot: int) -> dict:
        cfg = self.config
        u = int(self.user[slot])
        return {
            "user": u,
            "profile": self.world.user_features[u].copy(),
            "recent_items": (self.recent_items[slot] + 1).astype(np.int64),  # 0 = none yet, else item + 1
            "recent_feedback": self.recent_fb[slot].copy(),
            "unavailable": self.unavailable[slot].astype(np.int8),
            "state": np.clip(np.array([self.t[slot] / cfg.horizon, self.consec[slot] / max(cfg.patience, 1),
                                       self.sat[slot] * (1.0 - cfg.satisfaction_decay)], dtype=np.float32), -1, 1),
        }
