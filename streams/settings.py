"""The worker's settings, read once from ``CALLPULSE_*`` (see ``docs/configuration.md``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from callpulse.errors import ConfigError
from callpulse.settings import KafkaAuth, from_env
from callpulse.timeframes import INTERVALS_MS


@dataclass(frozen=True, slots=True)
class WorkerSettings(KafkaAuth):
    """Everything ``callpulse worker`` reads. Every field is ``CALLPULSE_<NAME>``; the
    ``broker_*`` security fields are :class:`callpulse.settings.KafkaAuth`'s."""

    broker_url: str = "kafka://127.0.0.1:19092"
    redis_url: str = "redis://127.0.0.1:16379/0"
    app_id: str = "callpulse"
    calls_topic: str = "callpulse.calls"
    agents_topic: str = "callpulse.agents"
    presence_topic: str = "callpulse.presence"
    dlq_topic: str = "callpulse.dlq"
    partitions: int = 4
    replication: int = 1
    tick_s: float = 0.25
    refresh_s: float = 1.0
    idle_refresh_s: float = 5.0
    sweep_s: float = 5.0
    store_s: float = 1.0
    batch_max: int = 5000
    grace_s: float = 60.0
    interval: str = "15m"
    keep_intervals_h: float = 26.0
    queue_config: str | None = None
    config_poll_s: float = 2.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    data_dir: str = ".callpulse"
    worker_name: str = ""
    redis_prefix: str = "callpulse"
    log_level: str = "info"

    def __post_init__(self) -> None:
        KafkaAuth.__post_init__(self)  # (slots dataclasses cannot call super() here)
        if self.interval not in INTERVALS_MS:
            raise ConfigError(f"CALLPULSE_INTERVAL: {self.interval!r} is not one of "
                              f"{', '.join(INTERVALS_MS)}")
        for name in ("partitions", "batch_max", "replication"):
            if getattr(self, name) < 1:
                raise ConfigError(f"CALLPULSE_{name.upper()}: must be at least 1")
        for name in ("tick_s", "refresh_s", "idle_refresh_s", "sweep_s", "store_s",
                     "config_poll_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"CALLPULSE_{name.upper()}: must be above 0")
        if not self.worker_name:
            object.__setattr__(self, "worker_name", f"{socket.gethostname()}-{os.getpid()}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> WorkerSettings:
        return from_env(cls, os.environ if environ is None else environ, **overrides)
