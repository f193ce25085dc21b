"""The `recagent` command line: run, validate, prepare, eval, compare, serve, interview.

Errors a user can cause (`UserError`) are printed as one line and exit with code 2; everything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from .console import console, err_console, fail  # noqa: F401 - console and err_console are used by the commands
from .errors import UserError
from .extras import require


class Commands(TyperGroup):
    """The one handler around every command (sub-commands included): a UserError that reaches it is
    printed as one line and the process exits with code 2 (recagent.console.fail)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as error:
            fail(error)


app = typer.Typer(cls=Commands, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Simulate people inside a recommender system.")


@app.command()
def validate(scenario: Path = typer.Argument(..., help="Scenario YAML file"),
             check_llm: bool = typer.Option(False, "--check-llm", help="Also ask each LLM endpoint for its models "
                                            "(GET {base_url}/models), as a run does before its first step")) -> None:
    """Check a scenario as a dry run: dataset, components, interventions, output folder, memory."""
    from .preflight import report_lines  # recagent/preflight.py (issue 13)
    from .run import assemble

    endpoints: list = []

    def ask_endpoints(spec) -> None:  # recagent/llm/preflight.py: a dead, unauthorised or wrong endpoint
        from .llm.preflight import check_endpoints

        endpoints.extend(check_endpoints(spec.llm))  # first: one request each, cheaper than the dry run

    result = assemble(scenario, mode="dry-run", session_checks=ask_endpoints if check_llm else None)
    spec = result.scenario
    for line in report_lines(result, scenario):
        console.print(line, highlight=False)
    if check_llm:
        for endpoint in endpoints:
            console.print(f"[green]ok[/] LLM endpoint {endpoint.describe(spec.llm.model)}", highlight=False)
        if not endpoints:
            console.print(f"[green]ok[/] no LLM endpoint to check (provider {spec.llm.provider})", highlight=False)


@app.command()
def run(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML file (left out with --resume)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: outputs.dir/<name>-<time>)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the scenario's seed"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override simulation.steps"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    serve: bool = typer.Option(False, "--serve", help="Serve the web page while it runs (live), then keep serving"),
    host: str = typer.Option("127.0.0.1", "--host", help="With --serve: address to bind (beyond loopback a token is required)"),
    port: int = typer.Option(8000, "--port", help="With --serve: port"),
    token: Optional[str] = typer.Option(None, "--token", envvar="RECAGENT_WEB_TOKEN", show_envvar=True,
                                        help="With --serve: access token to require (generated beyond loopback)"),
    allow_degraded: bool = typer.Option(False, "--allow-degraded", help="Exit 0 even when more LLM acts fell back to "
                                        "offline text than llm.max_fallback_share allows (otherwise exit 3)"),
    report: bool = typer.Option(False, "--report", help="Also write the run's per-step plots and report.md"),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Write a checkpoint every N steps "
                                                   "(and after the last), so --resume can continue the run; default "
                                                   "simulation.checkpoint_every, else 10; 0: none"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder from its last "
                                          "checkpoint (no SCENARIO; --steps may raise the total)"),
    play: Optional[list[int]] = typer.Option(None, "--play", help="Play this agent id yourself in the web page "
                                             "(repeat for several people; see docs/roleplay.md)"),
    turn_timeout: Optional[float] = typer.Option(None, "--turn-timeout", help="With --play: seconds per turn before "
                                                 "the simulated policy acts instead (default roleplay.turn_timeout_s, 120)"),
    replay: Optional[Path] = typer.Option(None, "--replay", help="Run a role-play run again with the people's acts "
                                          "read from its event log (no SCENARIO; --out names the new folder)"),
) -> None:
    """Run a scenario and write its run folder (exit 2: a user error; exit 3: a degraded LLM run;
    143 / 130: stopped by SIGTERM / Ctrl-C after the step in progress, checkpointed where on)."""
    from .simulation.stopping import RunStopped

    try:
        _run(scenario, out, seed, steps, quiet, serve, host, port, token, allow_degraded, report, checkpoint_every,
             resume, play, turn_timeout, replay)
    except RunStopped as stopped:
        err_console.print(f"[bold yellow]interrupted:[/] {escape(stopped.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(stopped.exit_code) from None


def _run(scenario, out, seed, steps, quiet, serve, host, port, token, allow_degraded, report, checkpoint_every,
         resume, play, turn_timeout, replay) -> None:
    from .simulation.runner import resume_run, run_scenario

    if replay is not None:  # recagent/simulation/roleplay_replay.py (issue 16)
        if scenario is not None or resume is not None or serve or play or seed is not None or steps is not None:
            raise UserError("--replay runs the recorded run's own scenario; SCENARIO, --resume, --serve, --play, "
                            "--seed and --steps do not apply")
        from .simulation.roleplay_replay import replay_run

        result = replay_run(replay, out=out, progress=not quiet, console=console)
        console.print(f"run folder: [bold]{result.run_dir}[/]")
        return
    if (scenario is None) == (resume is None):
        raise UserError("give a scenario file to run, or --resume RUN_DIR to continue a run (not both)")
    if turn_timeout is not None and (scenario is None or not (play or _plays(scenario))):
        raise UserError("--turn-timeout applies with --play AGENT_ID")
    if resume is not None and (serve or seed is not None or out is not None or checkpoint_every is not None or play):
        raise UserError("--resume continues a run with its own scenario, folder and checkpoints; "
                        "--serve, --seed, --out, --checkpoint-every and --play do not apply")
    if resume is not None:
        result = resume_run(resume, steps=steps, progress=not quiet, console=console)
    elif play or _plays(scenario):  # recagent/web/play.py (issue 16): people play agents in the page
        if checkpoint_every is not None:
            raise UserError("--checkpoint-every does not apply with --play (a resumed run has no people in it)")
        require("web", "--play")
        from .web.play_serve import play_and_serve

        result = play_and_serve(scenario, agents=list(play or []), turn_timeout=turn_timeout, out=out, seed=seed,
                                steps=steps, quiet=quiet, host=host, port=port, console=console, token=token)
        if result is not None:
            exit_if_degraded(result.info, allow_degraded)
        return
    elif serve:  # recagent/web (issue 6)
        require("web", "--serve")
        from .web.serve import run_and_serve

        result = run_and_serve(scenario, out=out, seed=seed, steps=steps, quiet=quiet, host=host, port=port,
                               console=console, token=token)
        if result is not None:  # None: stopped with Ctrl-C before the run finished
            exit_if_degraded(result.info, allow_degraded)
        return
    else:
        result = run_scenario(scenario, out=out, seed=seed, steps=steps, progress=not quiet, console=console,
                              checkpoint_every=checkpoint_every, default_checkpoints=True)
    console.print(f"run folder: [bold]{result.run_dir}[/]")
    if report:  # recagent/sweep/run_report.py (issue 15)
        from .sweep.run_report import write_run_report

        console.print(f"report: [bold]{write_run_report(result.run_dir)}[/]")
    exit_if_degraded(result.info, allow_degraded)


def _plays(scenario: Path) -> bool:
    """Whether the scenario file has people play agents (a roleplay block with agents)."""
    from .scenario_loading import load_scenario

    return bool(load_scenario(scenario).roleplay.agents)


def exit_if_degraded(info: dict, allow_degraded: bool) -> None:
    """Exit 3 when too many LLM acts fell back to offline text (recagent/llm/health.py)."""
    if info.get("status") == "degraded" and not allow_degraded:
        err_console.print(f"[bold yellow]degraded:[/] {info['warning']} (exit 3; --allow-degraded accepts it)",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(3)


# Commands contributed by other packages of recagent are mounted below.

from .compare.cli import compare as _compare  # noqa: E402 - recagent compare (issue 5)

app.command("compare")(_compare)

from .llm.interview import interview_command as _interview  # noqa: E402 - recagent interview (issue 4)

app.command("interview")(_interview)

from .rl.cli import rl_app as _rl_app  # noqa: E402 - recagent rl train|eval|table (issue 7)

app.add_typer(_rl_app, name="rl")

from .web.serve import serve_command as _serve  # noqa: E402 - recagent serve (issue 6)

app.command("serve")(_serve)

from .eval.cli import eval_app as _eval_app  # noqa: E402 - eval feedback, prepare (issue 3)
from .eval.cli import prepare as _prepare

app.add_typer(_eval_app, name="eval")
app.command("prepare")(_prepare)

from .calibrate import calibrate_app as _calibrate_app  # noqa: E402 - recagent calibrate behaviour (issue 12)

app.add_typer(_calibrate_app, name="calibrate")

from .sweep.cli import report as _report  # noqa: E402 - recagent sweep, report (issue 15)
from .sweep.cli import sweep as _sweep

app.command("sweep")(_sweep)
app.command("report")(_report)

from .findings.cli import findings as _findings  # noqa: E402 - recagent findings (issue 27)

app.command("findings")(_findings)

from .data.cli import data_app as _data_app  # noqa: E402 - recagent data fetch (issue 28)

app.add_typer(_data_app, name="data")


def main() -> None:  # pragma: no cover - entry point used by `python -m recagent`
    sys.exit(app())
