"""The live path and the offline path agree: a seeded simulated day produced to Kafka and folded
by the worker gives exactly the report of ``callpulse replay`` on the same events, also when
the worker is killed with SIGKILL twice while it consumes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from callpulse.cli import parser, replay
from producers.simulator import SimSettings, simulate

from ..reports import assert_same
from .stack import Stack, WorkerProc, produce_events, wait_settled, wait_until, worker_report

pytestmark = pytest.mark.integration

DAY_START_MS = 1_763_971_200_000  # 2025-11-24T08:00:00Z, a Monday morning
# The whole day is produced before the worker starts, so the worker reads hours of call events
# before the agent events they forward arrive on the agents topic. Live, the two are
# milliseconds apart; for a bulk load the reorder grace must cover the whole day.
GRACE_S = 6 * 3600


def sim_day(seed: int, hours: float = 3.0) -> list[dict[str, Any]]:
    return list(simulate(SimSettings(start_ms=DAY_START_MS, duration_s=hours * 3600, seed=seed,
                                     queues=5, agents=30, heartbeat_s=15)))


def replay_report(events: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    args = parser()[0].parse_args(["replay", str(path), "--json", "--interval", "15m",
                                   "--grace-s", str(GRACE_S)])
    return replay(args)


def expected_processed(events: list[dict[str, Any]], partitions: int = 4) -> int:
    """Call and agent events, heartbeats once per partition, forwarded agent-call events."""
    forwarded = {"answered", "hold", "unhold", "ended", "wrapup_started", "wrapup_ended",
                 "ring_no_answer"}
    n = 0
    for e in events:
        n += partitions if e["type"] == "heartbeat" else 1
        n += e["type"] in forwarded
    return n


def test_seeded_day_live_equals_replay(stack: Stack, unique: str, logdir: Path) -> None:
    events = sim_day(seed=11)
    offline = replay_report(events, logdir / "day.jsonl")
    worker = WorkerProc(stack.env(unique, CALLPULSE_GRACE_S=str(GRACE_S)),
                        logdir / "worker.log").start()
    try:
        produce_events(stack, unique, events)
        wait_settled([worker], expected_processed(events))
        health = worker.health()
        assert health is not None and health["ok"] and health["redis_up"]
        assert health["events_processed"] == expected_processed(events)
        # The Prometheus endpoint shows the same totals as the report (today = the whole day).
        for name, q in offline["queues"].items():
            for counter in ("offered", "answered", "abandoned", "handled"):
                assert worker.value(f"callpulse_queue_{counter}_total", tenant="default",
                                    queue=name) == q["total"][counter], (name, counter)
    finally:
        worker.terminate()
    assert_same(worker_report(stack, unique, events, grace_s=GRACE_S, interval_ms=900_000),
                offline)


def test_kill_9_twice_still_equals_replay(stack: Stack, unique: str, logdir: Path) -> None:
    events = sim_day(seed=23, hours=6)
    offline = replay_report(events, logdir / "day.jsonl")
    env = stack.env(unique, CALLPULSE_GRACE_S=str(GRACE_S), CALLPULSE_BATCH_MAX="500")
    total = expected_processed(events)
    produce_events(stack, unique, events)
    rng = random.Random(5)
    for round_ in range(2):
        worker = WorkerProc(env, logdir / f"worker{round_}.log").start()
        # Kill somewhere in the next stretch of consumption (processed counts restart at 0).
        target = rng.randrange(total // 10, total // 4)
        wait_until(lambda w=worker, t=target: (w.value("callpulse_events_processed_total")
                                               or 0) >= t, 120, "progress before the kill",
                   every_s=0.05)
        worker.kill9()
    worker = WorkerProc(env, logdir / "worker-final.log").start()
    try:
        wait_settled([worker], 1, timeout_s=240)
    finally:
        worker.terminate()
    assert_same(worker_report(stack, unique, events, grace_s=GRACE_S, interval_ms=900_000),
                offline)
