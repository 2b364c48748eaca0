"""Producing many keyed records at once: one client batch per partition, not one send each.

aiokafka's ``send`` costs tens of microseconds a record in Python (partitioning, the
accumulator, a future and an ``await`` each); the worker produces thousands a second (forwards,
presence, changelog states), and a profile at full speed found 11 % of its time there. Filling
a ``BatchBuilder`` per partition (aiokafka's C record builder) and submitting each with
``send_batch`` gives the same records on the same partitions for a fraction of that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

# (key, number of partitions) -> partition: Kafka's default (murmur2) partitioner, so keyed
# records land where the sources' own records of that key do.
Partitioner = Callable[[bytes, int], int]


async def produce_batched(
    producer: Any, topic: str, records: Sequence[tuple[bytes | None, bytes]],
    partition_of: Partitioner,
) -> list[asyncio.Future[Any]]:
    """Queue ``records`` (key, value) on ``topic`` of the aiokafka ``producer``, in order per
    partition; returns the futures of their batches, done once the broker has them (none for
    no records). A record with no key goes to the first partition."""
    if not records:
        return []
    partitions = sorted(await producer.partitions_for(topic))
    n = len(partitions)
    batches: dict[int, Any] = {}
    sent: list[asyncio.Future[Any]] = []
    for key, value in records:
        partition = partitions[0] if key is None else partitions[partition_of(key, n)]
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[partition] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # the first always fits
    for partition, batch in batches.items():
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent
