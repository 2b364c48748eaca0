"""Peer for bench_worker: a Quix Streams app with a hopping window (60 min / 10 s), count and
sum of waits per queue. Tansu's DescribeConfigs answer lacks ``retention.ms`` (NOTES.md), so
the topic configuration supplies it.

Usage: python quix_hopping.py BROKER TOPIC EXPECTED SECONDS  (prints "<n> <elapsed_s>" lines)
"""

from __future__ import annotations

import sys
import time

from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum
from quixstreams.models import TopicConfig

broker, topic_name, expected, limit_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
app = Application(broker_address=broker, consumer_group=f"peer-quix-{int(time.time())}",
                  auto_offset_reset="earliest", processing_guarantee="at-least-once",
                  state_dir=f"/tmp/peer-quix-state-{int(time.time())}")
config = TopicConfig(num_partitions=4, replication_factor=1,
                     extra_config={"retention.ms": "604800000", "retention.bytes": "-1"})
topic = app.topic(topic_name, value_deserializer="json", config=config,
                  timestamp_extractor=lambda value, headers, ts, ts_type: int(value["ts"]))
# Tansu's DescribeConfigs answer has no retention.ms (NOTES.md): fill it in, benchmark only.
topic.broker_config.extra_config.setdefault("retention.ms", "604800000")
state = {"n": 0, "t0": 0.0}


def progress(value: dict) -> dict:
    if state["n"] == 0:
        state["t0"] = time.perf_counter()
    state["n"] += 1
    elapsed = time.perf_counter() - state["t0"]
    if state["n"] % 1000 == 0 or state["n"] >= expected or elapsed > limit_s:
        print(state["n"], round(elapsed, 3), flush=True)
        if state["n"] >= expected or elapsed > limit_s:
            app.stop()
    value["wait"] = float(value.get("wait_s") or 0)
    return value


sdf = app.dataframe(topic)
sdf = sdf.apply(progress)
sdf = sdf.hopping_window(duration_ms=3_600_000, step_ms=10_000).agg(
    count=Count(), total_wait=Sum("wait")).final()

if __name__ == "__main__":
    app.run()
