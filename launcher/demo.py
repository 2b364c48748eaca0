"""``callpulse demo``: the whole system on embedded defaults, as child processes.

Starts the embedded broker and Redis (``launcher.embedded``), the worker, the wallboard (with a
fresh supervisor and viewer token) and the simulator (in real time, so event time is wall time);
prints the URLs; stops everything on Ctrl-C, SIGTERM or the end of ``--duration``, within 10 s,
leaving no process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from callpulse.settings import from_env
from producers.cli import load_share
from producers.simulator import SCENARIOS

from . import embedded


@dataclass(frozen=True, slots=True)
class DemoSettings:
    host: str = "127.0.0.1"
    broker_port: int = 19092
    redis_port: int = 16379
    metrics_port: int = 9108
    wallboard_port: int = 8080
    demo_dir: str = ".callpulse/demo"


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="run the whole system on embedded defaults")
    d.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after this long (default: run until Ctrl-C)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--scenario", choices=SCENARIOS, default="normal")
    d.add_argument("--agents", type=int, default=40)
    d.add_argument("--queues", type=int, default=5)
    # A steady busy hour by default: the simulator's time-of-day curve would leave a demo
    # started in the evening or at night (UTC) with an almost empty wallboard.
    d.add_argument("--load", type=load_share, default=0.8, metavar="SHARE",
                   help="calls as a share (0-1] of the busiest hour (default 0.8)")
    d.set_defaults(run=run)


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    s = from_env(DemoSettings, os.environ)
    for port, setting in ((s.broker_port, "CALLPULSE_BROKER_PORT"),
                          (s.redis_port, "CALLPULSE_REDIS_PORT"),
                          (s.metrics_port, "CALLPULSE_METRICS_PORT"),
                          (s.wallboard_port, "CALLPULSE_WALLBOARD_PORT")):
        embedded.check_port(s.host, port, setting)
    workdir = Path(s.demo_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CALLPULSE_BROKER_URL": f"kafka://{s.host}:{s.broker_port}",
           "CALLPULSE_REDIS_URL": f"redis://{s.host}:{s.redis_port}/0",
           "CALLPULSE_METRICS_PORT": str(s.metrics_port),
           "CALLPULSE_METRICS_HOST": s.host, "CALLPULSE_DATA_DIR": str(workdir / "worker"),
           "CALLPULSE_WALLBOARD_HOST": s.host, "CALLPULSE_WALLBOARD_PORT": str(s.wallboard_port)}
    # A fresh supervisor and viewer token per run, unless the caller brought their own.
    supervisor, viewer = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    own_tokens = "CALLPULSE_WALLBOARD_TOKENS" in env
    env.setdefault("CALLPULSE_WALLBOARD_TOKENS",
                   f"demo-supervisor:supervisor:{supervisor},demo-viewer:viewer:{viewer}")
    env.pop("CALLPULSE_BROKER_PORT", None)
    env.pop("CALLPULSE_REDIS_PORT", None)
    env.pop("CALLPULSE_DEMO_DIR", None)
    env.pop("CALLPULSE_HOST", None)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    status = 0
    try:
        logs = {name: (workdir / f"{name}.log").open("wb")
                for name in ("broker", "redis", "worker", "simulator", "wallboard")}
        children.append(("broker", embedded.start_broker(s.host, s.broker_port, logs["broker"])))
        children.append(("redis", embedded.start_redis(s.host, s.redis_port, workdir / "redis",
                                                       logs["redis"])))
        me = [sys.executable, "-m", "launcher.cli"]
        children.append(("worker", subprocess.Popen(
            [*me, "worker"], env=env, stdout=logs["worker"], stderr=subprocess.STDOUT)))
        embedded.wait_port(s.host, s.metrics_port, 60, children[-1][1], "the worker")
        children.append(("wallboard", subprocess.Popen(
            [*me, "wallboard"], env=env, stdout=logs["wallboard"], stderr=subprocess.STDOUT)))
        embedded.wait_port(s.host, s.wallboard_port, 30, children[-1][1], "the wallboard")
        children.append(("simulator", subprocess.Popen(
            [*me, "simulate", "--speed", "1", "--duration", str(args.duration or 24 * 3600),
             "--seed", str(args.seed), "--scenario", args.scenario, "--agents",
             str(args.agents), "--queues", str(args.queues), "--load", str(args.load)],
            env=env, stdout=logs["simulator"], stderr=subprocess.STDOUT)))
        board = f"http://{s.host}:{s.wallboard_port}"
        if own_tokens:
            pages = f"  wallboard                {board}/?token=<a token of CALLPULSE_WALLBOARD_TOKENS>\n"
        else:
            pages = (f"  wallboard (supervisor)   {board}/?token={supervisor}\n"
                     f"  wallboard (viewer)       {board}/?token={viewer}\n"
                     f"  wallboard on a TV        {board}/?token={viewer}&tv=1&rotate=20\n")
        print(f"""callpulse demo is running (logs in {workdir}/):
  broker (Kafka protocol)  {s.host}:{s.broker_port}
  Redis                    redis://{s.host}:{s.redis_port}/0
  worker metrics           http://{s.host}:{s.metrics_port}/metrics
  worker health            http://{s.host}:{s.metrics_port}/healthz
{pages}Press Ctrl-C to stop.""", file=out, flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            for name, proc in children:
                if proc.poll() is not None and name != "simulator":
                    print(f"callpulse demo: {name} exited with status {proc.returncode}; "
                          f"see {workdir / (name + '.log')}", file=sys.stderr)
                    status = 1
                    raise _Stop
            time.sleep(0.2)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for _, proc in reversed(children):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(children):
            embedded.stop(proc, timeout_s=4)
        print("callpulse demo: stopped", file=out, flush=True)
    return status
