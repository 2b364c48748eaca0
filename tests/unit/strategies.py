"""Hypothesis strategies: believable call lifecycles as canonical events, in time order."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from callpulse import events as ev

BASE_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
AGENTS = ("a1", "a2", "a3")
QUEUES = ("sales", "support")


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"e{self.n:05d}"


def _call_events(draw: Any, ids: _Ids, n: int) -> list[ev.AnyEvent]:
    queue = draw(st.sampled_from(QUEUES))
    cid = f"c{n}"
    t0 = BASE_MS + draw(st.integers(0, 7_200_000))
    wait = draw(st.integers(0, 120_000))
    common = {"v": 1, "source": "sim", "call_id": cid, "queue": queue}
    out: list[ev.AnyEvent] = []
    out.append(ev.Ringing(id=ids(), ts=t0, **common))
    wait_s = draw(st.one_of(st.none(), st.just(wait / 1000)))
    kind = draw(st.sampled_from(("answered", "abandoned", "voicemail", "callback", "flowed",
                                 "waiting")))
    t1 = t0 + wait
    if draw(st.booleans()):
        agent = draw(st.sampled_from(AGENTS))
        out.append(ev.RingNoAnswer(id=ids(), ts=t0 + wait // 2, agent=agent, ring_ms=15000,
                                   **common))
    if kind == "answered":
        agent = draw(st.sampled_from(AGENTS))
        out.append(ev.Answered(id=ids(), ts=t1, agent=agent, wait_s=wait_s, **common))
        t = t1
        for _ in range(draw(st.integers(0, 2))):
            t += draw(st.integers(1_000, 60_000))
            out.append(ev.Hold(id=ids(), ts=t, agent=agent, **common))
            t += draw(st.integers(1_000, 60_000))
            out.append(ev.Unhold(id=ids(), ts=t, agent=agent, **common))
        t += draw(st.integers(1_000, 600_000))
        disposition = draw(st.sampled_from((None, "sale", "no_sale", "resolved")))
        out.append(ev.Ended(id=ids(), ts=t, agent=agent, disposition=disposition, **common))
        if draw(st.booleans()):
            out.append(ev.WrapupStarted(id=ids(), ts=t, agent=agent, **common))
            t += draw(st.integers(0, 120_000))
            out.append(ev.WrapupEnded(id=ids(), ts=t, agent=agent, **common))
    elif kind == "abandoned":
        out.append(ev.Abandoned(id=ids(), ts=t1, wait_s=wait_s, **common))
    elif kind == "flowed":
        reason = draw(st.sampled_from(("timeout", "exit_key", "overflow")))
        out.append(ev.FlowedOut(id=ids(), ts=t1, reason=reason, wait_s=wait_s, **common))
    elif kind in ("voicemail", "callback"):
        cls = ev.VoicemailLeft if kind == "voicemail" else ev.CallbackRequested
        out.append(cls(id=ids(), ts=t1, wait_s=wait_s, **common))
        t = t1
        for _ in range(draw(st.integers(0, 2))):
            t += draw(st.integers(60_000, 1_800_000))
            result = draw(st.sampled_from(("reached", "no_answer", "failed")))
            out.append(ev.CallbackAttempted(id=ids(), ts=t, agent="a1", result=result, **common))
        if draw(st.booleans()):
            out.append(ev.CallbackCancelled(id=ids(), ts=t + 1000, **common))
    return out


def _agent_events(draw: Any, ids: _Ids, agent: str) -> list[ev.AnyEvent]:
    common = {"v": 1, "source": "sim", "agent": agent}
    t = BASE_MS - draw(st.integers(0, 600_000))
    out: list[ev.AnyEvent] = [ev.AgentLogin(id=ids(), ts=t, queues=list(QUEUES), **common)]
    for _ in range(draw(st.integers(0, 3))):
        t += draw(st.integers(60_000, 3_000_000))
        out.append(ev.AgentNotReady(id=ids(), ts=t, reason="break", **common))
        t += draw(st.integers(60_000, 900_000))
        out.append(ev.AgentReady(id=ids(), ts=t, **common))
    if draw(st.booleans()):
        out.append(ev.AgentLogout(id=ids(), ts=t + draw(st.integers(1, 3_600_000)), **common))
    return out


@st.composite
def day_of_events(draw: Any, max_calls: int = 12) -> list[ev.AnyEvent]:
    """Calls and agent shifts over about two hours, sorted by (ts, id)."""
    ids = _Ids()
    events: list[ev.AnyEvent] = []
    for agent in AGENTS:
        events.extend(_agent_events(draw, ids, agent))
    for n in range(draw(st.integers(1, max_calls))):
        events.extend(_call_events(draw, ids, n))
    return sorted(events, key=lambda e: (e.ts, e.id))


@st.composite
def perturbed(draw: Any, events: list[ev.AnyEvent], grace_ms: int) -> list[ev.AnyEvent]:
    """The same events arriving out of order (each at most ``grace_ms`` late) with duplicates."""
    arrivals = []
    for i, e in enumerate(events):
        copies = draw(st.integers(1, 3)) if draw(st.integers(0, 4)) == 0 else 1
        for _ in range(copies):
            delay = draw(st.integers(0, grace_ms - 1))
            arrivals.append((e.ts + delay, i, e))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    return [e for _, _, e in arrivals]
