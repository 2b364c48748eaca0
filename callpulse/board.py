"""The wallboard's protocol, sans I/O: latest items, coalesced updates, resync (DESIGN.md
decision 7).

Workers keep the latest snapshot of every queue, agent and source in Redis (see
:data:`PUBLISH_SCRIPT`) and announce each tick's writes on a channel. A wallboard server holds a
:class:`Board` of those items and speaks to browsers in three JSON messages:

- ``{"type": "snapshot", "seq": N, "now_ms": T, "items": [...]}``: every item; the client
  replaces what it holds and expects ``N + 1`` next;
- ``{"type": "delta", "seq": N, "now_ms": T, "items": [...]}``: the items changed since the
  previous message, at most one per key (coalesced); sent at least every heartbeat, empty when
  nothing changed, so a client can tell a quiet board from a dead connection;
- a client that sees a sequence gap sends ``{"type": "resync"}`` and gets a snapshot.

An item is ``{"kind", "key", "seq", "data"}``; its ``seq`` counts the writes of its key across
every worker, so an older write of a key never replaces a newer one. ``now_ms`` is the server's
clock, which lets a browser measure ages without trusting its own clock. The server and this
module never read the clock themselves: time comes in as an argument.

No caller phone number ever leaves the server: :func:`scrub` masks them in every item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from .errors import CallpulseError

# The kinds of item a board holds: each is a Redis hash ``<prefix>:<kind>``, field ``key``.
KINDS: Final = ("queue", "agent", "source", "ack", "audit")

# Writes items atomically: bumps each key's sequence number, stores the item, raises each
# source's newest event time, and publishes the tick's items as one JSON array. ARGV: prefix,
# n, then n times (kind, key, data JSON), then m, then m times (source, ts ms).
PUBLISH_SCRIPT: Final = """
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local parts = {}
for i = 0, n - 1 do
  local kind, key, data = ARGV[3 + i * 3], ARGV[4 + i * 3], ARGV[5 + i * 3]
  local seq = redis.call('HINCRBY', prefix .. ':seq', kind .. ':' .. key, 1)
  local item = '{"kind":"' .. kind .. '","key":' .. cjson.encode(key) .. ',"seq":' .. seq ..
               ',"data":' .. data .. '}'
  redis.call('HSET', prefix .. ':' .. kind, key, item)
  parts[#parts + 1] = item
end
local base = 3 + n * 3
local m = tonumber(ARGV[base])
for j = 0, m - 1 do
  local source, ts = ARGV[base + 1 + j * 2], ARGV[base + 2 + j * 2]
  local old = redis.call('HGET', prefix .. ':sources', source)
  if not old or tonumber(ts) > tonumber(old) then
    redis.call('HSET', prefix .. ':sources', source, ts)
  end
end
if n > 0 then
  redis.call('PUBLISH', prefix .. ':updates', '[' .. table.concat(parts, ',') .. ']')
end
return n
"""


def publish_args(prefix: str, items: Iterable[tuple[str, str, bytes]],
                 sources: Iterable[tuple[str, int]] = ()) -> list[Any]:
    """The ARGV of :data:`PUBLISH_SCRIPT` for ``items`` (kind, key, data JSON) and source
    times."""
    listed = list(items)
    args: list[Any] = [prefix, len(listed)]
    for kind, key, data in listed:
        args += [kind, key, data]
    times = list(sources)
    args.append(len(times))
    for source, ts in times:
        args += [source, str(ts)]
    return args


def channel(prefix: str) -> str:
    """The pub/sub channel that announces each tick's items."""
    return f"{prefix}:updates"


class ProtocolError(CallpulseError):
    """A message or item that does not follow this protocol."""


@dataclass(frozen=True, slots=True)
class Item:
    """One stored snapshot: ``raw`` is its JSON, already scrubbed."""

    kind: str
    key: str
    seq: int
    raw: bytes


_DECODE = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()

# Keys whose values are a caller's number in any source we know (EVENTS.md ``caller`` and
# ``number``; PBX fields). Their values are masked whatever they look like.
SENSITIVE_KEYS: Final = frozenset({
    "caller", "number", "phone", "caller_id", "callerid", "calleridnum", "ani", "dnis", "msisdn",
})
MASK: Final = "[masked]"
# Phone-number-shaped runs inside any string: an optional +, then digits with the separators
# people write. _masked_runs decides which runs are numbers.
_RUN: Final = re.compile(r"\+?\(?\d[\d\s().\-/]*\d")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_number(run: str) -> bool:
    digits = sum(ch.isdigit() for ch in run)
    if not 7 <= digits <= 15 or _ISO_DATE.match(run):
        return False
    # A dot separates digits only in an international form (+44.20…); otherwise it is a
    # decimal or an Asterisk call id ("<epoch>.<n>"), not a phone number.
    return "." not in run or run.startswith("+")


def _mask_run(run: str) -> str:
    if _is_number(run):
        return MASK
    if sum(ch.isdigit() for ch in run) > 15:  # numbers joined by a dash or slash (SIP/4930…-01)
        return re.sub(r"[^\-/]+", lambda m: MASK if _is_number(m.group()) else m.group(), run)
    return run


def _mask_text(text: str) -> str:
    if sum(ch.isdigit() for ch in text) < 7:  # the common case: nothing to look at
        return text
    return _RUN.sub(lambda m: _mask_run(m.group()), text)


def scrub(value: Any) -> Any:
    """``value`` with every caller number masked: values of :data:`SENSITIVE_KEYS`, and every
    phone-number-shaped run of 7 to 15 digits in any string or key (``sip:+4930…@pbx`` too), at
    any depth. Numbers (counts, times) and ISO dates are left alone."""
    if isinstance(value, dict):
        return {_mask_text(k): (MASK if k.lower() in SENSITIVE_KEYS and v is not None
                                else scrub(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def parse_item(obj: Any) -> Item:
    """An item from its decoded JSON, scrubbed; :class:`ProtocolError` when malformed."""
    if not isinstance(obj, dict):
        raise ProtocolError("an item must be a JSON object")
    kind, key, seq = obj.get("kind"), obj.get("key"), obj.get("seq")
    if kind not in KINDS or not isinstance(key, str) or not isinstance(seq, int) \
            or isinstance(seq, bool) or "data" not in obj:
        raise ProtocolError(f"not an item: kind {kind!r}, key {key!r}, seq {seq!r}")
    clean = {"kind": kind, "key": key, "seq": seq, "data": scrub(obj["data"])}
    return Item(kind, key, seq, _ENCODE.encode(clean))


def parse_items(payload: bytes | str) -> list[Item]:
    """The items of one channel message (a JSON array of items)."""
    try:
        decoded = _DECODE.decode(payload)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(decoded, list):
        raise ProtocolError("a channel message must be a JSON array of items")
    return [parse_item(obj) for obj in decoded]


def parse_stored(raw: bytes | str) -> Item:
    """One item as stored in its Redis hash."""
    try:
        return parse_item(_DECODE.decode(raw))
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None


def _message(kind: str, seq: int, now_ms: int, items: Iterable[Item]) -> bytes:
    # Items are JSON already: joined, never decoded and encoded again per message.
    body = b",".join(item.raw for item in items)
    return b'{"type":"%s","seq":%d,"now_ms":%d,"items":[%s]}' % (
        kind.encode(), seq, now_ms, body)


class Board:
    """The latest item per (kind, key) that a wallboard server holds, and the changes not yet
    sent to its clients."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}
        self.pending: dict[tuple[str, str], Item] = {}
        self.seq = 0  # of the last message broadcast

    def replace(self, items: Iterable[Item]) -> None:
        """Hold exactly ``items`` (everything read from Redis after a (re)connect: a restarted
        Redis starts its sequence numbers again, so nothing held before is compared)."""
        self.items = {(i.kind, i.key): i for i in items}
        self.pending.clear()

    def apply(self, items: Iterable[Item]) -> int:
        """Take the items newer than those held for their keys; returns how many were taken."""
        taken = 0
        for item in items:
            k = (item.kind, item.key)
            held = self.items.get(k)
            if held is None or item.seq > held.seq:
                self.items[k] = self.pending[k] = item
                taken += 1
        return taken

    def snapshot(self, now_ms: int) -> bytes:
        """A snapshot for one client joining now; it expects ``seq + 1`` next."""
        return _message("snapshot", self.seq, now_ms, self.items.values())

    def resync_all(self, now_ms: int) -> bytes:
        """A snapshot for every client (after Redis came back): a broadcast, so it advances
        the sequence."""
        self.seq += 1
        self.pending.clear()
        return _message("snapshot", self.seq, now_ms, self.items.values())

    def delta(self, now_ms: int) -> bytes:
        """The next broadcast: the items changed since the last one (none for a heartbeat)."""
        self.seq += 1
        message = _message("delta", self.seq, now_ms, self.pending.values())
        self.pending.clear()
        return message


class ClientView:
    """A client's side of the protocol (the page does the same in JavaScript): what it holds,
    and the reply it owes. Used by the tests and the benchmarks' load client."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.seq: int | None = None
        self.resyncing = False
        self.now_ms: int | None = None

    def receive(self, message: bytes | str) -> bytes | None:
        """Take one server message; returns the message to send back, if any."""
        try:
            msg = _DECODE.decode(message)
        except msgspec.DecodeError as exc:
            raise ProtocolError(f"not JSON: {exc}") from None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "snapshot":
            self.items = {(i["kind"], i["key"]): i for i in msg["items"]}
            self.seq, self.resyncing, self.now_ms = msg["seq"], False, msg["now_ms"]
        elif kind == "delta":
            if self.resyncing:
                return None  # the snapshot asked for is on its way
            if self.seq is None or msg["seq"] != self.seq + 1:
                self.resyncing = True
                return b'{"type":"resync"}'
            for i in msg["items"]:
                self.items[(i["kind"], i["key"])] = i
            self.seq, self.now_ms = msg["seq"], msg["now_ms"]
        return None
