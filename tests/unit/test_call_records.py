"""Which events make one call's record: a finished call stays joinable for its reach, a later
event with the same id starts a new record, and a late event that bridges the two joins them
again, so arrival order within the grace never changes the result (spec/EVENTS.md, "Rules")."""

from __future__ import annotations

import itertools

from callpulse import codec
from callpulse import events as ev
from callpulse.config import QueueConfig
from callpulse.queue import QueueParams, QueueState
from callpulse.tally import ANSWERED, CALLBACKS_REACHED, OFFERED, VOICEMAILS

from .test_formulas import (
    T0,
    S,
    abandoned,
    answered,
    attempt,
    cancelled,
    ended,
    flowed_out,
    ringing,
    voicemail,
)

GRACE_MS = 60 * S


def _queue(events: list[ev.CallEvent]) -> QueueState:
    q = QueueState("default", "q", QueueConfig(), QueueParams(grace_ms=GRACE_MS))
    for e in events:
        assert q.apply(e)
    return q


def _view(q: QueueState) -> object:
    """What a reader sees of the queue a while after the events: every frame, the live values,
    the intervals and the janitor's counts (the ring's bytes may differ: a bucket a retracted
    contribution touched stays the newest one)."""
    now = T0 + 200 * S
    return ([q.frame(name, now) for name in ("5m", "15m", "60m", "today")], q.live(now),
            {start: t.to_state() for start, t in q.intervals.items()}, q.janitor)


def _counts(q: QueueState) -> tuple[int, ...]:
    v = q.today.v
    return (v[OFFERED], v[ANSWERED], v[VOICEMAILS], v[CALLBACKS_REACHED])


def _callback_twice_then_cancel() -> list[ev.CallEvent]:
    # The voicemail's item closes with the first reach at +60 s; the second attempt comes a full
    # grace later (+120 s, still joining: it is not *more* than the grace after), the cancel 1 s
    # after that: both belong to the call in the ordered stream.
    return [ringing("c1", T0), voicemail("c1", T0 + 5 * S), attempt("c1", T0 + 60 * S, "reached"),
            attempt("c1", T0 + 120 * S, "reached"), cancelled("c1", T0 + 121 * S)]


def test_a_cancel_arriving_before_the_attempt_it_follows_joins_the_same_record() -> None:
    """Found by Hypothesis: the cancel, one second after the second attempt but arriving first,
    is more than the grace after the record's last event then, so it starts a new record; the
    attempt, arriving next, bridges the two and must join them again."""
    ordered = _callback_twice_then_cancel()
    ring, vm, first, second, cancel = ordered
    for arrival in ([ring, vm, first, cancel, second], [cancel, ring, first, vm, second]):
        q = _queue(arrival)
        assert _counts(q) == _counts(_queue(ordered)) == (1, 0, 1, 2)
        assert q.janitor == {}, "no record may be left without an entry"
        assert list(q.calls) == ["c1"] and q.earlier == {}
        assert _view(q) == _view(_queue(ordered))


def test_every_arrival_order_within_the_grace_gives_the_ordered_result() -> None:
    ordered = _callback_twice_then_cancel()
    expected = _view(_queue(ordered))
    for arrival in itertools.permutations(ordered):
        # Only orders in which no event arrives over the grace after a later one.
        if all(b.ts > a.ts - GRACE_MS for i, a in enumerate(arrival) for b in arrival[i + 1:]):
            assert _view(_queue(list(arrival))) == expected


def _reused_id() -> list[ev.CallEvent]:
    # c1 abandoned at +10 s; the source reuses the id for a new call at +100 s, 90 s later.
    return [ringing("c1", T0), abandoned("c1", T0 + 10 * S), ringing("c1", T0 + 100 * S),
            answered("c1", T0 + 130 * S)]


def test_a_reused_id_after_the_reach_starts_a_new_call() -> None:
    q = _queue(_reused_id())
    assert _counts(q) == (2, 1, 0, 0)
    assert q.frame("today", T0 + 200 * S)["asa_s"] == 30.0
    assert [c.first_ms() for c in q.earlier["c1"]] == [T0]
    assert q.calls["c1"].first_ms() == T0 + 100 * S


def test_a_late_event_bridging_two_records_joins_them() -> None:
    # Ordered: the item closes with a reach at +60 s, a failed attempt follows at +100 s and a
    # ringing at +150 s, 50 s after it: one call, offered once. Without the attempt the ringing
    # is 90 s after the record's last event: a new call.
    early = [ringing("c1", T0), voicemail("c1", T0 + 10 * S), attempt("c1", T0 + 60 * S, "reached")]
    bridge, late_ring = attempt("c1", T0 + 100 * S, "failed"), ringing("c1", T0 + 150 * S)
    ordered = [*early, bridge, late_ring]
    q = _queue([*early, late_ring])
    assert _counts(q) == (2, 0, 1, 1) and "c1" in q.earlier
    assert q.live(T0 + 150 * S)["waiting"] == 1
    assert q.apply(bridge)
    assert q.earlier == {}
    assert _counts(q) == _counts(_queue(ordered)) == (1, 0, 1, 1)
    assert q.live(T0 + 150 * S)["waiting"] == 0
    assert _view(q) == _view(_queue(ordered))


def test_a_finished_record_is_dropped_once_nothing_can_join_it() -> None:
    q = _queue(_reused_id()[:2])
    # More than reach (the grace, for an abandon) plus grace after +10 s: final at once.
    assert q.apply(ringing("c1", T0 + 10 * S + 2 * GRACE_MS + 1))
    assert q.earlier == {} and _counts(q) == (2, 0, 0, 0)


def test_the_sweep_drops_kept_records_with_their_latest_or_once_final() -> None:
    q = _queue(_reused_id())
    assert q.sweep(T0 + 130 * S) is False
    assert "c1" in q.earlier
    assert q.sweep(T0 + 10 * S + 2 * GRACE_MS + 1) is True
    assert q.earlier == {} and "c1" in q.calls, "the answered call is still talking"
    assert _counts(q) == (2, 1, 0, 0)


def test_kept_records_survive_the_state_bytes() -> None:
    q = _queue(_reused_id())
    back = codec.queue_from_bytes(codec.queue_to_bytes(q), q.cfg, q.params)
    assert [c.first_ms() for c in back.earlier["c1"]] == [T0]
    assert codec.queue_to_bytes(back) == codec.queue_to_bytes(q)


def test_an_earlier_outcome_replacing_an_answer_takes_its_talk_time_away() -> None:
    """Found in review: the flow-out (+25 s) arriving after the answer (+30 s) it precedes must
    leave the call unhandled, as in the ordered stream, not handled with the answer's talk."""
    ring, end = ringing("c1", T0), ended("c1", T0 + 20 * S)
    ans, flowed = answered("c1", T0 + 30 * S), flowed_out("c1", T0 + 25 * S)
    ordered, late = _queue([ring, end, flowed, ans]), _queue([ring, end, ans, flowed])
    now = T0 + 200 * S
    got, want = late.frame("today", now), ordered.frame("today", now)
    # (max_wait_s keeps the answer's longer wait: a maximum cannot be taken back, docs §11)
    assert {**got, "max_wait_s": None} == {**want, "max_wait_s": None}
    assert (got["handled"], got["flowed_out"], got["answered"]) == (0, 1, 0)


def test_the_trend_lists_every_interval_of_today_up_to_now() -> None:
    """The wallboard's chart: one column entry per interval of today up to now, the empty ones
    with no calls and no metrics, the others as the interval report has them."""
    q = _queue([ringing("c1", T0), answered("c1", T0 + 10 * S),
                ringing("c2", T0 + 3_600 * S), abandoned("c2", T0 + 3_640 * S)])
    now = T0 + 2 * 3_600 * S
    got = q.trend(now)
    rows = q.report_intervals(q.today_bounds[0], now + 1)
    assert got["start_ms"] == [start for start, _ in rows]
    assert got["offered"] == [t.v[OFFERED] for _, t in rows]
    assert sum(got["offered"]) == 2 and got["offered"].count(1) == 2
    filled = [i for i, n in enumerate(got["offered"]) if n]
    assert got["asa_s"][filled[0]] == 10.0 and got["asa_s"][filled[1]] is None
    assert all(got["service_level_ratio"][i] is None
               for i, n in enumerate(got["offered"]) if not n)
    assert q.trend(q.today_bounds[1]) == {"start_ms": [], "offered": [], "asa_s": [],
                                          "service_level_ratio": []}  # another day
