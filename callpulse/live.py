"""The live worker's sans-I/O core: batches of Kafka records in, state changes and records out.

The Faust agents of ``streams/`` hand each batch of raw records to :class:`LiveCore` and carry
out what it returns (``DESIGN.md`` decisions 2-5, 8):

- call records fold into per-queue states; each queue state remembers the offset of the last
  record it applied, so a redelivery after a crash changes nothing (decision 5);
- call events that concern an agent are forwarded, once, to the agents topic (decision 2);
- agent records fold into per-agent states, with the same offset guard;
- when an agent's effect on a queue's counts changes (its state bucket or its queues), a
  *presence* record keyed by queue carries it to the queue's owner, with a per-agent sequence
  number so a stale or repeated one is ignored;
- bad records become DLQ records with their reason and original bytes (never an exception).

State is grouped by table key, the Kafka message key (queue or agent name): with
``use_partitioner`` the changelog partition of a key is the partition its source records use.
One key may hold several tenants. Time is always an argument.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import lz4.frame
import msgspec

from . import events as ev
from .agents import QUEUE_BUCKET, AgentState, empty_counts
from .alerts import SOURCE_STALE_MS, evaluate, rule_values, stale_sources
from .codec import agent_from_bytes, agent_to_bytes, queue_from_bytes, queue_to_bytes
from .config import ALERT_RULES, Config
from .errors import StateFormatError
from .event_types import ROUTE
from .presence import PresenceRecord, decode_presence
from .queue import QueueParams, QueueState
from .timeframes import Calendar

CALLS: Final = "calls"
AGENTS: Final = "agents"
PRESENCE: Final = "presence"
T = TypeVar("T")
_PACK: Final = msgspec.msgpack.Encoder()
_UNPACK: Final = msgspec.msgpack.Decoder()
_JSON: Final = msgspec.json.Encoder()


# Table values: a format byte, then an LZ4 frame of msgpack. A queue state is mostly zeros
# (ring columns) and repeated keys, so it shrinks about 4 times: the changelog traffic of a
# busy worker is its main cost after the fold (docs/live.md, "Limits"). LZ4 rather than zlib
# (format 1, still read): a busy queue's 47 KB took zlib 0.4 ms and LZ4 0.07 ms for 8.8 KB
# against 11 KB, and a store compresses every key touched in the last second at once, which
# held up the event loop for ~90 ms a second at 2,000 events/s.
_VALUE_FORMAT: Final = b"\x02"
_ZLIB_FORMAT: Final = b"\x01"


def _pack_value(value: object) -> bytes:
    packed: bytes = lz4.frame.compress(_PACK.encode(value))
    return _VALUE_FORMAT + packed


@contextmanager
def _restoring(kind: str, key: str) -> Iterator[None]:
    """Any decoding failure of a stored value becomes one :class:`StateFormatError`."""
    try:
        yield
    except (msgspec.DecodeError, TypeError, ValueError, AttributeError, RuntimeError,
            zlib.error) as exc:
        raise StateFormatError(f"{kind} key {key!r}: {exc}") from None


def _unpack_value(data: bytes) -> Any:
    if data[:1] == _VALUE_FORMAT:
        return _UNPACK.decode(lz4.frame.decompress(data[1:]))
    if data[:1] == _ZLIB_FORMAT:
        return _UNPACK.decode(zlib.decompress(data[1:]))
    raise ValueError(f"unknown table value format {data[:1]!r}")


class Record:
    """One consumed Kafka message, as the shell hands it over. A plain class: the worker makes
    one per record, and a frozen dataclass's ``__init__`` cost 4 % of its time (profiled)."""

    __slots__ = ("key", "kind", "offset", "partition", "value")

    def __init__(self, kind: str, partition: int, offset: int, key: bytes | None,
                 value: bytes | None) -> None:
        self.kind = kind  # CALLS, AGENTS or PRESENCE: which of the worker's topics it came from
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value


@dataclass(slots=True)
class Effects:
    """What a batch asks the shell to do. Keys and values are bytes ready to produce."""

    forwards: list[tuple[bytes, bytes]] = field(default_factory=list)
    presence: list[tuple[bytes, bytes]] = field(default_factory=list)
    dlq: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    applied: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class AgentEntry:
    """An agent state plus what the worker needs around it: the offset guard and the presence
    last announced."""

    state: AgentState
    last_offset: int = -1
    seq: int = 0
    queues: tuple[str, ...] = ()
    bucket: str | None = None


def dlq_record(record: Record, rejected: ev.Rejected, wall_ms: int) -> bytes:
    """The DLQ value: the reason, the original bytes (base64) and where and when it was rejected
    (``spec/EVENTS.md``, the end)."""
    raw = record.value or b""
    return _JSON.encode({
        "reason": rejected.reason, "detail": rejected.detail[:500],
        "topic": record.kind, "partition": record.partition, "offset": record.offset,
        "rejected_at_ms": wall_ms, "original_b64": base64.b64encode(raw).decode("ascii"),
    })


class LiveCore:
    """Every queue and agent state of the partitions this worker owns."""

    def __init__(self, config: Config, params: QueueParams, *, agent_timezone: str = "UTC",
                 agent_day_start_min: int = 0,
                 lookup: Callable[[str, str], bytes | None] | None = None) -> None:
        """``lookup(kind, key)`` returns a key's stored table value (``kind`` is ``CALLS`` or
        ``AGENTS``), so a key this worker has not held yet resumes from its stored state."""
        self.config = config
        self._lookup = lookup
        self.params = params
        # One calendar for every agent (it only caches; see Engine.agent_calendar).
        self._agent_calendar = Calendar(agent_timezone, agent_day_start_min, params.interval_ms)
        self.queues: dict[tuple[str, str], QueueState] = {}
        self.presence: dict[tuple[str, str], dict[str, tuple[str | None, int]]] = {}
        self.agents: dict[tuple[str, str], AgentEntry] = {}
        # table key -> the (tenant, name) states it holds, and the partition it lives on
        self.queue_keys: dict[str, set[tuple[str, str]]] = {}
        self.agent_keys: dict[str, set[tuple[str, str]]] = {}
        self.partition_of: dict[tuple[str, str], int] = {}  # (kind, key) -> partition
        self.dirty_queue_keys: set[str] = set()
        self.dirty_agent_keys: set[str] = set()
        self.changed_queues: set[tuple[str, str]] = set()
        self.changed_agents: set[tuple[str, str]] = set()
        self.alert_state: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.sources: dict[str, int] = {}  # source -> newest event ts seen from it
        self.stale: set[str] = set()  # sources stale at the last source_views
        self.newest_ts: int | None = None
        self.misrouted = 0

    # -- folding ----------------------------------------------------------------------------

    def fold(self, records: Iterable[Record], wall_ms: int) -> Effects:
        """Fold one batch. ``wall_ms`` is the wall clock, used only for the future-``ts`` rule
        and the DLQ's rejection time."""
        out = Effects()
        # agent -> the queues of the logins this batch applied (see _announce)
        touched_agents: dict[tuple[str, str], set[str]] = {}
        for r in records:
            if r.kind == PRESENCE:
                self._presence(r)
                continue
            decoded = ev.decode_event(r.value if r.value is not None else b"", now_ms=wall_ms)
            if isinstance(decoded, ev.Rejected):
                self._reject(r, decoded, wall_ms, out)
                continue
            e: Any = decoded  # narrowed by its route below (mypy cannot follow that)
            route = ROUTE[type(e)]
            if not route:  # a heartbeat
                self._seen(e)
                out.applied += 1
                continue
            if r.kind == CALLS:
                if not route & ev.TO_QUEUE:
                    self._reject(r, ev.Rejected(ev.WRONG_TOPIC, "agent event on the calls topic"),
                                 wall_ms, out)
                    continue
                if self._queue_event(r, e) and route & ev.TO_AGENT:
                    out.forwards.append((e.agent.encode(), r.value or b""))
            else:
                if not route & ev.TO_AGENT:
                    self._reject(r, ev.Rejected(ev.WRONG_TOPIC, "queue event on the agents topic"),
                                 wall_ms, out)
                    continue
                agent_key = self._agent_event(r, e)
                if agent_key is not None:
                    logins = touched_agents.setdefault(agent_key, set())
                    if type(e) is ev.AgentLogin:
                        logins.update(e.queues)
            self._seen(e)
            out.applied += 1
        for key, logins in touched_agents.items():
            self._announce(key, out, logins)
        return out

    def _seen(self, e: ev.AnyEvent) -> None:
        if e.ts > self.sources.get(e.source, -(1 << 62)):
            self.sources[e.source] = e.ts
        if self.newest_ts is None or e.ts > self.newest_ts:
            self.newest_ts = e.ts

    def _reject(self, r: Record, rejected: ev.Rejected, wall_ms: int, out: Effects) -> None:
        out.dlq.append((r.key, dlq_record(r, rejected, wall_ms)))
        out.rejected[rejected.reason] = out.rejected.get(rejected.reason, 0) + 1

    def _placed(self, kind: str, key: str, partition: int) -> bool:
        """Remember a key's partition; False when its records arrive on two partitions (a
        producer that does not key by queue/agent), where offsets cannot guard redelivery."""
        known = self.partition_of.setdefault((kind, key), partition)
        if known != partition:
            self.misrouted += 1
            return False
        return True

    def _queue_event(self, r: Record, e: ev.CallEvent) -> bool:
        key = e.queue
        guarded = self._placed(CALLS, key, r.partition)
        q = self.queue(e.tenant, e.queue)
        if not q.apply(e, r.offset if guarded else None):
            return False  # a redelivery (or too late to count)
        self.dirty_queue_keys.add(key)
        self.changed_queues.add((e.tenant, e.queue))
        return True

    def _agent_event(self, r: Record, e: ev.AnyEvent) -> tuple[str, str] | None:
        agent: str = e.agent  # type: ignore[union-attr]  # agent and agent-call events
        guarded = self._placed(AGENTS, agent, r.partition)
        entry = self.agent(e.tenant, agent)
        if guarded:
            if r.offset <= entry.last_offset:
                return None
            entry.last_offset = r.offset
        entry.state.apply(e)
        self.dirty_agent_keys.add(agent)
        self.changed_agents.add((e.tenant, agent))
        return (e.tenant, agent)

    def _announce(self, key: tuple[str, str], out: Effects,
                  logins: set[str] | None = None) -> None:
        """Emit presence records: the agent's bucket to each queue it serves, ``None`` to the
        queues it no longer serves. After a sweep (``logins`` is ``None``) only when its effect
        on its queues changed. After a batch, for every agent the batch touched, changed or
        not, also to the queues of the logins the batch applied: a worker that crashed may have
        announced any state between the stored one and the crash, to any of those queues, and
        this run must override each of them.

        The sequence number is the agent's position in its partition (then a count for
        announcements with no new record): the same records give the same number and the same
        state, so a queue owner that ignores a number it has already seen stays right however
        the redelivered batches fall."""
        entry = self.agents[key]
        s = entry.state.present()
        queues = s.queues if s.logged_in else ()
        bucket = QUEUE_BUCKET[s.state()] if s.logged_in else None
        if logins is None and (queues, bucket) == (entry.queues, entry.bucket):
            return
        base = (entry.last_offset + 1) << 16
        entry.seq = base if entry.seq < base else entry.seq + 1
        for queue in sorted(set(entry.queues) | set(queues) | (logins or set())):
            rec = PresenceRecord(key[0], queue, key[1], bucket if queue in queues else None,
                                 entry.seq)
            out.presence.append((queue.encode(), _JSON.encode(rec)))
        entry.queues, entry.bucket = queues, bucket
        self.dirty_agent_keys.add(key[1])

    def _presence(self, r: Record) -> None:
        rec = decode_presence(r.value or b"")
        if rec is None:
            return  # our own topic; a foreign record there is ignored
        self._placed(PRESENCE, rec.queue, r.partition)
        self.queue(rec.tenant, rec.queue)
        seen = self.presence.setdefault((rec.tenant, rec.queue), {})
        if rec.seq <= seen.get(rec.agent, (None, 0))[1]:
            return
        if rec.bucket is None:
            seen[rec.agent] = (None, rec.seq)  # keep the seq, so an older record cannot revive it
        else:
            seen[rec.agent] = (rec.bucket, rec.seq)
        self.dirty_queue_keys.add(rec.queue)
        self.changed_queues.add((rec.tenant, rec.queue))

    # -- states -----------------------------------------------------------------------------

    def queue(self, tenant: str, name: str) -> QueueState:
        """The state of (tenant, queue): held, stored (see ``lookup``), or new."""
        q = self.queues.get((tenant, name)) or self._resumed(CALLS, name, self.queues, tenant)
        if q is None:
            q = self.queues[(tenant, name)] = QueueState(
                tenant, name, self.config.for_queue(tenant, name), self.params)
            self.queue_keys.setdefault(name, set()).add((tenant, name))
        return q

    def agent(self, tenant: str, name: str) -> AgentEntry:
        """The entry of (tenant, agent): held, stored (see ``lookup``), or new."""
        entry = self.agents.get((tenant, name)) or self._resumed(AGENTS, name, self.agents, tenant)
        if entry is None:
            entry = self.agents[(tenant, name)] = AgentEntry(self._new_agent(tenant, name))
            self.agent_keys.setdefault(name, set()).add((tenant, name))
        return entry

    def _resumed(self, kind: str, key: str, held: Mapping[tuple[str, str], T],
                 tenant: str) -> T | None:
        """Load a key not held yet from its stored table value, if it has one."""
        keys = self.queue_keys if kind == CALLS else self.agent_keys
        if key in keys or self._lookup is None:
            return None
        data = self._lookup(kind, key)
        if data is not None:
            (self.load_queue_key if kind == CALLS else self.load_agent_key)(key, data)
        return held.get((tenant, key))

    def _new_agent(self, tenant: str, name: str) -> AgentState:
        return AgentState(tenant, name, self._agent_calendar, grace_ms=self.params.grace_ms,
                          keep_intervals_ms=self.params.keep_intervals_ms)


    def agent_counts(self, tenant: str, queue: str) -> dict[str, int]:
        """Agents serving the queue per bucket, from the presence records received."""
        counts = empty_counts()
        for bucket, _ in self.presence.get((tenant, queue), {}).values():
            if bucket is not None:
                counts[bucket] += 1
                counts["logged_in"] += 1
        return counts

    def reconfigure(self, config: Config) -> list[str]:
        """Apply a new configuration to every held queue; returns the queues that refused it
        (a time zone or day start cannot change on a live state)."""
        self.config = config
        refused = []
        for (tenant, name), q in self.queues.items():
            cfg = config.for_queue(tenant, name)
            if cfg == q.cfg:
                continue
            try:
                q.reconfigure(cfg)
            except ValueError:
                refused.append(f"{tenant}/{name}")
                continue
            self.changed_queues.add((tenant, name))
            self.dirty_queue_keys.add(name)
        return refused

    # -- time -------------------------------------------------------------------------------

    def sweep(self, now_ms: int) -> Effects:
        """The janitor at ``now_ms`` (the worker's event clock), then presence for agents whose
        state it changed (a buffered event applied, or a stuck agent reset)."""
        out = Effects()
        for (tenant, name), q in self.queues.items():
            if q.sweep(now_ms):
                self.dirty_queue_keys.add(name)
                self.changed_queues.add((tenant, name))
        for key, entry in self.agents.items():
            if entry.state.sweep(now_ms):
                self.dirty_agent_keys.add(key[1])
                self.changed_agents.add(key)
                self._announce(key, out)
        return out

    # -- views ------------------------------------------------------------------------------

    def due(self, now_ms: int, refresh: bool, every: bool = False,
            ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The queues and agents whose view must be published now: those changed since the
        last call; with ``refresh`` also every queue whose figures move with time alone
        (calls waiting, callbacks open, sliding windows not empty, alerts firing); with
        ``every``, every queue (so a quiet queue's snapshot still shows its worker alive)."""
        queues = set(self.changed_queues)
        if every:
            queues.update(self.queues)
        elif refresh:
            queues.update(k for k, q in self.queues.items() if self._moving(k, q, now_ms))
        agents = sorted(self.changed_agents)
        self.changed_queues.clear()
        self.changed_agents.clear()
        return sorted(queues), agents

    def _moving(self, key: tuple[str, str], q: QueueState, now_ms: int) -> bool:
        if q.waiting or q.backlog or q.max_ts > now_ms - max(self.params.windows_ms.values()):
            return True
        if now_ms >= q.today_bounds[1] > 0 and q.today.v[0]:
            return True  # the day rolled over: today's figures start again
        return any(r.get("firing_ms") is not None for r in self.alert_state.get(key, {}).values())

    def queue_view(self, tenant: str, name: str, now_ms: int) -> dict[str, Any]:
        """The queue's snapshot at ``now_ms`` with its agent counts, staffing, the alerts firing
        (the rules run here, so call this on every refresh) and the levels that colour it."""
        q = self.queues[(tenant, name)]
        agents = self.agent_counts(tenant, name)
        snap = q.snapshot(now_ms, agents)
        frames = snap["frames"]
        values = rule_values(snap["live"], frames.get("15m", {}), frames.get("60m", {}), agents,
                             snap["live"], q.cfg)
        state, active = evaluate(values, q.cfg.alerts, self.alert_state.get((tenant, name), {}),
                                 now_ms)
        self.alert_state[(tenant, name)] = state
        snap["alerts"] = [{"alert": a.alert, "severity": a.severity, "since_ms": a.since_ms,
                           "value": a.value} for a in active]
        snap["levels"] = {rule: {"warn": lv.warn, "crit": lv.crit,
                                 "direction": ALERT_RULES[rule][0]}
                          for rule, lv in q.cfg.alerts.items()}
        snap["as_of_ms"] = now_ms
        return snap

    def source_views(self, now_ms: int, refresh: bool) -> dict[str, dict[str, Any]]:
        """The per-source alert (``spec/METRICS.md``, "Staleness": stale when nothing, not even
        a heartbeat, came from it for 30 s) at ``now_ms``. Returns the views to publish: the
        sources whose staleness changed since the last call, and with ``refresh`` every one."""
        stale = set(stale_sources(self.sources, now_ms))
        changed = stale ^ self.stale
        self.stale = stale
        return {s: self._source_view(s, now_ms) for s in sorted(self.sources if refresh
                                                                  else changed)}

    def _source_view(self, source: str, now_ms: int) -> dict[str, Any]:
        last = self.sources[source]
        age_s = max(0, now_ms - last) / 1000
        alerts = [{"alert": "source_stale", "severity": "crit",
                   "since_ms": last + SOURCE_STALE_MS, "value": age_s}] if source in self.stale \
            else []
        return {"source": source, "last_event_ms": last, "age_s": age_s,
                "stale": bool(alerts), "alerts": alerts, "as_of_ms": now_ms}

    def agent_view(self, tenant: str, name: str, now_ms: int) -> dict[str, Any]:
        snap: dict[str, Any] = self.agents[(tenant, name)].state.snapshot(now_ms)
        snap["as_of_ms"] = now_ms
        return snap

    # -- ownership and table bytes ----------------------------------------------------------

    def drop_partitions(self, kind: str, partitions: Iterable[int]) -> None:
        """Forget the states of keys on partitions this worker no longer owns."""
        gone = set(partitions)
        kinds = (CALLS, PRESENCE) if kind == CALLS else (kind,)
        keys = {k for (kd, k), p in self.partition_of.items() if kd in kinds and p in gone}
        book = self.queue_keys if kind == CALLS else self.agent_keys
        for key in keys:
            for name in book.pop(key, ()):
                if kind == CALLS:
                    self.queues.pop(name, None)
                    self.presence.pop(name, None)
                    self.changed_queues.discard(name)
                else:
                    self.agents.pop(name, None)
                    self.changed_agents.discard(name)
            for kd in kinds:
                self.partition_of.pop((kd, key), None)
        (self.dirty_queue_keys if kind == CALLS else self.dirty_agent_keys).difference_update(keys)

    def dump_queue_key(self, key: str) -> bytes:
        """The table value of a queue key: every tenant's state and presence under it."""
        return _pack_value({
            tenant: [queue_to_bytes(self.queues[(tenant, name)]),
                     self.presence.get((tenant, name), {})]
            for tenant, name in sorted(self.queue_keys.get(key, ()))
        })

    def load_queue_key(self, key: str, data: bytes, partition: int | None = None) -> None:
        """Restore a queue key from its table value (after a restart or a rebalance)."""
        with _restoring("queue", key):
            for tenant, (state, presence) in _unpack_value(data).items():
                q = queue_from_bytes(state, self.config.for_queue(tenant, key), self.params)
                self.queues[(tenant, key)] = q
                self.presence[(tenant, key)] = {a: (b, s) for a, (b, s) in presence.items()}
                self.queue_keys.setdefault(key, set()).add((tenant, key))
                self.changed_queues.add((tenant, key))
        if partition is not None:
            self.partition_of[(CALLS, key)] = partition
            self.partition_of[(PRESENCE, key)] = partition

    def dump_agent_key(self, key: str) -> bytes:
        return _pack_value({
            tenant: [agent_to_bytes(e.state), e.last_offset, e.seq, list(e.queues), e.bucket]
            for tenant, name in sorted(self.agent_keys.get(key, ()))
            for e in (self.agents[(tenant, name)],)
        })

    def load_agent_key(self, key: str, data: bytes, partition: int | None = None) -> None:
        """Restore an agent key from its table value (after a restart or a rebalance)."""
        with _restoring("agent", key):
            for tenant, (state, offset, seq, queues, bucket) in _unpack_value(data).items():
                a = agent_from_bytes(state, self._agent_calendar, grace_ms=self.params.grace_ms,
                                     keep_intervals_ms=self.params.keep_intervals_ms)
                self.agents[(tenant, key)] = AgentEntry(a, offset, seq, tuple(queues), bucket)
                self.agent_keys.setdefault(key, set()).add((tenant, key))
                self.changed_agents.add((tenant, key))
        if partition is not None:
            self.partition_of[(AGENTS, key)] = partition
