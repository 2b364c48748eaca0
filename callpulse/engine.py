"""The engine: routes canonical events to queue and agent states, and runs the janitor.

Used as is by ``callpulse replay``; the live worker keeps the same per-queue and per-agent states
in its tables and calls the same methods. Pure: time is the events' own ``ts`` or an argument.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

from . import events as ev
from .agents import AgentState
from .config import Config
from .event_types import (
    AGENT_SHIFT,
    AT_ID,
    AT_QUEUE,
    AT_TENANT,
    AT_TS,
    FIELDS_OF,
    LAYOUT,
)
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
        self._queues: dict[tuple[str, str], QueueState] = {}
        self._agents: dict[tuple[str, str], AgentState] = {}
        self.rejected: dict[str, int] = {}
        # The span of the events' times (see first_ts); machine integers until read.
        self._first_ms = _NO_TS
        self._last_ms = -_NO_TS
        # One calendar for every agent: it only caches, and its day and interval bounds cost a
        # zone lookup each time an agent's own would have computed them anew.
        self._agent_calendar = Calendar(agent_timezone, agent_day_start_min, params.interval_ms)
        self._next_sweep_ms = -(1 << 62)
        self.shard = shard
        # What apply looks up: tenant -> name -> the state held, or None when another shard
        # holds it. Two lookups by string cost a fraction of one by a (tenant, name) tuple,
        # which had to be built, hashed and compared on every event. Filled as keys are met;
        # adopt, the only other writer of the states, clears it.
        self._queue_index: dict[str, dict[str, QueueState | None]] = {}
        self._agent_index: dict[str, dict[str, AgentState | None]] = {}
        # The tenant of the last event and its parts of the indexes: most streams have one
        # tenant, and a string comparison costs a fraction of the lookup it spares.
        self._tenant = "default"
        self._tenant_queues = _by_name(self._queue_index, self._tenant)
        self._tenant_agents = _by_name(self._agent_index, self._tenant)

    def apply(self, e: ev.AnyEvent) -> None:
        """Fold one event into its queue and/or agent state."""
        # The event's fields are read once, here (see event_types.FIELDS_OF), and handed on.
        fields: tuple[Any, ...] = FIELDS_OF(e)
        ts: int = fields[AT_TS]
        if ts < self._first_ms:
            self._first_ms = ts
        if ts > self._last_ms:
            self._last_ms = ts
        layout = LAYOUT[type(e)]
        if layout:
            self._route(e, fields, ts, layout)
        if ts >= self._next_sweep_ms:
            self.sweep(ts)

    def _route(self, e: ev.AnyEvent, fields: tuple[Any, ...], ts: int, layout: int) -> None:
        """Hand ``e`` to its queue and/or agent state, with the fields read by apply."""
        eid: str = fields[AT_ID]
        tenant: str = fields[AT_TENANT]
        if tenant != self._tenant:
            self._switch_tenant(tenant)
        # The ignores are for mypy, which cannot narrow on a type's route.
        if layout & ev.TO_QUEUE:
            name: str = fields[AT_QUEUE]
            queues = self._tenant_queues
            q = queues.get(name)
            if q is None and name not in queues:
                q = queues[name] = self._met_queue(tenant, name)
            if q is not None:
                q.fold(e, fields)  # type: ignore[arg-type]
        if layout & ev.TO_AGENT:
            name = fields[layout >> AGENT_SHIFT]
            agents = self._tenant_agents
            a = agents.get(name)
            if a is None and name not in agents:
                a = agents[name] = self._met_agent(tenant, name)
            if a is not None:
                a.take(e, ts, eid)

    @property
    def queues(self) -> Mapping[tuple[str, str], QueueState]:
        """Every queue state held, by (tenant, queue); read-only (see :meth:`adopt`)."""
        return MappingProxyType(self._queues)

    @property
    def agents(self) -> Mapping[tuple[str, str], AgentState]:
        """Every agent state held, by (tenant, agent); read-only (see :meth:`adopt`)."""
        return MappingProxyType(self._agents)

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
        for q in self._queues.values():
            q.sweep(now_ms)
        for a in self._agents.values():
            a.sweep(now_ms)

    def queue(self, tenant: str, queue: str) -> QueueState:
        """The state of a queue, created when new (whatever the shard)."""
        state = self._queues.get((tenant, queue))
        if state is None:
            cfg = self.config.for_queue(tenant, queue)
            state = self._queues[(tenant, queue)] = QueueState(tenant, queue, cfg, self.params)
            _forget(self._queue_index, tenant, queue)
        return state

    def agent(self, tenant: str, agent: str) -> AgentState:
        """The state of an agent, created when new (whatever the shard)."""
        state = self._agents.get((tenant, agent))
        if state is None:
            state = self._agents[(tenant, agent)] = AgentState(
                tenant, agent, self.agent_calendar(), grace_ms=self.params.grace_ms,
                keep_intervals_ms=self.params.keep_intervals_ms,
            )
            _forget(self._agent_index, tenant, agent)
        return state

    def agent_calendar(self) -> Calendar:
        """The calendar of the agents' days and intervals (shared by them all)."""
        return self._agent_calendar

    def _met_queue(self, tenant: str, name: str) -> QueueState | None:
        """The state of a queue ``apply`` meets for the first time: held already (adopted),
        new, or ``None`` when another shard holds it."""
        state = self._queues.get((tenant, name))
        if state is None and self._owns(tenant, name):
            state = self.queue(tenant, name)
        return state

    def _met_agent(self, tenant: str, name: str) -> AgentState | None:
        state = self._agents.get((tenant, name))
        if state is None and self._owns(tenant, name):
            state = self.agent(tenant, name)
        return state

    def _owns(self, tenant: str, name: str) -> bool:
        index, shards = self.shard
        return shards == 1 or shard_of(tenant, name, shards) == index

    def adopt(self, queues: Iterable[QueueState], agents: Iterable[AgentState]) -> None:
        """Hold states folded or restored elsewhere (another shard's, or read back from their
        bytes), in place of any held for their keys; the events that follow go to them."""
        for q in queues:
            self._queues[(q.tenant, q.queue)] = q
        for a in agents:
            self._agents[(a.tenant, a.agent)] = a
        self._queue_index.clear()
        self._agent_index.clear()
        self._switch_tenant(self._tenant)

    def _switch_tenant(self, tenant: str) -> None:
        self._tenant = tenant
        self._tenant_queues = _by_name(self._queue_index, tenant)
        self._tenant_agents = _by_name(self._agent_index, tenant)

    def finish(self, until_ms: int) -> None:
        """End of input: sweep at ``until_ms`` and apply every buffered agent event, counting
        logged-in time up to ``until_ms``."""
        self.sweep(until_ms)
        for a in self._agents.values():
            a.flush(until_ms)


_S = TypeVar("_S")


def _by_name(index: dict[str, dict[str, _S]], tenant: str) -> dict[str, _S]:
    """The tenant's part of an engine's index (see ``Engine._queue_index``), made when new."""
    by_name = index.get(tenant)
    if by_name is None:
        by_name = index[tenant] = {}
    return by_name


def _forget(index: dict[str, dict[str, _S]], tenant: str, name: str) -> None:
    """Drop what an engine's index says of a key whose state was just made (apply may have met
    it as another shard's): apply then finds the state."""
    by_name = index.get(tenant)
    if by_name is not None and name in by_name:
        del by_name[name]
