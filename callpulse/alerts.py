"""Alert rules as a pure function of a queue's figures, its levels and ``now``.

``spec/METRICS.md``, "Alerts". Each rule compares one value with its ``warn`` and ``crit``
levels. A rule fires only after its condition has held for ``for_s``; once it clears it may not
fire again for ``cooldown_s`` (no flapping on a wall). Severity can rise or fall while firing.
The state carried between evaluations is small and serialisable (a dict per rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .config import ALERT_RULES, AlertLevels, QueueConfig

WARN: Final = "warn"
CRIT: Final = "crit"
SOURCE_STALE_MS: Final = 30_000


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """A firing alert: which rule, how bad, since when (epoch ms) and the value now."""

    alert: str
    severity: str
    since_ms: int
    value: float


def rule_values(
    live: Mapping[str, Any], m15: Mapping[str, Any], m60: Mapping[str, Any],
    agents: Mapping[str, int], staffing: Mapping[str, Any], cfg: QueueConfig,
) -> dict[str, float | None]:
    """The value each rule of :data:`ALERT_RULES` watches, from a queue's live frame, its
    ``15m`` and ``60m`` metrics, agent counts and staffing. ``None`` means "no data": the rule
    neither fires nor clears a pending condition's clock."""
    waiting = live.get("waiting") or 0
    asa15, asa60 = m15.get("asa_s"), m60.get("asa_s")
    spike: float | None = None
    if asa15 is not None and asa60:
        spike = asa15 / asa60 if asa15 > cfg.wait_spike_floor_s else 0.0
    needed = staffing.get("agents_needed")
    return {
        "oldest_wait_s": live.get("oldest_wait_s") or 0.0,
        "service_level_ratio": m15.get("service_level_ratio"),
        "abandon_ratio": m15.get("abandon_ratio"),
        "callbacks_pending": float(live.get("callbacks_pending") or 0),
        "oldest_callback_s": live.get("oldest_callback_s") or 0.0,
        "no_agent_available": float(waiting if agents.get("available", 0) == 0 else 0),
        "wait_spike": spike,
        "staffing_gap": None if needed is None else float(needed - agents.get("logged_in", 0)),
    }


def _severity(direction: str, levels: AlertLevels, value: float) -> str | None:
    def hit(level: float | None) -> bool:
        if level is None:
            return False
        return value >= level if direction == "above" else value <= level

    if hit(levels.crit):
        return CRIT
    return WARN if hit(levels.warn) else None


def evaluate(
    values: Mapping[str, float | None], levels: Mapping[str, AlertLevels],
    state: Mapping[str, Mapping[str, Any]], now_ms: int,
) -> tuple[dict[str, dict[str, Any]], list[ActiveAlert]]:
    """One evaluation at ``now_ms``: the new rule states and the alerts firing now.

    A rule's state holds ``pending_ms`` (when the condition began), ``firing_ms`` and
    ``severity`` while firing, and ``cleared_ms`` (for the cooldown).
    """
    new_state: dict[str, dict[str, Any]] = {}
    active: list[ActiveAlert] = []
    for name, (direction, _) in ALERT_RULES.items():
        lv = levels[name]
        rule = dict(state.get(name, {}))
        value = values.get(name)
        if value is None:
            new_state[name] = rule
            if rule.get("firing_ms") is not None:
                active.append(ActiveAlert(name, rule["severity"], rule["firing_ms"], 0.0))
            continue
        severity = _severity(direction, lv, value)
        if severity is None:
            if rule.get("firing_ms") is not None:
                rule["cleared_ms"] = now_ms
            rule.update(pending_ms=None, firing_ms=None, severity=None)
        else:
            if rule.get("pending_ms") is None:
                rule["pending_ms"] = now_ms
            cooled = now_ms - (rule.get("cleared_ms") or -(1 << 62)) >= lv.cooldown_s * 1000
            if rule.get("firing_ms") is None and cooled \
                    and now_ms - rule["pending_ms"] >= lv.for_s * 1000:
                rule["firing_ms"] = now_ms
            if rule.get("firing_ms") is not None:
                rule["severity"] = severity
                active.append(ActiveAlert(name, severity, rule["firing_ms"], value))
        new_state[name] = rule
    return new_state, active


def stale_sources(last_seen_ms: Mapping[str, int], now_ms: int,
                  stale_after_ms: int = SOURCE_STALE_MS) -> list[str]:
    """Sources that sent nothing, not even a heartbeat, for ``stale_after_ms``."""
    return sorted(s for s, ts in last_seen_ms.items() if now_ms - ts > stale_after_ms)
