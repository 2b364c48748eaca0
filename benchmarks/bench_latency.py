"""Latency from an event's produce to its effect in the Redis snapshot, at a steady load.

A background producer sends simulated call-center events at ``--rate`` events/s, each stamped
with the wall clock as it is sent (so the worker's clock is the wall clock), with the settings
our own sources use (``producers.kafka_sink.PRODUCER_OPTIONS``). Every 20 ms a probe
``ringing`` goes to one of 20 probe queues; its latency is the time from its ``ts`` to:

- the broker floor: a bare aiokafka consumer of the calls topic receiving it (what any
  consumer of this broker sees; no worker work);
- the snapshot: the ``as_of_ms`` of the first snapshot of its queue counting it in
  ``today.offered``;
- the subscriber: that snapshot's pub/sub update reaching a Redis subscriber;
- the wallboard: the delta carrying it reaching a websocket client of a ``callpulse
  wallboard`` server (the whole stack, as a browser would see it).

The floor, the subscriber and the websocket client run in processes of their own, as a
wallboard server would, so the producer's event loop cannot delay what they see. Goals: p99 <=
400 ms at 2,000 events/s, subscriber included (issue 3); p99 <= 600 ms at 1,000 events/s to a
websocket client (issue 4).

Usage: python benchmarks/bench_latency.py [--rate 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from websockets.asyncio.client import connect

from launcher import embedded
from producers.kafka_sink import PRODUCER_OPTIONS, ensure_topics, route
from producers.simulator import SimSettings, simulate
from tests.integration.stack import Stack, WorkerProc

PROBES = 20
TOKEN = "bench-viewer-token-000001"
CALLS, AGENTS = "lat.calls", "lat.agents"
# (queue, count of its probes seen, seen at ms, snapshot as_of_ms or None for the floor)
Sighting = tuple[str, int, float, int | None]


def subscriber(redis_port: int, seconds: float, out: Connection) -> None:
    """Each probe queue's ``today.offered`` as updates arrive on the channel."""
    pubsub = redis.Redis(port=redis_port).pubsub()
    pubsub.subscribe("lat:updates")
    seen: list[Sighting] = []
    out.send("ready")
    end = time.time() + seconds
    while time.time() < end:
        message = pubsub.get_message(timeout=0.1)
        if not message or message["type"] != "message":
            continue
        seen += sightings(json.loads(message["data"]), time.time() * 1000)
    out.send(seen)


def sightings(items: list[dict[str, Any]], now_ms: float) -> list[Sighting]:
    """The probe queues among ``items`` with the probes they count."""
    return [(item["data"]["queue"], item["data"]["frames"]["today"]["offered"], now_ms,
             item["data"]["as_of_ms"])
            for item in items
            if item["kind"] == "queue" and item["data"].get("queue", "").startswith("probe-")]


def wallboard_client(url: str, seconds: float, out: Connection) -> None:
    """A websocket client of the wallboard: the probe queues in each delta it receives."""

    async def follow() -> list[Sighting]:
        seen: list[Sighting] = []
        async with connect(url, max_size=None) as ws:
            out.send("ready")
            end = time.time() + seconds
            while time.time() < end:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                now_ms = time.time() * 1000
                seen += sightings(json.loads(raw).get("items", []), now_ms)
        return seen

    out.send(asyncio.run(follow()))


def floor(servers: list[str], seconds: float, out: Connection) -> None:
    """A bare consumer of the calls topic: how many probes of each queue it has received."""

    async def consume() -> list[Sighting]:
        consumer = AIOKafkaConsumer(CALLS, bootstrap_servers=servers, group_id=None,
                                    auto_offset_reset="latest", fetch_max_wait_ms=100)
        await consumer.start()
        counts: dict[str, int] = {}
        seen: list[Sighting] = []
        out.send("ready")
        end = time.time() + seconds
        try:
            while time.time() < end:
                batch = await consumer.getmany(timeout_ms=100)
                now_ms = time.time() * 1000
                for records in batch.values():
                    for r in records:
                        if r.key is not None and r.key.startswith(b"probe-"):
                            queue = r.key.decode()
                            counts[queue] = counts.get(queue, 0) + 1
                            seen.append((queue, counts[queue], now_ms, None))
        finally:
            await consumer.stop()
        return seen

    out.send(asyncio.run(consume()))


async def produce(stack: Stack, rate: float, seconds: float) -> dict[str, list[int]]:
    """Send the load and the probes; returns each probe queue's probe ``ts`` in send order."""
    enc = msgspec.json.Encoder()
    start_ms = int(time.time() * 1000)
    background = simulate(SimSettings(start_ms=start_ms - 3_600_000, duration_s=48 * 3600,
                                      seed=3, queues=50, agents=500, heartbeat_s=5))
    producer = AIOKafkaProducer(bootstrap_servers=stack.servers, **PRODUCER_OPTIONS)
    await producer.start()
    sent: dict[str, list[int]] = {f"probe-{i}": [] for i in range(PROBES)}
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
            topic, key = route(e, CALLS, AGENTS)
            await producer.send(topic, enc.encode(e), key=key)
            n += 1
            if now >= next_probe:
                queue = f"probe-{probe % PROBES}"
                probe += 1
                p: dict[str, Any] = {"v": 1, "id": f"probe-{probe}", "type": "ringing",
                                     "ts": int(time.time() * 1000), "source": "probe",
                                     "call_id": f"p{probe}", "queue": queue}
                sent[queue].append(p["ts"])
                await producer.send(CALLS, enc.encode(p), key=queue.encode())
                next_probe += 0.02
            delay = t0 + n * interval - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
        await producer.flush()
    finally:
        await producer.stop()
    print(f"sent {n:,} events in {time.perf_counter() - t0:.1f} s "
          f"({n / (time.perf_counter() - t0):,.0f}/s) and {probe} probes")
    return sent


def latencies(sent: dict[str, list[int]], seen: list[Sighting], snapshot: bool) -> list[float]:
    """Per probe, from its ``ts`` to the first sighting counting it (the snapshot's
    ``as_of_ms`` with ``snapshot``, else the time it was seen), in ms."""
    first: dict[str, int] = dict.fromkeys(sent, 0)  # probes of each queue already measured
    out = []
    for queue, count, seen_ms, as_of_ms in sorted(seen, key=lambda s: s[2]):
        count = min(count, len(sent[queue]))
        at = as_of_ms if snapshot and as_of_ms is not None else seen_ms
        out.extend(at - ts for ts in sent[queue][first[queue]:count])
        first[queue] = max(first[queue], count)
    return sorted(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch-max", type=int, default=5000)
    p.add_argument("--no-wallboard", dest="wallboard", action="store_false",
                   help="without the wallboard server and its client (the pipeline alone, whose "
                        "goal is p99 <= 400 ms at 2,000 events/s)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        log = Path(tmp) / "worker.log"
        asyncio.run(ensure_topics(stack.servers, (CALLS, AGENTS), 4))
        env = stack.env("lat", CALLPULSE_BATCH_MAX=str(args.batch_max))
        w = WorkerProc(env, log).start()
        port = embedded.free_port()
        board = subprocess.Popen(
            [sys.executable, "-m", "launcher.cli", "wallboard"], stderr=subprocess.DEVNULL,
            env={**env, "CALLPULSE_WALLBOARD_PORT": str(port),
                 "CALLPULSE_WALLBOARD_TOKENS": f"bench:viewer:{TOKEN}"}) if args.wallboard else None
        ctx = mp.get_context("spawn")
        watchers = []
        targets: list[tuple[Any, Any]] = [(subscriber, stack.redis_port), (floor, stack.servers)]
        try:
            if board is not None:
                embedded.wait_port("127.0.0.1", port, 30, board, "the wallboard")
                targets.append((wallboard_client, f"ws://127.0.0.1:{port}/ws?token={TOKEN}"))
            time.sleep(12)  # group join
            for target, arg in targets:
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=target, args=(arg, args.seconds + 4, theirs))
                proc.start()
                assert mine.recv() == "ready"
                watchers.append((proc, mine))
            sent = asyncio.run(produce(stack, args.rate, args.seconds))
            updates, fetched, *rest = [conn.recv() for _, conn in watchers]
            deltas = rest[0] if rest else []
            probes = sum(map(len, sent.values()))
            results = [("broker floor: produce -> a bare consumer", latencies(sent, fetched, False)),
                       ("produce -> snapshot written (its as_of_ms)", latencies(sent, updates, True)),
                       ("produce -> update received by a Redis subscriber",
                        latencies(sent, updates, False)),
                       ("produce -> figure received by a wallboard websocket client",
                        latencies(sent, deltas, False))][:len(watchers) + 1]
            if not results[2][1]:
                raise SystemExit("no probe came back; worker log:\n" + log.read_text()[-3000:])
            for what, lat in results:
                q = lambda f, lat=lat: lat[min(len(lat) - 1, int(f * len(lat)))]  # noqa: E731
                print(f"{what} at {args.rate:,.0f} events/s ({len(lat)} of {probes} probes): "
                      f"p50 {q(0.5):.0f} ms, p90 {q(0.9):.0f} ms, p99 {q(0.99):.0f} ms, "
                      f"max {lat[-1]:.0f} ms")
            print("goals: p99 <= 400 ms at 2,000 events/s (subscriber); "
                  "p99 <= 600 ms at 1,000 events/s (websocket client)")
        finally:
            for proc, _ in watchers:
                proc.join(timeout=10)
            if board is not None:
                board.terminate()
                board.wait(10)
            w.terminate()
            stack.close()


if __name__ == "__main__":
    main()
