"""Typed settings read once from the environment (``CALLPULSE_*``), one dataclass per service.

A field ``broker_url`` of a settings class is set by ``CALLPULSE_BROKER_URL``; its type
(``str``, ``int``, ``float``, ``bool``, ``tuple[str, ...]`` or an optional of one) says how the
text is read. An unreadable value is a :class:`ConfigError` naming the variable;
:func:`unknown_names` finds ``CALLPULSE_*`` names no service reads (typos), which the command
line reports. See ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError

PREFIX = "CALLPULSE_"
S = TypeVar("S")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def _convert(name: str, text: str, kind: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        if text == "":
            return None
        return _convert(name, text, args[0])
    if origin is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        if kind is bool:
            low = text.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(text)
            return low in _TRUE
        if kind in (int, float, str):
            return kind(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a valid {kind.__name__}") from None
    raise TypeError(f"settings field type {kind!r} is not supported")


def from_env(cls: type[S], environ: Mapping[str, str], **overrides: Any) -> S:
    """Build settings of dataclass ``cls`` from ``environ``; ``overrides`` (not ``None``) win."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = env_name(f.name)
        if name in environ:
            values[f.name] = _convert(name, environ[name], hints[f.name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    return settings


def unknown_names(environ: Mapping[str, str], classes: tuple[type, ...]) -> list[str]:
    """``CALLPULSE_*`` names in ``environ`` that no settings class in ``classes`` reads."""
    known = {env_name(f.name) for cls in classes for f in dataclasses.fields(cls)}
    return sorted(k for k in environ if k.startswith(PREFIX) and k not in known)


def bootstrap_servers(broker_url: str) -> list[str]:
    """``kafka://h1:9092,h2:9092`` (Faust's form) -> ``["h1:9092", "h2:9092"]`` (aiokafka's)."""
    out = []
    for part in broker_url.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if part:
            out.append(part.rstrip("/"))
    if not out:
        raise ConfigError(f"no broker address in {broker_url!r}")
    return out


SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class KafkaAuth:
    """How a service reaches a secured Kafka: TLS (server verified by ``broker_ssl_cafile``, or
    the system's CAs; a client certificate with ``broker_ssl_certfile``/``_keyfile``) and SASL
    (PLAIN or SCRAM). The embedded broker needs none of it. Shared by every service that talks
    to Kafka, under the same ``CALLPULSE_BROKER_*`` names; ``producers.kafka_sink`` turns it
    into clients' options (reading the certificate files is I/O, so not here)."""

    broker_security_protocol: str = "PLAINTEXT"
    broker_sasl_mechanism: str = "PLAIN"
    broker_sasl_username: str = ""
    broker_sasl_password: str = ""
    broker_ssl_cafile: str = ""
    broker_ssl_certfile: str = ""
    broker_ssl_keyfile: str = ""

    def __post_init__(self) -> None:
        protocol = self.broker_security_protocol
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(f"CALLPULSE_BROKER_SECURITY_PROTOCOL: {protocol!r} is not one of "
                              f"{', '.join(SECURITY_PROTOCOLS)}")
        if self.sasl:
            if self.broker_sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(f"CALLPULSE_BROKER_SASL_MECHANISM: {self.broker_sasl_mechanism!r}"
                                  f" is not one of {', '.join(SASL_MECHANISMS)}")
            if not (self.broker_sasl_username and self.broker_sasl_password):
                raise ConfigError(f"{protocol} needs CALLPULSE_BROKER_SASL_USERNAME and "
                                  "CALLPULSE_BROKER_SASL_PASSWORD")
        if bool(self.broker_ssl_certfile) != bool(self.broker_ssl_keyfile):
            raise ConfigError("CALLPULSE_BROKER_SSL_CERTFILE and CALLPULSE_BROKER_SSL_KEYFILE go "
                              "together")

    @property
    def sasl(self) -> bool:
        return self.broker_security_protocol.startswith("SASL")
