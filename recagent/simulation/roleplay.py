"""Role-play: people take the place of agents of a running simulation (docs/roleplay.md).

`RolePlay.attach(model)` schedules a hook before the `browse` phase. At each step where a played
agent has a turn (every step, or only when drawn active with `roleplay.every_step: false`), the hook
takes the agent out of the step's `world.active` / `world.acts`, opens a `Turn` (the recommender's
list for it), and applies the commands the person sends from the web page, which reach it through a
thread-safe queue, until the act is done or `roleplay.turn_timeout_s` runs out. A turn that timed
out before the person did anything gives the agent back to the step with the act the simulated
policy drew for it, so the phases act for it (when it was drawn active; else it stays idle). Each
turn ends with a `turn` event: the person's commands, `timed_out`, and the policy's act if any.

Replay (`recagent run --replay RUN_DIR`, `roleplay_replay.py`) feeds the recorded commands instead
of the queue. Waiting for a person never draws from `model.rng`, and the turn's own draws (the
recommender's list) happen whether or not the person answers, so the replay draws exactly what the
live run drew and its event log is byte-identical.

A second hook, before `measure`, emits a `recommender_update` event when the learn phase handed the
recommender new feedback, with how many of those ratings came from people.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError

from ..agents import ACTS
from ..errors import DataError, UserError
from .roleplay_acts import COMMAND, ActError, Turn
from .roleplay_view import panel

SUBMIT_WAIT_S = 300.0  # how long a web request waits for its command (a chat reply may call an LLM)


class NotYourTurn(ActError):
    """A command sent while the played agent has no open turn."""


def check_roleplay(scenario, n_agents: int, where) -> None:
    """Played agents exist (ids 0 to agents - 1): a UserError naming the field otherwise."""
    for agent in scenario.roleplay.agents:
        if agent >= n_agents:
            raise UserError(f"field 'roleplay.agents': agent {agent} does not exist; the run has {n_agents} agents "
                            f"(ids 0 to {n_agents - 1})", where)


@dataclass
class Seat:
    """One played agent: the commands waiting for it and what its page shows."""

    agent: int
    inbox: queue.Queue = field(default_factory=queue.Queue)
    state: dict = field(default_factory=dict)  # replaced whole (never mutated) so readers need no lock
    deadline: float | None = None  # time.monotonic() when the open turn times out
    turn: Turn | None = None
    turns: int = 0
    timeouts: int = 0


class RolePlay:
    """The played agents of one run; `source` None waits for people, else it replays recorded turns
    ({(step, agent): turn event payload})."""

    def __init__(self, model, run_name: str = "", source: dict | None = None):
        self.model, self.run_name, self.source = model, run_name, source
        self.spec = model.scenario.roleplay
        check_roleplay(model.scenario, model.world.n_agents, "scenario")
        self.seats = {a: Seat(a) for a in self.spec.agents}
        self.finished = False
        self.stopping = False  # set by stop(): the waiting turn raises KeyboardInterrupt on the run's thread
        self._pending_before_learn: list = []
        self._human_feedback: set = set()  # (user, item, step) of ratings people gave
        self._lock = threading.Lock()
        for seat in self.seats.values():
            self._publish(seat)

    def attach(self) -> RolePlay:
        self.model.schedule.add(self.take_turns, before="browse", label="roleplay")
        self.model.schedule.add(self._note_pending, before="learn", label="roleplay-learn")
        self.model.schedule.add(self._report_update, before="measure", label="roleplay-update")
        return self

    # --- the web side (any thread) ---------------------------------------------------------------

    def state(self, agent: int) -> dict:
        seat = self._seat(agent)
        state = dict(seat.state)
        if seat.deadline is not None and state.get("turn") is not None:
            state["seconds_left"] = round(max(0.0, seat.deadline - time.monotonic()), 1)
        return state

    def wait_for_turn(self, agent: int, step: int, timeout: float = 60.0) -> dict:
        """Block until `agent`'s turn at `step` is open (for a person scripted from another thread);
        returns its state. TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(agent)
            if state["status"] == "your turn" and state["step"] == step:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {agent}'s turn at step {step} did not open within {timeout:g} s "
                                   f"(status {state['status']!r} at step {state['step']})")
            time.sleep(0.01)

    def submit(self, agent: int, data: dict, wait_s: float = SUBMIT_WAIT_S) -> dict:
        """Hand a command (the page's JSON) to the simulation thread and wait for its result.
        Raises ActError (the command does not fit), NotYourTurn, or UserError (malformed)."""
        seat = self._seat(agent)
        try:
            command = COMMAND.validate_python(data)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "command"
            raise UserError(f"{where}: {err['msg']}") from None
        if self.source is not None:
            raise NotYourTurn("this run is a replay: its acts come from the recorded log")
        if seat.turn is None:
            raise NotYourTurn("it is not your turn; wait until the page says so")
        future: Future = Future()
        seat.inbox.put((command, future))
        deadline = time.monotonic() + wait_s
        while True:  # a command that arrived as the turn closed waits for the next turn, which refuses it
            try:
                return future.result(timeout=0.5)
            except FutureTimeout:
                if future.done():  # the command itself failed with a timeout
                    raise
                if self.finished:  # no next turn will come
                    self._reject_waiting(seat, "the run has finished")
                elif time.monotonic() > deadline:
                    raise TimeoutError("the simulation did not take the command in time") from None

    def _seat(self, agent: int) -> Seat:
        if agent not in self.seats:
            raise NotYourTurn(f"agent {agent} is not played in this run (played: "
                              f"{', '.join(map(str, self.seats)) or 'none'})")
        return self.seats[agent]

    # --- the simulation side (the hook) ------------------------------------------------------------

    def take_turns(self, model) -> None:
        world = model.world
        for agent, seat in self.seats.items():
            where = np.flatnonzero(world.active == agent)
            drawn = int(world.acts[where[0]]) if len(where) else None
            if drawn is None and not self.spec.every_step:
                continue
            if drawn is not None:  # the person acts in its place; the phases leave it alone
                keep = world.active != agent
                world.active, world.acts = world.active[keep], world.acts[keep]
            turn = Turn(model, agent)
            timed_out = self._play(seat, turn) if self.source is None else self._replay(seat, turn)
            turn.close()
            self._note_human_watches(model, turn)
            policy = None
            if timed_out and not turn.acts and drawn is not None:  # the simulated policy acts instead
                at = int(np.searchsorted(world.active, agent))
                world.active = np.insert(world.active, at, agent)
                world.acts = np.insert(world.acts, at, drawn)
                policy = ACTS[drawn]
            model.emit(agent, "turn", payload={"source": "human", "acts": turn.acts, "timed_out": timed_out,
                                               "policy": policy})
            seat.turns += 1
            seat.timeouts += int(timed_out)
            seat.state = {**seat.state, "last_turn": {"step": world.step_index, "timed_out": timed_out,
                                                      "policy": policy, "acts": len(turn.acts)}}

    def _play(self, seat: Seat, turn: Turn) -> bool:
        """Apply the person's commands until the act is done (False) or the time is up (True)."""
        self._reject_waiting(seat, "that turn is over")
        seat.turn, seat.deadline = turn, time.monotonic() + self.spec.turn_timeout_s
        self._publish(seat)
        try:
            while not turn.done:
                if self.stopping:  # Ctrl-C on the main thread: the run's thread stops as an interrupted run
                    raise KeyboardInterrupt
                left = seat.deadline - time.monotonic()
                if left <= 0:
                    return True
                try:
                    command, future = seat.inbox.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                try:
                    result = turn.apply(command)
                except ActError as e:
                    future.set_exception(e)
                except Exception as e:  # noqa: BLE001 - the page hears of it; the run stops with it
                    future.set_exception(e)
                    raise
                else:
                    if turn.done:  # the page must not see "your turn" once the act is done
                        seat.turn, seat.deadline = None, None
                    self._publish(seat)
                    future.set_result(result)
            return False
        finally:
            seat.turn, seat.deadline = None, None
            self._reject_waiting(seat, "that turn is over")
            self._publish(seat)

    def _replay(self, seat: Seat, turn: Turn) -> bool:
        step = self.model.world.step_index
        record = self.source.get((step, seat.agent))
        if record is None:
            raise DataError(f"the recorded run has no turn of agent {seat.agent} at step {step}; it cannot be replayed")
        try:
            for act in record.get("acts", []):
                turn.apply(COMMAND.validate_python(act))
        except (ActError, ValidationError) as e:
            raise DataError(f"the recorded turn of agent {seat.agent} at step {step} does not replay: {e}") from None
        return bool(record.get("timed_out"))

    def _reject_waiting(self, seat: Seat, message: str) -> None:
        while True:
            try:
                _, future = seat.inbox.get_nowait()
            except queue.Empty:
                return
            future.set_exception(NotYourTurn(message))

    def _publish(self, seat: Seat) -> None:
        if self.source is not None:
            return  # nobody watches a replay's seats
        seat.state = panel(self, seat)

    def _note_pending(self, model) -> None:
        self._pending_before_learn = list(model.world.pending_feedback)

    def _report_update(self, model) -> None:
        before = self._pending_before_learn
        if before and not model.world.pending_feedback:  # the learn phase handed them to the recommender
            human = [(u, i) for u, i, _, s in before if (int(u), int(i), int(s)) in self._human_feedback]
            model.emit(None, "recommender_update", payload={
                "ratings": len(before), "human_ratings": len(human),
                "human_items": [int(model.catalog.raw_ids[i]) for _, i in human]})
            self._human_feedback.clear()
        self._pending_before_learn = []

    def _note_human_watches(self, model, turn: Turn) -> None:
        """Remember which ratings of the step the person gave, for the `recommender_update` event."""
        user = int(model.world.users[turn.agent])
        self._human_feedback.update((user, item, model.world.step_index) for item in turn.rated)

    def stop(self) -> None:
        """Ask the run's thread to stop at its next wait for a person (it ends as `interrupted`)."""
        self.stopping = True

    def finish(self) -> None:
        self.finished = True
        for seat in self.seats.values():
            self._reject_waiting(seat, "the run has finished")
            seat.state = {**seat.state, "status": "finished", "turn": None}  # the log may be closed: no new read


def recorded_turns(events_path) -> dict:
    """{(step, agent): payload} of the `turn` events in a run's log (read through recagent.events)."""
    from ..events import EVENT_COLUMNS, EventKind, EventReader, decode_payload

    step, agent, payload = (EVENT_COLUMNS.index(c) for c in ("step", "agent_id", "payload"))
    return {(int(row[step]), int(row[agent])): decode_payload(row[payload])
            for row in EventReader(events_path).events(kinds=[EventKind.TURN])}
