"""The sliding-window ring: bucket alignment, expiry, late writes and column widening."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callpulse.ring import Ring
from callpulse.tally import (
    ANSWERED,
    K_ANSWERED,
    MAX_WAIT_MS,
    NF,
    OFFERED,
    P_COUNT,
    P_OUTCOME,
    WAIT_ANSWERED_MS,
)


def test_windows_sum_the_newest_buckets_and_old_buckets_expire() -> None:
    ring = Ring(10_000, 60_000)
    for t in range(0, 120_000, 5_000):  # one call every 5 s for two minutes
        assert ring.add(t, P_COUNT, OFFERED, 0, None, 1)
    assert ring.window(119_999, 60_000)[OFFERED] == 12
    assert ring.window(119_999, 30_000)[OFFERED] == 6
    assert ring.window(179_999, 60_000)[OFFERED] == 0  # all buckets older than the window
    assert not ring.add(50_000, P_COUNT, OFFERED, 0, None, 1)  # older than the ring: refused


def test_max_is_kept_on_retraction_and_sums_are_exact() -> None:
    ring = Ring(10_000, 60_000)
    ring.add(1_000, P_OUTCOME, 30_000, K_ANSWERED, None, 1)
    ring.add(2_000, P_OUTCOME, 10_000, K_ANSWERED, None, 1)
    ring.add(2_000, P_OUTCOME, 10_000, K_ANSWERED, None, -1)
    v = ring.window(9_999, 60_000)
    assert (v[WAIT_ANSWERED_MS], v[MAX_WAIT_MS]) == (30_000, 30_000)


def test_columns_widen_instead_of_overflowing() -> None:
    ring = Ring(10_000, 20_000)
    for _ in range(70_000):  # more than an unsigned 16-bit counter holds
        ring.add(0, P_COUNT, OFFERED, 0, None, 1)
    ring.add(0, P_OUTCOME, 5_000_000_000, K_ANSWERED, None, 1)  # more than 32 bits
    v = ring.window(0, 20_000)
    assert (v[OFFERED], v[WAIT_ANSWERED_MS]) == (70_000, 5_000_000_000)


_OPS = st.lists(st.tuples(st.integers(-8, 12), st.booleans(), st.integers(1, 70_000),
                          st.booleans()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(_OPS, st.integers(-3, 15))
def test_windows_equal_the_sums_of_their_buckets(
        ops: list[tuple[int, bool, int, bool]], ahead: int) -> None:
    """Every window (read from the sums kept of its buckets before the head, through writes,
    late writes, retractions, expiry and a reload, and reading past the head) equals its
    buckets summed one by one."""
    ring, span_ms = Ring(10_000, 120_000), 120_000
    buckets: dict[int, list[int]] = {}  # the model: bucket -> its fields
    t, added = 500_000, []
    for step, is_wait, value, retract in ops:
        t += step * 10_000 // 4  # mostly forward, sometimes back (late writes)
        if retract and added:
            ts, w, v = added.pop()
            sign = -1
        else:
            ts, w, v, sign = t, is_wait, value, 1
            added.append((ts, w, v))
        # An offered call (one count), or an answered call that waited v ms (a count, a sum
        # and the maximum).
        code, x, y = (P_OUTCOME, v, K_ANSWERED) if w else (P_COUNT, OFFERED, 0)
        if ring.add(ts, code, x, y, None, sign):
            fields = buckets.setdefault(ts // 10_000, [0] * NF)
            if w:
                fields[ANSWERED] += sign
                fields[WAIT_ANSWERED_MS] += sign * v
                fields[MAX_WAIT_MS] = max(fields[MAX_WAIT_MS], v) if sign > 0 \
                    else fields[MAX_WAIT_MS]
            else:
                fields[OFFERED] += sign
        for shift in (ahead, 0, -1):
            now = (ring.head + shift) * 10_000 + 9_999
            for w in (10_000, 30_000, 60_000, span_ms):
                assert list(ring.window(now, w)) == _summed(buckets, ring, now, w), (w, now)
    reloaded = Ring(10_000, span_ms)
    reloaded.load_state(ring.to_state())
    now = ring.head * 10_000
    assert list(reloaded.window(now, span_ms)) == _summed(buckets, ring, now, span_ms)


def _summed(buckets: dict[int, list[int]], ring: Ring, now_ms: int, window_ms: int) -> list[int]:
    nb, held_from = now_ms // 10_000, ring.head - ring.n + 1
    inside = [v for b, v in buckets.items()
              if max(nb - window_ms // 10_000 + 1, held_from) <= b <= min(nb, ring.head)]
    out = [sum(v[i] for v in inside) for i in range(NF)]
    out[MAX_WAIT_MS] = max((v[MAX_WAIT_MS] for v in inside), default=0)
    return out
