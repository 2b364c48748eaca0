"""Sliding windows as a ring of fixed time buckets (the ``5m``/``15m``/``60m`` frames).

``spec/METRICS.md`` asks for sliding windows ending now, O(1) per event, buckets at most 10 s
wide. One ring holds the longest window; shorter windows are sums over its newest buckets.
Storage is column-major compact arrays (two bytes a counter per bucket until a value needs more),
so 1,000 queues with a 60-minute ring of 10-second buckets take about 22 MB.
"""

from __future__ import annotations

from array import array
from typing import Any

from .tally import MAX_WAIT_MS, NF, SUM_FIELDS, Counts, counts, post, zeros

# Narrowest type first; a column is widened in place the first time a value does not fit.
_WIDER = {"H": "I", "I": "q"}


class Ring:
    """``n`` buckets of ``bucket_ms`` each; bucket ``b`` covers ``[b*bucket_ms, (b+1)*bucket_ms)``.

    ``head`` is the newest bucket index seen. Buckets ``head-n+1 .. head`` are held; writing a
    newer bucket clears the ones it passes; a write older than the ring is refused.

    The head bucket itself is a native vector (``head_v``), stored into its column slot when
    the ring moves on (or is saved): nearly every write goes to the head, and a native vector's
    element is many times cheaper to update than a compact array's. Its slot in the columns is not read
    while it is the head.
    """

    __slots__ = ("bucket_ms", "closed", "cols", "head", "head_v", "n", "used")

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
        # Whether each slot may hold anything: advancing over an unused one costs nothing
        # (a replay or a catch-up crosses many empty buckets of a quiet queue).
        self.used = bytearray(self.n)
        self.head_v = zeros(NF)
        # For windows ending at the head: the field vector of their buckets before the head's
        # (see _sums), by first bucket. A read then adds only the head bucket's values, so a
        # refresh costs O(fields), not O(fields x buckets) (summing the 60m window's 360
        # buckets was a third of a queue's snapshot). Nearly every write goes to the head
        # bucket; one to an older bucket, or a new head, clears them. Derived, never stored.
        self.closed: dict[int, Counts] = {}

    def oldest_ms(self) -> int:
        """Start of the oldest bucket the ring holds."""
        return (self.head - self.n + 1) * self.bucket_ms

    def add(self, ts_ms: int, code: int, x: int, y: int, label: str | None, sign: int) -> bool:
        """Add (``sign`` 1) or take back (-1) one contribution (:func:`callpulse.tally.post`)
        in the bucket holding ``ts_ms``. Returns ``False`` when ``ts_ms`` is older than the
        ring."""
        b = ts_ms // self.bucket_ms
        if b == self.head:
            post(self.head_v, code, x, y, label, sign)
            return True
        if b > self.head:
            self._advance(b)
            post(self.head_v, code, x, y, label, sign)
            return True
        if b <= self.head - self.n:
            return False
        # An older bucket (a late event, or a retraction): rare, so through a copy.
        if self.closed:
            self.closed.clear()
        slot = b % self.n
        v = counts([col[slot] for col in self.cols])
        post(v, code, x, y, label, sign)
        self._store(slot, v)
        return True

    def _store(self, slot: int, v: Counts) -> None:
        cols = self.cols
        # An unused slot holds zeros in every column: only the other fields need writing (a
        # bucket has a few; each write to a compact array is a generic call).
        clean = not self.used[slot]
        self.used[slot] = 1
        for field in range(NF):
            value = v[field]
            if clean and value == 0:
                continue
            col = cols[field]
            try:
                col[slot] = value
            except OverflowError:  # rare: widen this column for good, then store
                cols[field] = col = array(_WIDER.get(col.typecode, "q"), col)
                col[slot] = value

    def _advance(self, b: int) -> None:
        n, used, head = self.n, self.used, self.head
        if head > b - n:  # the old head stays in the ring: its bucket goes to its slot
            self._store(head % n, self.head_v)
        for bucket in range(max(head + 1, b - n + 1), b + 1):
            slot = bucket % n  # the slot of bucket - n, which leaves the ring
            if used[slot]:
                used[slot] = 0
                for col in self.cols:
                    col[slot] = 0
        self.head = b
        self.head_v = zeros(NF)
        self.closed.clear()

    def window(self, now_ms: int, window_ms: int) -> Counts:
        """The field vector summed over the window ``(now - window_ms, now]``, bucket-aligned
        (the window is the ``window_ms // bucket_ms`` buckets ending with now's)."""
        nb = now_ms // self.bucket_ms
        lo = max(nb - window_ms // self.bucket_ms + 1, self.head - self.n + 1)
        hi = min(nb, self.head)
        if hi < self.head or lo > hi:  # ending before the head (rare), or nothing held
            return self._sums(lo, hi)
        closed = self.closed.get(lo)
        if closed is None:
            closed = self.closed[lo] = self._sums(lo, hi - 1)
        head_v = self.head_v
        out = zeros(NF)
        for i in range(NF):
            out[i] = closed[i] + head_v[i]
        out[MAX_WAIT_MS] = max(closed[MAX_WAIT_MS], head_v[MAX_WAIT_MS])
        return out

    def to_state(self) -> tuple[int, list[tuple[str, bytes]]]:
        if self.head > -(1 << 62):
            self._store(self.head % self.n, self.head_v)
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
        self.used = bytearray(b"\x01") * self.n  # not stored: any slot may hold something
        slot = self.head % self.n
        self.head_v = counts([col[slot] for col in loaded])
        self.closed = {}

    def _sums(self, lo: int, hi: int) -> Counts:
        """Each field summed over buckets ``lo..hi`` the ring holds (MAX_WAIT_MS: their
        maximum); zeros when there are none."""
        lo = max(lo, self.head - self.n + 1)
        out = zeros(NF)
        if lo > hi:
            return out
        spans = _slot_spans(lo % self.n, hi % self.n, self.n)
        for i, col in enumerate(self.cols):
            if i == MAX_WAIT_MS:
                out[i] = max(max(col[a:z]) for a, z in spans)
            else:
                out[i] = sum(sum(col[a:z]) for a, z in spans)
        return out


def _slot_spans(lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    return [(lo, hi + 1)] if lo <= hi else [(lo, n), (0, hi + 1)]
