"""``callpulse wallboard``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    w = sub.add_parser("wallboard", help="serve the wallboard page and its websocket",
                       description="Settings come from CALLPULSE_* variables "
                                   "(docs/configuration.md); flags override them.")
    w.add_argument("--host", help="address to listen on (CALLPULSE_WALLBOARD_HOST)")
    w.add_argument("--port", type=int, help="port to listen on (CALLPULSE_WALLBOARD_PORT)")
    w.add_argument("--redis-url")
    w.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .server import run
    from .settings import WallboardSettings

    settings = WallboardSettings.from_env(wallboard_host=args.host, wallboard_port=args.port,
                                          redis_url=args.redis_url)
    return run(settings)
