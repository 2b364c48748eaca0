"""``callpulse demo``: starts everything, prints the URLs, serves live figures, and stops
within 10 s on SIGTERM leaving no process behind; a taken port gives a clear message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from launcher import embedded

from .stack import ROOT, wait_until

pytestmark = pytest.mark.integration


def demo_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")}
    env.update(CALLPULSE_BROKER_PORT=str(embedded.free_port()),
               CALLPULSE_REDIS_PORT=str(embedded.free_port()),
               CALLPULSE_METRICS_PORT=str(embedded.free_port()),
               CALLPULSE_WALLBOARD_PORT=str(embedded.free_port()), CALLPULSE_DEMO_DIR=str(tmp))
    return env


def test_demo_runs_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C" in line or not line:
            break
    out = "".join(lines)
    metrics_url = f"http://127.0.0.1:{env['CALLPULSE_METRICS_PORT']}/metrics"
    assert metrics_url in out, out
    assert f"127.0.0.1:{env['CALLPULSE_BROKER_PORT']}" in out
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 5  # broker, Redis, worker, wallboard, simulator
    board = f"http://127.0.0.1:{env['CALLPULSE_WALLBOARD_PORT']}/?token="
    supervisor_url = next(w for line in lines for w in line.split() if w.startswith(board))
    with urllib.request.urlopen(supervisor_url, timeout=5) as r:  # the printed URL opens the page
        assert r.status == 200 and b"wallboard.js" in r.read()

    def processed() -> float:
        with urllib.request.urlopen(metrics_url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("callpulse_events_processed_total "):
                    return float(line.split()[1])
        return 0.0

    wait_until(lambda: processed() > 0, 60, "the simulator's events to reach the worker")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert time.monotonic() - started < 10
    assert "stopped" in proc.stdout.read()
    time.sleep(0.2)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_a_taken_port_names_the_port_and_the_setting(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(env["CALLPULSE_REDIS_PORT"])))
        s.listen()
        result = subprocess.run([sys.executable, "-m", "launcher.cli", "demo", "--duration", "1"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port 127.0.0.1:{env['CALLPULSE_REDIS_PORT']} is already in use" in result.stderr
    assert "CALLPULSE_REDIS_PORT" in result.stderr
