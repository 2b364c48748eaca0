"""Per-queue configuration: thresholds, service-level formula, calendar and alert levels.

One TOML file holds ``[defaults]`` and ``[queues."<name>"]`` tables (a name may be qualified by
tenant as ``"<tenant>/<queue>"``); a queue the file does not name gets the defaults. Every value
is validated on load, and an error names the table and key at fault. See ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError
from .tally import SL_FORMULAS
from .timeframes import parse_day_start, zone


@dataclass(frozen=True, slots=True)
class AlertLevels:
    """One alert rule's levels: it fires at ``warn``/``crit`` after the condition has held for
    ``for_s``, and once cleared it cannot fire again for ``cooldown_s``."""

    warn: float | None
    crit: float | None
    for_s: float = 30.0
    cooldown_s: float = 300.0


# Rule name -> (direction, default levels). "above" fires when value >= level, "below" when
# value <= level. spec/METRICS.md, "Alerts".
ALERT_RULES: Final[Mapping[str, tuple[str, AlertLevels]]] = {
    "oldest_wait_s": ("above", AlertLevels(60, 120)),
    "service_level_ratio": ("below", AlertLevels(0.80, 0.60, for_s=60)),
    "abandon_ratio": ("above", AlertLevels(0.05, 0.10, for_s=60)),
    "callbacks_pending": ("above", AlertLevels(10, 25)),
    "oldest_callback_s": ("above", AlertLevels(1800, 3600)),
    "no_agent_available": ("above", AlertLevels(1, 3, for_s=15)),
    "wait_spike": ("above", AlertLevels(2.0, 3.0, for_s=60)),
    "staffing_gap": ("above", AlertLevels(1, 3, for_s=120)),
}


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Everything that shapes one queue's metrics (``spec/METRICS.md``, "Per queue")."""

    sl_threshold_s: float = 20.0
    sl_goal_ratio: float = 0.80
    sl_formula: str = "excl_short_abandons"
    short_abandon_s: float = 5.0
    timezone: str = "UTC"
    day_start: str = "00:00"
    max_wait_s: float = 4 * 3600.0
    max_callback_age_s: float = 7 * 86400.0
    wait_spike_floor_s: float = 30.0
    alerts: Mapping[str, AlertLevels] = field(
        default_factory=lambda: {name: levels for name, (_, levels) in ALERT_RULES.items()}
    )

    @property
    def sl_threshold_ms(self) -> int:
        return round(self.sl_threshold_s * 1000)

    @property
    def short_abandon_ms(self) -> int:
        return round(self.short_abandon_s * 1000)

    @property
    def day_start_min(self) -> int:
        return parse_day_start(self.day_start)

    def validate(self, where: str) -> QueueConfig:
        """Return self, or raise :class:`ConfigError` naming ``where`` and the bad key."""
        checks = (
            ("sl_threshold_s", self.sl_threshold_s > 0),
            ("sl_goal_ratio", 0 < self.sl_goal_ratio < 1),
            ("short_abandon_s", self.short_abandon_s >= 0),
            ("max_wait_s", self.max_wait_s > 0),
            ("max_callback_age_s", self.max_callback_age_s > 0),
            ("wait_spike_floor_s", self.wait_spike_floor_s >= 0),
        )
        for key, ok in checks:
            if not ok:
                raise ConfigError(f"{where}.{key}: {getattr(self, key)!r} is out of range")
        if self.sl_formula not in SL_FORMULAS:
            raise ConfigError(
                f"{where}.sl_formula: {self.sl_formula!r} is not one of {', '.join(SL_FORMULAS)}"
            )
        try:
            zone(self.timezone)
            parse_day_start(self.day_start)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return self


_QUEUE_KEYS: Final = {f.name for f in dataclasses.fields(QueueConfig)} - {"alerts"}
_LEVEL_KEYS: Final = {f.name for f in dataclasses.fields(AlertLevels)}


@dataclass(frozen=True, slots=True)
class Config:
    """Defaults plus the queues a file names; :meth:`for_queue` resolves one queue."""

    defaults: QueueConfig = field(default_factory=QueueConfig)
    queues: Mapping[str, QueueConfig] = field(default_factory=dict)

    def for_queue(self, tenant: str, queue: str) -> QueueConfig:
        """``"<tenant>/<queue>"`` first, then ``"<queue>"``, then the defaults."""
        return self.queues.get(f"{tenant}/{queue}") or self.queues.get(queue) or self.defaults

    def with_overrides(self, **values: Any) -> Config:
        """The same configuration with ``values`` forced on the defaults and every named queue
        (used by command-line flags, which win over the file)."""
        if not values:
            return self
        where = "command line"
        return Config(
            defaults=replace(self.defaults, **values).validate(where),
            queues={k: replace(q, **values).validate(where) for k, q in self.queues.items()},
        )


def load_config(path: str | Path) -> Config:
    """Read and validate a queue configuration TOML file."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read queue configuration {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, str(path))


def parse_config(raw: Mapping[str, Any], where: str = "config") -> Config:
    """Build a :class:`Config` from already-parsed TOML."""
    unknown = set(raw) - {"defaults", "queues"}
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}")
    defaults = _queue(raw.get("defaults", {}), QueueConfig(), f"{where}: [defaults]")
    queues_raw = raw.get("queues", {})
    if not isinstance(queues_raw, Mapping):
        raise ConfigError(f"{where}: [queues] must be a table of queue tables")
    queues = {
        name: _queue(table, defaults, f"{where}: [queues.{name!r}]")
        for name, table in queues_raw.items()
    }
    return Config(defaults=defaults, queues=queues)


def _queue(table: object, base: QueueConfig, where: str) -> QueueConfig:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - _QUEUE_KEYS - {"alerts"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "alerts":
            values["alerts"] = _alerts(value, base.alerts, f"{where}.alerts")
            continue
        expected = type(getattr(base, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected {expected.__name__}, got {value!r}")
        values[key] = value
    return replace(base, **values).validate(where)


def _alerts(table: object, base: Mapping[str, AlertLevels], where: str) -> dict[str, AlertLevels]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    out = dict(base)
    for name, levels in table.items():
        if name not in ALERT_RULES:
            raise ConfigError(f"{where}: unknown alert {name!r} (known: {', '.join(ALERT_RULES)})")
        if not isinstance(levels, Mapping) or set(levels) - _LEVEL_KEYS:
            raise ConfigError(f"{where}.{name}: expected a table of {', '.join(sorted(_LEVEL_KEYS))}")
        for key, value in levels.items():
            ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
                value is False and key in ("warn", "crit")
            )
            if not ok or (not isinstance(value, bool) and value < 0):
                raise ConfigError(f"{where}.{name}.{key}: expected a number >= 0, got {value!r}")
        cleaned: dict[str, Any] = {
            k: (None if v is False else float(v)) for k, v in levels.items()
        }
        out[name] = replace(base[name], **cleaned)
    return out


# What a supervisor may change on a running queue (the calendar may not: see
# QueueState.reconfigure).
LIVE_KEYS: Final = frozenset({"sl_threshold_s", "sl_goal_ratio", "short_abandon_s", "alerts"})


def with_live_overrides(config: Config, overrides: Mapping[str, Mapping[str, Any]]) -> Config:
    """``config`` with per-queue changes made while running (stored in Redis by the wallboard),
    keyed like ``[queues]``: ``"<queue>"`` or ``"<tenant>/<queue>"``. Only :data:`LIVE_KEYS`
    may change; anything else is a :class:`ConfigError` naming the queue."""
    queues = dict(config.queues)
    for name, table in overrides.items():
        where = f"live override of {name!r}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be an object")
        if set(table) - LIVE_KEYS:
            raise ConfigError(f"{where}: only {', '.join(sorted(LIVE_KEYS))} can change live")
        base = config.queues.get(name)
        if base is None and "/" in name:
            base = config.queues.get(name.split("/", 1)[1])
        queues[name] = _queue(table, base or config.defaults, where)
    return Config(defaults=config.defaults, queues=queues)
