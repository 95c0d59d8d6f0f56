"""Sample rates as Honeycomb reads them (mapping.md, "Sample rate"): every case of Honeycomb's
own translation tests (husky, otlp/common_test.go), and the number parsing and rounding of
its ``sampleRate`` attribute."""

from __future__ import annotations

import math

import pytest

from honeycomb_events.otel.mapping._sampling import (
    event_sample_rate,
    rate_of,
    tracestate_sample_rate,
)

# Honeycomb draws at random between floor and ceiling up to 100, and takes the floor above:
# (tracestate, the lowest and highest rate it gives); None where it reads no rate.
HONEYCOMB_CASES = [
    ("ot=th:c", 4, 4),
    ("ot=th:8", 2, 2),
    ("ot=th:0", 1, 1),
    ("policy=Bidder,ot=th:ff04298fdf6760", 259, 260),
    ("policy=Bidder,ot=th:fedd37f08bc7f0", 224, 225),
    ("policy=Bidder,ot=th:ff0d27d434fe50", 268, 269),
    ("ot=p:8;th:c;r:62", 4, 4),
    ("ot=p:8;r:62;th:c", 4, 4),
    ("ot=th:c;p:8;r:62", 4, 4),
    ("vendor1=value1,ot=th:c,vendor2=value2", 4, 4),
    ("vendor1=value1,ot=th:c;p:8;r:62,vendor2=value2", 4, 4),
    ("ot=th:C", 4, 4),
    ("ot=th:c,th=8", 4, 4),
    ("ot=th:c,ot=th:8", 4, 4),
    ("th=c", 4, 4),
    ("th=c;other=value", 4, 4),
    ("th=c,other=value", None, None),
    ("ot=p:8;r:62", None, None),
    ("policy=Bidder", None, None),
    ("", None, None),
    ("ot=th:", None, None),
    ("ot=th: c ", None, None),
    ("ot=th:xyz", None, None),
    ("ot=th:123456789012345", None, None),
    ("tenant@ot=th:c", None, None),
]

# Thresholds for these probabilities, as Go's sampling.ProbabilityToThreshold writes them
# (TestOTelSamplingThreshold), with Honeycomb's range of rates.
PROBABILITY_CASES = [
    (1, 1, 1),
    (0.75, 1, 2),
    (0.5, 2, 2),
    (0.3, 3, 4),
    (0.25, 4, 4),
    (0.2, 5, 5),
    (0.1, 10, 10),
    (0.05, 20, 20),
    (0.01, 100, 100),
    (0.001, 999, 999),
    (0.0001, 9999, 9999),
]


@pytest.mark.parametrize(("tracestate", "lowest", "highest"), HONEYCOMB_CASES)
def test_every_tracestate_case_of_honeycombs_tests(tracestate, lowest, highest):
    rate = tracestate_sample_rate(tracestate)
    if lowest is None:
        assert rate is None
    else:
        assert lowest <= rate <= highest


def _threshold(probability: float) -> str:
    """Go's ProbabilityToThreshold then TValue: 14 hex digits, trailing zeros dropped."""
    scaled = round(probability * 2**56)
    threshold = 2**56 - scaled
    return format(threshold, "014x").rstrip("0") or "0"


@pytest.mark.parametrize(("probability", "lowest", "highest"), PROBABILITY_CASES)
def test_thresholds_from_probabilities_give_honeycombs_rates(probability, lowest, highest):
    rate = tracestate_sample_rate(f"th={_threshold(probability)}")
    assert lowest <= rate <= highest


def test_up_to_100_the_nearer_of_floor_and_ceiling_is_taken():
    assert tracestate_sample_rate(f"ot=th:{_threshold(0.75)}") == 1  # 1.33
    assert tracestate_sample_rate(f"ot=th:{_threshold(0.3)}") == 3  # 3.33
    assert tracestate_sample_rate(f"ot=th:{_threshold(1 / 2.6)}") == 3  # 2.6
    # Above 100 Honeycomb takes the floor, even of 999.9999999999991.
    assert tracestate_sample_rate(f"ot=th:{_threshold(0.001)}") == 999


def test_the_largest_threshold_is_capped():
    assert tracestate_sample_rate("ot=th:ffffffffffffff") == 2_147_483_647


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        (4, 4),
        (2.5, 3),  # half rounds up, as Go's int(v + 0.5)
        (3.5, 4),
        (0.4, 1),
        (0, 1),
        (-7, 1),
        (2**40, 2_147_483_647),
        ("10", 10),
        ("2.5", 3),
        ("1e3", 1000),
        ("0x1p4", 16),  # a hex float, which Go reads
        ("inf", 2_147_483_647),
        ("nan", 1),
        (" 10", 1),  # Go reads no spaces
        ("1_000", 1),
        ("1e400", 1),  # out of range: an error in Go, not an infinity
        ("\uff11\uff10", 1),  # fullwidth digits: Go reads ASCII only
        ("ten", 1),
        (True, 1),
        (math.nan, 1),
        (math.inf, 2_147_483_647),
        (-math.inf, 1),
        ('["4"]\n', 1),  # an array attribute, as the conversion wrote it
    ],
)
def test_a_sample_rate_field_is_read_as_honeycomb_reads_it(value, rate):
    assert rate_of(value) == rate


def test_the_field_wins_over_the_tracestate_and_both_spellings_go():
    fields = {"SampleRate": 8, "sampleRate": 10, "other": 1}
    assert event_sample_rate(fields, "ot=th:c") == 10
    assert fields == {"other": 1}
    assert event_sample_rate({}, "ot=th:c") == 4
    assert event_sample_rate({"sampleRate": 1}, "ot=th:c") is None  # 1: Honeycomb's default
