"""What a queue's view costs the live worker: each frame, and the whole snapshot it publishes.

The worker publishes a queue's snapshot after the batches that change it, so at 2,000 events/s
these costs, not the fold, set its publish spacing and much of issue 3's latency. The state is
a simulated day's morning of 50 queues and 500 agents (`producers.simulator`).
Usage: PYTHONPATH=. python benchmarks/bench_views.py [--hours H] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import msgspec

from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.events import decode_event
from callpulse.queue import QueueParams, QueueState
from producers.simulator import SimSettings, simulate

START_MS = 1_763_971_200_000  # 2025-11-24T08:00:00Z


def _us_per_queue(queues: list[QueueState], repeat: int, view: Callable[[QueueState], object]
                  ) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        for q in queues:
            view(q)
    return (time.perf_counter() - t0) / repeat / len(queues) * 1e6


def _frame(name: str, now_ms: int) -> Callable[[QueueState], object]:
    return lambda q: q.frame(name, now_ms)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=3.0)
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    encode = msgspec.json.Encoder().encode
    sim = SimSettings(start_ms=START_MS, duration_s=round(args.hours * 3600), seed=3, queues=50,
                      agents=500, heartbeat_s=15)
    events = [decode_event(encode(e)) for e in simulate(sim)]
    engine = Engine(Config(), QueueParams(keep_intervals_ms=86_400_000))
    engine.apply_all(events)  # type: ignore[arg-type]
    now = engine.last_ts or START_MS
    queues = list(engine.queues.values())
    agents = {"logged_in": 10, "available": 3}
    print(f"views of {len(queues)} queues after {len(events):,} events ({args.hours:g} h), "
          f"microseconds per queue:")
    for name in (*engine.params.windows_ms, "today"):
        print(f"  frame {name}: {_us_per_queue(queues, args.repeat, _frame(name, now)):.1f}")
    print(f"  live: {_us_per_queue(queues, args.repeat, lambda q: q.live(now)):.1f}")
    print(f"  trend: {_us_per_queue(queues, args.repeat, lambda q: q.trend(now)):.1f}")
    print(f"  snapshot (all of the above, staffing): "
          f"{_us_per_queue(queues, args.repeat, lambda q: q.snapshot(now, agents)):.1f}")
    print(f"  snapshot as JSON: "
          f"{_us_per_queue(queues, args.repeat, lambda q: encode(q.snapshot(now, agents))):.1f}")


if __name__ == "__main__":
    main()
