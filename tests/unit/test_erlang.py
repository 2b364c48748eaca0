"""Erlang C staffing maths: the published vector, edge cases and properties."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from callpulse import erlang
from callpulse.errors import ConfigError

# The textbook example: 100 calls in 30 minutes, 3-minute AHT, answer 80% within 20 seconds.
CALLS = 100.0
INTERVAL_S = 1800.0
AHT_S = 180.0
TARGET_S = 20.0

traffics = st.floats(min_value=0.01, max_value=200.0, allow_nan=False, allow_infinity=False)
ahts = st.floats(min_value=1.0, max_value=1200.0, allow_nan=False, allow_infinity=False)
targets = st.floats(min_value=0.0, max_value=600.0, allow_nan=False, allow_infinity=False)
goals = st.floats(min_value=0.01, max_value=0.99, allow_nan=False, allow_infinity=False)


# --------------------------------------------------------------------------- published vector


def test_published_vector() -> None:
    traffic = erlang.traffic_erlangs(CALLS, INTERVAL_S, AHT_S)
    assert traffic == pytest.approx(10.0)
    assert round(erlang.p_wait(14, traffic), 4) == 0.1741
    assert round(erlang.service_level_ratio(14, traffic, AHT_S, TARGET_S), 4) == 0.8884
    asa = erlang.asa_s(14, traffic, AHT_S)
    assert asa is not None
    assert round(asa, 2) == 7.84
    assert round(erlang.occupancy_ratio(14, traffic), 3) == 0.714


def test_published_vector_needs_14_agents_and_20_positions() -> None:
    traffic = erlang.traffic_erlangs(CALLS, INTERVAL_S, AHT_S)
    assert erlang.service_level_ratio(13, traffic, AHT_S, TARGET_S) < 0.80
    assert erlang.service_level_ratio(14, traffic, AHT_S, TARGET_S) >= 0.80
    assert erlang.agents_needed(traffic, AHT_S, TARGET_S, 0.80) == 14
    assert erlang.positions_with_shrinkage(14, 0.3) == 20


def test_staffing_report() -> None:
    report = erlang.staffing(
        CALLS, INTERVAL_S, AHT_S, TARGET_S, agents=14, sl_goal_ratio=0.80, shrinkage_ratio=0.3
    )
    assert report == {
        "traffic_erlangs": 10.0,
        "p_wait": 0.1741,
        "service_level_ratio": 0.8884,
        "asa_s": 7.84,
        "occupancy_ratio": 0.7143,
        "agents_needed": 14,
        "positions_with_shrinkage": 20,
    }


def test_staffing_report_keys_depend_on_arguments() -> None:
    assert erlang.staffing(CALLS, INTERVAL_S, AHT_S, TARGET_S) == {"traffic_erlangs": 10.0}
    with_agents = erlang.staffing(CALLS, INTERVAL_S, AHT_S, TARGET_S, agents=14)
    assert list(with_agents) == [
        "traffic_erlangs",
        "p_wait",
        "service_level_ratio",
        "asa_s",
        "occupancy_ratio",
    ]
    with_goal = erlang.staffing(CALLS, INTERVAL_S, AHT_S, TARGET_S, sl_goal_ratio=0.8)
    assert with_goal == {
        "traffic_erlangs": 10.0,
        "agents_needed": 14,
        "positions_with_shrinkage": 14,
    }


# --------------------------------------------------------------------------- edge cases


def test_zero_traffic() -> None:
    traffic = erlang.traffic_erlangs(0, INTERVAL_S, AHT_S)
    assert traffic == 0.0
    assert erlang.p_wait(0, traffic) == 0.0
    assert erlang.p_wait(3, traffic) == 0.0
    assert erlang.service_level_ratio(3, traffic, AHT_S, TARGET_S) == 1.0
    assert erlang.asa_s(3, traffic, AHT_S) == 0.0
    assert erlang.occupancy_ratio(3, traffic) == 0.0
    assert erlang.occupancy_ratio(0, traffic) == 0.0
    assert erlang.agents_needed(traffic, AHT_S, TARGET_S, 0.8) == 0
    assert erlang.staffing(0, INTERVAL_S, AHT_S, TARGET_S, agents=2, sl_goal_ratio=0.8) == {
        "traffic_erlangs": 0.0,
        "p_wait": 0.0,
        "service_level_ratio": 1.0,
        "asa_s": 0.0,
        "occupancy_ratio": 0.0,
        "agents_needed": 0,
        "positions_with_shrinkage": 0,
    }


@pytest.mark.parametrize("agents", [0, 5, 9, 10])
def test_unstable_queue(agents: int) -> None:
    assert erlang.p_wait(agents, 10.0) == 1.0
    assert erlang.service_level_ratio(agents, 10.0, AHT_S, TARGET_S) == 0.0
    assert erlang.asa_s(agents, 10.0, AHT_S) is None
    assert erlang.occupancy_ratio(agents, 10.0) == 1.0
    report = erlang.staffing(CALLS, INTERVAL_S, AHT_S, TARGET_S, agents=agents)
    assert report["p_wait"] == 1.0
    assert report["service_level_ratio"] == 0.0
    assert report["asa_s"] is None
    assert report["occupancy_ratio"] == 1.0


def test_just_stable_queue() -> None:
    assert 0.0 < erlang.p_wait(11, 10.0) < 1.0
    asa = erlang.asa_s(11, 10.0, AHT_S)
    assert asa is not None
    assert asa > 0


def test_fractional_traffic_starts_above_floor() -> None:
    # 0.5 erlangs: one agent is stable; a lax goal is met by that one agent.
    assert erlang.agents_needed(0.5, AHT_S, TARGET_S, 0.01) == 1
    # 9.5 erlangs: 10 agents is the first stable size.
    assert erlang.agents_needed(9.5, AHT_S, TARGET_S, 0.01) == 10


def test_large_case_is_finite() -> None:
    c = erlang.p_wait(450, 400.0)
    sl = erlang.service_level_ratio(450, 400.0, AHT_S, TARGET_S)
    asa = erlang.asa_s(450, 400.0, AHT_S)
    assert 0.0 <= c <= 1.0 and math.isfinite(c)
    assert 0.0 <= sl <= 1.0 and math.isfinite(sl)
    assert asa is not None and math.isfinite(asa) and asa >= 0
    needed = erlang.agents_needed(400.0, AHT_S, TARGET_S, 0.8)
    assert 400 < needed <= 450


def test_very_large_case_is_finite() -> None:
    c = erlang.p_wait(5_000, 4_900.0)
    assert 0.0 < c < 1.0


def test_positions_with_shrinkage() -> None:
    assert erlang.positions_with_shrinkage(14, 0.0) == 14
    assert erlang.positions_with_shrinkage(14, 0.3) == 20
    assert erlang.positions_with_shrinkage(15, 0.3) == 22
    assert erlang.positions_with_shrinkage(0, 0.5) == 0
    assert erlang.positions_with_shrinkage(7, 0.5) == 14
    assert erlang.positions_with_shrinkage(1, 0.99) == 100


def test_agents_needed_gives_up_past_max_agents() -> None:
    with pytest.raises(ConfigError, match="max_agents"):
        erlang.agents_needed(10.0, AHT_S, TARGET_S, 0.8, max_agents=13)
    with pytest.raises(ConfigError, match="max_agents"):
        erlang.agents_needed(50.0, AHT_S, TARGET_S, 0.8, max_agents=20)
    assert erlang.agents_needed(10.0, AHT_S, TARGET_S, 0.8, max_agents=14) == 14


# --------------------------------------------------------------------------- invalid inputs


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: erlang.traffic_erlangs(-1, 1800, 180), "calls"),
        (lambda: erlang.traffic_erlangs(100, 0, 180), "interval_s"),
        (lambda: erlang.traffic_erlangs(100, -5, 180), "interval_s"),
        (lambda: erlang.traffic_erlangs(100, 1800, 0), "aht_s"),
        (lambda: erlang.traffic_erlangs(math.nan, 1800, 180), "calls"),
        (lambda: erlang.traffic_erlangs(100, math.inf, 180), "interval_s"),
        (lambda: erlang.p_wait(-1, 10.0), "agents"),
        (lambda: erlang.p_wait(14, -1.0), "traffic_erlangs"),
        (lambda: erlang.service_level_ratio(14, 10.0, 0, 20), "aht_s"),
        (lambda: erlang.service_level_ratio(14, 10.0, 180, -1), "target_s"),
        (lambda: erlang.asa_s(14, 10.0, -180), "aht_s"),
        (lambda: erlang.occupancy_ratio(-2, 10.0), "agents"),
        (lambda: erlang.agents_needed(10.0, 180, 20, 0.0), "sl_goal_ratio"),
        (lambda: erlang.agents_needed(10.0, 180, 20, 1.0), "sl_goal_ratio"),
        (lambda: erlang.agents_needed(10.0, 180, 20, 1.5), "sl_goal_ratio"),
        (lambda: erlang.agents_needed(10.0, 0, 20, 0.8), "aht_s"),
        (lambda: erlang.agents_needed(10.0, 180, 0, 0.8), "target_s"),
        (lambda: erlang.agents_needed(10.0, 180, -20, 0.8), "target_s"),
        (lambda: erlang.agents_needed(-10.0, 180, 20, 0.8), "traffic_erlangs"),
        (lambda: erlang.positions_with_shrinkage(14, 1.0), "shrinkage_ratio"),
        (lambda: erlang.positions_with_shrinkage(14, -0.1), "shrinkage_ratio"),
        (lambda: erlang.positions_with_shrinkage(-1, 0.3), "agents"),
        (lambda: erlang.staffing(-1, 1800, 180, 20), "calls"),
        (lambda: erlang.staffing(100, 0, 180, 20), "interval_s"),
        (lambda: erlang.staffing(100, 1800, 180, -1), "target_s"),
        (lambda: erlang.staffing(100, 1800, 180, 20, shrinkage_ratio=1.0), "shrinkage_ratio"),
        (lambda: erlang.staffing(100, 1800, 180, 20, agents=-1), "agents"),
        (lambda: erlang.staffing(100, 1800, 180, 20, sl_goal_ratio=1.2), "sl_goal_ratio"),
    ],
)
def test_invalid_inputs_raise_config_error(call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_non_numbers_raise_config_error() -> None:
    bad: Any = "14"
    with pytest.raises(ConfigError, match="agents"):
        erlang.p_wait(bad, 10.0)
    with pytest.raises(ConfigError, match="agents"):
        erlang.p_wait(True, 10.0)
    with pytest.raises(ConfigError, match="agents"):
        erlang.p_wait(14.0, 10.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="traffic_erlangs"):
        erlang.p_wait(14, bad)


# --------------------------------------------------------------------------- properties


@given(agents=st.integers(min_value=0, max_value=400), traffic=traffics)
def test_p_wait_is_a_probability_non_increasing_in_agents(agents: int, traffic: float) -> None:
    here = erlang.p_wait(agents, traffic)
    more = erlang.p_wait(agents + 1, traffic)
    assert 0.0 <= here <= 1.0
    assert 0.0 <= more <= 1.0
    assert more <= here


@given(agents=st.integers(min_value=0, max_value=400), traffic=traffics, aht=ahts, target=targets)
def test_service_level_non_decreasing_in_agents(
    agents: int, traffic: float, aht: float, target: float
) -> None:
    here = erlang.service_level_ratio(agents, traffic, aht, target)
    more = erlang.service_level_ratio(agents + 1, traffic, aht, target)
    assert 0.0 <= here <= 1.0
    assert more >= here


@given(
    agents=st.integers(min_value=0, max_value=400),
    traffic=traffics,
    aht=ahts,
    target=targets,
    extra=st.floats(min_value=0.0, max_value=600.0, allow_nan=False),
)
def test_service_level_non_decreasing_in_target(
    agents: int, traffic: float, aht: float, target: float, extra: float
) -> None:
    here = erlang.service_level_ratio(agents, traffic, aht, target)
    longer = erlang.service_level_ratio(agents, traffic, aht, target + extra)
    assert longer >= here


@given(traffic=traffics, aht=ahts, target=st.floats(min_value=0.5, max_value=600.0), goal=goals)
def test_agents_needed_is_the_fewest_reaching_the_goal(
    traffic: float, aht: float, target: float, goal: float
) -> None:
    needed = erlang.agents_needed(traffic, aht, target, goal)
    assert needed > traffic
    assert erlang.service_level_ratio(needed, traffic, aht, target) >= goal
    if needed > math.floor(traffic) + 1:
        assert erlang.service_level_ratio(needed - 1, traffic, aht, target) < goal
    else:
        assert needed == max(1, math.floor(traffic) + 1)


@given(agents=st.integers(min_value=1, max_value=400), traffic=traffics)
def test_occupancy_is_a_ratio(agents: int, traffic: float) -> None:
    occupancy = erlang.occupancy_ratio(agents, traffic)
    assert 0.0 < occupancy <= 1.0
    if agents > traffic:
        assert occupancy == pytest.approx(traffic / agents)


@given(agents=st.integers(min_value=0, max_value=10_000), shrinkage=st.floats(0.0, 0.95))
def test_positions_cover_agents_after_shrinkage(agents: int, shrinkage: float) -> None:
    positions = erlang.positions_with_shrinkage(agents, shrinkage)
    assert positions >= agents
    assert positions * (1 - shrinkage) >= agents * (1 - 1e-6)
    if positions > 0:
        assert (positions - 1) * (1 - shrinkage) < agents


@given(
    agents=st.integers(min_value=300, max_value=1_000),
    traffic=st.floats(min_value=250.0, max_value=900.0),
)
def test_large_cases_stay_finite(agents: int, traffic: float) -> None:
    assume(agents > traffic)
    c = erlang.p_wait(agents, traffic)
    asa = erlang.asa_s(agents, traffic, AHT_S)
    assert math.isfinite(c) and 0.0 <= c <= 1.0
    assert asa is not None and math.isfinite(asa)
