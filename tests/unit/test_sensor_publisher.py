"""Where `meterlake generate sensors` publishes (options, else the environment of
`infra/mosquitto.sh env`, else the MQTT defaults) and the summary it prints."""

from __future__ import annotations

from collections import Counter

import pytest

from meterlake.cli.sensor_generate import summary
from meterlake.sources.sensors.publish import BrokerSettings, broker_settings

ENV = {"MQTT_HOST": "127.0.0.1", "MQTT_PORT": "18883", "MQTT_TLS_PORT": "18884",
       "MQTT_CA_FILE": "/state/tls/ca.crt", "MQTT_TOPIC": "sensors",
       "MQTT_PUBLISHER_USER": "sensor", "MQTT_PUBLISHER_PASSWORD": "secret",
       "MQTT_SUBSCRIBER_USER": "meterlake-receiver", "MQTT_SUBSCRIBER_PASSWORD": "other"}


def test_the_environment_names_the_broker_and_the_publisher() -> None:
    assert broker_settings(ENV, client_id="g") == BrokerSettings(
        "127.0.0.1", 18883, "sensor", "secret", "sensors", 0, None, "g")
    tls = broker_settings(ENV, client_id="g", qos=1, tls=True)
    assert (tls, tls.address) == (BrokerSettings(
        "127.0.0.1", 18884, "sensor", "secret", "sensors", 1, "/state/tls/ca.crt", "g"),
        "mqtts://127.0.0.1:18884")


def test_options_win_over_the_environment_and_the_defaults_fill_in() -> None:
    chosen = broker_settings(ENV, client_id="g", host="broker", port=1999, user="s2",
                             topic="t", tls=True, ca_file="/ca.pem")
    assert chosen == BrokerSettings("broker", 1999, "s2", "secret", "t", 0, "/ca.pem", "g")
    bare = broker_settings({"MQTT_PUBLISHER_PASSWORD": "secret"}, client_id="g")
    assert (bare, bare.address) == (
        BrokerSettings("localhost", 1883, "sensor", "secret", "sensors", 0, None, "g"),
        "mqtt://localhost:1883")


@pytest.mark.parametrize(("env", "options", "message"), [
    ({}, {}, "the publisher's password is read from the environment variable "
             "MQTT_PUBLISHER_PASSWORD, which is not set or empty (for the local broker: "
             "eval \"$(bash infra/mosquitto.sh env)\")"),
    ({"MQTT_PUBLISHER_PASSWORD": "secret"}, {"tls": True},
     "TLS needs the CA to trust: --ca-file, or MQTT_CA_FILE"),
    (ENV, {"qos": 2}, "the QoS must be 0 or 1, got 2"),
])
def test_what_is_missing_is_named(env: dict[str, str], options: dict[str, object],
                                  message: str) -> None:
    with pytest.raises((LookupError, ValueError)) as refused:
        broker_settings(env, client_id="g", **options)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_the_summary_counts_every_fault_asked_for() -> None:
    counts = Counter({"published": 17, "clean": 3, "gap": 8, "duplicate": 1, "late": 2,
                      "clock_behind": 9, "malformed": 0})
    assert summary(counts, ("gap", "duplicate", "late", "clock_behind", "malformed")) == (
        "  clean                3\n"
        "  gap                  8 withheld\n"
        "  duplicate            1\n"
        "  late                 2\n"
        "  clock_behind         9\n"
        "  malformed            0")
    assert summary(Counter({"clean": 5, "undelivered": 2}), ()) == (
        "  clean                5\n"
        "  undelivered          2 (failed, or not acknowledged)")
