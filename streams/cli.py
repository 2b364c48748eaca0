"""``callpulse worker``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    w = sub.add_parser("worker", help="run the live worker (Kafka -> Redis and /metrics)",
                       description="Settings come from CALLPULSE_* variables "
                                   "(docs/configuration.md); flags override them.")
    w.add_argument("--broker-url")
    w.add_argument("--redis-url")
    w.add_argument("--queue-config", help="queue configuration TOML file")
    w.add_argument("--metrics-port", type=int)
    w.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .app import run
    from .settings import WorkerSettings

    settings = WorkerSettings.from_env(
        broker_url=args.broker_url, redis_url=args.redis_url, queue_config=args.queue_config,
        metrics_port=args.metrics_port)
    return run(settings)
