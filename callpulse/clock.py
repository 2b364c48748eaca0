"""The worker's notion of "now": event time, carried forward by the wall clock between events.

``DESIGN.md`` decision 6: windows use the events' own ``ts``; the wall clock enters only at the
edge. Live, sources send at least a heartbeat every 15 s, so event time follows the wall clock
and live values such as the longest wait keep counting between events. A stream replayed from
the past (or a simulator running faster than real time) shows its own time rather than empty
windows at today's date. Pure: the wall time is always an argument.
"""

from __future__ import annotations


class EventClock:
    """``now = newest event ts + wall time elapsed since it was seen``.

    Before the first event it is the wall clock. From the first event on it never runs
    backwards: an older event does not move it, and neither does a wall clock that steps back.
    """

    __slots__ = ("_event_ms", "_now_ms", "_seen_wall_ms")

    def __init__(self) -> None:
        self._event_ms: int | None = None
        self._seen_wall_ms = 0
        self._now_ms = -(1 << 62)

    @property
    def started(self) -> bool:
        """Whether an event has been seen (before that, "now" is only the wall clock, which
        must not drive the janitor: it may be far from the events' time)."""
        return self._event_ms is not None

    def observe(self, ts_ms: int, wall_ms: int) -> None:
        """An event with time ``ts_ms`` was applied at wall time ``wall_ms``."""
        if self._event_ms is None or ts_ms > self.now(wall_ms):
            self._event_ms, self._seen_wall_ms = ts_ms, wall_ms
            self._now_ms = ts_ms

    def now(self, wall_ms: int) -> int:
        """The current time at wall time ``wall_ms``; the wall time itself before any event."""
        now = wall_ms if self._event_ms is None else self._event_ms + max(0, wall_ms - self._seen_wall_ms)
        if now > self._now_ms:
            self._now_ms = now
        return self._now_ms
