"""A role-play run stepping on a background thread, for a person scripted from the calling thread
(the screenshot tool, tests, notebooks). The Simulation is made on the thread that steps it, since
its SQLite event log belongs to the thread that opened it; `recagent run --play` does the same
around its run folder's session (web/play_serve.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ..api import Simulation
from ..simulation.roleplay import RolePlay


@dataclass
class PlayThread:
    sim: Simulation
    roleplay: RolePlay
    done: threading.Event  # set when the run has ended: finished, failed or stopped

    def stop(self, timeout: float = 30.0) -> None:
        """End the run at its next wait for a person (it ends as `interrupted`)."""
        self.roleplay.stop()
        self.done.wait(timeout)


def start_play_thread(scenario: dict, out: Path, *, ready_timeout: float = 120.0) -> PlayThread:
    """Start `scenario` (with a `roleplay` block) into the run folder `out` on a daemon thread;
    returns once its people can take their turns."""
    made, ready, done = {}, threading.Event(), threading.Event()

    def simulate():
        try:
            made["sim"] = sim = Simulation.from_dict(scenario, out=out)
            made["roleplay"] = roleplay = RolePlay(sim.model, Path(out).name).attach()
            ready.set()
            try:
                sim.run()
            except KeyboardInterrupt:  # stop(): the run's folder is closed as interrupted
                pass
            finally:
                roleplay.finish()
        except BaseException as e:  # noqa: BLE001 - handed to the caller below when the run never started
            made["error"] = e
        finally:
            done.set()

    threading.Thread(target=simulate, name="recagent-roleplay", daemon=True).start()
    while not ready.wait(0.05):
        if done.is_set():
            raise made["error"]
        ready_timeout -= 0.05
        if ready_timeout <= 0:
            raise TimeoutError("the role-play run did not start")
    return PlayThread(made["sim"], made["roleplay"], done)
