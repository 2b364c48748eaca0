"""The live worker's sans-I/O core, with Kafka records as plain values (no broker)."""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

import lz4.frame
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callpulse import events as ev
from callpulse.config import Config, parse_config
from callpulse.live import AGENTS, CALLS, PRESENCE, LiveCore, Record
from callpulse.queue import QueueParams

from .strategies import day_of_events

PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = 1_763_978_400_000
WALL = T0 + 60_000


def core(grace_ms: int = 60_000, **kwargs: Any) -> LiveCore:
    return LiveCore(Config(), QueueParams(grace_ms=grace_ms), **kwargs)


# The fake consumer may read one partition hours of event time ahead of another (and forwards
# arrive after their source); live, partitions move together within seconds. The agent side is
# order-free within its grace, so the crash property uses a grace longer than the generated day
# to test redelivery alone.
LONG_GRACE_MS = 24 * 3_600_000


def raw(etype: str, i: int, ts_s: float = 0, **fields: Any) -> bytes:
    return json.dumps({"v": 1, "id": f"e{i}", "type": etype, "ts": T0 + round(ts_s * 1000),
                       "source": "t", **fields}).encode()


class Topics:
    """A fake broker: per topic kind and partition, an append-only log with offsets."""

    def __init__(self, partitions: int = 2) -> None:
        self.partitions = partitions
        self.logs: dict[tuple[str, int], list[bytes]] = {}

    def append(self, kind: str, key: bytes, value: bytes) -> Record:
        partition = sum(key) % self.partitions
        log = self.logs.setdefault((kind, partition), [])
        log.append(value)
        return Record(kind, partition, len(log) - 1, key, value)


class Consumer:
    """Reads each partition in offset order from a position, as Kafka does; which partition
    comes next, and how much of it, is up to ``rng``."""

    def __init__(self, topics: Topics, rng: random.Random,
                 positions: dict[tuple[str, int], int] | None = None) -> None:
        self.topics = topics
        self.rng = rng
        self.pos = dict(positions or {})

    def poll(self) -> list[Record]:
        ready = sorted(tp for tp, log in self.topics.logs.items() if self.pos.get(tp, 0) < len(log))
        if not ready:
            return []
        tp = self.rng.choice(ready)
        start = self.pos.get(tp, 0)
        end = min(len(self.topics.logs[tp]), start + self.rng.randint(1, 8))
        self.pos[tp] = end
        return [Record(tp[0], tp[1], i, None, self.topics.logs[tp][i]) for i in range(start, end)]


def route(topics: Topics, e: ev.AnyEvent) -> None:
    """Produce an event as a source does: agent events by agent, the rest by queue."""
    value = ev.encode_event(e)
    if isinstance(e, ev.AgentEvent):
        topics.append(AGENTS, e.agent.encode(), value)
    elif isinstance(e, ev.Heartbeat):
        topics.append(CALLS, b"hb", value)
    else:
        topics.append(CALLS, e.queue.encode(), value)


def step(c: LiveCore, topics: Topics, consumer: Consumer) -> bool:
    """One batch: fold it, produce its forwards and presence. False when nothing was left."""
    batch = consumer.poll()
    out = c.fold(batch, WALL)
    for k, v in out.forwards:
        topics.append(AGENTS, k, v)
    for k, v in out.presence:
        topics.append(PRESENCE, k, v)
    return bool(batch)


def pump(c: LiveCore, topics: Topics, seed: int = 0) -> None:
    """Consume everything, including what the batches produce, like the worker does."""
    consumer = Consumer(topics, random.Random(seed))
    while step(c, topics, consumer):
        pass


def stored(c: LiveCore) -> dict[tuple[str, str], bytes]:
    out = {(CALLS, k): c.dump_queue_key(k) for k in c.queue_keys}
    return out | {(AGENTS, k): c.dump_agent_key(k) for k in c.agent_keys}


def test_call_events_fold_into_queues_and_agent_call_events_are_forwarded() -> None:
    c = core()
    rec = [Record(CALLS, 0, 0, b"q1", raw("ringing", 1, 0, call_id="c1", queue="q1")),
           Record(CALLS, 0, 1, b"q1", raw("answered", 2, 5, call_id="c1", queue="q1",
                                          agent="a1"))]
    out = c.fold(rec, WALL)
    assert out.applied == 2 and not out.dlq
    assert out.forwards == [(b"a1", rec[1].value)]  # the original bytes, keyed by agent
    assert c.queues[("default", "q1")].today.v[1] == 1  # answered
    assert c.dirty_queue_keys == {"q1"}
    assert c.newest_ts == T0 + 5000


def test_redelivered_records_change_nothing() -> None:
    c = core()
    rec = [Record(CALLS, 0, i, b"q1", raw("ringing", i, i, call_id=f"c{i}", queue="q1"))
           for i in range(5)]
    c.fold(rec, WALL)
    before = c.dump_queue_key("q1")
    out = c.fold(rec[2:], WALL)  # a redelivery after a crash: offsets already applied
    assert out.applied == 3  # decoded and seen...
    assert c.dump_queue_key("q1") == before  # ...but not counted again


def test_wrong_topic_and_bad_bytes_go_to_the_dlq_with_their_reason() -> None:
    c = core()
    out = c.fold([
        Record(CALLS, 0, 0, b"a1", raw("agent_ready", 1, agent="a1")),
        Record(AGENTS, 0, 0, b"q1", raw("ringing", 2, call_id="c", queue="q1")),
        Record(CALLS, 0, 1, None, None),
        Record(CALLS, 0, 2, b"k", b"\xff\xfe"),
    ], WALL)
    assert out.rejected == {"wrong_topic": 2, "not_json": 2}
    assert [json.loads(v)["reason"] for _, v in out.dlq] == ["wrong_topic"] * 2 + ["not_json"] * 2
    first = json.loads(out.dlq[0][1])
    assert first["rejected_at_ms"] == WALL and first["topic"] == CALLS and first["offset"] == 0
    assert out.applied == 0 and not c.queues


@PROFILE
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_random_bytes_never_raise(blobs: list[bytes]) -> None:
    c = core()
    out = c.fold([Record(CALLS, 0, i, None, b) for i, b in enumerate(blobs)], WALL)
    assert out.applied + sum(out.rejected.values()) == len(blobs)
    assert len(out.dlq) == sum(out.rejected.values())


def test_presence_gives_queue_agent_counts_and_ignores_stale_records() -> None:
    c = core()
    topics = Topics()
    topics.append(AGENTS, b"a1", raw("agent_login", 1, 0, agent="a1", queues=["q1", "q2"]))
    topics.append(AGENTS, b"a1", raw("agent_ready", 2, 1, agent="a1"))
    topics.append(AGENTS, b"a2", raw("agent_login", 3, 0, agent="a2", queues=["q1"]))
    consumer = Consumer(topics, random.Random(1))
    while step(c, topics, consumer):
        pass
    assert c.agent_counts("default", "q1") == {"available": 2, "on_call": 0, "wrap_up": 0,
                                               "not_ready": 0, "logged_in": 2}
    topics.append(AGENTS, b"a2", raw("agent_not_ready", 9, 1, agent="a2"))
    while step(c, topics, consumer):
        pass
    assert c.agent_counts("default", "q1")["not_ready"] == 1
    # a1 logs out: q1 and q2 both hear it; a replayed older record cannot revive it.
    old = [(tp, list(log)) for tp, log in topics.logs.items() if tp[0] == PRESENCE]
    topics.append(AGENTS, b"a1", raw("agent_logout", 4, 2, agent="a1"))
    while step(c, topics, consumer):
        pass
    assert c.agent_counts("default", "q2")["logged_in"] == 0
    for (kind, partition), log in old:
        c.fold([Record(kind, partition, 10_000 + i, None, v) for i, v in enumerate(log)], WALL)
    assert c.agent_counts("default", "q1")["logged_in"] == 1
    assert c.agent_counts("default", "q2")["logged_in"] == 0


def as_zlib_value(data: bytes) -> bytes:
    """A table value in format 1 (zlib), as workers before LZ4 stored it."""
    assert data[:1] == b"\x02"
    return b"\x01" + zlib.compress(lz4.frame.decompress(data[1:]), 1)


@pytest.mark.parametrize("recode", [None, as_zlib_value], ids=["lz4", "zlib"])
def test_table_values_round_trip_and_resume(recode: Any) -> None:
    topics = Topics()
    a = core()
    for e in day_example():
        route(topics, e)
    pump(a, topics)
    saved = {k: recode(v) if recode else v for k, v in stored(a).items()}
    b = core(lookup=lambda kind, key: saved.get((kind, key)))
    for kind, key in saved:
        (b.queue if kind == CALLS else b.agent)("default", key)  # resumes from the stored value
    now = T0 + 7_200_000
    for name in a.queues:
        assert b.queue_view(*name, now) == a.queue_view(*name, now)
    for name in a.agents:
        assert b.agent_view(*name, now) == a.agent_view(*name, now)


def test_dropping_partitions_forgets_their_states() -> None:
    c = core()
    c.fold([Record(CALLS, 0, 0, b"q1", raw("ringing", 1, call_id="c1", queue="q1")),
            Record(CALLS, 1, 0, b"q2", raw("ringing", 2, call_id="c2", queue="q2")),
            Record(AGENTS, 1, 0, b"a1", raw("agent_login", 3, agent="a1", queues=["q2"]))],
           WALL)
    c.drop_partitions(CALLS, [1])
    assert set(c.queues) == {("default", "q1")} and c.dirty_queue_keys == {"q1"}
    assert ("default", "a1") in c.agents
    c.drop_partitions(AGENTS, [1])
    assert not c.agents and not c.dirty_agent_keys


def test_reconfigure_recounts_held_calls() -> None:
    c = core()
    c.fold([Record(CALLS, 0, 0, b"q1", raw("ringing", 1, 0, call_id="c1", queue="q1")),
            Record(CALLS, 0, 1, b"q1", raw("answered", 2, 25, call_id="c1", queue="q1",
                                           agent="a"))], WALL)
    q = c.queues[("default", "q1")]
    assert q.today.v[2] == 0  # answered within 20 s: no
    refused = c.reconfigure(parse_config({"queues": {"q1": {"sl_threshold_s": 30}}}))
    assert refused == [] and q.today.v[2] == 1
    assert c.reconfigure(parse_config({"queues": {"q1": {"timezone": "Europe/Berlin"}}})) \
        == ["default/q1"]


def day_example() -> list[ev.AnyEvent]:
    dec = msgspec.json.Decoder(ev.AnyEvent)
    return [dec.decode(raw(*args[:3], **args[3])) for args in (
        ("agent_login", 1, 0, {"agent": "a1", "queues": ["q1"]}),
        ("agent_ready", 2, 1, {"agent": "a1"}),
        ("ringing", 3, 2, {"call_id": "c1", "queue": "q1"}),
        ("answered", 4, 9, {"call_id": "c1", "queue": "q1", "agent": "a1"}),
        ("ringing", 5, 20, {"call_id": "c2", "queue": "q1"}),
        ("ended", 6, 60, {"call_id": "c1", "queue": "q1", "agent": "a1"}),
        ("heartbeat", 7, 61, {}),
    )]


@PROFILE
@given(day_of_events(max_calls=8), st.integers(0, 10**6), st.integers(0, 60),
       st.integers(0, 60), st.data())
def test_crash_at_any_point_then_redelivery_equals_one_clean_run(
        events: list[ev.AnyEvent], seed: int, stored_after: int, crash_after: int,
        data: st.DataObject) -> None:
    """DESIGN.md decision 5: the states stored after some batch, more batches folded and their
    forwards and presence produced but their states never stored, then every partition read
    again from a committed offset at or before what the stored states applied (as after a
    ``kill -9``), end up exactly as one clean run: forwards produced twice are deduplicated by
    event id, presence sent twice by its sequence number."""
    clean_topics, topics = Topics(), Topics()
    for e in events:
        route(clean_topics, e)
        route(topics, e)
    clean = core(LONG_GRACE_MS)
    pump(clean, clean_topics, seed)

    first = core(LONG_GRACE_MS)
    consumer = Consumer(topics, random.Random(seed))
    for _ in range(min(stored_after, crash_after)):
        if not step(first, topics, consumer):
            break
    saved = stored(first)
    committed = {tp: data.draw(st.integers(0, pos)) for tp, pos in sorted(consumer.pos.items())}
    for _ in range(crash_after - stored_after):  # folded and produced, never stored
        if not step(first, topics, consumer):
            break
    second = core(LONG_GRACE_MS)
    for (kind, key), value in saved.items():  # what the worker does once recovery is done
        (second.load_queue_key if kind == CALLS else second.load_agent_key)(key, value)
    resumed = Consumer(topics, random.Random(seed + 1), committed)
    while step(second, topics, resumed):
        pass
    now = max(e.ts for e in events) + 60_000
    # A queue known only from presence (an agent who logged in and out again) exists or not
    # depending on how the batches fell; it is empty either way.
    for extra in set(second.queues) ^ set(clean.queues):
        c = second if extra in second.queues else clean
        assert not c.queues[extra].calls and c.agent_counts(*extra)["logged_in"] == 0
    for name in set(clean.queues) & set(second.queues):
        assert second.queue_view(*name, now) == clean.queue_view(*name, now), name
    for name in clean.agents:
        assert second.agent_view(*name, now) == clean.agent_view(*name, now), name


def test_a_queue_on_two_partitions_is_counted_as_misrouted_and_still_folded() -> None:
    c = core()
    c.fold([Record(CALLS, 0, 5, b"q1", raw("ringing", 1, 0, call_id="c1", queue="q1")),
            Record(CALLS, 1, 0, b"x", raw("ringing", 2, 1, call_id="c2", queue="q1"))], WALL)
    assert c.misrouted == 1
    assert c.queues[("default", "q1")].today.v[0] == 2  # offered: both counted


def test_a_corrupt_stored_value_is_a_state_format_error() -> None:
    from callpulse.errors import StateFormatError

    c = core()
    for data in (b"\x01not zlib", b"\x02not lz4", b"\x09unknown format",
                 b"\x01" + zlib.compress(b"\x05"), b"\x02" + lz4.frame.compress(b"\x05")):
        with pytest.raises(StateFormatError, match="queue key 'q1'"):
            c.load_queue_key("q1", data)
        with pytest.raises(StateFormatError, match="agent key 'a1'"):
            c.load_agent_key("a1", data)


def test_a_source_is_stale_after_30_s_of_silence_and_views_follow_changes() -> None:
    core = LiveCore(Config(), QueueParams())
    core.fold([Record(CALLS, 0, 0, b"pbx", json.dumps(
        {"v": 1, "id": "h1", "type": "heartbeat", "ts": T0, "source": "pbx"}).encode())], T0)
    assert list(core.source_views(T0 + 30_000, refresh=True)) == ["pbx"]
    assert core.source_views(T0 + 30_000, refresh=False) == {}  # not stale, nothing changed
    view = core.source_views(T0 + 30_001, refresh=False)["pbx"]
    assert view["stale"] and view["age_s"] == 30.001
    assert view["alerts"] == [{"alert": "source_stale", "severity": "crit",
                               "since_ms": T0 + 30_000, "value": 30.001}]
    assert core.source_views(T0 + 40_000, refresh=False) == {}  # still stale: no change
    core.fold([Record(CALLS, 0, 1, b"pbx", json.dumps(
        {"v": 1, "id": "h2", "type": "heartbeat", "ts": T0 + 40_000, "source": "pbx"}).encode())],
        T0 + 40_000)
    back = core.source_views(T0 + 40_000, refresh=False)["pbx"]
    assert not back["stale"] and back["alerts"] == [] and back["last_event_ms"] == T0 + 40_000


def test_a_sweep_that_changes_a_state_marks_it_for_storing_and_one_that_does_not_leaves_it() -> None:
    c = LiveCore(Config(), QueueParams(keep_intervals_ms=3_600_000))
    c.fold([Record(CALLS, 0, 0, b"q1", raw("ringing", 1, 0, call_id="c1", queue="q1"))], WALL)
    c.dirty_queue_keys.clear()
    c.sweep(T0 + 60_000)  # the interval floor moves (first sweep); nothing else
    assert c.dirty_queue_keys == {"q1"}
    c.dirty_queue_keys.clear()
    c.sweep(T0 + 61_000)  # same floor, the call still waiting within its limits
    assert c.dirty_queue_keys == set()
    c.sweep(T0 + 5 * 3_600_000)  # past max_wait_s: the call is lost, intervals dropped
    assert c.dirty_queue_keys == {"q1"}
