"""Metric formulas of spec/METRICS.md, on hand-computed numbers: `callpulse.tally` directly and
end to end through `callpulse.queue.QueueState`."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from callpulse import events as ev
from callpulse.calls import _secs_ms
from callpulse.config import QueueConfig
from callpulse.queue import QueueParams, QueueState
from callpulse.tally import (
    ABANDONED,
    ABANDONED_WITHIN,
    ACW_COUNT,
    ACW_MS,
    ANSWERED,
    ANSWERED_WITHIN,
    CALLBACKS_FAILED,
    CALLBACKS_REACHED,
    CALLBACKS_REQUESTED,
    FLOWED_OUT,
    HANDLED,
    HOLD_MS,
    LOST,
    MAX_WAIT_MS,
    NF,
    OFFERED,
    OTHER_WITHIN,
    SALES,
    SHORT_ABANDONED,
    SL_FORMULAS,
    TALK_MS,
    VOICEMAILS,
    WAIT_ABANDONED_MS,
    WAIT_ANSWERED_MS,
    WAIT_OTHER_MS,
    Counts,
    counts,
    metrics,
    rounded,
    service_level,
    zeros,
)

# 2024-01-15T09:00:00Z, the start of a UTC quarter-hour (and 9 h after the UTC day start).
T0 = 1_705_309_200_000
S = 1000  # one second in ms

_ids = itertools.count()


def _common(cid: str, ts: int) -> dict[str, Any]:
    return {"v": 1, "id": f"e{next(_ids)}", "ts": ts, "source": "t", "call_id": cid, "queue": "q"}


def ringing(cid: str, ts: int) -> ev.Ringing:
    return ev.Ringing(**_common(cid, ts))


def answered(cid: str, ts: int, wait_s: float | None = None) -> ev.Answered:
    return ev.Answered(**_common(cid, ts), agent="a1", wait_s=wait_s)


def abandoned(cid: str, ts: int, wait_s: float | None = None) -> ev.Abandoned:
    return ev.Abandoned(**_common(cid, ts), wait_s=wait_s)


def flowed_out(cid: str, ts: int, reason: str = "timeout") -> ev.FlowedOut:
    return ev.FlowedOut(**_common(cid, ts), reason=reason)  # type: ignore[arg-type]


def voicemail(cid: str, ts: int) -> ev.VoicemailLeft:
    return ev.VoicemailLeft(**_common(cid, ts))


def callback_requested(cid: str, ts: int) -> ev.CallbackRequested:
    return ev.CallbackRequested(**_common(cid, ts))


def attempt(cid: str, ts: int, result: str) -> ev.CallbackAttempted:
    return ev.CallbackAttempted(**_common(cid, ts), agent="a1", result=result)  # type: ignore[arg-type]


def cancelled(cid: str, ts: int) -> ev.CallbackCancelled:
    return ev.CallbackCancelled(**_common(cid, ts))


def hold(cid: str, ts: int) -> ev.Hold:
    return ev.Hold(**_common(cid, ts), agent="a1")


def unhold(cid: str, ts: int) -> ev.Unhold:
    return ev.Unhold(**_common(cid, ts), agent="a1")


def ended(cid: str, ts: int, disposition: str | None = None, talk_s: float | None = None) -> ev.Ended:
    return ev.Ended(**_common(cid, ts), agent="a1", disposition=disposition, talk_s=talk_s)


def wrapup_started(cid: str, ts: int) -> ev.WrapupStarted:
    return ev.WrapupStarted(**_common(cid, ts), agent="a1")


def wrapup_ended(cid: str, ts: int, acw_s: float | None = None) -> ev.WrapupEnded:
    return ev.WrapupEnded(**_common(cid, ts), agent="a1", acw_s=acw_s)


def queue(cfg: QueueConfig | None = None, events: list[ev.CallEvent] | None = None) -> QueueState:
    q = QueueState("default", "q", cfg or QueueConfig(), QueueParams())
    for e in events or []:
        assert q.apply(e)
    return q


def vec(**fields: int) -> Counts:
    v = [0] * NF
    for name, value in fields.items():
        v[globals()[name.upper()]] = value
    return counts(v)


# -- the one hand-computed interval ----------------------------------------------------------
#
# T = 20 s, S = 5 s (defaults). Eleven calls ring in the quarter-hour starting at T0, 10 s apart,
# and leave the queue after these waits (ms):
#   answered:  10_000, 20_000, 20_001, 30_999    A = 4, A<=T = 2 (10.000, 20.000)
#   abandoned:  3_000,  5_000,  5_001, 40_999    Ab = 4, Ab<=T = 3 (3, 5, 5.001), Ab<=S = 2 (3, 5.000)
#   flowed out (timeout) 10_000, voicemail 25_000, callback requested 8_000
#                                                F = 3, F<=T = 2 (10, 8)
# Service level:
#   excl_short_abandons     A<=T / (A + Ab - Ab<=S)          = 2 / (4 + 4 - 2)     = 1/3  -> 0.333333
#   abandons_negative       A<=T / (A + Ab)                  = 2 / 8                      = 0.25
#   answered_only           A<=T / A                         = 2 / 4                      = 0.5
#   abandons_positive       (A<=T + Ab<=T) / (A + Ab)        = (2 + 3) / 8                = 0.625
#   ignore_abandons_within  A<=T / (A + Ab - Ab<=T)          = 2 / (4 + 4 - 3)            = 0.4
#   removed_within          (A<=T + Ab<=T + F<=T)/(A+Ab+F)   = (2 + 3 + 2) / 11 = 0.6363.. -> 0.636364
# abandon_ratio = Ab / (A + Ab + F) = 4 / 11 = 0.363636..                          -> 0.363636
# asa_s = (10 + 20 + 20.001 + 30.999) / 4 = 81 / 4                                 = 20.25
# avg_abandon_wait_s = (3 + 5 + 5.001 + 40.999) / 4 = 54 / 4                       = 13.5
# avg_wait_s = (81 + 54 + 10 + 25 + 8) / 11 = 178 / 11 = 16.1818..                 -> 16.182
# max_wait_s = 40.999
# arrival_per_min: 15m window: 11 / 15 = 0.73333.. -> 0.7333; today at 09:10Z (550 min): 11 / 550 = 0.02

WAITS = (
    [(answered, w) for w in (10_000, 20_000, 20_001, 30_999)]
    + [(abandoned, w) for w in (3_000, 5_000, 5_001, 40_999)]
    + [(flowed_out, 10_000), (voicemail, 25_000), (callback_requested, 8_000)]
)
SL_EXPECTED = {
    "excl_short_abandons": 0.333333,
    "abandons_negative": 0.25,
    "answered_only": 0.5,
    "abandons_positive": 0.625,
    "ignore_abandons_within": 0.4,
    "removed_within": 0.636364,
}
NOW = T0 + 600 * S  # 09:10Z


def interval_events() -> list[ev.CallEvent]:
    out: list[ev.CallEvent] = []
    for i, (make, wait) in enumerate(WAITS):
        ring_ts = T0 + i * 10 * S
        out += [ringing(f"c{i}", ring_ts), make(f"c{i}", ring_ts + wait)]
    return out


def interval_vector() -> Counts:
    return vec(
        offered=11, answered=4, answered_within=2, abandoned=4, abandoned_within=3,
        short_abandoned=2, flowed_out=1, voicemails=1, callbacks_requested=1, other_within=2,
        wait_answered_ms=81_000, wait_abandoned_ms=54_000, wait_other_ms=43_000, max_wait_ms=40_999,
    )


def test_formula_names() -> None:
    assert set(SL_FORMULAS) == set(SL_EXPECTED)
    assert QueueConfig().sl_formula == "excl_short_abandons"


@pytest.mark.parametrize("formula", sorted(SL_EXPECTED))
def test_service_level_of_the_hand_computed_vector(formula: str) -> None:
    assert service_level(interval_vector(), formula) == SL_EXPECTED[formula]


def test_unknown_formula_raises() -> None:
    with pytest.raises(ValueError, match="nope"):
        service_level(interval_vector(), "nope")


def test_metrics_of_the_hand_computed_vector() -> None:
    got = metrics(interval_vector(), "excl_short_abandons", 900_000)
    assert got == {
        "service_level_ratio": 0.333333,
        "abandon_ratio": 0.363636,
        "asa_s": 20.25,
        "avg_abandon_wait_s": 13.5,
        "avg_wait_s": 16.182,
        "max_wait_s": 40.999,
        "avg_talk_s": None,
        "avg_hold_s": None,
        "avg_acw_s": None,
        "aht_s": None,
        "conversion_ratio": None,
        "arrival_per_min": 0.7333,
    }


def test_interval_counters_end_to_end() -> None:
    q = queue(events=interval_events())
    assert list(q.intervals) == [T0]
    assert q.intervals[T0].v == interval_vector()
    assert q.intervals[T0].flowed_by_reason == {"timeout": 1}


@pytest.mark.parametrize("formula", sorted(SL_EXPECTED))
def test_every_formula_end_to_end_on_one_interval(formula: str) -> None:
    q = queue(QueueConfig(sl_formula=formula), interval_events())
    expected = SL_EXPECTED[formula]
    assert service_level(q.intervals[T0].v, formula) == expected
    for frame in ("15m", "60m", "today"):
        assert q.frame(frame, NOW)["service_level_ratio"] == expected, frame
    # The 5m window at 09:10 is (09:05, 09:10]: every outcome (by 09:02:21) is outside it.
    assert q.frame("5m", NOW)["service_level_ratio"] is None


def test_frames_end_to_end_on_one_interval() -> None:
    q = queue(events=interval_events())
    common = {
        "offered": 11, "answered": 4, "answered_within_sl": 2, "abandoned": 4,
        "short_abandoned": 2, "abandoned_within_sl": 3, "flowed_out": 1, "voicemails": 1,
        "callbacks_requested": 1, "callbacks_reached": 0, "callbacks_failed": 0, "handled": 0,
        "ring_no_answer": 0, "lost": 0,
        "service_level_ratio": 0.333333, "abandon_ratio": 0.363636, "asa_s": 20.25,
        "avg_abandon_wait_s": 13.5, "avg_wait_s": 16.182, "max_wait_s": 40.999, "avg_talk_s": None,
        "avg_hold_s": None, "avg_acw_s": None, "aht_s": None, "conversion_ratio": None,
    }
    assert q.frame("15m", NOW) == {**common, "arrival_per_min": 0.7333}
    assert q.frame("today", NOW) == {**common, "arrival_per_min": 0.02}
    # 60 minutes later the 15m window is empty again, but today still holds everything.
    later = NOW + 3_600 * S
    empty = q.frame("15m", later)
    assert empty["offered"] == 0
    assert empty["service_level_ratio"] is None
    assert q.frame("today", later)["offered"] == 11


# -- boundaries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait_ms", "within"), [(0, 1), (19_999, 1), (20_000, 1), (20_001, 0), (60_000, 0)]
)
def test_answered_within_is_wait_le_t(wait_ms: int, within: int) -> None:
    q = queue(events=[ringing("c", T0), answered("c", T0 + wait_ms)])
    v = q.intervals[T0].v
    assert (v[ANSWERED], v[ANSWERED_WITHIN], v[WAIT_ANSWERED_MS]) == (1, within, wait_ms)
    assert q.frame("15m", NOW)["service_level_ratio"] == float(within)


def test_threshold_follows_the_queue_config() -> None:
    cfg = QueueConfig(sl_threshold_s=10.5, short_abandon_s=2.5)
    q = queue(cfg, [
        ringing("a", T0), answered("a", T0 + 10_500),
        ringing("b", T0), answered("b", T0 + 10_501),
        ringing("c", T0), abandoned("c", T0 + 2_500),
        ringing("d", T0), abandoned("d", T0 + 2_501),
    ])
    v = q.intervals[T0].v
    assert (v[ANSWERED_WITHIN], v[ABANDONED_WITHIN], v[SHORT_ABANDONED]) == (1, 2, 1)


@pytest.mark.parametrize(
    ("wait_ms", "short", "within"),
    [(0, 1, 1), (4_999, 1, 1), (5_000, 1, 1), (5_001, 0, 1), (20_000, 0, 1), (20_001, 0, 0)],
)
def test_short_abandon_is_wait_le_s(wait_ms: int, short: int, within: int) -> None:
    q = queue(events=[ringing("c", T0), abandoned("c", T0 + wait_ms)])
    v = q.intervals[T0].v
    assert (v[ABANDONED], v[SHORT_ABANDONED], v[ABANDONED_WITHIN]) == (1, short, within)
    # excl_short_abandons: 0 / (0 + 1 - short): None when the only abandon is short.
    assert q.frame("15m", NOW)["service_level_ratio"] == (None if short else 0.0)


@pytest.mark.parametrize(("wait_ms", "within"), [(20_000, 1), (20_001, 0)])
def test_other_exits_within_is_wait_le_t(wait_ms: int, within: int) -> None:
    q = queue(QueueConfig(sl_formula="removed_within"), [
        ringing("f", T0), flowed_out("f", T0 + wait_ms, "no_agents"),
        ringing("v", T0), voicemail("v", T0 + wait_ms),
        ringing("b", T0), callback_requested("b", T0 + wait_ms),
    ])
    v = q.intervals[T0].v
    assert (v[FLOWED_OUT], v[VOICEMAILS], v[CALLBACKS_REQUESTED]) == (1, 1, 1)
    assert v[OTHER_WITHIN] == 3 * within
    assert v[WAIT_OTHER_MS] == 3 * wait_ms
    assert q.frame("15m", NOW)["service_level_ratio"] == float(within)
    assert q.frame("15m", NOW)["abandon_ratio"] == 0.0


# -- empty denominators ----------------------------------------------------------------------


@pytest.mark.parametrize("formula", sorted(SL_EXPECTED))
def test_everything_is_none_on_an_empty_vector(formula: str) -> None:
    got = metrics(zeros(NF), formula, 900_000)
    assert got.pop("arrival_per_min") == 0.0
    assert got == dict.fromkeys(got, None)
    assert len(got) == 11
    assert service_level(zeros(NF), formula) is None


def test_empty_queue_frames_are_none() -> None:
    q = queue()
    for frame in ("5m", "15m", "60m"):
        got = q.frame(frame, NOW)
        assert got["offered"] == 0
        assert got["service_level_ratio"] is None
        assert got["asa_s"] is None
        assert got["abandon_ratio"] is None
    assert q.live(NOW) == {
        "waiting": 0, "oldest_wait_s": None, "callbacks_pending": 0, "oldest_callback_s": None,
    }


def test_each_denominator_on_its_own() -> None:
    # Only short abandons: A + Ab - Ab<=S = 0, but A + Ab = 2.
    only_short = vec(offered=2, abandoned=2, abandoned_within=2, short_abandoned=2,
                     wait_abandoned_ms=4_000, max_wait_ms=3_000)
    assert service_level(only_short, "excl_short_abandons") is None
    assert service_level(only_short, "ignore_abandons_within") is None
    assert service_level(only_short, "answered_only") is None
    assert service_level(only_short, "abandons_negative") == 0.0
    assert service_level(only_short, "abandons_positive") == 1.0
    assert service_level(only_short, "removed_within") == 1.0
    m = metrics(only_short, "excl_short_abandons")
    assert "arrival_per_min" not in m
    assert (m["asa_s"], m["avg_abandon_wait_s"], m["avg_wait_s"]) == (None, 2.0, 2.0)
    assert (m["abandon_ratio"], m["max_wait_s"]) == (1.0, 3.0)
    # Only flowed-out calls: everything about answers and abandons is None, but removed_within
    # and abandon_ratio have a denominator.
    only_f = vec(offered=1, flowed_out=1, other_within=1, wait_other_ms=7_000, max_wait_ms=7_000)
    for formula in SL_FORMULAS:
        expected = 1.0 if formula == "removed_within" else None
        assert service_level(only_f, formula) == expected, formula
    m = metrics(only_f, "answered_only")
    assert (m["abandon_ratio"], m["asa_s"], m["avg_abandon_wait_s"]) == (0.0, None, None)
    assert (m["avg_wait_s"], m["max_wait_s"]) == (7.0, 7.0)
    # Handled calls with no after-call work: avg_acw_s is None, aht without it.
    handled = vec(handled=2, talk_ms=100_000, hold_ms=20_000)
    m = metrics(handled, "answered_only")
    assert (m["avg_talk_s"], m["avg_hold_s"], m["aht_s"]) == (50.0, 10.0, 60.0)
    assert (m["avg_acw_s"], m["conversion_ratio"]) == (None, 0.0)
    # After-call work without handled calls: avg_acw_s known, every per-handled mean None.
    acw_only = vec(acw_count=2, acw_ms=30_000)
    m = metrics(acw_only, "answered_only")
    assert m["avg_acw_s"] == 15.0
    assert (m["avg_talk_s"], m["avg_hold_s"], m["aht_s"], m["conversion_ratio"]) == (None,) * 4


def test_abandon_ratio_counts_every_other_exit_in_the_denominator() -> None:
    # 2 / (3 + 2 + F), F = 1 flowed out + 1 voicemail + 3 callbacks requested = 5 -> 2 / 10.
    v = vec(answered=3, abandoned=2, flowed_out=1, voicemails=1, callbacks_requested=3)
    assert metrics(v, "excl_short_abandons")["abandon_ratio"] == 0.2
    # End to end: 1 answered, 1 abandoned, 1 flowed out, 1 voicemail, 1 callback -> 1 / 5.
    q = queue(events=[
        ringing("a", T0), answered("a", T0 + 1_000),
        ringing("b", T0), abandoned("b", T0 + 1_000),
        ringing("c", T0), flowed_out("c", T0 + 1_000, "overflow"),
        ringing("d", T0), voicemail("d", T0 + 1_000),
        ringing("e", T0), callback_requested("e", T0 + 1_000),
    ])
    assert q.frame("15m", NOW)["abandon_ratio"] == 0.2
    assert q.frame("today", NOW)["abandon_ratio"] == 0.2


# -- durations -------------------------------------------------------------------------------


def test_source_wait_wins_over_ts_difference() -> None:
    # Ts differences are 30 s and 2 s, the sources say 12.5 s and 25 s.
    q = queue(events=[
        ringing("a", T0), answered("a", T0 + 30_000, wait_s=12.5),
        ringing("b", T0), abandoned("b", T0 + 2_000, wait_s=25.0),
    ])
    v = q.intervals[T0].v
    assert (v[WAIT_ANSWERED_MS], v[ANSWERED_WITHIN]) == (12_500, 1)
    assert (v[WAIT_ABANDONED_MS], v[ABANDONED_WITHIN], v[SHORT_ABANDONED]) == (25_000, 0, 0)
    assert v[MAX_WAIT_MS] == 25_000
    m = q.frame("15m", NOW)
    assert (m["asa_s"], m["avg_abandon_wait_s"], m["avg_wait_s"]) == (12.5, 25.0, 18.75)
    assert m["max_wait_s"] == 25.0


def test_source_wait_of_zero_wins_too() -> None:
    q = queue(events=[ringing("a", T0), answered("a", T0 + 45_000, wait_s=0)])
    assert q.frame("15m", NOW)["asa_s"] == 0.0
    assert q.intervals[T0].v[ANSWERED_WITHIN] == 1


def handled_calls() -> list[ev.CallEvent]:
    # Call x: answered at +5 s (wait 5 s), hold +65..+95 s (30 s), ended at +305 s without talk_s:
    #   talk = 305 - 5 - 30 = 270 s; wrap-up +305..+335 s: acw 30 s; disposition no_sale.
    # Call y: answered at +20 s (wait 10 s), ended at +400 s with talk_s 100 (wins over 380 s),
    #   no hold, wrap-up end with acw_s 20 (no start); disposition sale.
    return [
        ringing("x", T0), answered("x", T0 + 5 * S), hold("x", T0 + 65 * S),
        unhold("x", T0 + 95 * S), ended("x", T0 + 305 * S, "no_sale"),
        wrapup_started("x", T0 + 305 * S), wrapup_ended("x", T0 + 335 * S),
        ringing("y", T0 + 10 * S), answered("y", T0 + 20 * S),
        ended("y", T0 + 400 * S, "sale", talk_s=100), wrapup_ended("y", T0 + 500 * S, acw_s=20),
    ]


def test_talk_hold_acw_aht_and_conversion() -> None:
    q = queue(events=handled_calls())
    t = q.intervals[T0]
    assert t.v[HANDLED] == 2
    assert t.v[TALK_MS] == 270_000 + 100_000
    assert t.v[HOLD_MS] == 30_000
    assert (t.v[ACW_COUNT], t.v[ACW_MS]) == (2, 50_000)
    assert t.v[SALES] == 1
    assert t.dispositions == {"no_sale": 1, "sale": 1}
    m = q.frame("15m", NOW)
    # avg_talk = 370 / 2 = 185; avg_hold = 30 / 2 = 15; avg_acw = 50 / 2 = 25;
    # aht = (370 + 30 + 50) / 2 = 225; conversion = 1 sale / 2 handled = 0.5; asa = (5 + 10) / 2.
    assert m["handled"] == 2
    assert (m["avg_talk_s"], m["avg_hold_s"], m["avg_acw_s"]) == (185.0, 15.0, 25.0)
    assert m["aht_s"] == 225.0
    assert m["conversion_ratio"] == 0.5
    assert m["asa_s"] == 7.5
    assert q.frame("today", NOW)["aht_s"] == 225.0


def test_open_hold_runs_to_the_end_of_the_call() -> None:
    # Answered at +10 s, hold at +40 s never released, ended at +100 s:
    # hold = 60 s, talk = 100 - 10 - 60 = 30 s, aht = 90 s.
    q = queue(events=[
        ringing("z", T0), answered("z", T0 + 10 * S), hold("z", T0 + 40 * S), ended("z", T0 + 100 * S),
    ])
    m = q.frame("15m", NOW)
    assert (m["avg_talk_s"], m["avg_hold_s"], m["aht_s"]) == (30.0, 60.0, 90.0)
    assert m["conversion_ratio"] == 0.0


def test_two_holds_are_summed() -> None:
    # Answered at 0 s; holds 10..20 and 30..45 (25 s); ended at 60 s: talk = 60 - 25 = 35 s.
    q = queue(events=[
        ringing("h", T0), answered("h", T0), hold("h", T0 + 10 * S), unhold("h", T0 + 20 * S),
        hold("h", T0 + 30 * S), unhold("h", T0 + 45 * S), ended("h", T0 + 60 * S, "sale"),
    ])
    v = q.intervals[T0].v
    assert (v[TALK_MS], v[HOLD_MS], v[SALES]) == (35_000, 25_000, 1)
    assert q.frame("15m", NOW)["conversion_ratio"] == 1.0


# -- live ------------------------------------------------------------------------------------


def test_waiting_and_oldest_wait() -> None:
    q = queue(events=[ringing("c1", T0), ringing("c2", T0 + 10 * S)])
    assert q.live(T0 + 25 * S) == {
        "waiting": 2, "oldest_wait_s": 25.0, "callbacks_pending": 0, "oldest_callback_s": None,
    }
    # It ticks without new events.
    assert q.live(T0 + 100 * S)["oldest_wait_s"] == 100.0
    q.apply(answered("c1", T0 + 30 * S))
    assert q.live(T0 + 40 * S)["waiting"] == 1
    assert q.live(T0 + 40 * S)["oldest_wait_s"] == 30.0
    q.apply(abandoned("c2", T0 + 50 * S))
    assert q.live(T0 + 60 * S)["waiting"] == 0
    assert q.live(T0 + 60 * S)["oldest_wait_s"] is None


def test_callback_backlog() -> None:
    q = queue(events=[
        ringing("c1", T0), callback_requested("c1", T0 + 10 * S),
        ringing("c2", T0 + 60 * S), voicemail("c2", T0 + 70 * S),
    ])
    live = q.live(T0 + 130 * S)
    assert live["waiting"] == 0
    assert (live["callbacks_pending"], live["oldest_callback_s"]) == (2, 120.0)
    # A failed attempt keeps the item open.
    q.apply(attempt("c1", T0 + 200 * S, "no_answer"))
    live = q.live(T0 + 300 * S)
    assert (live["callbacks_pending"], live["oldest_callback_s"]) == (2, 290.0)
    # `reached` clears c1; c2 is now the oldest (requested at +70 s).
    q.apply(attempt("c1", T0 + 400 * S, "reached"))
    live = q.live(T0 + 500 * S)
    assert (live["callbacks_pending"], live["oldest_callback_s"]) == (1, 430.0)
    # A cancel clears c2.
    q.apply(cancelled("c2", T0 + 520 * S))
    live = q.live(T0 + 530 * S)
    assert (live["callbacks_pending"], live["oldest_callback_s"]) == (0, None)
    v = q.intervals[T0].v
    assert (v[CALLBACKS_REQUESTED], v[VOICEMAILS], v[CALLBACKS_REACHED], v[CALLBACKS_FAILED]) == (1, 1, 1, 1)
    m = q.frame("15m", T0 + 530 * S)
    assert (m["callbacks_reached"], m["callbacks_failed"]) == (1, 1)


def test_failed_attempt_and_then_cancel_with_no_reach() -> None:
    q = queue(events=[ringing("c", T0), voicemail("c", T0 + 5 * S), attempt("c", T0 + 60 * S, "failed")])
    assert q.live(T0 + 65 * S)["callbacks_pending"] == 1
    assert q.live(T0 + 65 * S)["oldest_callback_s"] == 60.0
    q.apply(cancelled("c", T0 + 70 * S))
    assert q.live(T0 + 75 * S)["callbacks_pending"] == 0
    assert q.intervals[T0].v[CALLBACKS_FAILED] == 1


def test_lost_after_max_wait_via_sweep() -> None:
    # Default max_wait_s = 4 h; grace 60 s. The call is lost at ring + 4 h, once that instant is
    # older than now - grace.
    q = queue(events=[ringing("c", T0)])
    lost_at = T0 + 4 * 3_600 * S
    q.sweep(lost_at + 60 * S)  # lost_at == settled: not yet
    assert q.live(lost_at + 60 * S)["waiting"] == 1
    now = lost_at + 60 * S + 1
    q.sweep(now)
    assert q.live(now) == {
        "waiting": 0, "oldest_wait_s": None, "callbacks_pending": 0, "oldest_callback_s": None,
    }
    today = q.frame("today", now)
    assert (today["offered"], today["lost"], today["abandoned"], today["answered"]) == (1, 1, 0, 0)
    # Lost is its own counter: no outcome, so every wait metric stays None.
    assert today["abandon_ratio"] is None
    assert today["max_wait_s"] is None
    v = q.intervals[T0].v
    assert (v[OFFERED], v[LOST], v[ABANDONED]) == (1, 1, 0)


def test_lost_follows_the_queue_max_wait() -> None:
    q = queue(QueueConfig(max_wait_s=600), [ringing("c", T0), ringing("d", T0 + 30 * S)])
    q.sweep(T0 + 660 * S)
    assert q.live(T0 + 660 * S)["waiting"] == 2
    q.sweep(T0 + 660 * S + 1)
    assert q.live(T0 + 660 * S + 1)["waiting"] == 1
    assert q.live(T0 + 660 * S + 1)["oldest_wait_s"] == 630.001
    assert q.intervals[T0].v[LOST] == 1
    q.sweep(T0 + 690 * S + 1)
    assert q.live(T0 + 690 * S + 1)["waiting"] == 0
    assert q.intervals[T0].v[LOST] == 2


def test_a_record_the_sweep_left_for_later_is_looked_at_again_once_it_changes() -> None:
    # A callback item is left alone by the sweep until its age limit (7 days)...
    q = queue(events=[ringing("c", T0), voicemail("c", T0 + 5 * S)])
    q.sweep(T0 + 3_600 * S)
    assert "c" in q.calls and q.calls["c"].sweep_after_ms > T0 + 86_400 * S
    # ...but an attempt that reaches the caller closes it: it is dropped once final.
    q.apply(attempt("c", T0 + 3_610 * S, "reached"))
    q.sweep(T0 + 3_800 * S)
    assert "c" not in q.calls and q.live(T0 + 3_800 * S)["callbacks_pending"] == 0


def test_a_new_max_wait_applies_to_calls_the_sweep_left_for_later() -> None:
    q = queue(events=[ringing("c", T0)])
    q.sweep(T0 + 300 * S)  # under the default 4 h: left for later
    q.reconfigure(QueueConfig(max_wait_s=600))
    q.sweep(T0 + 700 * S)
    assert q.intervals[T0].v[LOST] == 1 and q.live(T0 + 700 * S)["waiting"] == 0


def test_answered_call_is_never_lost() -> None:
    q = queue(QueueConfig(max_wait_s=600), [ringing("c", T0), answered("c", T0 + 10 * S)])
    q.sweep(T0 + 7_200 * S)
    assert q.intervals[T0].v[LOST] == 0
    assert q.intervals[T0].v[ANSWERED] == 1


# -- interval attribution --------------------------------------------------------------------


def test_interval_counts_by_ringing_and_windows_by_outcome() -> None:
    # Rings at 09:14:50, answered at 09:15:20 (wait 30 s): the outcome belongs to the 09:00
    # interval (where the call entered), not to 09:15.
    ring_ts = T0 + 890 * S
    q = queue(events=[ringing("c", ring_ts), answered("c", ring_ts + 30 * S)])
    assert list(q.intervals) == [T0]
    v = q.intervals[T0].v
    assert (v[OFFERED], v[ANSWERED], v[ANSWERED_WITHIN], v[WAIT_ANSWERED_MS]) == (1, 1, 0, 30_000)
    # The 5m window at 09:19:50 still sees the answer (at 09:15:20) but not the ringing (09:14:50).
    m = q.frame("5m", T0 + 1_190 * S)
    assert (m["offered"], m["answered"]) == (0, 1)


def test_review_outcome_after_lost_replaces_the_loss() -> None:
    """A call closed as lost whose real outcome turns up later counts once, as that outcome."""
    q = queue(events=[ringing("c1", T0)])
    q.sweep(T0 + 4 * 3600 * S + 2 * 60 * S)
    assert q.intervals[T0].v[LOST] == 1
    q.apply(ev.Abandoned(v=1, id="x1", ts=T0 + 4 * 3600 * S + 3 * 60 * S, source="t", call_id="c1",
                         queue="q", wait_s=14580))
    v = q.intervals[T0].v
    assert (v[OFFERED], v[LOST], v[ABANDONED]) == (1, 0, 1)


@given(num=st.integers(0, 10**7), den=st.integers(1, 10**7), scale=st.sampled_from([1, 1000]),
       digits=st.integers(0, 6))
@example(num=1, den=8, scale=1, digits=2)  # 0.125: an exact tie, rounded half to even
@example(num=5, den=2, scale=1, digits=0)
def test_rounded_is_round_on_ratios_and_means(num: int, den: int, scale: int, digits: int) -> None:
    """The metrics' rounding equals round() on what they round: ratios and means in seconds."""
    x = num / den / scale
    assert rounded(x, digits) == round(x, digits)
    assert str(rounded(x, digits)) == str(round(x, digits))


@given(x=st.floats(allow_nan=False, allow_infinity=False), digits=st.integers(0, 6))
def test_rounded_is_round_on_any_float(x: float, digits: int) -> None:
    assert str(rounded(x, digits)) == str(round(x, digits))


@pytest.mark.parametrize("digits", [-1, 7])
def test_rounded_refuses_digits_it_cannot_do(digits: int) -> None:
    with pytest.raises(ValueError, match="digits"):
        rounded(0.5, digits)


@given(seconds=st.floats(min_value=0, max_value=1e7) | st.integers(0, 10**7).map(lambda n: n / 2000)
       | st.floats(min_value=-1e300, max_value=1e300))
@example(seconds=0.0025)  # 2.5 ms: an exact tie, rounded half to even
@example(seconds=0.0035)
def test_source_durations_round_to_ms_as_round_does(seconds: float) -> None:
    assert _secs_ms(seconds) == round(seconds * 1000)
