"""Alert rules: levels, the `for` duration, the cooldown, the wait-spike rule, staffing."""

from __future__ import annotations

from callpulse import alerts
from callpulse import events as ev
from callpulse.config import QueueConfig
from callpulse.queue import QueueParams, QueueState, live_staffing

CFG = QueueConfig()


def _values(**overrides: float | None) -> dict[str, float | None]:
    values: dict[str, float | None] = dict.fromkeys(
        ("oldest_wait_s", "callbacks_pending", "oldest_callback_s", "no_agent_available"), 0.0)
    values.update(service_level_ratio=0.9, abandon_ratio=0.0, wait_spike=0.0, staffing_gap=0.0)
    values.update(overrides)
    return values


def test_fires_after_for_duration_then_escalates_and_clears_with_cooldown() -> None:
    state: dict = {}  # type: ignore[type-arg]
    state, active = alerts.evaluate(_values(oldest_wait_s=70), CFG.alerts, state, 0)
    assert active == []  # warn level reached, but not yet for 30 s
    state, active = alerts.evaluate(_values(oldest_wait_s=80), CFG.alerts, state, 29_999)
    assert active == []
    state, active = alerts.evaluate(_values(oldest_wait_s=90), CFG.alerts, state, 30_000)
    assert active == [alerts.ActiveAlert("oldest_wait_s", "warn", 30_000, 90)]
    state, active = alerts.evaluate(_values(oldest_wait_s=130), CFG.alerts, state, 40_000)
    assert active == [alerts.ActiveAlert("oldest_wait_s", "crit", 30_000, 130)]
    state, active = alerts.evaluate(_values(oldest_wait_s=5), CFG.alerts, state, 50_000)
    assert active == []
    # Back above the level at once: the cooldown (300 s) holds it back even after `for`.
    state, active = alerts.evaluate(_values(oldest_wait_s=200), CFG.alerts, state, 60_000)
    state, active = alerts.evaluate(_values(oldest_wait_s=200), CFG.alerts, state, 100_000)
    assert active == []
    state, active = alerts.evaluate(_values(oldest_wait_s=200), CFG.alerts, state, 350_000)
    assert [a.severity for a in active] == ["crit"]


def test_below_rules_and_missing_data() -> None:
    state: dict = {}  # type: ignore[type-arg]
    for t in (0, 60_000):
        state, active = alerts.evaluate(_values(service_level_ratio=0.5), CFG.alerts, state, t)
    assert [(a.alert, a.severity) for a in active] == [("service_level_ratio", "crit")]
    # No data (empty denominator) neither fires nor clears.
    state, active = alerts.evaluate(_values(service_level_ratio=None), CFG.alerts, state, 70_000)
    assert [a.alert for a in active] == ["service_level_ratio"]


def test_rule_values_wait_spike_and_no_agent() -> None:
    live = {"waiting": 3, "oldest_wait_s": 12.0, "callbacks_pending": 0, "oldest_callback_s": None}
    values = alerts.rule_values(live, {"asa_s": 90.0}, {"asa_s": 30.0},
                                {"available": 0, "logged_in": 4}, {"agents_needed": 6}, CFG)
    assert values["wait_spike"] == 3.0
    assert values["no_agent_available"] == 3
    assert values["staffing_gap"] == 2
    below_floor = alerts.rule_values(live, {"asa_s": 20.0}, {"asa_s": 5.0}, {}, {}, CFG)
    assert below_floor["wait_spike"] == 0.0  # 4x, but under the 30 s floor
    assert below_floor["staffing_gap"] is None


def test_stale_sources() -> None:
    assert alerts.stale_sources({"pbx": 0, "sim": 10_000}, 40_000) == ["pbx"]


def test_live_staffing_matches_erlang_c_vector() -> None:
    # 100 calls in 30 min = 3.333/min; AHT 180 s; T = 20 s, goal 0.80 -> 14 agents.
    got = live_staffing({"arrival_per_min": 100 / 30}, {"aht_s": 180.0}, CFG, 14)
    assert got == {"agents_needed": 14, "predicted_wait_s": 7.84}
    assert live_staffing({"arrival_per_min": 0.0}, {"aht_s": 180.0}, CFG, 3)["agents_needed"] is None


def test_queue_snapshot_has_live_frames_and_agents() -> None:
    q = QueueState("default", "q", CFG, QueueParams())
    q.apply(ev.Ringing(v=1, id="r", ts=1_000_000, source="s", call_id="c", queue="q"))
    snap = q.snapshot(1_010_000, {"available": 0, "logged_in": 0})
    assert snap["live"]["waiting"] == 1 and snap["live"]["oldest_wait_s"] == 10.0
    assert set(snap["frames"]) == {"5m", "15m", "60m", "today"}
    assert snap["frames"]["15m"]["offered"] == 1
