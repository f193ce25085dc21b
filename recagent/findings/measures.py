"""Each finding's measures of one run (a `RunTables`), as the paper measured them, plus their
volume-matched versions (recagent/metrics/consumption.py has the estimators).

Every function returns {measure name: value} for one run; `recagent/findings/catalog.py` says
which runs' values are compared, in which direction.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

from ..metrics.consumption import (
    consumption_sets,
    entropy_by_round,
    expected_random_jaccard,
    genre_distributions,
    mean_by,
    mean_pairwise_jaccard,
    miscalibration,
    rarefied_entropy_by_round,
    rarefied_jaccard,
)
from .tables import RunTables

JACCARD_RAREFACTION = 5  # consumption sets subsampled to this many items for the volume-matched Jaccard
LIKES_RAREFACTION = 2  # likes of a round subsampled to this many for the volume-matched diversity
SERIES = "by_round:"  # keys holding one value per retraining round (plots), not a single measure
AGE_GROUPS = ((0, 25, "age <25"), (25, 35, "age 25-34"), (35, 45, "age 35-44"), (45, 200, "age 45+"))


def _rng(run: RunTables, salt: int) -> np.random.Generator:
    """A generator of the measure's own, seeded from the run folder's last two names (strategy and
    seed), so a report is reproducible from its runs."""
    return np.random.default_rng([zlib.crc32(f"{run.run_dir.parent.name}/{run.run_dir.name}".encode()), salt])


def homogenization(run: RunTables) -> dict[str, float]:
    """Chaney et al.: mean pairwise Jaccard of consumption sets, its chance level for sets of the same
    sizes, the ratio (excess over chance), the rarefied Jaccard, and utility (mean P(like | shown) of
    what was watched under the truth, and likes per agent)."""
    sets = consumption_sets(run.watch_agent, run.watch_item, run.n_agents, run.n_items)
    jaccard = mean_pairwise_jaccard(sets)
    upto = run.rounds(run.watch_step)
    cumulative = [mean_pairwise_jaccard(consumption_sets(run.watch_agent[upto <= r], run.watch_item[upto <= r],
                                                         run.n_agents, run.n_items)) for r in range(run.n_rounds)]
    chance = expected_random_jaccard(np.diff(sets.indptr), run.n_items)
    return {
        "jaccard": jaccard,
        "jaccard_chance": chance,
        "jaccard_excess": jaccard / chance if chance and np.isfinite(chance) else np.nan,
        "jaccard_rarefied": rarefied_jaccard(sets, JACCARD_RAREFACTION, _rng(run, 1)),
        "utility": float(np.mean(run.watch_p_like)) if len(run.watch_p_like) else np.nan,
        "likes_per_agent": float(run.liked.sum() / run.n_agents),
        "watches_per_agent": float(len(run.watch_agent) / run.n_agents),
        SERIES + "jaccard": np.array(cumulative),
    }


def _groups(run: RunTables) -> dict[str, np.ndarray]:
    """Boolean agent masks of the user groups ML-100K describes (gender, age); those with members."""
    out = {"all": np.ones(run.n_agents, dtype=bool)}
    for g in ("female", "male", "F", "M"):
        mask = run.gender == g
        if mask.any():
            out[{"F": "female", "M": "male"}.get(g, g)] = mask
    for lo, hi, label in AGE_GROUPS:
        mask = (run.age >= lo) & (run.age < hi)
        if mask.any():
            out[label] = mask
    return out


def popularity(run: RunTables) -> dict[str, float]:
    """Mansoury et al.: per retraining round, the mean popularity (share of the dataset's users who
    rated it) of the items recommended, and each group's mean miscalibration (Steck's KL between
    the genre mix of the agent's starting profile and of what it was shown that round); reported
    at the first and last round and as their difference (the growth over the loop)."""
    rounds = run.rounds(run.page_step)
    n_rounds = run.n_rounds
    pop = mean_by(run.popularity[run.page_item], rounds, n_rounds)
    out = {"rec_popularity_first": pop[0], "rec_popularity_last": pop[-1], "rec_popularity_growth": pop[-1] - pop[0]}
    profile = genre_distributions(run.profile_agent, run.profile_item, run.genres, run.n_agents)
    groups = _groups(run)
    by_round = np.full((n_rounds, run.n_agents), np.nan)
    for r in range(n_rounds):
        here = rounds == r
        shown = genre_distributions(run.page_agent[here], run.page_item[here], run.genres, run.n_agents)
        got = np.bincount(run.page_agent[here], minlength=run.n_agents) > 0
        by_round[r, got] = miscalibration(profile[got], shown[got])
    for name, mask in groups.items():
        with np.errstate(all="ignore"):
            first = np.nanmean(by_round[0, mask]) if np.isfinite(by_round[0, mask]).any() else np.nan
            last = np.nanmean(by_round[-1, mask]) if np.isfinite(by_round[-1, mask]).any() else np.nan
        out[f"miscalibration_first[{name}]"] = first
        out[f"miscalibration_last[{name}]"] = last
        out[f"miscalibration_growth[{name}]"] = last - first
    out[SERIES + "rec_popularity"] = pop
    with warnings.catch_warnings():  # a round nobody was shown anything in stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        out[SERIES + "miscalibration[all]"] = np.nanmean(by_round, axis=1)
    return out


def diversity(run: RunTables) -> dict[str, float]:
    """Agent4Rec: per retraining round, the mean genre entropy of each agent's likes of that round,
    raw and rarefied to LIKES_RAREFACTION likes; the change from the first to the last round, and the
    mean over rounds."""
    liked = run.liked
    agents, items, rounds = run.watch_agent[liked], run.watch_item[liked], run.rounds(run.watch_step[liked])
    raw = entropy_by_round(agents, items, rounds, run.genres, run.n_agents, run.n_rounds)
    rarefied = rarefied_entropy_by_round(agents, items, rounds, run.genres, run.n_agents, run.n_rounds,
                                         LIKES_RAREFACTION, _rng(run, 2))
    with np.errstate(all="ignore"):
        return {
            "likes_entropy_first": raw[0], "likes_entropy_last": raw[-1], "likes_entropy_change": raw[-1] - raw[0],
            "likes_entropy_rarefied_first": rarefied[0], "likes_entropy_rarefied_last": rarefied[-1],
            "likes_entropy_rarefied_change": rarefied[-1] - rarefied[0],
            "likes_entropy_rarefied_mean": float(np.nanmean(rarefied)) if np.isfinite(rarefied).any() else np.nan,
            "likes_per_agent": float(liked.sum() / run.n_agents),
            SERIES + "likes_entropy": raw, SERIES + "likes_entropy_rarefied": rarefied,
        }


def herding(run: RunTables, posts: list[dict], at_step: int) -> dict[str, float]:
    """Muchnik et al.: for the items the treated arm's posts are about, what agents other than the
    posters did with them from `at_step` on: likes, watches, mean rating, share of watches liked
    (the same items are read in the control arm, where nobody posted)."""
    items = {int(p["item"]) for p in posts}
    posters = {int(p["agent"]) for p in posts}  # agent ids (runner.draw_posts)
    index = {int(r): k for k, r in enumerate(run.item_ids)}
    treated = np.array(sorted(index[i] for i in items if i in index), dtype=np.int64)
    poster_agents = np.array(sorted(posters), dtype=np.int64)
    later = (run.watch_step >= at_step) & np.isin(run.watch_item, treated) & ~np.isin(run.watch_agent, poster_agents)
    ratings = run.watch_rating[later]
    return {
        "treated_likes": float((ratings >= run.like_rating).sum()),
        "treated_watches": float(later.sum()),
        "treated_mean_rating": float(ratings.mean()) if len(ratings) else np.nan,
        "treated_like_share": float((ratings >= run.like_rating).mean()) if len(ratings) else np.nan,
    }
