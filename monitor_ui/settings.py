"""The wallboard server's settings, read once from ``CALLPULSE_*`` (see
``docs/configuration.md``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from callpulse.access import Principal, parse_tokens
from callpulse.errors import ConfigError
from callpulse.settings import from_env


@dataclass(frozen=True, slots=True)
class WallboardSettings:
    """Everything ``callpulse wallboard`` reads. Every field is ``CALLPULSE_<NAME>``."""

    wallboard_host: str = "127.0.0.1"
    wallboard_port: int = 8080
    redis_url: str = "redis://127.0.0.1:16379/0"
    redis_prefix: str = "callpulse"
    # name:role:secret entries (callpulse.access); without any, nobody gets in.
    wallboard_tokens: tuple[str, ...] = ()
    # Origins whose pages may open the websocket, besides this server's own address.
    wallboard_origins: tuple[str, ...] = ()
    # At most one update per tick goes to the clients (the changes in between are coalesced);
    # an empty one goes out every heartbeat so a client can tell quiet from dead.
    wallboard_tick_s: float = 0.1
    wallboard_heartbeat_s: float = 1.0
    # The page greys out figures when no worker wrote anything for this long.
    wallboard_stale_after_s: float = 10.0
    # A client whose unsent data passes this is dropped (it reconnects and resyncs), so a slow
    # client never holds memory without bound.
    wallboard_max_buffer_bytes: int = 4 * 1024 * 1024
    log_level: str = "info"

    def __post_init__(self) -> None:
        for name in ("wallboard_tick_s", "wallboard_heartbeat_s", "wallboard_stale_after_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"CALLPULSE_{name.upper()}: must be above 0")
        if self.wallboard_max_buffer_bytes < 65536:
            raise ConfigError("CALLPULSE_WALLBOARD_MAX_BUFFER_BYTES: must be at least 65536")
        self.principals()  # a malformed token list fails at start, not at the first login

    def principals(self) -> dict[str, Principal]:
        return parse_tokens(self.wallboard_tokens)

    def allowed_origins(self) -> list[str]:
        """This server's own origins (as a browser names them) and the configured ones."""
        port = self.wallboard_port
        own = {f"http://{self.wallboard_host}:{port}", f"http://localhost:{port}",
               f"http://127.0.0.1:{port}"}
        return sorted(own | set(self.wallboard_origins))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **overrides: object) -> WallboardSettings:
        return from_env(cls, os.environ if environ is None else environ, **overrides)
