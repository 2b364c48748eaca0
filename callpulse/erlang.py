"""Erlang C staffing maths: how many agents a queue needs to answer in time.

The model is the M/M/N queue (Erlang C):

* calls arrive as a Poisson process at a constant rate over the interval;
* handling times are exponentially distributed with mean ``aht_s``;
* ``N`` identical agents serve one first-come-first-served queue of unlimited length;
* no caller abandons and no caller is blocked (everyone waits as long as it takes);
* the queue is in steady state, which exists only when ``N`` exceeds the offered traffic ``A``.

Real queues break some of these (callers abandon, arrivals are bursty, intervals are short), so
the results are the usual planning estimates, slightly pessimistic when abandonment is high.

Offered traffic ``A`` is in erlangs (``calls * aht_s / interval_s``). When ``N <= A`` the queue
grows without bound: every call waits, the service level is 0 and the average speed of answer is
undefined (``None``). Zero traffic means nothing ever waits.

The probability of waiting is computed with the Erlang B recursion
``B(0) = 1, B(n) = A*B(n-1) / (n + A*B(n-1))`` and ``C = N*B / (N - A*(1 - B))``, which stays in
``[0, 1]`` throughout, so hundreds or thousands of agents neither overflow nor lose precision.

Pure functions: no I/O, no clock. Invalid inputs raise :class:`~callpulse.errors.ConfigError`.
"""

from __future__ import annotations

import math
from typing import Final

from .errors import ConfigError

DEFAULT_MAX_AGENTS: Final = 10_000
_CEIL_EPSILON: Final = 1e-9
"""Relative slack when rounding positions up, so 14 / 0.7 (= 20.000000000000004) gives 20."""


# --------------------------------------------------------------------------- validation


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ConfigError(f"{name} must be a finite number, not {value!r}")
    return result


def _non_negative(name: str, value: float) -> float:
    result = _finite(name, value)
    if result < 0:
        raise ConfigError(f"{name} must be >= 0, not {value!r}")
    return result


def _positive(name: str, value: float) -> float:
    result = _finite(name, value)
    if result <= 0:
        raise ConfigError(f"{name} must be > 0, not {value!r}")
    return result


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, not {value!r}")
    return value


def _open_ratio(name: str, value: float) -> float:
    result = _finite(name, value)
    if not 0 < result < 1:
        raise ConfigError(f"{name} must be strictly between 0 and 1, not {value!r}")
    return result


# --------------------------------------------------------------------------- core maths


def _erlang_b_step(n: int, traffic: float, previous_b: float) -> float:
    """B(n) from B(n-1)."""
    top = traffic * previous_b
    return top / (n + top)


def _erlang_c_from_b(agents: int, traffic: float, erlang_b: float) -> float:
    """C(N, A) from B(N, A); caller guarantees ``0 < A < N``."""
    c = agents * erlang_b / (agents - traffic * (1.0 - erlang_b))
    return min(1.0, max(0.0, c))


def _service_level(agents: int, traffic: float, c: float, aht_s: float, target_s: float) -> float:
    """Service level from C; caller guarantees ``0 < A < N``."""
    level = 1.0 - c * math.exp(-(agents - traffic) * target_s / aht_s)
    return min(1.0, max(0.0, level))


def _p_wait(agents: int, traffic: float) -> float:
    """p_wait on validated inputs."""
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = _erlang_b_step(n, traffic, b)
    return _erlang_c_from_b(agents, traffic, b)


# --------------------------------------------------------------------------- public API


def traffic_erlangs(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered traffic in erlangs: ``calls * aht_s / interval_s``.

    ``calls`` >= 0, ``interval_s`` > 0 and ``aht_s`` > 0, all finite; else :class:`ConfigError`.
    """
    calls = _non_negative("calls", calls)
    interval_s = _positive("interval_s", interval_s)
    aht_s = _positive("aht_s", aht_s)
    return calls * aht_s / interval_s


def p_wait(agents: int, traffic_erlangs: float) -> float:
    """Erlang C probability that a call has to wait, in ``[0, 1]``.

    ``agents`` is a whole number >= 0, ``traffic_erlangs`` finite and >= 0. Returns 1.0 when the
    queue is unstable (``agents <= traffic_erlangs``) and 0.0 when there is no traffic.
    Non-increasing in ``agents``.
    """
    agents = _count("agents", agents)
    traffic = _non_negative("traffic_erlangs", traffic_erlangs)
    return _p_wait(agents, traffic)


def service_level_ratio(
    agents: int, traffic_erlangs: float, aht_s: float, target_s: float
) -> float:
    """Share of calls answered within ``target_s`` seconds, in ``[0, 1]``.

    ``1 - C * exp(-(N - A) * target_s / aht_s)``. 0.0 when unstable (``agents <= traffic``), 1.0
    with no traffic. ``aht_s`` > 0, ``target_s`` >= 0. Non-decreasing in ``agents`` and in
    ``target_s``.
    """
    agents = _count("agents", agents)
    traffic = _non_negative("traffic_erlangs", traffic_erlangs)
    aht_s = _positive("aht_s", aht_s)
    target_s = _non_negative("target_s", target_s)
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return _service_level(agents, traffic, _p_wait(agents, traffic), aht_s, target_s)


def asa_s(agents: int, traffic_erlangs: float, aht_s: float) -> float | None:
    """Average speed of answer in seconds over all calls: ``C * aht_s / (N - A)``.

    ``None`` when unstable (``agents <= traffic``), 0.0 with no traffic. ``aht_s`` > 0.
    """
    agents = _count("agents", agents)
    traffic = _non_negative("traffic_erlangs", traffic_erlangs)
    aht_s = _positive("aht_s", aht_s)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return None
    return _p_wait(agents, traffic) * aht_s / (agents - traffic)


def occupancy_ratio(agents: int, traffic_erlangs: float) -> float:
    """Share of agent time spent handling calls: ``min(1, A / N)``.

    0.0 with no traffic (even with no agents), 1.0 with traffic and no agents.
    """
    agents = _count("agents", agents)
    traffic = _non_negative("traffic_erlangs", traffic_erlangs)
    if traffic == 0:
        return 0.0
    if agents == 0:
        return 1.0
    return min(1.0, traffic / agents)


def agents_needed(
    traffic_erlangs: float,
    aht_s: float,
    target_s: float,
    sl_goal_ratio: float,
    max_agents: int = DEFAULT_MAX_AGENTS,
) -> int:
    """Fewest agents whose service level reaches ``sl_goal_ratio``; 0 when there is no traffic.

    Searches ``N = max(1, floor(A) + 1), ...`` (the stable sizes) and returns the first ``N`` with
    ``service_level_ratio(N, A, aht_s, target_s) >= sl_goal_ratio``; so ``N - 1`` either falls
    short of the goal or is unstable. ``sl_goal_ratio`` must lie strictly between 0 and 1,
    ``aht_s`` and ``target_s`` must be > 0; :class:`ConfigError` otherwise, and also when no
    ``N <= max_agents`` reaches the goal. Runs in O(result) time.
    """
    traffic = _non_negative("traffic_erlangs", traffic_erlangs)
    aht_s = _positive("aht_s", aht_s)
    target_s = _positive("target_s", target_s)
    goal = _open_ratio("sl_goal_ratio", sl_goal_ratio)
    max_agents = _count("max_agents", max_agents)
    if traffic == 0:
        return 0
    start = max(1, math.floor(traffic) + 1)
    # Same recursion, in the same order, as p_wait: the results agree bit for bit.
    b = 1.0
    for n in range(1, min(start, max_agents + 1)):
        b = _erlang_b_step(n, traffic, b)
    for n in range(start, max_agents + 1):
        b = _erlang_b_step(n, traffic, b)
        c = _erlang_c_from_b(n, traffic, b)
        if _service_level(n, traffic, c, aht_s, target_s) >= goal:
            return n
    raise ConfigError(
        f"no staffing up to max_agents={max_agents} reaches a service level of {goal} "
        f"for {traffic} erlangs"
    )


def positions_with_shrinkage(agents: int, shrinkage_ratio: float) -> int:
    """Scheduled positions so that ``agents`` remain after shrinkage: ``ceil(N / (1 - s))``.

    ``agents`` >= 0; ``shrinkage_ratio`` in ``[0, 1)``, else :class:`ConfigError`. A relative
    slack of 1e-9 absorbs float error, so 14 agents at 0.3 shrinkage give 20, not 21.
    """
    agents = _count("agents", agents)
    shrinkage = _finite("shrinkage_ratio", shrinkage_ratio)
    if not 0 <= shrinkage < 1:
        raise ConfigError(f"shrinkage_ratio must be >= 0 and < 1, not {shrinkage_ratio!r}")
    raw = agents / (1.0 - shrinkage)
    return math.ceil(raw * (1.0 - _CEIL_EPSILON))


def staffing(
    calls: float,
    interval_s: float,
    aht_s: float,
    target_s: float,
    agents: int | None = None,
    sl_goal_ratio: float | None = None,
    shrinkage_ratio: float = 0.0,
) -> dict[str, float | int | None]:
    """The ``callpulse erlang`` report for one interval, rounded for display.

    Always ``traffic_erlangs`` (4 decimals). With ``agents``: ``p_wait``,
    ``service_level_ratio`` and ``occupancy_ratio`` (4 decimals) and ``asa_s`` (2 decimals, or
    ``None`` when unstable). With ``sl_goal_ratio``: ``agents_needed`` and
    ``positions_with_shrinkage`` (whole numbers). All inputs are validated up front, including
    ``target_s`` (>= 0; > 0 when a goal is given) and ``shrinkage_ratio`` (in ``[0, 1)``), and
    raise :class:`ConfigError` when invalid.
    """
    traffic = traffic_erlangs(calls, interval_s, aht_s)
    target_s = _non_negative("target_s", target_s)
    positions_with_shrinkage(0, shrinkage_ratio)  # validates shrinkage_ratio
    report: dict[str, float | int | None] = {"traffic_erlangs": round(traffic, 4)}
    if agents is not None:
        asa = asa_s(agents, traffic, aht_s)
        report["p_wait"] = round(p_wait(agents, traffic), 4)
        report["service_level_ratio"] = round(
            service_level_ratio(agents, traffic, aht_s, target_s), 4
        )
        report["asa_s"] = None if asa is None else round(asa, 2)
        report["occupancy_ratio"] = round(occupancy_ratio(agents, traffic), 4)
    if sl_goal_ratio is not None:
        needed = agents_needed(traffic, aht_s, target_s, sl_goal_ratio)
        report["agents_needed"] = needed
        report["positions_with_shrinkage"] = positions_with_shrinkage(needed, shrinkage_ratio)
    return report
