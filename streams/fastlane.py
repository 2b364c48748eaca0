"""Batch delivery for Faust: our topics' records go to one handler per fetch, not one by one.

Faust delivers each record through its channel machinery (a task, a queue put and a stream
step per record), which caps a worker at a few thousand records a second on this machine
(NOTES.md: ~5,850/s with an agent doing nothing). The worker folds whole batches anyway
(DESIGN.md decision 4), so for its own topics the consumer hands over everything one fetch
returned, as the client's records with their offset span per partition; the handler acks the
spans (``ack_spans``) once what they stand for is durable, which may be after later batches.
Faust's commit (of acked offsets only), table recovery, producer and web server stay as they
are; before a rebalance or a stop, the consumer waits for the batch being handled and has the
handler store and ack everything (``wait_empty``). Records of other topics take Faust's usual
path.

This subclasses Faust's aiokafka consumer and overrides ``_drain_messages``, a private method;
the ``faust-streaming`` version is pinned in ``pyproject.toml`` for that reason, and the
integration tests (crash, rebalance, replay equality) exercise it against a real broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from .logend import log_ends

log = logging.getLogger("callpulse.fastlane")
# (partition, first offset, last offset) of a batch's records of one partition
Span = tuple[Any, int, int]
# A batch: the client's records (topic, partition, offset, key, value), then their spans.
BatchHandler = Callable[[Sequence[Any], Sequence[Span]], Awaitable[None]]
BatchFlush = Callable[[], Awaitable[None]]


# How long a fetch may wait for data. Faust hard-codes 1.5 s; a broker should answer as soon
# as any data is there, but the embedded broker (Tansu 0.6) often holds a fetch for the whole
# wait: measured produce-to-consume p50 415 ms at 1.5 s and 27 ms at 0.1 s. A short wait only
# costs an idle worker a few empty fetches a second.
FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    _servers: list[str]

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the value here and hands it to its fetcher when it starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        self._servers = faust_aiokafka.server_list(transport.url, transport.default_port)
        return consumer

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        """Table recovery reads changelogs up to these offsets; they are read, not trusted
        (``streams.logend``)."""
        reported = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return reported  # last stable offsets, not log ends
        return await log_ends(self._servers, reported,
                              **faust_aiokafka.credentials_to_aiokafka_auth(
                                  self.app.conf.broker_credentials, self.app.conf.ssl_context))


class BatchingConsumer(faust_aiokafka.Consumer):
    """Faust's consumer with a batch lane for the app's ``batch_topics``.

    The lane takes a partition's records only in offset order from the offset the last seek
    went to (``_expected``: the next offset it accepts). Faust resumes a partition before seeking
    it to its committed offset once a rebalance's recovery is done, so a fetch from the old
    position can arrive first; and records fetched while a partition was paused are dropped
    by Faust without a seek back. Taken as they come, either would skip records for good
    (the kill -9 test caught both). A record past the expected offset is dropped and the
    partition sought back; the third time the same hole is seen (records deleted, or
    transaction markers) the lane steps over it, with a warning.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._expected: dict[Any, int] = {}  # partition -> the next offset the lane takes
        self._holes: dict[tuple[Any, int], int] = {}  # (partition, offset) -> seeks back
        self._in_handler = 0  # batches being handled
        self._handler_idle = asyncio.Event()
        self._handler_idle.set()
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        app = cast(BatchingApp, self.app)
        if not app.batch_topics:
            await super()._drain_messages(fetcher)
            return
        consumer_stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                await asyncio.sleep(0)
                await self._drain_once(app)
                if self._n_acked >= (self._commit_every or 1 << 62):
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise

    async def _drain_once(self, app: BatchingApp) -> None:
        """One fetch, as Faust's ``getmany`` takes it (active partitions only; nothing while
        the flow is stopped; stop at a new generation), but a lane record stays the client's
        record: no Faust message, no tracking, no per-record sensors and high-water reads,
        which together cost the worker about a sixth of its time at full speed (profiled)."""
        records, active = await self._wait_next_records(1.0)
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            await self.perform_seek()  # as Faust's getmany does
            return
        generation = app.consumer_generation_id
        lane, expected, read_offset = app.batch_topics, self._expected, self._read_offset
        batch: list[Any] = []
        spans: list[Span] = []
        early: dict[Any, int] = {}  # partition -> first offset past the expected one
        for tp, fetched in records.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            if tp.topic not in lane:
                await self._deliver(tp, fetched, generation)
                continue
            want = expected.get(tp)
            if want is None:
                continue  # fetched before the partition was positioned
            first = want
            for record in fetched:
                offset = record.offset
                if offset < want:
                    continue  # read already
                if offset > want:
                    early.setdefault(tp, offset)
                    break
                batch.append(record)
                want += 1
            if want > first:
                expected[tp] = want
                read_offset[tp] = want - 1
                spans.append((tp, first, want - 1))
        if spans:
            self._holes_filled(spans)
            if self.flow_active and app.consumer_generation_id == generation:
                await self._handle(app, batch, spans)
            else:
                # A rebalance began meanwhile: not handed over; the next owner, maybe us after
                # a seek, reads them again, so expect them again too.
                for tp, first, _ in spans:
                    expected[tp] = first
        for tp, offset in early.items():
            await self._hole(tp, offset)

    async def _deliver(self, tp: Any, fetched: Sequence[Any], generation: int) -> None:
        """Records of other topics take Faust's usual path, one by one."""
        read_offset, callback = self._read_offset, self.callback
        for record in fetched:
            if not self.flow_active or self.app.consumer_generation_id != generation:
                return
            r_offset = read_offset[tp]
            if r_offset is None or record.offset >= r_offset:
                message = self._to_message(tp, record)
                await self.wait_first(callback(message), self.suspend_flow.wait())
                read_offset[tp] = record.offset

    def _holes_filled(self, spans: Sequence[Span]) -> None:
        if self._holes:
            for tp, first, _ in spans:
                self._holes.pop((tp, first), None)

    async def _handle(self, app: BatchingApp, batch: Sequence[Any], spans: Sequence[Span]) -> None:
        """Hand a batch over; until the handler returns, a rebalance or a stop waits for it
        (``wait_empty``), as Faust waits for the records it tracks."""
        self._in_handler += 1
        self._handler_idle.clear()
        try:
            await app.batch_handler(batch, spans)  # it acks them, now or later
        finally:
            self._in_handler -= 1
            if not self._in_handler:
                self._handler_idle.set()

    def ack_spans(self, spans: Iterable[Span]) -> None:
        """Ack every offset of each ``(partition, first, last)`` span handed over: what Faust's
        ``ack`` does per record, for a whole batch at once. Faust commits acked offsets up to
        the first one missing."""
        acked_total = 0
        with ack_lock:
            for tp, first, last in spans:
                committed = self._committed_offset[tp]
                if committed is not None:
                    first = max(first, committed)
                index = self._acked_index[tp]
                new = [offset for offset in range(first, last + 1) if offset not in index]
                index.update(new)
                self._acked[tp].extend(new)
                acked_total += len(new)
            self._n_acked += acked_total
        notify(self._waiting_for_ack)

    async def _hole(self, tp: Any, offset: int) -> None:
        """Records from the expected offset to ``offset`` did not come: seek back to them; the
        third time (they are gone) go on from ``offset``."""
        want = self._expected.get(tp)
        if want is None or offset <= want:
            return
        seen = self._holes.get((tp, want), 0) + 1
        if seen < 3:
            self._holes[(tp, want)] = seen
            await self._seek_lane(tp, want)
            return
        log.warning("%s: offsets %d to %d never arrived (deleted, or transaction markers); "
                    "going on from %d", tp, want, offset - 1, offset)
        self._holes.pop((tp, want), None)
        await self._add_gap(tp, want, offset - 1)  # so commits can pass them
        if self._expected.get(tp) == want:  # not revoked or sought meanwhile
            self._expected[tp] = offset
            await self._seek_lane(tp, offset)

    async def _seek_lane(self, tp: Any, offset: int) -> None:
        try:
            await self.seek(tp, offset)
        except IllegalStateError:
            self._expected.pop(tp, None)  # revoked meanwhile: the next owner reads it

    async def perform_seek(self) -> None:
        """Seek every partition to its committed offset (Faust), and our topics' partitions
        with none to the start of their log (aiokafka leaves those where the fetcher stopped;
        ``auto_offset_reset`` is ``earliest``). The lane expects exactly those offsets, set
        before the seeks: records the lane drops meanwhile move the client's position, so the
        position is never what it expects."""
        await super().perform_seek()
        lane = cast(BatchingApp, self.app).batch_topics
        mine = [tp for tp in self.assignment() if tp.topic in lane]
        starts = {tp: self._committed_offset.get(tp) for tp in mine}
        fresh = [tp for tp, offset in starts.items() if offset is None]
        if fresh:
            starts.update(await self.earliest_offsets(*fresh))
        for tp in mine:
            self._forget(tp)
            self._expected[tp] = cast(int, starts[tp])
        for tp in mine:
            await self._seek_lane(tp, self._expected[tp])

    def _forget(self, tp: Any) -> None:
        self._expected.pop(tp, None)
        for hole in [h for h in self._holes if h[0] == tp]:
            del self._holes[hole]

    async def wait_empty(self) -> None:
        """Faust waits here for every tracked record's ack before a rebalance goes on and
        before a stop. The lane's records are not tracked: wait for a batch being handled,
        then have the handler store and ack everything handed over (the flow is stopped by
        then: no batch follows)."""
        app = cast(BatchingApp, self.app)
        if app.batch_topics:
            await self._handler_idle.wait()
            await app.batch_flush()
        await super().wait_empty()

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        for tp in revoked:
            self._forget(tp)
        await super().on_partitions_revoked(revoked)


class BatchingTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type] = BatchingConsumer


class BatchingApp(faust.App):
    """A Faust app whose consumer sends ``batch_topics`` records to ``batch_handler``, which
    acks them once they are durable; ``batch_flush`` makes every record handed over durable
    and acked (before a rebalance or a stop)."""

    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler
    batch_flush: BatchFlush

    def _new_transport(self) -> Any:
        return BatchingTransport(self.conf.broker_consumer, self)
