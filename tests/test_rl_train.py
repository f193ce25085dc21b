"""Baselines and evaluation: exact metrics for known policies, tiny training runs, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import make_synthetic
from recagent.rl import world_from_dataset
from recagent.rl.engine import EnvConfig
from recagent.rl.evaluate import evaluate_seed, evaluation_users
from recagent.rl.policies import AgentPolicy, RecommenderPolicy, top_available
from recagent.rl.train import ALGOS, load_agent, train_agent

from .test_rl_env import tiny_world


class ParityPolicy:
    """Recommends available items of one parity first (lowest index first)."""

    def __init__(self, parity: int):
        self.parity, self.name = parity, f"parity{parity}"

    def select(self, batch, rows, k):
        items = np.arange(batch.world.n_items)
        scores = np.where(items % 2 == self.parity, 1000.0, 0.0) - items
        return top_available(np.broadcast_to(scores, (len(rows), len(items))), batch.unavailable[rows], k)


@pytest.fixture(scope="module")
def world():
    return world_from_dataset(make_synthetic(40, 80, 12, seed=2), "bias")


def test_evaluation_metrics_are_exact_for_known_policies():
    world = tiny_world()  # users 1-3 have items 0-9 available; even items are liked
    cfg = EnvConfig(horizon=4, patience=3)
    users = np.array([1, 2, 3])
    good = evaluate_seed(world, ParityPolicy(0), cfg, users, seed=0)
    assert good["return_per_episode"] == 4.0 and good["total_reward"] == 12.0
    assert good["episode_length"] == 4.0 and good["like_rate"] == 1.0
    assert good["liking_ratio@10"] == 0.5  # top-10 of 10 available items: 5 even, 5 odd
    bad = evaluate_seed(world, ParityPolicy(1), cfg, users, seed=0)
    assert bad["return_per_episode"] == 0.0 and bad["episode_length"] == 3.0  # left after 3 dislikes
    assert bad["liking_ratio@10"] == 0.5 and bad["invalid_rate"] == 0.0
    # more items than are left: the fourth slate of 3 has only 1 new item -> truncated after 3 steps
    slate = evaluate_seed(world, ParityPolicy(0), EnvConfig(horizon=10, slate_size=3, patience=0), users, seed=0)
    assert slate["episode_length"] == 3.0 and slate["return_per_episode"] == pytest.approx(1 + 2 / 3 + 0)


def test_recommenders_are_evaluated_on_the_same_users_reproducibly(world):
    users = evaluation_users(world, 25)
    assert np.array_equal(users, evaluation_users(world, 25)) and len(set(users.tolist())) == 25
    cfg = EnvConfig(reward="sample", quit_prob=0.05)
    a = evaluate_seed(world, RecommenderPolicy("random", world, seed=1), cfg, users, seed=1)
    b = evaluate_seed(world, RecommenderPolicy("random", world, seed=1), cfg, users, seed=1)
    c = evaluate_seed(world, RecommenderPolicy("random", world, seed=2), cfg, users, seed=2)
    assert a == b and a != c
    pop = evaluate_seed(world, RecommenderPolicy("popular", world), EnvConfig(), users, seed=0)
    assert pop["invalid_rate"] == 0.0 and 0.0 <= pop["liking_ratio@10"] <= 1.0


@pytest.mark.parametrize("algo", ALGOS)
def test_tiny_training_run_saves_an_agent_that_evaluates(world, algo, tmp_path):
    model, meta = train_agent(world, algo, 300, seed=0, n_envs=4, out=tmp_path / f"{algo}-seed0",
                              params={"learning_starts": 50} if algo == "dqn" else None)
    assert meta["timesteps"] == 300 and (tmp_path / f"{algo}-seed0.zip").is_file()
    loaded, meta2 = load_agent(tmp_path / f"{algo}-seed0")
    assert meta2["algo"] == algo
    policy = AgentPolicy(loaded, algo)
    users = evaluation_users(world, 10)
    r1 = evaluate_seed(world, policy, EnvConfig(), users, seed=0)
    r2 = evaluate_seed(world, AgentPolicy(model, algo), EnvConfig(), users, seed=0)
    assert r1 == r2  # the saved agent is the trained one; deterministic evaluation
    assert r1["invalid_rate"] == 0.0  # the deployed policy is masked


def test_cli_table_writes_json_and_markdown(tmp_path):
    runner = CliRunner()
    out = tmp_path / "table"
    result = runner.invoke(app, ["rl", "table", "--algos", "a2c,dqn", "--recommenders", "random,popular",
                                 "--timesteps", "200", "--seeds", "0,1", "--n-envs", "4", "--eval-users", "20",
                                 "--env", "horizon=10", "--feedback", "bias", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "table.json").read_text())
    assert [r["policy"] for r in data["results"]] == ["a2c", "dqn", "random", "popular"]
    assert all(len(r["per_seed"]) == 2 for r in data["results"]) and data["env"]["horizon"] == 10
    assert data["world"]["feedback"] == "bias"
    md = (out / "table.md").read_text()
    assert "| popular |" in md and "liking ratio @10" in md
    # evaluating the saved agents again through `rl eval` gives the same numbers
    result = runner.invoke(app, ["rl", "eval", "--policy", str(out / "agents" / "a2c-seed{seed}"), "--seeds", "0,1",
                                 "--eval-users", "20", "--env", "horizon=10", "--feedback", "bias",
                                 "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "ev" / "results.json").read_text())["results"][0]
    assert again["summary"] == data["results"][0]["summary"]
    # an agent evaluated with observations of another shape is a user error, not a traceback
    result = runner.invoke(app, ["rl", "eval", "--policy", str(out / "agents" / "a2c-seed{seed}"), "--seeds", "0",
                                 "--env", "memory=4", "--feedback", "bias", "--out", str(tmp_path / "ev2")])
    assert result.exit_code == 2 and "trained for observations" in result.output
    assert not (tmp_path / "ev2").exists()


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    runner = CliRunner()
    for args in (["rl", "eval", "--env", "reward=stars"], ["rl", "train", "--algo", "sac", "--timesteps", "10"],
                 ["rl", "eval", "--policy", "nope"], ["rl", "eval", "--seeds", "a,b"]):
        result = runner.invoke(app, args + ["--feedback", "bias", "--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
