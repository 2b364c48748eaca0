"""One call's record and the contributions it makes to its queue's counters.

A call's record is a pure function of the *set* of its events: each milestone keeps the earliest
report (by ``ts``, then ``id``), and repeatable events (hold, unhold, callback attempts, ring no
answer) are keyed by event ``id``. So duplicates change nothing, and any arrival order yields the
same record. The contributions to the counters are a pure function of the record; when an event
changes it, the queue takes back the record's contributions in the groups the event can change
and adds them anew (:meth:`callpulse.queue.QueueState._post`). Together: the same events in any
order, any number of times, give the counters of the ordered, once-only stream (``spec/EVENTS.md``, "Rules").
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from . import events as ev
from .event_types import (
    AT_ACW,
    AT_DISPOSITION,
    AT_ID,
    AT_REASON,
    AT_RESULT,
    AT_TALK,
    AT_WAIT,
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
from .tally import K_ABANDONED, K_ANSWERED, K_CALLBACK, K_FLOWED, K_VOICEMAIL

WRAPUP_LINGER_MS: Final = 15 * 60 * 1000
LOST_LINGER_MS: Final = 60 * 60 * 1000
# A milestone's time while it is not reported: after every time, so that any report is earlier.
NEVER: Final = 1 << 61
# A duration the source did not send, and Call.entry_ms while the entry time is unknown: machine
# integers, where ``None`` would make every call box its times into Python ints.
NO_MS: Final = -(1 << 60)
NO_ENTRY: Final = -(1 << 60)

# A call's contributions to its queue's counters come in groups, so that one event usually
# changes one group (QueueState._post).
G_OFFERED: Final = 0
G_OUTCOME: Final = 1
G_HANDLED: Final = 2
G_ACW: Final = 3
G_CALLBACKS: Final = 4
G_RNA: Final = 5
G_LOST: Final = 6
ALL_GROUPS: Final = tuple(range(7))
# The groups each event type can change (see groups_of), typed as tuples of any length (see
# callpulse.tally._COUNTER_OF).
_OUTCOME_GROUPS: Final[tuple[int, ...]] = (G_OUTCOME, G_HANDLED, G_LOST)
_HANDLED_GROUPS: Final[tuple[int, ...]] = (G_HANDLED,)
_ACW_GROUPS: Final[tuple[int, ...]] = (G_ACW,)
_CALLBACK_GROUPS: Final[tuple[int, ...]] = (G_CALLBACKS,)
_RNA_GROUPS: Final[tuple[int, ...]] = (G_RNA,)
_NO_GROUPS: Final[tuple[int, ...]] = ()


def groups_of(t: type) -> tuple[int, ...]:
    """The groups an event of type ``t`` can change while the call's entry time stays the same
    (a new entry time changes every group). Every outcome also moves the handled group: talk
    time runs from the answer, and an earlier outcome of another kind replacing an answer takes
    the answer's talk time away. (Identity tests, as in :func:`_outcome_kind`.)"""
    if _outcome_kind(t):
        return _OUTCOME_GROUPS
    if t is T_ENDED or t is T_HOLD or t is T_UNHOLD:
        return _HANDLED_GROUPS
    if t is T_WRAPUP_ENDED or t is T_WRAPUP_STARTED:
        return _ACW_GROUPS
    if t is T_CALLBACK_ATTEMPTED:
        return _CALLBACK_GROUPS
    return _RNA_GROUPS if t is T_RING_NO_ANSWER else _NO_GROUPS  # ringing, a cancellation


# The live values of a call (QueueState._track): whether it waits, and since when; whether
# it is an open callback item, and since when.
LIVE_WAITING: Final = 1
LIVE_BACKLOG: Final = 2
LIVE_ALL: Final = LIVE_WAITING | LIVE_BACKLOG


def live_parts(t: type) -> int:
    """Which live values an event of type ``t`` can change: a ringing whether the call waits,
    an outcome both, a callback attempt or cancellation whether it is an open callback item;
    none for the others (talk, hold, wrap-up, ring no answer)."""
    if t is T_RINGING:
        return LIVE_WAITING
    if _outcome_kind(t):
        return LIVE_ALL
    return LIVE_BACKLOG if t is T_CALLBACK_ATTEMPTED or t is T_CALLBACK_CANCELLED else 0


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


def _secs_ms(seconds: float | None) -> int:
    """A source's duration in milliseconds, rounded as ``round`` does (half to even), or
    :data:`NO_MS` when it sent none."""
    if seconds is None:
        return NO_MS
    ms = seconds * 1000
    if not 0 <= ms < 1e15:
        return round(ms)
    # (Compiled, round() is a generic call; this is the same for these values: int()
    # truncates, and the fraction of a double below 2**52 is exact.)
    whole = int(ms)
    fraction = ms - whole
    if fraction > 0.5 or (fraction == 0.5 and whole % 2 == 1):
        whole += 1
    return whole


def _ms_or_none(ms: int) -> int | None:
    return None if ms == NO_MS else ms


class Call:
    """The record of one call (``tenant``, ``queue``, ``call_id``).

    Each milestone is held as the fields of its earliest report, by ``(ts, id)`` (an outcome by
    ``(ts, kind, id)``), so the choice does not depend on arrival order. The fields are machine
    integers and strings: a missing milestone's time is :data:`NEVER`, a duration the source did
    not send is :data:`NO_MS`. (Tuples of them boxed every time into a Python int, several
    times an event, and were the largest single cost of the fold after the counters.)
    """

    __slots__ = (
        "attempts", "cancel_id", "cancel_ts", "end_disposition", "end_id", "end_talk_ms",
        "end_ts", "holds", "last_ts", "lost_ts", "out_id", "out_kind", "out_reason", "out_ts",
        "out_wait_ms", "packed", "ring_id", "ring_ts", "rnas", "sweep_after_ms", "wrap_end_acw_ms",
        "wrap_end_id", "wrap_end_ts", "wrap_start_id", "wrap_start_ts",
    )

    def __init__(self) -> None:
        self.ring_ts = NEVER
        self.ring_id = ""
        # The outcome: its kind (K_*, 0 while there is none), the source's wait, and a flow-out's
        # reason.
        self.out_ts = NEVER
        self.out_kind = 0
        self.out_id = ""
        self.out_wait_ms = NO_MS
        self.out_reason: str | None = None
        self.end_ts = NEVER
        self.end_id = ""
        self.end_talk_ms = NO_MS
        self.end_disposition: str | None = None
        self.wrap_start_ts = NEVER
        self.wrap_start_id = ""
        self.wrap_end_ts = NEVER
        self.wrap_end_id = ""
        self.wrap_end_acw_ms = NO_MS
        self.cancel_ts = NEVER
        self.cancel_id = ""
        # Repeatable events, keyed by id; they share one empty dict until the first arrives
        # (most calls have none).
        self.holds: dict[str, tuple[int, bool]] = _NONE
        self.attempts: dict[str, tuple[int, bool]] = _NONE
        self.rnas: dict[str, int] = _NONE
        self.lost_ts = NEVER
        self.last_ts = 0
        # What is derived from the record until it changes; whoever changes it (the queue, on
        # an event or a loss) calls changed(). The record as encoded for the state bytes
        # (callpulse.codec): most calls a queue holds do not change between two stores.
        self.packed: bytes | None = None
        # The queue's sweep leaves this record alone while its settled time is at most this:
        # it found nothing to do before then (QueueState.sweep).
        self.sweep_after_ms = 0

    def changed(self) -> None:
        """Forget what was derived from the record (it changed)."""
        self.packed = None
        self.sweep_after_ms = 0

    def record(self, e: ev.CallEvent, fields: tuple[Any, ...], ts: int) -> bool:
        """Fold one event, given its fields as a tuple (:data:`FIELDS_OF`) and its ``ts`` as
        read from them, into the record (idempotent, order-free); returns whether a milestone
        changed (a duplicate or a later report of a milestone changes none)."""
        eid: str = fields[AT_ID]
        if ts > self.last_ts:
            self.last_ts = ts
        # Exact types (event types are final): isinstance on msgspec Structs costs several
        # times more.
        t = type(e)
        if t is T_RINGING:
            return self.take_ring(ts, eid)
        kind = _outcome_kind(t)
        if kind:
            reason: str | None = fields[AT_REASON] if t is T_FLOWED_OUT else None
            return self.take_outcome(ts, kind, eid, _secs_ms(fields[AT_WAIT]), reason)
        if t is T_ENDED:
            return self.take_end(ts, eid, _secs_ms(fields[AT_TALK]), fields[AT_DISPOSITION])
        if t is T_WRAPUP_ENDED:
            return self.take_wrap_end(ts, eid, _secs_ms(fields[AT_ACW]))
        if t is T_WRAPUP_STARTED:
            return self.take_wrap_start(ts, eid)
        if t is T_CALLBACK_CANCELLED:
            return self.take_cancel(ts, eid)
        # Repeatable events, keyed by id: cheap enough to recount.
        if t is T_HOLD or t is T_UNHOLD:
            self.holds = _put(self.holds, eid, (ts, t is T_HOLD))
        elif t is T_CALLBACK_ATTEMPTED:
            result: str = fields[AT_RESULT]
            self.attempts = _put(self.attempts, eid, (ts, result == "reached"))
        elif t is T_RING_NO_ANSWER:
            self.rnas = _put(self.rnas, eid, ts)
        return True

    # Each take_* keeps a report of one milestone if it is earlier than the one held (by ts,
    # then by what identifies the event) and returns whether it did. A missing report (ts
    # NEVER, id "") is never earlier, which is what merge relies on.

    def take_ring(self, ts: int, eid: str) -> bool:
        if not _earlier(ts, eid, self.ring_ts, self.ring_id):
            return False
        self.ring_ts = ts
        self.ring_id = eid
        return True

    def take_outcome(self, ts: int, kind: int, eid: str, wait_ms: int, reason: str | None) -> bool:
        held = self.out_ts
        if not (ts < held or (ts == held and (
                kind < self.out_kind or (kind == self.out_kind and eid < self.out_id)))):
            return False
        self.out_ts = ts
        self.out_kind = kind
        self.out_id = eid
        self.out_wait_ms = wait_ms
        self.out_reason = reason
        return True

    def take_end(self, ts: int, eid: str, talk_ms: int, disposition: str | None) -> bool:
        if not _earlier(ts, eid, self.end_ts, self.end_id):
            return False
        self.end_ts = ts
        self.end_id = eid
        self.end_talk_ms = talk_ms
        self.end_disposition = disposition
        return True

    def take_wrap_start(self, ts: int, eid: str) -> bool:
        if not _earlier(ts, eid, self.wrap_start_ts, self.wrap_start_id):
            return False
        self.wrap_start_ts = ts
        self.wrap_start_id = eid
        return True

    def take_wrap_end(self, ts: int, eid: str, acw_ms: int) -> bool:
        if not _earlier(ts, eid, self.wrap_end_ts, self.wrap_end_id):
            return False
        self.wrap_end_ts = ts
        self.wrap_end_id = eid
        self.wrap_end_acw_ms = acw_ms
        return True

    def take_cancel(self, ts: int, eid: str) -> bool:
        if not _earlier(ts, eid, self.cancel_ts, self.cancel_id):
            return False
        self.cancel_ts = ts
        self.cancel_id = eid
        return True

    def entry_ms(self) -> int:
        """When the call entered the queue: its ``ringing``, else its outcome minus the source's
        wait; :data:`NO_ENTRY` while neither is known."""
        if self.ring_ts != NEVER:
            return self.ring_ts
        if self.out_kind and self.out_wait_ms != NO_MS:
            return self.out_ts - self.out_wait_ms
        return NO_ENTRY

    def is_waiting(self) -> bool:
        return self.ring_ts != NEVER and not self.out_kind and self.lost_ts == NEVER

    def backlog_since(self) -> int:
        """The request time while this call is an open callback backlog item, else
        :data:`NEVER`."""
        kind = self.out_kind
        if (kind != K_VOICEMAIL and kind != K_CALLBACK) or self.cancel_ts != NEVER:
            return NEVER
        for _, reached in self.attempts.values():  # (a loop: any() makes a generator)
            if reached:
                return NEVER
        return self.out_ts

    def is_open(self) -> bool:
        """Still expecting events: waiting, in the backlog, talking, or in wrap-up."""
        if self.is_waiting() or self.backlog_since() != NEVER:
            return True
        if self.out_kind == K_ANSWERED and self.end_ts == NEVER:
            return True
        return self.wrap_start_ts != NEVER and self.wrap_end_ts == NEVER

    def final_after_ms(self, grace_ms: int) -> int:
        """How long this finished record must be quiet before it is final: the grace, or for
        an ended call with no wrap-up end yet, long enough for a late ``wrapup_ended`` (sources
        that only report the end of wrap-up send it minutes after ``ended``)."""
        if not self.out_kind and self.lost_ts != NEVER:
            return max(grace_ms, LOST_LINGER_MS)  # the real outcome may still turn up
        if self.out_kind == K_ANSWERED and self.wrap_end_ts == NEVER:
            return max(grace_ms, WRAPUP_LINGER_MS)
        return grace_ms

    def first_ms(self) -> int:
        """The ``ts`` of the record's earliest event (a loss counts as one)."""
        times = [self.ring_ts, self.out_ts, self.end_ts, self.wrap_start_ts, self.wrap_end_ts,
                 self.cancel_ts, self.lost_ts]
        times.extend(ts for ts, _ in self.holds.values())
        times.extend(ts for ts, _ in self.attempts.values())
        times.extend(self.rnas.values())
        first = min(times)
        return self.last_ts if first == NEVER else first

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
        self.take_ring(other.ring_ts, other.ring_id)
        self.take_outcome(other.out_ts, other.out_kind, other.out_id, other.out_wait_ms,
                          other.out_reason)
        self.take_end(other.end_ts, other.end_id, other.end_talk_ms, other.end_disposition)
        self.take_wrap_start(other.wrap_start_ts, other.wrap_start_id)
        self.take_wrap_end(other.wrap_end_ts, other.wrap_end_id, other.wrap_end_acw_ms)
        self.take_cancel(other.cancel_ts, other.cancel_id)
        for key, hold in other.holds.items():
            self.holds = _put(self.holds, key, hold)
        for key, tried in other.attempts.items():
            self.attempts = _put(self.attempts, key, tried)
        for key, ts in other.rnas.items():
            self.rnas = _put(self.rnas, key, ts)
        if other.lost_ts < self.lost_ts:
            self.lost_ts = other.lost_ts
        self.last_ts = max(self.last_ts, other.last_ts)
        self.changed()

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

    # What the record adds to its queue's counters (QueueState._post), computed from it.

    def wait_ms(self, entry_ms: int) -> int:
        """The outcome's wait: the source's measure, else the time since the entry."""
        if self.out_wait_ms != NO_MS:
            return self.out_wait_ms
        wait = self.out_ts - entry_ms
        return wait if wait > 0 else 0

    def talk_ms(self, hold_ms: int) -> int:
        """The ended call's talk time: the source's measure, else from the answer to the end
        less the hold; :data:`NO_MS` while unknown (no answer yet)."""
        if self.end_talk_ms != NO_MS:
            return self.end_talk_ms
        if self.out_kind != K_ANSWERED:
            return NO_MS
        talk = self.end_ts - self.out_ts - hold_ms
        return talk if talk > 0 else 0

    def acw_ms(self) -> int:
        """The ended wrap-up's length: the source's measure, else from its start;
        :data:`NO_MS` while unknown."""
        if self.wrap_end_acw_ms != NO_MS:
            return self.wrap_end_acw_ms
        if self.wrap_start_ts == NEVER:
            return NO_MS
        acw = self.wrap_end_ts - self.wrap_start_ts
        return acw if acw > 0 else 0

    # -- state bytes: the format of the tuples this record replaced --------------------------

    def to_state(self) -> tuple[object, ...]:
        return (
            None if self.ring_ts == NEVER else (self.ring_ts, self.ring_id),
            None if not self.out_kind else (self.out_ts, self.out_kind, self.out_id,
                                            _ms_or_none(self.out_wait_ms), self.out_reason),
            None if self.end_ts == NEVER else (self.end_ts, self.end_id,
                                               _ms_or_none(self.end_talk_ms),
                                               self.end_disposition),
            self.holds,
            None if self.wrap_start_ts == NEVER else (self.wrap_start_ts, self.wrap_start_id),
            None if self.wrap_end_ts == NEVER else (self.wrap_end_ts, self.wrap_end_id,
                                                    _ms_or_none(self.wrap_end_acw_ms)),
            self.attempts, self.rnas,
            None if self.cancel_ts == NEVER else (self.cancel_ts, self.cancel_id),
            None if self.lost_ts == NEVER else self.lost_ts, self.last_ts,
        )

    @classmethod
    def from_state(cls, state: Any) -> Call:
        c = cls()
        (ring, outcome, ended, holds, wrap_start, wrap_end, attempts, rnas, cancel, lost_ts,
         last_ts) = state
        if ring is not None:
            c.ring_ts, c.ring_id = ring
        if outcome is not None:
            c.out_ts, c.out_kind, c.out_id, wait, c.out_reason = outcome
            c.out_wait_ms = _ms(wait)
            if not K_ANSWERED <= c.out_kind <= K_FLOWED:
                raise ValueError(f"unknown outcome kind {c.out_kind}")
        if ended is not None:
            c.end_ts, c.end_id, talk, c.end_disposition = ended
            c.end_talk_ms = _ms(talk)
        c.holds = {k: (ts, bool(h)) for k, (ts, h) in holds.items()} or _NONE
        if wrap_start is not None:
            c.wrap_start_ts, c.wrap_start_id = wrap_start
        if wrap_end is not None:
            c.wrap_end_ts, c.wrap_end_id, acw = wrap_end
            c.wrap_end_acw_ms = _ms(acw)
        c.attempts = {k: (ts, bool(r)) for k, (ts, r) in attempts.items()} or _NONE
        c.rnas = dict(rnas) or _NONE
        if cancel is not None:
            c.cancel_ts, c.cancel_id = cancel
        c.lost_ts = NEVER if lost_ts is None else lost_ts
        c.last_ts = last_ts
        return c


def _ms(value: Any) -> int:
    """A stored duration: milliseconds, or None for one the source did not send; anything else
    is a corrupt state."""
    if value is None:
        return NO_MS
    if type(value) is not int:
        raise TypeError(f"a stored duration is a {type(value).__name__}, not an int")
    return value


def _earlier(ts: int, eid: str, held_ts: int, held_id: str) -> bool:
    """Whether the report ``(ts, eid)`` of a milestone comes before the one held."""
    return ts < held_ts or (ts == held_ts and eid < held_id)


_NONE: Final[dict[Any, Any]] = {}  # shared, never written: _put copies before the first write
_V = TypeVar("_V")


def _put(d: dict[str, _V], key: str, value: _V) -> dict[str, _V]:
    """``d`` with ``key`` set; the shared empty dict is replaced, never written."""
    if d is _NONE:
        d = {}
    d[key] = value
    return d
