"""State size of many queues with full 60-minute windows.

Goal (issue 2): 1,000 queues with 60-minute windows under 50 MB. Feeds an hour of synthetic
traffic (every queue busy in every 10 s bucket), then reports the process's resident memory
growth and the serialised state size.
Usage: python benchmarks/bench_memory.py [--queues N] [--minutes M]
"""

from __future__ import annotations

import argparse
import gc
import resource
import tracemalloc

from synthetic import stream

from callpulse import codec
from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.queue import QueueParams


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--queues", type=int, default=1000)
    p.add_argument("--minutes", type=int, default=60)
    args = p.parse_args()
    gap_ms = 20
    n_events = int(args.minutes * 60_000 / gap_ms * 2.8)
    engine = Engine(Config(), QueueParams(keep_intervals_ms=86_400_000))
    gc.collect()
    before = _rss_mb()
    tracemalloc.start()
    engine.apply_all(stream(n_events, queues=args.queues, agents=args.queues * 5, gap_ms=gap_ms))
    gc.collect()
    # What the engine's state holds: live allocations made by callpulse's own modules.
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/callpulse/*")])
    by_file = snapshot.statistics("filename")
    state_mb = sum(s.size for s in by_file) / 1e6
    tracemalloc.stop()
    after = _rss_mb()
    q_bytes = sum(len(codec.queue_to_bytes(q)) for q in engine.queues.values())
    a_bytes = sum(len(codec.agent_to_bytes(a)) for a in engine.agents.values())
    live_calls = sum(len(q.calls) for q in engine.queues.values())
    print(f"memory: {len(engine.queues)} queues, {len(engine.agents)} agents, {n_events:,} events "
          f"over {args.minutes} min; state allocated by callpulse {state_mb:.1f} MB ("
          + ", ".join(f"{s.traceback[0].filename.rsplit('/', 1)[1]} {s.size / 1e6:.1f}"
                      for s in by_file[:5])
          + f"); RSS growth {after - before:.1f} MB; serialised queues "
          f"{q_bytes / 1e6:.1f} MB, agents {a_bytes / 1e6:.1f} MB; live call records {live_calls}")


if __name__ == "__main__":
    main()
