"""Two workers on the same topics split the partitions; together they cover every queue exactly
once; when one stops (SIGTERM, or SIGKILL) the other takes its partitions, restores their state
from the changelog and goes on, and the final figures still equal the replay's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from ..reports import assert_same
from .stack import Stack, WorkerProc, produce_events, wait_settled, wait_until, worker_report
from .test_live_equals_replay import GRACE_S, expected_processed, replay_report, sim_day

pytestmark = pytest.mark.integration


def owned(worker: WorkerProc) -> set[str]:
    return {dict(labels)["queue"] for (name, labels) in worker.metrics()
            if name == "callpulse_queue_offered_total"}


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_two_workers_split_then_one_takes_over(stack: Stack, unique: str, logdir: Path,
                                               stop: str) -> None:
    events = sim_day(seed=31)
    offline = replay_report(events, logdir / "day.jsonl")
    queues = set(offline["queues"])
    half = len(events) // 2
    env = stack.env(unique, CALLPULSE_GRACE_S=str(GRACE_S), CALLPULSE_BATCH_MAX="500")
    a = WorkerProc({**env, "CALLPULSE_WORKER_NAME": "a"}, logdir / "a.log").start()
    b = WorkerProc({**env, "CALLPULSE_WORKER_NAME": "b"}, logdir / "b.log").start()
    try:
        # Both in the group (each owns some partitions) before the first event.
        wait_until(lambda: "partitions assigned: calls [" in (logdir / "b.log").read_text()
                   and "calls [0, 1, 2, 3]" not in (logdir / "b.log").read_text(), 60,
                   "b to get a share of the partitions")
        produce_events(stack, unique, events[:half])
        wait_settled([a, b], expected_processed(events[:half]))
        wait_until(lambda: owned(a) | owned(b) == queues, 10, "every queue exported")
        assert owned(a) and owned(b), "both workers own queues"
        assert not owned(a) & owned(b), "no queue exported twice"
        r = redis.Redis(port=stack.redis_port)
        for q in queues:
            snap = json.loads(r.hget(f"{unique}:queue", f"default/{q}"))["data"]
            assert q in (owned(a) if snap["worker"] == "a" else owned(b))

        produce_events(stack, unique, events[half:])
        time.sleep(0.3)  # b is consuming its share of the second half
        if stop == "sigterm":
            assert b.terminate() == 0
        else:
            b.kill9()
        wait_until(lambda: owned(a) == queues, 60, "a to take over every queue")
        wait_settled([a], 1, timeout_s=240)
    finally:
        a.terminate()
        if b.proc is not None and b.proc.poll() is None:
            b.terminate()
    assert_same(worker_report(stack, unique, events, grace_s=GRACE_S, interval_ms=900_000),
                offline)
