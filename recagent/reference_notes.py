"""The reference pages' hand-written tables: descriptions of scenario fields whose model carries
none, and the columns of metrics.csv and agent_metrics.csv, each with its meaning. The event kinds
and payload keys of events.sqlite are described in their payload models (recagent/events/payloads.py)
and only re-exported here, in the shape the tests read.

recagent/reference.py renders them into docs/scenario-reference.md and docs/outputs-reference.md;
tests/test_reference.py compares the column and event tables with what a real run writes, so a new
column, event kind or payload key without a line here fails the tests instead of going undocumented.
"""

from __future__ import annotations

from .events.kinds import EventKind
from .events.payloads import ROLEPLAY_KEYS  # noqa: F401 - re-exported: tests/test_reference.py reads it here
from .events.reference import ROLEPLAY_KINDS, TABLE_COLUMNS, documented

# --- descriptions for scenario fields whose model carries none -----------------------------------
# Keyed "Model.field", or "*.field" for a field that means the same in every model that has it.
FIELD_NOTES: dict[str, str] = {
    "Scenario.name": "names the run folder: letters, digits, '-', '_' and '.'",
    "Scenario.description": "free text, copied into run.json and the web page",
    "Scenario.seed": "one seed for everything: the same scenario and seed give the same event log",
    "Scenario.dataset": "who the people and items are; one of the dataset kinds below",
    "Scenario.agents": "how many of the dataset's users become agents",
    "Scenario.social": "the social graph between agents",
    "Scenario.recommender": "the recommendation strategy serving the agents",
    "Scenario.feedback": "the user simulator that decides watch, like and rating (no LLM)",
    "Scenario.llm": "the language backend for chats, posts, feelings and interviews",
    "Scenario.simulation": "steps, time, activation and browsing behaviour",
    "Scenario.interventions": "changes at a given step; one of the intervention kinds below",
    "Scenario.metrics": "settings of the cocoon and influence measures in metrics.csv",
    "Scenario.outputs": "where run folders go",
    "*.kind": "selects this variant",
    "*.at_step": "the step (counted from 0) at whose start the change happens",
    "RecAgentData.users_file": "the users CSV inside `path`",
    "RecAgentData.relations_file": "the relationships CSV inside `path`",
    "RecAgentData.history_length": "mean number of generated starting ratings per user (the population has none)",
    "CsvData.ratings": "CSV of ratings: one row per (user, item, rating[, timestamp])",
    "CsvData.items": "optional CSV of items (id, title, genres separated by '|')",
    "CsvData.columns": "names of the ratings CSV's columns, when they are not user, item, rating, timestamp",
    "AgentsSpec.sample": "which users become agents when `count` is below the number of users",
    "SocialSpec.graph": "how the graph is built; `dataset` uses the dataset's own relationships (kind: recagent)",
    "RerankerSpec.params": "keyword arguments of the re-ranker",
    "RecommenderSpec.name": "random, popular, itemcf, mf, sasrec, content, social, or a registered plug-in",
    "RecommenderSpec.params": "keyword arguments of the recommender",
    "FeedbackSpec.model": "ensemble (default), mf, bias, llm_rating, or a registered feedback model; "
                          "prepared into $RECAGENT_CACHE on first use",
    "FeedbackSpec.params": "keyword arguments of the feedback model",
    "LLMSpec.provider": "offline (templates, no calls), openai (any OpenAI-compatible endpoint), local (a GGUF model run in process by llama.cpp) or fake (scripted)",
    "LLMSpec.temperature": "sampling temperature",
    "MemorySpec.short_term_capacity": "observations kept in short-term memory per agent",
    "ActivationSpec.kind": "pareto (RecAgent's heavy-tailed activity), random (same probability for all) or all",
    "BusySpec.post": "hours an agent is busy after a post",
    "SimulationSpec.steps": "number of steps",
    "SimulationSpec.start_time": "simulated time of step 0",
    "SimulationSpec.page_size": "items per recommender page",
    "SimulationSpec.max_pages": "pages an agent may look at per visit",
    "SimulationSpec.activation": "who acts in a step",
    "SimulationSpec.busy_hours": "how long acts keep an agent busy",
    "SimulationSpec.behaviour": "how a person goes through a recommender visit",
    "SwitchRecommender.name": "the new base recommender; left out: keep the current one",
    "SwitchRecommender.params": "keyword arguments of the new recommender",
    "InjectPost.text": "the post's text (default: written by the language backend)",
    "SetTraits.role": "only agents with this role (default: any role)",
    "SetTraits.conformity": "new conformity, 0-1 (how strongly friends' opinions sway the agent)",
    "SetTraits.diversity": "new diversity, 0-1",
    "LLMSpec.budget": "optional limits on calls and tokens",
    "LLMSpec.memory": "RecAgent long-term memory of the agents",
}

# --- metrics.csv: one row per step ---------------------------------------------------------------
# (column, unit, "step" = this step only | "so far" = cumulative since step 0 | "window", meaning)
METRICS_COLUMNS: list[tuple[str, str, str, str]] = [
    ("step", "index", "step", "the step, counted from 0"),
    ("sim_time", "ISO time", "step", "simulated time at the start of the step"),
    ("active_agents", "agents", "step", "agents that acted this step"),
    ("watches", "events", "step", "items watched this step"),
    ("likes", "events", "step", "watches rated at least `feedback.like_rating` this step (`like` events)"),
    ("dislikes", "events", "step", "watches rated at most `feedback.dislike_rating` this step"),
    ("searches", "events", "step", "searches this step"),
    ("chats", "events", "step", "chats this step"),
    ("posts", "events", "step", "posts this step"),
    ("hears", "events", "step", "`hear` events this step (one per listener of a chat or post)"),
    ("mean_genre_entropy", "bits", "so far",
     "mean over agents who watched of the Shannon entropy of the genres they watched in the run"),
    ("genre_entropy_window", "bits", "window",
     "the same over the watches of the last `metrics.window` steps"),
    ("exposure_genre_entropy", "bits", "so far", "mean over agents of the genre entropy of everything shown to them"),
    ("genre_entropy_rarefied", "bits", "so far", "`mean_genre_entropy` at a fixed volume: mean over agents with at least "
     "`metrics.rarefaction` watches of the expected genre entropy of that many of them drawn without replacement "
     "(comparable across strategies with different numbers of watches)"),
    ("genre_entropy_window_rarefied", "bits", "window", "the same over the watches of the last `metrics.window` steps"),
    ("exposure_genre_entropy_rarefied", "bits", "so far", "`exposure_genre_entropy` at `metrics.rarefaction` shown "
     "items per agent"),
    ("ild_genre", "0-1", "step", "mean intra-list diversity (1 - cosine of genre vectors) of this step's pages; "
                                 "empty when no page had two items"),
    ("ild_embedding", "0-1", "step", "the same with MiniLM item embeddings; empty unless "
                                     "`metrics.embedding_diversity: true`"),
    ("coverage_exposure", "share", "so far", "share of the catalog shown at least once"),
    ("coverage_consumption", "share", "so far", "share of the catalog watched at least once"),
    ("coverage_exposure_rarefied", "share", "so far", "`coverage_exposure` at a fixed volume: expected share of the "
     "catalog among `metrics.coverage_rarefaction` of the run's showings drawn without replacement (exact); empty "
     "until there are that many"),
    ("coverage_consumption_rarefied", "share", "so far", "the same for watches: comparable across strategies with "
     "different numbers of watches"),
    ("gini_exposure", "0-1", "so far", "Gini of per-item counts of showings (1 = all on one item)"),
    ("gini_consumption", "0-1", "so far", "Gini of per-item counts of watches"),
    ("homogenisation", "0-1", "so far", "mean Jaccard overlap of the watched sets of sampled pairs of agents "
                                        "(`metrics.jaccard_pairs`)"),
    ("taste_drift", "0-1", "so far", "mean over agents of 1 - cosine(genre profile of the dataset history, "
                                     "that profile plus the run's watches)"),
    ("taste_alignment", "0-1", "so far", "mean over agents who watched of cosine(genre profile of the dataset "
                                         "history, genre profile of the run's watches)"),
    ("influence_share", "share", "so far", "share of watches of an item the watcher had heard about from a friend"),
    ("influence_share_step", "share", "step", "the same for this step's watches"),
    ("cascades", "items", "so far", "items that spread by word of mouth (at least one `hear`)"),
    ("cascade_size_mean", "agents", "so far", "mean number of agents reached per cascade"),
    ("cascade_size_max", "agents", "so far", "largest cascade"),
    ("cascade_depth_max", "hops", "so far", "deepest chain of retelling"),
    ("cascade_breadth_max", "agents", "so far", "most agents reached at one depth"),
    ("conformity", "share", "so far", "among watches of an item a friend had rated before, the share whose "
                                      "like / not-like agrees with the friends' majority; empty until there is one"),
    ("conformity_n", "watches", "so far", "how many watches `conformity` is computed over"),
]

# --- agent_metrics.csv: one row per agent at the end of the run -----------------------------------
AGENT_METRICS_COLUMNS: list[tuple[str, str, str]] = [
    ("agent_id", "id", "the agent (`agent_id` in events.sqlite)"),
    ("user_id", "id", "the dataset's user id behind the agent"),
    ("watches", "events", "items the agent watched in the run"),
    ("genre_entropy", "bits", "entropy of the genres it watched in the run"),
    ("genre_entropy_window", "bits", "the same over the last `metrics.window` steps"),
    ("exposure_genre_entropy", "bits", "entropy of the genres it was shown"),
    ("genre_entropy_rarefied", "bits", "expected genre entropy of `metrics.rarefaction` of its watches (empty with fewer)"),
    ("genre_entropy_window_rarefied", "bits", "the same over the last `metrics.window` steps"),
    ("exposure_genre_entropy_rarefied", "bits", "the same of `metrics.rarefaction` items shown to it"),
    ("taste_drift", "0-1", "1 - cosine(genre profile of its dataset history, that profile plus the run's watches)"),
    ("influenced_watches", "events", "watches of items it had heard about from a friend first"),
    ("top_influencer", "id", "the agent it heard from first most often before watching (empty if none)"),
    ("top_influencer_watches", "events", "how many of its watches that agent prompted"),
]

# --- events.sqlite: payload keys per event kind ---------------------------------------------------
# kind -> (what the row means, what agent_id / item_id / target_agent_id hold, {payload key: meaning}),
# read from the payload models (recagent/events/payloads.py), where they are written
EVENTS: dict[str, tuple[str, str, dict[str, str]]] = {
    k.value: documented(k) for k in EventKind if k not in ROLEPLAY_KINDS}
# role-play runs (docs/roleplay.md) write two more kinds and a few more keys on ordinary kinds
ROLEPLAY_EVENTS: dict[str, tuple[str, str, dict[str, str]]] = {k.value: documented(k) for k in ROLEPLAY_KINDS}
EVENT_COLUMNS = TABLE_COLUMNS
