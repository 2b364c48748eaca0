"""Secured Kafka and Redis: TLS and SASL settings (callpulse.settings.KafkaAuth) as the worker and
the simulator read them and hand them to their clients, and Redis AUTH and TLS from the URL."""

from __future__ import annotations

import ssl

import faust
import pytest

from callpulse.errors import ConfigError
from callpulse.settings import KafkaAuth, from_env
from producers.cli import ProducerSettings
from producers.kafka_sink import client_options
from streams.app import _credentials
from streams.settings import WorkerSettings

SASL_SSL = {"CALLPULSE_BROKER_SECURITY_PROTOCOL": "SASL_SSL",
            "CALLPULSE_BROKER_SASL_MECHANISM": "SCRAM-SHA-512",
            "CALLPULSE_BROKER_SASL_USERNAME": "callpulse",
            "CALLPULSE_BROKER_SASL_PASSWORD": "s3cret"}


def test_plaintext_by_default() -> None:
    assert client_options(KafkaAuth()) == {"security_protocol": "PLAINTEXT"}
    assert _credentials(WorkerSettings.from_env({})) is None


def test_sasl_over_tls_reaches_the_simulator_and_the_worker() -> None:
    producer = from_env(ProducerSettings, SASL_SSL)
    options = client_options(producer)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("callpulse", "s3cret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

    creds = _credentials(WorkerSettings.from_env(SASL_SSL))
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == \
        ("callpulse", "s3cret", "SCRAM-SHA-512")
    assert creds.protocol.value == "SASL_SSL"
    tls = _credentials(WorkerSettings.from_env({"CALLPULSE_BROKER_SECURITY_PROTOCOL": "SSL"}))
    assert isinstance(tls, faust.SSLCredentials)


@pytest.mark.parametrize("env, words", [
    ({"CALLPULSE_BROKER_SECURITY_PROTOCOL": "TLS"}, "SECURITY_PROTOCOL"),
    ({"CALLPULSE_BROKER_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "USERNAME"),
    ({**SASL_SSL, "CALLPULSE_BROKER_SASL_MECHANISM": "GSSAPI"}, "MECHANISM"),
    ({"CALLPULSE_BROKER_SSL_CERTFILE": "/x.pem"}, "go together"),
])
def test_bad_security_settings_fail_at_start(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        WorkerSettings.from_env(env)


def test_an_unreadable_certificate_is_named() -> None:
    auth = KafkaAuth(broker_security_protocol="SSL", broker_ssl_cafile="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="Kafka TLS files"):
        client_options(auth)


def test_redis_auth_and_tls_come_from_the_url() -> None:
    from redis.asyncio.connection import SSLConnection

    from monitor_ui.server import create_app as wallboard_app
    from monitor_ui.settings import WallboardSettings
    from streams.app import create_app as worker_app

    url = "rediss://callpulse:s3cret@redis.example.com:6380/2?ssl_ca_certs=/etc/ca.pem"
    clients = [wallboard_app(WallboardSettings(redis_url=url)).redis,
               worker_app(WorkerSettings(redis_url=url)).publisher.client]
    for client in clients:  # built, not connected
        pool = client.connection_pool
        assert pool.connection_class is SSLConnection
        kwargs = pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["host"], kwargs["port"], kwargs["db"]) \
            == ("callpulse", "s3cret", "redis.example.com", 6380, 2)
        assert kwargs["ssl_ca_certs"] == "/etc/ca.pem"
