"""Asterisk ``queue_log`` lines -> canonical events (``spec/EVENTS.md``).

A ``queue_log`` line is ``epoch|callid|queue|agent|EVENT|data1|data2|...``. The mapping needs
memory of earlier lines (which canonical ``call_id`` an entry got, which queues an agent is a
member of), hence the small stateful :class:`QueueLogParser`. It is pure: no clock, no I/O; the
caller hands it lines. ``docs/queue_log.md`` has the full mapping table.

Rules worth knowing:

* ``epoch`` is ``1341129600`` or ``1341129600.123456``; it is parsed with integer arithmetic
  only: ``ms = seconds * 1000 + first three fractional digits``; sub-millisecond digits are
  truncated (never rounded). A date-time in that field is counted as ``malformed_line``.
* Event ids are ``ql-`` + the first 20 hex digits of the SHA-1 of the stripped line, plus
  ``-1``, ``-2``... when the line yields several events: replaying the same input gives the
  same ids, and a line repeated verbatim gives the same ids again (a duplicate to drop).
* Each entry of a callid into a queue is its own call: the first gets ``call_id = callid``,
  later ones ``callid#2``, ``callid#3``... The entry counter of a (callid, queue) pair lives in
  an LRU of at most ``max_calls`` pairs (default 100,000); the current (still open) entries live
  in a second map that drops a call when it ends and is bounded by ``max_calls`` too (oldest
  open entry evicted first, counted in :attr:`QueueLogParser.evicted_calls`).
* Durations come from the fields Asterisk records (hold time, call time, wait time), never from
  timestamp differences; they are whole seconds (``ring_ms`` is milliseconds).
* ``feed`` never raises on a bad line: it returns no events and counts the line in
  :attr:`QueueLogParser.ignored` under a reason.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, Literal, TypedDict

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
)

# Reasons under which a line is counted in `QueueLogParser.ignored`.
MALFORMED_LINE: Final = "malformed_line"
BLANK_LINE: Final = "blank_line"
UNKNOWN_EVENT: Final = "unknown_event"
RINGCANCELED: Final = "ringcanceled"
EXIT_WITHOUT_ENTERQUEUE: Final = "exit_without_enterqueue"
NO_AGENT: Final = "no_agent"

DEFAULT_MAX_CALLS: Final = 100_000
MAX_NAME: Final = 128
# How many malformed lines `QueueLogParser.samples` keeps (all of them are counted).
MAX_SAMPLES: Final = 20

_EPOCH_RE: Final = re.compile(r"(\d{1,13})(?:\.(\d{1,9}))?", re.ASCII)
_UINT_RE: Final = re.compile(r"\d{1,15}", re.ASCII)
_NONE: Final = "NONE"

FlowReason = Literal["timeout", "exit_key", "no_agents", "full", "closed", "transfer", "overflow"]

# Exits of a waiting call: event -> (flowed_out reason or None for abandoned, index of waittime).
_EXITS: Final[dict[str, tuple[FlowReason | None, int]]] = {
    "ABANDON": (None, 2),
    "EXITWITHTIMEOUT": ("timeout", 2),
    "EXITWITHKEY": ("exit_key", 3),
    "EXITEMPTY": ("no_agents", 2),
    "LEAVEEMPTY": ("no_agents", 2),
    "DIVERT_CA_RATIO": ("overflow", 2),
    "DIVERT_HOLDTIME": ("overflow", 2),
}
# Refused at the door (no ENTERQUEUE): offered and left at once.
_REFUSED: Final[dict[str, FlowReason]] = {
    "FULL": "full",
    "JOINEMPTY": "no_agents",
    "CLOSED": "closed",
}
_COMPLETES: Final = frozenset({"COMPLETECALLER", "COMPLETEAGENT"})
_TRANSFERS: Final = frozenset({"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"})
_LOGINS: Final = frozenset({"AGENTLOGIN", "AGENTCALLBACKLOGIN", "ADDMEMBER"})
_LOGOFFS: Final = frozenset({"AGENTLOGOFF", "AGENTCALLBACKLOGOFF"})
_PAUSES: Final = frozenset({"PAUSE", "PAUSEALL"})
_UNPAUSES: Final = frozenset({"UNPAUSE", "UNPAUSEALL"})


class _Malformed(Exception):
    """A field could not be parsed; the line is counted as malformed."""


class _Ignored(Exception):
    """The line is well formed but yields no event; ``args[0]`` is the reason."""


def parse_epoch_ms(text: str) -> int:
    """Epoch milliseconds of ``1341129600`` or ``1341129600.123456``, exactly.

    Integer arithmetic only: the fractional part is cut to its first three digits (sub-millisecond
    digits truncated, not rounded), a shorter one is right-padded (``.5`` is 500 ms). Raises
    ``ValueError`` on anything else (a date-time, a sign, an exponent, blanks).
    """
    match = _EPOCH_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an epoch: {text!r}")
    seconds, fraction = match.group(1), match.group(2) or ""
    return int(seconds) * 1000 + int((fraction + "000")[:3])


class _Open:
    """An entry of a call in a queue that has not ended yet."""

    __slots__ = ("agent", "call_id", "enter_id")

    def __init__(self, call_id: str, enter_id: str) -> None:
        self.call_id = call_id
        self.enter_id = enter_id  # id of the ENTERQUEUE line that opened it
        self.agent: str | None = None


class _Common(TypedDict):
    """The fields every event of a line shares."""

    v: Literal[1]
    id: str
    ts: int
    source: str
    tenant: str


class QueueLogParser:
    """Turns Asterisk ``queue_log`` lines, fed in file order, into canonical events.

    ``ignored`` counts lines that yielded no event, by reason (``malformed_line``,
    ``blank_line``, ``unknown_event``, ``ringcanceled``, ``exit_without_enterqueue``,
    ``no_agent``). ``samples`` keeps the first :data:`MAX_SAMPLES` malformed lines as
    ``(line_no, line)`` for a human to look at.
    """

    def __init__(
        self, *, source: str = "asterisk", tenant: str = "default",
        max_calls: int = DEFAULT_MAX_CALLS,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.source = source
        self.tenant = tenant
        self.max_calls = max_calls
        self.ignored: dict[str, int] = {}
        self.samples: list[tuple[int, str]] = []
        self.evicted_calls = 0
        # (callid, queue) -> the open entry; dropped when the call ends.
        self._open: dict[tuple[str, str], _Open] = {}
        # (callid, queue) -> (how many entries so far, agent of the last one); LRU, bounded.
        self._entries: OrderedDict[tuple[str, str], tuple[int, str | None]] = OrderedDict()
        # agent -> queues it is a member of.
        self._membership: dict[str, set[str]] = {}

    # ------------------------------------------------------------------------------ public

    def feed(self, line: str, line_no: int) -> list[AnyEvent]:
        """The canonical events of one line (0..n); never raises on a bad line."""
        raw = line.strip()
        if not raw:
            self._count(BLANK_LINE)
            return []
        try:
            return self._feed(raw)
        except _Malformed:
            self._count(MALFORMED_LINE)
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append((line_no, raw[:200]))
        except _Ignored as ignored:
            self._count(str(ignored.args[0]))
        return []

    # ------------------------------------------------------------------------------ the mapping

    def _feed(self, raw: str) -> list[AnyEvent]:
        try:
            encoded = raw.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from errors="surrogateescape"
            raise _Malformed from None
        fields = raw.split("|")
        if len(fields) < 5:
            raise _Malformed
        try:
            ts = parse_epoch_ms(fields[0])
        except ValueError:
            raise _Malformed from None
        callid, queue, agent, event = fields[1], fields[2], fields[3], fields[4]
        data = fields[5:]
        base = "ql-" + hashlib.sha1(encoded, usedforsecurity=False).hexdigest()[:20]
        line = _Line(self, base, ts, callid, queue, agent, data)

        if event == "ENTERQUEUE":
            return self._enter(line)
        if event == "CONNECT":
            return self._connect(line)
        if event in _COMPLETES or event in _TRANSFERS:
            return self._end(line, event)
        if event in _EXITS:
            return self._exit(line, event)
        if event in _REFUSED:
            return self._refused(line, _REFUSED[event])
        if event == "RINGNOANSWER":
            return self._ring_no_answer(line)
        if event == "RINGCANCELED":
            line.call_key()  # a malformed RINGCANCELED is still malformed
            raise _Ignored(RINGCANCELED)
        if event == "WRAPUPSTART":
            return self._wrapup(line)
        if event in _LOGINS:
            return self._login(line, add=event == "ADDMEMBER")
        if event in _LOGOFFS:
            agent_id = line.agent_id()
            self._membership.pop(agent_id, None)
            return [AgentLogout(**line.common(), agent=agent_id)]
        if event == "REMOVEMEMBER":
            return self._remove_member(line)
        if event in _PAUSES:
            agent_id = line.agent_id()
            reason = line.field(0) or None
            return [AgentNotReady(**line.common(), agent=agent_id, reason=reason)]
        if event in _UNPAUSES:
            return [AgentReady(**line.common(), agent=line.agent_id())]
        if not event:
            raise _Malformed
        raise _Ignored(UNKNOWN_EVENT)

    def _enter(self, line: _Line) -> list[AnyEvent]:
        key = line.call_key()
        caller = line.field(1) or None
        current = self._open.get(key)
        if current is not None and current.enter_id == line.base:
            # The same ENTERQUEUE line again (Asterisk cannot queue a channel twice in one
            # queue): keep the entry, so the repeat is the same event (same id and call_id), a
            # duplicate downstream. A different ENTERQUEUE while open means the exit line was
            # lost: it starts a new entry and the old one gets no end.
            return [Ringing(**line.common(), call_id=current.call_id, queue=key[1],
                            caller=caller)]
        call_id = self._new_entry(key)
        self._open_call(key, _Open(call_id, line.base))
        return [Ringing(**line.common(), call_id=call_id, queue=key[1], caller=caller)]

    def _connect(self, line: _Line) -> list[AnyEvent]:
        key = line.call_key()
        hold = line.number(0)
        agent_id = line.agent_id()
        current = self._current(key)
        current.agent = agent_id
        self._remember_agent(key, agent_id)
        return [Answered(**line.common(), call_id=current.call_id, queue=key[1], agent=agent_id,
                         wait_s=hold)]

    def _end(self, line: _Line, event: str) -> list[AnyEvent]:
        key = line.call_key()
        if event in _COMPLETES:
            # holdtime|calltime|origposition
            talk, disposition = line.number(1), None
        elif event == "ATTENDEDTRANSFER":
            # method|data|holdtime|calltime|origposition; method LINK has two data fields.
            talk = line.number(4 if line.field(0) == "LINK" else 3)
            disposition = "transfer"
        else:
            # extension|context|holdtime|calltime|origposition
            talk, disposition = line.number(3), "transfer"
        agent_id = line.agent_id()
        current = self._current(key)
        self._close(key)
        self._remember_agent(key, agent_id)
        return [Ended(**line.common(), call_id=current.call_id, queue=key[1], agent=agent_id,
                      talk_s=talk, disposition=disposition)]

    def _exit(self, line: _Line, event: str) -> list[AnyEvent]:
        key = line.call_key()
        reason, wait_index = _EXITS[event]
        # Older Asterisk versions (and the DIVERT_* extensions) may omit the wait time: then
        # wait_s is absent and the consumer uses the difference of the timestamps.
        wait = line.number(wait_index) if line.field(wait_index) else None
        current = self._current(key)
        self._close(key)
        if reason is None:
            return [Abandoned(**line.common(), call_id=current.call_id, queue=key[1], wait_s=wait)]
        return [FlowedOut(**line.common(), call_id=current.call_id, queue=key[1], reason=reason,
                          wait_s=wait)]

    def _refused(self, line: _Line, reason: FlowReason) -> list[AnyEvent]:
        key = line.call_key()
        call_id = self._new_entry(key)
        first, second = line.common(1), line.common(2)
        return [
            Ringing(**first, call_id=call_id, queue=key[1]),
            FlowedOut(**second, call_id=call_id, queue=key[1], reason=reason, wait_s=0),
        ]

    def _ring_no_answer(self, line: _Line) -> list[AnyEvent]:
        key = line.call_key()
        ring_ms = line.number(0) if line.field(0) else None
        agent_id = line.agent_id()
        current = self._current(key)
        return [RingNoAnswer(**line.common(), call_id=current.call_id, queue=key[1],
                             agent=agent_id, ring_ms=ring_ms)]

    def _wrapup(self, line: _Line) -> list[AnyEvent]:
        key = line.call_key()
        duration = line.number(0)
        current = self._open.get(key)
        if current is not None:
            call_id, known_agent = current.call_id, current.agent
        else:
            # Usually written after COMPLETE*: the call has ended, its last entry is the one.
            seen = self._entries.get(key)
            if seen is None:
                raise _Ignored(EXIT_WITHOUT_ENTERQUEUE)
            call_id, known_agent = _entry_call_id(key[0], seen[0]), seen[1]
        agent_id = line.agent if _present(line.agent) else known_agent
        if agent_id is None:
            raise _Ignored(NO_AGENT)
        _check_name(agent_id)
        first, second = line.common(1), line.common(2)
        second["ts"] = line.ts + duration * 1000
        return [
            WrapupStarted(**first, call_id=call_id, queue=key[1], agent=agent_id),
            WrapupEnded(**second, call_id=call_id, queue=key[1], agent=agent_id, acw_s=duration),
        ]

    def _login(self, line: _Line, *, add: bool) -> list[AnyEvent]:
        agent_id = line.agent_id()
        if _present(line.queue):
            _check_name(line.queue)
        elif add:
            raise _Malformed  # ADDMEMBER names the queue it adds to
        queues = self._membership.setdefault(agent_id, set())
        if _present(line.queue):
            queues.add(line.queue)
        return [AgentLogin(**line.common(), agent=agent_id, queues=sorted(queues))]

    def _remove_member(self, line: _Line) -> list[AnyEvent]:
        agent_id = line.agent_id()
        if not _present(line.queue):
            raise _Malformed
        queues = self._membership.get(agent_id, set())
        queues.discard(line.queue)
        if queues:
            return [AgentLogin(**line.common(), agent=agent_id, queues=sorted(queues))]
        self._membership.pop(agent_id, None)
        return [AgentLogout(**line.common(), agent=agent_id)]

    # ------------------------------------------------------------------------------ call state

    def _new_entry(self, key: tuple[str, str]) -> str:
        count = self._entries.pop(key, (0, None))[0] + 1
        self._entries[key] = (count, None)
        if len(self._entries) > self.max_calls:
            self._entries.popitem(last=False)
        return _entry_call_id(key[0], count)

    def _remember_agent(self, key: tuple[str, str], agent: str) -> None:
        seen = self._entries.get(key)
        if seen is not None:
            self._entries[key] = (seen[0], agent)
            self._entries.move_to_end(key)

    def _open_call(self, key: tuple[str, str], opened: _Open) -> None:
        self._open.pop(key, None)
        self._open[key] = opened
        if len(self._open) > self.max_calls:
            del self._open[next(iter(self._open))]
            self.evicted_calls += 1

    def _current(self, key: tuple[str, str]) -> _Open:
        current = self._open.get(key)
        if current is None:
            raise _Ignored(EXIT_WITHOUT_ENTERQUEUE)
        return current

    def _close(self, key: tuple[str, str]) -> None:
        self._open.pop(key, None)

    def _count(self, reason: str) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1


class _Line:
    """One split line and the helpers that validate its fields."""

    __slots__ = ("agent", "base", "callid", "data", "parser", "queue", "ts")

    def __init__(
        self, parser: QueueLogParser, base: str, ts: int, callid: str, queue: str, agent: str,
        data: list[str],
    ) -> None:
        self.parser = parser
        self.base = base
        self.ts = ts
        self.callid = callid
        self.queue = queue
        self.agent = agent
        self.data = data

    def common(self, nth: int = 0) -> _Common:
        """Fields shared by the events of this line; ``nth`` (1, 2...) for a line yielding
        several events, which get the id suffixes ``-1``, ``-2``..."""
        event_id = self.base if nth == 0 else f"{self.base}-{nth}"
        return _Common(v=1, id=event_id, ts=self.ts, source=self.parser.source,
                       tenant=self.parser.tenant)

    def field(self, index: int) -> str:
        return self.data[index].strip() if index < len(self.data) else ""

    def number(self, index: int) -> int:
        """A non-negative whole number from data field ``index``; malformed if not one."""
        text = self.field(index)
        if _UINT_RE.fullmatch(text) is None:
            raise _Malformed
        return int(text)

    def call_key(self) -> tuple[str, str]:
        if not _present(self.callid) or not _present(self.queue):
            raise _Malformed
        _check_name(self.queue)
        _check_name(self.callid, reserve=8)  # room for "#n"
        return (self.callid, self.queue)

    def agent_id(self) -> str:
        if not _present(self.agent):
            raise _Ignored(NO_AGENT)
        _check_name(self.agent)
        return self.agent


def _present(value: str) -> bool:
    return bool(value) and value != _NONE


def _check_name(value: str, *, reserve: int = 0) -> None:
    if not 1 <= len(value) <= MAX_NAME - reserve:
        raise _Malformed


def _entry_call_id(callid: str, entry: int) -> str:
    return callid if entry == 1 else f"{callid}#{entry}"


def parse_queue_log(
    lines: Iterable[str], *, source: str = "asterisk", tenant: str = "default",
) -> tuple[list[AnyEvent], dict[str, int]]:
    """All the canonical events of a ``queue_log`` text, and the ignored-line counters."""
    parser = QueueLogParser(source=source, tenant=tenant)
    events: list[AnyEvent] = []
    for line_no, line in enumerate(lines, start=1):
        events.extend(parser.feed(line, line_no))
    return events, dict(parser.ignored)
