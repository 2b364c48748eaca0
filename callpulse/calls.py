"""One call's record and the contributions it makes to its queue's counters.

A call's record is a pure function of the *set* of its events: each milestone keeps the earliest
report (by ``ts``, then ``id``), and repeatable events (hold, unhold, callback attempts, ring no
answer) are keyed by event ``id``. So duplicates change nothing, and any arrival order yields the
same record. The contributions to the counters are a pure function of the record; the queue adds
the difference each time the record changes. Together: the same events in any order, any number
of times, give the counters of the ordered, once-only stream (``spec/EVENTS.md``, "Rules").
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from . import events as ev
from .event_types import (
    T_ABANDONED,
    T_ANSWERED,
    T_CALLBACK_ATTEMPTED,
    T_CALLBACK_CANCELLED,
    T_CALLBACK_REQUESTED,
    T_ENDED,
    T_FLOWED_OUT,
    T_HOLD,
    T_RING_NO_ANSWER,
    T_RINGING,
    T_UNHOLD,
    T_VOICEMAIL_LEFT,
    T_WRAPUP_ENDED,
    T_WRAPUP_STARTED,
)
from .tally import (
    CALLBACKS_FAILED,
    CALLBACKS_REACHED,
    K_ABANDONED,
    K_ANSWERED,
    K_CALLBACK,
    K_FLOWED,
    K_VOICEMAIL,
    LOST,
    OFFERED,
    P_ACW,
    P_COUNT,
    P_HANDLED,
    P_OUTCOME,
    RING_NO_ANSWER,
    SHORT,
    WITHIN_SL,
)

BACKLOG_KINDS: Final[tuple[int, ...]] = (K_VOICEMAIL, K_CALLBACK)  # (see tally._COUNTER_OF)
WRAPUP_LINGER_MS: Final = 15 * 60 * 1000
LOST_LINGER_MS: Final = 60 * 60 * 1000
# Call.entry_ms while the entry time is unknown: a machine integer, where ``None`` would make
# every call box the time into a Python int (far below any event's time).
NO_ENTRY: Final = -(1 << 60)

# A contribution: (ts_ms for sliding windows and today, entry_ms for intervals, then what it
# adds: code, x, y and label as callpulse.tally.post reads them).
Contribution = tuple[int, int, int, int, int, str | None]
G_OFFERED: Final = 0
G_OUTCOME: Final = 1
G_HANDLED: Final = 2
G_ACW: Final = 3
G_CALLBACKS: Final = 4
G_RNA: Final = 5
G_LOST: Final = 6
ALL_GROUPS: Final = tuple(range(7))
# The groups an event of each type can change while the call's entry time stays the same
# (a new entry time changes every group). Every outcome also moves the handled group: talk time
# runs from the answer, and an earlier outcome of another kind replacing an answer takes the
# answer's talk time away.
_OUTCOME_GROUPS: Final = (G_OUTCOME, G_HANDLED, G_LOST)
GROUPS_OF: Final[dict[type, tuple[int, ...]]] = {
    ev.Ringing: (), ev.Answered: _OUTCOME_GROUPS, ev.Abandoned: _OUTCOME_GROUPS,
    ev.VoicemailLeft: _OUTCOME_GROUPS, ev.CallbackRequested: _OUTCOME_GROUPS,
    ev.FlowedOut: _OUTCOME_GROUPS,
    ev.Ended: (G_HANDLED,), ev.Hold: (G_HANDLED,), ev.Unhold: (G_HANDLED,),
    ev.WrapupStarted: (G_ACW,), ev.WrapupEnded: (G_ACW,), ev.CallbackAttempted: (G_CALLBACKS,),
    ev.CallbackCancelled: (), ev.RingNoAnswer: (G_RNA,),
}

# The event types that can change whether a call waits or is an open callback item (see
# QueueState._track); the others (talk, hold, wrap-up, ring no answer) cannot.
CHANGES_LIVE: Final = frozenset({
    ev.Ringing, ev.Answered, ev.Abandoned, ev.VoicemailLeft, ev.CallbackRequested, ev.FlowedOut,
    ev.CallbackAttempted, ev.CallbackCancelled,
})


def _outcome_kind(t: type) -> int:
    """The outcome kind (``K_*``) an event type reports, 0 for the others (identity tests:
    compiled, they cost a fraction of a dictionary lookup, on every event)."""
    if t is T_ANSWERED:
        return K_ANSWERED
    if t is T_ABANDONED:
        return K_ABANDONED
    if t is T_VOICEMAIL_LEFT:
        return K_VOICEMAIL
    if t is T_CALLBACK_REQUESTED:
        return K_CALLBACK
    return K_FLOWED if t is T_FLOWED_OUT else 0


def _secs_ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


class Call:
    """The record of one call (``tenant``, ``queue``, ``call_id``).

    Milestones are tuples that sort by ``(ts, ...)``; ``min`` picks the earliest report.
    """

    __slots__ = (
        "attempts", "cancel", "ended", "holds", "last_ts", "lost_ts", "outcome",
        "packed", "ring", "rnas", "wrap_end", "wrap_start",
    )

    def __init__(self) -> None:
        self.ring: tuple[int, str] | None = None
        # (ts, kind, id, source wait ms or None, flow-out reason or None)
        self.outcome: tuple[int, int, str, int | None, str | None] | None = None
        # (ts, id, source talk ms or None, disposition or None)
        self.ended: tuple[int, str, int | None, str | None] | None = None
        # Repeatable events share one empty dict until the first arrives (most calls have none).
        self.holds: dict[str, tuple[int, bool]] = _NONE
        self.wrap_start: tuple[int, str] | None = None
        self.wrap_end: tuple[int, str, int | None] | None = None
        self.attempts: dict[str, tuple[int, bool]] = _NONE
        self.rnas: dict[str, int] = _NONE
        self.cancel: tuple[int, str] | None = None
        self.lost_ts: int | None = None
        self.last_ts = 0
        # The record as encoded for the state bytes (callpulse.codec), until it changes: most
        # calls a queue holds do not change between two stores. Whoever changes the record
        # (the queue, on an event or a loss) clears it.
        self.packed: bytes | None = None

    def record(self, e: ev.CallEvent, ts: int) -> bool:
        """Fold one event, whose ``ts`` its caller has read already, into the record
        (idempotent, order-free); returns whether a milestone changed (a duplicate or a later
        report of a milestone changes none)."""
        eid = e.id
        if ts > self.last_ts:
            self.last_ts = ts
        # Exact types (event types are final): isinstance on msgspec Structs costs several
        # times more. The ignores are for mypy, which cannot narrow on `type(e) is`.
        t = type(e)
        if t is T_RINGING:
            ring = self.ring
            self.ring = _earliest(ring, (ts, eid))
            return self.ring is not ring
        kind = _outcome_kind(t)
        if kind:
            reason = e.reason if t is T_FLOWED_OUT else None  # type: ignore[attr-defined]
            got = (ts, kind, eid, _secs_ms(e.wait_s), reason)  # type: ignore[attr-defined]
            outcome = self.outcome
            self.outcome = _earliest(outcome, got, 3)
            return self.outcome is not outcome
        if t is T_ENDED:
            ended = self.ended
            self.ended = _earliest(ended, (ts, eid, _secs_ms(e.talk_s),  # type: ignore[attr-defined]
                                           e.disposition))  # type: ignore[attr-defined]
            return self.ended is not ended
        if t is T_WRAPUP_ENDED:
            wrap_end = self.wrap_end
            self.wrap_end = _earliest(wrap_end, (ts, eid, _secs_ms(e.acw_s)))  # type: ignore[attr-defined]
            return self.wrap_end is not wrap_end
        if t is T_WRAPUP_STARTED:
            wrap_start = self.wrap_start
            self.wrap_start = _earliest(wrap_start, (ts, eid))
            return self.wrap_start is not wrap_start
        if t is T_CALLBACK_CANCELLED:
            cancel = self.cancel
            self.cancel = _earliest(cancel, (ts, eid))
            return self.cancel is not cancel
        # Repeatable events, keyed by id: cheap enough to recount.
        if t is T_HOLD or t is T_UNHOLD:
            self.holds = _put(self.holds, eid, (ts, t is T_HOLD))
        elif t is T_CALLBACK_ATTEMPTED:
            self.attempts = _put(self.attempts, eid, (ts, e.result == "reached"))  # type: ignore[attr-defined]
        elif t is T_RING_NO_ANSWER:
            self.rnas = _put(self.rnas, eid, ts)
        return True

    def entry_ms(self) -> int:
        """When the call entered the queue: its ``ringing``, else its outcome minus the source's
        wait; :data:`NO_ENTRY` while neither is known."""
        if self.ring is not None:
            return self.ring[0]
        o = self.outcome
        if o is not None and o[3] is not None:
            return o[0] - o[3]
        return NO_ENTRY

    def is_waiting(self) -> bool:
        return self.ring is not None and self.outcome is None and self.lost_ts is None

    def backlog_since(self) -> int | None:
        """The request time while this call is an open callback backlog item, else ``None``."""
        o = self.outcome
        if o is None or o[1] not in BACKLOG_KINDS or self.cancel is not None:
            return None
        for _, reached in self.attempts.values():  # (a loop: any() makes a generator)
            if reached:
                return None
        return o[0]

    def is_open(self) -> bool:
        """Still expecting events: waiting, in the backlog, talking, or in wrap-up."""
        if self.is_waiting() or self.backlog_since() is not None:
            return True
        o = self.outcome
        if o is not None and o[1] == K_ANSWERED and self.ended is None:
            return True
        return self.wrap_start is not None and self.wrap_end is None

    def final_after_ms(self, grace_ms: int) -> int:
        """How long this finished record must be quiet before it is final: the grace, or for
        an ended call with no wrap-up end yet, long enough for a late ``wrapup_ended`` (sources
        that only report the end of wrap-up send it minutes after ``ended``)."""
        o = self.outcome
        if o is None and self.lost_ts is not None:
            return max(grace_ms, LOST_LINGER_MS)  # the real outcome may still turn up
        if o is not None and o[1] == K_ANSWERED and self.wrap_end is None:
            return max(grace_ms, WRAPUP_LINGER_MS)
        return grace_ms

    def first_ms(self) -> int:
        """The ``ts`` of the record's earliest event (a loss counts as one)."""
        times = [m[0] for m in (self.ring, self.outcome, self.ended, self.wrap_start,
                                self.wrap_end, self.cancel) if m is not None]
        times.extend(ts for ts, _ in self.holds.values())
        times.extend(ts for ts, _ in self.attempts.values())
        times.extend(self.rnas.values())
        if self.lost_ts is not None:
            times.append(self.lost_ts)
        return min(times, default=self.last_ts)

    def reaches(self, ts: int, grace_ms: int) -> bool:
        """Whether an event at ``ts``, after this record's events, still belongs to it: the
        record is open, or ``ts`` is within :meth:`final_after_ms` of its last event. Else the
        event starts a new record of the same call id (a source reusing ids)."""
        last = self.last_ts
        # (final_after_ms is never below the grace: the first test spares most events the rest)
        return ts <= last + grace_ms or ts <= last + self.final_after_ms(grace_ms) \
            or self.is_open()

    def merge(self, other: Call) -> None:
        """Fold every event of ``other`` into this record: the record of the union of both
        event sets (each milestone's earliest report, the union of repeatable events)."""
        self.ring = _earlier_of(self.ring, other.ring)
        self.outcome = _earlier_of(self.outcome, other.outcome, 3)
        self.ended = _earlier_of(self.ended, other.ended)
        self.wrap_start = _earlier_of(self.wrap_start, other.wrap_start)
        self.wrap_end = _earlier_of(self.wrap_end, other.wrap_end)
        self.cancel = _earlier_of(self.cancel, other.cancel)
        for key, hold in other.holds.items():
            self.holds = _put(self.holds, key, hold)
        for key, tried in other.attempts.items():
            self.attempts = _put(self.attempts, key, tried)
        for key, ts in other.rnas.items():
            self.rnas = _put(self.rnas, key, ts)
        if other.lost_ts is not None and (self.lost_ts is None or other.lost_ts < self.lost_ts):
            self.lost_ts = other.lost_ts
        self.last_ts = max(self.last_ts, other.last_ts)
        self.packed = None

    def hold_ms(self, until_ms: int) -> int:
        """Time on hold: holds paired with the next unhold, an open hold runs to ``until_ms``."""
        if not self.holds:
            return 0
        total, since = 0, None
        for ts, is_hold in sorted(self.holds.values()):
            if is_hold and since is None:
                since = ts
            elif not is_hold and since is not None:
                total += ts - since
                since = None
        if since is not None and until_ms > since:
            total += until_ms - since
        return total

    def facet(
        self, group: int, entry: int, sl_threshold_ms: int, short_abandon_ms: int,
    ) -> tuple[Contribution, ...]:
        """What this record adds to the counters in one group (:data:`ALL_GROUPS`: offered,
        outcome, handled, after-call work, callback attempts, ring no answer, lost), given the
        call's entry time. Grouped so that one event usually changes one group."""
        # Most groups of most calls are empty: say so before any work.
        if group == G_OFFERED:
            return ((entry, entry, P_COUNT, OFFERED, 0, None),)
        if group == G_OUTCOME:
            return () if self.outcome is None else self._outcome(
                entry, sl_threshold_ms, short_abandon_ms)
        if group == G_HANDLED:
            return () if self.ended is None else self._handled(entry)
        if group == G_ACW:
            return () if self.wrap_end is None else self._acw(entry)
        if group == G_CALLBACKS:
            return () if not self.attempts else tuple(
                (ts, entry, P_COUNT, CALLBACKS_REACHED if ok else CALLBACKS_FAILED, 0, None)
                for ts, ok in sorted(self.attempts.values())
            )
        if group == G_RNA:
            return () if not self.rnas else tuple((ts, entry, P_COUNT, RING_NO_ANSWER, 0, None)
                                                  for ts in sorted(self.rnas.values()))
        if self.lost_ts is None or self.outcome is not None:  # an outcome after all: not lost
            return ()
        return ((self.lost_ts, entry, P_COUNT, LOST, 0, None),)

    def _outcome(
        self, entry: int, sl_threshold_ms: int, short_abandon_ms: int,
    ) -> tuple[Contribution, ...]:
        o = self.outcome
        if o is None:
            return ()
        ts, kind, _, wait_src, reason = o
        wait = wait_src if wait_src is not None else max(0, ts - entry)
        flags = kind
        if wait <= sl_threshold_ms:
            flags |= WITHIN_SL
        if kind == K_ABANDONED and wait <= short_abandon_ms:
            flags |= SHORT
        return ((ts, entry, P_OUTCOME, wait, flags, reason),)

    def _handled(self, entry: int) -> tuple[Contribution, ...]:
        end, o = self.ended, self.outcome
        if end is None:
            return ()
        ts, _, talk_src, disposition = end
        hold = self.hold_ms(ts)
        if talk_src is not None:
            talk = talk_src
        elif o is not None and o[1] == K_ANSWERED:
            talk = max(0, ts - o[0] - hold)
        else:
            return ()  # talk time unknown until the answer arrives
        return ((ts, entry, P_HANDLED, talk, hold, disposition),)

    def _acw(self, entry: int) -> tuple[Contribution, ...]:
        end = self.wrap_end
        if end is None:
            return ()
        ts, _, acw_src = end
        if acw_src is not None:
            acw = acw_src
        elif self.wrap_start is not None:
            acw = max(0, ts - self.wrap_start[0])
        else:
            return ()
        return ((ts, entry, P_ACW, acw, 0, None),)

    def to_state(self) -> tuple[object, ...]:
        return (
            self.ring, self.outcome, self.ended, self.holds, self.wrap_start, self.wrap_end,
            self.attempts, self.rnas, self.cancel, self.lost_ts, self.last_ts,
        )

    @classmethod
    def from_state(cls, state: Any) -> Call:
        c = cls()
        (ring, outcome, ended, holds, wrap_start, wrap_end, attempts, rnas, cancel, lost_ts,
         last_ts) = state
        c.ring = _tuple(ring)
        c.outcome = _tuple(outcome)
        c.ended = _tuple(ended)
        c.holds = {k: (ts, bool(h)) for k, (ts, h) in holds.items()} or _NONE
        c.wrap_start = _tuple(wrap_start)
        c.wrap_end = _tuple(wrap_end)
        c.attempts = {k: (ts, bool(r)) for k, (ts, r) in attempts.items()} or _NONE
        c.rnas = dict(rnas) or _NONE
        c.cancel = _tuple(cancel)
        c.lost_ts = lost_ts
        c.last_ts = last_ts
        return c


def _tuple(value: Any) -> Any:
    return None if value is None else tuple(value)


_NONE: Final[dict[Any, Any]] = {}  # shared, never written: _put copies before the first write
_V = TypeVar("_V")


def _put(d: dict[str, _V], key: str, value: _V) -> dict[str, _V]:
    """``d`` with ``key`` set; the shared empty dict is replaced, never written."""
    if d is _NONE:
        d = {}
    d[key] = value
    return d


_T = TypeVar("_T", bound=tuple[object, ...])


def _earliest(current: _T | None, new: _T, key_len: int = 2) -> _T:
    """The earlier of two reports of one milestone, by ``ts`` then by what identifies the event
    (``key_len`` leading fields), so the choice does not depend on arrival order."""
    if current is None:
        return new
    return new if new[:key_len] < current[:key_len] else current


def _earlier_of(current: _T | None, other: _T | None, key_len: int = 2) -> _T | None:
    """:func:`_earliest` of two reports of which either may be missing."""
    return current if other is None else _earliest(current, other, key_len)
