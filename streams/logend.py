"""The true end of a partition's log, found by reading rather than by asking.

Faust restores a table by reading its changelog up to the end offset the broker reports
(ListOffsets, "latest") and then loads nothing more. The embedded broker (Tansu 0.6, memory
storage) reports the *first* offset of the last record batch plus one: a batch of five records at
offsets 1-5 gives an end of 2, not 6 (measured; ``tests/integration/test_log_end.py`` prints
what the broker reports next to what :func:`log_ends` finds).
Restoring to that offset leaves a table one batch behind, and the worker then skips the source
records that batch stood for: lost calls after every takeover or restart.

So the worker does not trust the reported end: it reads from there until a fetch returns
nothing. On a broker that reports the end correctly (Apache Kafka) that read finds no records
and the reported ends stand; it costs one empty fetch per recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

TPT = TypeVar("TPT", bound=tuple[str, int])

# How long one read may wait for records, and how long each fetch asks the broker to wait for
# them: a quiet read of this length after every partition has answered means "at the end".
_QUIET_MS = 300
_FETCH_WAIT_MS = 50


async def log_ends(servers: Sequence[str], reported: Mapping[TPT, int], *,
                   timeout_s: float = 30.0, **consumer_kwargs: Any) -> dict[TPT, int]:
    """``reported`` (partition -> end offset as the broker told it) corrected to the offset
    after the last record a fetch can actually see. If some partition never answers a fetch
    within ``timeout_s``, what was read so far is returned."""
    ends = dict(reported)
    known = {TopicPartition(tp[0], tp[1]): tp for tp in reported}
    if not known:
        return ends
    probe = AIOKafkaConsumer(bootstrap_servers=list(servers), enable_auto_commit=False,
                             fetch_max_wait_ms=_FETCH_WAIT_MS, **consumer_kwargs)
    await probe.start()
    try:
        probe.assign(list(known))
        for tp, ours in known.items():
            probe.seek(tp, max(0, reported[ours]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet = 0
        while True:
            batch = await probe.getmany(timeout_ms=_QUIET_MS)
            for tp, records in batch.items():
                ours = known[tp]
                ends[ours] = max(ends[ours], records[-1].offset + 1)
            # Nothing for two quiet periods in a row (many fetches, so a slow answer is not
            # taken for an empty one) and every partition has answered at least one fetch:
            # the positions are the ends.
            quiet = 0 if batch else quiet + 1
            answered = all(probe.highwater(tp) is not None for tp in known)
            if quiet and ((quiet >= 2 and answered) or loop.time() > deadline):
                return ends
    finally:
        await probe.stop()
