"""`callpulse.events.decode_event` against spec/EVENTS.md: every event type, and every rejection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse import event_types
from callpulse import events as ev
from callpulse.events import Rejected, decode_event

# 2024-01-15T09:00:00Z: 1_704_067_200 (2024-01-01) + 14 d * 86_400 + 9 h * 3_600 = 1_705_309_200 s.
T0_MS = 1_705_309_200_000
NOW_MS = T0_MS
DAY_MS = 24 * 3600 * 1000

CALL = {"call_id": "c1", "queue": "sales"}

# type -> (class, required fields beyond the common ones)
VALID: dict[str, tuple[type, dict[str, Any]]] = {
    "ringing": (ev.Ringing, CALL),
    "answered": (ev.Answered, {**CALL, "agent": "a1"}),
    "abandoned": (ev.Abandoned, CALL),
    "voicemail_left": (ev.VoicemailLeft, CALL),
    "callback_requested": (ev.CallbackRequested, CALL),
    "callback_attempted": (ev.CallbackAttempted, {**CALL, "agent": "a1", "result": "reached"}),
    "callback_cancelled": (ev.CallbackCancelled, CALL),
    "flowed_out": (ev.FlowedOut, {**CALL, "reason": "timeout"}),
    "hold": (ev.Hold, {**CALL, "agent": "a1"}),
    "unhold": (ev.Unhold, {**CALL, "agent": "a1"}),
    "ended": (ev.Ended, {**CALL, "agent": "a1"}),
    "wrapup_started": (ev.WrapupStarted, {**CALL, "agent": "a1"}),
    "wrapup_ended": (ev.WrapupEnded, {**CALL, "agent": "a1"}),
    "ring_no_answer": (ev.RingNoAnswer, {**CALL, "agent": "a1"}),
    "agent_login": (ev.AgentLogin, {"agent": "a1", "queues": ["sales", "support"]}),
    "agent_logout": (ev.AgentLogout, {"agent": "a1"}),
    "agent_ready": (ev.AgentReady, {"agent": "a1"}),
    "agent_not_ready": (ev.AgentNotReady, {"agent": "a1"}),
    "heartbeat": (ev.Heartbeat, {}),
}


def _obj(type_: str = "ringing", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"v": 1, "id": "e1", "type": type_, "ts": T0_MS, "source": "pbx-eu-1"}
    out.update(VALID[type_][1] if type_ in VALID else CALL)
    out.update(fields)
    return out


def _json(type_: str = "ringing", drop: tuple[str, ...] = (), **fields: Any) -> str:
    obj = _obj(type_, **fields)
    for key in drop:
        del obj[key]
    return json.dumps(obj)


def _reason(data: str | bytes, **kw: Any) -> str:
    got = decode_event(data, **kw)
    assert isinstance(got, Rejected), got
    assert got.detail  # a human-readable detail always accompanies the reason
    return got.reason


# -- valid events ----------------------------------------------------------------------------


def test_every_type_is_covered() -> None:
    assert len(VALID) == 19
    assert set(VALID) == {
        cls.__struct_config__.tag for cls in ev.AnyEvent.__args__  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize("type_", sorted(VALID))
def test_valid_event_of_every_type(type_: str) -> None:
    cls, required = VALID[type_]
    got = decode_event(_json(type_))
    assert type(got) is cls
    assert got.v == 1
    assert got.id == "e1"
    assert got.ts == T0_MS
    assert got.source == "pbx-eu-1"
    assert got.tenant == "default"
    for key, value in required.items():
        assert getattr(got, key) == value


@pytest.mark.parametrize("type_", sorted(VALID))
def test_the_engine_finds_every_field_it_reads_in_the_field_tuple(type_: str) -> None:
    got = decode_event(_json(type_, tenant="acme"))
    assert not isinstance(got, Rejected)
    fields = event_types.FIELDS_OF(got)
    layout = event_types.LAYOUT[type(got)]
    assert layout & (ev.TO_QUEUE | ev.TO_AGENT) == ev.ROUTE[type(got)]
    assert (fields[event_types.AT_ID], fields[event_types.AT_TS], fields[event_types.AT_TENANT]) \
        == ("e1", T0_MS, "acme")
    if isinstance(got, ev.CallEvent):
        assert (fields[event_types.AT_CALL_ID], fields[event_types.AT_QUEUE]) \
            == (got.call_id, got.queue)
    agent_at = layout >> event_types.AGENT_SHIFT
    assert (fields[agent_at] if agent_at else None) == getattr(got, "agent", None)
    for at, name in event_types.AT_OF.get(type(got), {}).items():
        assert fields[at] == getattr(got, name)


@pytest.mark.parametrize("type_", sorted(VALID))
def test_valid_event_of_every_type_as_bytes_with_rfc3339_ts(type_: str) -> None:
    got = decode_event(_json(type_, ts="2024-01-15T10:00:00+01:00", tenant="acme").encode())
    assert type(got) is VALID[type_][0]
    assert got.ts == T0_MS
    assert got.tenant == "acme"


def test_optional_fields_are_decoded() -> None:
    got = decode_event(_json("flowed_out", reason="transfer", to_queue="support", wait_s=12.5))
    assert isinstance(got, ev.FlowedOut)
    assert (got.reason, got.to_queue, got.wait_s) == ("transfer", "support", 12.5)
    got = decode_event(_json("ended", disposition="sale", talk_s=0))
    assert isinstance(got, ev.Ended)
    assert (got.disposition, got.talk_s) == ("sale", 0)
    got = decode_event(_json("ring_no_answer", ring_ms=15_000))
    assert isinstance(got, ev.RingNoAnswer)
    assert got.ring_ms == 15_000
    got = decode_event(_json("ringing", caller="+4930123", priority=2))
    assert isinstance(got, ev.Ringing)
    assert (got.caller, got.priority) == ("+4930123", 2)


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        # 10:00 at +01:00 is 09:00Z.
        ("2024-01-15T10:00:00+01:00", T0_MS),
        ("2024-01-15T09:00:00Z", T0_MS),
        ("2024-01-15T04:00:00-05:00", T0_MS),
        ("2024-01-15T14:30:00+05:30", T0_MS),
        # Microseconds become whole milliseconds, exactly (truncated, no float rounding).
        ("2024-01-15T10:00:00.123456+01:00", T0_MS + 123),
        ("2024-01-15T09:00:00.999999Z", T0_MS + 999),
        ("2024-01-15T09:00:00.001Z", T0_MS + 1),
        ("2024-01-15T09:00:00.000999Z", T0_MS),
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00.5+01:00", 500),
    ],
)
def test_rfc3339_ts_with_offset(text: str, expected_ms: int) -> None:
    got = decode_event(_json(ts=text))
    assert isinstance(got, ev.Ringing), got
    assert got.ts == expected_ms
    assert isinstance(got.ts, int)


@pytest.mark.parametrize("ms", [0, 1, T0_MS, T0_MS + 123])
def test_epoch_ms_ts(ms: int) -> None:
    got = decode_event(_json(ts=ms))
    assert isinstance(got, ev.Ringing)
    assert got.ts == ms


def test_unknown_extra_fields_are_accepted() -> None:
    got = decode_event(_json("answered", pbx_uniqueid="1700.42", extra={"nested": [1, 2]}, n=None))
    assert isinstance(got, ev.Answered)
    assert got.agent == "a1"
    assert got.call_id == "c1"


def test_names_of_1_and_128_chars_are_fine() -> None:
    got = decode_event(_json(id="x", queue="q" * 128, call_id="c" * 128, source="s" * 128))
    assert isinstance(got, ev.Ringing)
    assert got.queue == "q" * 128


def test_encode_round_trips() -> None:
    got = decode_event(_json("ended", ts="2024-01-15T10:00:00.250+01:00", disposition="sale"))
    assert isinstance(got, ev.Ended)
    again = decode_event(ev.encode_event(got))
    assert again == got
    assert json.loads(ev.encode_event(got))["ts"] == T0_MS + 250


# -- rejections ------------------------------------------------------------------------------


def test_reasons_are_the_documented_set() -> None:
    assert set(ev.REASONS) == {
        "not_json", "not_object", "unknown_type", "missing_field", "wrong_type", "bad_length",
        "bad_value", "bad_version", "bad_ts", "future_ts", "too_large", "wrong_topic",
    }


@pytest.mark.parametrize("data", ["", "{", "nul", "{'v': 1}", '{"v": 1,}', b"\xff\xfe", "ringing"])
def test_not_json(data: str | bytes) -> None:
    assert _reason(data) == "not_json"


@pytest.mark.parametrize("data", ["[1]", "[]", "1", '"ringing"', "null", "true", "1.5"])
def test_not_object(data: str) -> None:
    assert _reason(data) == "not_object"


@pytest.mark.parametrize("type_", ["nope", "Ringing", "RINGING", "answer", ""])
def test_unknown_type(type_: str) -> None:
    assert _reason(_json(type=type_)) == "unknown_type"


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        ("ringing", "type"),
        ("ringing", "id"),
        ("ringing", "ts"),
        ("ringing", "source"),
        ("ringing", "call_id"),
        ("ringing", "queue"),
        ("answered", "agent"),
        ("callback_attempted", "result"),
        ("flowed_out", "reason"),
        ("agent_login", "queues"),
        ("agent_ready", "agent"),
        ("heartbeat", "v"),
    ],
)
def test_missing_field(type_: str, field: str) -> None:
    assert _reason(_json(type_, drop=(field,))) == "missing_field"


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("ringing", {"call_id": 5}),
        ("ringing", {"queue": ["sales"]}),
        ("ringing", {"id": 7}),
        ("ringing", {"source": None}),
        ("ringing", {"tenant": 1}),
        ("ringing", {"priority": "high"}),
        ("answered", {"wait_s": "12"}),
        ("ended", {"talk_s": True}),
        ("agent_login", {"queues": "sales"}),
        ("agent_login", {"queues": [1]}),
    ],
)
def test_wrong_type(type_: str, fields: dict[str, Any]) -> None:
    assert _reason(_json(type_, **fields)) == "wrong_type"


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("ringing", {"id": ""}),
        ("ringing", {"id": "e" * 129}),
        ("ringing", {"queue": "q" * 129}),
        ("ringing", {"call_id": ""}),
        ("ringing", {"source": ""}),
        ("ringing", {"tenant": ""}),
        ("answered", {"agent": "a" * 129}),
        ("agent_login", {"queues": ["sales", ""]}),
    ],
)
def test_bad_length(type_: str, fields: dict[str, Any]) -> None:
    assert _reason(_json(type_, **fields)) == "bad_length"


@pytest.mark.parametrize(
    ("type_", "fields"),
    [
        ("abandoned", {"wait_s": -1}),
        ("answered", {"wait_s": -0.001}),
        ("ended", {"talk_s": -5}),
        ("wrapup_ended", {"acw_s": -1}),
        ("ring_no_answer", {"ring_ms": -1}),
        ("flowed_out", {"reason": "bogus"}),
        ("flowed_out", {"reason": "TIMEOUT"}),
        ("callback_attempted", {"result": "maybe"}),
    ],
)
def test_bad_value(type_: str, fields: dict[str, Any]) -> None:
    assert _reason(_json(type_, **fields)) == "bad_value"


@pytest.mark.parametrize("version", [0, 2, -1])
def test_bad_version(version: int) -> None:
    assert _reason(_json(v=version)) == "bad_version"


@pytest.mark.parametrize(
    "ts",
    [
        "2024-01-15T09:00:00",  # naive: no offset
        "2024-01-15 09:00:00",
        "garbage",
        "",
        "2024-13-01T00:00:00Z",
        1.5,
        float(T0_MS),  # a float, even an integral one, is not epoch milliseconds
        True,
        False,
        None,
        [T0_MS],
    ],
)
def test_bad_ts(ts: Any) -> None:
    assert _reason(_json(ts=ts)) == "bad_ts"


def test_future_ts() -> None:
    # Exactly 24 h ahead is fine; one millisecond more is not.
    ok = decode_event(_json(ts=NOW_MS + DAY_MS), now_ms=NOW_MS)
    assert isinstance(ok, ev.Ringing)
    assert ok.ts == NOW_MS + DAY_MS
    assert _reason(_json(ts=NOW_MS + DAY_MS + 1), now_ms=NOW_MS) == "future_ts"
    # The same with RFC 3339 text: 2024-01-16T10:00:00+01:00 is now + 24 h.
    assert isinstance(decode_event(_json(ts="2024-01-16T10:00:00+01:00"), now_ms=NOW_MS), ev.Ringing)
    assert _reason(_json(ts="2024-01-16T10:00:00.001+01:00"), now_ms=NOW_MS) == "future_ts"
    assert _reason(_json("heartbeat", ts=NOW_MS + 30 * DAY_MS), now_ms=NOW_MS) == "future_ts"


def test_past_ts_and_no_now_are_not_future() -> None:
    assert isinstance(decode_event(_json(ts=0), now_ms=NOW_MS), ev.Ringing)
    # Without now_ms (offline replay) there is no present to compare with.
    assert isinstance(decode_event(_json(ts=NOW_MS + 365 * DAY_MS)), ev.Ringing)


def _padded(total_bytes: int) -> bytes:
    head = _json("heartbeat", pad="")
    assert head.endswith('"pad": ""}')
    data = (head[:-2] + "x" * (total_bytes - len(head)) + '"}').encode()
    assert len(data) == total_bytes
    return data


def test_too_large_boundary() -> None:
    assert isinstance(decode_event(_padded(64 * 1024)), ev.Heartbeat)
    assert _reason(_padded(64 * 1024 + 1)) == "too_large"
    assert _reason(_padded(64 * 1024).decode() + " ") == "too_large"


def test_too_large_wins_over_anything_else() -> None:
    assert _reason(b"x" * (64 * 1024 + 1)) == "too_large"
    assert _reason(b"[" + b"1," * 40_000 + b"1]") == "too_large"


def _wide_text() -> str:
    # 40,000 "é" are 40,000 characters but 80,000 UTF-8 bytes: over 64 KiB as a message.
    text = json.dumps({**_obj("heartbeat"), "pad": "é" * 40_000}, ensure_ascii=False)
    assert len(text) < 64 * 1024 < len(text.encode())
    return text


def test_too_large_counts_utf8_bytes() -> None:
    assert _reason(_wide_text().encode()) == "too_large"


def test_too_large_counts_utf8_bytes_of_str_input_not_characters() -> None:
    # The same message handed over as `str` is the same 80,000-byte message (spec: "a message
    # over 64 KiB"), so it must be rejected too.
    assert _reason(_wide_text()) == "too_large"


def test_decode_never_raises_on_junk() -> None:
    for data in ['{"v":1,"type":"ringing","ts":{}}', '{"type":1}', '{"v":1,"type":null}', "\x00"]:
        assert isinstance(decode_event(data), Rejected)


def test_review_ts_outside_the_calendar_is_bad_ts() -> None:
    for ts in ('"9999-12-31T23:59:59+00:00"', "100000000000000000", "-5"):
        raw = ('{"v":1,"id":"r1","type":"heartbeat","source":"s","ts":' + ts + "}").encode()
        got = decode_event(raw)
        assert isinstance(got, Rejected) and got.reason == "bad_ts", ts


def test_review_absurd_durations_are_bad_value() -> None:
    raw = (b'{"v":1,"id":"a","type":"abandoned","ts":1,"source":"s","call_id":"c","queue":"q",'
           b'"wait_s":1e17}')
    got = decode_event(raw)
    assert isinstance(got, Rejected) and got.reason == "bad_value"


def test_decode_lines_yields_the_good_and_counts_the_bad_by_reason() -> None:
    good = {"v": 1, "type": "ringing", "id": "r1", "ts": 1_000, "source": "s", "call_id": "c1",
            "queue": "q"}
    later = {**good, "id": "r2", "ts": "1970-01-01T00:00:02Z"}
    lines = [
        json.dumps(good).encode(), b"\n", b"   \t\n", b"not json\n",
        json.dumps({**good, "ts": True}).encode(), json.dumps({**good, "type": "nope"}).encode(),
        b'{"pad": "' + b"x" * ev.MAX_MESSAGE_BYTES + b'"}', json.dumps(later).encode() + b"\n",
    ]
    rejected: dict[str, int] = {}
    events = list(ev.decode_lines(lines, rejected))
    assert [(e.id, e.ts) for e in events] == [("r1", 1_000), ("r2", 2_000)]
    assert rejected == {"not_json": 1, "bad_ts": 1, "unknown_type": 1, "too_large": 1}
    # The same reasons as one by one.
    for line in lines[3:7]:
        assert isinstance(decode_event(line), Rejected)
