"""A fake of the aiokafka producer's batch interface (what ``streams.produce`` uses): it
records what reaches each partition and can refuse a topic's records, like a broker."""

from __future__ import annotations

import asyncio


class FakeBatch:
    """A client batch that holds ``capacity`` records (aiokafka's is bounded by bytes)."""

    def __init__(self, capacity: int) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []
        self.capacity = capacity

    def append(self, *, key: bytes | None, value: bytes, timestamp: float | None) -> object:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return True


class FakeProducer:
    """The client producer: ``sent`` lists (topic, key, value, partition) in send order."""

    def __init__(self, partitions: int = 4, batch_capacity: int = 2) -> None:
        self.partitions = partitions
        self.batch_capacity = batch_capacity
        self.sent: list[tuple[str, bytes | None, bytes, int]] = []
        self.batches = 0
        self.fail_on: str | None = None  # a topic whose records the broker refuses
        self.hold = False  # the broker answers only on release()
        self._held: list[asyncio.Future[None]] = []

    def _ensure_producer(self) -> FakeProducer:  # Faust's producer gives its client this way
        return self

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(1 if topic.endswith("dlq") else self.partitions))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *,
                         partition: int) -> asyncio.Future[None]:
        self.batches += 1
        self.sent.extend((topic, key, value, partition) for key, value in batch.records)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.hold:
            self._held.append(done)
        elif topic == self.fail_on:
            done.set_exception(ConnectionError("broker refused"))
        else:
            done.set_result(None)
        return done

    def release(self) -> None:
        """The broker answers every batch held."""
        self.hold = False
        for done in self._held:
            done.set_result(None)
        self._held.clear()
