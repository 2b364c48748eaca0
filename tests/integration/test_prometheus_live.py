"""A real Prometheus (Debian's) scraping a worker fed by the simulator's ``spike`` scenario, with
the project's rules loaded: the callpulse series come through its HTTP API, and the wait-time
spike alert goes to firing for the spiking queue."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from launcher import embedded

from .stack import ROOT, Stack, WorkerProc, wait_until

pytestmark = pytest.mark.integration

RULES = ROOT / "deploy" / "prometheus" / "callpulse-rules.yml"


def api(port: int, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}{query}", timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def ready(port: int) -> bool:
    """Prometheus opens its port before its storage is up and answers 503 until then."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def test_prometheus_scrapes_the_worker_and_the_spike_pages(
        stack: Stack, unique: str, logdir: Path) -> None:
    # Levels low enough for a test to see the alert within a minute or two: the rule reads
    # them from the worker, which reads this file.
    queues = logdir / "queues.toml"
    queues.write_text("[defaults.alerts.oldest_wait_s]\nwarn = 5\ncrit = 10\n")
    worker = WorkerProc(stack.env(unique, CALLPULSE_QUEUE_CONFIG=str(queues)),
                        logdir / "worker.log").start()
    port = embedded.free_port()
    config = logdir / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 2s, evaluation_interval: 2s}}
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: callpulse-worker
    static_configs: [{{targets: ["127.0.0.1:{worker.port}"]}}]
""")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={logdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=(logdir / "prometheus.log").open("wb"), stderr=subprocess.STDOUT)
    simulator = subprocess.Popen(
        # Ten times real time: the spike (half of sales' agents in a meeting, four times the
        # calls) keeps callers waiting over the level for the rule's minute of wall time. At a
        # steady 0.6 of the busiest hour (it fired after about 70 s at 0.55 and at 0.8): by
        # the time of day, the calls of an evening or a night are too few to make a queue wait.
        [sys.executable, "-m", "launcher.cli", "simulate", "--scenario", "spike", "--spike-at",
         "10", "--speed", "10", "--duration", "7200", "--seed", "3", "--queues", "3",
         "--agents", "40", "--load", "0.6"],
        cwd=ROOT, env=stack.env(unique), stdout=(logdir / "simulator.log").open("wb"),
        stderr=subprocess.STDOUT)
    try:
        embedded.wait_port("127.0.0.1", port, 30, prometheus, "prometheus")
        wait_until(lambda: ready(port), 60, "prometheus ready")
        wait_until(lambda: api(port, "query", query="callpulse_queue_offered_total")["result"],
                   60, "callpulse series in Prometheus")
        up = api(port, "query", query='up{job="callpulse-worker"}')["result"]
        assert [float(s["value"][1]) for s in up] == [1.0]
        levels = api(port, "query", query='callpulse_queue_alert_level{alert="oldest_wait_s"}')
        assert {float(s["value"][1]) for s in levels["result"]} == {5.0, 10.0}

        def firing() -> list[dict[str, Any]]:
            return [a for a in api(port, "alerts")["alerts"]
                    if a["labels"]["alertname"] == "CallpulseWaitTimeSpike"
                    and a["state"] == "firing"]

        wait_until(firing, 240, "the wait-time spike alert to fire")
        alert = firing()[0]
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["queue"] == "sales"  # the scenario's spiking queue
        assert "Queue sales (default)" in alert["annotations"]["summary"]
        active_at = datetime.fromisoformat(alert["activeAt"][:19] + "+00:00").timestamp()
        assert time.time() - active_at >= 59  # pending for its minute first
        rules = api(port, "rules")["groups"]
        assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
    finally:
        simulator.terminate()
        prometheus.terminate()
        simulator.wait(10)
        prometheus.wait(10)
        worker.terminate()
