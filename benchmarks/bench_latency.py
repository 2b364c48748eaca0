"""Latency from an event's produce to its effect in the Redis snapshot, at a steady load.

A background producer sends simulated call-center events at ``--rate`` events/s (re-timed to
now, so the worker's clock is the wall clock). Every 20 ms a probe ``ringing`` goes to one of
20 probe queues; its latency is the time from handing it to the producer to the moment the
worker's pub/sub update shows that queue's ``today.offered`` count including it.
Goal (issue 3): p99 <= 400 ms at 2,000 events/s.

Usage: python benchmarks/bench_latency.py [--rate 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from producers.kafka_sink import ensure_topics, route
from producers.simulator import SimSettings, simulate
from tests.integration.stack import Stack, WorkerProc

PROBES = 20


async def run(stack: Stack, rate: float, seconds: float) -> list[float]:
    enc = msgspec.json.Encoder()
    start_ms = int(time.time() * 1000)
    background = simulate(SimSettings(start_ms=start_ms - 3_600_000, duration_s=48 * 3600,
                                      seed=3, queues=50, agents=500, heartbeat_s=5))
    await ensure_topics(stack.servers, ("lat.calls", "lat.agents"), 4)
    producer = AIOKafkaProducer(bootstrap_servers=stack.servers, linger_ms=1)
    await producer.start()
    r = aioredis.Redis(port=stack.redis_port)
    pubsub = r.pubsub()
    await pubsub.subscribe("lat:updates")
    sent: dict[str, list[float]] = {f"probe-{i}": [] for i in range(PROBES)}
    seen = dict.fromkeys(sent, 0)  # probes of each queue already measured
    latencies: list[float] = []

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            now = time.perf_counter()
            for item in json.loads(message["data"]):
                queue = item["data"].get("queue", "") if item["kind"] == "queue" else ""
                if queue in sent:
                    # every probe of the queue up to its offered count has now arrived
                    offered = min(item["data"]["frames"]["today"]["offered"], len(sent[queue]))
                    latencies += [now - t for t in sent[queue][seen[queue]:offered]]
                    seen[queue] = max(seen[queue], offered)

    listener = asyncio.create_task(listen())
    t0 = time.perf_counter()
    n = probe = 0
    interval = 1 / rate
    next_probe = t0
    offset_ms = None
    try:
        for e in background:
            now = time.perf_counter()
            if now - t0 > seconds:
                break
            if offset_ms is None:
                offset_ms = int(time.time() * 1000) - e["ts"]
            e = {**e, "ts": e["ts"] + offset_ms}  # re-timed: event time follows the wall clock
            if e["type"] == "heartbeat":
                continue
            topic, key = route(e, "lat.calls", "lat.agents")
            await producer.send(topic, enc.encode(e), key=key)
            n += 1
            if now >= next_probe:
                queue = f"probe-{probe % PROBES}"
                probe += 1
                p: dict[str, Any] = {"v": 1, "id": f"probe-{probe}", "type": "ringing",
                                     "ts": int(time.time() * 1000), "source": "probe",
                                     "call_id": f"p{probe}", "queue": queue}
                sent[queue].append(time.perf_counter())
                await producer.send("lat.calls", enc.encode(p), key=queue.encode())
                next_probe += 0.02
            delay = t0 + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
        await asyncio.sleep(2)
    finally:
        listener.cancel()
        await producer.stop()
        await r.aclose()
    print(f"sent {n:,} events in {time.perf_counter() - t0:.1f} s "
          f"({n / (time.perf_counter() - t0):,.0f}/s) and {probe} probes")
    return latencies


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        w = WorkerProc(stack.env("lat"), Path(tmp) / "worker.log").start()
        try:
            time.sleep(12)  # group join
            lat = sorted(asyncio.run(run(stack, args.rate, args.seconds)))
            if not lat:
                raise SystemExit("no probe came back")
            q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
            print(f"produce -> Redis snapshot at {args.rate:,.0f} events/s: {len(lat)} probes, "
                  f"p50 {q(0.5):.0f} ms, p90 {q(0.9):.0f} ms, p99 {q(0.99):.0f} ms, "
                  f"max {lat[-1] * 1000:.0f} ms (goal p99 <= 400 ms)")
        finally:
            w.terminate()
            stack.close()


if __name__ == "__main__":
    main()
