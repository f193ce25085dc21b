"""Word of mouth: every hearing of the run in columns, with vectorised look-ups.

A hearing is one row (listener, item, speaker, step, sentiment, closeness, via), in the order
they happened. The step asks, for whole grids of (agent, item) cells at once, how much pressure
each agent heard about each item (closeness-weighted sentiment: liked +1, neutral +0.3, disliked
-1), who told it first, and which items each agent wants to watch. At a million agents a dict of
`Hearing` objects per agent cost hundreds of bytes per hearing and a Python call per cell; here
a hearing is ~30 bytes and a look-up is a binary search over sorted (listener, item) keys.

The per-(listener, item) aggregates are rebuilt lazily after new hearings (np.unique once per
step in practice: hearings arrive in the social phase, look-ups happen in the next step's phases).
`UserAgent.heard` reads one agent's rows back as `Hearing` objects for per-person code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENTIMENTS = ("liked", "neutral", "disliked")
SENTIMENT_WEIGHT = {"liked": 1.0, "neutral": 0.3, "disliked": -1.0}
_WEIGHTS = np.array([SENTIMENT_WEIGHT[s] for s in SENTIMENTS])
VIAS = ("chat", "post")
_COLUMNS = (("listener", np.int64), ("item", np.int64), ("speaker", np.int64), ("step", np.int64),
            ("sentiment", np.int8), ("via", np.int8), ("closeness", np.float64))


@dataclass
class Hearing:
    item: int
    source: int  # agent id of the speaker
    step: int
    sentiment: str
    closeness: float
    via: str  # "chat" or "post" (or another channel a caller names)


@dataclass
class Heard:
    """Per (listener, item) aggregates, keys sorted: listener * n_items + item."""

    keys: np.ndarray
    pressure: np.ndarray  # signed closeness-weighted sentiment
    first_speaker: np.ndarray  # speaker of the earliest hearing
    last_step: np.ndarray  # step of the latest hearing


class WordOfMouth:
    """Every hearing of a run as growable columns; see the module docstring."""

    def __init__(self, n_items: int, capacity: int = 1024):
        self.n_items = n_items
        self.vias = list(VIAS)
        self.n = 0
        self._cols = {name: np.zeros(capacity, dtype=dtype) for name, dtype in _COLUMNS}
        self._heard: Heard | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cols"] = {k: v[:self.n].copy() for k, v in self._cols.items()}  # a checkpoint saves the rows only
        state["_heard"] = None
        return state

    def column(self, name: str) -> np.ndarray:
        return self._cols[name][:self.n]

    def via_code(self, via: str) -> int:
        if via not in self.vias:
            self.vias.append(via)
        return self.vias.index(via)

    # --- writes ---------------------------------------------------------------------------------

    def add(self, listeners, items, speakers, step: int, sentiments, closeness, via: str) -> None:
        """Append hearings (arrays of equal length; `sentiments` as codes into SENTIMENTS)."""
        listeners = np.asarray(listeners, dtype=np.int64).reshape(-1)
        k = len(listeners)
        if k == 0:
            return
        end = self.n + k
        if end > len(self._cols["listener"]):
            size = max(end, 2 * len(self._cols["listener"]))
            for name, col in self._cols.items():
                grown = np.zeros(size, dtype=col.dtype)
                grown[:self.n] = col[:self.n]
                self._cols[name] = grown
        values = {"listener": listeners, "item": items, "speaker": speakers, "step": step, "sentiment": sentiments,
                  "via": self.via_code(via), "closeness": closeness}
        for name, value in values.items():
            self._cols[name][self.n:end] = value
        self.n = end
        self._heard = None

    def hear(self, listener: int, hearing: Hearing) -> None:
        self.add([listener], [hearing.item], [hearing.source], hearing.step, [SENTIMENTS.index(hearing.sentiment)],
                 [hearing.closeness], hearing.via)

    # --- reads ----------------------------------------------------------------------------------

    @property
    def heard(self) -> Heard:
        if self._heard is None:
            keys = self.column("listener") * self.n_items + self.column("item")
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            weight = _WEIGHTS[self.column("sentiment")] * self.column("closeness")
            last_step = np.zeros(len(uniq), dtype=np.int64)
            np.maximum.at(last_step, inverse, self.column("step"))
            self._heard = Heard(uniq, np.bincount(inverse, weight, len(uniq)), self.column("speaker")[first],
                                last_step)
        return self._heard

    def _find(self, agents, items) -> tuple[np.ndarray, np.ndarray]:
        """(position in `heard`, found) for each (agents[k], items[k]) cell (any matching shapes)."""
        agents, items = np.broadcast_arrays(np.asarray(agents, dtype=np.int64), np.asarray(items, dtype=np.int64))
        heard = self.heard
        if len(heard.keys) == 0:
            return np.zeros(agents.shape, dtype=np.int64), np.zeros(agents.shape, dtype=bool)
        keys = agents * self.n_items + items
        pos = np.minimum(np.searchsorted(heard.keys, keys), len(heard.keys) - 1)
        return pos, (heard.keys[pos] == keys) & (items >= 0)

    def pressure(self, agents, items) -> np.ndarray:
        """Heard pressure h of each (agent, item) cell; 0 where nothing was heard (items -1 included)."""
        pos, found = self._find(agents, items)
        return np.where(found, self.heard.pressure[pos] if len(self.heard.keys) else 0.0, 0.0)

    def first_source(self, agents, items) -> np.ndarray:
        """Speaker of the first hearing of each cell, -1 where nothing was heard."""
        pos, found = self._find(agents, items)
        return np.where(found, self.heard.first_speaker[pos] if len(self.heard.keys) else -1, -1)

    def wanted(self, agents) -> tuple[np.ndarray, np.ndarray]:
        """Items heard of with positive pressure by each of `agents`, strongest first (ties: latest
        heard, then lowest item): (row into `agents`, item), rows ascending."""
        agents = np.asarray(agents, dtype=np.int64).reshape(-1)
        heard = self.heard
        listener = heard.keys // self.n_items
        take = (heard.pressure > 0) & np.isin(listener, agents)
        rows = np.searchsorted(np.sort(agents), listener[take])
        row_of_sorted = np.argsort(agents, kind="stable")
        rows = row_of_sorted[rows]
        items = heard.keys[take] % self.n_items
        order = np.lexsort((items, -heard.last_step[take], -heard.pressure[take], rows))
        return rows[order], items[order]

    def has_wanted(self, agents) -> np.ndarray:
        """Whether each of `agents` heard of any item with positive pressure."""
        heard = self.heard
        keen = np.unique(heard.keys[heard.pressure > 0] // self.n_items)
        return np.isin(np.asarray(agents, dtype=np.int64), keen)

    def wanted_items(self, agent: int) -> list[int]:
        return self.wanted([agent])[1].tolist()

    def hearings(self, agent: int) -> dict[int, list[Hearing]]:
        """One listener's hearings by item, in the order they happened (for per-person code)."""
        rows = np.flatnonzero(self.column("listener") == agent)
        out: dict[int, list[Hearing]] = {}
        cols = {name: self.column(name)[rows].tolist() for name, _ in _COLUMNS}
        for item, speaker, step, sentiment, closeness, via in zip(cols["item"], cols["speaker"], cols["step"],
                                                                   cols["sentiment"], cols["closeness"], cols["via"]):
            out.setdefault(item, []).append(Hearing(item, speaker, step, SENTIMENTS[sentiment], closeness,
                                                    self.vias[via]))
        return out
