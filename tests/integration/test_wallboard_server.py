"""The wallboard server with a real Redis: access (tokens, Origin), snapshot then deltas,
supervisors' commands stored and logged, Redis restarted under it, servers side by side, and a
slow client dropped."""

from __future__ import annotations

import asyncio
import gc
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callpulse.board import ClientView
from launcher import embedded
from monitor_ui.server import WallboardServer, create_app
from monitor_ui.settings import WallboardSettings
from streams.publisher import SnapshotPublisher

from .stack import Stack

pytestmark = pytest.mark.integration

SUP = "supervisor-secret-0001"
VIEW = "viewer-secret-00000001"


def settings(stack: Stack, prefix: str, **extra: Any) -> WallboardSettings:
    return WallboardSettings(
        wallboard_port=embedded.free_port(), redis_url=f"redis://{stack.host}:{stack.redis_port}/0",
        redis_prefix=prefix, wallboard_tokens=(f"alice:supervisor:{SUP}", f"tv:viewer:{VIEW}"),
        **extra)


@asynccontextmanager
async def running(s: WallboardSettings) -> AsyncIterator[WallboardServer]:
    server = create_app(s)
    await server.start()
    try:
        await until(lambda: server.stats.redis_up)
        yield server
    finally:
        await server.stop()


async def until(check: Callable[[], object], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


class Client:
    """A websocket client following the protocol with callpulse.board.ClientView."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.view = ClientView()
        self.hello: dict[str, Any] = {}
        self.replies: list[dict[str, Any]] = []
        self.status: dict[str, Any] = {}
        self.snapshots = 0

    async def pump(self, timeout_s: float = 0.5) -> None:
        """Take messages for up to ``timeout_s``."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                return
            msg = json.loads(raw)
            if msg["type"] == "hello":
                self.hello = msg
            elif msg["type"] == "reply":
                self.replies.append(msg)
            elif msg["type"] == "status":
                self.status = msg
            else:
                self.snapshots += msg["type"] == "snapshot"
                answer = self.view.receive(raw)
                if answer is not None:
                    await self.ws.send(answer)

    async def wait_for(self, check: Callable[[Client], object], timeout_s: float = 10.0) -> None:
        for _ in range(int(timeout_s / 0.1)):
            if check(self):
                return
            await self.pump(0.1)
        raise AssertionError("the client never saw it")

    def data(self, kind: str, key: str) -> Any:
        item = self.view.items.get((kind, key))
        return None if item is None else item["data"]


@asynccontextmanager
async def client(server: WallboardServer, token: str = SUP, **kwargs: Any) -> AsyncIterator[Client]:
    async with connect(f"ws://127.0.0.1:{server.port}/ws?token={token}", **kwargs) as ws:
        yield Client(ws)


def publisher(stack: Stack, prefix: str) -> SnapshotPublisher:
    return SnapshotPublisher(aioredis.Redis(host=stack.host, port=stack.redis_port), prefix)


def http(server: WallboardServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


def test_the_page_and_the_websocket_need_a_token_and_a_known_origin(stack: Stack, unique: str) -> None:
    async def go() -> None:
        async with running(settings(stack, unique)) as server:
            status, _, body = await asyncio.to_thread(http, server, "/")
            assert status == 401 and b"token" in body
            status, _, _ = await asyncio.to_thread(http, server, "/?token=wrong-token-000000000")
            assert status == 401
            status, headers, body = await asyncio.to_thread(http, server, f"/?token={VIEW}")
            assert status == 200 and b"wallboard.js" in body
            assert "HttpOnly" in headers["Set-Cookie"] and "default-src 'self'" in \
                headers["Content-Security-Policy"]
            status, _, _ = await asyncio.to_thread(http, server, "/wallboard.js",
                                                   Cookie=f"callpulse_token={VIEW}")
            assert status == 200
            status, _, body = await asyncio.to_thread(http, server, "/healthz")
            assert status == 200 and json.loads(body)["redis_up"] is True
            status, _, _ = await asyncio.to_thread(http, server, f"/etc/passwd?token={VIEW}")
            assert status == 404

            for url, origin, code in (
                (f"ws://127.0.0.1:{server.port}/ws", None, 401),
                (f"ws://127.0.0.1:{server.port}/ws?token=nope-nope-nope-nope", None, 401),
                (f"ws://127.0.0.1:{server.port}/ws?token={VIEW}", "https://evil.example.net", 403),
            ):
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(url, origin=origin):  # type: ignore[arg-type]
                        pass
                assert refused.value.response.status_code == code
            async with connect(f"ws://127.0.0.1:{server.port}/ws?token={VIEW}",
                               origin=f"http://localhost:{server.port}") as ws:  # type: ignore[arg-type]
                assert json.loads(await ws.recv())["role"] == "viewer"

    run(go)


def test_a_client_gets_the_state_then_each_change_and_resyncs_after_a_gap(
        stack: Stack, unique: str) -> None:
    async def go() -> None:
        pub = publisher(stack, unique)
        await pub.publish({("queue", "default/sales"): b'{"waiting":1,"as_of_ms":1}',
                           ("agent", "default/a1"): b'{"state":"available","caller":"+4930123456"}'},
                          {})
        async with running(settings(stack, unique, wallboard_heartbeat_s=0.2)) as server, \
                client(server) as c:
            await c.wait_for(lambda c: c.data("queue", "default/sales") is not None)
            assert c.hello == {"type": "hello", "name": "alice", "role": "supervisor",
                               "stale_after_s": 10.0, "heartbeat_s": 0.2, "redis_up": True}
            assert c.data("agent", "default/a1") == {"state": "available", "caller": "[masked]"}
            seq = c.view.seq
            await c.pump(0.5)  # heartbeats keep the sequence moving while nothing changes
            assert c.view.seq is not None and seq is not None and c.view.seq > seq

            await pub.publish({("queue", "default/sales"): b'{"waiting":2,"as_of_ms":2}'}, {})
            await c.wait_for(lambda c: c.data("queue", "default/sales")["waiting"] == 2, 1.0)

            c.view.seq = (c.view.seq or 0) - 3  # as if messages were lost
            await pub.publish({("queue", "default/sales"): b'{"waiting":3,"as_of_ms":3}'}, {})
            await c.wait_for(lambda c: c.snapshots == 2 and not c.view.resyncing)
            assert c.data("queue", "default/sales")["waiting"] == 3

    run(go)


def test_supervisors_change_thresholds_and_acknowledge_viewers_cannot(
        stack: Stack, unique: str) -> None:
    async def go() -> None:
        r = aioredis.Redis(host=stack.host, port=stack.redis_port, decode_responses=True)
        async with running(settings(stack, unique)) as server, client(server) as sup, \
                client(server, VIEW) as tv:
            await sup.pump(0.2)
            await tv.pump(0.2)
            change = {"type": "set_thresholds", "id": 1, "queue": "default/sales",
                      "changes": {"sl_threshold_s": 30, "alerts": {"oldest_wait_s": {"warn": 45}}}}
            await tv.ws.send(json.dumps(change))
            await tv.wait_for(lambda c: c.replies)
            assert tv.replies[0]["ok"] is False and tv.replies[0]["code"] == "forbidden"
            assert await r.hget(f"{unique}:config", "default/sales") is None

            await sup.ws.send(json.dumps(change))
            await sup.wait_for(lambda c: c.replies)
            assert sup.replies[0] == {"type": "reply", "id": 1, "ok": True}
            await sup.ws.send(json.dumps({**change, "id": 2, "changes": {
                "alerts": {"oldest_wait_s": {"crit": 90}}}}))
            await sup.wait_for(lambda c: len(c.replies) == 2)
            stored = json.loads(await r.hget(f"{unique}:config", "default/sales") or "{}")
            assert stored == {"sl_threshold_s": 30, "alerts": {"oldest_wait_s": {"warn": 45, "crit": 90}}}
            log = await r.xrange(f"{unique}:audit:log")
            assert [json.loads(fields["entry"])["by"] for _, fields in log] == ["alice", "alice"]
            # Every board hears of the change, with who made it.
            await tv.wait_for(lambda c: (c.data("audit", "default/sales") or {}).get("by") == "alice")

            await sup.ws.send(json.dumps({"type": "set_thresholds", "id": 3, "queue": "default/sales",
                                          "changes": {"sl_threshold_s": -5}}))
            await sup.wait_for(lambda c: len(c.replies) == 3)
            assert sup.replies[2]["code"] == "invalid"

            ack = {"type": "ack", "id": 4, "queue": "default/sales", "alert": "oldest_wait_s",
                   "since_ms": 123}
            await sup.ws.send(json.dumps(ack))  # not firing: nothing to acknowledge
            await sup.wait_for(lambda c: len(c.replies) == 4)
            assert sup.replies[3]["code"] == "not_firing"
            await publisher(stack, unique).publish({("queue", "default/sales"): json.dumps(
                {"alerts": [{"alert": "oldest_wait_s", "severity": "crit", "since_ms": 123}]}
            ).encode()}, {})
            await sup.wait_for(lambda c: c.data("queue", "default/sales") is not None)
            await sup.ws.send(json.dumps({**ack, "id": 5}))
            await tv.wait_for(lambda c: c.data("ack", "default/sales/oldest_wait_s") is not None)
            assert tv.data("ack", "default/sales/oldest_wait_s")["by"] == "alice"
            log = await r.xrange(f"{unique}:audit:log")
            assert json.loads(log[-1][1]["entry"])["action"] == "ack"
        await r.aclose()

    run(go)


def test_servers_side_by_side_and_a_redis_restart_resyncs_every_client(
        stack: Stack, unique: str) -> None:
    async def go() -> None:
        pub = publisher(stack, unique)
        await pub.publish({("queue", "default/q"): b'{"waiting":1}'}, {})
        async with running(settings(stack, unique)) as one, running(settings(stack, unique)) as two, \
                client(one) as a, client(two, VIEW) as b:
            for c in (a, b):
                await c.wait_for(lambda c: c.data("queue", "default/q") == {"waiting": 1})
            await pub.publish({("queue", "default/q"): b'{"waiting":2}'}, {})
            for c in (a, b):
                await c.wait_for(lambda c: c.data("queue", "default/q") == {"waiting": 2})

            await asyncio.to_thread(stack.stop_redis)
            await until(lambda: not one.stats.redis_up and not two.stats.redis_up)
            await a.wait_for(lambda c: c.status == {"type": "status", "redis_up": False})
            await asyncio.to_thread(stack.start_redis)  # empty: no persistence
            # A worker republishes everything once Redis is back; here, one other queue.
            while not await pub.publish({("queue", "default/r"): b'{"waiting":7}'}, {}) \
                    and not pub.up:
                await asyncio.sleep(0.1)
            await pub.publish({("queue", "default/r"): b'{"waiting":7}'}, {})
            for c in (a, b):
                await c.wait_for(lambda c: c.data("queue", "default/r") == {"waiting": 7}
                                 and c.data("queue", "default/q") is None)
                assert c.snapshots >= 2
            assert one.stats.redis_reconnects == 1

    run(go)


def test_a_client_that_does_not_read_is_dropped_not_buffered(stack: Stack, unique: str) -> None:
    async def go() -> None:
        pub = publisher(stack, unique)
        async with running(settings(stack, unique, wallboard_max_buffer_bytes=65536)) as server, \
                client(server, max_queue=1) as slow, client(server) as fine:
            await slow.pump(0.2)
            big = json.dumps({"blob": "x" * 400_000}).encode()
            for i in range(60):  # 24 MB: more than the kernel's socket buffers hold
                await pub.publish({("queue", f"default/q{i % 3}"): big}, {})
                await fine.pump(0.05)
                if server.stats.dropped_slow:
                    break
            assert server.stats.dropped_slow == 1
            assert slow.ws not in server.clients and len(server.clients) == 1
            with pytest.raises(ConnectionClosed):
                for _ in range(1000):
                    await slow.ws.recv()

    run(go)


def test_asking_for_resyncs_again_and_again_costs_one_snapshot_a_tick(
        stack: Stack, unique: str) -> None:
    async def go() -> None:
        pub = publisher(stack, unique)
        await pub.publish({("queue", f"default/q{i}"): json.dumps({"blob": "x" * 50_000}).encode()
                           for i in range(10)}, {})  # a 500 KB board
        async with running(settings(stack, unique)) as server, \
                client(server, max_queue=1) as greedy:
            await greedy.pump(0.3)
            sent = server.stats.messages
            for _ in range(2000):
                await greedy.ws.send(b'{"type":"resync"}')
            await asyncio.sleep(1.0)
            ticks = server.stats.messages - sent
            # at most one snapshot per tick for this client: its unsent data stays bounded
            buffered = sum(ws.transport.get_write_buffer_size() for ws in server.clients)
            assert buffered <= (ticks + 2) * 600_000, (buffered, ticks)

    run(go)


def test_a_failed_handshake_leaves_nothing_behind_and_a_flushed_redis_resyncs(
        stack: Stack, unique: str) -> None:
    async def go() -> None:
        pub = publisher(stack, unique)
        await pub.publish({("queue", "default/q"): b'{"waiting":1}'}, {})
        async with running(settings(stack, unique)) as server, client(server) as c:
            for _ in range(20):  # a plain GET of /ws: authenticated, then no upgrade (426)
                status, _, _ = await asyncio.to_thread(http, server, f"/ws?token={SUP}")
                assert status == 426
            def forgotten() -> bool:
                gc.collect()
                return len(server._who) == 0

            await until(forgotten, 5)  # the last connection may still be closing
            await c.wait_for(lambda c: c.data("queue", "default/q") == {"waiting": 1})
            # Flushed under an open connection: the workers' sequence numbers start again.
            await aioredis.Redis(host=stack.host, port=stack.redis_port).flushall()
            await pub.publish({("queue", "default/r"): b'{"waiting":5}'}, {})
            await c.wait_for(lambda c: c.data("queue", "default/r") == {"waiting": 5}
                             and c.data("queue", "default/q") is None, timeout_s=15)

    run(go)
