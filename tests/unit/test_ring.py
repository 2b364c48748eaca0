"""The sliding-window ring: bucket alignment, expiry, late writes and column widening."""

from __future__ import annotations

from callpulse.ring import Ring
from callpulse.tally import MAX_WAIT_MS, OFFERED, WAIT_ANSWERED_MS


def test_windows_sum_the_newest_buckets_and_old_buckets_expire() -> None:
    ring = Ring(10_000, 60_000)
    for t in range(0, 120_000, 5_000):  # one call every 5 s for two minutes
        assert ring.add(t, ((OFFERED, 1),), 1)
    assert ring.window(119_999, 60_000)[OFFERED] == 12
    assert ring.window(119_999, 30_000)[OFFERED] == 6
    assert ring.window(179_999, 60_000)[OFFERED] == 0  # all buckets older than the window
    assert not ring.add(50_000, ((OFFERED, 1),), 1)  # older than the ring: refused


def test_max_is_kept_on_retraction_and_sums_are_exact() -> None:
    ring = Ring(10_000, 60_000)
    ring.add(1_000, ((WAIT_ANSWERED_MS, 30_000), (MAX_WAIT_MS, 30_000)), 1)
    ring.add(2_000, ((WAIT_ANSWERED_MS, 10_000), (MAX_WAIT_MS, 10_000)), 1)
    ring.add(2_000, ((WAIT_ANSWERED_MS, 10_000), (MAX_WAIT_MS, 10_000)), -1)
    v = ring.window(9_999, 60_000)
    assert (v[WAIT_ANSWERED_MS], v[MAX_WAIT_MS]) == (30_000, 30_000)


def test_columns_widen_instead_of_overflowing() -> None:
    ring = Ring(10_000, 20_000)
    for _ in range(70_000):  # more than an unsigned 16-bit counter holds
        ring.add(0, ((OFFERED, 1),), 1)
    ring.add(0, ((WAIT_ANSWERED_MS, 5_000_000_000),), 1)  # more than 32 bits
    v = ring.window(0, 20_000)
    assert (v[OFFERED], v[WAIT_ANSWERED_MS]) == (70_000, 5_000_000_000)
