"""Sliding windows as a ring of fixed time buckets (the ``5m``/``15m``/``60m`` frames).

``spec/METRICS.md`` asks for sliding windows ending now, O(1) per event, buckets at most 10 s
wide. One ring holds the longest window; shorter windows are sums over its newest buckets.
Storage is column-major compact arrays (two bytes a counter per bucket until a value needs more),
so 1,000 queues with a 60-minute ring of 10-second buckets take about 22 MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

from .tally import MAX_WAIT_MS, NF, SUM_FIELDS

# Narrowest type first; a column is widened in place the first time a value does not fit.
_WIDER = {"H": "I", "I": "q"}


class Ring:
    """``n`` buckets of ``bucket_ms`` each; bucket ``b`` covers ``[b*bucket_ms, (b+1)*bucket_ms)``.

    ``head`` is the newest bucket index seen. Buckets ``head-n+1 .. head`` are held; writing a
    newer bucket clears the ones it passes; a write older than the ring is refused.
    """

    __slots__ = ("bucket_ms", "cols", "head", "n")

    def __init__(self, bucket_ms: int, span_ms: int) -> None:
        if bucket_ms <= 0 or span_ms < bucket_ms:
            raise ValueError("ring needs 0 < bucket_ms <= span_ms")
        self.bucket_ms = bucket_ms
        self.n = -(-span_ms // bucket_ms)
        self.head = -(1 << 62)
        self.cols = [
            array("I" if i in SUM_FIELDS else "H", bytes(4 if i in SUM_FIELDS else 2) * self.n)
            for i in range(NF)
        ]

    def oldest_ms(self) -> int:
        """Start of the oldest bucket the ring holds."""
        return (self.head - self.n + 1) * self.bucket_ms

    def add(self, ts_ms: int, deltas: Iterable[tuple[int, int]], sign: int) -> bool:
        """Add ``sign * delta`` to each field of the bucket holding ``ts_ms`` (``MAX_WAIT_MS``
        takes the larger value when adding and is left as is when removing). Returns ``False``
        when ``ts_ms`` is older than the ring."""
        b = ts_ms // self.bucket_ms
        if b > self.head:
            self._advance(b)
        elif b <= self.head - self.n:
            return False
        slot = b % self.n
        cols = self.cols
        for field, delta in deltas:
            col = cols[field]
            if field == MAX_WAIT_MS:
                if sign < 0 or delta <= col[slot]:
                    continue
                value = delta
            else:
                value = col[slot] + sign * delta
            try:
                col[slot] = value
            except OverflowError:  # rare: widen this column for good, then store
                cols[field] = col = array(_WIDER.get(col.typecode, "q"), col)
                col[slot] = value
        return True

    def _advance(self, b: int) -> None:
        n = self.n
        first = max(self.head + 1, b - n + 1)
        for bucket in range(first, b + 1):
            slot = bucket % n
            for col in self.cols:
                col[slot] = 0
        self.head = b

    def window(self, now_ms: int, window_ms: int) -> list[int]:
        """The field vector summed over the window ``(now - window_ms, now]``, bucket-aligned
        (the window is the ``window_ms // bucket_ms`` buckets ending with now's)."""
        nb = now_ms // self.bucket_ms
        lo = max(nb - window_ms // self.bucket_ms + 1, self.head - self.n + 1)
        hi = min(nb, self.head)
        out = [0] * NF
        if lo > hi:
            return out
        n = self.n
        spans = _slot_spans(lo % n, hi % n, n)
        for i, col in enumerate(self.cols):
            parts = [col[a:z] for a, z in spans]
            out[i] = max(max(p) for p in parts) if i == MAX_WAIT_MS else sum(sum(p) for p in parts)
        return out

    def to_state(self) -> tuple[int, list[tuple[str, bytes]]]:
        return self.head, [(c.typecode, c.tobytes()) for c in self.cols]

    def load_state(self, state: Any) -> None:
        head, cols = state
        self.head = int(head)
        loaded = []
        for typecode, raw in cols:
            col = array(typecode)
            col.frombytes(raw)
            if len(col) != self.n:
                raise ValueError("ring size does not match its configuration")
            loaded.append(col)
        if len(loaded) != NF:
            raise ValueError("ring has the wrong number of fields")
        self.cols = loaded


def _slot_spans(lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    return [(lo, hi + 1)] if lo <= hi else [(lo, n), (0, hi + 1)]
