"""The published findings recagent is checked against: for each, its sweep in scenarios/findings/,
the measure function of one run, and the claims: which arm's measure is compared with which, seed
by seed, and the direction the paper reports. docs/findings.md discusses each beside the paper.

An arm is a strategy label of the finding's sweep (`mf`, `random`, `oracle`), or for the herding
intervention `control` (the sweep as written) and `treated` (the same runs with posts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import measures


@dataclass(frozen=True)
class Claim:
    measure: str  # what the table's row says is measured
    paper: str  # the paper's direction or size, in words
    mine: tuple[str, str]  # (arm, measure key)
    base: tuple[str, str]  # (arm, measure key) subtracted seed by seed
    expected: int  # +1: mine - base should be > 0; -1: < 0
    volume_matched: bool = False


@dataclass(frozen=True)
class Finding:
    name: str  # also the sweep file's stem and the output folder
    title: str
    citation: str
    measure: Callable | None  # RunTables -> {key: value}; None for herding (measures.herding, with the posts)
    claims: tuple[Claim, ...]


def _groups_claims() -> tuple[Claim, ...]:
    rows = []
    for group in ("all", "female", "male", "age <25", "age 25-34", "age 35-44", "age 45+"):
        rows.append(Claim(f"miscalibration of MF recommendations, last - first round [{group}]",
                          "grows over iterations, for every group",
                          ("mf", f"miscalibration_last[{group}]"), ("mf", f"miscalibration_first[{group}]"), +1))
    rows.append(Claim("miscalibration growth, female - male", "larger for the minority group (female)",
                      ("mf", "miscalibration_growth[female]"), ("mf", "miscalibration_growth[male]"), +1))
    return tuple(rows)


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "homogenization", "Homogenization of consumption",
        "Chaney, Stewart and Engelhardt, RecSys 2018", measures.homogenization, (
            Claim("mean pairwise Jaccard of consumption, MF - random", "higher under MF than under random",
                  ("mf", "jaccard"), ("random", "jaccard"), +1),
            Claim("Jaccard excess over chance (same set sizes), MF - random", "higher under MF",
                  ("mf", "jaccard_excess"), ("random", "jaccard_excess"), +1, True),
            Claim(f"Jaccard of {measures.JACCARD_RAREFACTION}-item subsamples, MF - random", "higher under MF",
                  ("mf", "jaccard_rarefied"), ("random", "jaccard_rarefied"), +1, True),
            Claim("mean pairwise Jaccard of consumption, MF - oracle", "higher than the ideal recommender",
                  ("mf", "jaccard"), ("oracle", "jaccard"), +1),
            Claim("Jaccard excess over chance (same set sizes), MF - oracle", "higher than the ideal recommender",
                  ("mf", "jaccard_excess"), ("oracle", "jaccard_excess"), +1, True),
            Claim("utility (mean P(like) of what was watched), MF - oracle", "lower than the ideal (utility loss > 0)",
                  ("mf", "utility"), ("oracle", "utility"), -1),
        )),
    Finding(
        "popularity", "Popularity bias amplification in the feedback loop",
        "Mansoury, Abdollahpouri, Pechenizkiy, Mobasher and Burke, CIKM 2020", measures.popularity, (
            Claim("popularity of MF-recommended items, last - first round", "grows over iterations",
                  ("mf", "rec_popularity_last"), ("mf", "rec_popularity_first"), +1),
            Claim("popularity growth, MF - random", "a loop effect: grows more than without one",
                  ("mf", "rec_popularity_growth"), ("random", "rec_popularity_growth"), +1),
        ) + _groups_claims()),
    Finding(
        "diversity", "Diversity decline under MF vs random",
        "Zhang et al. (Agent4Rec), SIGIR 2024", measures.diversity, (
            Claim("genre entropy of likes, change first -> last round, MF - random",
                  "declines under MF relative to random", ("mf", "likes_entropy_change"),
                  ("random", "likes_entropy_change"), -1),
            Claim(f"the same at {measures.LIKES_RAREFACTION} likes per agent and round (rarefied), MF - random",
                  "declines under MF relative to random", ("mf", "likes_entropy_rarefied_change"),
                  ("random", "likes_entropy_rarefied_change"), -1, True),
            Claim("rarefied genre entropy of likes, mean over rounds, MF - random", "lower under MF",
                  ("mf", "likes_entropy_rarefied_mean"), ("random", "likes_entropy_rarefied_mean"), -1, True),
        )),
    Finding(
        "herding", "Herding after a positive first signal",
        "Muchnik, Aral and Taylor, Science 2013", None, (
            Claim("later likes of the posted items by others, treated - control",
                  "positive (+32% up-votes after a positive prime)", ("treated", "treated_likes"),
                  ("control", "treated_likes"), +1),
            Claim("later mean rating of the posted items, treated - control", "positive (+25% mean final rating)",
                  ("treated", "treated_mean_rating"), ("control", "treated_mean_rating"), +1),
            Claim("share of later watches of the posted items liked, treated - control", "positive",
                  ("treated", "treated_like_share"), ("control", "treated_like_share"), +1),
        )),
)
BY_NAME = {f.name: f for f in FINDINGS}
