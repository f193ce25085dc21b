"""Per-step cocoon and influence measures of a running simulation, read from its events.

`StepMetrics` watches the model's events of each step (`page`, `watch`, `hear`) and keeps
running numpy state, so one step costs O(events + agents x genres) plus a sampled Jaccard: cheap
at thousands of agents. It never draws from the model's generator (the Jaccard sample uses its own
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

from collections import Counter, deque

import numpy as np
from scipy import sparse

from .measures import (Cascades, cosine_distance_rows, entropy_bits, gini, intra_list_diversity, jaccard_pairs,
                       rarefied_coverage, rarefied_entropy_bits)

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

    @property
    def agents(self) -> np.ndarray:
        return self.data[0, :self.n]

    @property
    def items(self) -> np.ndarray:
        return self.data[1, :self.n]

    @property
    def steps(self) -> np.ndarray:
        return self.data[2, :self.n]


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
        self.item_of_raw = {int(r): i for i, r in enumerate(catalog.raw_ids)}
        self.n_items = len(catalog)
        self.genres = catalog.genres.astype(np.float64)
        self.embeddings = None
        if getattr(spec, "embedding_diversity", False):
            from ..recommenders.content import item_embeddings
            from ..cache import cache_dir

            self.embeddings = item_embeddings(catalog, cache_dir())
        n, g = model.n_agents, self.genres.shape[1]
        self.consumed_genres = np.zeros((n, g))
        self.exposed_genres = np.zeros((n, g))
        self.window_steps: deque = deque()
        self.window_genres = np.zeros((n, g))
        self.exposure = np.zeros(self.n_items)
        self.consumption = np.zeros(self.n_items)
        self.watch_agents: list[int] = []
        self.watch_items: list[int] = []
        self.watched_rows, self.shown_rows = Rows(), Rows()  # for the rarefied entropies
        self.rarefied: dict[str, np.ndarray] = {}  # per agent, as of the last folded step
        # the genre profile each agent starts from (its dataset history)
        self.start_genres = np.zeros((n, g))
        self.rated: list[dict[int, float]] = []
        for a, u in enumerate(model.users.tolist()):
            items = model.history.items[u]
            if items:
                self.start_genres[a] = self.genres[items].sum(0)
            self.rated.append(dict(zip(items, model.history.ratings[u])))
        self.watches = self.influenced = 0
        self.influencers: list[Counter] = [Counter() for _ in range(n)]
        self.agree = self.conform_n = 0
        self.cascades = Cascades()
        self.step_done = -1
        self.values: dict[str, float] = {}

    # --- events ----------------------------------------------------------------------------------

    def observe(self, events) -> dict:
        """Fold one step's events into the running state; returns this step's raw tallies."""
        pages, step_genres = [], np.zeros_like(self.consumed_genres)
        step_watches = step_influenced = 0
        graph = self.model.graph
        for e in events:
            if e.kind == "page":
                items = [self.item_of_raw[r] for r in e.payload["items"] if r in self.item_of_raw]
                if items:
                    pages.append(items)
                    self.shown_rows.extend(e.agent_id, items, e.step)
                    np.add.at(self.exposure, items, 1)
                    self.exposed_genres[e.agent_id] += self.genres[items].sum(0)
            elif e.kind == "watch":
                a, i = e.agent_id, self.item_of_raw[e.item_id]
                rating = float(e.payload["rating"])
                step_genres[a] += self.genres[i]
                self.consumption[i] += 1
                self.watch_agents.append(a)
                self.watch_items.append(i)
                self.watched_rows.extend(a, [i], e.step)
                step_watches += 1
                source = e.payload.get("heard_from")
                if source is not None:
                    step_influenced += 1
                    self.influencers[a][int(source)] += 1
                friend_likes = [self.rated[f][i] >= self.like_rating for f in graph.neighbors(a) if i in self.rated[f]]
                if friend_likes:
                    share = sum(friend_likes) / len(friend_likes)
                    if share != 0.5:
                        self.conform_n += 1
                        self.agree += int((rating >= self.like_rating) == (share > 0.5))
                self.rated[a][i] = rating
            elif e.kind == "hear" and e.item_id in self.item_of_raw:
                self.cascades.hear(self.item_of_raw[e.item_id], int(e.target_agent_id), int(e.agent_id))
        self.consumed_genres += step_genres
        self.window_steps.append(step_genres)
        self.window_genres += step_genres
        if len(self.window_steps) > self.window:
            self.window_genres -= self.window_steps.popleft()
        self.watches += step_watches
        self.influenced += step_influenced
        return {"pages": pages, "watches": step_watches, "influenced": step_influenced}

    # --- measures --------------------------------------------------------------------------------

    def compute(self, step: int, events) -> dict[str, float]:
        """Fold one step's `events` into the running state, then measure; call it once per step."""
        tally = self.observe(events)
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
        pages = tally["pages"]
        if pages:
            width = max(len(p) for p in pages)
            lists = np.full((len(pages), width), -1)
            for r, p in enumerate(pages):
                lists[r, :len(p)] = p
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
        if not self.watch_agents:
            return 0.0
        n = self.model.n_agents
        sets = sparse.csr_matrix((np.ones(len(self.watch_agents)), (self.watch_agents, self.watch_items)),
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
            self.values = self.compute(model.step_index, model.step_events)
            self.step_done = model.step_index
        return self.values

    def value(self, column: str) -> float:
        """The column as of the last collected step. Reading never folds events: a read between
        steps (when `step_index` has already moved on but `step_events` still holds the last
        step's events) once folded that step a second time and lost the next one."""
        if self.step_done < 0:  # nothing collected yet: the measures of the starting state
            return self.measures(0, {"pages": [], "watches": 0, "influenced": 0})[column]
        return self.values[column]

    # --- per agent -------------------------------------------------------------------------------

    def agent_table(self):
        """One row per agent: what it watched in the run, how diverse, how far it drifted, who moved it."""
        import pandas as pd

        m = self.model
        top = [c.most_common(1)[0] if c else (None, 0) for c in self.influencers]
        current = self.start_genres + self.consumed_genres
        return pd.DataFrame({
            "agent_id": np.arange(m.n_agents),
            "user_id": m.dataset.users.raw_ids[m.users],
            "watches": np.bincount(np.asarray(self.watch_agents, dtype=np.int64), minlength=m.n_agents),
            "genre_entropy": entropy_bits(self.consumed_genres),
            "genre_entropy_window": entropy_bits(self.window_genres),
            "exposure_genre_entropy": entropy_bits(self.exposed_genres),
            **{f"{name}_rarefied": self.rarefied.get(name, np.full(m.n_agents, np.nan))
               for name in ("genre_entropy", "genre_entropy_window", "exposure_genre_entropy")},
            "taste_drift": cosine_distance_rows(self.start_genres, current),
            "influenced_watches": [sum(c.values()) for c in self.influencers],
            "top_influencer": pd.array([t[0] for t in top], dtype="Int64"),
            "top_influencer_watches": [t[1] for t in top],
        })


def metrics_reporters(model) -> dict:
    """DataCollector reporters for every column of StepMetrics; attaches the tracker to the model."""
    model.step_metrics = StepMetrics(model)
    return {column: (lambda m, c=column: m.step_metrics.collect()[c]) for column in COLUMNS}
