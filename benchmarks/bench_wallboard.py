"""Wallboard fan-out: one ``callpulse wallboard`` process, many websocket clients, steady updates.

Starts the embedded Redis and one wallboard server (a process of its own), connects
``--clients`` websocket clients spread over ``--loaders`` load processes, then publishes
``--rate`` updates per second for ``--seconds`` with the worker's own publisher (the same Lua
script, the same channel). Each update carries ``--queues`` real queue snapshots (made by the
engine from the synthetic stream), one of them stamped with the wall clock as it is published.
A client's latency is from that stamp to its receipt of the delta carrying it.

Reports p50/p99/max latency over every client and update, the updates each client missed, and
the server's CPU (% of one core) and memory while serving. Goal (issue 4): p99 <= 200 ms with
2,000 clients at 4 updates/s.

Usage: python benchmarks/bench_wallboard.py [--clients 2000] [--rate 4] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from launcher import embedded
from streams.publisher import SnapshotPublisher

TOKEN = "bench-viewer-token-000001"
PREFIX = "fan"
_STAMP = re.compile(rb'"pub_ms":(\d+)')


def loader(port: int, clients: int, seconds: float, out: Connection) -> None:
    """``clients`` connections in one process; sends back each received stamp's latency."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def client(latencies: list[float], counts: list[int], ready: asyncio.Event,
                     conns: list[object]) -> None:
        url = f"ws://127.0.0.1:{port}/ws?token={TOKEN}"
        async with connect(url, open_timeout=60, max_size=None) as ws:
            conns.append(ws)
            received = 0
            # Ends when main closes the connection: no timeout per message, which would cost
            # more than the message itself.
            async for raw in ws:
                now_ms = time.time() * 1000
                received += 1
                if received == 2:  # hello and the snapshot: this client is in
                    ready.set()
                # Only the stamp is read: a browser parses, but the load client must not be
                # what limits the measurement.
                for stamp in _STAMP.findall(raw if isinstance(raw, bytes) else raw.encode()):
                    latencies.append(now_ms - int(stamp))
            counts.append(received)

    async def main() -> None:
        latencies: list[float] = []
        counts: list[int] = []
        conns: list[Any] = []
        readies = [asyncio.Event() for _ in range(clients)]
        tasks = []
        for ready in readies:  # connect in waves: a real floor's TVs do not all start at once
            tasks.append(asyncio.create_task(client(latencies, counts, ready, conns)))
            if len(tasks) % 100 == 0:
                await asyncio.sleep(0.1)
        for ready in readies:
            await ready.wait()
        out.send("ready")
        await asyncio.to_thread(out.recv)  # measurement starts
        latencies.clear()
        await asyncio.sleep(seconds + 1)  # the last update's deltas too
        await asyncio.gather(*(ws.close() for ws in conns))
        await asyncio.gather(*tasks)
        out.send((latencies, counts))

    asyncio.run(main())


def snapshots(queues: int) -> list[bytes]:
    """Real queue snapshots: the engine's, after folding part of the synthetic stream."""
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import stream

    from callpulse.config import Config
    from callpulse.engine import Engine
    from callpulse.queue import QueueParams

    events = list(stream(100_000, queues=queues, agents=10 * queues))
    engine = Engine(Config(), QueueParams())
    engine.apply_all(events)
    now = events[-1].ts
    return [json.dumps({**q.snapshot(now, {}), "as_of_ms": now}).encode()
            for q in engine.queues.values()]


async def publish(redis_port: int, rate: float, seconds: float, bodies: list[bytes]) -> int:
    pub = SnapshotPublisher(aioredis.Redis(port=redis_port), PREFIX)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        stamp = b'{"pub_ms":%d,' % int(time.time() * 1000)
        items = {("queue", f"default/q{i}"): (stamp + body[1:] if i == 0 else body)
                 for i, body in enumerate(bodies)}
        await pub.publish(items, {})
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / rate - time.perf_counter()))
    return n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--loaders", type=int, default=2)
    p.add_argument("--rate", type=float, default=4)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--queues", type=int, default=10, help="queue snapshots per update")
    args = p.parse_args()
    bodies = snapshots(args.queues)
    print(f"each update: {args.queues} queue snapshots, {sum(map(len, bodies)):,} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        redis_port, port = embedded.free_port(), embedded.free_port()
        redis_proc = embedded.start_redis("127.0.0.1", redis_port, Path(tmp) / "redis")
        env = {**os.environ, "CALLPULSE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
               "CALLPULSE_REDIS_PREFIX": PREFIX, "CALLPULSE_WALLBOARD_PORT": str(port),
               "CALLPULSE_WALLBOARD_TOKENS": f"bench:viewer:{TOKEN}",
               "CALLPULSE_LOG_LEVEL": "warning"}
        server = subprocess.Popen([sys.executable, "-m", "launcher.cli", "wallboard"], env=env,
                                  stderr=(Path(tmp) / "wallboard.log").open("wb"))
        ctx = mp.get_context("spawn")
        loaders = []
        try:
            embedded.wait_port("127.0.0.1", port, 30, server, "the wallboard")
            t0 = time.perf_counter()
            for i in range(args.loaders):
                share = args.clients // args.loaders + (i < args.clients % args.loaders)
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=loader, args=(port, share, args.seconds, theirs))
                proc.start()
                loaders.append((proc, mine))
            for _, conn in loaders:
                assert conn.recv() == "ready"
            print(f"{args.clients} clients connected in {time.perf_counter() - t0:.1f} s")
            ps = psutil.Process(server.pid)
            ps.cpu_percent()
            for _, conn in loaders:
                conn.send("go")
            sent = asyncio.run(publish(redis_port, args.rate, args.seconds, bodies))
            cpu = ps.cpu_percent()
            rss_mib = ps.memory_info().rss / 2**20
            latencies: list[float] = []
            counts: list[int] = []
            for proc, conn in loaders:
                lat, got = conn.recv()
                latencies += lat
                counts += got
                proc.join(timeout=30)
        finally:
            server.terminate()
            server.wait(10)
            embedded.stop(redis_proc)
    latencies.sort()
    expected = sent * args.clients
    q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))]  # noqa: E731
    print(f"{sent} updates at {args.rate:g}/s to {len(counts)} clients: {len(latencies):,} of "
          f"{expected:,} stamped deltas received ({expected - len(latencies):,} missed)")
    print(f"publish -> client latency: p50 {q(0.5):.0f} ms, p90 {q(0.9):.0f} ms, "
          f"p99 {q(0.99):.0f} ms, max {latencies[-1]:.0f} ms")
    print(f"wallboard server: CPU {cpu:.0f}% of one core, RSS {rss_mib:.0f} MiB")
    print("goal: p99 <= 200 ms with 2,000 clients at 4 updates/s")


if __name__ == "__main__":
    main()
