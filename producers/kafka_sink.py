"""Canonical events onto Kafka, keyed as ``spec/EVENTS.md`` says, paced or as fast as possible."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from callpulse.errors import ConfigError
from callpulse.events import AgentEvent
from callpulse.settings import KafkaAuth

log = logging.getLogger("callpulse.producer")
_JSON = msgspec.json.Encoder()
_AGENT_TYPES = frozenset(t.__struct_config__.tag for t in AgentEvent.__subclasses__())


def tls_context(auth: KafkaAuth) -> ssl.SSLContext | None:
    """The TLS context (it verifies the broker's certificate and name), ``None`` without TLS;
    :class:`ConfigError` when a certificate file cannot be read."""
    if not auth.broker_security_protocol.endswith("SSL"):
        return None
    try:
        context = ssl.create_default_context(cafile=auth.broker_ssl_cafile or None)
        if auth.broker_ssl_certfile:
            context.load_cert_chain(auth.broker_ssl_certfile, auth.broker_ssl_keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"Kafka TLS files: {exc}") from None
    return context


def client_options(auth: KafkaAuth) -> dict[str, Any]:
    """Keyword arguments for aiokafka's clients."""
    options: dict[str, Any] = {"security_protocol": auth.broker_security_protocol}
    context = tls_context(auth)
    if context is not None:
        options["ssl_context"] = context
    if auth.sasl:
        options.update(sasl_mechanism=auth.broker_sasl_mechanism,
                       sasl_plain_username=auth.broker_sasl_username,
                       sasl_plain_password=auth.broker_sasl_password)
    return options


async def ensure_topics(servers: list[str], names: Iterable[str], partitions: int,
                        replication: int = 1, **auth: Any) -> None:
    """Create the topics that do not exist yet (an existing topic is left as it is). ``auth``:
    :func:`client_options`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, **auth)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, partitions, replication) for n in names if n not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process made it first
                await admin.create_topics(new)
    finally:
        await admin.close()


async def partition_counts(servers: list[str], names: Iterable[str], **auth: Any) -> dict[str, int]:
    """Each existing topic's partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, **auth)
    await admin.start()
    try:
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}


def route(event: dict[str, Any], calls_topic: str, agents_topic: str) -> tuple[str, bytes]:
    """The topic and key of one event: agent events by agent, everything else by queue."""
    if event["type"] in _AGENT_TYPES:
        return agents_topic, event["agent"].encode()
    return calls_topic, event["queue"].encode()


# How our sources produce. A few milliseconds of linger batch the records of a busy second;
# the embedded broker's fetches also slow down with the number of batches it holds
# (benchmarks/bench_latency.py measured it), so sending each event alone costs everyone.
PRODUCER_OPTIONS: Final[dict[str, Any]] = {
    "linger_ms": 5, "acks": "all", "enable_idempotence": False, "max_batch_size": 262_144,
}


async def produce(events: Iterable[dict[str, Any]], *, servers: list[str], calls_topic: str,
                  agents_topic: str, speed: float, start_ms: int,
                  clock: Callable[[], float] = time.monotonic, **auth: Any) -> int:
    """Send ``events`` (in ``ts`` order); with ``speed`` > 0, event time runs ``speed`` times
    faster than the wall clock from ``start_ms``. Heartbeats go to every partition of the calls
    topic, so every worker's clock hears them. Returns the number of events sent."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER_OPTIONS, **auth)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(calls_topic))
        wall0 = clock()
        n = 0
        for e in events:
            if speed > 0:
                due = wall0 + (e["ts"] - start_ms) / 1000 / speed
                delay = due - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            value = _JSON.encode(e)
            if e["type"] == "heartbeat":
                for p in partitions:
                    await producer.send(calls_topic, value, key=e["source"].encode(), partition=p)
            else:
                topic, key = route(e, calls_topic, agents_topic)
                await producer.send(topic, value, key=key)
            n += 1
        await producer.flush()
        return n
    finally:
        await producer.stop()
