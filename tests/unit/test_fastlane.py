"""The batch lane takes a partition's records only in offset order from its sought position:
records fetched before the seek, or past a hole, never reach the worker (``streams.fastlane``).

A real ``BatchingConsumer`` of an app that is never started; its fetch (``_wait_next_records``)
and seek are fakes, so the lane's own logic runs with no broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.fastlane import BatchingApp, BatchingConsumer, Span

T0 = TP("calls", 0)
T1 = TP("calls", 1)
OTHER = TP("queues-changelog", 0)


def record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", b"v", None, 1, 1, ())


class Lane:
    """Drives one consumer's lane over scripted fetches and records what it did."""

    def __init__(self, fetches: list[list[tuple[TP, int]]]) -> None:
        app = BatchingApp("lane-test", broker="kafka://127.0.0.1:1", autodiscover=False,
                          store="memory://")
        app.topic("calls", key_type=bytes, value_type=bytes)
        app.batch_topics = frozenset({"calls"})
        app.batch_handler = self.handle
        self.consumer: BatchingConsumer = app.consumer  # type: ignore[assignment]
        self.fetches = fetches
        self.handed: list[list[tuple[int, int]]] = []
        self.spans: list[list[Span]] = []
        self.seeks: list[tuple[TP, int]] = []
        self.gaps: list[tuple[TP, int, int]] = []
        self.consumer._wait_next_records = self.fetch  # type: ignore[method-assign]
        self.consumer.seek = self.seek  # type: ignore[method-assign]
        self.consumer._add_gap = self.add_gap  # type: ignore[method-assign]
        self.performed_seeks = 0
        self.fetcher = faust.Service()

    async def handle(self, batch: Sequence[ConsumerRecord[bytes, bytes]],
                     spans: Sequence[Span]) -> None:
        self.handed.append([(r.partition, r.offset) for r in batch])
        self.spans.append(list(spans))

    async def fetch(self, timeout: float) -> tuple[dict[TP, list[Any]] | None, set[TP] | None]:
        """One fetch: its records per partition, as the client returns them (no partition
        paused, so every one is active)."""
        if not self.fetches:
            self.fetcher._stopped.set()
            return None, None
        records: dict[TP, list[Any]] = {}
        for tp, offset in self.fetches.pop(0):
            records.setdefault(tp, []).append(record(tp, offset))
        return records, None

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def perform_seek(self) -> None:
        self.performed_seeks += 1

    async def add_gap(self, tp: TP, first: int, last: int) -> None:
        self.gaps.append((tp, first, last))

    def run(self, expected: dict[TP, int], flow_active: bool = True) -> None:
        self.consumer._expected.update(expected)
        self.consumer.flow_active = flow_active
        asyncio.run(self.consumer._drain_messages(self.fetcher))


def test_records_before_the_sought_position_or_of_unpositioned_partitions_are_skipped() -> None:
    lane = Lane([[(T0, 3), (T0, 4), (T0, 5), (T0, 6), (T1, 0)]])
    lane.run({T0: 5})  # T1 not positioned yet: its records came from before the seek
    assert lane.handed == [[(0, 5), (0, 6)]]
    assert lane.consumer._expected[T0] == 7 and lane.seeks == []


def test_records_past_a_hole_are_dropped_and_the_partition_sought_back() -> None:
    lane = Lane([[(T0, 8), (T0, 9)], [(T0, 5), (T0, 6), (T0, 7), (T0, 8)]])
    lane.run({T0: 5})
    assert lane.seeks == [(T0, 5)]  # once per fetch, not per record
    assert lane.handed == [[(0, 5), (0, 6), (0, 7), (0, 8)]]


def test_a_hole_that_comes_back_three_times_is_stepped_over() -> None:
    lane = Lane([[(T0, 9)], [(T0, 9)], [(T0, 9), (T0, 10)]])
    lane.run({T0: 5})
    assert lane.seeks == [(T0, 5), (T0, 5), (T0, 9)]
    assert lane.gaps == [(T0, 5, 8)]  # so commits can pass the offsets that never came
    assert lane.consumer._expected[T0] == 9
    assert lane.handed == []  # the records of that fetch come again after the seek


def test_a_batch_not_handed_over_during_a_rebalance_is_expected_again() -> None:
    # A record of another topic goes Faust's way first; a rebalance stops the flow meanwhile.
    lane = Lane([[(OTHER, 0), (T0, 5), (T0, 6)]])

    async def rebalance_begins(message: Any) -> None:
        lane.consumer.flow_active = False

    async def first(delivery: Any, suspended: Any) -> None:
        # Faust's waits on the service's own loop, which this test never runs.
        suspended.close()
        await delivery

    lane.consumer.callback = rebalance_begins  # type: ignore[assignment]
    lane.consumer.wait_first = first  # type: ignore[assignment]
    lane.run({T0: 5})
    assert lane.handed == []
    assert lane.consumer._expected[T0] == 5  # so the same records are taken when they return


def test_a_fetch_that_returns_once_the_flow_stopped_seeks_back_and_hands_nothing_over() -> None:
    lane = Lane([[(T0, 5), (T0, 6)]])
    lane.consumer.perform_seek = lane.perform_seek  # type: ignore[method-assign]
    lane.run({T0: 5}, flow_active=False)
    assert lane.handed == [] and lane.performed_seeks == 1
    assert lane.consumer._expected[T0] == 5


def test_each_batch_comes_with_its_span_per_partition() -> None:
    lane = Lane([[(T0, 5), (T0, 6), (T1, 2)], [(T0, 7), (T1, 3), (T1, 4)]])
    lane.run({T0: 5, T1: 2})
    assert lane.spans == [[(T0, 5, 6), (T1, 2, 2)], [(T0, 7, 7), (T1, 3, 4)]]


def test_acking_spans_makes_their_offsets_committable_once() -> None:
    consumer = Lane([]).consumer
    consumer._committed_offset[T0] = 6  # offsets below the committed one are not acked again
    consumer.ack_spans([(T0, 5, 8), (T1, 0, 1)])
    consumer.ack_spans([(T0, 8, 9)])
    assert consumer._acked[T0] == [6, 7, 8, 9] and consumer._acked[T1] == [0, 1]
    assert consumer._n_acked == 6
    assert consumer._new_offset(T0) == 10 and consumer._new_offset(T1) == 2


def test_a_hole_counts_again_from_zero_once_the_records_came() -> None:
    lane = Lane([[(T0, 9)], [(T0, 5)], [(T0, 9)], [(T0, 6), (T0, 9)]])
    lane.run({T0: 5})
    assert (T0, 6) not in {(tp, o) for tp, o, _ in lane.gaps}
    assert lane.seeks == [(T0, 5), (T0, 6), (T0, 7)]  # never stepped over: the records come
    assert lane.handed == [[(0, 5)], [(0, 6)]]


def test_the_lane_expects_the_offsets_it_seeks_to_not_the_clients_position(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane([])
    consumer = lane.consumer

    async def faust_seek(self: BatchingConsumer) -> None:
        self._committed_offset.update({T0: 7, T1: None})

    async def earliest(*tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 3)

    monkeypatch.setattr(faust_aiokafka.Consumer, "perform_seek", faust_seek)
    monkeypatch.setattr(consumer, "assignment", lambda: {T0, T1, TP("elsewhere", 0)})
    monkeypatch.setattr(consumer, "earliest_offsets", earliest)
    consumer._holes[(T0, 4)] = 2  # an old count must not carry over
    asyncio.run(consumer.perform_seek())
    assert consumer._expected == {T0: 7, T1: 3}
    assert sorted(lane.seeks) == [(T0, 7), (T1, 3)]
    assert consumer._holes == {}
