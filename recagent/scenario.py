"""The YAML scenario's pydantic models (loading them from a file: recagent/scenario_loading.py).

A scenario says which people (dataset, agents), which world (social graph), which recommender and
feedback model, which language backend, how the simulation steps, what changes when
(interventions) and where outputs go. Relative paths resolve against the scenario file's folder;
`~` and `${ENV_VAR}` expand.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PlainValidator, field_validator, model_validator

from .llm.spec import BudgetSpec, LLMSpec, MemorySpec, RateLimitSpec  # noqa: F401 - part of the scenario model
from .params import Strict

# --- dataset -------------------------------------------------------------------------------------


class SyntheticData(Strict):
    kind: Literal["synthetic"]
    users: int = Field(100, ge=2, le=100_000_000, description="number of users (memory is checked before the run)")
    items: int = Field(300, ge=10, le=100_000_000, description="number of items (memory is checked before the run)")
    history_length: int = Field(20, ge=1, description="mean starting ratings per user")
    seed: int | None = Field(None, description="data seed (default: the scenario seed)")


class MovieLensData(Strict):
    kind: Literal["movielens-100k"]
    path: Path = Field(description="folder with u.data, u.item, u.user")
    tmdb: Path | None = Field(None, description="optional movies_enriched.csv with TMDB overviews")
    fold: int | None = Field(None, ge=1, le=5, description="train on uK.base only")


class RecAgentData(Strict):
    kind: Literal["recagent"]
    path: Path = Field(description="folder with item.csv, user_1000.csv, relationship_1000.csv")
    users_file: str = "user_1000.csv"
    relations_file: str = "relationship_1000.csv"
    history_length: int = Field(20, ge=1)


class CsvData(Strict):
    kind: Literal["csv"]
    ratings: Path
    items: Path | None = None
    columns: dict[Literal["user", "item", "rating", "timestamp"], str] = Field(default_factory=dict)
    implicit: bool = Field(False, description="every row is an interaction, a positive signal (no rating column needed)")
    scale: tuple[float, float] | None = Field(
        None, description="[lowest, highest] rating of the file (default: inferred among common scales and reported)")

    @field_validator("scale")
    @classmethod
    def _scale(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError("expected [lowest, highest] with lowest < highest")
        return v


DatasetSpec = Annotated[Union[SyntheticData, MovieLensData, RecAgentData, CsvData], Field(discriminator="kind")]


# --- agents and world ----------------------------------------------------------------------------


class AgentsSpec(Strict):
    count: int | None = Field(None, ge=1, description="number of agents (default: every user of the dataset)")
    sample: Literal["first", "random"] = "random"
    roles: dict[Literal["Watcher", "Explorer", "Critic", "Chatter", "Poster"], float] | None = Field(
        None, description="share of agents per role when the dataset has none (default: derived from traits)")

    @field_validator("roles")
    @classmethod
    def _shares(cls, v):
        if v is not None and (any(x < 0 for x in v.values()) or sum(v.values()) <= 0):
            raise ValueError("role shares must be >= 0 and sum to more than 0")
        return v


class SocialSpec(Strict):
    graph: Literal["watts-strogatz", "barabasi-albert", "homophily", "dataset", "none"] = "homophily"
    degree: int = Field(8, ge=1, description="mean number of contacts")
    rewire: float = Field(0.1, ge=0, le=1, description="Watts-Strogatz rewiring probability")
    homophily: float = Field(4.0, ge=0, description="how strongly similar tastes attract (0 = random)")


class RerankerSpec(Strict):
    name: str = Field(description="mmr, random_k, popularity_penalty, or a registered re-ranker")
    params: dict[str, Any] = Field(default_factory=dict)


class RecommenderSpec(Strict):
    name: str = "popular"
    params: dict[str, Any] = Field(default_factory=dict)
    rerankers: list[RerankerSpec] = Field(default_factory=list, description="applied in order to the base list")
    retrain_every: int = Field(0, ge=0, description="feed simulated ratings back every N steps (0 = never)")


class FeedbackSpec(Strict):
    model: str = "ensemble"  # prepared into $RECAGENT_CACHE on first use (or by `recagent prepare`)
    params: dict[str, Any] = Field(default_factory=dict)
    rating_noise: float = Field(0.8, ge=0, description="std of the noise added to the predicted rating")
    like_rating: float = Field(4, ge=1, le=5, description="a watch rated at least this is a like")
    dislike_rating: float = Field(2, ge=1, le=5, description="a watch rated at most this is a dislike")
    calibration: Path | None = Field(None, description="ratings of randomly shown items (CSV user,item,rating or "
                                     "user item rating triplets, the dataset's ids): the shown-question correction's "
                                     "few parameters are refitted on them (docs/feedback.md)")
    self_selection: float | None = Field(None, gt=0, le=1.5, description="random/chosen like ratio the shown answers "
                                         "are pinned to (published: 0.41 Yahoo! R3 to 0.77 Coat); null: what the "
                                         "training data implies (docs/believability.md)")


# --- simulation ----------------------------------------------------------------------------------


class ActivationSpec(Strict):
    kind: Literal["pareto", "random", "all"] = "pareto"
    alpha: float = Field(1.16, gt=0, description="Pareto shape for per-agent activity")
    probability: float = Field(0.2, ge=0, le=1, description="activity probability for kind=random")
    max_active: int | None = Field(None, ge=1, description="cap on active agents per step")


class BusySpec(Strict):
    watch: float = Field(2.0, ge=0, description="hours an agent is busy per item watched")
    chat: tuple[float, float] = Field((0.5, 2.0), description="min and max hours of a chat")
    post: float = Field(0.1, ge=0)


class BehaviourSpec(Strict):
    """How a person goes through a recommender visit. The defaults are hand-set, not fitted:
    `recagent calibrate behaviour --log FILE` fits them from an impression log."""

    watch_scale: float = Field(0.45, gt=0, le=1, description="P(watch) = watch_scale * P(like | shown)^2 * position factor * social factor")
    position_decay: float = Field(0.1, ge=0, le=1, description="position factor = max(1 - position_decay * position, min_position_factor)")
    min_position_factor: float = Field(0.1, ge=0, le=1, description="floor of the position factor")
    continue_if_nothing: float = Field(0.55, ge=0, le=1, description="P(next page) after a page with no watch")
    continue_if_watched: float = Field(0.35, ge=0, le=1, description="P(next page) after a page with a watch")
    social_influence: float = Field(1.0, ge=0, description="social factor = exp(social_influence * conformity * heard); "
                                    "not identified by real adoption timing (flat from 0 to 30 on CiaoDVD: "
                                    "docs/believability.md, `recagent calibrate influence`)")
    search_boost: float = Field(2.0, gt=0, description="a searched item is watched this many times more readily than a page item")


class SimulationSpec(Strict):
    steps: int = Field(20, ge=1, le=1_000_000)
    start_time: datetime = datetime(2024, 1, 1, 8, 0)
    step_hours: float = Field(1.0, gt=0, le=24 * 366, description="simulated hours per step")
    activation: ActivationSpec = Field(default_factory=ActivationSpec)
    page_size: int = Field(4, ge=1, description="items per page (at most the catalog size)")
    max_pages: int = Field(3, ge=1, le=10_000)
    busy_hours: BusySpec = Field(default_factory=BusySpec)
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    checkpoint_every: int | None = Field(None, ge=1, description="write a checkpoint every N steps (and after the "
                                         "last) into the run folder, so `recagent run --resume` can continue")


# --- interventions -------------------------------------------------------------------------------


class SwitchRecommender(Strict):
    """New base recommender (`name`) and/or new re-rankers; `name` left out keeps the base model."""

    at_step: int = Field(ge=0)
    kind: Literal["switch_recommender"]
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    rerankers: list[RerankerSpec] | None = Field(None, description="default: none with a new name, else unchanged")

    @model_validator(mode="after")
    def _something(self) -> SwitchRecommender:
        if self.name is None and self.rerankers is None:
            raise ValueError("give a recommender 'name', 'rerankers', or both")
        return self


# An agent as a person types it: the agent id (0 to agents - 1, as in the events table, `--play` and
# the page), or "user:ID" for the agent drawn from dataset user ID (simulation/interventions.py).
def _agent_ref(value: Any) -> int | str:
    if isinstance(value, str) and re.fullmatch(r"\s*user:\s*-?[0-9]+\s*", value):
        return "user:" + value.split(":", 1)[1].strip()
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError("expected an agent id (0 to agents - 1, as in the events table) or \"user:ID\" for a "
                     "dataset user id")


AgentRef = Annotated[Union[int, str], PlainValidator(_agent_ref)]


class InjectPost(Strict):
    at_step: int = Field(ge=0)
    kind: Literal["inject_post"]
    agent: AgentRef = Field(description="agent id of the poster (0 to agents - 1, as in the events table), "
                            "or \"user:ID\" for the agent of dataset user ID")
    item: int = Field(description="dataset item id the post is about")
    text: str | None = None


class Rewire(Strict):
    """Replace a share of the edges by edges towards dissimilar users (RecAgent's social mitigation)."""

    at_step: int = Field(ge=0)
    kind: Literal["rewire"]
    share: float = Field(0.2, gt=0, le=1, description="share of edges to rewire")
    dissimilar: float = Field(0.25, gt=0, le=1, description="new contact drawn from this least similar share")


class SetTraits(Strict):
    """Change the traits of a group of agents: all, given agent ids, a role, or a random share."""

    at_step: int = Field(ge=0)
    kind: Literal["set_traits"]
    agents: list[AgentRef] | Literal["all"] = Field("all", description="agent ids (0 to agents - 1, as in the "
                                                    "events table) or \"user:ID\" for dataset user ids, or 'all'")
    role: Literal["Watcher", "Explorer", "Critic", "Chatter", "Poster"] | None = None
    share: float = Field(1.0, gt=0, le=1, description="random share of the selected agents")
    conformity: float | None = Field(None, ge=0, le=1)
    activity: float | None = Field(None, ge=0, le=1, description="probability of acting in a step")
    diversity: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _something(self) -> SetTraits:
        if self.conformity is None and self.activity is None and self.diversity is None:
            raise ValueError("set at least one of conformity, activity, diversity")
        return self


InterventionSpec = Annotated[Union[SwitchRecommender, InjectPost, Rewire, SetTraits], Field(discriminator="kind")]


class MetricsSpec(Strict):
    window: int = Field(5, ge=1, description="steps in the sliding window of genre entropy")
    embedding_diversity: bool = Field(False, description="also intra-list diversity of MiniLM item embeddings")
    rarefaction: int = Field(5, ge=1, le=10_000, description="watches (shown items) per agent at which the *_rarefied genre entropies are measured; agents with fewer are left out")
    coverage_rarefaction: int = Field(500, ge=1, le=100_000_000, description="watches (showings) of the run at which coverage_*_rarefied measure catalog coverage")
    jaccard_pairs: int = Field(500, ge=1, le=10_000_000, description="agent pairs sampled for homogenisation")


class OutputsSpec(Strict):
    dir: Path | None = Field(None, description="parent folder of run folders (default: ./runs)")


class RoleplaySpec(Strict):
    """People playing agents in the web page (docs/roleplay.md); `recagent run --play ID` sets it too."""

    agents: list[int] = Field(default_factory=list, max_length=100,
                              description="agent ids (as in the events table, 0 to agents - 1) that people play")
    turn_timeout_s: float = Field(120.0, gt=0, le=86_400, description="seconds a person has for a turn; then "
                                  "the simulated policy acts instead, recorded as a timeout")
    chat_turns: int = Field(3, ge=1, le=50, description="messages a person may send in one chat; each gets "
                            "the friend's reply")
    every_step: bool = Field(True, description="played agents get a turn at every step; false: only at steps "
                             "where they are drawn active, like everyone else")

    @field_validator("agents")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if any(a < 0 for a in v):
            raise ValueError("agent ids are 0 or more")
        if len(set(v)) != len(v):
            raise ValueError("each agent can be played by one person only (an id is listed twice)")
        return sorted(v)


class Scenario(Strict):
    """A whole scenario as the YAML file reads (validated; `load_scenario` also resolves its paths)."""

    name: str = Field(min_length=1, max_length=200, description="names the run folder <name>-<time>, so it must fit a file name")
    description: str = ""
    seed: int = Field(0, ge=0, le=2**63 - 1)
    dataset: DatasetSpec
    agents: AgentsSpec = Field(default_factory=AgentsSpec)
    social: SocialSpec = Field(default_factory=SocialSpec)
    recommender: RecommenderSpec = Field(default_factory=RecommenderSpec)
    feedback: FeedbackSpec = Field(default_factory=FeedbackSpec)
    llm: LLMSpec = Field(default_factory=LLMSpec)
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)
    interventions: list[InterventionSpec] = Field(default_factory=list)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)
    roleplay: RoleplaySpec = Field(default_factory=RoleplaySpec, description="people who play agents in the web "
                                   "page, and their turns (docs/roleplay.md)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError("use letters, digits, '-', '_' and '.' only (it names the run folder)")
        return v

    @model_validator(mode="after")
    def _dataset_graph(self) -> Scenario:
        if self.social.graph == "dataset" and self.dataset.kind != "recagent":
            raise ValueError("social.graph 'dataset' needs a dataset that ships relationships (kind: recagent)")
        return self
