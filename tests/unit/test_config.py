"""`callpulse.config`: defaults, per-queue and per-tenant overrides, alert levels, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callpulse.config import ALERT_RULES, AlertLevels, Config, QueueConfig, load_config, parse_config
from callpulse.errors import CallpulseError, ConfigError

TOML = """
[defaults]
sl_threshold_s = 30
timezone = "Europe/Berlin"

[queues.sales]
sl_threshold_s = 10.5
sl_formula = "answered_only"
day_start = "06:30"

[queues."acme/sales"]
sl_goal_ratio = 0.9
short_abandon_s = 0

[queues.support.alerts.oldest_wait_s]
warn = 30
for_s = 10

[queues.support.alerts.abandon_ratio]
crit = false
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queues.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_built_in_defaults() -> None:
    q = QueueConfig()
    assert (q.sl_threshold_s, q.sl_goal_ratio, q.sl_formula, q.short_abandon_s) == (
        20.0, 0.80, "excl_short_abandons", 5.0,
    )
    assert (q.timezone, q.day_start, q.max_wait_s) == ("UTC", "00:00", 14_400.0)
    assert (q.sl_threshold_ms, q.short_abandon_ms, q.day_start_min) == (20_000, 5_000, 0)
    assert set(q.alerts) == set(ALERT_RULES)
    assert q.alerts["oldest_wait_s"] == AlertLevels(60, 120, 30.0, 300.0)


def test_empty_config_gives_the_defaults_everywhere(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""))
    assert cfg == Config()
    assert cfg.for_queue("default", "anything") == QueueConfig()
    assert parse_config({}) == Config()


def test_queues_not_named_get_the_file_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TOML))
    q = cfg.for_queue("default", "billing")
    assert q is cfg.defaults
    assert q.sl_threshold_s == 30.0
    assert isinstance(q.sl_threshold_s, float)
    assert q.timezone == "Europe/Berlin"
    assert (q.sl_formula, q.sl_goal_ratio, q.day_start) == ("excl_short_abandons", 0.8, "00:00")


def test_per_queue_override_inherits_the_file_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TOML))
    q = cfg.for_queue("default", "sales")
    assert q.sl_threshold_s == 10.5
    assert q.sl_threshold_ms == 10_500
    assert q.sl_formula == "answered_only"
    assert (q.day_start, q.day_start_min) == ("06:30", 390)
    assert q.timezone == "Europe/Berlin"  # from [defaults]
    assert q.sl_goal_ratio == 0.8  # built in
    # Any tenant without its own table gets the plain queue table.
    assert cfg.for_queue("other", "sales") == q


def test_tenant_qualified_queue(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TOML))
    q = cfg.for_queue("acme", "sales")
    assert q.sl_goal_ratio == 0.9
    assert (q.short_abandon_s, q.short_abandon_ms) == (0.0, 0)
    # "acme/sales" is built on [defaults], not on [queues.sales].
    assert q.sl_threshold_s == 30.0
    assert q.sl_formula == "excl_short_abandons"
    assert q.timezone == "Europe/Berlin"
    assert cfg.for_queue("acme", "support") == cfg.for_queue("default", "support")
    assert cfg.for_queue("acme", "billing") is cfg.defaults
    assert set(cfg.queues) == {"sales", "acme/sales", "support"}


def test_alert_level_overrides(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TOML))
    alerts = cfg.for_queue("default", "support").alerts
    assert alerts["oldest_wait_s"] == AlertLevels(warn=30.0, crit=120, for_s=10.0, cooldown_s=300.0)
    # `false` turns one level off; the others keep their defaults.
    assert alerts["abandon_ratio"] == AlertLevels(warn=0.05, crit=None, for_s=60, cooldown_s=300.0)
    for name in set(ALERT_RULES) - {"oldest_wait_s", "abandon_ratio"}:
        assert alerts[name] == ALERT_RULES[name][1]
    # Other queues keep the defaults.
    assert cfg.for_queue("default", "sales").alerts["oldest_wait_s"] == AlertLevels(60, 120)


def test_alert_overrides_in_defaults_reach_every_queue() -> None:
    cfg = parse_config({
        "defaults": {"alerts": {"callbacks_pending": {"warn": 5, "cooldown_s": 60}}},
        "queues": {"sales": {"sl_threshold_s": 15}},
    })
    want = AlertLevels(warn=5.0, crit=25, for_s=30.0, cooldown_s=60.0)
    assert cfg.defaults.alerts["callbacks_pending"] == want
    assert cfg.for_queue("default", "sales").alerts["callbacks_pending"] == want


def test_with_overrides() -> None:
    cfg = parse_config({"queues": {"sales": {"sl_threshold_s": 15}}}).with_overrides(sl_threshold_s=10.0)
    assert cfg.defaults.sl_threshold_s == 10.0
    assert cfg.for_queue("default", "sales").sl_threshold_s == 10.0
    with pytest.raises(ConfigError, match=r"command line.*sl_goal_ratio"):
        Config().with_overrides(sl_goal_ratio=1.0)


# -- validation errors -----------------------------------------------------------------------


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert isinstance(info.value, CallpulseError)
    return str(info.value)


def test_unknown_table() -> None:
    msg = _error({"default": {}})
    assert "unknown table" in msg
    assert "default" in msg


@pytest.mark.parametrize(
    ("raw", "table", "key"),
    [
        ({"defaults": {"sl_treshold_s": 20}}, "[defaults]", "sl_treshold_s"),
        ({"queues": {"sales": {"colour": "red"}}}, "sales", "colour"),
        ({"queues": {"acme/sales": {"sla": 1}}}, "acme/sales", "sla"),
    ],
)
def test_unknown_key(raw: dict[str, Any], table: str, key: str) -> None:
    msg = _error(raw)
    assert "unknown key" in msg
    assert table in msg
    assert key in msg


@pytest.mark.parametrize(
    ("raw", "table", "key"),
    [
        ({"defaults": {"sl_threshold_s": "20"}}, "[defaults]", "sl_threshold_s"),
        ({"defaults": {"sl_threshold_s": True}}, "[defaults]", "sl_threshold_s"),
        ({"queues": {"sales": {"timezone": 1}}}, "sales", "timezone"),
        ({"queues": {"sales": {"day_start": 630}}}, "sales", "day_start"),
        ({"queues": {"sales": {"sl_formula": ["answered_only"]}}}, "sales", "sl_formula"),
        ({"queues": {"sales": {"max_wait_s": "4h"}}}, "sales", "max_wait_s"),
    ],
)
def test_wrong_type(raw: dict[str, Any], table: str, key: str) -> None:
    msg = _error(raw)
    assert table in msg
    assert key in msg


def test_tables_of_the_wrong_shape() -> None:
    assert "[queues]" in _error({"queues": ["sales"]})
    assert "sales" in _error({"queues": {"sales": 5}})
    assert "[defaults]" in _error({"defaults": 5})


def test_bad_formula() -> None:
    msg = _error({"queues": {"sales": {"sl_formula": "genesys"}}})
    assert "sales" in msg
    assert "sl_formula" in msg
    assert "genesys" in msg


def test_bad_timezone() -> None:
    msg = _error({"queues": {"sales": {"timezone": "Mars/Olympus"}}})
    assert "sales" in msg
    assert "Mars/Olympus" in msg
    assert "[defaults]" in _error({"defaults": {"timezone": "CEST+2"}})


@pytest.mark.parametrize("text", ["24:00", "06:60", "6:30:00", "0630", "", "noon"])
def test_bad_day_start(text: str) -> None:
    msg = _error({"queues": {"sales": {"day_start": text}}})
    assert "sales" in msg
    assert "day start" in msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sl_goal_ratio", 0),
        ("sl_goal_ratio", 1),
        ("sl_goal_ratio", 1.5),
        ("sl_goal_ratio", -0.1),
        ("sl_threshold_s", 0),
        ("sl_threshold_s", -5),
        ("short_abandon_s", -1),
        ("max_wait_s", 0),
        ("max_callback_age_s", -1),
        ("wait_spike_floor_s", -0.5),
    ],
)
def test_out_of_range(key: str, value: float) -> None:
    msg = _error({"queues": {"acme/sales": {key: value}}})
    assert "acme/sales" in msg
    assert key in msg
    assert "out of range" in msg


def test_goal_in_range_is_fine() -> None:
    cfg = parse_config({"defaults": {"sl_goal_ratio": 0.95}})
    assert cfg.defaults.sl_goal_ratio == 0.95


def test_unknown_alert() -> None:
    msg = _error({"queues": {"sales": {"alerts": {"queue_on_fire": {"warn": 1}}}}})
    assert "sales" in msg
    assert "alerts" in msg
    assert "queue_on_fire" in msg


@pytest.mark.parametrize(
    ("levels", "key"),
    [
        ({"warn": -1}, "warn"),
        ({"crit": "high"}, "crit"),
        ({"for_s": False}, "for_s"),
        ({"cooldown_s": True}, "cooldown_s"),
    ],
)
def test_bad_alert_level(levels: dict[str, Any], key: str) -> None:
    msg = _error({"defaults": {"alerts": {"oldest_wait_s": levels}}})
    assert "[defaults]" in msg
    assert "oldest_wait_s" in msg
    assert key in msg


def test_bad_alert_table() -> None:
    assert "oldest_wait_s" in _error({"defaults": {"alerts": {"oldest_wait_s": {"level": 3}}}})
    assert "oldest_wait_s" in _error({"defaults": {"alerts": {"oldest_wait_s": 60}}})
    assert "alerts" in _error({"defaults": {"alerts": 60}})


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[queues.sales]\nsl_formula = "nope"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "sales" in str(info.value)
    assert "sl_formula" in str(info.value)


def test_load_config_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[queues.sales\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
