"""The engine: routes canonical events to queue and agent states, and runs the janitor.

Used as is by ``callpulse replay``; the live worker keeps the same per-queue and per-agent states
in its tables and calls the same methods. Pure: time is the events' own ``ts`` or an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from . import events as ev
from .agents import AgentState
from .config import Config
from .event_types import ROUTE
from .queue import QueueParams, QueueState
from .timeframes import Calendar

SWEEP_EVERY_MS: Final = 60_000


class Engine:
    """All queues and agents of one event stream."""

    def __init__(
        self, config: Config, params: QueueParams, *, agent_timezone: str = "UTC",
        agent_day_start_min: int = 0,
    ) -> None:
        self.config = config
        self.params = params
        self.queues: dict[tuple[str, str], QueueState] = {}
        self.agents: dict[tuple[str, str], AgentState] = {}
        self.sources: dict[str, int] = {}  # source -> newest event ts
        self.rejected: dict[str, int] = {}
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self._agent_calendar = (agent_timezone, agent_day_start_min)
        self._next_sweep_ms = -(1 << 62)

    def apply(self, e: ev.AnyEvent) -> None:
        """Fold one event into its queue and/or agent state."""
        ts = e.ts
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        if ts > self.sources.get(e.source, -(1 << 62)):
            self.sources[e.source] = ts
        route = ROUTE[type(e)]
        # The ignores are for mypy, which cannot narrow on a type's route.
        if route & ev.TO_QUEUE:
            self.queue(e.tenant, e.queue).apply(e)  # type: ignore[union-attr,arg-type]
        if route & ev.TO_AGENT:
            self.agent(e.tenant, e.agent).apply(e)  # type: ignore[union-attr]
        if ts >= self._next_sweep_ms:
            self.sweep(ts)

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
        state = self.queues.get((tenant, queue))
        if state is None:
            cfg = self.config.for_queue(tenant, queue)
            state = self.queues[(tenant, queue)] = QueueState(tenant, queue, cfg, self.params)
        return state

    def agent(self, tenant: str, agent: str) -> AgentState:
        state = self.agents.get((tenant, agent))
        if state is None:
            tz, day_start = self._agent_calendar
            state = self.agents[(tenant, agent)] = AgentState(
                tenant, agent, Calendar(tz, day_start, self.params.interval_ms),
                grace_ms=self.params.grace_ms, keep_intervals_ms=self.params.keep_intervals_ms,
            )
        return state

    def finish(self, until_ms: int) -> None:
        """End of input: sweep at ``until_ms`` and apply every buffered agent event, counting
        logged-in time up to ``until_ms``."""
        self.sweep(until_ms)
        for a in self.agents.values():
            a.flush(until_ms)
