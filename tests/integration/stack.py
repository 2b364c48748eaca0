"""Real parts for the integration tests: the embedded broker and Redis, worker processes, and
reading a worker's results back (its ``/metrics`` and its tables' changelogs)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.live import LiveCore
from callpulse.queue import QueueParams
from callpulse.report import build_report
from launcher import embedded
from producers.kafka_sink import ensure_topics, produce
from streams.logend import log_ends

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    """One broker and one Redis for a test module; names are made unique per test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.broker_port = embedded.free_port()
        self.redis_port = embedded.free_port()
        self.broker = embedded.start_broker(self.host, self.broker_port,
                                            (workdir / "broker.log").open("wb"))
        self.redis: subprocess.Popen[bytes] | None = None
        self.start_redis()
        self.n = 0

    @property
    def servers(self) -> list[str]:
        return [f"{self.host}:{self.broker_port}"]

    def start_redis(self) -> None:
        self.redis = embedded.start_redis(self.host, self.redis_port, self.workdir / "redis",
                                          (self.workdir / "redis.log").open("ab"))

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait()
        self.redis = None

    def close(self) -> None:
        if self.redis is not None:
            embedded.stop(self.redis)
        embedded.stop(self.broker)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        """Worker settings for one test: its own topics, consumer group and Redis prefix."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")}
        env.update({
            "CALLPULSE_BROKER_URL": f"kafka://{self.host}:{self.broker_port}",
            "CALLPULSE_REDIS_URL": f"redis://{self.host}:{self.redis_port}/0",
            "CALLPULSE_APP_ID": f"{name}-app", "CALLPULSE_CALLS_TOPIC": f"{name}.calls",
            "CALLPULSE_AGENTS_TOPIC": f"{name}.agents",
            "CALLPULSE_PRESENCE_TOPIC": f"{name}.presence", "CALLPULSE_DLQ_TOPIC": f"{name}.dlq",
            "CALLPULSE_REDIS_PREFIX": name, "CALLPULSE_DATA_DIR": str(self.workdir / "data"),
            "CALLPULSE_LOG_LEVEL": "info",
        })
        env.update(extra)
        return env


class WorkerProc:
    """``callpulse worker`` as a child process with its own metrics port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = embedded.free_port()
        self.env = {**env, "CALLPULSE_METRICS_PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProc:
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "worker"],
                                     env=self.env, cwd=ROOT, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT)
        embedded.wait_port("127.0.0.1", self.port, 60, self.proc, "worker")
        return self

    def run_to_exit(self, timeout_s: float) -> int:
        """Run it expecting it to stop by itself (refusing to start); its exit status."""
        proc = subprocess.run([sys.executable, "-m", "launcher.cli", "worker"], env=self.env,
                              cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                              timeout=timeout_s, check=False)
        return proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(20)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics``: (name, sorted labels) -> value."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def health(self) -> dict[str, Any] | None:
        """``/healthz``: cheap to serve, unlike a full scrape (for polling often)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
                health: dict[str, Any] = json.loads(r.read())
                return health
        except OSError:
            return None

    def value(self, name: str, **labels: str) -> float | None:
        try:
            samples = self.metrics()
        except OSError:
            return None
        return samples.get((name, tuple(sorted(labels.items()))))


def wait_until(predicate: Any, timeout_s: float, what: str, every_s: float = 0.25) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_settled(workers: Iterable[WorkerProc], at_least: float, timeout_s: float = 180) -> None:
    """Wait until the workers together processed ``at_least`` events and then stayed still
    for 3 s (forwarded events and presence included), so the tables are written."""
    last: list[float] = [-1.0]
    still_since = [time.monotonic()]

    def settled() -> bool:
        total = sum(w.value("callpulse_events_processed_total") or 0 for w in workers)
        now = time.monotonic()
        if total != last[0]:
            last[0], still_since[0] = total, now
            return False
        return total >= at_least and now - still_since[0] >= 3

    wait_until(settled, timeout_s, f"{at_least} events processed", every_s=0.5)


def produce_events(stack: Stack, name: str, events: list[dict[str, Any]],
                   partitions: int = 4) -> None:
    async def go() -> None:
        await ensure_topics(stack.servers, (f"{name}.calls", f"{name}.agents"), partitions)
        await produce(events, servers=stack.servers, calls_topic=f"{name}.calls",
                      agents_topic=f"{name}.agents", speed=0, start_ms=events[0]["ts"])

    asyncio.run(go())


def produce_raw(stack: Stack, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    async def go() -> None:
        await ensure_topics(stack.servers, (topic,), 4)
        producer = AIOKafkaProducer(bootstrap_servers=stack.servers, max_request_size=4_000_000)
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def read_topic(stack: Stack, topic: str, timeout_s: float = 5) -> list[tuple[bytes | None, bytes]]:
    """Every record of ``topic`` from the beginning, in partition order."""
    async def go() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.servers,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    fetch_max_bytes=50_000_000)
        await consumer.start()
        out: list[tuple[bytes | None, bytes]] = []
        try:
            end_offsets: dict[Any, int] = {}
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if not end_offsets and consumer.assignment():
                    reported = await consumer.end_offsets(list(consumer.assignment()))
                    end_offsets = await log_ends(stack.servers, reported)
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    out.extend((r.key, r.value) for r in records)
                if end_offsets and all(await _at_end(consumer, end_offsets)):
                    break
        finally:
            await consumer.stop()
        return out

    async def _at_end(consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> list[bool]:
        return [await consumer.position(tp) >= end for tp, end in ends.items()]

    return asyncio.run(go())


def worker_report(stack: Stack, name: str, events: list[dict[str, Any]], *, grace_s: float,
                  interval_ms: int = 3_600_000) -> dict[str, Any]:
    """The replay report rebuilt from what the worker stored: the newest value of every key in
    its two changelogs, finished at the last event like ``callpulse replay`` does."""
    params = QueueParams(interval_ms=interval_ms, grace_ms=round(grace_s * 1000))
    core = LiveCore(Config(), params)
    for topic, load in ((f"{name}-app-queues-changelog", core.load_queue_key),
                        (f"{name}-app-agents-changelog", core.load_agent_key)):
        latest = {key: value for key, value in read_topic(stack, topic)}
        for key, value in latest.items():
            assert key is not None
            load(key.decode(), value)
    engine = Engine(Config(), params)
    engine.adopt(core.queues.values(), [e.state for e in core.agents.values()])
    first, last = min(e["ts"] for e in events), max(e["ts"] for e in events)
    engine.finish(last + 1)
    return build_report(engine, from_ms=first, until_ms=last + 1, interval_s=interval_ms // 1000,
                        timezone="UTC", sl_formula="excl_short_abandons", sl_threshold_s=20.0)
