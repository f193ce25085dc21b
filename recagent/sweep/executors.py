"""Where a sweep's runs execute: a local process pool (default) or Ray.

Both take a module-level function and one argument tuple per call, and report each call as it
finishes through `on_done(index, result, error, retried)`. A call whose worker process dies (killed
for memory, a crashed node) is submitted once more and reported as retried; a second death is an
error. Ctrl-C (KeyboardInterrupt) cancels what has not finished and re-raises.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Protocol

from ..errors import UserError

OnDone = Callable[[int, object, str | None, bool], None]


class Executor(Protocol):
    description: str

    def run(self, fn: Callable, calls: list[tuple], on_done: OnDone) -> None: ...


def _context():
    """forkserver where the platform has it: one clean process imports recagent (and torch) once and
    forks the workers, instead of every spawned worker importing everything again."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["recagent.sweep.worker", "recagent.simulation.runner", "torch"])
        return ctx
    return multiprocessing.get_context("spawn")


class PoolExecutor:
    """Runs calls in `jobs` local worker processes.

    A worker process that dies breaks the whole pool (concurrent.futures cannot tell which call it
    was running), so every call not finished by then goes to a new pool once, reported as retried.
    """

    def __init__(self, jobs: int):
        self.jobs = max(1, jobs)
        self.description = f"local process pool ({self.jobs} processes)"

    def run(self, fn: Callable, calls: list[tuple], on_done: OnDone) -> None:
        pending = list(range(len(calls)))
        retried: set[int] = set()
        while pending:
            lost = self._round(fn, calls, pending, retried, on_done)
            for i in lost:
                if i in retried:
                    on_done(i, None, "its worker process died twice", True)
            pending = [i for i in lost if i not in retried]
            retried.update(pending)

    def _round(self, fn, calls, indices, retried, on_done) -> list[int]:
        """One pool's life; returns the calls lost when a worker process died (the pool breaks)."""
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(indices)), mp_context=_context())
        futures = {pool.submit(fn, *calls[i]): i for i in indices}
        lost: list[int] = []
        try:
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        lost.append(i)
                        continue
                    except Exception as e:  # noqa: BLE001 - the call's own error, reported with its name
                        on_done(i, None, f"{type(e).__name__}: {e}", i in retried)
                        continue
                    on_done(i, result, None, i in retried)
        except KeyboardInterrupt:
            # A terminal's Ctrl-C reaches the workers too (same process group): their runs stop and
            # mark themselves interrupted. Work not started is dropped.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return sorted(lost)


class RayExecutor:
    """Runs each call as a Ray task with its own CPU request.

    With no address a local Ray instance is started on 127.0.0.1 for this sweep and shut down after
    it; with one (`ray://host:10001`, `host:6379`, or `auto`) the driver joins that cluster. If Ray is
    already initialised in this process it is used as it is.
    """

    def __init__(self, address: str | None, jobs: int | None, cpus_per_run: float, env_vars: dict[str, str]):
        from ..extras import require

        require("sweep", "--executor ray")  # before anything is written: one line naming the pip extra
        self.address, self.jobs, self.cpus_per_run, self.env_vars = address, jobs, cpus_per_run, env_vars
        where = f"Ray cluster at {address}" if address else "local Ray instance"
        self.description = f"{where} ({cpus_per_run:g} CPU per run)"

    def check_address(self) -> None:
        """Fail in seconds, before anything is written, when the cluster's address does not answer
        (ray.init itself keeps retrying for minutes)."""
        import socket

        if not self.address or self.address == "auto":
            return
        text = self.address
        default_port = 10001 if text.startswith("ray://") else 6379
        host, _, port = text.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            host, port = text.removeprefix("ray://"), str(default_port)
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise UserError(f"--ray-address {self.address}: nothing answers at {host}:{port} ({e.strerror or e}); "
                            "start the head node with `ray start --head` there, or check the address") from None

    def _connect(self) -> bool:
        """Initialise Ray; True when this call started it (so it shuts it down too)."""
        import ray

        if ray.is_initialized():
            return False
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(address="local", include_dashboard=False, num_cpus=self.jobs or os.cpu_count() or 1,
                         _node_ip_address="127.0.0.1", log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            target = f"--ray-address {self.address}" if self.address else "local Ray instance"
            raise UserError(f"{target}: could not start or join Ray: {e}") from None
        return True

    def run(self, fn: Callable, calls: list[tuple], on_done: OnDone) -> None:
        import ray
        from ray import exceptions as rex

        died = tuple(getattr(rex, name) for name in ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError",
                                                     "LocalRayletDiedError") if hasattr(rex, name))
        started_here = self._connect()
        # max_retries=0: a dead worker's task is resubmitted here, once, so it can be reported
        task = ray.remote(fn).options(num_cpus=self.cpus_per_run, max_retries=0,
                                      runtime_env={"env_vars": dict(self.env_vars)})
        refs = {task.remote(*calls[i]): (i, False) for i in range(len(calls))}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    i, was_retried = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except died as e:
                        if not was_retried:
                            refs[task.remote(*calls[i])] = (i, True)
                        else:
                            on_done(i, None, f"its Ray worker died twice ({type(e).__name__})", True)
                        continue
                    except rex.RayTaskError as e:
                        cause = e.cause if getattr(e, "cause", None) is not None else e
                        on_done(i, None, f"{type(cause).__name__}: {cause}", was_retried)
                        continue
                    on_done(i, result, None, was_retried)
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started_here:
                ray.shutdown()
