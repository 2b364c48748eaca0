"""``callpulse wallboard``: the page and its websocket on one port, fed from Redis.

A thin I/O shell around ``callpulse.board`` (the protocol) and ``callpulse.access`` (tokens,
roles, Origin, commands):

- HTTP through the ``websockets`` request hook: the page and its two files (token required),
  ``/healthz`` (no token; 503 while Redis is away), and the websocket at ``/ws``;
- one task follows Redis: subscribe to the updates channel, then read every stored item, then
  apply each announced tick; on any Redis failure it reconnects with backoff and, once back,
  sends every client a fresh snapshot (a restarted Redis may hold other data);
- one task broadcasts at most one coalesced delta per tick, and a heartbeat when idle, with
  ``websockets.broadcast``; a client too slow to take them is dropped, never buffered without
  bound (it reconnects and resyncs).

Servers only read Redis (and write a supervisor's acknowledgements and threshold changes), so
any number can run side by side behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import resource
import secrets
import signal
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from callpulse.access import (
    COOKIE,
    Ack,
    Principal,
    Refused,
    ThresholdChange,
    authenticate,
    check_override,
    command,
    merge_override,
    origin_allowed,
    presented_token,
)
from callpulse.board import (
    KINDS,
    PUBLISH_SCRIPT,
    Board,
    Item,
    ProtocolError,
    channel,
    parse_items,
    parse_stored,
    publish_args,
)
from callpulse.errors import CallpulseError, ConfigError

from .settings import WallboardSettings

log = logging.getLogger("callpulse.wallboard")

STATIC_DIR: Final = Path(__file__).parent / "static"
# URL path -> (file, content type). Nothing else is served.
PAGES: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/wallboard.js": ("wallboard.js", "text/javascript; charset=utf-8"),
    "/wallboard.css": ("wallboard.css", "text/css; charset=utf-8"),
}
# The page loads nothing from elsewhere and runs no inline script.
_CSP: Final = ("default-src 'self'; connect-src 'self'{ws}; img-src 'self' data:; "
               "frame-ancestors 'none'")
_HOST: Final = re.compile(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?")
_SECURITY_HEADERS: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
AUDIT_STREAM_MAXLEN: Final = 10_000
_WATCH_TRIES: Final = 10
_EPOCH_CHECK_S: Final = 5.0


class _Restarted(CallpulseError):
    """The Redis followed is not the one the board was read from."""
_BACKOFF_S: Final = (0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(slots=True)
class Stats:
    """What ``/healthz`` reports."""

    redis_up: bool = False
    messages: int = 0  # broadcasts
    dropped_slow: int = 0  # clients dropped for not keeping up
    redis_reconnects: int = 0


class WallboardServer:
    """One wallboard process. Build it with :func:`create_app`; ``await start()`` listens."""

    def __init__(self, settings: WallboardSettings, *, redis_client: aioredis.Redis,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.redis = redis_client
        self.clock = clock
        self.board = Board()
        self.stats = Stats()
        self.clients: set[ServerConnection] = set()
        self.principals = settings.principals()
        self.origins = settings.allowed_origins()
        self.prefix = settings.redis_prefix
        self._publish = redis_client.register_script(PUBLISH_SCRIPT)
        self._static = {path: (ctype, (STATIC_DIR / name).read_bytes())
                        for path, (name, ctype) in PAGES.items()}
        # Who each upgrading connection is; weak, as a handshake may fail after the check.
        self._who: weakref.WeakKeyDictionary[ServerConnection, Principal] = \
            weakref.WeakKeyDictionary()
        # Clients that asked for a resync: served once per tick, after the buffer check, so
        # asking again and again cannot make the server buffer snapshots without bound.
        self._resync: set[ServerConnection] = set()
        self._wake = asyncio.Event()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        """The port listened on (the setting, or the one the OS chose for port 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        # No per-message compression: a broadcast would compress once per client.
        self._server = await serve(
            self._handle, s.wallboard_host, s.wallboard_port, process_request=self._route,
            compression=None, max_size=64 * 1024, ping_interval=20, ping_timeout=20,
        )
        self._tasks = [asyncio.create_task(self._follow_redis()),
                       asyncio.create_task(self._broadcast_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.redis.aclose()

    # -- HTTP -------------------------------------------------------------------------------

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return self._health()
        principal = authenticate(self.principals,
                                 presented_token(request.path, request.headers))
        if path == "/ws":
            if principal is None:
                return _text(HTTPStatus.UNAUTHORIZED, "a valid token is required\n")
            host = request.headers.get("Host", "")
            # The page's own origin is the address the browser used (Host), whatever the
            # server binds to; other sites only when configured.
            own = [f"http://{host}", f"https://{host}"] if host else []
            if not origin_allowed(request.headers.get("Origin"), [*self.origins, *own]):
                log.warning("refused a websocket from origin %s", request.headers.get("Origin"))
                return _text(HTTPStatus.FORBIDDEN, "origin not allowed\n")
            self._who[connection] = principal
            return None  # the websocket handshake goes on
        page = self._static.get(path)
        if page is None:
            return _text(HTTPStatus.NOT_FOUND, "not found\n")
        if principal is None:
            return _text(HTTPStatus.UNAUTHORIZED,
                         "401 Unauthorized: open the wallboard with ?token=<your token>\n")
        ctype, body = page
        host = request.headers.get("Host", "")
        # Older Safari does not count ws: and wss: as 'self': name the page's own host.
        csp = _CSP.format(ws=f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else "")
        headers = Headers([("Content-Type", ctype), ("Content-Security-Policy", csp),
                           *_SECURITY_HEADERS])
        token = presented_token(request.path, {})  # only one given in the URL is remembered
        if token is not None:
            secure = "; Secure" if request.headers.get("X-Forwarded-Proto") == "https" else ""
            headers["Set-Cookie"] = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}"
        return Response(200, "OK", headers, body)

    def _health(self) -> Response:
        body = {"status": "ok" if self.stats.redis_up else "redis_unavailable",
                "redis_up": self.stats.redis_up, "clients": len(self.clients),
                "seq": self.board.seq, "items": len(self.board.items),
                "dropped_slow_clients": self.stats.dropped_slow,
                "redis_reconnects": self.stats.redis_reconnects}
        status = HTTPStatus.OK if self.stats.redis_up else HTTPStatus.SERVICE_UNAVAILABLE
        return Response(status.value, status.phrase,
                        Headers([("Content-Type", "application/json")]),
                        json.dumps(body).encode())

    # -- websocket --------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        principal = self._who.pop(ws)
        hello = {"type": "hello", "name": principal.name, "role": principal.role,
                 "stale_after_s": self.settings.wallboard_stale_after_s,
                 "heartbeat_s": self.settings.wallboard_heartbeat_s,
                 "redis_up": self.stats.redis_up}
        # Written without an await in between and before joining the broadcast set: the
        # snapshot reaches the client before any delta that follows it.
        broadcast([ws], json.dumps(hello))
        broadcast([ws], self.board.snapshot(self.now_ms()), text=True)
        self.clients.add(ws)
        try:
            async for raw in ws:
                reply = await self._on_message(principal, raw, ws)
                if reply is not None:
                    await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(ws)

    async def _on_message(self, principal: Principal, raw: str | bytes,
                          ws: ServerConnection) -> dict[str, Any] | None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return {"type": "reply", "ok": False, "code": "bad_request", "message": "not JSON"}
        if not isinstance(msg, dict):
            return {"type": "reply", "ok": False, "code": "bad_request",
                    "message": "a message must be an object"}
        if msg.get("type") == "resync":
            self._resync.add(ws)
            self._wake.set()
            return None
        reply: dict[str, Any] = {"type": "reply", "id": msg.get("id")}
        try:
            change = command(principal, msg, self.now_ms())
            if isinstance(change, Ack):
                self._check_firing(change)
                await self._store_ack(change)
            else:
                await self._store_change(change)
        except Refused as exc:
            log.warning("refused %s from %s (%s): %s", msg.get("type"), principal.name,
                        principal.role, exc)
            return {**reply, "ok": False, "code": exc.code, "message": str(exc)}
        except (RedisError, OSError) as exc:
            return {**reply, "ok": False, "code": "unavailable",
                    "message": f"Redis is unavailable: {exc}"}
        return {**reply, "ok": True}

    def _check_firing(self, ack: Ack) -> None:
        """Only an alert firing now can be acknowledged: anything else would be kept for
        nothing (and a typo would grow every board)."""
        item = self.board.items.get(("queue", ack.queue))
        alerts = json.loads(item.raw)["data"].get("alerts", []) if item is not None else []
        if not any(a.get("alert") == ack.alert and a.get("since_ms") == ack.since_ms
                   for a in alerts if isinstance(a, dict)):
            raise Refused("not_firing", f"{ack.alert} of {ack.queue} is not firing since "
                                        f"{ack.since_ms}")

    async def _store_ack(self, ack: Ack) -> None:
        data = json.dumps({"action": "ack", **ack.data()})
        await self.redis.xadd(f"{self.prefix}:audit:log", {"entry": data},
                              maxlen=AUDIT_STREAM_MAXLEN, approximate=True)
        await self._publish(args=publish_args(
            self.prefix, [("ack", ack.key, json.dumps(ack.data()).encode())]))
        log.info("alert %s of %s acknowledged by %s", ack.alert, ack.queue, ack.by)

    async def _store_change(self, change: ThresholdChange) -> None:
        """Merge the change into the queue's live override (the workers poll it), check the
        result, and log who made it, in Redis (a stream) and in this server's log."""
        key = f"{self.prefix}:config"
        async with self.redis.pipeline() as pipe:
            # Optimistic: two supervisors saving at once both keep their changes.
            for _ in range(_WATCH_TRIES):
                try:
                    await pipe.watch(key)
                    current = _stored_override(await pipe.hget(key, change.queue), change.queue)
                    merged = merge_override(current, change.changes)
                    try:
                        check_override(change.queue, merged)
                    except ConfigError as exc:
                        raise Refused("invalid", str(exc)) from None
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, change.queue, json.dumps(merged))
                    pipe.xadd(f"{self.prefix}:audit:log", {"entry": json.dumps(change.data())},
                              maxlen=AUDIT_STREAM_MAXLEN, approximate=True)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
            else:
                raise Refused("busy", "the queue's thresholds kept changing; try again")
        log.info("thresholds of %s changed by %s: %s", change.queue, change.by,
                 json.dumps(change.changes, sort_keys=True))
        try:  # stored and logged: the announcement to the boards may fail on its own
            await self._publish(args=publish_args(
                self.prefix, [("audit", change.queue, json.dumps(change.data()).encode())]))
        except (RedisError, OSError) as exc:
            log.warning("thresholds of %s stored, but not announced: %s", change.queue, exc)

    # -- Redis and broadcasting --------------------------------------------------------------

    async def _follow_redis(self) -> None:
        attempt = 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel(self.prefix))
                epoch = await self._epoch()
                # Subscribed first, read second: a tick announced meanwhile is in both, and
                # the sequence numbers keep the newer.
                self.board.replace(await self._read_all())
                self._send(self.board.resync_all(self.now_ms()))
                if not self.stats.redis_up:
                    log.warning("following Redis (%d items)", len(self.board.items))
                    self._set_redis_up(True)
                attempt = 0
                await self._take_updates(pubsub, epoch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a task nobody awaits: say it, reconnect, go on
                if isinstance(exc, (RedisError, OSError, _Restarted)):
                    if self.stats.redis_up:
                        log.warning("Redis unavailable, reconnecting: %s", exc)
                else:
                    log.exception("following Redis failed; reconnecting")
                if self.stats.redis_up:
                    self.stats.redis_reconnects += 1
                    self._set_redis_up(False)
                await asyncio.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                attempt += 1
            finally:
                with contextlib.suppress(RedisError, OSError):
                    # (Untyped before redis 8.2, typed since: either way mypy passes.)
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

    async def _take_updates(self, pubsub: Any, epoch: bytes | str | None) -> None:
        """Apply each announced tick until Redis fails, or turns out to be another server
        (restarted, failed over or flushed without the connection dropping): its sequence
        numbers would start again below the ones held, and every update would be refused."""
        checked = time.monotonic()
        while True:
            msg = await pubsub.get_message(timeout=1.0)
            if time.monotonic() - checked > _EPOCH_CHECK_S:
                checked = time.monotonic()
                if await self.redis.get(f"{self.prefix}:epoch") != epoch:
                    raise _Restarted("Redis restarted or was flushed under an open connection")
            if msg is None:
                await pubsub.ping()  # notice a Redis gone quiet for good
                continue
            if msg.get("type") != "message":
                continue  # the ping's answer
            try:
                items = parse_items(msg["data"])
            except ProtocolError as exc:
                log.error("skipped a malformed update: %s", exc)
                continue
            if self.board.apply(items):
                self._wake.set()

    async def _epoch(self) -> bytes | str | None:
        """The data's epoch: a random marker the first server sets, which a restart without
        persistence or a flush takes away (the workers' sequence numbers with it)."""
        key = f"{self.prefix}:epoch"
        await self.redis.set(key, secrets.token_hex(8), nx=True)
        value: bytes | str | None = await self.redis.get(key)
        return value

    def _set_redis_up(self, up: bool) -> None:
        """Record Redis's state and tell every client: the page turns STALE at once."""
        self.stats.redis_up = up
        broadcast(self.clients, json.dumps({"type": "status", "redis_up": up}))

    async def _read_all(self) -> list[Item]:
        items = []
        for kind in KINDS:
            for raw in (await self.redis.hgetall(f"{self.prefix}:{kind}")).values():
                try:
                    items.append(parse_stored(raw))
                except ProtocolError as exc:
                    log.error("skipped a malformed %s item: %s", kind, exc)
        return items

    async def _broadcast_loop(self) -> None:
        s = self.settings
        last = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(),
                                       max(0.0, last + s.wallboard_heartbeat_s - time.monotonic()))
            # Changes that arrive within a tick of the last broadcast wait for the next one,
            # and go out together.
            await asyncio.sleep(max(0.0, last + s.wallboard_tick_s - time.monotonic()))
            self._wake.clear()
            last = time.monotonic()
            try:
                self._send_delta()
            except Exception:  # a task nobody awaits: say it; the next tick tries again
                log.exception("broadcasting an update failed")

    def _send_delta(self) -> None:
        """The tick's work: drop clients too slow to keep up, send each client that asked a
        snapshot (before the delta, whose sequence number follows the snapshot's), then
        broadcast the delta."""
        self._drop_slow()
        asked = [ws for ws in self._resync if ws in self.clients]
        self._resync.clear()
        if asked:
            broadcast(asked, self.board.snapshot(self.now_ms()), text=True)
        broadcast(self.clients, self.board.delta(self.now_ms()), text=True)
        self.stats.messages += 1

    def _send(self, message: bytes) -> None:
        self._drop_slow()
        broadcast(self.clients, message, text=True)
        self.stats.messages += 1

    def _drop_slow(self) -> None:
        limit = self.settings.wallboard_max_buffer_bytes
        for ws in list(self.clients):
            if ws.transport.get_write_buffer_size() > limit:
                # It has not taken what was sent for several updates: drop it rather than
                # buffer without bound; it reconnects and resyncs.
                self.clients.discard(ws)
                ws.transport.abort()
                self.stats.dropped_slow += 1
                log.warning("dropped a slow client %s", ws.remote_address)


def _stored_override(raw: bytes | str | None, queue: str) -> dict[str, Any] | None:
    """A queue's stored live override; one that is not a JSON object is replaced (and said)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        log.error("the stored override of %s is not a JSON object; replacing it: %r", queue, raw)
        return None
    return value


def _text(status: HTTPStatus, text: str) -> Response:
    return Response(status.value, status.phrase,
                    Headers([("Content-Type", "text/plain; charset=utf-8"),
                             ("Cache-Control", "no-store")]),
                    text.encode())


def create_app(settings: WallboardSettings, *, redis_client: aioredis.Redis | None = None,
               clock: Callable[[], float] = time.time) -> WallboardServer:
    """Build the server; nothing connects until ``start``. Tests inject a Redis client or
    clock."""
    if redis_client is None:
        redis_client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                               socket_connect_timeout=2)
    return WallboardServer(settings, redis_client=redis_client, clock=clock)


async def _serve_forever(settings: WallboardSettings) -> None:
    server = create_app(settings)
    await server.start()
    log.info("wallboard on http://%s:%d/ (websocket /ws)", settings.wallboard_host, server.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def run(settings: WallboardSettings) -> int:
    """``callpulse wallboard``: serve until SIGINT/SIGTERM."""
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The library logs every request at INFO; a wallboard polled by a load balancer would
    # drown its own log in them.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.getLogger().level))
    # Every client is an open socket: take the most descriptors the system allows (often a
    # soft limit of 1,024 against a hard one far higher).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not settings.wallboard_tokens:
        log.warning("no CALLPULSE_WALLBOARD_TOKENS: every request will get 401")
    asyncio.run(_serve_forever(settings))
    return 0
