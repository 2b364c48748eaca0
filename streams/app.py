"""``create_app(settings)``: the Faust worker around :class:`callpulse.live.LiveCore`.

The shell only moves bytes (``DESIGN.md`` decision 1): the consumer hands each fetched batch of
raw records to the core (``streams.fastlane``), produces what it returns (forwards, presence,
DLQ) and writes each touched key's state to its table once per store, at most every second
(decision 4). A timer publishes
snapshots to Redis every tick, runs the janitor, and re-reads live configuration changes. The
Prometheus collector and ``/metrics`` ride on Faust's own web server, in the same event loop as
the agents, so a scrape never sees a state half-updated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import faust
import msgspec
import redis.asyncio as aioredis
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from callpulse.clock import EventClock
from callpulse.config import Config, load_config, with_live_overrides
from callpulse.errors import CallpulseError, ConfigError, StoreError
from callpulse.gc_tuning import tune_gc
from callpulse.live import AGENTS, CALLS, PRESENCE, Effects, LiveCore, Record
from callpulse.queue import QueueParams
from callpulse.settings import bootstrap_servers
from callpulse.timeframes import INTERVALS_MS
from producers.kafka_sink import client_options, ensure_topics, partition_counts, tls_context

from .exporter import WorkerCollector, WorkerStats
from .fastlane import BatchingApp, BatchingConsumer, Span
from .produce import produce_batched
from .publisher import SnapshotPublisher
from .settings import WorkerSettings

log = logging.getLogger("callpulse.worker")
_JSON = msgspec.json.Encoder()
# Changed snapshots go out right after a batch, not only on the next tick, so the latency from
# an event to the wallboard is a fetch plus a fold. At most every PUBLISH_GAP_S, and never more
# often than keeps publishing (views and the Redis write) under 1/PUBLISH_SPACING of the time:
# a busy worker coalesces more.
PUBLISH_GAP_S = 0.05
PUBLISH_SPACING = 4
_RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                        "value_serializer": "raw"}


@lru_cache(maxsize=1 << 16)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client and
    aiokafka do): where the sources' records of a key go, so where the worker sends a key's
    forwards, presence and changelog records (``use_partitioner``). Cached:
    the keys are the worker's queues and agents, few and repeated, and aiokafka's murmur2 is
    pure Python (a profile of the worker at full speed found 4 % of its time there)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


class Worker:
    """One worker process: the Faust app, the core, the publisher and the exporter."""

    def __init__(self, settings: WorkerSettings, *, config: Config,
                 redis_client: aioredis.Redis, wall_clock: Callable[[], float],
                 registry: CollectorRegistry) -> None:
        self.settings = settings
        self.base_config = config
        self._overrides_raw: dict[str, Any] = {}
        self.wall_clock = wall_clock
        s = settings
        self.app = BatchingApp(
            s.app_id, broker=s.broker_url, store="memory://", autodiscover=False,
            processing_guarantee="at_least_once", topic_partitions=s.partitions,
            topic_replication_factor=s.replication, table_standby_replicas=0,
            web_port=s.metrics_port, web_bind=s.metrics_host, web_host=s.metrics_host,
            datadir=f"{s.data_dir}/{s.worker_name}", loghandlers=[],
            # Quick group joins: Faust's defaults take ~30 s to settle (NOTES.md).
            broker_session_timeout=6, broker_heartbeat_interval=1, broker_rebalance_timeout=5,
            broker_commit_interval=1.0, producer_linger=0.005,
            # A partition's share of a store, or of a batch's forwards, goes as one client
            # batch: aiokafka sends a partition's next batch only once the broker answered the
            # last, and at the default 16 KB a store of 50 queues (~11 KB each) took a dozen
            # round trips per partition. Below the broker's default message.max.bytes (1 MB).
            producer_max_batch_size=512 * 1024,
            broker_max_poll_records=s.batch_max,
            broker_credentials=_credentials(s),
            # Bytes everywhere: the core decodes events and encodes states itself.
            key_serializer="raw", value_serializer="raw",
        )
        # internal: Faust creates each one missing at start, with these partitions and replicas
        # (calls, agents and presence must share a partition count: they are co-partitioned),
        # rather than leave it to a broker's auto-creation and its default count.
        topic_args: dict[str, Any] = {**_RAW, "internal": True, "replicas": s.replication}
        self.calls_topic = self.app.topic(s.calls_topic, partitions=s.partitions, **topic_args)
        self.agents_topic = self.app.topic(s.agents_topic, partitions=s.partitions, **topic_args)
        self.presence_topic = self.app.topic(s.presence_topic, partitions=s.partitions,
                                             **topic_args)
        self.dlq_topic = self.app.topic(s.dlq_topic, partitions=1, **topic_args)
        self.kinds = {s.calls_topic: CALLS, s.agents_topic: AGENTS, s.presence_topic: PRESENCE}
        table_args: dict[str, Any] = {"partitions": s.partitions, "use_partitioner": True,
                                      "key_type": bytes, "value_type": bytes}
        self.queue_table = self.app.Table("queues", on_recover=self._queues_recovered,
                                          **table_args)
        self.agent_table = self.app.Table("agents", on_recover=self._agents_recovered,
                                          **table_args)
        params = QueueParams(interval_ms=INTERVALS_MS[s.interval],
                             grace_ms=round(s.grace_s * 1000),
                             keep_intervals_ms=round(s.keep_intervals_h * 3_600_000))
        self.core = LiveCore(config, params, lookup=self._lookup)
        self.clock = EventClock()
        self.views: dict[tuple[str, str], dict[str, Any]] = {}
        self.stats = WorkerStats()
        self.publisher = SnapshotPublisher(redis_client, s.redis_prefix)
        self.registry = registry
        registry.register(WorkerCollector(self.core, self.views, self.stats,
                                          highwater=self._highwater))
        self.owned: dict[str, set[int]] = {CALLS: set(), AGENTS: set()}
        # One batch (or sweep) at a time from fold to table write: a state must not reach the
        # changelog while records its events produced are still in flight, and another
        # coroutine's write in between would do just that.
        self._lock = asyncio.Lock()
        self._publishing = asyncio.Lock()  # one Redis write at a time, in order
        self._publish_task: asyncio.Task[None] | None = None
        self._publish_wanted = False  # a batch changed something since the last publish began
        self._next_publish = 0.0  # time.monotonic() before which no batch publishes
        self._next_refresh = self._next_sweep = self._next_config = 0.0
        self._next_full_refresh = 0.0
        # Records folded since the last store, acked (so committable) only once it is done.
        self._unstored: list[Span] = []
        self._delivery: asyncio.Future[bool] | None = None  # the store in flight (_deliver)
        self._ahead = False  # a fold's effects not yet all produced: the states are ahead
        self._next_store = 0.0  # time.monotonic() from which a batch stores what it folded
        self._wire()

    # -- wiring -----------------------------------------------------------------------------

    def _wire(self) -> None:
        app, s = self.app, self.settings
        app.batch_topics = frozenset(self.kinds)
        app.batch_handler = self._fold_batch
        app.batch_flush = self._flush
        for topic in (self.calls_topic, self.agents_topic, self.presence_topic):
            app.topics.add(topic)  # subscribed, acked, delivered in batches
        app.timer(s.tick_s, name="callpulse.tick")(self._tick)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

        # Faust makes a view class of a page function, so these take the view, not self.
        async def metrics(view: Any, request: Any) -> Any:
            # aiohttp takes the charset apart from the content type
            content_type = CONTENT_TYPE_LATEST.split(";", 1)[0] + "; version=0.0.4"
            return view.bytes(generate_latest(self.registry), content_type=content_type)

        async def health(view: Any, request: Any) -> Any:
            return view.json({"ok": True, "worker": self.settings.worker_name,
                              "queues": len(self.views), "redis_up": self.publisher.up,
                              "events_processed": self.stats.processed})

        app.page("/metrics")(metrics)
        app.page("/healthz")(health)

    async def _fold_batch(self, fetched: Sequence[Any], spans: Sequence[Span]) -> None:
        kinds = self.kinds
        records = [Record(kinds[r.topic], r.partition, r.offset, r.key, r.value)
                   for r in fetched]
        async with self._lock:
            wall_ms = self._wall_ms()
            self._ahead = True  # until its effects are on the broker (see _store)
            effects = self.core.fold(records, wall_ms)
            if self.core.newest_ts is not None:
                self.clock.observe(self.core.newest_ts, wall_ms)
                self.stats.lag_s = max(0.0, (wall_ms - self.core.newest_ts) / 1000)
            self._publish_soon()
            await self._carry_out(effects)
            self._unstored.extend(spans)
            for tp, _, last in spans:
                self.stats.next_offsets[tp] = last + 1
            self._ahead = False
            if time.monotonic() >= self._next_store:
                await self._store()

    async def _carry_out(self, effects: Effects) -> None:
        """Produce what a batch or sweep asked for and wait until the broker has it all. Only
        then are the states written: a state that claims an event applied must never reach the
        changelog before the records that event produced (a crash in between would lose them,
        since the redelivered event is then skipped). Straight to the producer: Faust's
        ``Topic.send`` costs several times more per record and adds nothing here; and in
        client batches per partition (``streams.produce``)."""
        client, s = self._client(), self.settings
        sent = []
        for topic, records in ((s.agents_topic, effects.forwards),
                               (s.presence_topic, effects.presence), (s.dlq_topic, effects.dlq)):
            sent += await produce_batched(client, topic, records, partition_of)
        if sent:
            await asyncio.gather(*sent)
        self.stats.processed += effects.applied
        self.stats.forwarded += len(effects.forwards)
        for reason, n in effects.rejected.items():
            self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + n
            log.info("rejected %d event(s): %s (sent to %s)", n, reason, self.settings.dlq_topic)

    async def _store(self) -> None:
        """Write each touched key's state to its table and to the table's changelog; once the
        broker has every record, ack every source record folded so far: only then may its
        offset be committed. Called under the lock, after a batch once ``store_s`` has passed
        since the last store (so a busy key is written once per period, not once per batch),
        and by the tick, the sweep, a reconfiguration and a revocation.

        The states are dumped and handed to the producer here, under the lock; the wait for
        the broker (:meth:`_deliver`) runs outside it, so batches fold meanwhile: the states
        sent claim no record folded after them, and their acks cover only the records folded
        before. It took ~100 ms at 2,000 events/s, during which no batch could fold. One store
        is in flight at a time, so acks go in order.

        The changelog records are produced here rather than by assigning to the table: Faust
        queues those in a buffer that its ``flush`` can return from while the last record is
        still on its way to the client, and a crash test caught offsets committed ahead of the
        states they stood for. The key's changelog partition is the one its source records
        use (``use_partitioner``)."""
        await self._stored()
        core, client = self.core, self._client()
        if self._ahead:
            # A batch or sweep was cut off (cancelled at a stop, or its produce failed) after
            # the fold and before its effects were all on the broker. The states now claim
            # records whose forwards may be missing; stored, the redelivered records would be
            # skipped and the forwards lost for good. Store nothing more: a restart folds again
            # from the last store.
            log.error("a batch was interrupted before its effects were produced: states are "
                      "no longer stored; restart the worker")
            return
        sent = []
        tables = ((self.queue_table, core.dirty_queue_keys, core.dump_queue_key),
                  (self.agent_table, core.dirty_agent_keys, core.dump_agent_key))
        for table, dirty, dump in tables:
            records = []
            for key in dirty:
                raw, value = key.encode(), dump(key)
                table.data[raw] = value  # the local copy, without Faust's changelog write
                records.append((raw, value))
            sent += await produce_batched(client, table.changelog_topic.get_topic_name(),
                                          records, partition_of)
        # Dirty keys pile up until stored, so these states cover every batch folded so far.
        keys = (set(core.dirty_queue_keys), set(core.dirty_agent_keys))
        core.dirty_queue_keys.clear()
        core.dirty_agent_keys.clear()
        spans, self._unstored = self._unstored, []
        self._delivery = asyncio.ensure_future(self._deliver(sent, spans, keys))
        self._next_store = time.monotonic() + self.settings.store_s

    async def _deliver(self, sent: list[Any], spans: list[Span],
                       keys: tuple[set[str], set[str]]) -> bool:
        """Wait until the broker has a store's records, then ack the spans it covers. If it
        fails, nothing is acked and its keys and spans go back, for the next store to write
        again. Returns whether it succeeded."""
        try:
            if sent:
                await asyncio.gather(*sent)
        except Exception:
            log.exception("storing states failed; the next store writes them again")
            self.core.dirty_queue_keys.update(keys[0])
            self.core.dirty_agent_keys.update(keys[1])
            self._unstored[:0] = spans
            return False
        cast(BatchingConsumer, self.app.consumer).ack_spans(spans)
        return True

    async def _stored(self) -> bool:
        """Wait for the store in flight, if any; returns whether it reached the broker."""
        delivery, self._delivery = self._delivery, None
        return True if delivery is None else await delivery

    async def _flush(self, *, wait: bool = True) -> None:
        """Store now if any record folded is not stored yet: the tick, once ``store_s`` has
        passed; the consumer before a rebalance or a stop, which also waits (``wait``) for
        the broker to have every state and every record folded to be acked."""
        async with self._lock:
            if wait:
                await self._store_all()
            elif self._unstored:  # a batch may have stored meanwhile
                await self._store()

    async def _store_all(self) -> None:
        """Under the lock: store what is not stored yet and wait for the broker; raises
        :class:`StoreError` when it did not take the states (their records stay unacked)."""
        if self._unstored:
            await self._store()
        if not await self._stored():
            raise StoreError("the broker did not take the worker's states")

    def _client(self) -> Any:
        """The aiokafka producer under Faust's (started with the app)."""
        return self.app.producer._ensure_producer()  # type: ignore[attr-defined]

    def _lookup(self, kind: str, key: str) -> bytes | None:
        table = self.queue_table if kind == CALLS else self.agent_table
        value: bytes | None = table.get(key.encode())
        return value

    # -- ownership --------------------------------------------------------------------------

    async def _on_revoked(self, app: Any, revoked: set[Any], **_: Any) -> None:
        s = self.settings
        async with self._lock:  # a sweep's or a reconfiguration's store finishes first
            await self._store_all()  # Faust's wait for acks may have come back early
            for kind, topic in ((CALLS, s.calls_topic), (AGENTS, s.agents_topic)):
                gone = {tp.partition for tp in revoked if tp.topic == topic}
                if gone:
                    self.core.drop_partitions(kind, gone)
                    self.owned[kind] -= gone
        for key in [k for k in self.views if k not in self.core.queues]:
            del self.views[key]
        for tp in revoked:
            self.stats.next_offsets.pop(tp, None)
        log.info("partitions revoked: %s", sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))

    async def _on_assigned(self, app: Any, assigned: set[Any], **_: Any) -> None:
        s = self.settings
        self.owned = {
            CALLS: {tp.partition for tp in assigned if tp.topic == s.calls_topic},
            AGENTS: {tp.partition for tp in assigned if tp.topic == s.agents_topic},
        }
        # Every topic the worker produces to is tracked, and its metadata fetched, before the
        # first batch: once the producer tracks any topic, aiokafka's metadata refreshes cover
        # only tracked topics, and a send to another one waits for a refresh of its own.
        producer = self._client()
        await self.dlq_topic.maybe_declare()  # produced to, never read: Faust would not make it
        names = [t.changelog_topic.get_topic_name() for t in (self.queue_table, self.agent_table)]
        names += [s.agents_topic, s.presence_topic, s.dlq_topic]
        for name in names:
            producer.client.add_topic(name)
        for name in names:
            await producer.partitions_for(name)
        log.info("partitions assigned: calls %s, agents %s", sorted(self.owned[CALLS]),
                 sorted(self.owned[AGENTS]))

    # Each table calls these once recovery has put every changelog record of the new
    # assignment into it, before the source partitions resume. Loading any earlier (Faust's
    # ``on_rebalance_complete`` comes before the last recovered records are applied, and its
    # ``recovery.completed`` flag is never cleared) could fold on top of a stale state.
    async def _queues_recovered(self) -> None:
        self._load_owned(CALLS, self.queue_table, self.core.load_queue_key, self.core.queue_keys)

    async def _agents_recovered(self) -> None:
        self._load_owned(AGENTS, self.agent_table, self.core.load_agent_key, self.core.agent_keys)

    def _load_owned(self, kind: str, table: Any, load: Callable[[str, bytes, int], None],
                    held: Mapping[str, object]) -> None:
        """Hold every stored key of the owned partitions, so queues with no new events still
        show on the wallboard and in ``/metrics``."""
        n = self.settings.partitions
        for raw_key, value in list(table.items()):
            key = raw_key.decode()
            partition = partition_of(raw_key, n)
            if partition in self.owned[kind] and key not in held:
                load(key, value, partition)

    # -- the tick ---------------------------------------------------------------------------

    async def _tick(self) -> None:
        wall = self.wall_clock()
        if wall >= self._next_config:
            self._next_config = wall + self.settings.config_poll_s
            await self._poll_config()
        if wall >= self._next_sweep and self.clock.started:
            self._next_sweep = wall + self.settings.sweep_s
            async with self._lock:
                # "Now" is read here, never before an await: a batch folded meanwhile may
                # have started the event clock, and a sweep at the wall time read before it
                # (a year after a replayed day, say) would close every call and drop every
                # interval of the states it just built.
                self._ahead = True
                await self._carry_out(self.core.sweep(self._now_ms()))
                self._ahead = False
                await self._store()
        if self._unstored and time.monotonic() >= self._next_store:
            await self._flush(wait=False)
        refresh = wall >= self._next_refresh
        if refresh:
            self._next_refresh = wall + self.settings.refresh_s
        every = wall >= self._next_full_refresh
        if every:
            self._next_full_refresh = wall + self.settings.idle_refresh_s
        await self._publish(refresh, every)

    def _publish_soon(self) -> None:
        """Publish what changed as soon as the spacing allows. Snapshots show folded states
        before they are stored; after a crash the same records fold to the same figures again
        (until it has caught up, a restarted worker shows its last stored ones)."""
        self._publish_wanted = True
        if self._publish_task is None or self._publish_task.done():
            self._publish_task = asyncio.ensure_future(self._publish_when_due())

    async def _publish_when_due(self) -> None:
        try:
            while self._publish_wanted:  # batches folded during a publish go out right after
                wait_s = self._next_publish - time.monotonic()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                self._publish_wanted = False
                await self._publish(refresh=False)
        except Exception:  # a task nobody awaits: say it, the next tick publishes anyway
            log.exception("publishing after a batch failed")

    async def _publish(self, refresh: bool, every: bool = False) -> None:
        async with self._publishing:  # "now" read once it is our turn
            started = time.monotonic()
            await self._publish_due(self._now_ms(), refresh, every)
            took = time.monotonic() - started
            self._next_publish = started + max(PUBLISH_GAP_S, PUBLISH_SPACING * took)

    async def _publish_due(self, now_ms: int, refresh: bool, every: bool = False) -> None:
        queues, agents = self.core.due(now_ms, refresh, every)
        items: dict[tuple[str, str], bytes] = {}
        for tenant, name in queues:
            if (tenant, name) not in self.core.queues:
                continue
            view = self.core.queue_view(tenant, name, now_ms)
            view["worker"] = self.settings.worker_name
            self.views[(tenant, name)] = view
            items[("queue", f"{tenant}/{name}")] = _JSON.encode(view)
        for tenant, name in agents:
            if (tenant, name) in self.core.agents:
                items[("agent", f"{tenant}/{name}")] = _JSON.encode(
                    self.core.agent_view(tenant, name, now_ms))
        for source, view in self.core.source_views(now_ms, refresh).items():
            items[("source", source)] = _JSON.encode(view)
        came_back = await self.publisher.publish(items, self.core.sources)
        self.stats.redis_up = self.publisher.up
        if came_back:
            self.core.changed_queues.update(self.core.queues)
            self.core.changed_agents.update(self.core.agents)

    async def _poll_config(self) -> None:
        raw = await self.publisher.read_overrides()
        if raw is None or raw == self._overrides_raw:
            return
        self._overrides_raw = raw
        try:
            overrides = {k: json.loads(v) for k, v in raw.items()}
            config = with_live_overrides(self.base_config, overrides)
        except (ValueError, ConfigError) as exc:
            log.error("ignoring live configuration in Redis: %s", exc)
            return
        async with self._lock:
            refused = self.core.reconfigure(config)
            await self._store()
        log.info("live configuration applied to %d queue(s)", len(overrides))
        for name in refused:
            log.error("queue %s: time zone or day start cannot change while running", name)

    def _highwater(self, tp: Any) -> int | None:
        """The partition's log end as of the last fetch, ``None`` before any."""
        try:
            end = self.app.consumer.highwater(tp)
        except (AttributeError, KeyError, AssertionError):  # no consumer or fetch yet
            return None
        return None if end is None else int(end)

    def _wall_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    def _now_ms(self) -> int:
        """The event clock now (``callpulse.clock``)."""
        return self.clock.now(self._wall_ms())


def _credentials(s: WorkerSettings) -> Any:
    """Faust's form of the Kafka security settings (``None``: plaintext)."""
    context = tls_context(s)
    if s.sasl:
        return faust.SASLCredentials(username=s.broker_sasl_username,
                                     password=s.broker_sasl_password,
                                     mechanism=s.broker_sasl_mechanism, ssl_context=context)
    return None if context is None else faust.SSLCredentials(context)


def create_app(settings: WorkerSettings, *, config: Config | None = None,
               redis_client: aioredis.Redis | None = None,
               wall_clock: Callable[[], float] = time.time,
               registry: CollectorRegistry | None = None) -> Worker:
    """Build the worker; every collaborator can be injected (tests pass their own registry,
    Redis client or clock). Nothing connects until the Faust app starts."""
    if config is None:
        config = load_config(settings.queue_config) if settings.queue_config else Config()
    if redis_client is None:
        redis_client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2,
                                               socket_connect_timeout=2)
    return Worker(settings, config=config, redis_client=redis_client, wall_clock=wall_clock,
                  registry=registry or CollectorRegistry(auto_describe=True))


async def create_topics(s: WorkerSettings) -> None:
    """Create the topics the worker reads and writes that are missing, with
    ``CALLPULSE_PARTITIONS``, before any client of Faust's asks for them (a broker that creates
    topics on a metadata request would give them its default count); refuse to start when the
    co-partitioned ones do not all have that count, as Faust's tables would not line up."""
    servers, auth = bootstrap_servers(s.broker_url), client_options(s)
    sources = (s.calls_topic, s.agents_topic, s.presence_topic)
    try:
        await ensure_topics(servers, sources, s.partitions, s.replication, **auth)
        await ensure_topics(servers, (s.dlq_topic,), 1, s.replication, **auth)
        counts = await partition_counts(servers, sources, **auth)
    except KafkaError as exc:  # one line, not a traceback; a supervisor restarts the worker
        raise CallpulseError(f"cannot create or read the topics on {s.broker_url}: "
                             f"{exc!r}") from None
    wrong = {name: n for name, n in counts.items() if n != s.partitions}
    if wrong:
        raise ConfigError(f"CALLPULSE_PARTITIONS is {s.partitions}, but "
                          + ", ".join(f"{name} has {n}" for name, n in sorted(wrong.items()))
                          + ": give every source topic the same partition count")


def run(settings: WorkerSettings) -> int:
    """``callpulse worker``: run until SIGINT/SIGTERM (Faust's worker handles both)."""
    from faust.worker import Worker as FaustWorker

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(create_topics(settings))
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    worker = create_app(settings)
    tune_gc()
    FaustWorker(worker.app, loglevel=settings.log_level.upper(), quiet=True,
                redirect_stdouts=False).execute_from_commandline()
    return 0
