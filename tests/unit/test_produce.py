"""``streams.produce``: many keyed records go out as one client batch per partition, on the
partition Kafka's default partitioner gives their key, in order."""

from __future__ import annotations

import asyncio

from streams.app import partition_of
from streams.produce import produce_batched

from .fake_kafka import FakeProducer


def test_records_go_to_their_keys_partition_in_order_a_batch_per_partition_at_a_time() -> None:
    producer = FakeProducer(partitions=4, batch_capacity=2)
    records = [(f"agent-{i % 5}".encode(), f"v{i}".encode()) for i in range(12)]

    async def go() -> None:
        futures = await produce_batched(producer, "callpulse.agents", records, partition_of)
        await asyncio.gather(*futures)
        assert len(futures) == producer.batches

    asyncio.run(go())
    assert sorted(producer.sent, key=lambda s: int(s[2][1:])) == [
        ("callpulse.agents", key, value, partition_of(key, 4)) for key, value in records]
    for partition in range(4):  # per partition, the records keep their order
        values = [v for _, _, v, p in producer.sent if p == partition]
        assert values == sorted(values, key=lambda v: int(v[1:]))
    # 12 records over the partitions of five keys, two records a batch: full batches went out
    # as they filled, and each partition's last one at the end.
    per_partition = [sum(1 for s in producer.sent if s[3] == p) for p in range(4)]
    assert producer.batches == sum((n + 1) // 2 for n in per_partition)


def test_a_record_without_a_key_goes_to_the_first_partition() -> None:
    producer = FakeProducer()

    async def go() -> None:
        await asyncio.gather(*await produce_batched(producer, "callpulse.dlq", [(None, b"x")],
                                                    partition_of))

    asyncio.run(go())
    assert producer.sent == [("callpulse.dlq", None, b"x", 0)]
