"""recagent: simulate people inside a recommender system.

The Python API (imported on first use, so `import recagent` stays cheap):

- `Simulation`: build a run from a scenario (`from_yaml`, `from_dict`, or a `Scenario`), `step()`,
  `run()`, look at `state`, change it (`set_recommender`, `schedule`), `checkpoint()`, `resume()`;
- `load_run(run_dir)`: a run folder as pandas tables (`events`, `metrics`, `agent_metrics`,
  `agents`, `items`, `edges`) and `info`;
- `Scenario`, `load_scenario`: the scenario model and its validating loader;
- `UserError`, `DataError`: the errors a user's input can cause (one line naming file and field).
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "Simulation": "recagent.api",
    "WorldView": "recagent.api",
    "RunData": "recagent.api",
    "load_run": "recagent.api",
    "Scenario": "recagent.scenario",
    "load_scenario": "recagent.scenario_loading",
    "UserError": "recagent.errors",
    "DataError": "recagent.errors",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    """Import the public names lazily (PEP 562): the CLI starts without pandas, torch or Mesa."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'recagent' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
