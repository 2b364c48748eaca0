"""`callpulse replay` wall time on a JSON Lines file of synthetic events.

Goal (issue 2): 1,000,000 events in under 10 s. Runs the command as a user would (its default
jobs: one per CPU for a file this size), then on one process for comparison.
Usage: python benchmarks/bench_replay.py [--events N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthetic import stream

from callpulse.events import encode_event


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("wb") as f:
            for e in stream(args.events, queues=50, agents=500):
                f.write(encode_event(e) + b"\n")
        size_mb = path.stat().st_size / 1e6
        for label, extra in (("default jobs", []), ("--jobs 1", ["--jobs", "1"])):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "callpulse.cli", "replay", str(path), "--json",
                            *extra], check=True, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - t0
            print(f"replay ({label}, {len(os.sched_getaffinity(0))} CPUs): {args.events:,} "
                  f"events ({size_mb:.0f} MB JSON Lines) in {elapsed:.1f} s = "
                  f"{args.events / elapsed:,.0f} ev/s")


if __name__ == "__main__":
    main()
