"""The IoT sensor source: sensors publish readings over MQTT to the topic `sensors`, one JSON
message `{"id": "Sensor 1", "dt": "2025-11-12T08:32:34.162", "value": 21.5}` per reading, `dt`
an ISO 8601 timestamp without offset meant as UTC; the sensor registry (`sensors.json`: place,
unit, type, range and description per sensor id) describes them.

The folder: `registry` (the sensor registry), `faults` and `generate` (a deterministic
stand-in for the sensors, with the faults real ones have), `publish` (sends its messages to a
broker), `landed` (the landed batch format of the MQTT receiver, and the payload check at the
door); `contract`, `rules`, `parse` and `source` for the lake. Nothing here imports Spark at
package import.
"""

NAME = "sensors"
# The MQTT topic the sensors publish to, and the receiver subscribes to.
TOPIC = "sensors"
# Landed by `meterlake receive mqtt` as batches, not delivered as files in a directory.
WATCHABLE = False
