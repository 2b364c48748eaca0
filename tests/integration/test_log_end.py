"""``streams.logend.log_ends``: the offset after a partition's last record, whatever the broker's
ListOffsets says (the embedded broker reports the start of the last batch plus one)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from producers.kafka_sink import ensure_topics
from streams.logend import log_ends

from .stack import Stack

pytestmark = pytest.mark.integration


def test_log_ends_are_past_the_last_record_of_multi_record_batches(stack: Stack,
                                                                   unique: str) -> None:
    topic = f"{unique}.log"

    async def go() -> None:
        await ensure_topics(stack.servers, (topic,), 3)
        producer = AIOKafkaProducer(bootstrap_servers=stack.servers, linger_ms=50)
        reader = AIOKafkaConsumer(bootstrap_servers=stack.servers)
        await producer.start()
        await reader.start()
        tps = [TopicPartition(topic, p) for p in range(3)]
        try:
            # Partition 0: batches of 1, 5 and 3 records; 1: one record; 2: nothing.
            for partition, sizes in ((0, (1, 5, 3)), (1, (1,))):
                for size in sizes:
                    sent = [await producer.send(topic, b"v", key=b"k", partition=partition)
                            for _ in range(size)]
                    await asyncio.gather(*sent)
            reported = await reader.end_offsets(tps)
            print("ListOffsets latest:", {tp.partition: end for tp, end in reported.items()})
            ends = await log_ends(stack.servers, reported)
            assert {tp.partition: end for tp, end in ends.items()} == {0: 9, 1: 1, 2: 0}
            # A reported end that is already right stays as it is.
            assert await log_ends(stack.servers, {tps[0]: 9, tps[2]: 0}) == {tps[0]: 9,
                                                                             tps[2]: 0}
        finally:
            await producer.stop()
            await reader.stop()

    asyncio.run(go())
