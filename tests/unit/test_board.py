"""The wallboard protocol (callpulse.board): items, coalescing, sequence gaps and resync, and the
masking of caller numbers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callpulse.board import (
    MASK,
    Board,
    ClientView,
    Item,
    ProtocolError,
    parse_items,
    parse_stored,
    publish_args,
    scrub,
)


def item(kind: str, key: str, seq: int, **data: object) -> Item:
    return parse_stored(json.dumps({"kind": kind, "key": key, "seq": seq, "data": data}))


def test_a_client_joining_gets_everything_then_deltas_in_sequence() -> None:
    board = Board()
    board.replace([item("queue", "t/sales", 3, waiting=1), item("agent", "t/a1", 7, state="available")])
    client = ClientView()
    assert client.receive(board.snapshot(now_ms=1_000)) is None
    assert client.items[("queue", "t/sales")]["data"] == {"waiting": 1}
    assert client.now_ms == 1_000

    board.apply([item("queue", "t/sales", 4, waiting=2)])
    assert client.receive(board.delta(now_ms=1_100)) is None
    assert client.items[("queue", "t/sales")]["data"] == {"waiting": 2}
    assert client.seq == board.seq == 1


def test_changes_between_two_broadcasts_are_coalesced_to_the_latest_per_key() -> None:
    board = Board()
    board.apply([item("queue", "t/q", 1, waiting=1)])
    board.apply([item("queue", "t/q", 2, waiting=2), item("queue", "t/r", 1, waiting=5)])
    board.apply([item("queue", "t/q", 3, waiting=3)])
    sent = json.loads(board.delta(now_ms=0))
    assert sent["type"] == "delta"
    assert sorted((i["key"], i["data"]["waiting"]) for i in sent["items"]) == [("t/q", 3), ("t/r", 5)]
    heartbeat = json.loads(board.delta(now_ms=1))
    assert heartbeat["items"] == [] and heartbeat["seq"] == sent["seq"] + 1


def test_an_older_write_of_a_key_never_replaces_a_newer_one() -> None:
    board = Board()
    assert board.apply([item("queue", "t/q", 5, waiting=5)]) == 1
    assert board.apply([item("queue", "t/q", 4, waiting=4), item("queue", "t/q", 5, waiting=9)]) == 0
    assert json.loads(board.items[("queue", "t/q")].raw)["data"] == {"waiting": 5}


def test_a_gap_asks_for_a_resync_and_the_snapshot_heals_it() -> None:
    board = Board()
    client = ClientView()
    client.receive(board.snapshot(now_ms=0))
    board.apply([item("queue", "t/q", 1, waiting=1)])
    board.delta(now_ms=1)  # lost on the way
    board.apply([item("queue", "t/q", 2, waiting=2)])
    assert client.receive(board.delta(now_ms=2)) == b'{"type":"resync"}'
    board.apply([item("queue", "t/q", 3, waiting=3)])
    assert client.receive(board.delta(now_ms=3)) is None  # ignored: a snapshot is coming
    assert client.receive(board.snapshot(now_ms=4)) is None
    assert client.items[("queue", "t/q")]["data"] == {"waiting": 3}
    board.apply([item("queue", "t/q", 4, waiting=4)])
    assert client.receive(board.delta(now_ms=5)) is None
    assert client.items[("queue", "t/q")]["data"] == {"waiting": 4}


def test_a_resync_of_all_clients_replaces_what_they_held() -> None:
    board = Board()
    board.replace([item("queue", "t/old", 90, waiting=1)])
    client = ClientView()
    client.receive(board.snapshot(now_ms=0))
    # Redis restarted: its sequence numbers begin again, and nothing held before counts.
    board.replace([item("queue", "t/new", 1, waiting=2)])
    assert client.receive(board.resync_all(now_ms=1)) is None
    assert set(client.items) == {("queue", "t/new")}
    board.apply([item("queue", "t/new", 2, waiting=3)])
    assert client.receive(board.delta(now_ms=2)) is None
    assert client.items[("queue", "t/new")]["data"] == {"waiting": 3}


@given(st.lists(st.tuples(st.sampled_from(["t/a", "t/b", "t/c"]), st.integers(1, 50),
                          st.integers(0, 99), st.booleans()), max_size=60))
def test_a_client_ends_up_holding_what_the_board_holds(ops: list[tuple[str, int, int, bool]]) -> None:
    """Whatever the interleaving of updates, broadcasts and lost messages, a client that
    resyncs on a gap converges to the board once a message reaches it."""
    board = Board()
    client = ClientView()
    client.receive(board.snapshot(now_ms=0))
    for key, seq, waiting, lost in ops:
        board.apply([item("queue", key, seq, waiting=waiting)])
        message = board.delta(now_ms=seq)
        if lost:
            continue
        if client.receive(message) is not None:
            client.receive(board.snapshot(now_ms=seq))
    if client.receive(board.delta(now_ms=100)) is not None:
        client.receive(board.snapshot(now_ms=100))
    held = {k: json.loads(i.raw)["data"] for k, i in board.items.items()}
    assert {k: i["data"] for k, i in client.items.items()} == held


def test_channel_messages_are_parsed_and_malformed_ones_refused() -> None:
    items = parse_items(b'[{"kind":"queue","key":"t/q","seq":1,"data":{"waiting":2}}]')
    assert items[0].kind == "queue" and items[0].seq == 1
    for bad in (b"{", b'{"kind":"queue"}', b'[{"kind":"queue","key":"t/q","seq":"1","data":1}]',
                b'[{"kind":"secrets","key":"k","seq":1,"data":1}]', b'[{"kind":"queue","key":"k","seq":1}]'):
        with pytest.raises(ProtocolError):
            parse_items(bad)


def test_caller_numbers_never_leave_the_server() -> None:
    data = {"caller": "+44 20 7946 0958", "callback": {"number": "0207946095"},
            "note": "call +1 (555) 010-9999", "callers": ["+33612345678"], "waiting": 12345678,
            "call_id": "1341133445.37", "agent": "a00017", "as_of_ms": 1_730_000_000_000,
            "queue": "sales", "phone": None}
    out = scrub(data)
    assert out["caller"] == MASK and out["callback"]["number"] == MASK
    assert out["callers"] == [MASK]
    assert out["waiting"] == 12345678 and out["as_of_ms"] == 1_730_000_000_000  # numbers stay
    assert out["call_id"] == "1341133445.37" and out["agent"] == "a00017"
    assert out["note"] == "call [masked]"
    assert out["phone"] is None
    for text, masked in (("sip:+4930123456@pbx", "sip:[masked]@pbx"),
                         ("tel:+4930123456", "tel:[masked]"), ("+44.20.7946.0000", "[masked]"),
                         ("SIP/4930123456-00000001", "SIP/[masked]-[masked]"),
                         ("callback +44 20 7946 0000 asap", "callback [masked] asap"),
                         ("2026-11-24T06:21:53Z", "2026-11-24T06:21:53Z"), ("queue 12", "queue 12"),
                         ("wait 12.5 s", "wait 12.5 s")):
        assert scrub(text) == masked, text
    assert scrub({"by_caller": {"+4930123456": 2}}) == {"by_caller": {MASK: 2}}
    raw = parse_stored(json.dumps({"kind": "agent", "key": "t/a", "seq": 1, "data": data})).raw
    assert b"7946" not in raw and b"33612345678" not in raw


def test_publish_args_follow_the_script_layout() -> None:
    assert publish_args("p", [("ack", "t/q/x", b"{}")], [("pbx", 5)]) == \
        ["p", 1, "ack", "t/q/x", b"{}", 1, "pbx", "5"]
