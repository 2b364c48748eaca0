"""`callpulse.timeframes`: business days and report intervals in a queue's IANA zone, DST included."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from callpulse.errors import ConfigError
from callpulse.timeframes import (
    DAY_MS,
    Calendar,
    day_bounds_ms,
    parse_day_start,
    parse_interval,
    zone,
)

H = 3_600_000
M = 60_000
Q = 15 * M


def ms(text: str) -> int:
    """Epoch ms of an RFC 3339 text with offset (whole seconds only, so no float error)."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None and value.microsecond == 0
    return int(value.timestamp()) * 1000


def starts(cal: Calendar, ts: int) -> list[int]:
    """Every interval start of the business day holding ``ts``, walked with next_interval."""
    start, end = cal.day(ts)
    out = []
    x = start
    while x < end:
        out.append(x)
        nxt = cal.next_interval(x)
        assert nxt > x
        x = nxt
    assert x == end
    return out


def test_ms_helper() -> None:
    assert ms("2024-01-15T09:00:00+00:00") == 1_705_309_200_000
    assert ms("2024-01-15T10:00:00+01:00") == 1_705_309_200_000


# -- UTC and plain days ----------------------------------------------------------------------


def test_utc_day_and_quarter_hours() -> None:
    cal = Calendar("UTC", 0, Q)
    ts = ms("2024-01-15T09:07:30+00:00")
    assert cal.day(ts) == (ms("2024-01-15T00:00:00+00:00"), ms("2024-01-16T00:00:00+00:00"))
    assert cal.interval_start(ts) == ms("2024-01-15T09:00:00+00:00")
    assert cal.interval_start(ms("2024-01-15T09:15:00+00:00")) == ms("2024-01-15T09:15:00+00:00")
    assert cal.interval_start(ms("2024-01-15T09:14:59+00:00") + 999) == ms("2024-01-15T09:00:00+00:00")
    assert cal.next_interval(ms("2024-01-15T09:00:00+00:00")) == ms("2024-01-15T09:15:00+00:00")
    assert cal.next_interval(ms("2024-01-15T23:45:00+00:00")) == ms("2024-01-16T00:00:00+00:00")
    assert len(starts(cal, ts)) == 96


def test_day_edges_are_half_open() -> None:
    cal = Calendar("UTC", 0, Q)
    midnight = ms("2024-01-16T00:00:00+00:00")
    assert cal.day(midnight) == (midnight, midnight + DAY_MS)
    assert cal.day(midnight - 1) == (midnight - DAY_MS, midnight)
    assert cal.interval_start(midnight - 1) == midnight - Q


@pytest.mark.parametrize(("interval_ms", "count"), [(Q, 96), (30 * M, 48), (H, 24), (DAY_MS, 1)])
def test_interval_counts_of_a_plain_day(interval_ms: int, count: int) -> None:
    assert len(starts(Calendar("Europe/Berlin", 0, interval_ms), ms("2024-01-15T12:00:00+01:00"))) == count


def test_day_bounds_ms_function() -> None:
    berlin = zone("Europe/Berlin")
    assert day_bounds_ms(ms("2024-01-15T00:30:00+01:00"), berlin, 0) == (
        ms("2024-01-15T00:00:00+01:00"), ms("2024-01-16T00:00:00+01:00"),
    )
    # 23:30Z on the 14th is already the 15th in Berlin.
    assert day_bounds_ms(ms("2024-01-14T23:30:00+00:00"), berlin, 0)[0] == ms("2024-01-14T23:00:00+00:00")


# -- DST, Europe/Berlin ----------------------------------------------------------------------


def test_berlin_spring_forward_day_is_23_hours_of_92_quarters() -> None:
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST.
    cal = Calendar("Europe/Berlin", 0, Q)
    ts = ms("2024-03-31T12:00:00+02:00")
    start, end = cal.day(ts)
    assert start == ms("2024-03-31T00:00:00+01:00") == ms("2024-03-30T23:00:00+00:00")
    assert end == ms("2024-04-01T00:00:00+02:00") == ms("2024-03-31T22:00:00+00:00")
    assert end - start == 23 * H
    assert day_bounds_ms(ts, zone("Europe/Berlin"), 0) == (start, end)
    got = starts(cal, ts)
    assert len(got) == 92
    assert all(b - a == Q for a, b in itertools.pairwise(got))
    # 01:45 CET is followed by 03:00 CEST, one quarter-hour later in real time.
    assert cal.next_interval(ms("2024-03-31T01:45:00+01:00")) == ms("2024-03-31T03:00:00+02:00")
    assert cal.interval_start(ms("2024-03-31T03:10:00+02:00")) == ms("2024-03-31T03:00:00+02:00")
    assert cal.interval_start(ms("2024-03-31T01:59:59+01:00")) == ms("2024-03-31T01:45:00+01:00")


def test_berlin_spring_forward_hours() -> None:
    cal = Calendar("Europe/Berlin", 0, H)
    got = starts(cal, ms("2024-03-31T12:00:00+02:00"))
    assert len(got) == 23
    assert ms("2024-03-31T01:00:00+01:00") in got
    assert ms("2024-03-31T03:00:00+02:00") in got
    assert cal.next_interval(ms("2024-03-31T01:00:00+01:00")) == ms("2024-03-31T03:00:00+02:00")


def test_berlin_fall_back_day_is_25_hours_of_100_quarters() -> None:
    # 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 local happens twice.
    cal = Calendar("Europe/Berlin", 0, Q)
    ts = ms("2024-10-27T12:00:00+01:00")
    start, end = cal.day(ts)
    assert start == ms("2024-10-27T00:00:00+02:00") == ms("2024-10-26T22:00:00+00:00")
    assert end == ms("2024-10-28T00:00:00+01:00") == ms("2024-10-27T23:00:00+00:00")
    assert end - start == 25 * H
    got = starts(cal, ts)
    assert len(got) == 100
    assert len(set(got)) == 100
    assert all(b - a == Q for a, b in itertools.pairwise(got))


def test_berlin_repeated_hour_has_distinct_interval_starts() -> None:
    cal = Calendar("Europe/Berlin", 0, Q)
    first = cal.interval_start(ms("2024-10-27T02:40:00+02:00"))  # 00:40Z, first 02:40
    second = cal.interval_start(ms("2024-10-27T02:40:00+01:00"))  # 01:40Z, second 02:40
    assert first == ms("2024-10-27T02:30:00+02:00") == ms("2024-10-27T00:30:00+00:00")
    assert second == ms("2024-10-27T02:30:00+01:00") == ms("2024-10-27T01:30:00+00:00")
    assert second - first == H
    # Walking on: the first 02:45 (CEST) is followed by the second 02:00 (CET).
    assert cal.next_interval(ms("2024-10-27T02:45:00+02:00")) == ms("2024-10-27T02:00:00+01:00")
    hours = Calendar("Europe/Berlin", 0, H)
    assert hours.interval_start(ms("2024-10-27T02:59:59+02:00")) == ms("2024-10-27T02:00:00+02:00")
    assert hours.interval_start(ms("2024-10-27T02:00:00+01:00")) == ms("2024-10-27T02:00:00+01:00")
    assert len(starts(hours, ms("2024-10-27T12:00:00+01:00"))) == 25


# -- DST, America/New_York -------------------------------------------------------------------


def test_new_york_spring_forward() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT.
    cal = Calendar("America/New_York", 0, Q)
    ts = ms("2024-03-10T12:00:00-04:00")
    start, end = cal.day(ts)
    assert (start, end) == (ms("2024-03-10T00:00:00-05:00"), ms("2024-03-11T00:00:00-04:00"))
    assert end - start == 23 * H
    assert len(starts(cal, ts)) == 92
    assert cal.next_interval(ms("2024-03-10T01:45:00-05:00")) == ms("2024-03-10T03:00:00-04:00")


def test_new_york_fall_back() -> None:
    # 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:00-02:00 happens twice.
    cal = Calendar("America/New_York", 0, Q)
    ts = ms("2024-11-03T12:00:00-05:00")
    start, end = cal.day(ts)
    assert (start, end) == (ms("2024-11-03T00:00:00-04:00"), ms("2024-11-04T00:00:00-05:00"))
    assert end - start == 25 * H
    got = starts(cal, ts)
    assert len(got) == len(set(got)) == 100
    a = cal.interval_start(ms("2024-11-03T01:20:00-04:00"))
    b = cal.interval_start(ms("2024-11-03T01:20:00-05:00"))
    assert (a, b) == (ms("2024-11-03T01:15:00-04:00"), ms("2024-11-03T01:15:00-05:00"))
    assert b - a == H


# -- day start -------------------------------------------------------------------------------


def test_day_start_0630_utc() -> None:
    cal = Calendar("UTC", 6 * 60 + 30, H)
    assert cal.day(ms("2024-01-15T06:29:59+00:00")) == (
        ms("2024-01-14T06:30:00+00:00"), ms("2024-01-15T06:30:00+00:00"),
    )
    assert cal.day(ms("2024-01-15T06:30:00+00:00")) == (
        ms("2024-01-15T06:30:00+00:00"), ms("2024-01-16T06:30:00+00:00"),
    )
    # Hour intervals are aligned to the day start: xx:30.
    assert cal.interval_start(ms("2024-01-15T07:10:00+00:00")) == ms("2024-01-15T06:30:00+00:00")
    assert cal.interval_start(ms("2024-01-15T07:30:00+00:00")) == ms("2024-01-15T07:30:00+00:00")
    assert cal.interval_start(ms("2024-01-16T02:00:00+00:00")) == ms("2024-01-16T01:30:00+00:00")
    assert len(starts(cal, ms("2024-01-15T12:00:00+00:00"))) == 24
    quarters = Calendar("UTC", 6 * 60 + 30, Q)
    assert quarters.interval_start(ms("2024-01-15T07:10:00+00:00")) == ms("2024-01-15T07:00:00+00:00")
    assert len(starts(quarters, ms("2024-01-15T12:00:00+00:00"))) == 96


def test_day_start_0630_berlin_across_spring_forward() -> None:
    cal = Calendar("Europe/Berlin", 6 * 60 + 30, Q)
    # The business day from Sat 06:30 CET to Sun 06:30 CEST holds the DST jump: 23 h.
    start, end = cal.day(ms("2024-03-31T05:00:00+02:00"))
    assert (start, end) == (ms("2024-03-30T06:30:00+01:00"), ms("2024-03-31T06:30:00+02:00"))
    assert len(starts(cal, start)) == 92
    # The next one is a plain 24 h day.
    assert cal.day(ms("2024-03-31T12:00:00+02:00")) == (end, ms("2024-04-01T06:30:00+02:00"))
    assert day_bounds_ms(ms("2024-03-31T06:29:59+02:00"), zone("Europe/Berlin"), 390) == (start, end)


def test_day_start_0630_berlin_across_fall_back() -> None:
    cal = Calendar("Europe/Berlin", 6 * 60 + 30, Q)
    start, end = cal.day(ms("2024-10-27T05:00:00+01:00"))
    assert (start, end) == (ms("2024-10-26T06:30:00+02:00"), ms("2024-10-27T06:30:00+01:00"))
    got = starts(cal, start)
    assert len(got) == len(set(got)) == 100


# -- 1d intervals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day_start", "ts"),
    [
        ("UTC", 0, "2024-01-15T09:00:00+00:00"),
        ("Europe/Berlin", 0, "2024-03-31T12:00:00+02:00"),
        ("Europe/Berlin", 0, "2024-10-27T12:00:00+01:00"),
        ("America/New_York", 390, "2024-11-03T12:00:00-05:00"),
        ("Asia/Kolkata", 0, "2024-01-15T10:45:00+05:30"),
    ],
)
def test_1d_interval_is_the_day(tz: str, day_start: int, ts: str) -> None:
    cal = Calendar(tz, day_start, DAY_MS)
    start, end = cal.day(ms(ts))
    assert cal.interval_start(ms(ts)) == start
    assert cal.interval_start(end - 1) == start
    assert cal.next_interval(start) == end
    assert starts(cal, ms(ts)) == [start]


# -- half-hour offset ------------------------------------------------------------------------


def test_kolkata_hours_follow_the_local_clock() -> None:
    cal = Calendar("Asia/Kolkata", 0, H)
    ts = ms("2024-01-15T10:45:00+05:30")  # 05:15Z
    assert cal.day(ts) == (ms("2024-01-15T00:00:00+05:30"), ms("2024-01-16T00:00:00+05:30"))
    assert cal.day(ts)[0] == ms("2024-01-14T18:30:00+00:00")
    # 10:00 local, which is 04:30Z, not 05:00Z.
    assert cal.interval_start(ts) == ms("2024-01-15T10:00:00+05:30") == ms("2024-01-15T04:30:00+00:00")
    assert cal.next_interval(cal.interval_start(ts)) == ms("2024-01-15T11:00:00+05:30")
    assert len(starts(cal, ts)) == 24
    quarters = Calendar("Asia/Kolkata", 0, Q)
    assert quarters.interval_start(ms("2024-01-15T10:44:00+05:30")) == ms("2024-01-15T10:30:00+05:30")


def test_iso() -> None:
    assert Calendar("Europe/Berlin", 0, Q).iso(ms("2024-10-27T01:30:00+00:00")) == "2024-10-27T02:30:00+01:00"
    assert Calendar("Asia/Kolkata", 0, Q).iso(ms("2024-01-15T04:30:00+00:00")) == "2024-01-15T10:00:00+05:30"


# -- parsing ---------------------------------------------------------------------------------


def test_parse_interval_and_day_start() -> None:
    assert [parse_interval(t) for t in ("15m", "30m", "1h", "1d")] == [Q, 30 * M, H, DAY_MS]
    assert parse_day_start("00:00") == 0
    assert parse_day_start("06:30") == 390
    assert parse_day_start("23:59") == 1439
    for bad in ("24:00", "06:60", "6:3", "0630", "ab:cd", "", "-1:00"):
        with pytest.raises(ConfigError):
            parse_day_start(bad)
    with pytest.raises(ConfigError):
        parse_interval("10m")


def test_unknown_zone() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        zone("Mars/Olympus")
    with pytest.raises(ConfigError):
        Calendar("Not/AZone", 0, Q)


@pytest.mark.parametrize("timezone", ["Australia/Lord_Howe", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("interval_ms", [900_000, 1_800_000, 3_600_000])
def test_every_interval_holds_its_time_across_clock_changes(timezone: str, interval_ms: int) -> None:
    """Lord Howe moves its clocks by half an hour: an hour aligned to the local clock then does
    not start where the last one ended, and the interval found for a time must still hold it
    (else agent time accounting, which walks interval by interval, never ends)."""
    for day in ("2025-04-06", "2025-10-05", "2025-03-30", "2025-10-26", "2025-03-09",
                "2025-11-02"):
        cal = Calendar(timezone, 0, interval_ms)
        start_ms = ms(f"{day}T00:00:00+00:00") - 86_400_000
        for ts in range(start_ms, start_ms + 3 * 86_400_000, 7 * 60_000 + 13):
            lo, hi = cal.interval(ts)
            assert lo <= ts < hi, (timezone, ts, lo, hi)
            assert cal.next_interval(lo) == hi
            assert lo in starts(cal, ts)  # one of the intervals a report walks


@pytest.mark.parametrize(("timezone", "days"), [
    ("Australia/Lord_Howe", ("2011-04-03", "2011-10-02")),
    ("Europe/Berlin", ("2025-03-30", "2025-10-26")),
])
@pytest.mark.parametrize("day_start_min", [0, 105, 390, 1425])
@pytest.mark.parametrize("interval_ms", [900_000, 1_800_000, 3_600_000])
def test_the_interval_of_a_time_does_not_depend_on_what_was_asked_before(
        timezone: str, days: tuple[str, ...], day_start_min: int, interval_ms: int) -> None:
    """A time's interval is the report's interval holding it, whether the calendar is new or
    has answered for other times: a contribution never lands in an interval no report shows
    (Lord Howe's 30-minute clock change, with a day start at :45, once gave two answers)."""
    used = Calendar(timezone, day_start_min, interval_ms)
    for day in days:
        start_ms = ms(f"{day}T00:00:00+00:00") - 86_400_000
        for ts in range(start_ms, start_ms + 3 * 86_400_000, 17 * 60_000 + 7):
            walked = max(s for s in starts(used, ts) if s <= ts)
            assert used.interval(ts)[0] == walked, (ts, day_start_min)
            assert Calendar(timezone, day_start_min, interval_ms).interval(ts)[0] == walked
