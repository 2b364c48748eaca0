"""``/metrics``: a Prometheus Collector over the worker's current state, read at scrape time.

Names and labels follow ``spec/METRICS.md`` ("Prometheus names"): prefix ``callpulse_``, base
units, ``_total`` on counters, and per queue only the labels ``tenant`` and ``queue`` (plus
``window``, ``state``, ``alert`` and ``severity`` where the spec names them). Only queues this
worker owns appear: a queue moved away in a rebalance disappears with its state. Counters count
``today`` (they restart at the queue's day start, which ``rate()`` treats as a counter reset).
Within a day they never go down, as Prometheus counters must not: a late event that corrects a
count downwards (an earlier ``ringing`` moving a wait to a longer bucket, a lower threshold) shows
in the snapshot and the replay at once, and here the counter keeps its highest value of the day
(see :class:`_DayHighs`); otherwise ``rate()`` would read the dip as a reset and jump.
A metric whose value is ``null`` (an empty denominator) is left out rather than exported as NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from callpulse.live import LiveCore
from callpulse.queue import WAIT_BUCKETS_S
from callpulse.tally import (
    COUNTERS,
    WAIT_ABANDONED_MS,
    WAIT_ANSWERED_MS,
    WAIT_OTHER_MS,
    Counts,
)

_Q = ["tenant", "queue"]
_WINDOWED = (("service_level_ratio", "service_level_ratio"), ("abandon_ratio", "abandon_ratio"),
             ("asa_seconds", "asa_s"), ("avg_wait_seconds", "avg_wait_s"),
             ("aht_seconds", "aht_s"))
_LIVE = (("waiting_calls", "waiting"), ("oldest_wait_seconds", "oldest_wait_s"),
         ("callbacks_pending", "callbacks_pending"),
         ("oldest_callback_seconds", "oldest_callback_s"),
         ("agents_needed", "agents_needed"), ("predicted_wait_seconds", "predicted_wait_s"))


@dataclass(slots=True)
class WorkerStats:
    """Counters of the worker itself (not of any queue)."""

    processed: int = 0
    forwarded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    lag_s: float | None = None
    redis_up: bool = True
    # Source partition -> the offset after the last record folded.
    next_offsets: dict[Any, int] = field(default_factory=dict)


class _DayHighs:
    """The highest value each counter of each queue has shown today."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str], tuple[int, dict[str, float]]] = {}

    def hold(self, queue: tuple[str, str], day_start_ms: int, series: str, value: float) -> float:
        day, highs = self.days.get(queue, (None, None))
        if day != day_start_ms or highs is None:
            highs = {}
            self.days[queue] = (day_start_ms, highs)
        held = highs[series] = max(value, highs.get(series, value))
        return held

    def keep_only(self, queues: set[tuple[str, str]]) -> None:
        for key in [k for k in self.days if k not in queues]:
            del self.days[key]


class WorkerCollector(Collector):
    """Reads ``views`` (the latest published snapshot per queue), the core and the stats."""

    def __init__(self, core: LiveCore, views: Mapping[tuple[str, str], Mapping[str, Any]],
                 stats: WorkerStats,
                 highwater: Callable[[Any], int | None] = lambda tp: None) -> None:
        """``highwater(tp)`` is a source partition's log end as the consumer last saw it."""
        self.core = core
        self.views = views
        self.stats = stats
        self.highwater = highwater
        self.highs = _DayHighs()

    def collect(self) -> Iterator[Metric]:
        yield from self._worker()
        yield from self._queues()

    def _worker(self) -> Iterator[Metric]:
        s = self.stats
        yield CounterMetricFamily("callpulse_events_processed", "Events applied by this worker",
                                  value=s.processed)
        rejected = CounterMetricFamily("callpulse_events_rejected",
                                       "Events sent to the DLQ, by reason", labels=["reason"])
        for reason, n in sorted(s.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield CounterMetricFamily("callpulse_events_forwarded",
                                  "Call events forwarded to the agents topic", value=s.forwarded)
        yield CounterMetricFamily(
            "callpulse_events_misrouted",
            "Events of a queue or agent seen on a second partition (producer not keying by "
            "queue/agent); folded without the redelivery guard", value=self.core.misrouted)
        if s.lag_s is not None:
            yield GaugeMetricFamily("callpulse_event_lag_seconds",
                                    "Wall clock minus the time of the newest event applied",
                                    value=s.lag_s)
        sources = GaugeMetricFamily("callpulse_source_last_event_timestamp_seconds",
                                    "Time of the newest event seen from each source",
                                    labels=["source"])
        stale = GaugeMetricFamily("callpulse_source_stale",
                                  "1 while nothing, not even a heartbeat, came from the source "
                                  "for 30 s (event clock)", labels=["source"])
        for source, ts in sorted(self.core.sources.items()):
            sources.add_metric([source], ts / 1000)
            stale.add_metric([source], 1 if source in self.core.stale else 0)
        yield sources
        yield stale
        behind = [(tp, self.highwater(tp), nxt) for tp, nxt in self.stats.next_offsets.items()]
        known = [max(0, end - nxt) for _, end, nxt in behind if end is not None]
        if known:
            # Records lag, unlike the event lag, does not grow when sources are only quiet:
            # it says whether this worker keeps up with what is there to read.
            yield GaugeMetricFamily("callpulse_consumer_lag_records",
                                    "Records in this worker's source partitions not yet folded",
                                    value=sum(known))
        yield GaugeMetricFamily("callpulse_redis_up", "1 when the last Redis write succeeded",
                                value=1 if s.redis_up else 0)
        yield GaugeMetricFamily("callpulse_worker_queues", "Queues this worker owns now",
                                value=len(self.views))

    def _queues(self) -> Iterator[Metric]:
        counters = {name: CounterMetricFamily(f"callpulse_queue_{name}",
                                              f"Calls counted as {name} today", labels=_Q)
                    for name in COUNTERS}
        live = {name: GaugeMetricFamily(f"callpulse_queue_{name}", f"Live {key}", labels=_Q)
                for name, key in _LIVE}
        windowed = {name: GaugeMetricFamily(f"callpulse_queue_{name}", f"{key} per window",
                                            labels=[*_Q, "window"]) for name, key in _WINDOWED}
        agents = GaugeMetricFamily("callpulse_queue_agents", "Agents serving the queue by state",
                                   labels=[*_Q, "state"])
        waits = HistogramMetricFamily("callpulse_queue_wait_seconds",
                                      "Waits of calls that left the queue today", labels=_Q)
        goal = GaugeMetricFamily("callpulse_queue_sl_goal_ratio", "Service-level goal", labels=_Q)
        threshold = GaugeMetricFamily("callpulse_queue_sl_threshold_seconds",
                                      "Service-level threshold T", labels=_Q)
        # Lets a rule pick the wait histogram's bucket of the threshold (a join on le), so
        # burn-rate rules need no threshold copied into them.
        sl_bucket = GaugeMetricFamily(
            "callpulse_queue_sl_bucket_info",
            "1 on the wait histogram's smallest bucket (le) holding the threshold T",
            labels=[*_Q, "le"])
        levels = GaugeMetricFamily("callpulse_queue_alert_level",
                                   "Alert levels of each rule", labels=[*_Q, "alert", "severity"])
        active = GaugeMetricFamily("callpulse_alerts_active", "1 per alert firing now",
                                   labels=[*_Q, "alert", "severity"])
        self.highs.keep_only(set(self.views))
        for (tenant, name), view in sorted(self.views.items()):
            labels = [tenant, name]
            frames, now = view["frames"], view["live"]
            today = frames["today"]
            q = self.core.queues.get((tenant, name))
            day = q.today_bounds[0] if q is not None else 0

            def held(series: str, value: float, key: tuple[str, str] = (tenant, name),
                     day: int = day) -> float:
                return self.highs.hold(key, day, series, value)

            for counter in COUNTERS:
                counters[counter].add_metric(labels, held(counter, today[counter]))
            for metric, key in _LIVE:
                if now.get(key) is not None:
                    live[metric].add_metric(labels, now[key])
            for metric, key in _WINDOWED:
                for window, frame in frames.items():
                    if frame.get(key) is not None:
                        windowed[metric].add_metric([*labels, window], frame[key])
            for state in ("available", "on_call", "wrap_up", "not_ready", "logged_in"):
                agents.add_metric([*labels, state], now.get(f"agents_{state}", 0))
            if q is not None:
                start, end = q.today_bounds
                today_v = q.today.v if start <= view["as_of_ms"] < end else None
                buckets, total = _histogram(q.today_waits, today_v)
                waits.add_metric(labels, [(le, held(f"le={le}", n)) for le, n in buckets],
                                 held("sum", total))
            goal.add_metric(labels, view["sl_goal_ratio"])
            threshold.add_metric(labels, view["sl_threshold_s"])
            sl_bucket.add_metric([*labels, sl_bucket_le(view["sl_threshold_s"])], 1)
            for alert, lv in view["levels"].items():
                for severity in ("warn", "crit"):
                    if lv[severity] is not None:
                        levels.add_metric([*labels, alert, severity], lv[severity])
            for a in view["alerts"]:
                active.add_metric([*labels, a["alert"], a["severity"]], 1)
        yield from counters.values()
        yield from live.values()
        yield from windowed.values()
        yield from (agents, waits, goal, threshold, sl_bucket, levels, active)


def sl_bucket_le(threshold_s: float) -> str:
    """The ``le`` of the smallest wait bucket holding ``threshold_s`` (exact when the threshold
    is one of :data:`WAIT_BUCKETS_S`)."""
    for bound in WAIT_BUCKETS_S:
        if threshold_s <= bound:
            return str(floatToGoString(bound))  # type: ignore[no-untyped-call]
    return "+Inf"


def _histogram(per_bucket: list[int], v: Counts | None) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``le`` buckets and the sum in seconds; all zero outside today."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip((*(floatToGoString(b) for b in WAIT_BUCKETS_S), "+Inf"), per_bucket,  # type: ignore[no-untyped-call]
                        strict=True):
        running += n if v is not None else 0
        buckets.append((bound, running))
    if v is None:
        return buckets, 0.0
    return buckets, (v[WAIT_ANSWERED_MS] + v[WAIT_ABANDONED_MS] + v[WAIT_OTHER_MS]) / 1000
