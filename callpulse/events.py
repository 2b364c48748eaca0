"""Canonical telephony events, version 1: the model, the decoder and the rejection reasons.

Implements ``spec/EVENTS.md``. Decoding and validation are one msgspec pass (a tagged union on
``type``), so one event costs a few microseconds; every failure maps to a reason code from
:data:`REASONS` instead of an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final, Literal, get_args

import msgspec

MAX_MESSAGE_BYTES: Final = 64 * 1024
MAX_FUTURE_MS: Final = 24 * 3600 * 1000
# Timestamps the calendar can place (1970-01-01 to 3000-01-01); others are `bad_ts`.
MAX_TS_MS: Final = 32_503_680_000_000

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# Durations up to 115 days: anything longer is a source's error, and would overflow counters.
Seconds = Annotated[float, msgspec.Meta(ge=0, le=1e7)]

# Rejection reasons, as they appear in reports, the DLQ and `callpulse_events_rejected_total`.
NOT_JSON: Final = "not_json"
NOT_OBJECT: Final = "not_object"
UNKNOWN_TYPE: Final = "unknown_type"
MISSING_FIELD: Final = "missing_field"
WRONG_TYPE: Final = "wrong_type"
BAD_LENGTH: Final = "bad_length"
BAD_VALUE: Final = "bad_value"
BAD_VERSION: Final = "bad_version"
BAD_TS: Final = "bad_ts"
FUTURE_TS: Final = "future_ts"
TOO_LARGE: Final = "too_large"
# Live only: an agent event on the calls topic, or a queue-only call event on the agents topic.
WRONG_TOPIC: Final = "wrong_topic"
REASONS: Final = (
    NOT_JSON, NOT_OBJECT, UNKNOWN_TYPE, MISSING_FIELD, WRONG_TYPE, BAD_LENGTH, BAD_VALUE,
    BAD_VERSION, BAD_TS, FUTURE_TS, TOO_LARGE, WRONG_TOPIC,
)


class Event(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """Fields common to every event. ``ts`` is epoch milliseconds once decoded."""

    v: Literal[1]
    id: Name
    if TYPE_CHECKING:
        ts: int
    else:
        # On the wire `ts` is RFC 3339 text or epoch ms; __post_init__ turns it into epoch ms,
        # so the rest of the code (and mypy) only ever sees an int.
        ts: int | datetime
    source: Name
    tenant: Name = "default"

    def __post_init__(self) -> None:
        ts: object = self.ts
        if type(ts) is int and 0 <= ts < MAX_TS_MS:  # nearly every event: checked first
            return
        if isinstance(ts, datetime):
            if ts.tzinfo is None:
                raise ValueError("bad_ts: RFC 3339 time without an offset")
            self.ts = datetime_to_ms(ts)
        elif isinstance(ts, bool) or not isinstance(ts, int):
            raise ValueError("bad_ts: not epoch milliseconds")
        if not 0 <= self.ts < MAX_TS_MS:
            raise ValueError("bad_ts: outside 1970-01-01 .. 3000-01-01")


class CallEvent(Event, kw_only=True, gc=False):
    """An event about one call in one queue: topic ``callpulse.calls``, key ``queue``."""

    call_id: Name
    queue: Name


class Ringing(CallEvent, tag="ringing", kw_only=True, gc=False):
    caller: str | None = None
    priority: int | None = None


class _Left(CallEvent, kw_only=True, gc=False):
    """A call left the waiting line; ``wait_s`` is the source's own measure when it has one."""

    wait_s: Seconds | None = None


class Answered(_Left, tag="answered", kw_only=True, gc=False):
    agent: Name


class Abandoned(_Left, tag="abandoned", kw_only=True, gc=False):
    pass


class VoicemailLeft(_Left, tag="voicemail_left", kw_only=True, gc=False):
    pass


class CallbackRequested(_Left, tag="callback_requested", kw_only=True, gc=False):
    number: str | None = None


class FlowedOut(_Left, tag="flowed_out", kw_only=True, gc=False):
    reason: Literal["timeout", "exit_key", "no_agents", "full", "closed", "transfer", "overflow"]
    to_queue: Name | None = None


class CallbackAttempted(CallEvent, tag="callback_attempted", kw_only=True, gc=False):
    agent: Name
    result: Literal["reached", "no_answer", "failed"]


class CallbackCancelled(CallEvent, tag="callback_cancelled", kw_only=True, gc=False):
    reason: str | None = None


class Hold(CallEvent, tag="hold", kw_only=True, gc=False):
    agent: Name


class Unhold(CallEvent, tag="unhold", kw_only=True, gc=False):
    agent: Name


class Ended(CallEvent, tag="ended", kw_only=True, gc=False):
    agent: Name
    disposition: Name | None = None
    talk_s: Seconds | None = None


class WrapupStarted(CallEvent, tag="wrapup_started", kw_only=True, gc=False):
    agent: Name


class WrapupEnded(CallEvent, tag="wrapup_ended", kw_only=True, gc=False):
    agent: Name
    acw_s: Seconds | None = None


class RingNoAnswer(CallEvent, tag="ring_no_answer", kw_only=True, gc=False):
    agent: Name
    ring_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None


class AgentEvent(Event, kw_only=True, gc=False):
    """An event about one agent: topic ``callpulse.agents``, key ``agent``."""

    agent: Name


class AgentLogin(AgentEvent, tag="agent_login", kw_only=True, gc=False):
    queues: list[Name]
    name: str | None = None
    team: str | None = None


class AgentLogout(AgentEvent, tag="agent_logout", kw_only=True, gc=False):
    pass


class AgentReady(AgentEvent, tag="agent_ready", kw_only=True, gc=False):
    pass


class AgentNotReady(AgentEvent, tag="agent_not_ready", kw_only=True, gc=False):
    reason: str | None = None


class Heartbeat(Event, tag="heartbeat", kw_only=True, gc=False):
    """The source is alive; carries no payload."""


AnyEvent = (
    Ringing | Answered | Abandoned | VoicemailLeft | CallbackRequested | FlowedOut
    | CallbackAttempted | CallbackCancelled | Hold | Unhold | Ended | WrapupStarted
    | WrapupEnded | RingNoAnswer | AgentLogin | AgentLogout | AgentReady | AgentNotReady
    | Heartbeat
)

# Call events that also change an agent's state; the worker forwards these to the agents topic
# (DESIGN.md decision 2) and replay hands them to the agent's state as well.
AGENT_CALL_EVENTS: Final = (Answered, Hold, Unhold, Ended, WrapupStarted, WrapupEnded, RingNoAnswer)

# Which states each event type goes to, by exact type (event types are final), as bits: its
# queue, its agent, or both (a heartbeat goes to neither). The engine and the live core look
# this up for every event: isinstance on msgspec Structs costs several times more.
TO_QUEUE: Final = 1
TO_AGENT: Final = 2
ROUTE: Final[dict[type, int]] = {
    t: TO_AGENT if issubclass(t, AgentEvent)
    else TO_QUEUE | TO_AGENT if issubclass(t, AGENT_CALL_EVENTS)
    else TO_QUEUE if issubclass(t, CallEvent) else 0
    for t in get_args(AnyEvent)
}


class Rejected(msgspec.Struct, frozen=True, gc=False):
    """Why an input could not become an event; ``detail`` is for humans, ``reason`` for counters."""

    reason: str
    detail: str


def datetime_to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime, exactly (no float rounding of microseconds)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


_EPOCH: Final = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_DECODER: Final = msgspec.json.Decoder(AnyEvent)
_ENCODER: Final = msgspec.json.Encoder()


def decode_event(data: bytes | str, *, now_ms: int | None = None) -> AnyEvent | Rejected:
    """Decode and validate one canonical event (``spec/EVENTS.md``).

    Returns the event, or a :class:`Rejected` carrying one of :data:`REASONS`; never raises on
    bad input. ``now_ms`` enables the "more than 24 h in the future" rule; without it (offline
    replay) that rule is not applied, since there is no present to compare with.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        return Rejected(TOO_LARGE, f"message of {size} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        event: AnyEvent = _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        return Rejected(_reason_of(str(exc)), str(exc))
    except msgspec.DecodeError as exc:
        return Rejected(NOT_JSON, str(exc))
    if now_ms is not None and event.ts > now_ms + MAX_FUTURE_MS:
        return Rejected(FUTURE_TS, f"ts {event.ts} is more than 24 h after {now_ms}")
    return event


def decode_lines(lines: Iterable[bytes], rejected: dict[str, int]) -> Iterator[AnyEvent]:
    """The events of JSON Lines, as :func:`decode_event` takes them one by one; blank lines are
    skipped and each bad line is counted in ``rejected`` under its reason. Faster than calling
    :func:`decode_event` per line (replay reads millions): a good line is decoded straight away,
    and only a bad one goes through the checks that name its reason."""
    decode = _DECODER.decode
    for line in lines:
        if len(line) <= MAX_MESSAGE_BYTES:
            try:
                yield decode(line)
                continue
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass
        if not line.isspace():
            got = decode_event(line)
            assert isinstance(got, Rejected)  # only a bad line gets here
            rejected[got.reason] = rejected.get(got.reason, 0) + 1


def encode_event(event: AnyEvent) -> bytes:
    """The canonical JSON of an event (``ts`` as epoch milliseconds)."""
    return _ENCODER.encode(event)


def _reason_of(message: str) -> str:
    """Map a msgspec validation message to a reason code.

    msgspec reports the failing JSON path after `` - at ``; the path and the message's head
    together decide the reason.
    """
    head, _, path = message.partition(" - at `")
    path = path.rstrip("`")
    if head.startswith("bad_ts") or path == "$.ts":
        return BAD_TS
    if path == "$.type" or head.startswith("Object missing required field `type`"):
        return UNKNOWN_TYPE if path == "$.type" else MISSING_FIELD
    if path == "$.v":
        return BAD_VERSION
    if head.startswith("Object missing required field"):
        return MISSING_FIELD
    if head.startswith("Expected `object`") and path in ("", "$"):
        return NOT_OBJECT
    if " of length " in head:
        return BAD_LENGTH
    if head.startswith("Expected") and any(op in head for op in ("` >", "` <", "` ==")):
        return BAD_VALUE
    if head.startswith("Expected"):
        return WRONG_TYPE
    return BAD_VALUE
