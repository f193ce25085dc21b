"""`recagent run FILE --play ID`: the run steps in a background thread while uvicorn serves the
role-play page (web/play.py) and the run's live page; each played turn waits for its person."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from rich.console import Console

from ..errors import UserError
from ..simulation.roleplay import RolePlay
from ..simulation.stopping import RunStopped, SignalsInterrupt, signal_name


def play_and_serve(scenario_path: Path, *, agents: list[int], turn_timeout: float | None, out: Path | None,
                   seed: int | None, steps: int | None, quiet: bool, host: str, port: int, console: Console,
                   token: str | None = None, keep_serving: bool = True):
    """Run a scenario with people playing `agents` (added to the scenario's roleplay block): the page
    is served first, the run steps in a background thread, each played turn waits for its person."""
    import uvicorn

    from ..run import Overrides, assemble
    from ..simulation.runner import run_to_end
    from ..simulation.session import new_run_dir
    from .access import is_loopback
    from .app import LOOPBACK_HOSTS, create_app
    from .serve import check_bind, page_url, start_in_thread

    def play_checks(scenario) -> None:
        spec = scenario.roleplay
        try:
            scenario.roleplay = type(spec).model_validate({**spec.model_dump(),
                                                           "agents": sorted(set(spec.agents) | set(agents)),
                                                           **({"turn_timeout_s": turn_timeout} if turn_timeout else {})})
        except Exception as e:  # pydantic: one line naming the option
            first = e.errors()[0] if hasattr(e, "errors") else {"msg": str(e), "loc": ()}
            raise UserError(f"--play/--turn-timeout: {first['msg']}") from None
        if scenario.simulation.checkpoint_every:  # a resumed run would go on without its people
            raise UserError("field 'simulation.checkpoint_every': a role-play run is not checkpointed (a resumed run "
                            "would have no people in it); leave it out, and replay the run with --replay instead",
                            scenario_path)

    bound: dict = {}

    def bind_check(scenario) -> None:  # the port, before any data is read
        bound["token"] = check_bind(host, port, token, console)

    prepared = assemble(scenario_path, mode="play", overrides=Overrides(seed, steps), out=out,
                        play_checks=play_checks, session_checks=bind_check)  # the played ids: check_run (exit 2)
    scenario, model, required = prepared.scenario, prepared.model, bound["token"]
    run_dir = new_run_dir(scenario, out)  # named now; created by Session.start on the simulation's thread
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    roleplay = RolePlay(model, run_dir.name).attach()
    allowed = LOOPBACK_HOSTS | {host} if is_loopback(host) else None
    app = create_app(run_dir.parent, allowed_hosts=allowed, token=required, warm_explanations=False,
                     play=roleplay)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    web = start_in_thread(server, host, port)
    base = page_url(host, port, required, bool(token)).split("#")[0]
    console.print(f"play: {base.replace(f':{port}/', f':{port}/play', 1)}  (agents {', '.join(map(str, scenario.roleplay.agents))}; "
                  f"{scenario.roleplay.turn_timeout_s:g} s per turn)", highlight=False, soft_wrap=True)
    outcome: dict = {}
    ended = threading.Event()  # waited on, not Thread.join: a join interrupted by Ctrl-C can report the
    # thread as stopped while it still runs (CPython before 3.13), and the process would exit under it

    def simulate():
        # the run folder, its event log (an SQLite connection belongs to the thread that opened it)
        # and its memory store are opened on this thread, which steps the run
        try:
            prepared.out = run_dir
            session = prepared.start()
            outcome["result"] = run_to_end(session, not quiet, console)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread below
            outcome["error"] = e
        finally:
            roleplay.finish()
            ended.set()

    runner = threading.Thread(target=simulate, name="recagent-roleplay", daemon=True)
    runner.start()
    signals = SignalsInterrupt()
    try:
        with signals:
            while not ended.wait(0.5):
                pass
            if "error" in outcome:
                raise outcome["error"]
            result = outcome["result"]
            console.print(f"run folder: [bold]{result.run_dir}[/]")
            if keep_serving:
                console.print("still serving; Ctrl-C to stop")
                while web.is_alive():
                    web.join(0.5)
            return result
    except KeyboardInterrupt:  # the run's thread closes its folder as interrupted when it next waits
        roleplay.stop()
        ended.wait(10)
        if "result" in outcome:  # the run had ended; only the serving after it was stopped
            return outcome["result"]
        signum = signals.signum or signal.SIGINT
        raise RunStopped(signum, f"stopped by {signal_name(signum)}; run.json in {run_dir} says interrupted "
                                 f"(replay it with: recagent run --replay {run_dir})") from None
    finally:
        server.should_exit = True
        web.join(5)
