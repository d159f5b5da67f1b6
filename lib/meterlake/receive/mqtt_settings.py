"""Where the MQTT receiver connects, as whom, and how long the broker keeps its session: from the
environment `infra/mosquitto.sh env` prints, with command-line overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CLIENT_ID = "meterlake-receiver"
# How long the broker keeps the receiver's session (subscription and queued messages) after it
# went away: a receiver down over a long weekend still finds what was published meanwhile.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    topic: str
    user: str
    password: str = field(repr=False)
    ca_file: str | None = None  # TLS, the broker's certificate checked against this CA
    client_id: str = DEFAULT_CLIENT_ID
    session_expiry_seconds: int = SESSION_EXPIRY_SECONDS
    keepalive_seconds: int = 30

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.ca_file else 'mqtt'}://{self.host}:{self.port}/{self.topic}"

    @staticmethod
    def from_environment(env: Mapping[str, str], *, tls: bool = False,
                         client_id: str = DEFAULT_CLIENT_ID,
                         **overrides: str | int | None) -> MqttSettings:
        """The settings `infra/mosquitto.sh env` exports (ENVIRONMENT); `overrides` (host, port,
        topic, user, ca_file) win when not None. The password comes from the environment only:
        an argument would show in `ps`. Raises LookupError naming the first missing variable."""

        def value(name: str, variable: str) -> str:
            given = overrides.get(name)
            if given is not None:
                return str(given)
            if not env.get(variable):
                raise LookupError(f"{variable} is not set: the MQTT settings come from the "
                                  'environment (eval "$(bash infra/mosquitto.sh env)")')
            return env[variable]

        host = value("host", "MQTT_HOST")
        port = value("port", "MQTT_TLS_PORT" if tls else "MQTT_PORT")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"the MQTT port must be a number from 1 to 65535, got {port!r}")
        return MqttSettings(
            host=host, port=int(port), topic=value("topic", "MQTT_TOPIC"),
            user=value("user", "MQTT_SUBSCRIBER_USER"),
            password=value("password", "MQTT_SUBSCRIBER_PASSWORD"),
            ca_file=value("ca_file", "MQTT_CA_FILE") if tls else None, client_id=client_id)
