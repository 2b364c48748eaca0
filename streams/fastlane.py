"""Batch delivery for Faust: our topics' records go to one handler per fetch, not one by one.

Faust delivers each record through its channel machinery (a task, a queue put and a stream
step per record), which caps a worker at a few thousand records a second on this machine
(NOTES.md: ~5,850/s with an agent doing nothing). The worker folds whole batches anyway
(DESIGN.md decision 4), so for its own topics the consumer hands over everything one fetch
returned, tracked; the handler acks each record (``consumer.ack``) once what it stands for is
durable, which may be after later batches. Faust's commit (of acked offsets only),
rebalancing (it waits for every tracked record's ack), table recovery, producer and web server
stay as they are. Records of other topics take Faust's usual path.

This subclasses Faust's aiokafka consumer and overrides ``_drain_messages``, a private method;
the ``faust-streaming`` version is pinned in ``pyproject.toml`` for that reason, and the
integration tests (crash, rebalance, replay equality) exercise it against a real broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import Message

from .logend import log_ends

log = logging.getLogger("callpulse.fastlane")
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
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
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        app = cast(BatchingApp, self.app)
        if not app.batch_topics:
            await super()._drain_messages(fetcher)
            return
        handler, lane = app.batch_handler, app.batch_topics
        callback = self.callback
        consumer_stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        read_offset, expected, holes = self._read_offset, self._expected, self._holes
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                batch: list[Message] = []
                early: dict[Any, int] = {}  # partition -> first offset past the expected one
                await asyncio.sleep(0)
                async for tp, message in self.getmany(timeout=1.0):
                    offset = message.offset
                    if tp.topic not in lane:
                        r_offset = read_offset[tp]
                        if r_offset is None or offset >= r_offset:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                            read_offset[tp] = offset
                        continue
                    want = expected.get(tp)
                    if want is None or offset < want:
                        continue  # fetched before the partition was positioned, or read already
                    if offset > want:
                        early.setdefault(tp, offset)
                        continue
                    expected[tp] = offset + 1
                    read_offset[tp] = offset
                    batch.append(message)
                if holes and batch:
                    for message in batch:
                        holes.pop((message.tp, message.offset), None)
                if batch and self.flow_active:
                    for message in batch:
                        self.track_message(message)
                    await handler(batch)  # it acks them, now or later
                elif batch:
                    # A rebalance began meanwhile: not handed over (nor tracked, so nothing
                    # waits for their acks); the next owner, maybe us after a seek, reads them
                    # again, so expect them again too.
                    for message in reversed(batch):
                        expected[message.tp] = message.offset
                for tp, offset in early.items():
                    await self._hole(tp, offset)
                if self._n_acked >= (self._commit_every or 1 << 62):
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise

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
        before a stop; the handler may hold acks until its next store, so it stores now (the
        flow is stopped by then: no batch follows)."""
        app = cast(BatchingApp, self.app)
        if app.batch_topics:
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
