"""The records of the worker's presence topic: an agent's bucket as seen by one queue.

How the live core uses them is in :mod:`callpulse.live` (``_announce`` and ``_presence``). They
live apart because msgspec Structs must stay interpreted: in a module compiled by mypyc
(setup.py) msgspec reads the annotations wrongly and rejects every record.
"""

from __future__ import annotations

from typing import Final

import msgspec


class PresenceRecord(msgspec.Struct, frozen=True):
    """An agent's bucket (``available``, ``on_call``, ``wrap_up``, ``not_ready``, or ``None``
    when it no longer serves the queue) as seen by one queue; ``seq`` orders them per agent."""

    tenant: str
    queue: str
    agent: str
    bucket: str | None
    seq: int


_DECODER: Final = msgspec.json.Decoder(PresenceRecord)


def decode_presence(data: bytes) -> PresenceRecord | None:
    """The record in ``data``; ``None`` for anything else (a foreign record on our topic)."""
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError:
        return None
