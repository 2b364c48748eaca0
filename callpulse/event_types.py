"""The event types and routes, bound where the compiled core reads them fast.

The hot paths test ``type(e) is ...`` on every event (exact types: event types are final, and
``isinstance`` on msgspec Structs costs several times more). Compiled, a name bound here with
``Final`` is a C static; ``ev.Ringing`` would be two dictionary lookups on every use (the module
in the globals, then the class in the module), as :mod:`callpulse.events` is not compiled.
"""

from __future__ import annotations

from typing import Final

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
