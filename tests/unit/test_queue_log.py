"""Asterisk queue_log -> canonical events: the full mapping on a realistic day, the rules."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callpulse.events import (
    Abandoned,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    Answered,
    AnyEvent,
    Ended,
    FlowedOut,
    Ringing,
    RingNoAnswer,
    WrapupEnded,
    WrapupStarted,
    decode_event,
    encode_event,
)
from callpulse.queue_log import QueueLogParser, parse_epoch_ms, parse_queue_log

FIXTURE = Path(__file__).parent.parent / "fixtures" / "queue_log_all_events.log"

C1, C2, C3, C4 = "1709539200.101", "1709539800.102", "1709540400.103", "1709541000.104"
C5, C6, C7, C8 = "1709542800.105", "1709543400.106", "1709544000.107", "1709544600.108"
C9, C10, C11, C12 = "1709554200.109", "1709554500.110", "1709554800.111", "1709559000.112"
C13, C14, C15, C16 = "1709560800.113", "1709561400.114", "1709568000.115", "1709578800.116"


def summary(event: AnyEvent) -> tuple[Any, ...]:
    """The fields that matter of one event, as a comparable tuple."""
    match event:
        case Ringing():
            return ("ringing", event.ts, event.queue, event.call_id, event.caller)
        case Answered():
            return ("answered", event.ts, event.queue, event.call_id, event.agent, event.wait_s)
        case Abandoned():
            return ("abandoned", event.ts, event.queue, event.call_id, event.wait_s)
        case FlowedOut():
            return ("flowed_out", event.ts, event.queue, event.call_id, event.reason,
                    event.wait_s)
        case Ended():
            return ("ended", event.ts, event.queue, event.call_id, event.agent, event.talk_s,
                    event.disposition)
        case RingNoAnswer():
            return ("ring_no_answer", event.ts, event.queue, event.call_id, event.agent,
                    event.ring_ms)
        case WrapupStarted():
            return ("wrapup_started", event.ts, event.queue, event.call_id, event.agent)
        case WrapupEnded():
            return ("wrapup_ended", event.ts, event.queue, event.call_id, event.agent,
                    event.acw_s)
        case AgentLogin():
            return ("agent_login", event.ts, event.agent, tuple(event.queues))
        case AgentLogout():
            return ("agent_logout", event.ts, event.agent)
        case AgentReady():
            return ("agent_ready", event.ts, event.agent)
        case AgentNotReady():
            return ("agent_not_ready", event.ts, event.agent, event.reason)
        case _:
            raise AssertionError(f"unexpected event {event!r}")


EXPECTED = [
    ("agent_login", 1709538900000, "SIP/1001", ("support",)),
    ("agent_login", 1709538905000, "SIP/1001", ("sales", "support")),
    ("agent_login", 1709538960000, "SIP/1002", ("support",)),
    ("agent_login", 1709539020000, "Agent/1003", ("sales",)),
    # C1: ring no answer on 1002, answered by 1001, caller hangs up, 30 s wrap-up
    ("ringing", 1709539200250, "support", C1, "0611111111"),
    ("ring_no_answer", 1709539215300, "support", C1, "SIP/1002", 15000),
    ("answered", 1709539220000, "support", C1, "SIP/1001", 20),
    ("ended", 1709539520000, "support", C1, "SIP/1001", 300, None),
    ("wrapup_started", 1709539520500, "support", C1, "SIP/1001"),
    ("wrapup_ended", 1709539550500, "support", C1, "SIP/1001", 30),
    # C2: answered by Agent/1003 (the RINGCANCELED of SIP/1001 yields nothing)
    ("ringing", 1709539800000, "sales", C2, "0622222222"),
    ("answered", 1709539808000, "sales", C2, "Agent/1003", 8),
    ("ended", 1709540048000, "sales", C2, "Agent/1003", 240, None),
    # C3: abandoned
    ("ringing", 1709540400000, "support", C3, "0633333333"),
    ("abandoned", 1709540445000, "support", C3, 45),
    # C4: exit with key, then re-enters the same queue: its own call_id
    ("ringing", 1709541000999, "support", C4, "0644444444"),
    ("flowed_out", 1709541030000, "support", C4, "exit_key", 30),
    ("ringing", 1709541060000, "support", f"{C4}#2", "0644444444"),
    ("answered", 1709541072000, "support", f"{C4}#2", "SIP/1002", 12),
    ("ended", 1709541252000, "support", f"{C4}#2", "SIP/1002", 180, None),
    # C5: timeout
    ("ringing", 1709542800000, "sales", C5, "0655555555"),
    ("flowed_out", 1709542920000, "sales", C5, "timeout", 120),
    # C6: support, transferred to the sales queue: first entry there keeps the plain callid
    ("ringing", 1709543400000, "support", C6, "0666666666"),
    ("answered", 1709543405000, "support", C6, "SIP/1001", 5),
    ("ended", 1709543500000, "support", C6, "SIP/1001", 95, "transfer"),
    ("ringing", 1709543501000, "sales", C6, "0666666666"),
    ("answered", 1709543505000, "sales", C6, "Agent/1003", 4),
    ("ended", 1709543705000, "sales", C6, "Agent/1003", 200, None),
    # C7: blind transfer
    ("ringing", 1709544000000, "sales", C7, "0677777777"),
    ("answered", 1709544010000, "sales", C7, "Agent/1003", 10),
    ("ended", 1709544070000, "sales", C7, "Agent/1003", 60, "transfer"),
    # C8: attended transfer
    ("ringing", 1709544600000, "support", C8, "0688888888"),
    ("answered", 1709544607000, "support", C8, "SIP/1002", 7),
    ("ended", 1709544757000, "support", C8, "SIP/1002", 150, "transfer"),
    ("agent_not_ready", 1709546400000, "SIP/1002", "break"),
    ("agent_ready", 1709547300000, "SIP/1002"),
    # lunch: sales has nobody
    ("agent_not_ready", 1709553600000, "SIP/1001", "lunch"),
    ("agent_logout", 1709553600000, "Agent/1003"),
    ("ringing", 1709554200000, "sales", C9, "0699999999"),
    ("flowed_out", 1709554240000, "sales", C9, "no_agents", 40),
    ("ringing", 1709554500000, "sales", C10, "0610101010"),
    ("flowed_out", 1709554520000, "sales", C10, "no_agents", 20),
    ("ringing", 1709554800000, "sales", C11, None),
    ("flowed_out", 1709554800000, "sales", C11, "no_agents", 0),
    ("agent_ready", 1709555400000, "SIP/1001"),
    ("agent_login", 1709557200000, "Agent/1003", ("sales",)),
    ("ringing", 1709559000000, "support", C12, None),
    ("flowed_out", 1709559000000, "support", C12, "full", 0),
    # overflow diversions; DIVERT_HOLDTIME without a wait time
    ("ringing", 1709560800000, "support", C13, "0613131313"),
    ("flowed_out", 1709560890000, "support", C13, "overflow", 90),
    ("ringing", 1709561400000, "sales", C14, None),
    ("flowed_out", 1709561520000, "sales", C14, "overflow", None),
    ("agent_not_ready", 1709564400000, "SIP/1001", None),
    ("agent_ready", 1709564700000, "SIP/1001"),
    # C15: sub-second timestamps, truncated to the millisecond
    ("ringing", 1709568000000, "support", C15, "0615151515"),
    ("answered", 1709568025500, "support", C15, "SIP/1001", 25),
    ("ended", 1709568445123, "support", C15, "SIP/1001", 420, None),
    ("agent_logout", 1709571600000, "Agent/1003"),
    ("agent_login", 1709573400000, "SIP/1001", ("support",)),
    ("agent_logout", 1709573405000, "SIP/1001"),
    ("agent_logout", 1709573460000, "SIP/1002"),
    ("ringing", 1709578800000, "sales", C16, None),
    ("flowed_out", 1709578800000, "sales", C16, "closed", 0),
]


def fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


def feed_all(parser: QueueLogParser, text: str) -> list[AnyEvent]:
    events: list[AnyEvent] = []
    for line_no, line in enumerate(text.strip().splitlines(), start=1):
        events.extend(parser.feed(line, line_no))
    return events


# --------------------------------------------------------------------------- the fixture day


def test_fixture_maps_every_line() -> None:
    events, ignored = parse_queue_log(fixture_lines())
    assert [summary(e) for e in events] == EXPECTED
    assert ignored == {"unknown_event": 3, "exit_without_enterqueue": 1, "ringcanceled": 1}


def test_fixture_has_every_event_type() -> None:
    kinds = {line.split("|")[4] for line in fixture_lines()}
    assert kinds >= {
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "TRANSFER", "BLINDTRANSFER",
        "ATTENDEDTRANSFER", "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY",
        "LEAVEEMPTY", "DIVERT_CA_RATIO", "DIVERT_HOLDTIME", "FULL", "JOINEMPTY", "CLOSED",
        "RINGNOANSWER", "RINGCANCELED", "AGENTLOGIN", "AGENTCALLBACKLOGIN", "ADDMEMBER",
        "AGENTLOGOFF", "AGENTCALLBACKLOGOFF", "REMOVEMEMBER", "PAUSE", "PAUSEALL", "UNPAUSE",
        "UNPAUSEALL", "WRAPUPSTART", "QUEUESTART", "CONFIGRELOAD", "INFO",
    }


def test_fixture_events_are_valid_canonical_events() -> None:
    events, _ = parse_queue_log(fixture_lines(), source="pbx-eu-1", tenant="acme")
    for event in events:
        assert event.v == 1
        assert event.source == "pbx-eu-1"
        assert event.tenant == "acme"
        assert decode_event(encode_event(event)) == event


def test_ids_are_deterministic_unique_and_derived_from_the_line() -> None:
    first, _ = parse_queue_log(fixture_lines())
    second, _ = parse_queue_log(fixture_lines())
    assert [encode_event(e) for e in first] == [encode_event(e) for e in second]
    ids = [e.id for e in first]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"ql-[0-9a-f]{20}(-[12])?", i) for i in ids)

    line = "1709559000|1709559000.112|support|NONE|FULL|"
    digest = hashlib.sha1(line.encode()).hexdigest()[:20]
    ring, flow = QueueLogParser().feed(f"  {line}\r\n", 7)
    assert (ring.id, flow.id) == (f"ql-{digest}-1", f"ql-{digest}-2")
    (single,) = QueueLogParser().feed("1709539020|NONE|sales|Agent/1003|AGENTLOGIN|SIP/1003", 1)
    assert single.id == "ql-" + hashlib.sha1(
        b"1709539020|NONE|sales|Agent/1003|AGENTLOGIN|SIP/1003").hexdigest()[:20]


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1341129600", 1341129600000),
        ("1341129600.999999", 1341129600999),
        ("1341129600.123456", 1341129600123),
        ("1341129600.000999", 1341129600000),
        ("1341129600.5", 1341129600500),
        ("1341129600.12", 1341129600120),
        ("0", 0),
    ],
)
def test_epoch_is_parsed_exactly(text: str, ms: int) -> None:
    assert parse_epoch_ms(text) == ms


@pytest.mark.parametrize(
    "text",
    ["2012-07-01 08:00:00.123456", "", " ", "-1341129600", "1.3e9", "1341129600.", ".5",
     "1341129600,5", "0x10", "1341129600.1234567890"],
)
def test_epoch_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_epoch_ms(text)


@given(st.integers(min_value=0, max_value=9_999_999_999), st.integers(0, 999_999))
def test_epoch_truncates_like_exact_decimal(seconds: int, micros: int) -> None:
    text = f"{seconds}.{micros:06d}"
    assert parse_epoch_ms(text) == int(Decimal(text) * 1000)


# --------------------------------------------------------------------------- calls


def test_reentries_get_their_own_call_ids() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        100|c1|q|NONE|ENTERQUEUE||555|1
        110|c1|q|NONE|EXITWITHTIMEOUT|1|1|10
        120|c1|q|NONE|ENTERQUEUE||555|1
        125|c1|other|NONE|ENTERQUEUE||555|1
        130|c1|q|NONE|EXITWITHKEY|5|1|1|10
        140|c1|q|NONE|ENTERQUEUE||555|1
        145|c1|q|SIP/1|RINGNOANSWER|4000
        150|c1|q|SIP/2|CONNECT|10|x|1
        160|c1|q|NONE|FULL|
        170|c1|q|SIP/2|COMPLETEAGENT|10|20|1
    """)
    assert [(type(e).__name__, getattr(e, "queue", None), getattr(e, "call_id", None))
            for e in events] == [
        ("Ringing", "q", "c1"), ("FlowedOut", "q", "c1"),
        ("Ringing", "q", "c1#2"), ("Ringing", "other", "c1"), ("FlowedOut", "q", "c1#2"),
        ("Ringing", "q", "c1#3"), ("RingNoAnswer", "q", "c1#3"), ("Answered", "q", "c1#3"),
        # the FULL entry is a fourth (refused) entry; the open third one still completes
        ("Ringing", "q", "c1#4"), ("FlowedOut", "q", "c1#4"), ("Ended", "q", "c1#3"),
    ]
    assert parser.ignored == {}


def test_repeated_enterqueue_line_is_the_same_event() -> None:
    parser = QueueLogParser()
    line = "100|c1|q|NONE|ENTERQUEUE||555|1"
    (first,) = parser.feed(line, 1)
    (again,) = parser.feed(line, 2)
    assert again == first
    # A different ENTERQUEUE while the entry is open means the exit line was lost.
    (lost,) = parser.feed("130|c1|q|NONE|ENTERQUEUE||555|1", 3)
    assert isinstance(lost, Ringing)
    assert lost.call_id == "c1#2"


def test_lines_without_enterqueue_are_counted() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        100|c9|q|SIP/1|CONNECT|5|x|1
        101|c9|q|SIP/1|COMPLETECALLER|5|60|1
        102|c9|q|NONE|ABANDON|1|1|5
        103|c9|q|SIP/1|RINGNOANSWER|15000
        104|c9|q|SIP/1|TRANSFER|200|ctx|5|60|1
        105|c9|q|SIP/1|WRAPUPSTART|10
        106|c9|q|NONE|DIVERT_HOLDTIME|1|1
    """)
    assert events == []
    assert parser.ignored == {"exit_without_enterqueue": 7}


def test_ended_call_leaves_the_open_map_and_wrapup_still_finds_it() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        100|c1|q|NONE|ENTERQUEUE|||1
        105|c1|q|SIP/1|CONNECT|5|x|1
        165|c1|q|SIP/1|COMPLETEAGENT|5|60|1
        165|c1|q|NONE|WRAPUPSTART|15
        170|c1|q|NONE|ABANDON|1|1|70
    """)
    assert [summary(e) for e in events] == [
        ("ringing", 100000, "q", "c1", None),
        ("answered", 105000, "q", "c1", "SIP/1", 5),
        ("ended", 165000, "q", "c1", "SIP/1", 60, None),
        ("wrapup_started", 165000, "q", "c1", "SIP/1"),
        ("wrapup_ended", 180000, "q", "c1", "SIP/1", 15),
    ]
    assert parser.ignored == {"exit_without_enterqueue": 1}
    assert parser._open == {}


def test_wrapup_while_the_call_is_open_uses_the_current_entry() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        100|c1|q|NONE|ENTERQUEUE|||1
        110|c1|q|NONE|EXITWITHTIMEOUT|1|1|10
        120|c1|q|NONE|ENTERQUEUE|||1
        125|c1|q|SIP/7|CONNECT|5|x|1
        185|c1|q|SIP/7|WRAPUPSTART|20
    """)
    assert [summary(e) for e in events[-2:]] == [
        ("wrapup_started", 185000, "q", "c1#2", "SIP/7"),
        ("wrapup_ended", 205000, "q", "c1#2", "SIP/7", 20),
    ]


def test_waits_and_talk_times_come_from_the_fields() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        100|a|q|NONE|ENTERQUEUE|||1
        500|a|q|SIP/1|CONNECT|42|x|3
        900|a|q|SIP/1|ATTENDEDTRANSFER|LINK|SIP/1-0001|SIP/2-0002|42|77|1
        100|b|q|NONE|ENTERQUEUE|||1
        999|b|q|NONE|EXITWITHTIMEOUT|1
        100|c|q|NONE|ENTERQUEUE|||1
        999|c|q|NONE|EXITWITHKEY|5|1
        100|d|q|NONE|ENTERQUEUE|||1
        999|d|q|NONE|ABANDON|1|1|33
    """)
    assert [summary(e)[4:] for e in events if not isinstance(e, Ringing)] == [
        ("SIP/1", 42),
        ("SIP/1", 77, "transfer"),
        ("timeout", None),  # older Asterisk: no wait time recorded
        ("exit_key", None),
        (33,),
    ]


def test_bounded_call_memory() -> None:
    parser = QueueLogParser(max_calls=2)
    for n in range(10):
        parser.feed(f"{100 + n}|c{n}|q|NONE|ENTERQUEUE|||1", n)
        parser.feed(f"{100 + n}|c{n}|q|NONE|ABANDON|1|1|1", n)
    assert parser._open == {}
    assert len(parser._entries) == 2
    for n in range(5):  # never closed: the oldest open entries are evicted
        parser.feed(f"{200 + n}|d{n}|q|NONE|ENTERQUEUE|||1", n)
    assert len(parser._open) == 2
    assert parser.evicted_calls == 3
    assert len(parser._entries) == 2
    # c0's counter was evicted long ago: a new entry starts the numbering again.
    (ring,) = parser.feed("300|c0|q|NONE|ENTERQUEUE|||1", 99)
    assert isinstance(ring, Ringing)
    assert ring.call_id == "c0"


# --------------------------------------------------------------------------- agents


def test_membership_sets() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        1|NONE|NONE|Agent/1|AGENTLOGIN|SIP/9
        2|MANAGER|b|Agent/1|ADDMEMBER|
        3|MANAGER|a|Agent/1|ADDMEMBER|
        4|MANAGER|a|Agent/1|ADDMEMBER|
        5|MANAGER|b|Agent/1|REMOVEMEMBER|
        6|NONE|NONE|Agent/1|AGENTLOGOFF|SIP/9|5
        7|NONE|c|Agent/1|AGENTCALLBACKLOGIN|1@ctx
        8|MANAGER|zz|Agent/1|REMOVEMEMBER|
        9|NONE|c|Agent/1|AGENTCALLBACKLOGOFF|1@ctx|3|x
        10|MANAGER|c|Agent/1|REMOVEMEMBER|
    """)
    assert [summary(e) for e in events] == [
        ("agent_login", 1000, "Agent/1", ()),
        ("agent_login", 2000, "Agent/1", ("b",)),
        ("agent_login", 3000, "Agent/1", ("a", "b")),
        ("agent_login", 4000, "Agent/1", ("a", "b")),
        ("agent_login", 5000, "Agent/1", ("a",)),
        ("agent_logout", 6000, "Agent/1"),
        ("agent_login", 7000, "Agent/1", ("c",)),
        ("agent_login", 8000, "Agent/1", ("c",)),
        ("agent_logout", 9000, "Agent/1"),
        ("agent_logout", 10000, "Agent/1"),
    ]


def test_pauses() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        1|NONE|q|SIP/1|PAUSE|Lunch break
        2|NONE|q|SIP/1|UNPAUSE|
        3|NONE|NONE|SIP/1|PAUSEALL|
        4|NONE|NONE|SIP/1|UNPAUSEALL|
        5|NONE|NONE|NONE|PAUSEALL|x
    """)
    assert [summary(e) for e in events] == [
        ("agent_not_ready", 1000, "SIP/1", "Lunch break"),
        ("agent_ready", 2000, "SIP/1"),
        ("agent_not_ready", 3000, "SIP/1", None),
        ("agent_ready", 4000, "SIP/1"),
    ]
    assert parser.ignored == {"no_agent": 1}


# --------------------------------------------------------------------------- bad lines


BAD_LINES = [
    "2012-07-01 08:00:00.123456|c1|q|NONE|ENTERQUEUE||555|1",
    "1341129600|c1|q|NONE",
    "garbage",
    "||||",
    "\x00\xff|\x01",
    "1341129600|c1|q|NONE|",
    "1341129600||q|NONE|ENTERQUEUE||555|1",
    "1341129600|c1||NONE|ENTERQUEUE||555|1",
    "1341129600|c1|NONE|NONE|ENTERQUEUE||555|1",
    "1341129600|c0|q|SIP/1|CONNECT|ten|x|1",
    "1341129600|c0|q|SIP/1|CONNECT||x|1",
    "1341129600|c0|q|NONE|ABANDON|1|1|-4",
    "1341129600|c0|q|NONE|EXITWITHTIMEOUT|1|1|4.5",
    "1341129600|c0|q|SIP/1|RINGNOANSWER|soon",
    "1341129600|c0|q|SIP/1|WRAPUPSTART|",
    "1341129600|c0|q|SIP/1|COMPLETECALLER|1|",
    "1341129600|MANAGER|NONE|SIP/1|ADDMEMBER|",
    f"1341129600|c0|{'q' * 129}|NONE|ENTERQUEUE||555|1",
    f"1341129600|NONE|q|{'a' * 129}|PAUSE|",
    "1341129600|c\ud800|q|NONE|ENTERQUEUE||555|1",
    "\u0661\u0662|c2|q|NONE|ENTERQUEUE||555|1",
]


def test_malformed_lines_are_counted_not_raised() -> None:
    parser = QueueLogParser()
    assert parser.feed("1341129600|c0|q|NONE|ENTERQUEUE||555|1", 1)
    for line_no, line in enumerate(BAD_LINES, start=2):
        assert parser.feed(line, line_no) == []
    assert parser.ignored == {"malformed_line": len(BAD_LINES)}
    assert parser.samples[0] == (2, BAD_LINES[0])
    # The open call survived the malformed lines about it.
    (answered,) = parser.feed("1341129610|c0|q|SIP/1|CONNECT|10|x|1", 99)
    assert isinstance(answered, Answered)
    assert answered.call_id == "c0"


def test_blank_unknown_and_agentless_lines() -> None:
    parser = QueueLogParser()
    events = feed_all(parser, """
        1|NONE|NONE|NONE|QUEUESTART|

        2|NONE|q|NONE|CONFIGRELOAD|
        3|c|q|NONE|DID|5551234
        4|c|q|NONE|ENTERQUEUE|||1
        5|c|q|NONE|CONNECT|1|x|1
        6|c|q|SIP/1|RINGCANCELED|900
    """)
    assert [type(e) for e in events] == [Ringing]
    assert parser.ignored == {
        "unknown_event": 3, "blank_line": 1, "no_agent": 1, "ringcanceled": 1,
    }


@given(st.lists(st.text(alphabet="0123456789.|cqNOESIP/ENTERQUEUCOMPLTABD-x ", max_size=60)
                | st.text(max_size=60), max_size=30))
def test_feed_never_raises(lines: list[str]) -> None:
    events, ignored = parse_queue_log(lines)
    for event in events:
        assert decode_event(encode_event(event)) == event
    assert all(count > 0 for count in ignored.values())
