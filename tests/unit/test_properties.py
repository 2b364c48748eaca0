"""Invariants of the pure core, checked by Hypothesis on generated call-center days."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpulse import codec
from callpulse import events as ev
from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.queue import QueueParams
from callpulse.report import build_report
from callpulse.tally import FIELDS, MAX_WAIT_MS

from ..reports import differences
from .strategies import BASE_MS, day_of_events, perturbed

GRACE_MS = 60_000
UNTIL_MS = BASE_MS + 6 * 3_600_000
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _engine() -> Engine:
    return Engine(Config(), QueueParams(grace_ms=GRACE_MS, interval_ms=900_000))


def _report(engine: Engine) -> dict[str, Any]:
    engine.finish(UNTIL_MS)
    return build_report(engine, from_ms=BASE_MS - 3_600_000, until_ms=UNTIL_MS, interval_s=900,
                        timezone="UTC", sl_formula="excl_short_abandons", sl_threshold_s=20)


def _run(events: list[ev.AnyEvent]) -> dict[str, Any]:
    engine = _engine()
    engine.apply_all(events)
    return _report(engine)


@PROFILE
@given(st.data())
def test_reordering_within_grace_and_duplicates_change_nothing(data: st.DataObject) -> None:
    events = data.draw(day_of_events())
    shuffled = data.draw(perturbed(events, GRACE_MS))
    assert differences(_run(shuffled), _run(events)) == []


@PROFILE
@given(day_of_events())
def test_replay_is_deterministic(events: list[ev.AnyEvent]) -> None:
    assert _run(events) == _run(list(events))


@PROFILE
@given(st.data())
def test_state_bytes_round_trip_at_any_split(data: st.DataObject) -> None:
    """Folding, saving every state to bytes, restoring and folding on (what a worker does
    between batches and after a restart) equals folding at once."""
    events = data.draw(day_of_events())
    split = data.draw(st.integers(0, len(events)))
    engine = _engine()
    engine.apply_all(events[:split])
    queues, agents = [], []
    for q in engine.queues.values():
        raw = codec.queue_to_bytes(q)
        queues.append(back := codec.queue_from_bytes(raw, q.cfg, engine.params))
        assert codec.queue_to_bytes(back) == raw
    for a in engine.agents.values():
        raw = codec.agent_to_bytes(a)
        agents.append(back_a := codec.agent_from_bytes(
            raw, a.calendar, grace_ms=GRACE_MS, keep_intervals_ms=None))
        assert codec.agent_to_bytes(back_a) == raw
    engine.adopt(queues, agents)
    engine.apply_all(events[split:])
    assert differences(_report(engine), _run(events)) == []


@PROFILE
@given(st.data())
def test_state_bytes_between_batches_match_bytes_written_once(data: st.DataObject) -> None:
    """A worker writes a queue's bytes after every batch, reusing each call's encoding until the
    call changes (``Call.packed``); the bytes at the end equal those of a state folded at once
    and written once, so no change leaves a stale encoding behind."""
    events = data.draw(perturbed(data.draw(day_of_events()), GRACE_MS))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=6)))
    stored, once = _engine(), _engine()
    start = 0
    for cut in [*cuts, len(events)]:
        stored.apply_all(events[start:cut])
        stored.sweep(events[cut - 1].ts if cut else 0)
        once.apply_all(events[start:cut])
        once.sweep(events[cut - 1].ts if cut else 0)
        for q in stored.queues.values():
            codec.queue_to_bytes(q)
        start = cut
    assert stored.queues.keys() == once.queues.keys()
    for key, q in once.queues.items():
        assert codec.queue_to_bytes(stored.queues[key]) == codec.queue_to_bytes(q)


@PROFILE
@given(st.data())
def test_counters_never_negative(data: st.DataObject) -> None:
    events = data.draw(perturbed(data.draw(day_of_events()), GRACE_MS))
    engine = _engine()
    for n, e in enumerate(events):
        engine.apply(e)
        if n % 7 == 0:
            for q in engine.queues.values():
                for tally in [q.today, *q.intervals.values()]:
                    assert min(tally.v) >= 0
                    assert all(c > 0 for c in tally.dispositions.values())
                for window in q.params.windows_ms:
                    assert min(q.ring.window(e.ts, q.params.windows_ms[window])) >= 0
                assert q.live(e.ts)["waiting"] >= 0
            for a in engine.agents.values():
                assert min(a.today.v) >= 0


@PROFILE
@given(day_of_events())
def test_intervals_sum_to_the_day(events: list[ev.AnyEvent]) -> None:
    """Two independent paths agree: the `today` frame (counted at outcome time) and the sum of
    the day's intervals (counted at entry time), when every call enters and leaves that day."""
    engine = _engine()
    engine.apply_all(events)
    now = max(e.ts for e in events)
    for q in engine.queues.values():
        day_start, day_end = q.calendar.day(now)
        if any(not day_start <= e.ts < day_end for e in events):
            continue
        total = [0] * len(FIELDS)
        for tally in q.intervals.values():
            for i, n in enumerate(tally.v):
                total[i] = max(total[i], n) if i == MAX_WAIT_MS else total[i] + n
        assert total == list(q.today.v)
