"""The Prometheus collector over a worker's state, read through a registry of its own."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callpulse.config import Config
from callpulse.live import CALLS, LiveCore, Record
from callpulse.queue import QueueParams
from streams.exporter import WorkerCollector, WorkerStats

T0 = 1_763_978_400_000


def rec(offset: int, etype: str, ts_s: float, **fields: object) -> Record:
    value = json.dumps({"v": 1, "id": f"e{offset}", "type": etype, "ts": T0 + round(ts_s * 1000),
                        "source": "pbx", **fields}).encode()
    return Record(CALLS, 0, offset, b"k", value)


def scrape(core: LiveCore, stats: WorkerStats) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    now = T0 + 120_000
    views = {k: core.queue_view(*k, now) for k in core.queues}
    registry = CollectorRegistry()
    registry.register(WorkerCollector(core, views, stats))
    text = generate_latest(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_queue_series_histogram_and_worker_counters() -> None:
    core = LiveCore(Config(), QueueParams())
    core.fold([rec(0, "ringing", 0, call_id="c1", queue="q"),
               rec(1, "answered", 12, call_id="c1", queue="q", agent="a"),
               rec(2, "ringing", 1, call_id="c2", queue="q"),
               rec(3, "abandoned", 100, call_id="c2", queue="q"),
               rec(4, "ringing", 50, call_id="c3", queue="q")], T0)
    stats = WorkerStats(processed=5, rejected={"not_json": 2}, lag_s=1.5)
    m = scrape(core, stats)
    q = {("tenant", "default"), ("queue", "q")}

    def v(name: str, **labels: str) -> float | None:
        return m.get((name, frozenset(q | set(labels.items()))))

    assert v("callpulse_queue_offered_total") == 3
    assert v("callpulse_queue_waiting_calls") == 1
    assert v("callpulse_queue_oldest_wait_seconds") == 70
    buckets = [v("callpulse_queue_wait_seconds_bucket", le=le) for le in ("10.0", "15.0", "90.0",
                                                                             "120.0", "+Inf")]
    assert buckets == [0, 1, 1, 2, 2]
    assert v("callpulse_queue_wait_seconds_count") == 2
    assert v("callpulse_queue_wait_seconds_sum") == 12 + 99
    assert v("callpulse_queue_asa_seconds", window="today") == 12
    assert v("callpulse_queue_agents_needed") is None  # unknown, so not exported as NaN
    assert v("callpulse_queue_sl_goal_ratio") == 0.8
    assert m[("callpulse_events_processed_total", frozenset())] == 5
    assert m[("callpulse_events_rejected_total", frozenset({("reason", "not_json")}))] == 2
    assert m[("callpulse_event_lag_seconds", frozenset())] == 1.5
    assert m[("callpulse_events_misrouted_total", frozenset())] == 0
    assert m[("callpulse_source_last_event_timestamp_seconds", frozenset({("source", "pbx")}))] \
        == (T0 + 100_000) / 1000


def test_a_queue_moved_away_disappears() -> None:
    core = LiveCore(Config(), QueueParams())
    core.fold([rec(0, "ringing", 0, call_id="c1", queue="q")], T0)
    assert any(name == "callpulse_queue_offered_total" for name, _ in scrape(core, WorkerStats()))
    core.drop_partitions(CALLS, [0])
    assert not any(name.startswith("callpulse_queue_") for name, _ in scrape(core, WorkerStats()))


def test_source_last_event_and_staleness() -> None:
    core = LiveCore(Config(), QueueParams())
    core.fold([rec(0, "ringing", 0, call_id="c1", queue="q"),
               Record(CALLS, 0, 1, b"k", json.dumps({"v": 1, "id": "h", "type": "heartbeat",
                                                     "ts": T0 + 5_000, "source": "ivr"}).encode())],
              T0)
    core.source_views(T0 + 34_000, refresh=False)  # pbx silent for 34 s, ivr for 29 s
    samples = scrape(core, WorkerStats())
    assert samples[("callpulse_source_last_event_timestamp_seconds",
                    frozenset({("source", "pbx")}))] == T0 / 1000
    assert samples[("callpulse_source_stale", frozenset({("source", "pbx")}))] == 1
    assert samples[("callpulse_source_stale", frozenset({("source", "ivr")}))] == 0


def test_the_threshold_bucket_and_the_records_lag_are_exported() -> None:
    core = LiveCore(Config(), QueueParams())
    core.fold([rec(0, "ringing", 0, call_id="c1", queue="q")], T0)
    views = {k: core.queue_view(*k, T0 + 1_000) for k in core.queues}
    ends = {("calls", 0): 120, ("calls", 1): 7, ("calls", 2): None}
    stats = WorkerStats(next_offsets={("calls", 0): 100, ("calls", 1): 9, ("calls", 2): 0})
    registry = CollectorRegistry()
    registry.register(WorkerCollector(core, views, stats, highwater=ends.__getitem__))
    text = generate_latest(registry).decode()
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    # 20 records behind on partition 0; partition 1 is ahead of its last fetch (counts 0), and
    # partition 2 was never fetched (unknown, left out).
    assert samples[("callpulse_consumer_lag_records", frozenset())] == 20
    assert samples[("callpulse_queue_sl_bucket_info", frozenset(
        {("tenant", "default"), ("queue", "q"), ("le", "20.0")}))] == 1


def test_the_threshold_bucket_is_the_smallest_holding_it() -> None:
    from streams.exporter import sl_bucket_le

    assert [sl_bucket_le(t) for t in (5, 20, 21, 600, 601)] == ["5.0", "20.0", "30.0", "600.0", "+Inf"]


def test_counters_never_go_down_within_a_day() -> None:
    """A late ringing moves a wait to a longer bucket, and a lower threshold takes a call out
    of answered_within_sl: the snapshot says so at once, Prometheus's counters hold."""
    from dataclasses import replace

    core = LiveCore(Config(), QueueParams())
    core.fold([rec(0, "ringing", 10, call_id="c1", queue="q"),
               rec(1, "answered", 22, call_id="c1", queue="q", agent="a")], T0)
    registry = CollectorRegistry()
    views: dict[tuple[str, str], dict[str, object]] = {}
    registry.register(WorkerCollector(core, views, WorkerStats()))

    def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        views.clear()
        views.update({k: core.queue_view(*k, T0 + 60_000) for k in core.queues})
        text = generate_latest(registry).decode()
        return {(s.name, frozenset(s.labels.items())): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    q = frozenset({("tenant", "default"), ("queue", "q")})
    first = scrape()
    assert first[("callpulse_queue_wait_seconds_bucket", q | {("le", "15.0")})] == 1
    assert first[("callpulse_queue_answered_within_sl_total", q)] == 1
    core.fold([rec(2, "ringing", 0, call_id="c1", queue="q")], T0)  # the call rang earlier
    cfg = core.queues[("default", "q")].cfg
    core.queues[("default", "q")].reconfigure(replace(cfg, sl_threshold_s=10.0))
    assert core.queue_view("default", "q", T0 + 60_000)["frames"]["today"]["answered_within_sl"] == 0
    second = scrape()
    assert second[("callpulse_queue_wait_seconds_bucket", q | {("le", "15.0")})] == 1  # held
    assert second[("callpulse_queue_wait_seconds_bucket", q | {("le", "30.0")})] == 1
    assert second[("callpulse_queue_wait_seconds_count", q)] == 1
    assert second[("callpulse_queue_answered_within_sl_total", q)] == 1  # held
