"""A believable call center as a discrete-event simulation, deterministic for a seed.

Calls arrive per queue by a Poisson process whose rate follows a time-of-day curve (thinning),
so a run at 03:00 UTC is quiet and one at 10:30 is busy; with ``load`` set, the rate is that
share of the queue's busiest hour at every hour instead (a demo or a test that must not depend
on when it runs). Agents have skills (the queues they serve), teams, shifts and breaks; talk,
hold and after-call work times are lognormal. Callers have a
patience: when the wait outlasts it they abandon, or, once the wait is long, ask for a callback
or leave a voicemail. Some calls are offered to an agent who does not pick up (ring no answer),
some flow out to an overflow queue after a maximum wait, sales queues convert and support queues
resolve, and agents work the callback backlog when no call waits.

Scenarios: ``normal``; ``spike``, where from ``spike_at_s`` arrivals to the first queue jump
fourfold and half of its agents are pulled into a meeting, so waits climb (the alert to page on).

Pure: :func:`simulate` yields canonical events (``spec/EVENTS.md``) as dicts in ``ts`` order;
writing them anywhere, and pacing them in real time, is the caller's business.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

SCENARIOS: Final = ("normal", "spike")
HOUR_MS: Final = 3_600_000
# Relative arrival rate per UTC hour: night, morning ramp, late-morning peak, lunch dip,
# afternoon peak, evening tail.
DAY_CURVE: Final = (0.05, 0.03, 0.03, 0.03, 0.05, 0.1, 0.25, 0.5, 0.8, 0.95, 1.0, 0.95, 0.75,
                    0.85, 0.95, 0.9, 0.75, 0.55, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07)
TEAMS: Final = ("north", "south", "east", "west")
FIRST_NAMES: Final = ("Ada", "Ben", "Chloe", "Dev", "Ella", "Finn", "Gita", "Hugo", "Ines", "Jon",
                      "Kemal", "Lena", "Mateo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sven",
                      "Tara", "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe")


@dataclass(frozen=True, slots=True)
class QueueProfile:
    name: str
    kind: str  # "sales" converts, "support" resolves
    talk_median_s: float
    acw_median_s: float
    patience_median_s: float
    callback_offer_s: float = 90.0  # from this wait on, a leaving caller may ask for a callback
    max_wait_s: float = 600.0  # then the call flows out to the overflow queue


BASE_QUEUES: Final = (
    QueueProfile("sales", "sales", 240, 45, 120),
    QueueProfile("support", "support", 360, 60, 180),
    QueueProfile("billing", "support", 200, 40, 150),
    QueueProfile("retention", "sales", 300, 60, 200),
    QueueProfile("tech", "support", 480, 90, 240),
)


@dataclass(frozen=True, slots=True)
class SimSettings:
    start_ms: int
    duration_s: float = 8 * 3600.0
    seed: int = 1
    scenario: str = "normal"
    queues: int = 5
    agents: int = 40
    tenant: str = "default"
    source: str = "simulator"
    heartbeat_s: float = 10.0
    occupancy_goal: float = 0.8  # the peak load, as a share of the staff's capacity
    spike_at_s: float = 120.0
    spike_len_s: float = 1200.0
    # Arrivals as a share of each queue's busiest hour, at every hour; None follows DAY_CURVE.
    load: float | None = None

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
        if self.load is not None:
            check_load(self.load)
        if self.queues < 1 or self.agents < 1 or self.duration_s <= 0:
            raise ValueError("need at least one queue, one agent and a positive duration")


def check_load(load: float) -> float:
    """``load`` when it is a share of the busiest hour's calls (above 0, at most 1); else
    ValueError."""
    if not 0 < load <= 1:
        raise ValueError(f"load must be above 0 and at most 1 (the busiest hour): {load}")
    return load


def queue_profiles(n: int) -> list[QueueProfile]:
    """``n`` queues: the base five, then numbered copies of them."""
    out = []
    for i in range(n):
        base = BASE_QUEUES[i % len(BASE_QUEUES)]
        name = base.name if i < len(BASE_QUEUES) else f"{base.name}-{i // len(BASE_QUEUES) + 1}"
        out.append(QueueProfile(name, base.kind, base.talk_median_s, base.acw_median_s,
                                base.patience_median_s, base.callback_offer_s, base.max_wait_s))
    return out


@dataclass(slots=True)
class _Agent:
    id: str
    name: str
    team: str
    skills: tuple[str, ...]
    shift_end_ms: int
    breaks: list[tuple[int, int, str]]  # (start, length, reason), in order
    logged_in: bool = False
    busy: bool = False  # ringing, on a call, wrapping up, or on a callback
    paused: bool = False
    idle_since: int = 0
    want_pause: tuple[int, str] | None = None  # a break due while busy
    leaving: bool = False


@dataclass(slots=True)
class _Call:
    id: str
    queue: str
    entered_ms: int
    patience_ms: int
    done: bool = False
    tried: set[str] = field(default_factory=set)


class _Sim:
    def __init__(self, s: SimSettings) -> None:
        self.s = s
        self.rng = random.Random(s.seed)
        self.now = s.start_ms
        self.end = s.start_ms + round(s.duration_s * 1000)
        self.heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = 0
        self.out: list[dict[str, Any]] = []
        self.n_events = 0
        self.n_calls = 0
        self.profiles = {p.name: p for p in queue_profiles(s.queues)}
        self.names = list(self.profiles)
        self.overflow = self.names[-1] if len(self.names) > 1 else None
        self.waiting: dict[str, deque[_Call]] = {q: deque() for q in self.names}
        self.backlog: dict[str, deque[tuple[str, int]]] = {q: deque() for q in self.names}
        self.agents = self._staff()
        self.rates = self._rates()

    # -- set-up -----------------------------------------------------------------------------

    def _staff(self) -> list[_Agent]:
        agents = []
        r = self.rng
        for i in range(self.s.agents):
            n_skills = 1 + (r.random() < 0.5) + (r.random() < 0.2)
            primary = self.names[i % len(self.names)]
            others = [q for q in self.names if q != primary]
            skills = (primary, *r.sample(others, min(len(others), n_skills - 1)))
            # Most agents are mid-shift at the start; the rest arrive within half an hour.
            shift_start = self.now - r.randrange(0, 4 * HOUR_MS) if r.random() < 0.8 \
                else self.now + r.randrange(0, HOUR_MS // 2)
            breaks = [(shift_start + h * HOUR_MS + r.randrange(0, 900_000), length, why)
                      for h, length, why in ((2, 900_000, "break"), (4, 1_800_000, "lunch"),
                                             (6, 900_000, "break"))]
            agent = _Agent(f"agent-{i + 1:04d}",
                           f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {chr(65 + (i // 26) % 26)}.",
                           TEAMS[i % len(TEAMS)], skills, shift_start + 8 * HOUR_MS,
                           [b for b in breaks if b[0] + b[1] > self.now])
            agents.append(agent)
            self.at(max(shift_start, self.now), self.login, agent)
        return agents

    def _rates(self) -> dict[str, float]:
        """Peak calls per ms per queue, so the staff runs at the occupancy goal at peak."""
        share = dict.fromkeys(self.names, 0.0)
        for a in self.agents:
            for q in a.skills:
                share[q] += 1 / len(a.skills)
        rates = {}
        for q, staff in share.items():
            p = self.profiles[q]
            aht_ms = (p.talk_median_s * 1.15 + p.acw_median_s + 10) * 1000
            rates[q] = self.s.occupancy_goal * 0.85 * max(staff, 0.5) / aht_ms
        return rates

    # -- the event loop ---------------------------------------------------------------------

    def at(self, t_ms: int, fn: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t_ms, self.seq, fn, args))

    def emit(self, etype: str, **fields: Any) -> None:
        self.n_events += 1
        e = {"v": 1, "id": f"{self.s.source}-{self.s.seed}-{self.n_events:09d}", "type": etype,
             "ts": self.now, "source": self.s.source}
        if self.s.tenant != "default":
            e["tenant"] = self.s.tenant
        e.update({k: v for k, v in fields.items() if v is not None})
        self.out.append(e)

    def run(self) -> Iterator[dict[str, Any]]:
        for q in self.names:
            self.at(self.now, self.arrival_check, q)
        self.at(self.now, self.heartbeat)
        while self.heap and self.heap[0][0] <= self.end:
            t, _, fn, args = heapq.heappop(self.heap)
            self.now = t
            fn(*args)
            if self.out:
                yield from self.out
                self.out.clear()

    def lognormal_ms(self, median_s: float, sigma: float = 0.6) -> int:
        return max(1000, round(self.rng.lognormvariate(math.log(median_s), sigma) * 1000))

    # -- arrivals ---------------------------------------------------------------------------

    def rate(self, queue: str, t_ms: int) -> float:
        load = DAY_CURVE[(t_ms // HOUR_MS) % 24] if self.s.load is None else self.s.load
        rate = self.rates[queue] * load
        if self.s.scenario == "spike" and queue == self.names[0] and self._in_spike(t_ms):
            rate *= 4
        return rate

    def _in_spike(self, t_ms: int) -> bool:
        start = self.s.start_ms + round(self.s.spike_at_s * 1000)
        return start <= t_ms < start + round(self.s.spike_len_s * 1000)

    def arrival_check(self, queue: str) -> None:
        """Thinning: candidate arrivals at the peak rate, kept with probability rate/peak."""
        peak = self.rates[queue] * (4 if self.s.scenario == "spike" else 1)
        if self.rng.random() < self.rate(queue, self.now) / peak:
            self.enter(queue, self.new_call_id())
        self.at(self.now + max(1, round(self.rng.expovariate(peak))), self.arrival_check, queue)

    def new_call_id(self) -> str:
        self.n_calls += 1
        return f"call-{self.s.seed}-{self.n_calls:07d}"

    def enter(self, queue: str, call_id: str) -> None:
        p = self.profiles[queue]
        call = _Call(call_id, queue, self.now, self.lognormal_ms(p.patience_median_s, 0.8))
        caller = f"+49 30 {self.rng.randrange(1_000_000, 9_999_999)}"
        self.emit("ringing", call_id=call_id, queue=queue, caller=caller)
        if not self.route(call):
            self.waiting[queue].append(call)
            self.at(self.now + call.patience_ms, self.give_up, call)
            self.at(self.now + round(p.max_wait_s * 1000), self.flow_out, call)

    def route(self, call: _Call) -> bool:
        free = [a for a in self.agents if a.logged_in and not a.busy and not a.paused
                and call.queue in a.skills and a.id not in call.tried]
        if not free:
            return False
        agent = min(free, key=lambda a: (a.idle_since, a.id))
        agent.busy = True
        call.tried.add(agent.id)
        if self.rng.random() < 0.04:
            self.at(self.now + 15_000, self.no_answer, call, agent)
        else:
            self.at(self.now + self.rng.randrange(2000, 6000), self.answer, call, agent)
        return True

    # -- a call's life ----------------------------------------------------------------------

    def no_answer(self, call: _Call, agent: _Agent) -> None:
        self.emit("ring_no_answer", call_id=call.id, queue=call.queue, agent=agent.id,
                  ring_ms=15_000)
        self.emit("agent_not_ready", agent=agent.id, reason="missed_call")
        agent.paused = True
        self.at(self.now + 30_000, self.resume, agent)
        agent.busy = False
        if not self.route(call):
            self.waiting[call.queue].appendleft(call)
            remaining = call.entered_ms + call.patience_ms - self.now
            self.at(self.now + max(1000, remaining), self.give_up, call)

    def answer(self, call: _Call, agent: _Agent) -> None:
        call.done = True
        p = self.profiles[call.queue]
        self.emit("answered", call_id=call.id, queue=call.queue, agent=agent.id,
                  wait_s=round((self.now - call.entered_ms) / 1000, 3))
        talk = self.lognormal_ms(p.talk_median_s)
        if self.rng.random() < 0.2:
            hold_at = self.now + self.rng.randrange(1000, max(2000, talk // 2))
            self.at(hold_at, self.hold, call, agent, self.rng.randrange(20_000, 90_000))
            talk += 90_000
        self.at(self.now + talk, self.end_call, call, agent)

    def hold(self, call: _Call, agent: _Agent, length_ms: int) -> None:
        self.emit("hold", call_id=call.id, queue=call.queue, agent=agent.id)
        self.at(self.now + length_ms, lambda: self.emit("unhold", call_id=call.id,
                                                        queue=call.queue, agent=agent.id))

    def end_call(self, call: _Call, agent: _Agent) -> None:
        p = self.profiles[call.queue]
        r = self.rng.random()
        if p.kind == "sales":
            disposition = "sale" if r < 0.25 else "callback_agreed" if r < 0.35 else "no_sale"
        else:
            disposition = "resolved" if r < 0.8 else "escalated" if r < 0.9 else "callback_agreed"
        self.emit("ended", call_id=call.id, queue=call.queue, agent=agent.id,
                  disposition=disposition)
        self.emit("wrapup_started", call_id=call.id, queue=call.queue, agent=agent.id)
        self.at(self.now + self.lognormal_ms(p.acw_median_s, 0.5), self.wrapup_done, call, agent)

    def wrapup_done(self, call: _Call, agent: _Agent) -> None:
        self.emit("wrapup_ended", call_id=call.id, queue=call.queue, agent=agent.id)
        self.free(agent)

    def give_up(self, call: _Call) -> None:
        if call.done or call not in self.waiting[call.queue]:
            return
        self.waiting[call.queue].remove(call)
        call.done = True
        p = self.profiles[call.queue]
        wait_s = round((self.now - call.entered_ms) / 1000, 3)
        if wait_s >= p.callback_offer_s and self.rng.random() < 0.4:
            kind = "voicemail_left" if self.rng.random() < 0.35 else "callback_requested"
            self.emit(kind, call_id=call.id, queue=call.queue, wait_s=wait_s)
            self.backlog[call.queue].append((call.id, 0))
        else:
            self.emit("abandoned", call_id=call.id, queue=call.queue, wait_s=wait_s)

    def flow_out(self, call: _Call) -> None:
        if call.done or call not in self.waiting[call.queue]:
            return
        self.waiting[call.queue].remove(call)
        call.done = True
        target = self.overflow if self.overflow != call.queue else None
        self.emit("flowed_out", call_id=call.id, queue=call.queue, reason="timeout",
                  to_queue=target, wait_s=round((self.now - call.entered_ms) / 1000, 3))
        if target is not None:
            self.enter(target, call.id)

    # -- agents -----------------------------------------------------------------------------

    def login(self, agent: _Agent) -> None:
        agent.logged_in, agent.idle_since = True, self.now
        self.emit("agent_login", agent=agent.id, queues=list(agent.skills), name=agent.name,
                  team=agent.team)
        self.emit("agent_ready", agent=agent.id)
        for start, length, why in agent.breaks:
            self.at(max(start, self.now), self.take_break, agent, length, why)
        self.at(max(agent.shift_end_ms, self.now), self.end_shift, agent)
        if self.s.scenario == "spike" and self.names[0] in agent.skills \
                and hash((agent.id, self.s.seed)) % 2 == 0:
            start = self.s.start_ms + round(self.s.spike_at_s * 1000)
            if self.now <= start:
                self.at(start, self.take_break, agent, round(self.s.spike_len_s * 1000),
                        "meeting")
        self.serve(agent)

    def take_break(self, agent: _Agent, length_ms: int, why: str) -> None:
        if not agent.logged_in or agent.paused:
            return
        if agent.busy:
            agent.want_pause = (length_ms, why)
            return
        agent.paused = True
        self.emit("agent_not_ready", agent=agent.id, reason=why)
        self.at(self.now + length_ms, self.resume, agent)

    def resume(self, agent: _Agent) -> None:
        if not agent.logged_in or not agent.paused:
            return
        agent.paused = False
        agent.idle_since = self.now
        self.emit("agent_ready", agent=agent.id)
        self.serve(agent)

    def end_shift(self, agent: _Agent) -> None:
        if agent.busy:
            agent.leaving = True
            return
        self.logout(agent)

    def logout(self, agent: _Agent) -> None:
        if agent.logged_in:
            agent.logged_in = agent.paused = agent.leaving = False
            self.emit("agent_logout", agent=agent.id)

    def free(self, agent: _Agent) -> None:
        agent.busy = False
        agent.idle_since = self.now
        if agent.leaving:
            self.logout(agent)
        elif agent.want_pause is not None:
            length, why = agent.want_pause
            agent.want_pause = None
            self.take_break(agent, length, why)
        else:
            self.serve(agent)

    def serve(self, agent: _Agent) -> None:
        """An idle agent takes the longest-waiting call of its queues, else a callback."""
        if not agent.logged_in or agent.busy or agent.paused:
            return
        heads = [(self.waiting[q][0].entered_ms, q) for q in agent.skills if self.waiting[q]]
        if heads:
            _, q = min(heads)
            call = self.waiting[q].popleft()
            if agent.id in call.tried:
                self.waiting[q].appendleft(call)
                return
            agent.busy = True
            call.tried.add(agent.id)
            self.at(self.now + self.rng.randrange(2000, 6000), self.answer, call, agent)
            return
        for q in agent.skills:
            if self.backlog[q]:
                call_id, tries = self.backlog[q].popleft()
                agent.busy = True
                self.emit("agent_not_ready", agent=agent.id, reason="outbound_callback")
                self.at(self.now + self.rng.randrange(20_000, 60_000), self.callback, agent, q,
                        call_id, tries)
                return

    def callback(self, agent: _Agent, queue: str, call_id: str, tries: int) -> None:
        reached = self.rng.random() < 0.7
        self.emit("callback_attempted", call_id=call_id, queue=queue, agent=agent.id,
                  result="reached" if reached else "no_answer")
        if not reached:
            if tries >= 2:
                self.emit("callback_cancelled", call_id=call_id, queue=queue,
                          reason="max_attempts")
            else:
                self.at(self.now + 600_000, self.backlog[queue].append, (call_id, tries + 1))
        self.emit("agent_ready", agent=agent.id)
        self.free(agent)

    def heartbeat(self) -> None:
        self.emit("heartbeat")
        self.at(self.now + round(self.s.heartbeat_s * 1000), self.heartbeat)


def simulate(settings: SimSettings) -> Iterator[dict[str, Any]]:
    """The simulated events, in ``ts`` order. The same settings give the same events."""
    return _Sim(settings).run()
