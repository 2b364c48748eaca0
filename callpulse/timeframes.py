"""Calendar maths for the `today` frame and report intervals, in a queue's IANA time zone.

Implements the "today" and "intervals" frames of ``spec/METRICS.md``. All inputs and outputs are
epoch milliseconds; the local calendar only decides where days and intervals begin, so a DST day
simply has 23 or 25 hours (92 or 100 quarter-hours).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

DAY_MS: Final = 86_400_000
INTERVALS_MS: Final = {"15m": 900_000, "30m": 1_800_000, "1h": 3_600_000, "1d": DAY_MS}


def parse_interval(text: str) -> int:
    """``15m``, ``30m``, ``1h`` or ``1d`` as milliseconds."""
    try:
        return INTERVALS_MS[text]
    except KeyError:
        raise ConfigError(f"interval must be one of {', '.join(INTERVALS_MS)}, not {text!r}") from None


def parse_day_start(text: str) -> int:
    """``HH:MM`` as minutes after local midnight."""
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ConfigError(f"day start must be HH:MM, not {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 23 or int(minutes) > 59:
        raise ConfigError(f"day start must be HH:MM between 00:00 and 23:59, not {text!r}")
    return value


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; :class:`ConfigError` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown IANA time zone {name!r}") from None


def _ms(value: datetime) -> int:
    return int(value.timestamp()) * 1000


def _local_day_start_ms(day: date, tz: ZoneInfo, day_start_min: int) -> int:
    # Wall-clock arithmetic: local midnight plus HH:MM on that date, then to an instant.
    local = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=day_start_min)
    return _ms(local)


def day_bounds_ms(ts_ms: int, tz: ZoneInfo, day_start_min: int) -> tuple[int, int]:
    """``[start, end)`` of the business day holding ``ts_ms``: from local ``day_start`` to the
    next day's, so 23, 24 or 25 hours long."""
    local = datetime.fromtimestamp(ts_ms // 1000, tz) - timedelta(minutes=day_start_min)
    day = local.date()
    start = _local_day_start_ms(day, tz, day_start_min)
    if start > ts_ms:  # only in a DST gap that swallows the day start itself
        day -= timedelta(days=1)
        start = _local_day_start_ms(day, tz, day_start_min)
    return start, _local_day_start_ms(day + timedelta(days=1), tz, day_start_min)


def offset_ms(ts_ms: int, tz: ZoneInfo) -> int:
    """The zone's UTC offset at ``ts_ms``."""
    off = datetime.fromtimestamp(ts_ms // 1000, tz).utcoffset()
    return 0 if off is None else int(off.total_seconds()) * 1000


class Calendar:
    """Day and interval boundaries of one zone, with the current day cached.

    Most events fall in the day already computed, so the common case is two comparisons; a DST
    day (offset differs at its two ends) falls back to a zone lookup per call. The day and the
    interval computed before the last are kept too: readers alternate between two (a late call's
    entry and the present; the janitor's horizon a day back and today).
    """

    __slots__ = ("_day", "_day_offset_ms", "_interval", "_other_day", "_other_interval",
                 "_walks", "day_start_min", "interval_ms", "timezone", "tz")

    def __init__(self, timezone: str, day_start_min: int, interval_ms: int) -> None:
        self.timezone = timezone
        self.tz = zone(timezone)
        self.day_start_min = day_start_min
        self.interval_ms = interval_ms
        self._day = (0, 0)
        self._day_offset_ms: int | None = None
        self._other_day: tuple[tuple[int, int], int | None] = ((0, 0), None)  # with its offset
        self._interval = (0, 0)  # the last interval computed, [start, end)
        self._other_interval = (0, 0)
        # The interval starts of the last clock-change days met, by day start (see interval).
        self._walks: dict[int, list[int]] = {}

    def day(self, ts_ms: int) -> tuple[int, int]:
        """``[start, end)`` of the business day holding ``ts_ms``."""
        start, end = self._day
        if start <= ts_ms < end:
            return self._day
        other, other_offset = self._other_day
        self._other_day = (self._day, self._day_offset_ms)
        if other[0] <= ts_ms < other[1]:
            self._day, self._day_offset_ms = other, other_offset
            return other
        self._day = day_bounds_ms(ts_ms, self.tz, self.day_start_min)
        start, end = self._day
        first, last = offset_ms(start, self.tz), offset_ms(end - 1, self.tz)
        self._day_offset_ms = first if first == last else None
        return self._day

    def interval_start(self, ts_ms: int) -> int:
        """Start of the report interval holding ``ts_ms``: aligned to the local clock (and to
        the day start; on a clock-change day, the day's intervals walked from its start), or
        the whole business day for ``1d``."""
        return self.interval(ts_ms)[0]

    def interval(self, ts_ms: int) -> tuple[int, int]:
        """``[start, end)`` of the report interval holding ``ts_ms`` (see
        :meth:`interval_start`); the last one is cached, as most calls fall in it."""
        bounds = self._interval
        if bounds[0] <= ts_ms < bounds[1]:
            return bounds
        other = self._other_interval
        self._other_interval = bounds
        if other[0] <= ts_ms < other[1]:
            self._interval = other
            return other
        day_start, day_end = self.day(ts_ms)
        if self.interval_ms >= DAY_MS:
            bounds = (day_start, day_end)
        elif self._day_offset_ms is not None:
            # One offset all day: the intervals aligned to the local clock are the day's.
            start = self._interval_start(ts_ms)
            bounds = (start, self.next_interval(start))
        else:
            # A clock-change day: the interval holding ``ts_ms`` is the one among the day's,
            # walked from its start as a report walks them. Aligning to the clock at
            # ``ts_ms`` alone could give an interval no report has (Lord Howe moves by 30
            # min), or one that depends on what was asked before.
            starts = self._walk(day_start, day_end)
            i = bisect_right(starts, ts_ms) - 1
            bounds = (starts[i], starts[i + 1] if i + 1 < len(starts) else day_end)
        self._interval = bounds
        return bounds

    def _walk(self, day_start_ms: int, day_end_ms: int) -> list[int]:
        """The starts of a day's intervals, kept for the last few days asked."""
        starts = self._walks.get(day_start_ms)
        if starts is None:
            if len(self._walks) >= 4:
                self._walks.clear()
            starts = self._walks[day_start_ms] = self._chain(day_start_ms, day_end_ms)
        return starts

    def _interval_start(self, ts_ms: int) -> int:
        day_start, _ = self.day(ts_ms)
        if self.interval_ms >= DAY_MS:
            return day_start
        off = self._day_offset_ms
        if off is None:
            off = offset_ms(ts_ms, self.tz)
        # Align the local wall time, shifted by the day start, to whole intervals.
        shift = off - self.day_start_min * 60_000
        start = (ts_ms + shift) // self.interval_ms * self.interval_ms - shift
        return max(start, day_start)

    def next_interval(self, start_ms: int) -> int:
        """Start of the interval after the one starting at ``start_ms``."""
        _, day_end = self.day(start_ms)
        if self.interval_ms >= DAY_MS:
            return day_end
        candidate = self._interval_start(start_ms + self.interval_ms)
        if candidate <= start_ms:  # a DST step back re-enters the same wall-clock interval
            candidate = start_ms + self.interval_ms
        return min(candidate, day_end)

    def starts(self, from_ms: int, until_ms: int) -> list[int]:
        """The starts of the intervals from the one holding ``from_ms`` to the last starting
        before ``until_ms``: the rows of a report, or of a day's chart."""
        return self._chain(self.interval_start(from_ms), until_ms)

    def _chain(self, start_ms: int, until_ms: int) -> list[int]:
        """``start_ms`` and the interval starts after it, up to the last before ``until_ms``."""
        out = []
        while start_ms < until_ms:
            out.append(start_ms)
            start_ms = self.next_interval(start_ms)
        return out

    def iso(self, ts_ms: int) -> str:
        """RFC 3339 text of ``ts_ms`` in this zone."""
        return datetime.fromtimestamp(ts_ms / 1000, self.tz).isoformat()
