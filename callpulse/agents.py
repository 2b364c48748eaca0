"""Agent states, time in state, and per-queue agent counts (``spec/METRICS.md``, "Per agent").

An agent's state is a sequence: time in state depends on the order of its events. So events wait
in a small reorder buffer until they are older than the newest event by the grace, and are then
applied in ``(ts, id)`` order; within the grace, any arrival order and any duplicates give the
ordered, once-only result. Readers see the state with the buffer applied, so nothing shown waits
for the grace. The buffer holds at most the events of one grace period.

The effective state comes from two independent facts: the call activity (idle, on a call, on hold,
in wrap-up) and the pause flag; a pause taken during a call shows once the call work is done.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from . import events as ev
from .event_types import (
    T_AGENT_LOGIN,
    T_AGENT_LOGOUT,
    T_AGENT_NOT_READY,
    T_AGENT_READY,
    T_ANSWERED,
    T_ENDED,
    T_HOLD,
    T_RING_NO_ANSWER,
    T_UNHOLD,
    T_WRAPUP_ENDED,
    T_WRAPUP_STARTED,
)
from .tally import bump, counts, rounded, zeros
from .timeframes import Calendar

# Constants are Final literals throughout the compiled core: a name bound by unpacking would be
# looked up in the module's dict on every use.
LOGGED_OUT: Final = "logged_out"
AVAILABLE: Final = "available"
RINGING: Final = "ringing"
ON_CALL: Final = "on_call"
ON_HOLD: Final = "on_hold"
WRAP_UP: Final = "wrap_up"
NOT_READY: Final = "not_ready"
IDLE: Final = "idle"
# Per-queue counts (``agents_*``): on_call includes hold and ringing.
QUEUE_BUCKET: Final = {
    AVAILABLE: "available", RINGING: "on_call", ON_CALL: "on_call", ON_HOLD: "on_call",
    WRAP_UP: "wrap_up", NOT_READY: "not_ready",
}
AGENT_STUCK_MS: Final = 8 * 3600 * 1000
# AgentState.clock_ms before any time is accounted: before every time, and a machine integer
# (an optional int is boxed at every store).
NO_CLOCK: Final = -(1 << 62)
MAX_PENDING: Final = 10_000

# The agent tally's fields; times are milliseconds of time in state.
AGENT_FIELDS: Final = (
    "answered", "handled", "talk_ms", "hold_ms", "wrapup_ms", "login_ms", "not_ready_ms",
    "available_ms", "ring_no_answer", "sales", "wrapups",
)
A_ANSWERED: Final = 0
A_HANDLED: Final = 1
A_TALK: Final = 2
A_HOLD: Final = 3
A_WRAPUP: Final = 4
A_LOGIN: Final = 5
A_NOT_READY: Final = 6
A_AVAILABLE: Final = 7
A_RNA: Final = 8
A_SALES: Final = 9
A_WRAPUPS: Final = 10
_EVENT_CODEC: Final = msgspec.msgpack.Decoder(ev.AnyEvent)


def _count_field(t: type) -> int:
    """The field an event applied to the agent counts (an ended call also counts its
    disposition), -1 for none (identity tests, as in :func:`callpulse.calls._outcome_kind`)."""
    if t is T_ANSWERED:
        return A_ANSWERED
    if t is T_ENDED:
        return A_HANDLED
    if t is T_WRAPUP_ENDED:
        return A_WRAPUPS
    return A_RNA if t is T_RING_NO_ANSWER else -1


class AgentTally:
    """Counts and time in state of one agent over one frame."""

    __slots__ = ("dispositions", "v")

    def __init__(self) -> None:
        self.v = zeros(len(AGENT_FIELDS))
        self.dispositions: dict[str, int] = {}

    def add(self, other: AgentTally) -> None:
        v, o = self.v, other.v
        for i in range(len(o)):
            v[i] = v[i] + o[i]
        for key, n in other.dispositions.items():
            bump(self.dispositions, key, n)

    def report_keys(self) -> dict[str, object]:
        """``spec/METRICS.md`` "Report format", agent keys (plus the today metrics)."""
        v = [int(n) for n in self.v]  # Python ints: the ratios below are true divisions
        busy = v[A_TALK] + v[A_HOLD] + v[A_WRAPUP]
        handled = v[A_HANDLED]
        return {
            "answered": v[A_ANSWERED],
            "handled": handled,
            "talk_s": v[A_TALK] / 1000,
            "hold_s": v[A_HOLD] / 1000,
            "wrapup_s": v[A_WRAPUP] / 1000,
            "login_s": v[A_LOGIN] / 1000,
            "not_ready_s": v[A_NOT_READY] / 1000,
            "available_s": v[A_AVAILABLE] / 1000,
            "ring_no_answer": v[A_RNA],
            "occupancy_ratio": None if busy + v[A_AVAILABLE] == 0
            else rounded(busy / (busy + v[A_AVAILABLE]), 6),
            "aht_s": None if handled == 0 else rounded(busy / handled / 1000, 3),
            "avg_acw_s": None if v[A_WRAPUPS] == 0 else rounded(v[A_WRAPUP] / v[A_WRAPUPS] / 1000, 3),
            "conversion_ratio": None if handled == 0 else rounded(v[A_SALES] / handled, 6),
            "dispositions": dict(sorted(self.dispositions.items())),
        }


def _count(tally: AgentTally, field: int, n: int, other: int, other_n: int) -> None:
    """Add ``n`` to ``field``, and ``other_n`` to ``other`` unless it is -1."""
    # (v[i] = v[i] + n, not +=: see callpulse.tally.post; a native vector, see Counts.)
    v = tally.v
    v[field] = v[field] + n
    if other >= 0:
        v[other] = v[other] + other_n


class AgentStatus:
    """The agent's present: login, queues, pause, call activity, and since when."""

    __slots__ = ("activity", "call", "logged_in", "name", "paused", "queues", "reason", "since",
                 "team")

    def __init__(self) -> None:
        self.logged_in = False
        self.queues: tuple[str, ...] = ()
        self.name: str | None = None
        self.team: str | None = None
        self.paused = False
        self.reason: str | None = None
        self.activity = IDLE
        self.call: str | None = None
        self.since = 0

    def state(self) -> str:
        if not self.logged_in:
            return LOGGED_OUT
        if self.activity != IDLE:
            return self.activity
        return NOT_READY if self.paused else AVAILABLE

    def time_field(self) -> int:
        """The tally field that time in the present state adds to (-1 for none), as
        :meth:`state` would name it (compiled, string comparisons cost a fraction of a
        dictionary lookup, and this runs for every event an agent commits)."""
        if not self.logged_in:
            return -1
        activity = self.activity
        if activity == IDLE:
            return A_NOT_READY if self.paused else A_AVAILABLE
        if activity == ON_CALL:
            return A_TALK
        if activity == ON_HOLD:
            return A_HOLD
        return A_WRAPUP if activity == WRAP_UP else -1

    def copy(self) -> AgentStatus:
        other = AgentStatus()
        (other.activity, other.call, other.logged_in, other.name, other.paused, other.queues,
         other.reason, other.since, other.team) = (
            self.activity, self.call, self.logged_in, self.name, self.paused, self.queues,
            self.reason, self.since, self.team)
        return other

    def transition(self, e: ev.AnyEvent, ts: int) -> None:
        """Apply the effect on the present (no accounting) of one event, whose ``ts`` the
        caller has read."""
        before = self.state()
        # Exact types (event types are final): isinstance on msgspec Structs costs several
        # times more, and this runs for every agent event. The ignores below are for mypy,
        # which cannot narrow on `type(e) is`.
        t = type(e)
        if t is T_AGENT_LOGIN:
            if not self.logged_in:
                self.paused, self.reason, self.activity, self.call = False, None, IDLE, None
            self.logged_in = True
            self.queues = tuple(sorted(set(e.queues)))  # type: ignore[union-attr]
            self.name = e.name if e.name is not None else self.name  # type: ignore[union-attr]
            self.team = e.team if e.team is not None else self.team  # type: ignore[union-attr]
        elif t is T_AGENT_LOGOUT:
            self.logged_in, self.paused, self.reason = False, False, None
            self.activity, self.call = IDLE, None
        else:
            # Any other event from an agent shows the agent is working, so logged in.
            self.logged_in = True
            if t is T_AGENT_READY:
                self.paused, self.reason = False, None
            elif t is T_AGENT_NOT_READY:
                self.paused, self.reason = True, e.reason  # type: ignore[union-attr]
            elif t is T_ANSWERED:
                self.activity, self.call = ON_CALL, e.call_id  # type: ignore[union-attr]
            elif t is T_HOLD:
                if self.activity == ON_CALL:
                    self.activity = ON_HOLD
            elif t is T_UNHOLD:
                if self.activity == ON_HOLD:
                    self.activity = ON_CALL
            elif t is T_WRAPUP_ENDED or (t is T_ENDED and self.activity != WRAP_UP):
                self.activity, self.call = IDLE, None
            elif t is T_WRAPUP_STARTED:
                self.activity, self.call = WRAP_UP, e.call_id  # type: ignore[union-attr]
        if self.state() != before:
            self.since = ts


class AgentState:
    """One (tenant, agent): the present, the reorder buffer, and tallies for today and intervals."""

    __slots__ = (
        "agent", "calendar", "clock_ms", "grace_ms", "intervals", "janitor", "keep_intervals_ms",
        "last_event_ms", "max_ts", "open_end", "open_start", "open_tally", "pending",
        "present_status", "recent", "recent_head", "recent_order", "status", "tenant", "today",
        "today_end", "today_start",
    )

    def __init__(
        self, tenant: str, agent: str, calendar: Calendar, *, grace_ms: int = 60_000,
        keep_intervals_ms: int | None = None,
    ) -> None:
        self.tenant = tenant
        self.agent = agent
        self.calendar = calendar
        self.grace_ms = grace_ms
        self.keep_intervals_ms = keep_intervals_ms
        self.status = AgentStatus()
        self.clock_ms = NO_CLOCK  # time accounted up to here
        self.last_event_ms = 0
        self.max_ts = -(1 << 62)
        self.pending: list[tuple[int, str, ev.AnyEvent]] = []
        # The status with every pending event applied (see present), kept while events arrive
        # in order; None when it must be rebuilt. Committing events changes nothing of it.
        self.present_status: AgentStatus | None = None
        self.recent: dict[str, int] = {}  # ids applied within the last grace, to drop repeats
        # Its keys in its own order from recent_head on (see _forget_before): derived, not
        # stored.
        self.recent_order: list[str] = []
        self.recent_head = 0
        self.today = AgentTally()
        # [today_start, today_end): the day `today` counts (machine integers: see QueueState).
        self.today_start = 0
        self.today_end = 0
        self.intervals: dict[int, AgentTally] = {}
        # The interval last counted into, [open_start, open_end), and its tally: time and counts
        # go to it three or four times an event, which spares the calendar and the dict.
        self.open_start, self.open_end, self.open_tally = 0, 0, AgentTally()
        self.janitor: dict[str, int] = {}

    @property
    def today_bounds(self) -> tuple[int, int]:
        """``[start, end)`` of the day `today` counts (``(0, 0)`` before any event)."""
        return self.today_start, self.today_end

    def apply(self, e: ev.AnyEvent) -> bool:
        """Buffer one agent event (or call event naming this agent); returns False for a
        duplicate."""
        return self.take(e, e.ts, e.id)

    def take(self, e: ev.AnyEvent, ts: int, eid: str) -> bool:
        """:meth:`apply` for an event whose ``ts`` and ``id`` the caller has read (the engine:
        a msgspec event's attribute costs a generic lookup each read)."""
        if eid in self.recent:
            return False
        pending = self.pending
        # (The last item read as fields: compiled, an optional tuple is boxed anew.)
        newest = not pending
        if not newest:
            last_ts, last_id, _ = pending[-1]
            newest = ts > last_ts or (ts == last_ts and eid > last_id)
        if newest:
            pending.append((ts, eid, e))  # the usual case: the newest so far
            if self.present_status is not None:
                self.present_status.transition(e, ts)
        else:
            # (ts, id) sorts before its own item, so this finds a duplicate's place.
            at = bisect.bisect_left(pending, (ts, eid))
            if at < len(pending) and pending[at][1] == eid:
                return False
            pending.insert(at, (ts, eid, e))
            self.present_status = None
        if ts > self.max_ts:
            self.max_ts = ts
        cutoff = self.max_ts - self.grace_ms
        if pending[0][0] <= cutoff or len(pending) > MAX_PENDING:
            self._commit_until(cutoff)
        return True

    def _commit_until(self, ts_ms: int) -> int:
        """Apply the buffered events up to ``ts_ms``; returns how many."""
        pending = self.pending
        n = 0
        while n < len(pending) and (pending[n][0] <= ts_ms or len(pending) - n > MAX_PENDING):
            ts, eid, e = pending[n]
            self._commit(ts, eid, e)
            n += 1
        if n:
            if n <= 8:  # most often one (compiled, a slice deletion builds a slice object)
                for _ in range(n):
                    pending.pop(0)
            else:
                del pending[:n]
            if not pending:
                self.present_status = None  # the status itself is the present now
            self._forget_before(ts_ms - self.grace_ms)
        return n

    def _forget_before(self, horizon_ms: int) -> None:
        """Drop the ids applied before ``horizon_ms`` from ``recent``. They were added in the
        order applied, which is time order but for late events, so the oldest come first:
        the cost is the ids dropped, not the ids kept (a busy agent keeps hundreds). The order
        is read from ``recent_order``, which holds the dict's keys in the dict's order: a pass
        over the dict itself, with a list of the ids to drop, cost a fifth more, and more per
        id the longer the run (``benchmarks/bench_engine.py``, callgrind)."""
        recent, order = self.recent, self.recent_order
        head = self.recent_head
        while head < len(order):
            eid = order[head]
            if recent[eid] >= horizon_ms:
                break
            del recent[eid]
            head += 1
        # Once the dropped ids are most of the list (and more than a few), it lets go of them:
        # each id is moved at most once, and the list stays within twice the dict.
        if head > 32 and head * 2 > len(order):
            del order[:head]
            head = 0
        self.recent_head = head

    def _commit(self, ts: int, eid: str, e: ev.AnyEvent) -> None:
        """Apply one buffered event (its ``ts`` and ``id`` as buffered: an event's attributes
        are read through the generic protocol, the tuple's natively)."""
        clock = self.clock_ms
        if ts < clock:
            bump(self.janitor, "late", 1)  # beyond the grace: keep its effect, not its time
        else:
            self._account(ts)
            clock = ts
        size = len(self.recent)
        self.recent[eid] = ts
        if len(self.recent) > size:  # a new key: it goes last in the dict's order too
            self.recent_order.append(eid)
        if ts > self.last_event_ms:
            self.last_event_ms = ts
        self.status.transition(e, ts)
        field = _count_field(type(e))
        if field < 0:
            return
        disposition: str | None = e.disposition if field == A_HANDLED else None  # type: ignore[union-attr]
        # (Tested for None first: compiled, == on an optional str is the generic comparison.)
        sale = A_SALES if disposition is not None and disposition == "sale" else -1
        interval = self._interval_tally(clock)
        _count(interval, field, 1, sale, 1)
        if disposition is not None:
            bump(interval.dispositions, disposition, 1)
        today = self._today_tally(clock)
        if today is not None:
            _count(today, field, 1, sale, 1)
            if disposition is not None:
                bump(today.dispositions, disposition, 1)

    def _interval_tally(self, ts: int) -> AgentTally:
        """The tally of the interval holding ``ts``, which becomes the open one."""
        if self.open_start <= ts < self.open_end:
            return self.open_tally
        start, end = self.calendar.interval(ts)
        tally = self.intervals.get(start)
        if tally is None:
            tally = self.intervals[start] = AgentTally()
        self.open_start, self.open_end, self.open_tally = start, end, tally
        return tally

    def _reopen(self) -> None:
        """Forget the open interval (its tally may have left ``intervals``)."""
        self.open_start, self.open_end, self.open_tally = 0, 0, AgentTally()

    def _today_tally(self, ts: int) -> AgentTally | None:
        """Today's tally (a new day's from ``ts`` on), or ``None`` for a ``ts`` before today
        (a late event)."""
        if ts >= self.today_end:
            self.today_start, self.today_end = self.calendar.day(ts)
            self.today = AgentTally()
        return self.today if ts >= self.today_start else None

    def _account(self, until_ms: int) -> None:
        """Add the time since the clock to the current state, split at interval borders."""
        t = self.clock_ms
        self.clock_ms = until_ms
        if t == NO_CLOCK or not self.status.logged_in:
            return
        field = self.status.time_field()
        while t < until_ms:
            tally = self._interval_tally(t)
            end = self.open_end if self.open_end < until_ms else until_ms
            span = end - t
            _count(tally, A_LOGIN, span, field, span)
            today = self._today_tally(t)
            if today is not None:
                _count(today, A_LOGIN, span, field, span)
            t = end

    def flush(self, until_ms: int | None = None) -> None:
        """Apply every buffered event, then account time up to ``until_ms`` (end of a report:
        an agent still logged in is counted up to it)."""
        self._commit_until(1 << 62)
        if until_ms is not None and until_ms > self.clock_ms:
            self._account(until_ms)

    def sweep(self, now_ms: int) -> bool:
        """Apply events older than the grace; reset an agent stuck on a call for 8 h without an
        event to available (``spec/METRICS.md``, "Staleness and lost calls"). Returns whether
        the state changed."""
        changed = self._commit_until(now_ms - self.grace_ms) > 0
        s = self.status
        if s.activity in (ON_CALL, ON_HOLD) and now_ms - self.last_event_ms > AGENT_STUCK_MS \
                and not self.pending:
            reset_at = self.last_event_ms + AGENT_STUCK_MS
            self._account(max(reset_at, self.clock_ms))
            s.activity, s.call, s.since = IDLE, None, reset_at
            bump(self.janitor, "stuck_resets", 1)
            changed = True
        if self.keep_intervals_ms is not None:
            floor = now_ms - self.keep_intervals_ms
            for start in [k for k in self.intervals if k < floor]:
                del self.intervals[start]
                self._reopen()
                changed = True
        return changed

    def present(self) -> AgentStatus:
        """The present with buffered events applied (what a wallboard shows); not to be
        changed by the caller. Kept between calls: replaying a busy agent's grace of buffered
        events on every view and announcement was a fifth of the live worker's time."""
        if not self.pending:
            return self.status
        status = self.present_status
        if status is None:
            status = self.present_status = self.status.copy()
            for ts, _, e in self.pending:
                status.transition(e, ts)
        return status

    def snapshot(self, now_ms: int) -> dict[str, object]:
        """The agent's live view: state, time in state, and today's figures."""
        s = self.present()
        start, end = self.today_bounds
        today = self.today if start <= now_ms < end else AgentTally()
        return {
            "tenant": self.tenant, "agent": self.agent, "name": s.name, "team": s.team,
            "queues": list(s.queues), "state": s.state(), "reason": s.reason,
            "state_since_ms": s.since, "time_in_state_s": max(0, now_ms - s.since) / 1000,
            "today": today.report_keys(),
        }

    # -- state bytes ------------------------------------------------------------------------

    def to_state(self) -> tuple[object, ...]:
        s = self.status
        return (
            (s.logged_in, list(s.queues), s.name, s.team, s.paused, s.reason, s.activity, s.call,
             s.since),
            None if self.clock_ms == NO_CLOCK else self.clock_ms, self.last_event_ms, self.max_ts,
            [msgspec.msgpack.encode(e) for _, _, e in self.pending], self.recent,
            (list(self.today.v), self.today.dispositions), self.today_bounds,
            {k: (list(t.v), t.dispositions) for k, t in self.intervals.items()}, self.janitor,
        )

    def load_state(self, state: Any) -> None:
        (status, clock, last, max_ts, pending, recent, today, bounds, intervals,
         janitor) = state
        s = self.status
        (s.logged_in, queues, s.name, s.team, s.paused, s.reason, s.activity, s.call,
         s.since) = status
        s.queues = tuple(queues)
        self.clock_ms = NO_CLOCK if clock is None else clock
        self.last_event_ms, self.max_ts = last, max_ts
        decoded = [_EVENT_CODEC.decode(raw) for raw in pending]
        self.pending = [(e.ts, e.id, e) for e in decoded]
        self.present_status = None
        self.recent = dict(recent)
        self.recent_order = list(self.recent)
        self.recent_head = 0
        self.today = _tally(today)
        self.today_start, self.today_end = bounds
        self.intervals = {int(k): _tally(t) for k, t in intervals.items()}
        self._reopen()
        self.janitor = dict(janitor)


def _tally(state: Any) -> AgentTally:
    tally = AgentTally()
    v, dispositions = state
    tally.v = counts(v)
    tally.dispositions = dict(dispositions)
    return tally


def agents_by_queue(
    agents: Iterable[AgentState],
) -> dict[tuple[str, str], dict[str, int]]:
    """Per (tenant, queue): how many logged-in agents serving it are in each state
    (``agents_available``, ``agents_on_call``, ``agents_wrap_up``, ``agents_not_ready``,
    ``agents_logged_in``). An agent serving three queues counts in each."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for agent in agents:
        s = agent.present()
        if not s.logged_in:
            continue
        bucket = QUEUE_BUCKET[s.state()]
        for queue in s.queues:
            counts = out.get((agent.tenant, queue))
            if counts is None:
                counts = out[(agent.tenant, queue)] = empty_counts()
            counts[bucket] += 1
            counts["logged_in"] += 1
    return out


def empty_counts() -> dict[str, int]:
    """Agent counts of a queue nobody serves."""
    return dict.fromkeys(("available", "on_call", "wrap_up", "not_ready", "logged_in"), 0)
