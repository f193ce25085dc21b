"""The measures of metrics.csv that reports summarise: readable names, units, ranges, and whether
each column is a per-step count or a running ("so far") value.

This mapping is the reports' own; it mirrors the column documentation in
recagent/metrics/tracker.py and docs/outputs-reference.md (estimators: docs/metrics.md). A per-step column is summarised over a run by
its mean over steps, a cumulative or sliding-window column by its value at the final step.
The range is what the measure can take at all; intervals are kept inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["per step", "cumulative", "sliding window"]
INF = math.inf


@dataclass(frozen=True)
class Measure:
    column: str
    name: str
    unit: str
    kind: Kind
    low: float = 0.0
    high: float = INF

    @property
    def undefined(self) -> str:
        """Why a report shows n/a for the measure: it is undefined (empty in metrics.csv) in every seed."""
        return UNDEFINED.get(self.column, "empty in metrics.csv in every seed")

    @property
    def summary(self) -> Literal["last", "mean"]:
        return "mean" if self.kind == "per step" else "last"

    @property
    def summary_words(self) -> str:
        return "mean over steps" if self.summary == "mean" else "at the final step"

    @property
    def label(self) -> str:
        """Axis label: name and unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def range_words(self) -> str:
        high = "inf" if math.isinf(self.high) else f"{self.high:g}"
        return f"[{self.low:g}, {high}]"

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)


MEASURES: tuple[Measure, ...] = (
    Measure("mean_genre_entropy", "Genre entropy of consumption", "bits", "cumulative"),
    Measure("genre_entropy_window", "Genre entropy of recent consumption", "bits", "sliding window"),
    Measure("exposure_genre_entropy", "Genre entropy of exposure", "bits", "cumulative"),
    # the same at a fixed volume (metrics.rarefaction): comparable between strategies with different watch counts
    Measure("genre_entropy_rarefied", "Genre entropy of consumption, rarefied", "bits", "cumulative"),
    Measure("genre_entropy_window_rarefied", "Genre entropy of recent consumption, rarefied", "bits", "sliding window"),
    Measure("exposure_genre_entropy_rarefied", "Genre entropy of exposure, rarefied", "bits", "cumulative"),
    Measure("ild_genre", "Intra-list diversity of pages (genres)", "1 - cosine", "per step", 0, 1),
    Measure("ild_embedding", "Intra-list diversity of pages (MiniLM)", "1 - cosine", "per step", 0, 2),
    Measure("coverage_exposure", "Catalog coverage of exposure", "share of items", "cumulative", 0, 1),
    Measure("coverage_consumption", "Catalog coverage of consumption", "share of items", "cumulative", 0, 1),
    Measure("coverage_exposure_rarefied", "Catalog coverage of exposure, rarefied", "share of items", "cumulative",
            0, 1),
    Measure("coverage_consumption_rarefied", "Catalog coverage of consumption, rarefied", "share of items",
            "cumulative", 0, 1),
    Measure("gini_exposure", "Gini of exposure", "0 = even", "cumulative", 0, 1),
    Measure("gini_consumption", "Gini of consumption", "0 = even", "cumulative", 0, 1),
    Measure("homogenisation", "Homogenisation", "mean pairwise Jaccard", "cumulative", 0, 1),
    Measure("taste_drift", "Taste drift", "1 - cosine to start", "cumulative", 0, 1),
    Measure("taste_alignment", "Alignment with prior taste", "cosine", "cumulative", 0, 1),
    Measure("watches", "Watches", "watches", "per step"),
    Measure("likes", "Likes", "likes", "per step"),
    Measure("active_agents", "Active agents", "agents", "per step"),
    Measure("chats", "Chats", "chats", "per step"),
    Measure("posts", "Posts", "posts", "per step"),
    Measure("dislikes", "Dislikes", "dislikes", "per step"),
    Measure("searches", "Searches", "searches", "per step"),
    Measure("hears", "Hears (word of mouth received)", "hears", "per step"),
    Measure("influence_share", "Watches heard about first", "share", "cumulative", 0, 1),
    Measure("influence_share_step", "Watches heard about first, this step", "share", "per step", 0, 1),
    Measure("cascades", "Spread cascades", "items", "cumulative"),
    Measure("cascade_size_mean", "Mean spread-cascade size", "agents", "cumulative"),
    Measure("cascade_size_max", "Largest spread cascade", "agents", "cumulative"),
    Measure("cascade_depth_max", "Deepest spread cascade", "hops", "cumulative"),
    Measure("cascade_breadth_max", "Broadest spread cascade", "agents at one depth", "cumulative"),
    Measure("conformity", "Conformity", "share agreeing with friends", "cumulative", 0, 1),
)
BY_COLUMN = {m.column: m for m in MEASURES}
# when a measure is empty in metrics.csv (docs/outputs-reference.md says when each column is), in a report's words
UNDEFINED = {
    "genre_entropy_rarefied": "no agent watched metrics.rarefaction items",
    "genre_entropy_window_rarefied": "no agent watched metrics.rarefaction items within metrics.window steps",
    "exposure_genre_entropy_rarefied": "no agent was shown metrics.rarefaction items",
    "coverage_exposure_rarefied": "fewer showings than metrics.coverage_rarefaction",
    "coverage_consumption_rarefied": "fewer watches than metrics.coverage_rarefaction",
    "ild_genre": "no page had two items",
    "ild_embedding": "metrics.embedding_diversity is off",
    "conformity": "no watch of an item a friend had rated before",
}

# metrics.csv columns that are not outcomes: the step itself, and how many watches conformity rests on
NOT_MEASURES = ("step", "sim_time", "conformity_n")

# shown in the summary tables; the rest appear under "All measures"
KEY = ("mean_genre_entropy", "genre_entropy_rarefied", "genre_entropy_window", "ild_genre", "coverage_consumption",
       "gini_consumption", "homogenisation", "taste_alignment", "watches", "influence_share")


def present(columns, frame=None) -> list[Measure]:
    """The measures among `columns` (with at least one value in `frame`, when given), in catalogue order."""
    cols = set(columns)
    out = [m for m in MEASURES if m.column in cols]
    if frame is not None:
        out = [m for m in out if frame[m.column].notna().any()]
    return out
