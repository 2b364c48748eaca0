"""Fold throughput of the pure engine on one core: decoded events per second.

Goal (issue 2): at least 300,000 events/s with 50 queues and 500 agents.
Usage: python benchmarks/bench_engine.py [--events N]

The machine is a shared virtual one: runs of the same code vary by up to 1.5-2 times with what
its host is doing (on 2026-12-04, 420,000-530,000 events/s in a quiet hour, 220,000-300,000 in
a busy one). ``valgrind --tool=callgrind`` counts the fold's instructions whatever the host does
(about 7,700 an event that day; the toggle to collect is ``CPyDef_engine___Engine___apply_all``).
"""

from __future__ import annotations

import argparse
import time

from synthetic import stream

from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.gc_tuning import tune_gc
from callpulse.queue import QueueParams


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--queues", type=int, default=50)
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    events = list(stream(args.events, queues=args.queues, agents=args.agents))
    calls = sum(1 for e in events if e.__class__.__name__ == "CallEvent" or hasattr(e, "call_id"))
    tune_gc()  # as replay and the worker do
    rates = []
    for _ in range(args.repeat):
        engine = Engine(Config(), QueueParams(keep_intervals_ms=86_400_000))
        t0 = time.perf_counter()
        engine.apply_all(events)
        rates.append(len(events) / (time.perf_counter() - t0))
    print(f"engine fold: {len(events):,} events ({calls:,} call events), {args.queues} queues, "
          f"{args.agents} agents: best {max(rates):,.0f} ev/s, runs "
          + ", ".join(f"{r:,.0f}" for r in rates))


if __name__ == "__main__":
    main()
