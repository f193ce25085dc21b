"""Per-step cocoon and influence measures of a running simulation, read from its events.

`StepMetrics` reads the typed records of each step's `page`, `watch` and `hear` events
(`StepEvents.records`: arrays, never parsed payloads) and keeps running numpy state, so one step
costs O(events + agents x genres) vectorised, plus a sampled Jaccard. It never draws from the model's generator (the Jaccard sample uses its own
generator seeded from the scenario seed and the step), so measuring does not change a run.

Columns added to metrics.csv (all over the simulated period, "so far" = since step 0):

- genre_entropy_window: mean over agents who watched something in the last `metrics.window`
  steps of the genre entropy (bits) of those watches (cumulative entropy is `mean_genre_entropy`);
- exposure_genre_entropy: mean over agents of the genre entropy of everything shown to them so far;
  these three are plug-in entropies, which rise with the number of watches (shown items) behind them;
- genre_entropy_rarefied, genre_entropy_window_rarefied, exposure_genre_entropy_rarefied: the same
  three at a fixed volume, `metrics.rarefaction` watches (shown items) per agent: the expected entropy
  of that many drawn without replacement (measures.rarefied_entropy_bits), mean over agents with at
  least that many; comparable between strategies that get different numbers of watches;
- ild_genre / ild_embedding: mean intra-list diversity (1 - cosine) of the pages shown this step,
  by genre vectors / by MiniLM item embeddings (NaN unless metrics.embedding_diversity is on);
- coverage_exposure / coverage_consumption: share of the catalog shown / watched at least once;
  coverage_exposure_rarefied / coverage_consumption_rarefied: the same at a fixed volume, the expected
  share covered by `metrics.coverage_rarefaction` showings / watches of the run's (exact; empty until
  there are that many);
- gini_exposure / gini_consumption: Gini of per-item counts of showings / watches so far;
- homogenisation: mean Jaccard of the watched sets of sampled pairs of agents who watched;
- taste_drift: mean over agents of 1 - cosine(genre profile of the dataset history, genre profile
  of history plus the simulation's watches);
- taste_alignment: mean over agents who watched of cosine(genre profile of the dataset history,
  genre profile of the simulation's watches only): how closely what a strategy gets people to
  consume repeats what they consumed before (the cocoon as reinforcement of prior taste; unlike
  genre entropy it is not confounded by the catalog's own genre mix);
- influence_share (so far) / influence_share_step: share of watches of an item the watcher had
  heard about from a friend (chat) or a post before watching;
- cascades, cascade_size_mean, cascade_size_max, cascade_depth_max, cascade_breadth_max: spread
  trees per item from `hear` events (see measures.Cascades);
- conformity / conformity_n: among watches of an item that at least one friend had rated before
  (dataset history or earlier in the run), the share whose like/not-like agrees with the friends'
  majority (ties left out), and how many such watches there were.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import sparse

from .conformity import LatestRatings, friend_agreement
from .measures import (
    Cascades,
    cosine_distance_rows,
    entropy_bits,
    gini,
    intra_list_diversity,
    jaccard_pairs,
    rarefied_coverage,
    rarefied_entropy_bits,
)
from .records import Records

RAREFACTION_DRAWS = 16  # random subsets per agent: the mean over agents moves by ~0.005 bits between seeds

COLUMNS = (
    "genre_entropy_window", "exposure_genre_entropy", "genre_entropy_rarefied", "genre_entropy_window_rarefied",
    "exposure_genre_entropy_rarefied", "ild_genre", "ild_embedding", "coverage_exposure", "coverage_consumption",
    "coverage_exposure_rarefied", "coverage_consumption_rarefied", "gini_exposure", "gini_consumption",
    "homogenisation", "taste_drift", "taste_alignment",
    "influence_share", "influence_share_step", "cascades", "cascade_size_mean", "cascade_size_max",
    "cascade_depth_max", "cascade_breadth_max", "conformity", "conformity_n",
)


class Rows:
    """A growing table of (agent, item, step) rows in numpy buffers (amortised O(1) append)."""

    def __init__(self):
        self.data = np.zeros((3, 1024), dtype=np.int64)
        self.n = 0

    def extend(self, agent: int, items, step: int) -> None:
        k = len(items)
        if self.n + k > self.data.shape[1]:
            grown = np.zeros((3, max(2 * self.data.shape[1], self.n + k)), dtype=np.int64)
            grown[:, :self.n] = self.data[:, :self.n]
            self.data = grown
        self.data[0, self.n:self.n + k] = agent
        self.data[1, self.n:self.n + k] = items
        self.data[2, self.n:self.n + k] = step
        self.n += k

    def extend_many(self, agents: np.ndarray, items: np.ndarray, step: int) -> None:
        """Rows (agents[k], items[k], step) in order."""
        k = len(agents)
        if self.n + k > self.data.shape[1]:
            grown = np.zeros((3, max(2 * self.data.shape[1], self.n + k)), dtype=np.int64)
            grown[:, :self.n] = self.data[:, :self.n]
            self.data = grown
        self.data[0, self.n:self.n + k] = agents
        self.data[1, self.n:self.n + k] = items
        self.data[2, self.n:self.n + k] = step
        self.n += k

    @property
    def agents(self) -> np.ndarray:
        return self.data[0, :self.n]

    @property
    def items(self) -> np.ndarray:
        return self.data[1, :self.n]

    @property
    def steps(self) -> np.ndarray:
        return self.data[2, :self.n]


class Rows1:
    """A growing int64 column (amortised O(1) extend)."""

    def __init__(self):
        self.data = np.zeros(1024, dtype=np.int64)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        k = len(values)
        if self.n + k > len(self.data):
            grown = np.zeros(max(2 * len(self.data), self.n + k), dtype=np.int64)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:self.n + k] = values
        self.n += k

    def __len__(self) -> int:
        return self.n

    @property
    def values(self) -> np.ndarray:
        return self.data[:self.n]


def top_influencers(agents: np.ndarray, sources: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per agent: the friend whose word preceded most of its watches (ties: the one that came first;
    -1 for none), how many, and all its influenced watches."""
    top, top_count = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    influenced = np.bincount(agents, minlength=n)
    if len(agents):
        pairs, first, counts = np.unique(agents * n + sources, return_index=True, return_counts=True)
        order = np.lexsort((first, -counts, pairs // n))  # per agent: most watches, then earliest
        owner = pairs[order] // n
        lead = np.r_[True, owner[1:] != owner[:-1]]
        top[owner[lead]] = pairs[order][lead] % n
        top_count[owner[lead]] = counts[order][lead]
    return top, top_count, influenced


class StepMetrics:
    def __init__(self, model):
        self.model = model
        spec = getattr(model.scenario, "metrics", None)
        self.window = getattr(spec, "window", 5)
        self.jaccard_n = getattr(spec, "jaccard_pairs", 500)
        self.rarefaction = getattr(spec, "rarefaction", 5)
        self.coverage_rarefaction = getattr(spec, "coverage_rarefaction", 500)
        self.seed = model.scenario.seed
        self.like_rating = model.scenario.feedback.like_rating
        catalog = model.catalog
        self.n_items = len(catalog)
        self.genres = catalog.genres.astype(np.float64)
        self.embeddings = None
        if getattr(spec, "embedding_diversity", False):
            from ..cache import cache_dir
            from ..recommenders.content import item_embeddings

            self.embeddings = item_embeddings(catalog, cache_dir())
        n, g = model.n_agents, self.genres.shape[1]
        self.consumed_genres = np.zeros((n, g))
        self.exposed_genres = np.zeros((n, g))
        self.window_steps: deque = deque()  # (agents, items) of each step's watches in the window
        self.window_genres = np.zeros((n, g))
        self.exposure = np.zeros(self.n_items)
        self.consumption = np.zeros(self.n_items)
        self.watch_agents, self.watch_items = Rows1(), Rows1()
        self.watched_rows, self.shown_rows = Rows(), Rows()  # for the rarefied entropies
        self.rarefied: dict[str, np.ndarray] = {}  # per agent, as of the last folded step
        # the genre profile each agent starts from (its dataset history), and its ratings
        counts, items, ratings = model.history.since(model.users, np.zeros(n, dtype=np.int64))
        owners = np.repeat(np.arange(n), counts)
        self.start_genres = np.zeros((n, g))
        np.add.at(self.start_genres, owners, self.genres[items])
        self.rated = LatestRatings(owners, items, ratings, self.n_items)
        self.watches = self.influenced = 0
        self.influence_agents, self.influence_sources = Rows1(), Rows1()  # watches heard of first from a friend
        self.agree = self.conform_n = 0
        self.cascades = Cascades()
        self.step_done = -1
        self.values: dict[str, float] = {}

    # --- events ----------------------------------------------------------------------------------

    def observe(self, records, step: int) -> dict:
        """Fold one step's records (the pages, watches and hearings of `StepEvents.records`) into the
        running state; returns this step's raw tallies."""
        page_agents, page_items = records.pages()
        shown = page_items >= 0
        keep = shown.any(1) if page_items.size else np.zeros(len(page_agents), dtype=bool)
        page_agents, page_items, shown = page_agents[keep], page_items[keep], shown[keep]
        flat_agents, flat_items = np.broadcast_to(page_agents[:, None], page_items.shape)[shown], page_items[shown]
        self.shown_rows.extend_many(flat_agents, flat_items, step)
        np.add.at(self.exposure, flat_items, 1)
        np.add.at(self.exposed_genres, flat_agents, self.genres[flat_items])
        agents, items, ratings, sources = records.watch_columns()
        step_genres = np.zeros_like(self.consumed_genres)
        np.add.at(step_genres, agents, self.genres[items])
        np.add.at(self.consumption, items, 1)
        self.watch_agents.extend(agents)
        self.watch_items.extend(items)
        self.watched_rows.extend_many(agents, items, step)
        heard = sources >= 0
        self.influence_agents.extend(agents[heard])
        self.influence_sources.extend(sources[heard])
        conform_n, agree = friend_agreement(self.rated, self.model.world.adjacency, agents, items, ratings,
                                            self.like_rating)
        self.conform_n += conform_n
        self.agree += agree
        listeners, heard_items, speakers = records.hear_columns()
        for item, speaker, listener in zip(heard_items.tolist(), speakers.tolist(), listeners.tolist()):
            self.cascades.hear(item, speaker, listener)
        self.consumed_genres += step_genres
        self.window_steps.append((agents, items))
        self.window_genres += step_genres
        if len(self.window_steps) > self.window:
            old_agents, old_items = self.window_steps.popleft()
            np.subtract.at(self.window_genres, old_agents, self.genres[old_items])
        self.watches += len(agents)
        self.influenced += int(heard.sum())
        return {"pages": page_items, "watches": len(agents), "influenced": int(heard.sum())}

    # --- measures --------------------------------------------------------------------------------

    def compute(self, step: int, records) -> dict[str, float]:
        """Fold one step's `records` (or its events, one by one) into the running state, then measure;
        call it once per step."""
        if not isinstance(records, Records):
            records = Records.of_events(records, self.model.catalog)
        tally = self.observe(records, step)
        self.rarefy(step)
        return self.measures(step, tally)

    def rarefy(self, step: int) -> None:
        """Per-agent genre entropies at `metrics.rarefaction` watches (shown items), from a generator of
        their own (seeded from the scenario seed and the step), so they never touch the model's."""
        rng = np.random.default_rng([self.seed, step, 11])
        n, m = self.model.n_agents, self.rarefaction
        w, s = self.watched_rows, self.shown_rows
        recent = w.steps > step - self.window
        for name, rows, keep in (("genre_entropy", w, None), ("genre_entropy_window", w, recent),
                                 ("exposure_genre_entropy", s, None)):
            agents, items = (rows.agents, rows.items) if keep is None else (rows.agents[keep], rows.items[keep])
            self.rarefied[name] = rarefied_entropy_bits(agents, items, self.genres, n, m, rng, RAREFACTION_DRAWS)

    def measures(self, step: int, tally: dict) -> dict[str, float]:
        """Every column from the running state and one step's `tally` (see observe); folds nothing."""
        v: dict[str, float] = {}
        win = self.window_genres.sum(1) > 0
        v["genre_entropy_window"] = float(entropy_bits(self.window_genres[win]).mean()) if win.any() else 0.0
        shown = self.exposed_genres.sum(1) > 0
        v["exposure_genre_entropy"] = float(entropy_bits(self.exposed_genres[shown]).mean()) if shown.any() else 0.0
        for name in ("genre_entropy", "genre_entropy_window", "exposure_genre_entropy"):
            per_agent = self.rarefied.get(name)
            measured = per_agent is not None and np.isfinite(per_agent).any()
            v[f"{name}_rarefied"] = float(np.nanmean(per_agent)) if measured else np.nan
        pages = np.asarray(tally["pages"])  # (pages, width), -1 where a page had no item
        if len(pages):
            lists = np.take_along_axis(pages, np.argsort(pages < 0, axis=1, kind="stable"), 1)  # items first
            width = int((lists >= 0).sum(1).max())
            lists = lists[:, :width]
            v["ild_genre"] = float(np.nanmean(intra_list_diversity(lists, self.genres))) if width > 1 else np.nan
            v["ild_embedding"] = (float(np.nanmean(intra_list_diversity(lists, self.embeddings)))
                                  if self.embeddings is not None and width > 1 else np.nan)
        else:
            v["ild_genre"] = v["ild_embedding"] = np.nan
        v["coverage_exposure"] = float((self.exposure > 0).mean())
        v["coverage_consumption"] = float((self.consumption > 0).mean())
        v["coverage_exposure_rarefied"] = rarefied_coverage(self.exposure, self.coverage_rarefaction)
        v["coverage_consumption_rarefied"] = rarefied_coverage(self.consumption, self.coverage_rarefaction)
        v["gini_exposure"] = gini(self.exposure)
        v["gini_consumption"] = gini(self.consumption)
        v["homogenisation"] = self.homogenisation(step)
        current = self.start_genres + self.consumed_genres
        v["taste_drift"] = float(np.mean(cosine_distance_rows(self.start_genres, current)))
        watched = self.consumed_genres.sum(1) > 0
        v["taste_alignment"] = (float(np.mean(1.0 - cosine_distance_rows(self.start_genres[watched],
                                                                          self.consumed_genres[watched])))
                                if watched.any() else np.nan)
        v["influence_share"] = self.influenced / self.watches if self.watches else 0.0
        v["influence_share_step"] = tally["influenced"] / tally["watches"] if tally["watches"] else 0.0
        v.update(self.cascades.stats())
        v["conformity"] = self.agree / self.conform_n if self.conform_n else np.nan
        v["conformity_n"] = self.conform_n
        return v

    def homogenisation(self, step: int) -> float:
        if not len(self.watch_agents):
            return 0.0
        n = self.model.n_agents
        sets = sparse.csr_matrix((np.ones(len(self.watch_agents)), (self.watch_agents.values, self.watch_items.values)),
                                 shape=(n, self.n_items))
        who = np.flatnonzero(np.asarray(sets.sum(1)).ravel() > 0)
        if len(who) < 2:
            return 0.0
        rng = np.random.default_rng([self.seed, step, 7])
        total_pairs = len(who) * (len(who) - 1) // 2
        if total_pairs <= self.jaccard_n:  # few agents: every pair
            a, b = np.triu_indices(len(who), 1)
        else:
            a = rng.integers(0, len(who), self.jaccard_n)
            b = (a + rng.integers(1, len(who), self.jaccard_n)) % len(who)  # b != a
        return float(jaccard_pairs(sets, who[a], who[b]).mean())

    def collect(self) -> dict[str, float]:
        """The columns of the step in progress, folding its events the first time it is asked.

        Only the model's DataCollector calls this, inside `step()` after the step's acts and before
        `step_index` moves on; asking again during the same step folds nothing twice."""
        model = self.model
        if self.step_done != model.step_index:
            self.values = self.compute(model.step_index, model.step_events.records)
            self.step_done = model.step_index
        return self.values

    def value(self, column: str) -> float:
        """The column as of the last collected step. Reading never folds events: a read between
        steps (when `step_index` has already moved on but `step_events` still holds the last
        step's events) once folded that step a second time and lost the next one."""
        if self.step_done < 0:  # nothing collected yet: the measures of the starting state
            return self.measures(0, {"pages": np.zeros((0, 0), dtype=np.int64), "watches": 0, "influenced": 0})[column]
        return self.values[column]

    # --- per agent -------------------------------------------------------------------------------

    def agent_table(self):
        """One row per agent: what it watched in the run, how diverse, how far it drifted, who moved it."""
        import pandas as pd

        m = self.model
        top, top_watches, influenced = top_influencers(self.influence_agents.values, self.influence_sources.values,
                                                       m.n_agents)
        current = self.start_genres + self.consumed_genres
        return pd.DataFrame({
            "agent_id": np.arange(m.n_agents),
            "user_id": m.dataset.users.raw_ids[m.users],
            "watches": np.bincount(self.watch_agents.values, minlength=m.n_agents),
            "genre_entropy": entropy_bits(self.consumed_genres),
            "genre_entropy_window": entropy_bits(self.window_genres),
            "exposure_genre_entropy": entropy_bits(self.exposed_genres),
            **{f"{name}_rarefied": self.rarefied.get(name, np.full(m.n_agents, np.nan))
               for name in ("genre_entropy", "genre_entropy_window", "exposure_genre_entropy")},
            "taste_drift": cosine_distance_rows(self.start_genres, current),
            "influenced_watches": influenced,
            "top_influencer": pd.arrays.IntegerArray(np.where(top >= 0, top, 0), top < 0),
            "top_influencer_watches": top_watches,
        })


def metrics_reporters(model) -> dict:
    """DataCollector reporters for every column of StepMetrics; attaches the tracker to the model."""
    model.step_metrics = StepMetrics(model)
    return {column: (lambda m, c=column: m.step_metrics.collect()[c]) for column in COLUMNS}
