"""The per-queue counters of one frame, and the metrics of ``spec/METRICS.md`` derived from them.

A frame's aggregate is a fixed vector of integers (:data:`FIELDS`), whatever the traffic: waits
and talk times are kept as sums in milliseconds, never as lists. Every metric is a pure function
of such a vector and the queue's thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeAlias

from librt.vecs import vec
from mypy_extensions import i64

# The vector's fields, in order. Sums are milliseconds; MAX_WAIT_MS is a maximum, not a sum.
FIELDS: Final = (
    "offered", "answered", "answered_within_sl", "abandoned", "abandoned_within_sl",
    "short_abandoned", "flowed_out", "voicemails", "callbacks_requested", "other_within_sl",
    "callbacks_reached", "callbacks_failed", "handled", "ring_no_answer", "lost", "sales",
    "acw_count", "wait_answered_ms", "wait_abandoned_ms", "wait_other_ms", "talk_ms", "hold_ms",
    "acw_ms", "max_wait_ms",
)
# Each field's index. Final literals: compiled, they are constants in the code, where a name
# bound by unpacking would be looked up in the module's dict on every use.
OFFERED: Final = 0
ANSWERED: Final = 1
ANSWERED_WITHIN: Final = 2
ABANDONED: Final = 3
ABANDONED_WITHIN: Final = 4
SHORT_ABANDONED: Final = 5
FLOWED_OUT: Final = 6
VOICEMAILS: Final = 7
CALLBACKS_REQUESTED: Final = 8
OTHER_WITHIN: Final = 9
CALLBACKS_REACHED: Final = 10
CALLBACKS_FAILED: Final = 11
HANDLED: Final = 12
RING_NO_ANSWER: Final = 13
LOST: Final = 14
SALES: Final = 15
ACW_COUNT: Final = 16
WAIT_ANSWERED_MS: Final = 17
WAIT_ABANDONED_MS: Final = 18
WAIT_OTHER_MS: Final = 19
TALK_MS: Final = 20
HOLD_MS: Final = 21
ACW_MS: Final = 22
MAX_WAIT_MS: Final = 23
NF: Final = len(FIELDS)
# A frame's vector: machine integers (``vec[i64]``, mypyc's native vector). Compiled, adding to
# one is a machine add; a ``list[int]`` boxed a new Python int at each add above 256, which was
# the largest single cost of the fold (about 47 boxings an event, ``benchmarks/bench_engine.py``).
# Milliseconds summed over centuries still fit in 63 bits.
Counts: TypeAlias = "vec[i64]"  # (quoted: compiled, ``vec[i64]`` is not a runtime value)


def counts(values: Iterable[int]) -> Counts:
    """A vector holding ``values`` (a state read back, or a test's figures)."""
    return vec[i64](values)


def zeros(n: int) -> Counts:
    """A vector of ``n`` zeros."""
    return vec[i64]([0] * n)
SUM_FIELDS: Final = frozenset(range(WAIT_ANSWERED_MS, MAX_WAIT_MS + 1))

# A contribution of one call to a frame (built by callpulse.calls, added by :func:`post`): what
# it adds is named by a code and two integers, so adding it is a few list updates, with no
# per-field loop and nothing allocated. P_COUNT adds one to the field ``x``; P_OUTCOME adds an
# outcome of kind ``y & KIND_MASK`` (K_*) that waited ``x`` ms, within the service-level
# threshold when ``y & WITHIN_SL`` and a short abandon when ``y & SHORT``; P_HANDLED adds a
# handled call that talked ``x`` ms and held ``y`` ms; P_ACW adds ``x`` ms of after-call work.
P_COUNT: Final = 0
P_OUTCOME: Final = 1
P_HANDLED: Final = 2
P_ACW: Final = 3
# Outcome kinds, in the order that breaks a tie between two outcomes at the same ts.
K_ANSWERED: Final = 1
K_ABANDONED: Final = 2
K_VOICEMAIL: Final = 3
K_CALLBACK: Final = 4
K_FLOWED: Final = 5
KIND_MASK: Final = 7
WITHIN_SL: Final = 8
SHORT: Final = 16
# Indexed by outcome kind (index 0 unused). Typed as tuples of any length: compiled, a literal
# tuple of fixed length is a C struct, which indexing by a variable boxed whole, on every post.
_COUNTER_OF: Final[tuple[int, ...]] = (
    OFFERED, ANSWERED, ABANDONED, VOICEMAILS, CALLBACKS_REQUESTED, FLOWED_OUT,
)
_WAIT_SUM_OF: Final[tuple[int, ...]] = (
    WAIT_OTHER_MS, WAIT_ANSWERED_MS, WAIT_ABANDONED_MS, WAIT_OTHER_MS, WAIT_OTHER_MS,
    WAIT_OTHER_MS,
)
_WITHIN_OF: Final[tuple[int, ...]] = (
    OTHER_WITHIN, ANSWERED_WITHIN, ABANDONED_WITHIN, OTHER_WITHIN, OTHER_WITHIN, OTHER_WITHIN,
)


def post(v: Counts, code: int, x: int, y: int, label: str | None, sign: int) -> None:
    """Add (``sign`` 1) or take back (-1) one contribution (see :data:`P_COUNT`) in the vector
    ``v``. ``MAX_WAIT_MS`` is a maximum: it only grows, a retraction cannot lower it."""
    # ``v[i] = v[i] + n``, not ``v[i] += n``: compiled, the first adds machine integers, the
    # second goes through the generic number protocol.
    if code == P_COUNT:
        v[x] = v[x] + sign
    elif code == P_OUTCOME:
        kind = y & KIND_MASK
        counter, wait_sum, within = _COUNTER_OF[kind], _WAIT_SUM_OF[kind], _WITHIN_OF[kind]
        v[counter] = v[counter] + sign
        v[wait_sum] = v[wait_sum] + sign * x
        if sign > 0 and x > v[MAX_WAIT_MS]:
            v[MAX_WAIT_MS] = x
        if y & WITHIN_SL:
            v[within] = v[within] + sign
        if y & SHORT:
            v[SHORT_ABANDONED] = v[SHORT_ABANDONED] + sign
    elif code == P_HANDLED:
        v[HANDLED] = v[HANDLED] + sign
        v[TALK_MS] = v[TALK_MS] + sign * x
        v[HOLD_MS] = v[HOLD_MS] + sign * y
        if label == "sale":
            v[SALES] = v[SALES] + sign
    else:
        v[ACW_COUNT] = v[ACW_COUNT] + sign
        v[ACW_MS] = v[ACW_MS] + sign * x


# Service-level formulas: spec/METRICS.md, "Service-level formulas".
SL_FORMULAS: Final = (
    "excl_short_abandons", "abandons_negative", "answered_only", "abandons_positive",
    "ignore_abandons_within", "removed_within",
)

# Counters reported by name (spec/METRICS.md, "Report format").
COUNTERS: Final = (
    "offered", "answered", "answered_within_sl", "abandoned", "short_abandoned",
    "abandoned_within_sl", "flowed_out", "voicemails", "callbacks_requested",
    "callbacks_reached", "callbacks_failed", "handled", "ring_no_answer", "lost",
)
_COUNTER_INDEX: Final = tuple((name, FIELDS.index(name)) for name in COUNTERS)


class Tally:
    """One frame's counters plus the two open-ended breakdowns (flow-out reasons, dispositions).

    The breakdowns are keyed by the words sources send; they are bounded by the vocabulary, not
    by traffic.
    """

    __slots__ = ("dispositions", "flowed_by_reason", "v")

    def __init__(self) -> None:
        self.v = zeros(NF)
        self.flowed_by_reason: dict[str, int] = {}
        self.dispositions: dict[str, int] = {}

    def add(self, other: Tally) -> None:
        """Add ``other`` into this tally (the maximum is merged as a maximum)."""
        v, o = self.v, other.v
        longest = max(v[MAX_WAIT_MS], o[MAX_WAIT_MS])
        for i in range(NF):
            v[i] = v[i] + o[i]
        v[MAX_WAIT_MS] = longest
        _merge(self.flowed_by_reason, other.flowed_by_reason)
        _merge(self.dispositions, other.dispositions)

    def post(self, code: int, x: int, y: int, label: str | None, sign: int) -> None:
        """:func:`post` into the counters, and the label into its breakdown: an outcome's is
        its flow-out reason, a handled call's its disposition."""
        post(self.v, code, x, y, label, sign)
        if label is not None:
            bump(self.flowed_by_reason if code == P_OUTCOME else self.dispositions, label, sign)

    def to_state(self) -> tuple[list[int], dict[str, int], dict[str, int]]:
        return list(self.v), self.flowed_by_reason, self.dispositions

    @classmethod
    def from_state(cls, state: Any) -> Tally:
        tally = cls()
        v, reasons, dispositions = state
        tally.v = counts(v)
        tally.flowed_by_reason = dict(reasons)
        tally.dispositions = dict(dispositions)
        return tally


def _merge(into: dict[str, int], other: Mapping[str, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def bump(counts: dict[str, int], key: str, delta: int) -> None:
    """Add ``delta`` to ``counts[key]``, removing the key when it returns to zero."""
    n = counts.get(key, 0) + delta
    if n:
        counts[key] = n
    else:
        counts.pop(key, None)


def _ratio(num: int, den: int) -> float | None:
    return None if den <= 0 else rounded(num / den, 6)


def _mean_s(total_ms: int, n: int) -> float | None:
    return None if n <= 0 else rounded(total_ms / n / 1000, 3)


_SCALES: Final[tuple[float, ...]] = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6)


def rounded(x: float, digits: int) -> float:
    """Exactly ``round(x, digits)`` for ``digits`` from 0 to 6, at a fraction of its cost.

    ``round`` with digits converts through a correctly rounded decimal string: about half a
    microsecond, a dozen times per frame and twice per interval of the day's trend, on every
    view. Here ``x * 10**digits`` is off the exact product by at most 1.2e-7 below 1e9, so when
    its fraction is further than 1e-6 from one half, the nearest integer ``n`` is the decimal
    ``round`` picks, and ``n / 10**digits`` (one correctly rounded division) is the double
    nearest that decimal, which is what ``round`` returns. Ties, negatives and large values
    take ``round`` itself.
    """
    if not 0 <= digits < len(_SCALES):
        raise ValueError(f"rounded() takes 0 to {len(_SCALES) - 1} digits, not {digits}")
    if x == 0.0:
        return x  # (either zero, its sign kept, as round keeps it)
    scale = _SCALES[digits]
    r = x * scale
    if 0.0 < r < 1e9:
        n = int(r)
        frac = r - n
        if frac > 0.500001:
            return (n + 1) / scale
        if frac < 0.499999:
            return n / scale
    return round(x, digits)


def service_level(v: Counts, formula: str) -> float | None:
    """The queue's service level by the named formula; ``None`` on an empty denominator."""
    a, a_in = v[ANSWERED], v[ANSWERED_WITHIN]
    ab, ab_in, ab_short = v[ABANDONED], v[ABANDONED_WITHIN], v[SHORT_ABANDONED]
    if formula == "excl_short_abandons":
        return _ratio(a_in, a + ab - ab_short)
    if formula == "abandons_negative":
        return _ratio(a_in, a + ab)
    if formula == "answered_only":
        return _ratio(a_in, a)
    if formula == "abandons_positive":
        return _ratio(a_in + ab_in, a + ab)
    if formula == "ignore_abandons_within":
        return _ratio(a_in, a + ab - ab_in)
    if formula == "removed_within":
        f = v[FLOWED_OUT] + v[VOICEMAILS] + v[CALLBACKS_REQUESTED]
        return _ratio(a_in + ab_in + v[OTHER_WITHIN], a + ab + f)
    raise ValueError(f"unknown service-level formula {formula!r}")


def asa_s(v: Counts) -> float | None:
    """Mean wait of answered calls (average speed of answer); ``None`` when none was."""
    return _mean_s(v[WAIT_ANSWERED_MS], v[ANSWERED])


def metrics(v: Counts, formula: str, frame_ms: int | None = None) -> dict[str, float | None]:
    """Every derived metric of ``spec/METRICS.md`` ("Per queue") over one frame's vector.

    ``frame_ms`` is the frame's length, for ``arrival_per_min``; ``None`` leaves it out.
    """
    a, ab = v[ANSWERED], v[ABANDONED]
    f = v[FLOWED_OUT] + v[VOICEMAILS] + v[CALLBACKS_REQUESTED]
    left = a + ab + f
    handled = v[HANDLED]
    out: dict[str, float | None] = {
        "service_level_ratio": service_level(v, formula),
        "abandon_ratio": _ratio(ab, left),
        "asa_s": asa_s(v),
        "avg_abandon_wait_s": _mean_s(v[WAIT_ABANDONED_MS], ab),
        "avg_wait_s": _mean_s(v[WAIT_ANSWERED_MS] + v[WAIT_ABANDONED_MS] + v[WAIT_OTHER_MS], left),
        "max_wait_s": None if left == 0 else rounded(v[MAX_WAIT_MS] / 1000, 3),
        "avg_talk_s": _mean_s(v[TALK_MS], handled),
        "avg_hold_s": _mean_s(v[HOLD_MS], handled),
        "avg_acw_s": _mean_s(v[ACW_MS], v[ACW_COUNT]),
        "aht_s": _mean_s(v[TALK_MS] + v[HOLD_MS] + v[ACW_MS], handled),
        "conversion_ratio": _ratio(v[SALES], handled),
    }
    if frame_ms is not None:
        out["arrival_per_min"] = rounded(v[OFFERED] * 60_000 / frame_ms, 4)
    return out


def frame_keys(v: Counts, formula: str, frame_ms: int | None) -> dict[str, object]:
    """A frame's counters by name and its metrics."""
    out: dict[str, object] = {name: v[i] for name, i in _COUNTER_INDEX}
    out.update(metrics(v, formula, frame_ms))
    return out


def report_keys(tally: Tally, formula: str) -> dict[str, object]:
    """The queue keys of a report entry (``spec/METRICS.md``, "Report format")."""
    out = frame_keys(tally.v, formula, None)
    out["flowed_out_by_reason"] = dict(sorted(tally.flowed_by_reason.items()))
    out["dispositions"] = dict(sorted(tally.dispositions.items()))
    return out
