"""The simulator: deterministic, valid events in time order, and a spike that makes waits climb."""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter

import pytest

from callpulse import events as ev
from producers.cli import load_share
from producers.kafka_sink import route
from producers.simulator import SimSettings, simulate

MORNING_MS = 1_763_971_200_000  # 2025-11-24T08:00:00Z


def run(**kw: object) -> list[dict[str, object]]:
    settings = SimSettings(start_ms=MORNING_MS, **{"duration_s": 3 * 3600, **kw})  # type: ignore[arg-type]
    return list(simulate(settings))


def test_same_seed_same_events_other_seed_other_events() -> None:
    assert run(seed=3) == run(seed=3)
    assert run(seed=3) != run(seed=4)


def test_events_are_valid_canonical_events_in_time_order() -> None:
    events = run(seed=5)
    decoded = [ev.decode_event(json.dumps(e)) for e in events]
    assert not [d for d in decoded if isinstance(d, ev.Rejected)]
    assert all(a["ts"] <= b["ts"] for a, b in itertools.pairwise(events))
    assert len({e["id"] for e in events}) == len(events)
    kinds = Counter(e["type"] for e in events)
    for kind in ("ringing", "answered", "abandoned", "ended", "wrapup_started", "wrapup_ended",
                 "hold", "unhold", "agent_login", "agent_ready", "agent_not_ready",
                 "heartbeat", "ring_no_answer"):
        assert kinds[kind] > 0, kind
    # Every call that is answered rang first; outcomes are at most one per call and queue.
    rang = {(e["queue"], e["call_id"]) for e in events if e["type"] == "ringing"}
    outcomes = Counter((e["queue"], e["call_id"]) for e in events if e["type"] in
                       ("answered", "abandoned", "voicemail_left", "callback_requested",
                        "flowed_out"))
    assert set(outcomes) <= rang and max(outcomes.values()) == 1


def test_sales_convert_and_support_resolves() -> None:
    events = run(seed=6)
    by_kind: dict[str, Counter[str]] = {"sales": Counter(), "support": Counter()}
    for e in events:
        if e["type"] == "ended" and e["queue"] in by_kind:
            by_kind[str(e["queue"])][str(e["disposition"])] += 1
    assert by_kind["sales"]["sale"] > 0 and by_kind["sales"]["resolved"] == 0
    assert by_kind["support"]["resolved"] > 0 and by_kind["support"]["sale"] == 0


def mean_wait(events: list[dict[str, object]], queue: str, from_ms: int, to_ms: int) -> float:
    waits = [float(e["wait_s"]) for e in events  # type: ignore[arg-type]
             if e["type"] in ("answered", "abandoned") and e["queue"] == queue
             and from_ms <= e["ts"] < to_ms]  # type: ignore[operator]
    return sum(waits) / len(waits)


def test_the_spike_makes_waits_climb_in_the_first_queue() -> None:
    window = (MORNING_MS + 600_000, MORNING_MS + 1_320_000)
    normal = mean_wait(run(seed=8, duration_s=1800), "sales", *window)
    spike = mean_wait(run(seed=8, duration_s=1800, scenario="spike"), "sales", *window)
    assert spike > 3 * normal and spike > 60


def test_keys_follow_the_event_contract() -> None:
    assert route({"type": "agent_ready", "agent": "a1"}, "c", "a") == ("a", b"a1")
    assert route({"type": "answered", "queue": "q", "agent": "a1"}, "c", "a") == ("c", b"q")


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="scenario"):
        SimSettings(start_ms=0, scenario="storm")
    with pytest.raises(ValueError):
        SimSettings(start_ms=0, agents=0)


def test_a_steady_load_does_not_depend_on_the_hour() -> None:
    """By default calls follow the UTC time of day (03:00 is quiet); with ``load`` every hour
    gets that share of the busiest hour's calls, so a demo or a test is the same whenever it
    runs."""
    def calls(start_hour: int, load: float | None) -> int:
        start = MORNING_MS + (start_hour - 8) * 3_600_000
        return sum(e["type"] == "ringing" for e in simulate(SimSettings(
            start_ms=start, duration_s=3600, seed=9, load=load)))

    night, morning = calls(3, None), calls(10, None)
    assert night * 10 < morning  # the curve: 0.03 against 1.0
    steady = [calls(hour, 0.6) for hour in (3, 10, 20)]
    assert max(steady) < 1.3 * min(steady), steady  # the same rate, other random draws
    assert 0.45 * morning < min(steady) and max(steady) < 0.75 * morning


@pytest.mark.parametrize("load", [0.0, -0.5, 1.5])
def test_a_load_outside_0_to_1_is_refused(load: float) -> None:
    with pytest.raises(ValueError, match="load must be above 0 and at most 1"):
        SimSettings(start_ms=MORNING_MS, load=load)


@pytest.mark.parametrize("text", ["0", "1.5", "-1", "nan", "busy"])
def test_the_load_flag_of_simulate_and_demo_takes_only_a_share(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a share of the busiest hour"):
        load_share(text)
    assert load_share("0.25") == 0.25 and load_share("1") == 1.0
