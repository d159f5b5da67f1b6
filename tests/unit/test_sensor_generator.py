"""The sensor generator's plan (sources/sensors/generate.py and faults.py), without a broker:
when each message is published, its exact payload, and what every fault does to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from meterlake.sources.sensors.faults import (
    MALFORMED_KINDS,
    ClockShift,
    Faults,
    parse_faults,
)
from meterlake.sources.sensors.generate import (
    PlannedMessage,
    Schedule,
    malformed_payload,
    plan_messages,
    tally,
)
from meterlake.sources.sensors.landed import check_payload
from meterlake.sources.sensors.registry import Sensor

A = Sensor("Sensor A", 10, 20, "C", "temperature", 0, 45, "Hall")
B = Sensor("Sensor B", -10, -20, "bar", "pressure", -5.5, 5.5, "Pump")
START = datetime(2025, 11, 12, 8, 0, 0, 123000, tzinfo=UTC)


def plan(schedule: Schedule, seed: int = 7) -> list[PlannedMessage]:
    return list(plan_messages([A, B], schedule, seed, START))


def with_faults(*tokens: str, rate_hz: float = 2, duration_s: float = 3) -> list[PlannedMessage]:
    return plan(Schedule(rate_hz, duration_s, 0, parse_faults(tokens)))


def offset_ms(message: PlannedMessage) -> int:
    return round((message.publish_at - START) / timedelta(milliseconds=1))


def fields(message: PlannedMessage) -> dict[str, object]:
    assert message.payload is not None
    return dict(json.loads(message.payload))


def dt_offset_ms(message: PlannedMessage) -> int:
    dt = datetime.fromisoformat(str(fields(message)["dt"])).replace(tzinfo=UTC)
    return round((dt - START) / timedelta(milliseconds=1))


def test_a_clean_plan_is_one_reference_message_per_sensor_per_period() -> None:
    # The start's microseconds are cut: every instant is a whole millisecond.
    messages = list(plan_messages([A, B], Schedule(2, 1.5), 7, START + timedelta(microseconds=456)))
    assert [(offset_ms(m), m.sensor_id, m.payload, m.faults) for m in messages] == [
        (0, "Sensor A", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.123", "value": 11}', ()),
        (0, "Sensor B", b'{"id": "Sensor B", "dt": "2025-11-12T08:00:00.123", "value": 4.385}',
         ()),
        (500, "Sensor A", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.623", "value": 8}', ()),
        (500, "Sensor B",
         b'{"id": "Sensor B", "dt": "2025-11-12T08:00:00.623", "value": -3.551}', ()),
        (1000, "Sensor A", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:01.123", "value": 28}',
         ()),
        (1000, "Sensor B", b'{"id": "Sensor B", "dt": "2025-11-12T08:00:01.123", "value": 3.54}',
         ()),
    ]


def test_ticks_follow_the_rate_to_the_millisecond() -> None:
    assert [offset_ms(m) for m in plan(Schedule(3, 1))] == [0, 0, 333, 333, 667, 667]


def test_jitter_delays_each_message_within_its_period_and_its_dt_with_it() -> None:
    messages = plan(Schedule(2, 3, jitter_ms=100))
    assert [offset_ms(m) for m in messages] == [10, 41, 525, 525, 1043, 1099, 1501, 1562, 2026,
                                                2033, 2531, 2582]
    assert [dt_offset_ms(m) for m in messages] == [offset_ms(m) for m in messages]


def test_the_same_seed_plans_the_same_messages_and_another_seed_others() -> None:
    schedule = Schedule(2, 3, 50, parse_faults(["duplicate=0.3", "gap=0.2:1"]))
    assert plan(schedule, seed=7) == plan(schedule, seed=7)
    assert [m.payload for m in plan(schedule, seed=7)] != [m.payload for m in plan(schedule, 8)]


def test_a_fault_changes_only_the_messages_it_touches() -> None:
    clean = with_faults()
    duplicated = with_faults("duplicate=0.3")
    assert [m for m in duplicated if "duplicate" not in m.faults] == clean
    assert [m.faults for m in duplicated].count(("duplicate",)) == 4
    behind = with_faults("clock_behind=Sensor B:120")
    assert [m for m in behind if m.sensor_id == "Sensor A"] == [
        m for m in clean if m.sensor_id == "Sensor A"]
    assert [(m.faults, dt_offset_ms(m)) for m in behind if m.sensor_id == "Sensor B"] == [
        (("clock_behind",), offset_ms(m) - 120_000) for m in clean if m.sensor_id == "Sensor B"]


def test_a_gap_withholds_every_message_of_its_span() -> None:
    messages = with_faults("gap=1:1")
    assert {(m.payload, m.faults) for m in messages} == {(None, ("gap",))}
    assert tally(messages) == {"gap": 12}


def test_a_duplicate_is_published_right_after_its_original() -> None:
    messages = with_faults("duplicate=1", duration_s=1)
    assert [(offset_ms(m), m.sensor_id, m.faults) for m in messages] == [
        (0, "Sensor A", ()), (0, "Sensor A", ("duplicate",)),
        (0, "Sensor B", ()), (0, "Sensor B", ("duplicate",)),
        (500, "Sensor A", ()), (500, "Sensor A", ("duplicate",)),
        (500, "Sensor B", ()), (500, "Sensor B", ("duplicate",)),
    ]
    assert [m.payload for m in messages[::2]] == [m.payload for m in messages[1::2]]


def test_a_late_message_keeps_its_dt_and_comes_after_newer_ones() -> None:
    messages = with_faults("late=0.5:1.2")
    assert [(offset_ms(m), dt_offset_ms(m), m.sensor_id, m.faults) for m in messages] == [
        (0, 0, "Sensor A", ()),
        (500, 500, "Sensor A", ()),
        (500, 500, "Sensor B", ()),
        (1000, 1000, "Sensor A", ()),
        (1000, 1000, "Sensor B", ()),
        (1200, 0, "Sensor B", ("late",)),
        (1500, 1500, "Sensor B", ()),
        (2000, 2000, "Sensor A", ()),
        (2500, 2500, "Sensor A", ()),
        (2500, 2500, "Sensor B", ()),
        (2700, 1500, "Sensor A", ("late",)),
        (3200, 2000, "Sensor B", ("late",)),
    ]


def test_an_out_of_range_value_lies_beyond_the_range_by_up_to_half_its_width() -> None:
    values = {sensor: [fields(m)["value"] for m in with_faults("out_of_range=1")
                       if m.sensor_id == sensor] for sensor in ("Sensor A", "Sensor B")}
    assert values == {"Sensor A": [47, -9, -14, -15, -10, 51],
                      "Sensor B": [-10.369, -5.953, 9.493, -8.073, -7.625, 9.731]}
    # [0, 45]: 1 to 22 below or above; [-5.5, 5.5]: up to 5.5 below or above.
    assert all(-22 <= v < 0 or 45 < v <= 67 for v in values["Sensor A"])
    assert all(-11 <= v < -5.5 or 5.5 < v <= 11 for v in values["Sensor B"])


def test_malformed_payloads_all_break_the_contract() -> None:
    payloads = [m.payload for m in with_faults("malformed=1", duration_s=10)]
    assert [check_payload(payload or b"") is None for payload in payloads] == [False] * 40


@pytest.mark.parametrize(("kind", "payload"), [
    ("truncated_json", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.123", "value": 27'),
    ("not_utf8", b'{"id": "\xffSensor A", "dt": "2025-11-12T08:00:00.123", "value": 27}'),
    ("not_an_object", b'["Sensor A", "2025-11-12T08:00:00.123", 27]'),
    ("missing_value", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.123"}'),
    ("value_is_a_string", b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.123", "value": "27"}'),
    ("dt_not_iso", b'{"id": "Sensor A", "dt": "12/11/2025 08:00:00", "value": 27}'),
    ("dt_with_offset",
     b'{"id": "Sensor A", "dt": "2025-11-12T08:00:00.123+00:00", "value": 27}'),
    ("id_is_a_number", b'{"id": 1, "dt": "2025-11-12T08:00:00.123", "value": 27}'),
])
def test_each_malformed_kind(kind: str, payload: bytes) -> None:
    assert malformed_payload(kind, "Sensor A", 0, "2025-11-12T08:00:00.123", 27) == payload
    assert check_payload(payload) is not None


def test_every_malformed_kind_is_tested() -> None:
    assert MALFORMED_KINDS == ("truncated_json", "not_utf8", "not_an_object", "missing_value",
                               "value_is_a_string", "dt_not_iso", "dt_with_offset",
                               "id_is_a_number")


def test_a_clock_jumps_back_once_and_stays_behind() -> None:
    messages = with_faults("clock_jump_back=Sensor A:30@1", rate_hz=1, duration_s=3)
    assert [(offset_ms(m), dt_offset_ms(m), m.faults) for m in messages
            if m.sensor_id == "Sensor A"] == [
        (0, 0, ()), (1000, -29_000, ("clock_jump_back",)), (2000, -28_000, ())]
    half_way = with_faults("clock_jump_back=Sensor B:30", rate_hz=1, duration_s=4)
    assert [m.faults for m in half_way if m.sensor_id == "Sensor B"] == [
        (), (), ("clock_jump_back",), ()]


def test_every_fault_at_once() -> None:
    messages = plan(Schedule(2, 6, 0, parse_faults([
        "gap=0.1:1", "duplicate=0.1", "out_of_range=0.1", "late=0.1:1.5", "malformed=0.1",
        "clock_behind=Sensor B:120", "clock_jump_back=Sensor A:30@2"])), seed=3)
    assert [(offset_ms(m), m.sensor_id[-1], m.faults) for m in messages] == [
        (0, "A", ("out_of_range",)), (0, "B", ("clock_behind",)), (500, "A", ()),
        (500, "B", ("clock_behind",)), (1000, "A", ("gap",)), (1000, "B", ("clock_behind",)),
        (1500, "A", ("gap",)), (2000, "A", ("malformed",)), (2000, "B", ("clock_behind",)),
        (2500, "B", ("gap",)), (3000, "B", ("late", "clock_behind")), (3000, "A", ()),
        (3000, "B", ("gap",)), (3500, "A", ("gap",)), (3500, "B", ("clock_behind",)),
        (3500, "B", ("duplicate", "clock_behind")), (4000, "A", ("late", "clock_jump_back")),
        (4000, "A", ("gap",)), (4000, "B", ("clock_behind",)), (4500, "A", ("out_of_range",)),
        (4500, "B", ("gap",)), (5000, "A", ("malformed",)), (5000, "B", ("gap",)),
        (5500, "A", ()), (5500, "B", ("out_of_range", "clock_behind")),
    ]
    assert tally(messages) == {"published": 17, "clean": 3, "gap": 8, "duplicate": 1,
                               "out_of_range": 3, "late": 2, "clock_behind": 9,
                               "clock_jump_back": 1, "malformed": 2}


def test_faults_parse_into_rates_times_and_clock_shifts() -> None:
    faults = parse_faults(["gap=0.01:10", "duplicate=0.02", "malformed=0.005", "late=0.1",
                           "clock_behind=Sensor 3:120", "clock_behind=Sensor: 4:7.5",
                           "clock_jump_back=Sensor 2:30@60"])
    assert faults == Faults(gap_rate=0.01, gap_s=10, duplicate_rate=0.02, late_rate=0.1,
                            late_s=5, malformed_rate=0.005,
                            clocks_behind=(ClockShift("Sensor 3", 120),
                                           ClockShift("Sensor: 4", 7.5)),
                            clock_jumps_back=(ClockShift("Sensor 2", 30, 60),))
    assert faults.requested == ("gap", "duplicate", "late", "clock_behind", "clock_jump_back",
                                "malformed")


@pytest.mark.parametrize(("token", "message"), [
    ("gap", "--faults 'gap': expected NAME=VALUE with NAME one of gap, duplicate, "
            "out_of_range, late, clock_behind, clock_jump_back, malformed"),
    ("drop=0.1", "--faults 'drop=0.1': expected NAME=VALUE with NAME one of gap, duplicate, "
                 "out_of_range, late, clock_behind, clock_jump_back, malformed"),
    ("gap=1.5", "--faults 'gap=1.5': the rate must be between 0 and 1, got 1.5"),
    ("gap=x", "--faults 'gap=x': the rate is not a number: 'x'"),
    ("late=0.1:0", "--faults 'late=0.1:0': the time must be more than 0 s, got 0"),
    ("duplicate=0.1:5", "--faults 'duplicate=0.1:5': duplicate takes a rate only"),
    ("malformed=nan", "--faults 'malformed=nan': the rate must be finite, got 'nan'"),
    ("clock_behind=120", "--faults 'clock_behind=120': expected SENSOR:SECONDS"),
    ("clock_jump_back=S:5@-1",
     "--faults 'clock_jump_back=S:5@-1': the instant must be at least 0 s into the run, got -1"),
    ("clock_behind=S:1@2", "--faults 'clock_behind=S:1@2': the time is not a number: '1@2'"),
])
def test_a_bad_fault_is_refused_naming_the_token(token: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_faults([token])
    assert str(refused.value) == message


def test_a_fault_given_twice_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        parse_faults(["gap=0.1", "gap=0.2"])
    assert str(refused.value) == "--faults 'gap=0.2': gap is already given"
    with pytest.raises(ValueError) as refused:
        parse_faults(["clock_behind=S:1", "clock_behind=S:2"])
    assert str(refused.value) == "--faults 'clock_behind=S:2': clock_behind is already given " \
                                 "for 'S'"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Schedule(0, 1), "the rate must be more than 0 and at most 1000 messages a second, "
                             "got 0"),
    (lambda: Schedule(2000, 1), "the rate must be more than 0 and at most 1000 messages a "
                                "second, got 2000"),
    (lambda: Schedule(1, 0), "the duration must be more than 0 s, got 0"),
    (lambda: Schedule(4, 1, 250), "the jitter must be at least 0 ms and shorter than the period "
                                  "(250 ms), got 250"),
    (lambda: plan(Schedule(1, 1, 0, parse_faults(["clock_behind=Sensor C:5"]))),
     "clock_behind: no sensor 'Sensor C' in the registry"),
    (lambda: plan(Schedule(1, 2, 0, parse_faults(["clock_jump_back=Sensor A:5@2"]))),
     "clock_jump_back: 'Sensor A' jumps at 2 s, after the run's 2 s"),
    (lambda: plan_messages([A], Schedule(1, 1), 7, datetime(2025, 11, 12)),
     "start must be an aware instant, got 2025-11-12T00:00:00"),
])
def test_a_plan_that_cannot_be_made_is_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        make()  # type: ignore[operator]
    assert str(refused.value) == message
