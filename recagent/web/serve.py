"""Starting the web server: `recagent serve [RUNS_DIR]` and `recagent run FILE --serve`."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..errors import UserError
from .access import TOKEN_ENV, is_loopback, token_for

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def _server(runs_dir: Path, host: str, port: int, token: str | None, warm_explanations: bool = True, *,
            llm=None, trusted_runs: frozenset[str] = frozenset()):
    import uvicorn

    from .app import LOOPBACK_HOSTS, create_app  # here, not at import: the CLI starts without FastAPI

    allowed = LOOPBACK_HOSTS | {host} if is_loopback(host) else None
    app = create_app(runs_dir, allowed_hosts=allowed, warm=3, token=token, warm_explanations=warm_explanations,
                     llm=llm, trusted_runs=trusted_runs)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def check_bind(host: str, port: int, token: str | None, console: Console) -> str | None:
    """Check the address and settle the access token (see access.py); returns the token to require."""
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, found {port}")
    token, generated = token_for(host, token)
    if token is not None and not is_loopback(host):
        console.print(f"serving beyond loopback on {host}: every request needs the access token"
                      + (" (generated for this session)" if generated else "")
                      + ". Plain HTTP: on an untrusted network put TLS in front (see docs/web.md).",
                      highlight=False, soft_wrap=True)
    return token


def url(host: str, port: int, run: str | None = None, token: str | None = None) -> str:
    """The address to open; for a wildcard bind (0.0.0.0, ::) this machine's name, which other
    machines can reach, where a browser would refuse the wildcard itself."""
    if host in ("0.0.0.0", "::", "[::]"):
        host = socket.gethostname() or host
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "") + (f"#run={run}" if run else "")


def page_url(host: str, port: int, token: str | None, given: bool, run: str | None = None) -> str:
    """The address to open: with a generated token spelled out (the only place it is ever shown);
    a token the user gave is theirs to paste, not to echo into logs."""
    if token is None:
        return url(host, port, run)
    if given:
        return url(host, port, run, "<your token>") + f"  (token from --token or ${TOKEN_ENV})"
    return url(host, port, run, token)


def serve(runs_dir: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, console: Console | None = None,
          token: str | None = None, llm=None, trusted_runs: frozenset[str] = frozenset()) -> None:
    """Serve the run folders under `runs_dir` until interrupted; `llm` is the server's own language
    endpoint (an LLMSpec; None: offline), `trusted_runs` the runs whose folder's endpoint may be used."""
    console = console or Console()
    if not runs_dir.is_dir():
        raise UserError("runs folder not found", runs_dir)
    required = check_bind(host, port, token, console)
    server = _server(runs_dir, host, port, required, llm=llm, trusted_runs=frozenset(trusted_runs))
    console.print(f"serving runs in [bold]{runs_dir}[/] at {page_url(host, port, required, bool(token))}  "
                  "(Ctrl-C to stop)", highlight=False, soft_wrap=True)
    from .studies import found_words

    console.print(found_words(runs_dir.resolve()), highlight=False, soft_wrap=True)  # an empty list says why
    server.run()


def start_in_thread(server, host: str, port: int) -> threading.Thread:
    """Start a uvicorn server on a daemon thread and wait (up to 10 s) until it listens."""
    thread = threading.Thread(target=server.run, name="recagent-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise UserError(f"could not start the web server on {host}:{port} (is the port in use?)")
    return thread


def run_and_serve(scenario: Path, *, out: Path | None, seed: int | None, steps: int | None, quiet: bool,
                  host: str, port: int, console: Console, keep_serving: bool = True, token: str | None = None):
    """Run a scenario while serving its parent folder, so the page shows it live; then keep serving."""
    from ..scenario_loading import load_scenario
    from ..simulation.runner import run_scenario

    spec = load_scenario(scenario)
    parent = out.parent if out is not None else (spec.outputs.dir or Path("runs"))
    required = check_bind(host, port, token, console)
    parent.mkdir(parents=True, exist_ok=True)
    # the run needs the cores; the scenario the person runs names the endpoint the page's interviews use
    server = _server(parent, host, port, required, warm_explanations=False, llm=spec.llm)
    thread = start_in_thread(server, host, port)
    console.print(f"live page: {page_url(host, port, required, bool(token))}  (the newest run is shown first)",
                  highlight=False, soft_wrap=True)
    result = None
    try:
        result = run_scenario(scenario, out=out, seed=seed, steps=steps, progress=not quiet, console=console)
        console.print(f"run folder: [bold]{result.run_dir}[/]")
        console.print(f"page: {page_url(host, port, required, bool(token), result.run_dir.name)}",
                      highlight=False, soft_wrap=True)
        if keep_serving:
            console.print("still serving; Ctrl-C to stop")
            while thread.is_alive():
                thread.join(0.5)
        return result
    except KeyboardInterrupt:  # the run's result (None if it had not finished), so the CLI can still exit 3
        return result
    finally:
        server.should_exit = True
        thread.join(5)


def serve_command(
    runs_dir: Path = typer.Argument(Path("runs"), help="Folder of run folders (or one run folder)"),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to bind; beyond loopback an access token is required"),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port"),
    token: Optional[str] = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True,
                                        help="Access token to require (16+ URL-safe characters); generated and "
                                             "printed when binding beyond loopback without one"),
    llm_url: Optional[str] = typer.Option(None, "--llm-url", help="OpenAI-compatible endpoint the page's interviews use "
                                                                   "(default: offline answers)"),
    llm_model: str = typer.Option("gpt-4o-mini", "--llm-model", help="With --llm-url: the model name"),
    llm_key_env: Optional[str] = typer.Option(None, "--llm-key-env", help="With --llm-url: the environment variable "
                                                                           "holding its API key"),
    trust_run_llm: list[str] = typer.Option([], "--trust-run-llm", help="A run (its name in the list) whose own "
                                            "folder's llm endpoint may receive your API key; repeatable"),
) -> None:
    """Serve the web page for the runs in RUNS_DIR (watch, replay and question them)."""
    from ..extras import require

    require("web", "recagent serve")
    from ..console import console
    from ..llm.interview import endpoint_spec

    serve(runs_dir, host, port, console, token, llm=endpoint_spec(llm_url, llm_model, llm_key_env, "--llm-url"),
          trusted_runs=frozenset(trust_run_llm))
