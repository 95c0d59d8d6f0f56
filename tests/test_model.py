import collections
import datetime as dt
import math
import random
import types

import pytest

from honeycomb_events import BatchEvent, EventResult
from honeycomb_events._model import (
    epoch_to_ns,
    format_time_ns,
    normalize_samplerate,
    normalize_time,
    parse_rfc3339_ns,
    time_to_ns,
)

NS = 1_000_000_000
MOMENT = 1_714_564_800  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000000000Z"),
        ("2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.500000000Z"),
        ("2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123456789Z"),
        # Digits past nanoseconds are cut, not rounded into the next second.
        ("2024-05-01T12:00:00.9999999999Z", "2024-05-01T12:00:00.999999999Z"),
        ("2024-05-01T14:30:00.25+02:30", "2024-05-01T12:00:00.250000000Z"),
        ("2024-05-01T07:00:00-05:00", "2024-05-01T12:00:00.000000000Z"),
        ("2024-05-01t12:00:00z", "2024-05-01T12:00:00.000000000Z"),
        (MOMENT, "2024-05-01T12:00:00.000000000Z"),
        (MOMENT + 0.25, "2024-05-01T12:00:00.250000000Z"),
        (MOMENT * 1000 + 7, "2024-05-01T12:00:00.007000000Z"),  # milliseconds
        (MOMENT * 1_000_000 + 7, "2024-05-01T12:00:00.000007000Z"),  # microseconds
        (MOMENT * NS + 7, "2024-05-01T12:00:00.000000007Z"),  # nanoseconds
        (
            dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.timezone.utc),
            "2024-05-01T12:00:00.123456000Z",
        ),
        (
            dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-01T12:00:00.000000000Z",
        ),
        (dt.datetime(2024, 5, 1, 12, 0), "2024-05-01T12:00:00.000000000Z"),  # naive is UTC
        (0, "1970-01-01T00:00:00.000000000Z"),
    ],
)
def test_times_normalize_to_rfc3339_utc_with_nanoseconds(given, expected):
    assert normalize_time(given) == expected


def test_format_and_parse_are_inverse_across_many_instants():
    for nanos in (0, 1, NS - 1, MOMENT * NS + 123_456_789, 4_102_444_800 * NS - 1):
        assert parse_rfc3339_ns(format_time_ns(nanos)) == nanos


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2024-05-01",
        "2024-05-01T12:00:00",
        "2024-02-30T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "",
    ],
)
def test_malformed_time_strings_raise_value_error_naming_the_format(bad):
    with pytest.raises(ValueError, match=r"RFC3339|day|hour|month"):
        normalize_time(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_epochs_raise(bad):
    with pytest.raises(ValueError, match="finite"):
        time_to_ns(bad)


@pytest.mark.parametrize("bad", [True, None, [1], dt.date(2024, 5, 1)])
def test_other_time_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="datetime, an RFC3339 string or a Unix epoch"):
        time_to_ns(bad)


@pytest.mark.parametrize(
    ("given", "expected"), [(1, 1), (10, 10), (2.6, 3), (2_147_483_647, 2_147_483_647)]
)
def test_sample_rates_become_positive_integers(given, expected):
    assert normalize_samplerate(given) == expected


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (0, ValueError),
        (-5, ValueError),
        (2**31, ValueError),
        (float("nan"), ValueError),
        ("10", TypeError),
        (True, TypeError),
    ],
)
def test_bad_sample_rates_raise(bad, error):
    with pytest.raises(error):
        normalize_samplerate(bad)


def test_batch_event_normalizes_time_and_samplerate_at_construction():
    event = BatchEvent({"a": 1}, time=MOMENT, samplerate=10.0)
    assert event.time == "2024-05-01T12:00:00.000000000Z"
    assert event.samplerate == 10
    assert event == BatchEvent({"a": 1}, time="2024-05-01T12:00:00Z", samplerate=10)
    assert BatchEvent({"a": 1}).time is None
    with pytest.raises(TypeError, match="mapping"):
        BatchEvent(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_a_float_time_gets_the_text_the_careful_path_writes():
    # Floats of seconds within the range skip `time_to_ns`, and a repeated one its formatting:
    # every text must be `epoch_to_ns`'s, in any order, around the range's edges too.
    edge = 9.2e9
    floats = [MOMENT + 0.123456, MOMENT + 0.123456, MOMENT + 0.5, MOMENT + 0.123456, 0.0, -0.0]
    floats += [0.0, 1e-7, -1e-7, 5e-324, -1.5, edge, -edge, math.nextafter(edge, 0)]
    floats += [math.nextafter(-edge, 0), 9_223_372_036.0, -9_223_372_036.0]
    floats += [random.Random(seed).uniform(-edge, edge) for seed in range(200)]
    for value in floats + floats[::-1]:
        assert normalize_time(value) == format_time_ns(epoch_to_ns(value)), value
    for bad in (math.nan, math.inf, -math.inf, 9.3e9, -9.3e9, 1e20):
        with pytest.raises(ValueError, match=r"finite|range"):
            normalize_time(bad)


def test_a_mapping_of_any_kind_makes_an_event():
    assert BatchEvent(types.MappingProxyType({"a": 1})).data == {"a": 1}
    assert BatchEvent(collections.OrderedDict(a=1)).data == {"a": 1}
    with pytest.raises(TypeError, match="mapping"):
        BatchEvent([("a", 1)])  # type: ignore[arg-type]


def test_event_result_ok_means_2xx():
    assert EventResult(202).ok
    assert EventResult(200).ok
    assert not EventResult(429, "rate limited").ok
    assert not EventResult(0, "connection refused").ok
