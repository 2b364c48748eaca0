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
