"""Peer for bench_worker: a plain Faust app with a hopping-window table (60 min / 10 s), count
and sum of waits per queue, the textbook way (one table update per event).

Usage: python faust_hopping.py BROKER TOPIC EXPECTED SECONDS  (prints "<n> <elapsed_s>" lines)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import timedelta

import faust

broker, topic_name, expected, limit_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
app = faust.App(f"peer-faust-{int(time.time())}", broker=f"kafka://{broker}", store="memory://",
                processing_guarantee="at_least_once", web_enabled=False, autodiscover=False,
                web_port=int(os.environ.get("PEER_WEB_PORT", "6066")),
                broker_session_timeout=6, broker_heartbeat_interval=1, broker_rebalance_timeout=5,
                topic_partitions=4, value_serializer="raw", key_serializer="raw",
                consumer_auto_offset_reset="earliest", datadir=tempfile.mkdtemp())
topic = app.topic(topic_name, value_type=bytes, key_type=bytes)
counts = app.Table("counts", default=int, partitions=4).hopping(
    timedelta(minutes=60), timedelta(seconds=10), expires=timedelta(hours=2))
waits = app.Table("waits", default=float, partitions=4).hopping(
    timedelta(minutes=60), timedelta(seconds=10), expires=timedelta(hours=2))
state = {"n": 0, "t0": 0.0}


@app.agent(topic)
async def fold(stream: faust.StreamT) -> None:
    async for _key, value in stream.items():
        if state["n"] == 0:
            state["t0"] = time.perf_counter()
        e = json.loads(value)
        queue = e.get("queue", "-")
        counts[queue] += 1
        waits[queue] += float(e.get("wait_s") or 0)
        state["n"] += 1
        elapsed = time.perf_counter() - state["t0"]
        if state["n"] % 1000 == 0 or state["n"] >= expected or elapsed > limit_s:
            print(f"{state['n']} {elapsed:.3f}", flush=True)
            if state["n"] >= expected or elapsed > limit_s:
                os._exit(0)  # measured: no need for a graceful shutdown


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
