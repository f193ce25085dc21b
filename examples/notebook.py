"""recagent from Python, as you would use it in a notebook (run it: python examples/notebook.py).

A scenario as a dict, five steps, a look at the world, a recommender switched through the API,
the rest of the run, then events and metrics as pandas DataFrames.
"""

import tempfile
from pathlib import Path

import recagent

scenario = {
    "name": "notebook",
    "seed": 7,
    "dataset": {"kind": "synthetic", "users": 60, "items": 150, "history_length": 15},
    "social": {"graph": "homophily", "degree": 6},
    "recommender": {"name": "popular", "retrain_every": 1},
    "feedback": {"model": "bias"},
    "simulation": {"steps": 10, "activation": {"kind": "pareto", "probability": 0.4}},
}

out = Path(tempfile.mkdtemp()) / "notebook-run"
sim = recagent.Simulation.from_dict(scenario, out=out)
for _ in range(5):
    state = sim.step()
    print(f"step {state.step}: {state.counters.get('active', 0)} active, {state.counters.get('watch', 0)} watches")

state = sim.state
print("agents:", state.n_agents, "| social ties:", state.graph.number_of_edges(), "| recommender:", state.recommender)
busiest = max(range(state.n_agents), key=lambda a: len(state.watches(a)))
print(f"agent {busiest} watched (item, rating):", state.watches(busiest))

sim.set_recommender("mf", {"dim": 8})  # from step 5 on, logged as an intervention event
sim.run()  # the remaining steps; metrics.csv and agent_metrics.csv are written at the end

run = recagent.load_run(sim.run_dir)
events = run.events
print(events.groupby("kind").size().to_string())
watches = events[events.kind == "watch"]
print("mean rating of watches before / after the switch:",
      round(watches[watches.step < 5].rating.mean(), 2), "/", round(watches[watches.step >= 5].rating.mean(), 2))
print(run.metrics[["step", "watches", "mean_genre_entropy", "coverage_consumption"]].to_string(index=False))
print("status:", run.info["status"])
