"""The one exception root of callpulse, and its few children.

Every error the library raises on purpose derives from :class:`CallpulseError`, so a caller can
catch the library's failures without catching programming errors.
"""

from __future__ import annotations


class CallpulseError(Exception):
    """Root of every error callpulse raises on purpose."""


class ConfigError(CallpulseError):
    """A settings value or queue configuration file is invalid; the message says where and why."""


class StateFormatError(CallpulseError):
    """Serialised state bytes are corrupt or of an unknown version."""


class InputError(CallpulseError):
    """An input file cannot be read at all (missing, unreadable, unknown format)."""


class StoreError(CallpulseError):
    """The broker did not take the worker's states (their source records stay unacked)."""
