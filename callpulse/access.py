"""Who may see the wallboard and who may change it: tokens, roles, the Origin check, and the
commands a supervisor sends (issue 4, "Access"). Pure: the server passes in what it read.

Tokens come from one setting, ``CALLPULSE_WALLBOARD_TOKENS``: a comma-separated list of
``name:role:secret``, where ``role`` is ``viewer`` (sees the board) or ``supervisor`` (also
acknowledges alerts and changes a queue's thresholds). ``name`` says who did what in the log.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from .config import ALERT_RULES, Config, with_live_overrides
from .errors import CallpulseError, ConfigError

VIEWER: Final = "viewer"
SUPERVISOR: Final = "supervisor"
ROLES: Final = (VIEWER, SUPERVISOR)
COOKIE: Final = "callpulse_token"
_SECRET: Final = re.compile(r"[A-Za-z0-9._~-]+")


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever holds a valid token."""

    name: str
    role: str

    @property
    def may_change(self) -> bool:
        return self.role == SUPERVISOR


def parse_tokens(entries: Iterable[str]) -> dict[str, Principal]:
    """``name:role:secret`` entries -> secret -> :class:`Principal`; :class:`ConfigError` on a
    malformed entry, an unknown role, a short secret or a secret given twice."""
    out: dict[str, Principal] = {}
    for entry in entries:
        name, _, rest = entry.partition(":")
        role, _, secret = rest.partition(":")
        if not name or not secret:
            raise ConfigError("CALLPULSE_WALLBOARD_TOKENS: each entry must be name:role:secret")
        if role not in ROLES:
            raise ConfigError(f"CALLPULSE_WALLBOARD_TOKENS: role of {name!r} must be "
                              f"{' or '.join(ROLES)}, not {role!r}")
        if len(secret) < 16 or _SECRET.fullmatch(secret) is None:
            raise ConfigError(f"CALLPULSE_WALLBOARD_TOKENS: the secret of {name!r} must be at "
                              "least 16 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-' "
                              "(they travel in URLs and cookies as they are)")
        if secret in out:
            raise ConfigError(f"CALLPULSE_WALLBOARD_TOKENS: {name!r} reuses another's secret")
        out[secret] = Principal(name, role)
    return out


def authenticate(tokens: Mapping[str, Principal], presented: str | None) -> Principal | None:
    """The holder of ``presented``, compared in constant time against every secret so the
    answer's timing does not tell how much of a guess was right."""
    found = None
    if presented:
        for secret, principal in tokens.items():
            if hmac.compare_digest(secret.encode(), presented.encode()):
                found = principal
    return found


def presented_token(path: str, headers: Mapping[str, str]) -> str | None:
    """The token a request carries: ``?token=`` in the URL (a TV's bookmark), an
    ``Authorization: Bearer`` header (scripts), or the cookie the page set."""
    query = parse_qs(urlsplit(path).query)
    if query.get("token"):
        return query["token"][0]
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    try:
        cookie = SimpleCookie(headers.get("Cookie", ""))
    except CookieError:
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Whether a websocket upgrade from ``origin`` may proceed. Browsers always send
    ``Origin``, so a page on a foreign site (cross-site websocket hijacking) is refused; a
    client without one is not a browser and still needs a token. Compared without a trailing
    slash and case-insensitively, as origins are."""
    if origin is None:
        return True
    wanted = origin.rstrip("/").lower()
    return any(wanted == a.rstrip("/").lower() for a in allowed)


class Refused(CallpulseError):
    """A command the server will not carry out; ``code`` goes back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Ack:
    """A supervisor acknowledged one firing of one alert (``since_ms`` tells which)."""

    queue: str
    alert: str
    since_ms: int
    by: str
    at_ms: int

    @property
    def key(self) -> str:
        return f"{self.queue}/{self.alert}"

    def data(self) -> dict[str, Any]:
        return {"queue": self.queue, "alert": self.alert, "since_ms": self.since_ms,
                "by": self.by, "at_ms": self.at_ms}


@dataclass(frozen=True, slots=True)
class ThresholdChange:
    """A supervisor's change of a queue's live thresholds (``callpulse.config.LIVE_KEYS``)."""

    queue: str
    changes: dict[str, Any]
    by: str
    at_ms: int

    def data(self) -> dict[str, Any]:
        return {"queue": self.queue, "action": "set_thresholds", "changes": self.changes,
                "by": self.by, "at_ms": self.at_ms}


def _queue_key(value: object) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or "" in value.split("/"):
        raise Refused("bad_request", "queue must be <tenant>/<queue>")
    return value


def command(principal: Principal, msg: Mapping[str, Any], now_ms: int) -> Ack | ThresholdChange:
    """The change a client's ``ack`` or ``set_thresholds`` message asks for, checked; raises
    :class:`Refused` for a viewer, an unknown command or invalid values."""
    kind = msg.get("type")
    if kind not in ("ack", "set_thresholds"):
        raise Refused("unknown_command", f"unknown command {kind!r}")
    if not principal.may_change:
        raise Refused("forbidden", f"{principal.name} is a {principal.role}: only a supervisor "
                                   "may acknowledge alerts or change thresholds")
    queue = _queue_key(msg.get("queue"))
    if kind == "ack":
        alert, since = msg.get("alert"), msg.get("since_ms")
        if not isinstance(alert, str) or alert not in ALERT_RULES or not isinstance(since, int) \
                or isinstance(since, bool):
            raise Refused("bad_request", "ack needs a known alert and its since_ms")
        return Ack(queue, alert, since, principal.name, now_ms)
    changes = msg.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise Refused("bad_request", "set_thresholds needs a non-empty changes object")
    try:
        check_override(queue, changes)
    except ConfigError as exc:
        raise Refused("invalid", str(exc)) from None
    return ThresholdChange(queue, changes, principal.name, now_ms)


def check_override(queue: str, override: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` unless ``override`` is a valid live change of ``queue``
    (only ``callpulse.config.LIVE_KEYS``, each valid), as the workers will check it again."""
    with_live_overrides(Config(), {queue: override})


def merge_override(current: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The queue's stored live override after ``changes``: keys replaced, alert levels merged
    rule by rule and level by level, so a change of one level keeps the others."""
    out = dict(current or {})
    for key, value in changes.items():
        if key == "alerts" and isinstance(value, Mapping):
            alerts = dict(out.get("alerts") or {})
            for rule, levels in value.items():
                alerts[rule] = {**(alerts.get(rule) or {}), **levels}
            out["alerts"] = alerts
        else:
            out[key] = value
    return out

