"""The worker's edges with real parts: the DLQ, exact Prometheus values for a known input, Redis
snapshots, Redis stopped and restarted mid-stream, and a threshold changed in Redis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from .stack import Stack, WorkerProc, produce_events, produce_raw, read_topic, wait_settled, wait_until

pytestmark = pytest.mark.integration

T0 = 1_763_978_400_000  # 2025-11-24T10:00:00Z


def ev(i: int, etype: str, ts_s: float, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "id": f"e{i}", "type": etype, "ts": T0 + round(ts_s * 1000),
            "source": "test", **fields}


def known_day() -> list[dict[str, Any]]:
    """Three calls in queue q1: answered after 8 s, answered after 30 s, abandoned after 3 s;
    one agent serving q1 and q2."""
    return [
        ev(1, "agent_login", 0, agent="a1", queues=["q1", "q2"], name="Ann"),
        ev(2, "agent_ready", 0.5, agent="a1"),
        ev(3, "ringing", 1, call_id="c1", queue="q1", caller="+49 30 1234567"),
        ev(4, "answered", 9, call_id="c1", queue="q1", agent="a1"),
        ev(5, "ringing", 10, call_id="c2", queue="q1"),
        ev(6, "ringing", 20, call_id="c3", queue="q1"),
        ev(7, "abandoned", 23, call_id="c3", queue="q1"),
        ev(8, "ended", 39, call_id="c1", queue="q1", agent="a1", disposition="sale"),
        ev(9, "answered", 40, call_id="c2", queue="q1", agent="a1"),
        ev(10, "heartbeat", 41),
    ]


def test_known_input_gives_exact_prometheus_values_and_snapshots(
        stack: Stack, unique: str, logdir: Path) -> None:
    worker = WorkerProc(stack.env(unique), logdir / "worker.log").start()
    try:
        events = known_day()
        produce_events(stack, unique, events)
        wait_settled([worker], len(events) + 3 + 3)  # heartbeat x4 partitions, 3 forwards
        m = worker.metrics()
        q1 = (("queue", "q1"), ("tenant", "default"))

        def v(name: str, *extra: tuple[str, str]) -> float | None:
            return m.get((name, tuple(sorted((*q1, *extra)))))

        assert v("callpulse_queue_offered_total") == 3
        assert v("callpulse_queue_answered_total") == 2
        assert v("callpulse_queue_answered_within_sl_total") == 1
        assert v("callpulse_queue_abandoned_total") == 1
        assert v("callpulse_queue_short_abandoned_total") == 1
        assert v("callpulse_queue_handled_total") == 1
        assert v("callpulse_queue_wait_seconds_bucket", ("le", "5.0")) == 1
        assert v("callpulse_queue_wait_seconds_bucket", ("le", "10.0")) == 2
        assert v("callpulse_queue_wait_seconds_bucket", ("le", "20.0")) == 2
        assert v("callpulse_queue_wait_seconds_bucket", ("le", "30.0")) == 3
        assert v("callpulse_queue_wait_seconds_bucket", ("le", "+Inf")) == 3
        assert v("callpulse_queue_wait_seconds_count") == 3
        assert v("callpulse_queue_wait_seconds_sum") == pytest.approx(8 + 30 + 3)
        # excl_short_abandons: 1 within / (2 answered + 1 abandoned - 1 short)
        assert v("callpulse_queue_service_level_ratio", ("window", "today")) == 0.5
        assert v("callpulse_queue_agents", ("state", "on_call")) == 1
        assert v("callpulse_queue_agents", ("state", "logged_in")) == 1
        assert v("callpulse_queue_sl_threshold_seconds") == 20
        assert m[("callpulse_source_last_event_timestamp_seconds", (("source", "test"),))] \
            == (T0 + 41_000) / 1000
        # The agent serves q2 too: that queue exists with its agent counts and no calls.
        q2 = ("callpulse_queue_agents", (("queue", "q2"), ("state", "on_call"),
                                         ("tenant", "default")))
        assert m[q2] == 1

        r = redis.Redis(port=stack.redis_port)
        snap = json.loads(r.hget(f"{unique}:queue", "default/q1"))
        assert snap["seq"] >= 1
        assert snap["data"]["frames"]["today"]["offered"] == 3
        assert snap["data"]["live"]["agents_on_call"] == 1
        agent = json.loads(r.hget(f"{unique}:agent", "default/a1"))["data"]
        assert agent["state"] == "on_call" and agent["name"] == "Ann"
        assert "+49" not in r.hget(f"{unique}:queue", "default/q1").decode()
        assert int(r.hget(f"{unique}:sources", "test")) == T0 + 41_000
    finally:
        worker.terminate()


BAD = [
    (b"not json at all", "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b'{"v":1,"id":"x1","type":"teleported","ts":1763978400000,"source":"s"}', "unknown_type"),
    (b'{"v":1,"id":"x2","type":"ringing","ts":1763978400000,"source":"s","queue":"q"}',
     "missing_field"),
    (b'{"v":1,"id":"x3","type":"ringing","ts":1763978400000,"source":"s","queue":7,'
     b'"call_id":"c"}', "wrong_type"),
    (b'{"v":1,"id":"","type":"heartbeat","ts":1763978400000,"source":"s"}', "bad_length"),
    (b'{"v":1,"id":"x4","type":"heartbeat","ts":"yesterday","source":"s"}', "bad_ts"),
    (b'{"v":1,"id":"x5","type":"heartbeat","ts":4102444800000,"source":"s"}', "future_ts"),
    (b'{"v":1,"id":"x6","type":"agent_ready","ts":1763978400000,"source":"s","agent":"a"}',
     "wrong_topic"),
    (b'{"v":1,"id":"x7","type":"heartbeat","ts":1763978400000,"source":"s","pad":"'
     + b"x" * 70_000 + b'"}', "too_large"),
    (bytes(range(256)), "not_json"),
]


def test_bad_input_goes_to_the_dlq_and_good_events_still_count(
        stack: Stack, unique: str, logdir: Path) -> None:
    worker = WorkerProc(stack.env(unique), logdir / "worker.log").start()
    try:
        good = known_day()
        produce_events(stack, unique, good[:3])
        produce_raw(stack, f"{unique}.calls", [(b"q", raw) for raw, _ in BAD])
        produce_events(stack, unique, good[3:])
        wait_settled([worker], len(good) + 3 + 3)
        m = worker.metrics()
        expected: dict[str, int] = {}
        for _, reason in BAD:
            expected[reason] = expected.get(reason, 0) + 1
        for reason, n in expected.items():
            assert m[("callpulse_events_rejected_total", (("reason", reason),))] == n, reason
        assert m[("callpulse_queue_offered_total", (("queue", "q1"), ("tenant", "default")))] == 3
        dlq = [json.loads(value) for _, value in read_topic(stack, f"{unique}.dlq")]
        assert sorted(d["reason"] for d in dlq) == sorted(r for _, r in BAD)
        for d in dlq:
            assert d["rejected_at_ms"] > 0 and d["topic"] == "calls"
        import base64
        originals = {base64.b64decode(d["original_b64"]) for d in dlq}
        assert originals == {raw for raw, _ in BAD}
    finally:
        worker.terminate()


def test_redis_down_and_back(stack: Stack, unique: str, logdir: Path) -> None:
    worker = WorkerProc(stack.env(unique), logdir / "worker.log").start()
    try:
        day = known_day()
        produce_events(stack, unique, day[:4])
        wait_settled([worker], 4 + 1)
        stack.stop_redis()
        produce_events(stack, unique, day[4:])
        wait_settled([worker], len(day) + 3 + 3)
        wait_until(lambda: worker.value("callpulse_redis_up") == 0, 10, "redis_up to drop")
        assert worker.value("callpulse_queue_offered_total", queue="q1", tenant="default") == 3
        stack.start_redis()  # empty: the restarted Redis lost everything
        r = redis.Redis(port=stack.redis_port)
        wait_until(lambda: r.hexists(f"{unique}:queue", "default/q1"), 15,
                   "snapshots republished after Redis came back")
        snap = json.loads(r.hget(f"{unique}:queue", "default/q1"))["data"]
        assert snap["frames"]["today"]["offered"] == 3
        assert worker.value("callpulse_redis_up") == 1
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        worker.terminate()
    log = (logdir / "worker.log").read_text()
    assert "Redis unavailable" in log and "Redis is back" in log


def test_threshold_changed_in_redis_applies_without_restart(
        stack: Stack, unique: str, logdir: Path) -> None:
    worker = WorkerProc(stack.env(unique, CALLPULSE_CONFIG_POLL_S="0.5"),
                        logdir / "worker.log").start()
    try:
        day = known_day()
        produce_events(stack, unique, day)
        wait_settled([worker], len(day) + 3 + 3)
        within = ("callpulse_queue_answered_within_sl_total",)
        assert worker.value(*within, queue="q1", tenant="default") == 1
        r = redis.Redis(port=stack.redis_port)
        r.hset(f"{unique}:config", "q1", json.dumps(
            {"sl_threshold_s": 30, "alerts": {"oldest_wait_s": {"warn": 10, "crit": 20}}}))
        wait_until(lambda: worker.value(*within, queue="q1", tenant="default") == 2, 15,
                   "the new threshold to re-count the held calls")
        assert worker.value("callpulse_queue_sl_threshold_seconds", queue="q1",
                            tenant="default") == 30
        assert worker.value("callpulse_queue_alert_level", queue="q1", tenant="default",
                            alert="oldest_wait_s", severity="warn") == 10
    finally:
        worker.terminate()


def test_the_worker_creates_its_topics_and_refuses_mismatched_ones(
        stack: Stack, unique: str, logdir: Path) -> None:
    """Nothing made the topics before: the worker does, co-partitioned, as configured; a
    worker configured for another count refuses to start, naming the topics."""
    import asyncio

    from producers.kafka_sink import partition_counts

    names = [f"{unique}.{t}" for t in ("calls", "agents", "presence", "dlq")]
    worker = WorkerProc(stack.env(unique, CALLPULSE_PARTITIONS="3"), logdir / "worker.log").start()
    try:
        assert asyncio.run(partition_counts(stack.servers, names)) == dict(
            zip(names, (3, 3, 3, 1), strict=True))
    finally:
        worker.terminate()
    other = WorkerProc(stack.env(unique, CALLPULSE_PARTITIONS="5"), logdir / "other.log")
    assert other.run_to_exit(30) != 0
    assert "CALLPULSE_PARTITIONS is 5" in (logdir / "other.log").read_text()
