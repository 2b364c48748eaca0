"""Snapshots to Redis: the latest value per key, and one coalesced pub/sub message per tick.

Layout (``<p>`` is ``CALLPULSE_REDIS_PREFIX``, default ``callpulse``), read by the wallboard:

- ``<p>:queue``, ``<p>:agent`` and ``<p>:source``: hashes, field ``<tenant>/<name>`` (a
  source's name), value ``{"kind", "key", "seq", "data"}`` (the latest snapshot and its
  sequence number); the wallboard adds ``<p>:ack`` and ``<p>:audit`` (``callpulse.board``);
- ``<p>:seq``: the per-key sequence counters, shared by every worker, so a key keeps counting
  up when a rebalance moves it to another worker;
- ``<p>:sources``: hash, source -> newest event time (epoch ms), kept at its maximum;
- ``<p>:updates``: a channel; each message is a JSON array of the items written in one tick.

One Lua script (``callpulse.board.PUBLISH_SCRIPT``) does a tick's writes atomically, so a
reader never sees a snapshot without its sequence number or a published item not yet stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from callpulse.board import PUBLISH_SCRIPT, publish_args

log = logging.getLogger("callpulse.publisher")


class SnapshotPublisher:
    """Writes snapshots; keeps what it could not write and retries it on the next call.

    Redis being down never raises out of :meth:`publish`: it logs once when Redis goes away and
    once when it is back, and reports the return so the worker can republish everything (a
    restarted Redis may have lost its data).
    """

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.pending: dict[tuple[str, str], bytes] = {}
        self.sources: dict[str, int] = {}
        self.up = True
        self._script = client.register_script(PUBLISH_SCRIPT)

    async def publish(self, items: Mapping[tuple[str, str], bytes],
                      sources: Mapping[str, int]) -> bool:
        """Write ``items`` ((kind, key) -> JSON bytes) and source times. Returns True when Redis
        has just come back after a failure (the caller should then republish everything)."""
        self.pending.update(items)
        for source, ts in sources.items():
            if ts > self.sources.get(source, -1):
                self.sources[source] = ts
        if not self.pending and not self.sources:
            return False
        args = publish_args(self.prefix, ((kind, key, data)
                                          for (kind, key), data in self.pending.items()),
                            self.sources.items())
        try:
            await self._script(args=args)
        except (RedisError, OSError) as exc:
            if self.up:
                log.warning("Redis unavailable (%s); folding goes on, snapshots wait: %s",
                            self._where(), exc)
                self.up = False
            return False
        self.pending.clear()
        self.sources.clear()
        if not self.up:
            self.up = True
            log.warning("Redis is back (%s); republishing every snapshot", self._where())
            return True
        return False

    async def read_overrides(self) -> dict[str, Any] | None:
        """The live configuration changes stored by the wallboard (``<p>:config``: field queue
        or ``tenant/queue``, value JSON); ``None`` when Redis cannot be read."""
        try:
            raw = await self.client.hgetall(f"{self.prefix}:config")
        except (RedisError, OSError):
            return None
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}

    def _where(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        return str(kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}")
