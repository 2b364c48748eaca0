"""The per-queue counters of one frame, and the metrics of ``spec/METRICS.md`` derived from them.

A frame's aggregate is a fixed vector of integers (:data:`FIELDS`), whatever the traffic: waits
and talk times are kept as sums in milliseconds, never as lists. Every metric is a pure function
of such a vector and the queue's thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

# The vector's fields, in order. Sums are milliseconds; MAX_WAIT_MS is a maximum, not a sum.
FIELDS: Final = (
    "offered", "answered", "answered_within_sl", "abandoned", "abandoned_within_sl",
    "short_abandoned", "flowed_out", "voicemails", "callbacks_requested", "other_within_sl",
    "callbacks_reached", "callbacks_failed", "handled", "ring_no_answer", "lost", "sales",
    "acw_count", "wait_answered_ms", "wait_abandoned_ms", "wait_other_ms", "talk_ms", "hold_ms",
    "acw_ms", "max_wait_ms",
)
(
    OFFERED, ANSWERED, ANSWERED_WITHIN, ABANDONED, ABANDONED_WITHIN, SHORT_ABANDONED, FLOWED_OUT,
    VOICEMAILS, CALLBACKS_REQUESTED, OTHER_WITHIN, CALLBACKS_REACHED, CALLBACKS_FAILED, HANDLED,
    RING_NO_ANSWER, LOST, SALES, ACW_COUNT, WAIT_ANSWERED_MS, WAIT_ABANDONED_MS, WAIT_OTHER_MS,
    TALK_MS, HOLD_MS, ACW_MS, MAX_WAIT_MS,
) = range(len(FIELDS))
NF: Final = len(FIELDS)
SUM_FIELDS: Final = frozenset(range(WAIT_ANSWERED_MS, MAX_WAIT_MS + 1))

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
        self.v: list[int] = [0] * NF
        self.flowed_by_reason: dict[str, int] = {}
        self.dispositions: dict[str, int] = {}

    def add(self, other: Tally) -> None:
        """Add ``other`` into this tally (the maximum is merged as a maximum)."""
        v, o = self.v, other.v
        longest = max(v[MAX_WAIT_MS], o[MAX_WAIT_MS])
        for i in range(NF):
            v[i] += o[i]
        v[MAX_WAIT_MS] = longest
        _merge(self.flowed_by_reason, other.flowed_by_reason)
        _merge(self.dispositions, other.dispositions)

    def to_state(self) -> tuple[list[int], dict[str, int], dict[str, int]]:
        return self.v, self.flowed_by_reason, self.dispositions

    @classmethod
    def from_state(cls, state: Any) -> Tally:
        tally = cls()
        v, reasons, dispositions = state
        tally.v = list(v)
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
    return None if den <= 0 else round(num / den, 6)


def _mean_s(total_ms: int, n: int) -> float | None:
    return None if n <= 0 else round(total_ms / n / 1000, 3)


def service_level(v: Sequence[int], formula: str) -> float | None:
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


def asa_s(v: Sequence[int]) -> float | None:
    """Mean wait of answered calls (average speed of answer); ``None`` when none was."""
    return _mean_s(v[WAIT_ANSWERED_MS], v[ANSWERED])


def metrics(v: Sequence[int], formula: str, frame_ms: int | None = None) -> dict[str, float | None]:
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
        "max_wait_s": None if left == 0 else round(v[MAX_WAIT_MS] / 1000, 3),
        "avg_talk_s": _mean_s(v[TALK_MS], handled),
        "avg_hold_s": _mean_s(v[HOLD_MS], handled),
        "avg_acw_s": _mean_s(v[ACW_MS], v[ACW_COUNT]),
        "aht_s": _mean_s(v[TALK_MS] + v[HOLD_MS] + v[ACW_MS], handled),
        "conversion_ratio": _ratio(v[SALES], handled),
    }
    if frame_ms is not None:
        out["arrival_per_min"] = round(v[OFFERED] * 60_000 / frame_ms, 4)
    return out


def frame_keys(v: Sequence[int], formula: str, frame_ms: int | None) -> dict[str, object]:
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
