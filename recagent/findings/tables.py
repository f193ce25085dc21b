"""A finished run folder as the arrays the findings' measures read: watches, likes, pages shown,
the agents' groups, the catalog's genres and the items' popularity in the starting data.

Items are indexed by their row in the run's items table (the catalog the run wrote), agents by
agent id. The starting data (popularity, each agent's profile) comes from loading the run's own
resolved scenario's dataset, cached per dataset spec (runs of one sweep share it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from ..errors import UserError


@dataclass
class RunTables:
    run_dir: Path
    n_agents: int
    n_items: int
    steps: int
    retrain_every: int
    like_rating: float
    genres: np.ndarray  # (items, genres) 0/1
    watch_agent: np.ndarray
    watch_item: np.ndarray
    watch_step: np.ndarray
    watch_rating: np.ndarray
    watch_p_like: np.ndarray
    page_agent: np.ndarray  # one row per item shown
    page_item: np.ndarray
    page_step: np.ndarray
    gender: np.ndarray  # per agent, "" where unknown
    age: np.ndarray  # per agent, NaN where unknown
    user_ids: np.ndarray  # dataset user id per agent
    item_ids: np.ndarray  # dataset item id per item index
    popularity: np.ndarray  # share of the dataset's users who rated each item
    profile_agent: np.ndarray  # the agents' starting ratings (dataset history), as rows
    profile_item: np.ndarray

    @property
    def liked(self) -> np.ndarray:
        return self.watch_rating >= self.like_rating

    def rounds(self, steps: np.ndarray) -> np.ndarray:
        """The retraining round of each step (round r = steps [r * retrain_every, (r+1) * retrain_every))."""
        return np.asarray(steps, dtype=np.int64) // self.retrain_every

    @property
    def n_rounds(self) -> int:
        return -(-self.steps // self.retrain_every)


@lru_cache(maxsize=8)
def _dataset(dataset_yaml: str, seed: int, base_dir: str):
    from ..scenario_loading import parse_scenario
    from ..simulation.build import load_dataset

    data = {"name": "findings", "seed": seed, "dataset": yaml.safe_load(dataset_yaml)}
    return load_dataset(parse_scenario(data, Path(base_dir) / "scenario.yaml"))


def read_run(run_dir: Path) -> RunTables:
    """The run's tables; UserError naming the folder when it is not a finished run."""
    run_dir = Path(run_dir)
    from ..api import load_run  # here, not at import: `recagent --help` loads no Mesa

    run = load_run(run_dir)
    try:
        scenario = yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise UserError("no readable scenario.resolved.yaml: not a finished run folder", run_dir) from None
    events = run.events
    items = run.items
    agents = run.agents
    item_ids = items.item_id.to_numpy(dtype=np.int64)
    index = {int(r): k for k, r in enumerate(item_ids)}
    names = sorted({g for gs in items.genres for g in gs})
    column = {g: j for j, g in enumerate(names)}
    genres = np.zeros((len(items), len(names)))
    for k, gs in enumerate(items.genres):
        genres[k, [column[g] for g in gs]] = 1

    watches = events[events.kind == "watch"]
    pages = events[events.kind == "page"]
    page_agent, page_item, page_step = [], [], []
    for agent, step, shown in zip(pages.agent_id.to_numpy(dtype=np.int64), pages.step.to_numpy(dtype=np.int64),
                                  pages["items"] if "items" in pages else []):
        ids = [index[int(i)] for i in shown if int(i) in index]
        page_agent += [agent] * len(ids)
        page_item += ids
        page_step += [step] * len(ids)

    dataset = _dataset(yaml.safe_dump(scenario["dataset"], sort_keys=True), int(scenario.get("seed", 0)),
                       str(run_dir))
    d_items = dataset.catalog.raw_ids
    to_run = np.array([index.get(int(r), -1) for r in d_items])
    inter = dataset.interactions
    keep = to_run[inter.items] >= 0
    popularity = np.zeros(len(item_ids))
    popularity_all = np.bincount(np.unique(inter.users * len(d_items) + inter.items) % len(d_items),
                                 minlength=len(d_items)) / max(len(dataset.users.raw_ids), 1)
    popularity[to_run[to_run >= 0]] = popularity_all[to_run >= 0]
    user_ids = agents.user_id.to_numpy(dtype=np.int64)
    agent_of_user = {int(dataset.users.index_of(int(u))): a for a, u in enumerate(user_ids)}
    rows = np.array([agent_of_user.get(int(u), -1) for u in inter.users[keep]], dtype=np.int64)
    mine = rows >= 0
    recommender = scenario.get("recommender") or {}
    return RunTables(
        run_dir=run_dir, n_agents=len(agents), n_items=len(items), steps=int(run.info.get("steps_completed") or
                                                                             scenario["simulation"]["steps"]),
        retrain_every=max(1, int(recommender.get("retrain_every") or 1)),
        like_rating=float((scenario.get("feedback") or {}).get("like_rating", 4.0)), genres=genres,
        watch_agent=watches.agent_id.to_numpy(dtype=np.int64),
        watch_item=np.array([index[int(i)] for i in watches.item_id], dtype=np.int64),
        watch_step=watches.step.to_numpy(dtype=np.int64), watch_rating=watches.rating.to_numpy(dtype=np.float64),
        watch_p_like=watches.p_like.to_numpy(dtype=np.float64),
        page_agent=np.array(page_agent, dtype=np.int64), page_item=np.array(page_item, dtype=np.int64),
        page_step=np.array(page_step, dtype=np.int64),
        gender=agents["gender"].fillna("").astype(str).to_numpy() if "gender" in agents else np.full(len(agents), ""),
        age=agents["age"].to_numpy(dtype=np.float64) if "age" in agents else np.full(len(agents), np.nan),
        user_ids=user_ids, item_ids=item_ids, popularity=popularity,
        profile_agent=rows[mine], profile_item=to_run[inter.items[keep]][mine])
