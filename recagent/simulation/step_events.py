"""The events of the step in progress, in columns, and the typed records the metrics read.

The vectorised phases hand over whole batches (`add_many`: agent, item and target arrays and the
payloads already encoded as JSON text, built in bulk); `model.emit` adds one event at a time
(`add`). Both keep the order in which they were added. The record phase turns the lot into rows
for SQLite in one pass (`rows`); iterating gives `Event` objects, for code that looks at a few.

Beside the events, the step keeps typed records of what the metrics need (pages shown, watches,
hearings) as arrays, so the metrics tracker never parses payloads: the batched phases fill them
directly, `add` fills them from the payload of a single page, watch or hear event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import repeat

from ..metrics.records import Records
from .events import Event, encode_payload


@dataclass
class Chunk:
    """Events in columns (Python lists, ready for executemany); None where a column has no value."""

    step: int
    sim_time: str
    agents: list
    kinds: list
    items: list  # dataset item ids
    targets: list
    payloads: list  # JSON text (batches) or dicts (single events)


class StepEvents:
    """The step's events (see the module docstring)."""

    def __init__(self):
        self.chunks: list[Chunk] = []
        self.records = Records()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _open(self, step: int, sim_time: str) -> Chunk:
        last = self.chunks[-1] if self.chunks else None
        if last is None or last.step != step or last.sim_time != sim_time:
            last = Chunk(step, sim_time, [], [], [], [], [])
            self.chunks.append(last)
        return last

    def add(self, step: int, sim_time: str, agent: int | None, kind: str, raw_item: int | None,
            target: int | None, payload: dict | None) -> None:
        chunk = self._open(step, sim_time)
        chunk.agents.append(agent)
        chunk.kinds.append(kind)
        chunk.items.append(raw_item)
        chunk.targets.append(target)
        chunk.payloads.append(payload)
        self._n += 1

    def add_many(self, step: int, sim_time: str, agents: list, kinds: list, raw_items: list, targets: list,
                 payloads: list[str]) -> None:
        """Append a batch (lists of equal length; payloads encoded with the same rules as `encode_payload`)."""
        chunk = self._open(step, sim_time)
        chunk.agents += agents
        chunk.kinds += kinds
        chunk.items += raw_items
        chunk.targets += targets
        chunk.payloads += payloads
        self._n += len(agents)

    def rows(self) -> list[tuple]:
        """(step, sim_time, agent_id, kind, item_id, target_agent_id, payload) tuples in order."""
        rows = []
        for c in self.chunks:
            payloads = [p if type(p) is str else encode_payload(p) for p in c.payloads]
            rows += zip(repeat(c.step), repeat(c.sim_time), c.agents, c.kinds, c.items, c.targets, payloads)
        return rows

    def __iter__(self):
        for c in self.chunks:
            for agent, kind, item, target, payload in zip(c.agents, c.kinds, c.items, c.targets, c.payloads):
                yield Event(c.step, c.sim_time, agent, kind, item, target,
                            json.loads(payload) if type(payload) is str else payload)
