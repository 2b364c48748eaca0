"""The event clock, and settings read from the environment."""

from __future__ import annotations

import pytest

from callpulse.clock import EventClock
from callpulse.errors import ConfigError
from callpulse.settings import bootstrap_servers, from_env, unknown_names
from launcher.demo import DemoSettings
from producers.cli import ProducerSettings
from streams.settings import WorkerSettings


def test_clock_is_wall_time_until_the_first_event_then_event_time_carried_forward() -> None:
    c = EventClock()
    assert not c.started and c.now(5_000) == 5_000
    c.observe(1_000, wall_ms=10_000)  # an old stream: event time rules, not the wall
    assert c.started and c.now(10_000) == 1_000
    assert c.now(12_500) == 3_500  # between events it runs with the wall clock
    c.observe(2_000, wall_ms=12_500)  # older than now: no jump back
    assert c.now(12_500) == 3_500
    c.observe(9_000, wall_ms=13_000)
    assert c.now(13_000) == 9_000
    assert c.now(12_000) == 9_000  # a wall clock stepping back does not move it back


def test_worker_settings_from_env_with_types_and_overrides() -> None:
    s = WorkerSettings.from_env({"CALLPULSE_PARTITIONS": "8", "CALLPULSE_TICK_S": "0.5",
                                 "CALLPULSE_QUEUE_CONFIG": "", "CALLPULSE_BROKER_URL": "kafka://x:1"},
                                broker_url="kafka://y:2", redis_url=None)
    assert (s.partitions, s.tick_s, s.queue_config) == (8, 0.5, None)
    assert s.broker_url == "kafka://y:2" and s.redis_url == "redis://127.0.0.1:16379/0"
    assert s.worker_name  # defaults to host-pid


@pytest.mark.parametrize(("env", "message"), [
    ({"CALLPULSE_PARTITIONS": "many"}, "CALLPULSE_PARTITIONS: 'many' is not a valid int"),
    ({"CALLPULSE_PARTITIONS": "0"}, "CALLPULSE_PARTITIONS: must be at least 1"),
    ({"CALLPULSE_INTERVAL": "7m"}, "CALLPULSE_INTERVAL"),
    ({"CALLPULSE_TICK_S": "-1"}, "CALLPULSE_TICK_S: must be above 0"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorkerSettings.from_env(env)


def test_unknown_names_are_found_across_services() -> None:
    env = {"CALLPULSE_BROKER_URL": "x", "CALLPULSE_BROKER_PORT": "1", "CALLPULSE_TIKC_S": "1",
           "HOME": "/root"}
    assert unknown_names(env, (WorkerSettings, ProducerSettings, DemoSettings)) \
        == ["CALLPULSE_TIKC_S"]


def test_bootstrap_servers() -> None:
    assert bootstrap_servers("kafka://h1:9092,kafka://h2:9093") == ["h1:9092", "h2:9093"]
    assert bootstrap_servers("h:1") == ["h:1"]
    with pytest.raises(ConfigError):
        bootstrap_servers("kafka://")


def test_bool_settings() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class S:
        flag: bool = False

    assert from_env(S, {"CALLPULSE_FLAG": "yes"}).flag is True
    assert from_env(S, {"CALLPULSE_FLAG": "off"}).flag is False
    with pytest.raises(ConfigError, match="CALLPULSE_FLAG"):
        from_env(S, {"CALLPULSE_FLAG": "maybe"})
