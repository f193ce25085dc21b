"""One run of a sweep, as a worker process (local pool) or a Ray task (maybe on another machine) runs it.

The run's scenario travels as YAML text, so the worker needs no access to the driver's files
(dataset paths in it must exist on the worker, as with any run). A local worker writes the run
folder in place; a Ray task writes it in a temporary folder and returns it as a tar.gz archive
that the driver unpacks into the sweep's output folder, so results come back from other machines.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import traceback
from pathlib import Path

from ..errors import UserError


def execute_run(scenario_text: str, run_dir: str | None) -> dict:
    """Run one scenario; returns {"info": run.json dict, "archive": bytes | None} or {"error": text}.

    A failing run is returned as an error rather than raised, so the driver reports it next to the
    others (a UserError as its one line; anything else with its traceback).
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    # One thread per run: parallel runs already fill the CPUs. The variable alone is not enough in a
    # forked pool worker, whose torch was imported (with a thread per core) before the fork.
    threads = os.environ["OMP_NUM_THREADS"]
    torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else 1)
    from rich.console import Console

    from ..errors import UserError
    from ..simulation.runner import run_scenario

    work = Path(tempfile.mkdtemp(prefix="recagent-run-"))
    try:
        scenario_file = work / "scenario.yaml"
        scenario_file.write_text(scenario_text, encoding="utf-8")
        target = Path(run_dir) if run_dir is not None else work / "run"
        try:
            result = run_scenario(scenario_file, out=target, progress=False, console=Console(file=io.StringIO()))
        except UserError as e:
            return {"error": str(e)}
        except Exception as e:  # noqa: BLE001 - reported with the run's name by the driver
            return {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        info = dict(result.info)
        info["host"] = os.uname().nodename  # the driver counts runs per machine (sweep.json)
        archive = None
        if run_dir is None:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
                tar.add(target, arcname=".")
            archive = buffer.getvalue()
        return {"info": info, "archive": archive}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unpack_run(archive: bytes, run_dir: Path) -> None:
    """Write a returned run folder whole: unpack beside it, then rename into place."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = run_dir.parent / f".{run_dir.name}.unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(staging, filter="data")  # "data": no absolute paths, links out or devices
        except (tarfile.TarError, EOFError, OSError) as error:  # a crafted or cut archive: one line, nothing kept
            raise UserError(f"the run folder a worker returned does not unpack ({type(error).__name__}: "
                            f"{str(error)[:200]}); nothing of it was written", run_dir) from None
        shutil.rmtree(run_dir, ignore_errors=True)
        os.rename(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
