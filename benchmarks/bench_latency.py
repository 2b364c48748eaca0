"""Latency from an event's produce to its effect in the Redis snapshot, at a steady load.

A background producer sends simulated call-center events at ``--rate`` events/s, each stamped
with the wall clock as it is sent (so the worker's clock is the wall clock). Every 20 ms a
probe ``ringing`` goes to one of
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
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import redis
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
    sent: dict[str, list[float]] = {f"probe-{i}": [] for i in range(PROBES)}
    sent_ms: dict[str, list[int]] = {q: [] for q in sent}
    seen = dict.fromkeys(sent, 0)  # probes of each queue already measured
    latencies: list[float] = []
    in_snapshot: list[float] = []  # produce -> snapshot computed (the worker's as_of_ms)
    pubsub = redis.Redis(port=stack.redis_port).pubsub()
    pubsub.subscribe("lat:updates")
    stop = threading.Event()

    def listen() -> None:
        """In its own thread, so the producer's loop cannot delay what it sees."""
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.1)
            if not message or message["type"] != "message":
                continue
            now = time.perf_counter()
            for item in json.loads(message["data"]):
                queue = item["data"].get("queue", "") if item["kind"] == "queue" else ""
                if queue in sent:
                    # every probe of the queue up to its offered count has now arrived
                    offered = min(item["data"]["frames"]["today"]["offered"], len(sent[queue]))
                    latencies.extend(now - t for t in sent[queue][seen[queue]:offered])
                    as_of = item["data"]["as_of_ms"]
                    in_snapshot.extend((as_of - t) / 1000 for t in sent_ms[queue][seen[queue]:offered])
                    seen[queue] = max(seen[queue], offered)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    t0 = time.perf_counter()
    n = probe = 0
    interval = 1 / rate
    next_probe = t0
    try:
        for e in background:
            now = time.perf_counter()
            if now - t0 > seconds:
                break
            # Re-timed to the wall clock: the load is 2,000 events/s of real time, far more than
            # the simulated center makes, so its calls run faster, but event time stays now.
            e = {**e, "ts": int(time.time() * 1000)}
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
                sent_ms[queue].append(p["ts"])
                await producer.send("lat.calls", enc.encode(p), key=queue.encode())
                next_probe += 0.02
            delay = t0 + n * interval - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
        await producer.flush()
        await asyncio.sleep(2)
    finally:
        stop.set()
        listener.join()
        await producer.stop()
    print(f"sent {n:,} events in {time.perf_counter() - t0:.1f} s "
          f"({n / (time.perf_counter() - t0):,.0f}/s) and {probe} probes")
    print(f"probes whose effect was published: {len(latencies)} of {probe}")
    return latencies, in_snapshot


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch-max", type=int, default=5000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        log = Path(tmp) / "worker.log"
        w = WorkerProc(stack.env("lat", CALLPULSE_BATCH_MAX=str(args.batch_max)), log).start()
        try:
            time.sleep(12)  # group join
            received, published = asyncio.run(run(stack, args.rate, args.seconds))
            if not received:
                raise SystemExit("no probe came back; worker log:\n" + log.read_text()[-3000:])
            for what, lat in (("produce -> snapshot written (worker's as_of_ms)", published),
                              ("produce -> update received by a Redis subscriber", received)):
                lat = sorted(lat)
                q = lambda f, lat=lat: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
                print(f"{what} at {args.rate:,.0f} events/s: p50 {q(0.5):.0f} ms, "
                      f"p90 {q(0.9):.0f} ms, p99 {q(0.99):.0f} ms, max {lat[-1] * 1000:.0f} ms")
            print("goal: p99 <= 400 ms")
        finally:
            w.terminate()
            stack.close()


if __name__ == "__main__":
    main()
