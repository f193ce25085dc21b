"""`recagent rl train | eval | table`: baselines against the simulated users, results as JSON + markdown.

    recagent rl train --algo ppo --dataset ../shared/data/ml-100k --timesteps 30000 --seeds 0,1,2 --out runs/rl
    recagent rl eval --policy random,popular,mf,runs/rl/ppo-seed{seed} --dataset ... --seeds 0,1,2 --out runs/rl/eval
    recagent rl table --dataset ../shared/data/ml-100k --timesteps 30000 --out runs/rl/table

`table` trains PPO, TRPO, A2C and DQN for every seed and evaluates them with random, popular and
MF on the same evaluation users and seeds: one command, one table.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Optional

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..cli_args import int_list
from ..errors import UserError

rl_app = typer.Typer(add_completion=False, no_args_is_help=True,
                     help="Train and evaluate RL recommenders against the simulated users.")
console = Console()

DATASET = typer.Option("synthetic", "--dataset", help="'synthetic' or a MovieLens-100K folder (u.data, u.item)")
FEEDBACK = typer.Option(None, "--feedback", help="Feedback model (registry name); default: ensemble if installed, else bias")
ENV = typer.Option([], "--env", help="Environment option KEY=VALUE (repeatable), e.g. --env horizon=30")
SEEDS = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds")
EVAL_USERS = typer.Option(200, "--eval-users", help="Evaluation users (a fixed sample; 0 = all users)")


def parse_pairs(pairs: list[str], where: str) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"expected KEY=VALUE, found {pair!r}", where)
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def make_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def prepare(dataset: str, feedback: Optional[str], env: list[str], feedback_param: list[str]):
    from ..extras import require

    require("rl", "recagent rl")
    from .engine import EnvConfig
    from .world import load_world

    env_options = parse_pairs(env, "--env")
    config = EnvConfig.from_kwargs(env_options)
    params = parse_pairs(feedback_param, "--feedback-param")
    start = time.perf_counter()
    with console.status(f"fitting the {feedback or 'default'} feedback model on {dataset}"):
        world = load_world(dataset, feedback, params)
    fit_s = time.perf_counter() - start
    console.print(f"world: {world.name}, {world.n_users} users x {world.n_items} items, feedback "
                  f"[bold]{world.feedback_name}[/] (fitted in {fit_s:.1f}s)")
    spec = {"dataset": str(dataset), "name": world.name, "feedback": world.feedback_name, "feedback_params": params,
            "fit_s": round(fit_s, 2)}
    return world, env_options, config, spec


def train_many(world, algos, seeds, timesteps, env_options, n_envs, out: Path, spec) -> list[dict]:
    from .train import algo_class, train_agent

    for algo in algos:
        algo_class(algo)  # unknown names fail before any training
    metas = []
    with make_progress() as progress:
        for algo in algos:
            for seed in seeds:
                task = progress.add_task(f"train {algo} seed {seed}", total=timesteps)
                _, meta = train_agent(world, algo, timesteps, seed, env_options, n_envs, out=out / f"{algo}-seed{seed}",
                                      on_progress=lambda n, t=task: progress.update(t, completed=min(n, timesteps)),
                                      world_spec=spec)
                progress.update(task, completed=timesteps)
                metas.append(meta)
    return metas


def evaluate_many(world, policies: list[str], seeds, config, users, spec, title: str) -> tuple[list[dict], str]:
    from .evaluate import evaluate_seed, markdown_table, summarise
    from .policies import AgentPolicy, RecommenderPolicy

    rows = []
    with make_progress() as progress:
        task = progress.add_task("evaluate", total=len(policies) * len(seeds))
        for name in policies:
            per_seed = []
            for seed in seeds:
                progress.update(task, description=f"evaluate {Path(name).name} seed {seed}")
                if "{seed}" in name or name.endswith(".zip") or "/" in name:
                    path = name.format(seed=seed)
                    policy = AgentPolicy.load(path)
                    policy.check(world, config, path)
                    label = policy.name
                else:
                    policy = RecommenderPolicy(name, world, seed=seed)
                    label = name
                start = time.perf_counter()
                result = evaluate_seed(world, policy, config, users, seed)
                result["seed"], result["eval_s"] = seed, round(time.perf_counter() - start, 2)
                per_seed.append(result)
                progress.advance(task)
            rows.append({"policy": label, "source": name, "per_seed": per_seed, "summary": summarise(per_seed)})
    md = markdown_table(rows, title)
    return rows, md


def write_results(out: Path, stem: str, payload: dict, md: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(out / f"{stem}.json")
    (out / f"{stem}.md").write_text(md)


def describe(spec, config, users, seeds, extra: str = "") -> str:
    return (f"{spec['name']}, feedback model `{spec['feedback']}`, reward `{config.reward}`, horizon {config.horizon}, "
            f"patience {config.patience}, {len(users)} evaluation users, seeds {','.join(map(str, seeds))}{extra}")


@rl_app.command()
def train(
    algo: str = typer.Option("ppo", "--algo", help="ppo, trpo, a2c or dqn (comma-separated for several)"),
    dataset: str = DATASET,
    feedback: Optional[str] = FEEDBACK,
    feedback_param: list[str] = typer.Option([], "--feedback-param", help="Feedback model param KEY=VALUE"),
    env: list[str] = ENV,
    timesteps: int = typer.Option(30_000, "--timesteps", help="Environment steps per agent"),
    seeds: str = SEEDS,
    n_envs: int = typer.Option(16, "--n-envs", help="Users stepped together while training"),
    out: Path = typer.Option(Path("runs/rl"), "--out", help="Folder for <algo>-seed<N>.zip/.json"),
) -> None:
    """Train RL baselines against the simulated users."""
    seed_list = int_list(seeds, "--seeds")
    world, env_options, config, spec = prepare(dataset, feedback, env, feedback_param)
    metas = train_many(world, [a.strip() for a in algo.split(",")], seed_list, timesteps, env_options, n_envs,
                       out, spec)
    for m in metas:
        console.print(f"{m['algo']} seed {m['seed']}: {m['timesteps']} steps in {m['wall_s']}s -> "
                      f"{out / (m['algo'] + '-seed' + str(m['seed']))}.zip")


@rl_app.command("eval")
def evaluate(
    policy: str = typer.Option("random,popular", "--policy",
                               help="Comma-separated recommender names and/or trained agents (path, may hold {seed})"),
    dataset: str = DATASET,
    feedback: Optional[str] = FEEDBACK,
    feedback_param: list[str] = typer.Option([], "--feedback-param", help="Feedback model param KEY=VALUE"),
    env: list[str] = ENV,
    seeds: str = SEEDS,
    eval_users: int = EVAL_USERS,
    out: Path = typer.Option(Path("runs/rl/eval"), "--out", help="Folder for results.json and results.md"),
) -> None:
    """Evaluate recommenders and trained agents: reward per episode, total reward, liking ratio@10."""
    from .evaluate import evaluation_users

    seed_list = int_list(seeds, "--seeds")
    world, env_options, config, spec = prepare(dataset, feedback, env, feedback_param)
    users = evaluation_users(world, eval_users or None)
    rows, md = evaluate_many(world, [p.strip() for p in policy.split(",") if p.strip()], seed_list, config,
                             users, spec, describe(spec, config, users, seed_list))
    write_results(out, "results", {"world": spec, "env": config.to_dict(), "eval_users": users.tolist(),
                                   "seeds": seed_list, "results": rows}, md)
    typer.echo(md)
    console.print(f"results: {out / 'results.json'}, {out / 'results.md'}")


@rl_app.command()
def table(
    dataset: str = DATASET,
    feedback: Optional[str] = FEEDBACK,
    feedback_param: list[str] = typer.Option([], "--feedback-param", help="Feedback model param KEY=VALUE"),
    env: list[str] = ENV,
    algos: str = typer.Option("ppo,trpo,a2c,dqn", "--algos", help="RL algorithms to train"),
    recommenders: str = typer.Option("random,popular,mf", "--recommenders", help="recagent recommenders to compare"),
    timesteps: int = typer.Option(30_000, "--timesteps", help="Training steps per agent and seed"),
    seeds: str = SEEDS,
    n_envs: int = typer.Option(16, "--n-envs", help="Users stepped together while training"),
    eval_users: int = EVAL_USERS,
    out: Path = typer.Option(Path("runs/rl/table"), "--out", help="Folder for agents/, table.json, table.md"),
) -> None:
    """Train the RL baselines and evaluate them with classical recommenders in one table."""
    from .evaluate import evaluation_users

    seed_list = int_list(seeds, "--seeds")
    algo_list = [a.strip() for a in algos.split(",") if a.strip()]
    world, env_options, config, spec = prepare(dataset, feedback, env, feedback_param)
    users = evaluation_users(world, eval_users or None)
    start = time.perf_counter()
    metas = train_many(world, algo_list, seed_list, timesteps, env_options, n_envs, out / "agents", spec)
    train_s = time.perf_counter() - start
    policies = [str(out / "agents" / f"{a}-seed{{seed}}") for a in algo_list]
    policies += [r.strip() for r in recommenders.split(",") if r.strip()]
    extra = f"; RL budget {timesteps:,} steps per agent and seed ({n_envs} users in parallel)"
    rows, md = evaluate_many(world, policies, seed_list, config, users, spec,
                             describe(spec, config, users, seed_list, extra))
    md += "\nTraining wall time per agent (s): " + ", ".join(
        f"{m['algo']}/{m['seed']} {m['wall_s']}" for m in metas) + f" (total {train_s:.0f}s, 1 thread).\n"
    write_results(out, "table", {"world": spec, "env": config.to_dict(), "eval_users": users.tolist(),
                                 "seeds": seed_list, "timesteps": timesteps, "n_envs": n_envs, "training": metas,
                                 "machine": platform.platform(), "results": rows}, md)
    typer.echo(md)
    console.print(f"table: {out / 'table.md'}, {out / 'table.json'}")
