"""The worker's timer against a batch folded while it waits on Redis: the janitor and the views
must use the event clock as it is after that batch, not as it was when the tick began.

The Faust app is built but never started; its tables, producer and Redis are fakes, so the
test runs the real ``Worker`` code paths with no broker and no wall clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from callpulse.config import Config
from callpulse.errors import StoreError
from streams.app import Worker, create_app, partition_of
from streams.settings import WorkerSettings

from .fake_kafka import FakeProducer

T0 = 1_763_978_400_000  # the events' day
WALL_S = T0 / 1000 + 365 * 86_400  # the worker runs a year later (a replayed day)


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class FakeScript:
    def __init__(self, calls: list[list[Any]]) -> None:
        self.calls = calls

    async def __call__(self, *, args: list[Any]) -> int:
        self.calls.append(args)
        return 0


class FakeRedis:
    """What ``SnapshotPublisher`` uses of a Redis client; ``hgetall`` runs ``meanwhile`` first,
    as another coroutine would run while the real call waits on the network."""

    def __init__(self) -> None:
        self.published: list[list[Any]] = []
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    def register_script(self, script: str) -> FakeScript:
        return FakeScript(self.published)

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        if self.meanwhile is not None:
            job, self.meanwhile = self.meanwhile, None
            await job()
        return {}


class FakeConsumer:
    """Records the offsets acked (what Faust may then commit)."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack_spans(self, spans: list[tuple[object, int, int]]) -> None:
        for _, first, last in spans:
            self.acked.extend(range(first, last + 1))


class FakeTopic:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class FakeTable:
    """What the worker uses of a Faust table: its store and its changelog's name."""

    def __init__(self, changelog: str) -> None:
        self.data: dict[bytes, bytes] = {}
        self.changelog_topic = FakeTopic(changelog)

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)


def event(offset: int, etype: str, ts_s: float, **fields: object) -> FakeMessage:
    value = {"v": 1, "id": f"e{offset}", "type": etype, "ts": T0 + round(ts_s * 1000),
             "source": "pbx", "queue": "q", **fields}
    return FakeMessage("callpulse.calls", 0, offset, b"q", json.dumps(value).encode())


def fold(worker: Worker, records: list[FakeMessage]) -> Awaitable[None]:
    """Hand a batch over as the lane does: the records, then their span per partition."""
    spans = [(("callpulse.calls", r.partition), r.offset, r.offset) for r in records]
    return worker._fold_batch(records, spans)


def worker_with_fakes(redis: FakeRedis) -> Worker:
    worker = create_app(WorkerSettings(worker_name="w"), config=Config(), redis_client=redis,
                        wall_clock=lambda: WALL_S, registry=CollectorRegistry())
    worker.queue_table = FakeTable("queues-changelog")  # type: ignore[assignment]
    worker.agent_table = FakeTable("agents-changelog")  # type: ignore[assignment]
    worker.app.producer = FakeProducer()  # type: ignore[assignment]
    worker.app.consumer = FakeConsumer()  # type: ignore[assignment]
    return worker


def worker_and_kafka() -> tuple[Worker, FakeConsumer, FakeProducer]:
    """A worker on fakes, with its fake consumer (acks) and producer (sends) at hand."""
    worker = worker_with_fakes(FakeRedis())
    return (worker, worker.app.consumer,  # type: ignore[return-value]
            worker.app.producer)


def test_a_batch_folded_while_the_tick_waits_is_swept_and_shown_at_event_time() -> None:
    async def go() -> None:
        redis = FakeRedis()
        worker = worker_with_fakes(redis)
        batch = [event(0, "ringing", 0, call_id="c1"),
                 event(1, "answered", 12, call_id="c1", agent="a1"),
                 event(2, "ringing", 30, call_id="c2")]
        redis.meanwhile = lambda: fold(worker, batch)
        await worker._tick()

        q = worker.core.queues[("default", "q")]
        assert sorted(q.calls) == ["c1", "c2"], "the janitor must not run at the wall time"
        assert q.intervals, "nor drop the intervals the batch just built"
        assert q.waiting == {"c2": T0 + 30_000}
        # Published by the tick, or already by the batch itself (it publishes without waiting
        # for the tick): the newest item of each key counts.
        items = {args[3 + 3 * i]: args[4 + 3 * i]  # key -> JSON
                 for args in redis.published for i in range(args[1])}
        view = json.loads(items["default/q"])
        assert view["as_of_ms"] == T0 + 30_000  # the event clock, not the wall
        assert view["live"]["waiting"] == 1
        assert view["frames"]["today"]["offered"] == 2
        source = json.loads(items["pbx"])  # the source's alert, published with the queues
        assert source["stale"] is False and source["last_event_ms"] == T0 + 30_000
        # The state is stored and sent to the changelog partition of the queue's records.
        stored = worker.core.dump_queue_key("q")
        assert worker.queue_table.data[b"q"] == stored
        sent = worker.app.producer.sent  # type: ignore[attr-defined]
        assert sent[-1] == ("queues-changelog", b"q", stored, partition_of(b"q", 4))

    asyncio.run(go())


def test_a_folded_batch_is_published_without_waiting_for_the_tick() -> None:
    async def go() -> None:
        redis = FakeRedis()
        worker = worker_with_fakes(redis)
        await fold(worker, [event(0, "ringing", 0, call_id="c1")])
        for _ in range(50):  # the publish runs as its own task, within PUBLISH_GAP_S
            if redis.published:
                break
            await asyncio.sleep(0.01)
        [args] = redis.published
        assert args[2:4] == ["queue", "default/q"]
        assert json.loads(args[4])["live"]["waiting"] == 1

    asyncio.run(go())


def test_records_are_acked_only_once_a_store_covers_them() -> None:
    async def go() -> None:
        worker, consumer, producer = worker_and_kafka()
        await fold(worker, [event(0, "ringing", 0, call_id="c1")])
        assert await worker._stored()
        assert consumer.acked == [0]  # the first batch stores at once
        await fold(worker, [event(1, "ringing", 1, call_id="c2")])
        await fold(worker, [event(2, "ringing", 2, call_id="c3")])
        assert await worker._stored()
        assert consumer.acked == [0], "acked before their states were stored"
        stored_before = len(producer.sent)
        worker._next_store = 0.0  # STORE_S has passed: the tick stores and acks
        await worker._tick()
        assert await worker._stored()
        assert consumer.acked == [0, 1, 2]
        changelog = [r for r in producer.sent[stored_before:] if r[0] == "queues-changelog"]
        assert [r[2] for r in changelog] == [worker.core.dump_queue_key("q")]  # once, not twice
        assert worker.queue_table.data[b"q"] == worker.core.dump_queue_key("q")

    asyncio.run(go())


def test_batches_fold_while_a_store_waits_for_the_broker() -> None:
    async def go() -> None:
        worker, consumer, producer = worker_and_kafka()
        producer.hold = True  # the broker has not answered the store yet
        await asyncio.wait_for(fold(worker, [event(0, "ringing", 0, call_id="c1")]), 1)
        await asyncio.wait_for(fold(worker, [event(1, "ringing", 1, call_id="c2")]), 1)
        assert worker.core.queues[("default", "q")].today.v[0] == 2  # folded meanwhile
        assert consumer.acked == [], "acked before the broker took the state"
        producer.release()
        assert await worker._stored()
        assert consumer.acked == [0], "the store covered only the batch folded before it"
        await worker._flush()
        assert consumer.acked == [0, 1]

    asyncio.run(go())


def test_a_failed_store_acks_nothing_and_the_next_store_writes_the_keys_again() -> None:
    async def go() -> None:
        worker, consumer, producer = worker_and_kafka()
        producer.fail_on = "queues-changelog"
        await fold(worker, [event(0, "ringing", 0, call_id="c1")])
        assert not await worker._stored()
        assert consumer.acked == []
        assert worker.core.dirty_queue_keys == {"q"}
        with pytest.raises(StoreError):  # what a stop or a rebalance then does
            await worker._flush()
        producer.fail_on = None
        sent_before = len(producer.sent)
        await worker._flush()
        assert consumer.acked == [0]
        assert [r[:2] for r in producer.sent[sent_before:]] == [("queues-changelog", b"q")]

    asyncio.run(go())


def test_a_batch_cut_off_before_its_effects_are_produced_is_never_stored() -> None:
    async def go() -> None:
        worker, consumer, producer = worker_and_kafka()
        await fold(worker, [event(0, "ringing", 0, call_id="c1")])
        await fold(worker, [event(1, "ringing", 1, call_id="c2")])
        assert await worker._stored()
        assert consumer.acked == [0]
        producer.fail_on = "callpulse.agents"  # the answer's forward to the agent fails
        with pytest.raises(ConnectionError):
            await fold(worker, [event(2, "answered", 2, call_id="c1", agent="a1")])
        producer.fail_on = None
        stored_before = len(producer.sent)
        await worker._flush()  # what a stop does: the state is ahead of its effects
        assert consumer.acked == [0], "offset 1 acked with a state that claims offset 2"
        assert producer.sent[stored_before:] == []

    asyncio.run(go())
