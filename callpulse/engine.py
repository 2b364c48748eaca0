"""The engine: routes canonical events to queue and agent states, and runs the janitor.

Used as is by ``callpulse replay``; the live worker keeps the same per-queue and per-agent states
in its tables and calls the same methods. Pure: time is the events' own ``ts`` or an argument.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Final

from . import events as ev
from .agents import AgentState
from .config import Config
from .event_types import ROUTE
from .queue import QueueParams, QueueState
from .timeframes import Calendar

SWEEP_EVERY_MS: Final = 60_000
_NO_TS: Final = 1 << 62


def shard_of(tenant: str, key: str, shards: int) -> int:
    """The shard (``0 .. shards-1``) that holds the state of a queue or an agent: the same in
    every process, as Python's own string hash is not."""
    return zlib.crc32(f"{tenant}\x00{key}".encode()) % shards


class Engine:
    """All queues and agents of one event stream, or of one shard of it.

    With ``shard=(i, n)`` the engine keeps only the queues and agents for which
    :func:`shard_of` is ``i`` and passes over the events of the others, so ``n`` engines fed the
    same stream hold every state once between them, each exactly as one engine would. Queue and
    agent states never read each other, and every shard sees every event's time (so it sweeps at
    the same moments), which is what makes the split exact.
    """

    def __init__(
        self, config: Config, params: QueueParams, *, agent_timezone: str = "UTC",
        agent_day_start_min: int = 0, shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.config = config
        self.params = params
        self.queues: dict[tuple[str, str], QueueState] = {}
        self.agents: dict[tuple[str, str], AgentState] = {}
        self.rejected: dict[str, int] = {}
        # The span of the events' times (see first_ts); machine integers until read.
        self._first_ms = _NO_TS
        self._last_ms = -_NO_TS
        self._agent_calendar = (agent_timezone, agent_day_start_min)
        self._next_sweep_ms = -(1 << 62)
        self.shard = shard
        # The queues and agents another shard holds: their events cost one lookup more.
        self._foreign_queues: set[tuple[str, str]] = set()
        self._foreign_agents: set[tuple[str, str]] = set()

    def apply(self, e: ev.AnyEvent) -> None:
        """Fold one event into its queue and/or agent state."""
        ts = e.ts
        if ts < self._first_ms:
            self._first_ms = ts
        if ts > self._last_ms:
            self._last_ms = ts
        route = ROUTE[type(e)]
        # The ignores are for mypy, which cannot narrow on a type's route.
        if route & ev.TO_QUEUE:
            key = (e.tenant, e.queue)  # type: ignore[union-attr]
            q = self.queues.get(key)
            if q is None and key not in self._foreign_queues:
                q = self._new_queue(key)
            if q is not None:
                q.apply(e)  # type: ignore[arg-type]
        if route & ev.TO_AGENT:
            key = (e.tenant, e.agent)  # type: ignore[union-attr]
            a = self.agents.get(key)
            if a is None and key not in self._foreign_agents:
                a = self._new_agent(key)
            if a is not None:
                a.apply(e)
        if ts >= self._next_sweep_ms:
            self.sweep(ts)

    @property
    def first_ts(self) -> int | None:
        """The earliest event time folded; ``None`` before any event."""
        return None if self._first_ms == _NO_TS else self._first_ms

    @property
    def last_ts(self) -> int | None:
        """The latest event time folded; ``None`` before any event."""
        return None if self._last_ms == -_NO_TS else self._last_ms

    def apply_all(self, events: Iterable[ev.AnyEvent]) -> None:
        for e in events:
            self.apply(e)

    def sweep(self, now_ms: int) -> None:
        """Run every state's janitor at ``now_ms`` (event time in replay, wall clock live)."""
        self._next_sweep_ms = now_ms + SWEEP_EVERY_MS
        for q in self.queues.values():
            q.sweep(now_ms)
        for a in self.agents.values():
            a.sweep(now_ms)

    def queue(self, tenant: str, queue: str) -> QueueState:
        """The state of a queue, created when new (whatever the shard)."""
        state = self.queues.get((tenant, queue))
        if state is None:
            cfg = self.config.for_queue(tenant, queue)
            state = self.queues[(tenant, queue)] = QueueState(tenant, queue, cfg, self.params)
        return state

    def agent(self, tenant: str, agent: str) -> AgentState:
        """The state of an agent, created when new (whatever the shard)."""
        state = self.agents.get((tenant, agent))
        if state is None:
            state = self.agents[(tenant, agent)] = AgentState(
                tenant, agent, self.agent_calendar(), grace_ms=self.params.grace_ms,
                keep_intervals_ms=self.params.keep_intervals_ms,
            )
        return state

    def agent_calendar(self) -> Calendar:
        tz, day_start = self._agent_calendar
        return Calendar(tz, day_start, self.params.interval_ms)

    def _new_queue(self, key: tuple[str, str]) -> QueueState | None:
        """The state of a queue met for the first time, or ``None`` (remembered) when another
        shard holds it."""
        if self._owns(key):
            return self.queue(*key)
        self._foreign_queues.add(key)
        return None

    def _new_agent(self, key: tuple[str, str]) -> AgentState | None:
        if self._owns(key):
            return self.agent(*key)
        self._foreign_agents.add(key)
        return None

    def _owns(self, key: tuple[str, str]) -> bool:
        index, shards = self.shard
        return shards == 1 or shard_of(*key, shards) == index

    def finish(self, until_ms: int) -> None:
        """End of input: sweep at ``until_ms`` and apply every buffered agent event, counting
        logged-in time up to ``until_ms``."""
        self.sweep(until_ms)
        for a in self.agents.values():
            a.flush(until_ms)
