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
    # What the engine's state holds: every allocation made since the start and still alive
    # (the event stream is used up by then). Not by file: the compiled core has none. The
    # agents' share is what dropping the engine, its queue states kept, frees.
    after = _rss_mb()
    q_bytes = sum(len(codec.queue_to_bytes(q)) for q in engine.queues.values())
    a_bytes = sum(len(codec.agent_to_bytes(a)) for a in engine.agents.values())
    live_calls = sum(len(q.calls) for q in engine.queues.values())
    n_agents = len(engine.agents)
    state_mb = tracemalloc.get_traced_memory()[0] / 1e6
    kept = list(engine.queues.values())
    del engine  # with its agents
    gc.collect()
    queues_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    print(f"memory: {len(kept)} queues, {n_agents} agents, {n_events:,} events "
          f"over {args.minutes} min; state held: queues {queues_mb:.1f} MB (goal < 50), agents "
          f"{state_mb - queues_mb:.1f} MB; RSS growth "
          f"{after - before:.1f} MB (with tracemalloc's own); serialised queues "
          f"{q_bytes / 1e6:.1f} MB, agents {a_bytes / 1e6:.1f} MB; live call records {live_calls}")


if __name__ == "__main__":
    main()
