"""The worker's resident memory before and after 1,000,000 events over 500 queues and 5,000
agents: it must not grow with events, only with queues, agents and live calls.

The events are produced first; the worker then folds them while its RSS is sampled (psutil)
at every tenth of the stream. Usage: python benchmarks/bench_worker_memory.py [--events N]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import psutil

from producers.simulator import SimSettings, simulate
from tests.integration.stack import Stack, WorkerProc, produce_events
from tests.integration.test_live_equals_replay import expected_processed

MORNING_MS = 1_763_971_200_000  # 2025-11-24T08:00:00Z


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    sim = SimSettings(start_ms=MORNING_MS, duration_s=48 * 3600, seed=2, queues=500,
                      agents=5000, heartbeat_s=15)
    events = list(itertools.islice(simulate(sim), args.events))
    expected = expected_processed(events)
    print(f"stream: {len(events):,} events, 500 queues, 5,000 agents; "
          f"{expected:,} records with heartbeats and forwards")
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            w = WorkerProc(stack.env("mem", CALLPULSE_GRACE_S="60"), Path(tmp) / "w.log").start()
            time.sleep(12)  # group join and recovery
            rss = psutil.Process(w.proc.pid).memory_info().rss  # type: ignore[union-attr]
            print(f"before any event: RSS {rss / 2**20:,.0f} MiB")
            t0 = time.perf_counter()
            produce_events(stack, "mem", events)
            print(f"produced in {time.perf_counter() - t0:.0f} s")
            step, mark = expected // 10, expected // 10
            while True:
                n = w.value("callpulse_events_processed_total") or 0
                if n >= mark:
                    rss = psutil.Process(w.proc.pid).memory_info().rss  # type: ignore[union-attr]
                    print(f"{n:>11,.0f} records folded: RSS {rss / 2**20:,.0f} MiB "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)
                    if n >= expected:
                        break
                    mark += step
                time.sleep(0.5)
            w.terminate()
        finally:
            stack.close()


if __name__ == "__main__":
    main()
