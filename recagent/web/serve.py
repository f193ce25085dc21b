"""Starting the web server: `recagent serve [RUNS_DIR]` and `recagent run FILE --serve`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import typer
from rich.console import Console

from ..errors import UserError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def _server(runs_dir: Path, host: str, port: int):
    import uvicorn

    from .app import LOOPBACK_HOSTS, create_app  # here, not at import: the CLI starts without FastAPI

    allowed = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else None
    app = create_app(runs_dir, allowed_hosts=allowed, warm=3)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def check_bind(host: str, port: int, console: Console) -> None:
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, found {port}")
    from .app import LOOPBACK_HOSTS

    if host not in LOOPBACK_HOSTS:
        console.print(f"[bold yellow]warning:[/] serving on {host}: anyone who can reach this machine can read "
                      "these runs and write interviews into them. There is no authentication.", highlight=False)


def url(host: str, port: int, run: str | None = None) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/" + (f"#run={run}" if run else "")


def serve(runs_dir: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, console: Console | None = None) -> None:
    """Serve the run folders under `runs_dir` until interrupted."""
    console = console or Console()
    if not runs_dir.is_dir():
        raise UserError("runs folder not found", runs_dir)
    check_bind(host, port, console)
    server = _server(runs_dir, host, port)
    console.print(f"serving runs in [bold]{runs_dir}[/] at {url(host, port)}  (Ctrl-C to stop)")
    server.run()


def run_and_serve(scenario: Path, *, out: Path | None, seed: int | None, steps: int | None, quiet: bool,
                  host: str, port: int, console: Console, keep_serving: bool = True):
    """Run a scenario while serving its parent folder, so the page shows it live; then keep serving."""
    from ..scenario import load_scenario
    from ..simulation.runner import run_scenario

    spec = load_scenario(scenario)
    parent = out.parent if out is not None else (spec.outputs.dir or Path("runs"))
    parent.mkdir(parents=True, exist_ok=True)
    check_bind(host, port, console)
    server = _server(parent, host, port)
    thread = threading.Thread(target=server.run, name="recagent-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise UserError(f"could not start the web server on {host}:{port} (is the port in use?)")
    console.print(f"live page: {url(host, port)}  (the newest run is shown first)")
    try:
        result = run_scenario(scenario, out=out, seed=seed, steps=steps, progress=not quiet, console=console)
        console.print(f"run folder: [bold]{result.run_dir}[/]")
        console.print(f"page: {url(host, port, result.run_dir.name)}")
        if keep_serving:
            console.print("still serving; Ctrl-C to stop")
            while thread.is_alive():
                thread.join(0.5)
        return result
    except KeyboardInterrupt:
        return None
    finally:
        server.should_exit = True
        thread.join(5)


def serve_command(
    runs_dir: Path = typer.Argument(Path("runs"), help="Folder of run folders (or one run folder)"),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to bind; anything but loopback prints a warning"),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port"),
) -> None:
    """Serve the web page for the runs in RUNS_DIR (watch, replay and question them)."""
    from ..cli import console, fail

    try:
        serve(runs_dir, host, port, console)
    except UserError as e:
        fail(e)
