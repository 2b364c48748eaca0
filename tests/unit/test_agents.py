"""Agent state: time in state split across intervals, pause during a call, after-call work."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callpulse import agents
from callpulse import events as ev
from callpulse.agents import AgentState, AgentStatus, agents_by_queue
from callpulse.timeframes import Calendar

from .strategies import day_of_events, perturbed

T0 = 1_709_539_200_000  # 2024-03-04T08:00:00Z
S = 1000


def _agent(events: list[ev.AnyEvent]) -> AgentState:
    a = AgentState("default", "x", Calendar("UTC", 0, 900_000))
    for e in events:
        a.apply(e)
    return a


def _call(cls: type, n: int, ts: int, **kw: object) -> ev.AnyEvent:
    return cls(v=1, id=f"{cls.__name__}-{n}-{ts}", ts=ts, source="s", call_id=f"c{n}", queue="q",
               agent="x", **kw)


def _day() -> list[ev.AnyEvent]:
    return [
        ev.AgentLogin(v=1, id="l", ts=T0, source="s", agent="x", queues=["q"]),
        _call(ev.Answered, 1, T0 + 10 * S),
        ev.AgentNotReady(v=1, id="p", ts=T0 + 20 * S, source="s", agent="x", reason="break"),
        _call(ev.Ended, 1, T0 + 60 * S),
        _call(ev.WrapupStarted, 1, T0 + 61 * S),
        _call(ev.WrapupEnded, 1, T0 + 91 * S),
        ev.AgentReady(v=1, id="r", ts=T0 + 900 * S, source="s", agent="x"),
        _call(ev.Answered, 2, T0 + 1000 * S),
        _call(ev.Ended, 2, T0 + 1030 * S, disposition="sale"),
    ]


def test_time_in_state_and_pause_during_a_call() -> None:
    a = _agent(_day())
    a.flush(T0 + 1800 * S)
    first, second = a.intervals[T0].report_keys(), a.intervals[T0 + 900 * S].report_keys()
    # 08:00-08:15: on call 10..60 s (the pause waits for the call), 1 s idle-but-paused,
    # wrap-up 61..91 s, then not ready until 900 s.
    assert (first["talk_s"], first["wrapup_s"], first["available_s"]) == (50, 30, 10)
    assert first["not_ready_s"] == 1 + (900 - 91)
    assert first["login_s"] == 900
    # 08:15-08:30: available 900..1000 and 1030..1800, on call 30 s.
    assert (second["talk_s"], second["available_s"], second["login_s"]) == (30, 870, 900)


def test_avg_acw_divides_by_wrapups_not_calls() -> None:
    a = _agent(_day())
    a.flush(T0 + 1800 * S)
    today = a.today.report_keys()
    assert today["handled"] == 2 and today["avg_acw_s"] == 30.0
    assert today["conversion_ratio"] == 0.5


def test_present_applies_the_buffer_and_counts_by_queue() -> None:
    a = _agent(_day()[:2])  # logged in, then answered: both still inside the grace
    assert a.present().state() == "on_call"
    assert agents_by_queue([a]) == {("default", "q"): {
        "available": 0, "on_call": 1, "wrap_up": 0, "not_ready": 0, "logged_in": 1}}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_present_kept_between_calls_equals_the_buffer_replayed(data: st.DataObject) -> None:
    """Whatever the arrival order, duplicates and commits, the present kept between calls is
    the committed status with every buffered event applied in order."""
    events = data.draw(perturbed(data.draw(day_of_events()), 60_000))
    agents: dict[str, AgentState] = {}
    for e in events:
        name = getattr(e, "agent", None)
        if name is None:
            continue
        a = agents.setdefault(name, AgentState("default", name, Calendar("UTC", 0, 900_000)))
        a.apply(e)
        replayed = a.status.copy()
        for ts, _, buffered in a.pending:
            replayed.transition(buffered, ts)
        assert _fields(a.present()) == _fields(replayed)
        assert a.recent_order[a.recent_head:] == list(a.recent)  # the dict's keys, in order
        if data.draw(st.integers(0, 9)) == 0:  # the janitor, at times after a stuck call
            a.sweep(e.ts + data.draw(st.sampled_from((0, 30_000, 120_000, 9 * 3_600_000))))


def _fields(s: AgentStatus) -> tuple[object, ...]:
    return (s.activity, s.call, s.logged_in, s.name, s.paused, s.queues, s.reason, s.since,
            s.team)


def test_a_repeat_after_its_event_was_applied_is_still_dropped_and_old_ids_are_forgotten() -> None:
    a = AgentState("default", "x", Calendar("UTC", 0, 900_000))
    login = ev.AgentLogin(v=1, id="l", ts=T0, source="s", agent="x", queues=["q"])
    a.apply(login)
    for i in range(1, 400):  # a busy agent: an event a second
        a.apply(ev.AgentReady(v=1, id=f"r{i}", ts=T0 + i * S, source="s", agent="x"))
        if i == 61:
            assert not a.pending or a.pending[0][1] != "l"  # the login is applied
            assert a.apply(login) is False, "a repeat within the grace of its applying"
    # Only the ids applied within the last grace are kept, not every id seen.
    assert len(a.recent) <= 61 and "r1" not in a.recent


def test_the_time_field_is_the_one_the_state_names() -> None:
    """AgentStatus.time_field (compared on every commit) agrees with state() for every status."""
    by_state = {agents.AVAILABLE: agents.A_AVAILABLE, agents.NOT_READY: agents.A_NOT_READY,
                agents.ON_CALL: agents.A_TALK, agents.ON_HOLD: agents.A_HOLD,
                agents.WRAP_UP: agents.A_WRAPUP}
    for logged_in in (False, True):
        for paused in (False, True):
            for activity in (agents.IDLE, agents.RINGING, agents.ON_CALL, agents.ON_HOLD,
                             agents.WRAP_UP):
                s = AgentStatus()
                s.logged_in, s.paused, s.activity = logged_in, paused, activity
                assert s.time_field() == by_state.get(s.state(), -1), (logged_in, paused, activity)


H = 3600 * S


def test_an_agent_on_a_call_with_no_event_for_8_hours_is_reset_to_available() -> None:
    """``spec/METRICS.md`` "Staleness and lost calls": the lost ``ended`` of a call must not
    leave the agent on a call on the wallboard for ever. The reset is counted, and dated 8 h
    after the agent's last event, not at the sweep that noticed it."""
    a = AgentState("default", "x", Calendar("UTC", 0, 86_400_000))
    a.apply(ev.AgentLogin(v=1, id="l", ts=T0, source="s", agent="x", queues=["q"]))
    a.apply(_call(ev.Answered, 1, T0 + 10 * S))
    assert a.sweep(T0 + 10 * S + 8 * H) is True  # commits the buffer: still on the call
    assert a.present().state() == agents.ON_CALL and a.janitor == {}
    assert a.sweep(T0 + 9 * H) is True
    s = a.present()
    assert (s.state(), s.call, s.since) == (agents.AVAILABLE, None, T0 + 10 * S + 8 * H)
    assert a.janitor == {"stuck_resets": 1}
    assert a.sweep(T0 + 10 * H) is False  # once
    a.flush(T0 + 10 * H)
    today = a.today.report_keys()
    # Available 10 s before the call and from the reset on: 10 + (2 h - 10 s).
    assert (today["talk_s"], today["available_s"], today["login_s"]) == (8 * 3600, 2 * 3600,
                                                                         10 * 3600)


def test_wrap_up_and_a_recent_event_are_not_stuck() -> None:
    """Only a call is reset: an agent in wrap-up, or on a call with a recent event (a hold),
    stays as they are."""
    wrapping = AgentState("default", "x", Calendar("UTC", 0, 86_400_000))
    for e in (_call(ev.Answered, 1, T0), _call(ev.Ended, 1, T0 + 60 * S),
              _call(ev.WrapupStarted, 1, T0 + 60 * S)):
        wrapping.apply(e)
    holding = AgentState("default", "x", Calendar("UTC", 0, 86_400_000))
    for e in (_call(ev.Answered, 1, T0), _call(ev.Hold, 1, T0 + 2 * H)):
        holding.apply(e)
    wrapping.sweep(T0 + 9 * H)
    holding.sweep(T0 + 9 * H)
    assert wrapping.present().state() == agents.WRAP_UP and wrapping.janitor == {}
    assert holding.present().state() == agents.ON_HOLD and holding.janitor == {}
    holding.sweep(T0 + 2 * H + 8 * H + S)
    assert holding.present().state() == agents.AVAILABLE
    assert holding.janitor == {"stuck_resets": 1}
