"""State bytes (callpulse.codec): what a stored value that cannot be used turns into."""

from __future__ import annotations

import msgspec
import pytest

from callpulse import codec
from callpulse import events as ev
from callpulse.config import Config
from callpulse.engine import Engine
from callpulse.errors import StateFormatError
from callpulse.queue import QueueParams

T0 = 1_700_000_000_000


def test_a_stored_counter_out_of_range_is_a_state_format_error() -> None:
    """Counters are 64-bit machine integers: a stored value past them is a corrupt state, not a
    crash of the worker restoring it."""
    engine = Engine(Config(), QueueParams())
    common = {"v": 1, "source": "t", "call_id": "c1", "queue": "q1"}
    engine.apply_all([ev.Ringing(id="r", ts=T0, **common),
                      ev.Answered(id="a", ts=T0 + 5_000, agent="a1", **common)])
    engine.finish(T0 + 120_000)
    q, a = engine.queues[("default", "q1")], engine.agents[("default", "a1")]
    stored_q = msgspec.msgpack.decode(codec.queue_to_bytes(q)[1:])
    stored_q[3][0][0] = 2**63  # today's first counter
    with pytest.raises(StateFormatError, match="queue state not usable"):
        codec.queue_from_bytes(bytes([codec.VERSION]) + msgspec.msgpack.encode(stored_q),
                               q.cfg, engine.params)
    stored_a = msgspec.msgpack.decode(codec.agent_to_bytes(a)[1:])
    stored_a[2][6][0][0] = 2**63  # today's first counter
    with pytest.raises(StateFormatError, match="corrupt agent state"):
        codec.agent_from_bytes(bytes([codec.VERSION]) + msgspec.msgpack.encode(stored_a),
                               a.calendar)


@pytest.mark.parametrize(("field", "value"), [(3, 1000.5), (3, "1000"), (1, 0), (1, 9)])
def test_a_stored_call_outcome_of_the_wrong_kind_or_type_is_a_state_format_error(
    field: int, value: object,
) -> None:
    """A stored wait that is not an int, or an outcome kind that does not exist, is a corrupt
    state (they were tuples checked by type before; a lenient read would count them)."""
    engine = Engine(Config(), QueueParams())
    common = {"v": 1, "source": "t", "call_id": "c1", "queue": "q1"}
    engine.apply_all([ev.Abandoned(id="x", ts=T0, wait_s=1.0, **common)])
    q = engine.queues[("default", "q1")]
    stored = msgspec.msgpack.decode(codec.queue_to_bytes(q)[1:])
    stored[7]["c1"][1][field] = value  # the call's outcome: (ts, kind, id, wait ms, reason)
    with pytest.raises(StateFormatError, match="queue state not usable"):
        codec.queue_from_bytes(bytes([codec.VERSION]) + msgspec.msgpack.encode(stored),
                               q.cfg, engine.params)


@pytest.mark.parametrize("data", [b"", b"\x00", bytes([codec.VERSION + 1]) + b"\x90", b"\xff"])
def test_an_unknown_version_is_a_state_format_error(data: bytes) -> None:
    """A value written by a later release (or not by callpulse at all) is refused by its
    version byte, before any of it is read."""
    with pytest.raises(StateFormatError, match="unknown state version"):
        codec.queue_from_bytes(data, Config().for_queue("default", "q1"), QueueParams())
    with pytest.raises(StateFormatError, match="unknown state version"):
        codec.agent_from_bytes(data, Engine(Config(), QueueParams()).agent_calendar())


def _steady_hour(hour: int) -> list[ev.AnyEvent]:
    """One hour of a steady queue: a call every 3 s, answered after 10 s by one of 20 agents,
    talking 40 s, then 20 s of wrap-up."""
    out: list[ev.AnyEvent] = []
    for n in range(hour * 1200, (hour + 1) * 1200):
        t, agent = T0 + n * 3_000, f"a{n % 20}"
        common = {"v": 1, "source": "t", "call_id": f"c{n}", "queue": "q1"}
        out += [ev.Ringing(id=f"{n}r", ts=t, **common),
                ev.Answered(id=f"{n}a", ts=t + 10_000, agent=agent, **common),
                ev.Ended(id=f"{n}e", ts=t + 50_000, agent=agent, disposition="sale", **common),
                ev.WrapupEnded(id=f"{n}w", ts=t + 70_000, agent=agent, **common)]
    return sorted(out, key=lambda e: (e.ts, e.id))


def test_state_bytes_do_not_grow_with_the_events_folded() -> None:
    """The state's size is set by the live calls, the ring and the intervals kept (the live
    worker keeps a day; an hour here), not by how many events went through it."""
    engine = Engine(Config(), QueueParams(keep_intervals_ms=3_600_000))
    queue_sizes, agent_sizes = [], []
    for hour in range(8):
        engine.apply_all(_steady_hour(hour))
        if hour >= 2:  # the ring and the intervals kept are full from here on
            queue_sizes.append(len(codec.queue_to_bytes(engine.queues[("default", "q1")])))
            agent_sizes.append(len(codec.agent_to_bytes(engine.agents[("default", "a0")])))
    # 6 more hours (28,800 more events): a few bytes more, as counters past 2**16 take wider
    # msgpack integers. (Keeping every interval, as replay does, grows the queue by about
    # 270 bytes an hour and the agent by 165.)
    assert max(queue_sizes) - min(queue_sizes) < 100, queue_sizes
    assert max(agent_sizes) - min(agent_sizes) < 50, agent_sizes
    assert max(queue_sizes) < 50_000 and max(agent_sizes) < 1_000
