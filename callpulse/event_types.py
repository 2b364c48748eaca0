"""The event types and routes, bound where the compiled core reads them fast.

The hot paths test ``type(e) is ...`` on every event (exact types: event types are final, and
``isinstance`` on msgspec Structs costs several times more). Compiled, a name bound here with
``Final`` is a C static; ``ev.Ringing`` would be two dictionary lookups on every use (the module
in the globals, then the class in the module), as :mod:`callpulse.events` is not compiled.
"""

from __future__ import annotations

from typing import Final, get_args

from msgspec.structs import astuple

from . import events as ev

T_RINGING: Final = ev.Ringing
T_ANSWERED: Final = ev.Answered
T_ABANDONED: Final = ev.Abandoned
T_VOICEMAIL_LEFT: Final = ev.VoicemailLeft
T_CALLBACK_REQUESTED: Final = ev.CallbackRequested
T_FLOWED_OUT: Final = ev.FlowedOut
T_ENDED: Final = ev.Ended
T_HOLD: Final = ev.Hold
T_UNHOLD: Final = ev.Unhold
T_WRAPUP_STARTED: Final = ev.WrapupStarted
T_WRAPUP_ENDED: Final = ev.WrapupEnded
T_CALLBACK_ATTEMPTED: Final = ev.CallbackAttempted
T_CALLBACK_CANCELLED: Final = ev.CallbackCancelled
T_RING_NO_ANSWER: Final = ev.RingNoAnswer
T_AGENT_LOGIN: Final = ev.AgentLogin
T_AGENT_LOGOUT: Final = ev.AgentLogout
T_AGENT_READY: Final = ev.AgentReady
T_AGENT_NOT_READY: Final = ev.AgentNotReady
ROUTE: Final = ev.ROUTE

# Where the engine and the queue find an event's fields in ``astuple(e)``: one call that builds
# the tuple of them all costs less than reading five of them one by one through the generic
# attribute protocol (msgspec Structs are not compiled classes; the fold took 7.5 % fewer
# instructions). The positions are the Structs' own field order, checked here once: every
# event starts with these, every call event goes on with call_id and queue.
FIELDS_OF: Final = astuple
AT_ID: Final = 1
AT_TS: Final = 2
AT_TENANT: Final = 4
AT_CALL_ID: Final = 5
AT_QUEUE: Final = 6
# The fields Call.record reads, by the event types that have them.
AT_WAIT: Final = 7
AT_REASON: Final = 8
AT_DISPOSITION: Final = 8
AT_TALK: Final = 9
AT_ACW: Final = 8
AT_RESULT: Final = 8
AT_OF: Final[dict[type, dict[int, str]]] = {
    ev.Answered: {AT_WAIT: "wait_s"}, ev.Abandoned: {AT_WAIT: "wait_s"},
    ev.VoicemailLeft: {AT_WAIT: "wait_s"}, ev.CallbackRequested: {AT_WAIT: "wait_s"},
    ev.FlowedOut: {AT_WAIT: "wait_s", AT_REASON: "reason"},
    ev.Ended: {AT_DISPOSITION: "disposition", AT_TALK: "talk_s"},
    ev.WrapupEnded: {AT_ACW: "acw_s"}, ev.CallbackAttempted: {AT_RESULT: "result"},
}
AGENT_SHIFT: Final = 2


def _layouts() -> dict[type, int]:
    """Each event type's route (events.ROUTE) and, above AGENT_SHIFT, where its ``agent`` is."""
    layouts = {}
    for t in get_args(ev.AnyEvent):
        fields: tuple[str, ...] = t.__struct_fields__
        expected = {AT_ID: "id", AT_TS: "ts", AT_TENANT: "tenant"}
        if issubclass(t, ev.CallEvent):
            expected.update({AT_CALL_ID: "call_id", AT_QUEUE: "queue"})
        expected.update(AT_OF.get(t, {}))
        if any(fields[at] != name for at, name in expected.items()):
            raise TypeError(f"{t.__name__}'s fields moved: {fields}")
        agent_at = fields.index("agent") if "agent" in fields else 0
        layouts[t] = ROUTE[t] | agent_at << AGENT_SHIFT
    return layouts


LAYOUT: Final[dict[type, int]] = _layouts()
