"""``callpulse simulate``: the simulator, to Kafka or to a JSON Lines file."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from callpulse.errors import ConfigError
from callpulse.events import datetime_to_ms
from callpulse.settings import KafkaAuth, bootstrap_servers, from_env

from .simulator import SCENARIOS, SimSettings, check_load, simulate


@dataclass(frozen=True, slots=True)
class ProducerSettings(KafkaAuth):
    """What the simulator shares with the worker's settings (same ``CALLPULSE_*`` names,
    Kafka's security ones included)."""

    broker_url: str = "kafka://127.0.0.1:19092"
    calls_topic: str = "callpulse.calls"
    agents_topic: str = "callpulse.agents"
    partitions: int = 4
    replication: int = 1


def register(sub: Any) -> None:
    s = sub.add_parser("simulate", help="simulate a call center (to Kafka or a file)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--scenario", choices=SCENARIOS, default="normal")
    s.add_argument("--speed", type=float, default=1.0,
                   help="event time per wall time (0: as fast as possible; default 1)")
    s.add_argument("--duration", type=float, default=8 * 3600.0, metavar="SECONDS",
                   help="simulated seconds (default 8 h)")
    s.add_argument("--start", help="ISO time of the first event (default: now)")
    s.add_argument("--queues", type=int, default=5)
    s.add_argument("--agents", type=int, default=40)
    s.add_argument("--spike-at", type=float, default=120.0, metavar="SECONDS")
    s.add_argument("--load", type=load_share, metavar="SHARE",
                   help="arrivals at this share (0-1] of the busiest hour, at every hour "
                        "(default: by the UTC time of day, quiet at night)")
    s.add_argument("--out", type=Path, help="write JSON Lines here instead of Kafka")
    s.add_argument("--broker-url", help="default CALLPULSE_BROKER_URL or kafka://127.0.0.1:19092")
    s.set_defaults(run=_run)


def load_share(text: str) -> float:
    """``--load`` of ``simulate`` and ``demo``: a share of the busiest hour's calls."""
    try:
        return check_load(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a share of the busiest hour (above 0, at most 1): {text!r}") from None


def _start_ms(text: str | None) -> int:
    if text is None:
        return int(time.time() * 1000)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--start: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise ConfigError(f"--start: give an offset, e.g. {text}+00:00")
    return datetime_to_ms(value)


def _run(args: argparse.Namespace) -> int:
    try:
        sim = SimSettings(start_ms=_start_ms(args.start), duration_s=args.duration,
                          seed=args.seed, scenario=args.scenario, queues=args.queues,
                          agents=args.agents, spike_at_s=args.spike_at, load=args.load)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    events = simulate(sim)
    if args.out is not None:
        encoder = msgspec.json.Encoder()
        with args.out.open("wb") as f:
            n = 0
            for e in events:
                f.write(encoder.encode(e) + b"\n")
                n += 1
        print(f"callpulse simulate: wrote {n} events to {args.out}", file=sys.stderr)
        return 0
    from .kafka_sink import client_options, ensure_topics, produce

    settings = from_env(ProducerSettings, os.environ, broker_url=args.broker_url)
    servers = bootstrap_servers(settings.broker_url)

    auth = client_options(settings)

    async def main() -> int:
        await ensure_topics(servers, (settings.calls_topic, settings.agents_topic),
                            settings.partitions, settings.replication, **auth)
        return await produce(events, servers=servers, calls_topic=settings.calls_topic,
                             agents_topic=settings.agents_topic, speed=args.speed,
                             start_ms=sim.start_ms, **auth)

    try:
        n = asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    print(f"callpulse simulate: sent {n} events to {settings.broker_url}", file=sys.stderr)
    return 0
