"""The whole state of one queue: its calls, sliding windows, `today`, intervals and live values.

``spec/METRICS.md`` "Per queue" and "Frames". Pure: events and ``now`` come in as arguments.
Per event the work is O(1): update the call's record, then add the difference of its
contributions to one ring bucket, the `today` tally and one interval tally. State is bounded by
live calls, the ring and the intervals kept, never by traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import erlang
from . import events as ev
from .agents import AGENT_STUCK_MS
from .calls import (
    ALL_GROUPS,
    G_ACW,
    G_CALLBACKS,
    G_HANDLED,
    G_LOST,
    G_OFFERED,
    G_OUTCOME,
    G_RNA,
    LIVE_ALL,
    LIVE_BACKLOG,
    LIVE_WAITING,
    NEVER,
    NO_ENTRY,
    NO_MS,
    Call,
    groups_of,
    live_parts,
)
from .config import QueueConfig
from .event_types import AT_CALL_ID, AT_TS, FIELDS_OF, T_RINGING
from .ring import Ring
from .tally import (
    CALLBACKS_FAILED,
    CALLBACKS_REACHED,
    K_ABANDONED,
    LOST,
    OFFERED,
    P_ACW,
    P_COUNT,
    P_HANDLED,
    P_OUTCOME,
    RING_NO_ANSWER,
    SHORT,
    WITHIN_SL,
    Tally,
    bump,
    frame_keys,
    rounded,
    service_level,
)
from .tally import asa_s as metric_asa_s
from .timeframes import Calendar

# Upper bounds of the wait histogram (``callpulse_queue_wait_seconds``, spec/METRICS.md
# "Prometheus names"); one more bucket holds the waits above the last.
WAIT_BUCKETS_S: Final = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
_WAIT_BOUNDS_MS: Final = tuple(b * 1000 for b in WAIT_BUCKETS_S)


class QueueParams:
    """Engine-wide shape of the per-queue state (not per-queue thresholds)."""

    __slots__ = ("bucket_ms", "grace_ms", "interval_ms", "keep_intervals_ms", "windows_ms")

    def __init__(
        self, *, windows_ms: Mapping[str, int] | None = None, bucket_ms: int = 10_000,
        grace_ms: int = 60_000, interval_ms: int = 900_000, keep_intervals_ms: int | None = None,
    ) -> None:
        self.windows_ms = dict(windows_ms or {"5m": 300_000, "15m": 900_000, "60m": 3_600_000})
        if bucket_ms > 10_000 or any(w % bucket_ms for w in self.windows_ms.values()):
            raise ValueError("buckets must be at most 10 s and divide every window")
        self.bucket_ms = bucket_ms
        self.grace_ms = grace_ms
        self.interval_ms = interval_ms
        # None keeps every interval (offline replay); the live worker keeps about a day.
        self.keep_intervals_ms = keep_intervals_ms


class QueueState:
    """Counters and live values of one (tenant, queue)."""

    __slots__ = (
        "backlog",
        "calendar",
        "calls",
        "cfg",
        "earlier",
        "interval_floor_ms",
        "intervals",
        "janitor",
        "last_offset",
        "max_ts",
        "open_end",
        "open_start",
        "open_tally",
        "params",
        "queue",
        "ring",
        "tenant",
        "thresholds_ms",
        "today",
        "today_end",
        "today_start",
        "today_waits",
        "waiting",
    )

    def __init__(self, tenant: str, queue: str, cfg: QueueConfig, params: QueueParams) -> None:
        self.tenant = tenant
        self.queue = queue
        self.cfg = cfg
        self.thresholds_ms = (cfg.sl_threshold_ms, cfg.short_abandon_ms)
        self.params = params
        self.calendar = Calendar(cfg.timezone, cfg.day_start_min, params.interval_ms)
        self.ring = Ring(params.bucket_ms, max(params.windows_ms.values()))
        self.today = Tally()
        # [today_start, today_end): the day `today` counts. Machine integers, read on every
        # event (a tuple attribute unboxed both times each read).
        self.today_start = 0
        self.today_end = 0
        # Today's waits of calls that left the queue, per histogram bucket (not cumulative).
        self.today_waits = [0] * (len(WAIT_BUCKETS_S) + 1)
        self.intervals: dict[int, Tally] = {}
        self.interval_floor_ms = -(1 << 62)
        # The interval last counted into, [open_start, open_end), and its tally: most calls
        # entered in it, which spares the calendar and the dict.
        self.open_start, self.open_end, self.open_tally = 0, 0, Tally()
        self.calls: dict[str, Call] = {}  # call_id -> its latest record
        # call_id -> its finished records before the latest, oldest first, held while a late
        # event could join them to the next (see apply); almost always empty.
        self.earlier: dict[str, list[Call]] = {}
        self.waiting: dict[str, int] = {}  # call_id -> ringing ts, of calls waiting now
        self.backlog: dict[str, int] = {}  # call_id -> request ts, of open callback items
        self.janitor: dict[str, int] = {}  # counts of late, unmatched and expired records
        self.max_ts = -(1 << 62)
        self.last_offset = -1

    @property
    def today_bounds(self) -> tuple[int, int]:
        """``[start, end)`` of the day `today` counts (``(0, 0)`` before any event)."""
        return self.today_start, self.today_end

    # -- folding events -------------------------------------------------------------------

    def apply(self, e: ev.CallEvent, offset: int | None = None) -> bool:
        """Fold one call event. ``offset`` is the event's position in its partition: one not
        above the last applied is a redelivery and is skipped (DESIGN.md decision 5).
        Returns whether the event was applied.

        An event joins its call's record unless the record is finished and the event comes
        later than :meth:`Call.reaches` allows: then it starts a new record of the same call id,
        as in the ordered stream. The finished record is kept while a late event (at most the
        grace late) may still fall between the two and join them into one record again."""
        if offset is not None:
            if offset <= self.last_offset:
                return False
            self.last_offset = offset
        return self.fold(e, FIELDS_OF(e))

    def fold(self, e: ev.CallEvent, fields: tuple[Any, ...]) -> bool:
        """:meth:`apply` without an offset, given the event's fields as a tuple
        (:data:`callpulse.event_types.FIELDS_OF`: each read of a msgspec event's attribute is
        a generic lookup)."""
        ts: int = fields[AT_TS]
        call_id: str = fields[AT_CALL_ID]
        if self.earlier and call_id in self.earlier:
            if not self._apply_to_records(e, fields, ts, call_id):
                return False
        else:
            call = self.calls.get(call_id)
            if call is None or not call.reaches(ts, self.params.grace_ms):
                if ts < self._oldest_held_ms():
                    bump(self.janitor, "late", 1)
                    return False
                if call is not None:
                    self._close(call_id, call, ts)
                call = self.calls[call_id] = Call()
            parts = live_parts(type(e))
            if self._fold(call, e, fields, ts) and parts:
                self._track(call_id, call, parts)
        if ts > self.max_ts:
            self.max_ts = ts
        return True

    def _close(self, call_id: str, call: Call, ts_ms: int) -> None:
        """Take the finished record ``call`` from the latest place of its call id, as an event
        at ``ts_ms`` starts a new one. Kept aside while a late event could still join the two:
        one at most the grace late that falls within the record's reach."""
        del self.calls[call_id]
        if self._final(call, ts_ms - self.params.grace_ms):
            self._drop(call)
        else:
            self.earlier[call_id] = [call]

    def _fold(self, call: Call, e: ev.CallEvent, fields: tuple[Any, ...], ts: int) -> bool:
        """Fold ``e`` (its fields and ``ts`` read by the caller) into one record and its contributions into
        the counters; returns whether a milestone changed."""
        # The call's entry time can move only while it has no ringing, or with a ringing; then
        # every group may change, else only the event's own groups. The contributions are
        # recomputed, not kept on the call, as keeping them cost more than 1 KB a call (about
        # 24 MB in benchmarks/bench_memory.py). Most events are a milestone's first report, so
        # their groups were empty and there is nothing to take back.
        groups = ALL_GROUPS if call.ring_ts == NEVER or type(e) is T_RINGING \
            else groups_of(type(e))
        self._post(call, groups, -1)
        call.changed()  # last_ts moves even when no milestone does
        changed = call.record(e, fields, ts)
        self._post(call, groups, 1)
        return changed

    def _apply_to_records(
        self, e: ev.CallEvent, fields: tuple[Any, ...], ts: int, call_id: str,
    ) -> bool:
        """Fold ``e`` when its call id has more than one record held (rare: an id reused, or a
        callback long after its item closed). The records are in time order and only the
        latest may be open; ``e`` joins the last record that starts at or before it if that
        record reaches it, else starts a record of its own; then each record that reaches the
        start of the next absorbs it, as the ordered stream would have kept them one."""
        grace = self.params.grace_ms
        records = self.earlier.pop(call_id)
        records.append(self.calls.pop(call_id))
        i = len(records) - 1
        while i >= 0 and records[i].first_ms() > ts:
            i -= 1
        if i >= 0 and records[i].reaches(ts, grace):
            self._fold(records[i], e, fields, ts)
        elif i == len(records) - 1 and self._final(records[i], ts - grace):
            # Past the last record's reach by more than the grace: no event yet to come can
            # join any of them (it would fall before the last record, over the grace late).
            for call in records:
                self._drop(call)
            records = [Call()]
            self._fold(records[0], e, fields, ts)
            i = 0
        elif ts < self._oldest_held_ms():
            self.keep_records(call_id, records)
            bump(self.janitor, "late", 1)
            return False
        else:
            i += 1
            records.insert(i, Call())
            self._fold(records[i], e, fields, ts)
        while 0 <= i < len(records) - 1 and records[i].reaches(records[i + 1].first_ms(), grace):
            self._absorb(records[i], records.pop(i + 1))
        self.keep_records(call_id, records)
        return True

    def _absorb(self, call: Call, later: Call) -> None:
        """Join the record ``later`` into ``call``, moving its contributions into the counters
        as those of the joined record."""
        self._post(call, ALL_GROUPS, -1)
        self._post(later, ALL_GROUPS, -1)
        call.merge(later)
        self._post(call, ALL_GROUPS, 1)

    def keep_records(self, call_id: str, records: list[Call]) -> None:
        """Hold the records of one call id, oldest first (only the latest may be open), and
        track the latest's live values."""
        latest = self.calls[call_id] = records[-1]
        if len(records) > 1:
            self.earlier[call_id] = records[:-1]
        self._track(call_id, latest, LIVE_ALL)

    def reconfigure(self, cfg: QueueConfig) -> None:
        """Take new thresholds and levels while running (a supervisor's change, or a restart
        with another configuration). Calls still held are re-counted under the new service-level
        and short-abandon thresholds; counts of calls already forgotten keep the old ones. The
        calendar (time zone, day start) cannot change on a live state."""
        if (cfg.timezone, cfg.day_start_min) != (self.cfg.timezone, self.cfg.day_start_min):
            raise ValueError("a queue's time zone and day start cannot change on a live state")
        thresholds = (cfg.sl_threshold_ms, cfg.short_abandon_ms)
        self.cfg = cfg
        for call in self.calls.values():
            call.sweep_after_ms = 0  # the sweep's deferrals assumed the old limits
        if thresholds == self.thresholds_ms:
            return
        records = [*self.calls.values(), *(c for cs in self.earlier.values() for c in cs)]
        for call in records:
            self._post(call, ALL_GROUPS, -1)
        self.thresholds_ms = thresholds
        for call in records:
            self._post(call, ALL_GROUPS, 1)

    def _post(self, call: Call, groups: tuple[int, ...], sign: int) -> None:
        """Add (``sign`` 1) or take back (-1) the call's contributions in ``groups`` (none while
        its entry time is unknown), computed from its record. Each is added at its own time in
        the sliding windows and `today`, and at the call's entry time in the intervals."""
        entry = call.entry_ms()
        if entry == NO_ENTRY:
            return
        # (An index, not a for loop over the tuple: compiled, that is the iterator protocol.)
        for i in range(len(groups)):
            group = groups[i]
            # Most groups of most calls are empty: each test says so before any work.
            if group == G_OFFERED:
                self._add(entry, entry, P_COUNT, OFFERED, 0, None, sign)
            elif group == G_OUTCOME:
                if call.out_kind:
                    self._post_outcome(call, entry, sign)
            elif group == G_HANDLED:
                if call.end_ts != NEVER:
                    hold = call.hold_ms(call.end_ts)
                    talk = call.talk_ms(hold)
                    if talk != NO_MS:  # else unknown until the answer arrives
                        self._add(call.end_ts, entry, P_HANDLED, talk, hold,
                                  call.end_disposition, sign)
            elif group == G_ACW:
                if call.wrap_end_ts != NEVER:
                    acw = call.acw_ms()
                    if acw != NO_MS:
                        self._add(call.wrap_end_ts, entry, P_ACW, acw, 0, None, sign)
            elif group == G_CALLBACKS:
                for ts, reached in call.attempts.values():
                    self._add(ts, entry, P_COUNT,
                              CALLBACKS_REACHED if reached else CALLBACKS_FAILED, 0, None, sign)
            elif group == G_RNA:
                for ts in call.rnas.values():
                    self._add(ts, entry, P_COUNT, RING_NO_ANSWER, 0, None, sign)
            elif call.lost_ts != NEVER and not call.out_kind:  # an outcome after all: not lost
                self._add(call.lost_ts, entry, P_COUNT, LOST, 0, None, sign)

    def _post_outcome(self, call: Call, entry: int, sign: int) -> None:
        wait = call.wait_ms(entry)
        kind = call.out_kind
        flags = kind
        threshold_ms, short_ms = self.thresholds_ms
        if wait <= threshold_ms:
            flags |= WITHIN_SL
        if kind == K_ABANDONED and wait <= short_ms:
            flags |= SHORT
        self._add(call.out_ts, entry, P_OUTCOME, wait, flags, call.out_reason, sign)

    def _track(self, call_id: str, call: Call, parts: int) -> None:
        """Update the live values in ``parts`` (LIVE_*: waiting calls, the callback backlog)
        from the latest record of ``call_id``; records kept from before it are finished. An
        event updates only the parts its type can change (:func:`callpulse.calls.live_parts`),
        as the others already hold the record's."""
        # (`in` then `del`, not pop(key, None), which compiles to a generic method call.)
        if parts & LIVE_WAITING:
            if call.is_waiting():
                self.waiting[call_id] = call.ring_ts
            elif call_id in self.waiting:
                del self.waiting[call_id]
        if parts & LIVE_BACKLOG:
            since = call.backlog_since()
            if since != NEVER:
                self.backlog[call_id] = since
            elif call_id in self.backlog:
                del self.backlog[call_id]

    def _add(
        self, ts: int, entry: int, code: int, x: int, y: int, label: str | None, sign: int,
    ) -> None:
        """Add (``sign`` 1) or take back (-1) one contribution (``code``, ``x``, ``y`` and
        ``label`` as :func:`callpulse.tally.post` reads them) in the ring and `today` at ``ts``,
        and in the interval of ``entry``."""
        self.ring.add(ts, code, x, y, label, sign)
        if ts >= self.today_end:
            self.today_start, self.today_end = self.calendar.day(ts)
            self.today = Tally()
            self.today_waits = [0] * (len(WAIT_BUCKETS_S) + 1)
        if ts >= self.today_start:
            self.today.post(code, x, y, label, sign)
            if code == P_OUTCOME:
                waits, i = self.today_waits, _wait_bucket(x)
                waits[i] = waits[i] + sign
        if self.open_start <= entry < self.open_end:
            self.open_tally.post(code, x, y, label, sign)
            return
        start, end = self.calendar.interval(entry)
        if start >= self.interval_floor_ms:
            tally = self.intervals.get(start)
            if tally is None:
                tally = self.intervals[start] = Tally()
            tally.post(code, x, y, label, sign)
            self.open_start, self.open_end, self.open_tally = start, end, tally

    def _oldest_held_ms(self) -> int:
        # (Comparisons, not min(): compiled, min of three is a generic call.)
        oldest = self.ring.oldest_ms()
        today = self.today_start
        if today < oldest:
            oldest = today
        return self.interval_floor_ms if self.interval_floor_ms < oldest else oldest

    # -- the janitor ------------------------------------------------------------------------

    def sweep(self, now_ms: int) -> bool:
        """Close what can no longer change (``spec/METRICS.md``, "Staleness and lost calls");
        returns whether the state changed (the live worker then stores and republishes it).

        Only looks at calls quiet for longer than the grace, so it never races an event that
        may still arrive out of order: a waiting call past ``max_wait_s`` becomes ``lost``; an
        answered call with no end after 8 h and a callback item past ``max_callback_age_s`` are
        dropped; finished records are forgotten; a record whose entry never became known is
        counted as ``unmatched``. Replay calls it every minute of event time; the live
        worker calls it with the wall clock.
        """
        settled = now_ms - self.params.grace_ms
        max_wait_ms = round(self.cfg.max_wait_s * 1000)
        max_callback_ms = round(self.cfg.max_callback_age_s * 1000)
        # A call that is not waiting and had an event since ``recent_ms`` cannot be final,
        # expired or stuck yet (each needs at least that long quiet): most calls a sweep meets.
        recent_ms = settled - min(self.params.grace_ms, max_callback_ms, AGENT_STUCK_MS)
        changed = False
        # (The quiet ones are picked in one pass over the dict, before any change to it: a
        # copy of every item, most of them skipped, was most of a sweep's cost.)
        # A record a sweep left for later (Call.sweep_after_ms) is skipped until then: the
        # decision depends only on the record, the thresholds and the settled time, and a
        # change to the record or the thresholds resets it.
        quiet = [(call_id, call) for call_id, call in self.calls.items()
                 if call.sweep_after_ms < settled and (
                     call.last_ts < recent_ms or (not call.out_kind and call.ring_ts != NEVER))]
        for call_id, call in quiet:
            if call.is_waiting():
                lost_at = call.ring_ts + max_wait_ms
                if lost_at >= settled:
                    call.sweep_after_ms = lost_at
                    continue
                call.lost_ts = call.last_ts = lost_at  # (a waiting call was not lost before)
                call.changed()
                self._post(call, (G_LOST,), 1)
                self._track(call_id, call, LIVE_ALL)
                changed = True
                continue  # kept a while: a late real outcome replaces the loss
            elif call.is_open():
                in_backlog = call.backlog_since() != NEVER
                limit = max_callback_ms if in_backlog else AGENT_STUCK_MS
                if call.last_ts + limit >= settled:
                    call.sweep_after_ms = call.last_ts + limit
                    continue
                bump(self.janitor, "expired_callbacks" if in_backlog else "stale_calls", 1)
                if call_id in self.backlog:
                    del self.backlog[call_id]
            elif not self._final(call, settled):
                # An event may still join it (see apply).
                call.sweep_after_ms = call.last_ts + call.final_after_ms(self.params.grace_ms)
                continue
            else:
                self._drop(call)
            # Records before the latest end earlier still: no event can join them any more.
            if self.earlier and call_id in self.earlier:
                for earlier in self.earlier.pop(call_id):
                    self._drop(earlier)
            del self.calls[call_id]
            changed = True
        for call_id, records in list(self.earlier.items()):
            held = [call for call in records if not self._final(call, settled)]
            if len(held) < len(records):
                changed = True
                for call in records:
                    if call not in held:
                        self._drop(call)
                if held:
                    self.earlier[call_id] = held
                else:
                    del self.earlier[call_id]
        keep = self.params.keep_intervals_ms
        if keep is not None:
            floor = self.calendar.interval_start(now_ms - keep)
            changed = changed or floor != self.interval_floor_ms
            self.interval_floor_ms = floor
            for start in [s for s in self.intervals if s < floor]:
                del self.intervals[start]
                # (The open interval may have been this one.)
                self.open_start, self.open_end, self.open_tally = 0, 0, Tally()
        return changed

    def _final(self, call: Call, settled_ms: int) -> bool:
        """Whether a finished record is final: quiet for longer than an event may still join
        it (:meth:`Call.final_after_ms`) before ``settled_ms``, the latest time at which events
        may still arrive."""
        return call.last_ts < settled_ms - call.final_after_ms(self.params.grace_ms)

    def _drop(self, call: Call) -> None:
        """Let go of a final record (its counts stay); one whose entry never became known is
        counted as ``unmatched``."""
        if call.entry_ms() == NO_ENTRY:
            bump(self.janitor, "unmatched", 1)

    # -- reading ----------------------------------------------------------------------------

    def live(self, now_ms: int) -> dict[str, float | int | None]:
        """The ``live`` frame at ``now_ms``: waiting calls and the callback backlog."""
        oldest_wait = min(self.waiting.values(), default=None)
        oldest_cb = min(self.backlog.values(), default=None)
        return {
            "waiting": len(self.waiting),
            "oldest_wait_s": None if oldest_wait is None else max(0, now_ms - oldest_wait) / 1000,
            "callbacks_pending": len(self.backlog),
            "oldest_callback_s": None if oldest_cb is None else max(0, now_ms - oldest_cb) / 1000,
        }

    def frame(self, name: str, now_ms: int) -> dict[str, object]:
        """Counters and metrics of one sliding window (``5m``…) or ``today`` at ``now_ms``."""
        if name == "today":
            start, end = self.today_bounds
            tally = self.today if start <= now_ms < end else Tally()
            v, length = tally.v, max(1, min(now_ms, end) - start)
        else:
            length = self.params.windows_ms[name]
            v = self.ring.window(now_ms, length)
        return frame_keys(v, self.cfg.sl_formula, length)

    def snapshot(self, now_ms: int, agents: Mapping[str, int]) -> dict[str, Any]:
        """Everything a wallboard shows of this queue at ``now_ms``: live values, every frame,
        agent counts (``agents``, from :func:`callpulse.agents.agents_by_queue`) and staffing."""
        frames = {name: self.frame(name, now_ms) for name in (*self.params.windows_ms, "today")}
        live: dict[str, Any] = dict(self.live(now_ms))
        live.update({f"agents_{k}": n for k, n in agents.items()})
        live.update(live_staffing(frames.get("15m", {}), frames.get("60m", {}), self.cfg,
                                  agents.get("logged_in", 0)))
        return {"tenant": self.tenant, "queue": self.queue, "live": live, "frames": frames,
                "sl_formula": self.cfg.sl_formula, "sl_threshold_s": self.cfg.sl_threshold_s,
                "sl_goal_ratio": self.cfg.sl_goal_ratio, "trend": self.trend(now_ms)}

    def trend(self, now_ms: int) -> dict[str, Any]:
        """Today's intervals up to ``now_ms`` as columns, for the wallboard's chart: their
        starts, ``offered``, ``asa_s`` and ``service_level_ratio`` (``None`` when empty)."""
        start, end = self.today_bounds
        starts = self.calendar.starts(start, now_ms + 1) if start <= now_ms < end else []
        offered: list[int] = []
        asa: list[float | None] = []
        sl: list[float | None] = []
        for at in starts:
            # Every view of a queue carries this, and most of the day's intervals of most
            # queues are empty: those are filled in without building a tally for each.
            tally = self.intervals.get(at)
            if tally is None:
                offered.append(0)
                asa.append(None)
                sl.append(None)
            else:
                offered.append(tally.v[OFFERED])
                asa.append(metric_asa_s(tally.v))
                sl.append(service_level(tally.v, self.cfg.sl_formula))
        return {"start_ms": starts, "offered": offered, "asa_s": asa, "service_level_ratio": sl}

    def report_intervals(self, from_ms: int, until_ms: int) -> list[tuple[int, Tally]]:
        """The interval tallies in ``[from_ms, until_ms)``, with empty intervals filled in."""
        return [(start, self.intervals.get(start) or Tally())
                for start in self.calendar.starts(from_ms, until_ms)]


def live_staffing(
    m15: Mapping[str, Any], m60: Mapping[str, Any], cfg: QueueConfig, logged_in: int,
) -> dict[str, float | int | None]:
    """Live ``agents_needed`` (Erlang C at the goal, arrivals from ``15m`` and AHT from ``60m``)
    and ``predicted_wait_s`` (Erlang C ASA with the agents logged in; ``None`` when unstable)."""
    per_min, aht_s = m15.get("arrival_per_min"), m60.get("aht_s")
    if not per_min or not aht_s:
        return {"agents_needed": None, "predicted_wait_s": None}
    traffic = erlang.traffic_erlangs(per_min, 60.0, aht_s)
    needed = erlang.agents_needed(traffic, aht_s, cfg.sl_threshold_s, cfg.sl_goal_ratio)
    wait = erlang.asa_s(logged_in, traffic, aht_s) if logged_in else None
    return {"agents_needed": needed, "predicted_wait_s": None if wait is None else rounded(wait, 2)}


def _wait_bucket(wait_ms: int) -> int:
    """The histogram bucket of a wait: the first bound at or above it (a count past the last
    bound for longer waits). A scan of the dozen bounds, compiled, beats calling bisect."""
    for i in range(len(_WAIT_BOUNDS_MS)):
        if wait_ms <= _WAIT_BOUNDS_MS[i]:
            return i
    return len(_WAIT_BOUNDS_MS)
