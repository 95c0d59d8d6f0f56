"""_limits.limited_fields: a mapped event's fields as Honeycomb gets them, without the JSON
round trip the receiver's OTLP ingest used to make, equal to what that round trip gives."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honeycomb_events import BatchEncoder, Compression, Encoding, LimitTally
from honeycomb_events._limits import (
    fields_within_limits,
    limited_fields,
    mapped_event,
    wire_item,
)

from .test_limits import scalars

ENCODER = BatchEncoder(Encoding.JSON, Compression.NONE)

# Top-level values of every kind the limits change, and a lone surrogate.
values = scalars | st.just("a\udc80b")
field_names = st.one_of(st.text(max_size=12), st.just(""), st.just("meta.dropped_fields"))


def round_trip(event) -> tuple[dict, LimitTally]:
    tally = LimitTally()
    [item] = msgspec.json.decode(ENCODER.encode_events([event], tally).buffer)
    return item, tally


def without(event) -> tuple[dict, LimitTally]:
    tally = LimitTally()
    return wire_item(limited_fields(event, tally), event), tally


def mapped(data, samplerate=None):
    return mapped_event(
        data, "2024-05-01T12:00:00.000000000Z", samplerate, within_limits=fields_within_limits(data)
    )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(field_names, values, max_size=12), st.none() | st.integers(1, 1000))
def test_the_fields_are_what_the_json_round_trip_gives(data, samplerate):
    event = mapped(data, samplerate)
    assert _same(without(event), round_trip(event))


@pytest.mark.parametrize(
    "data",
    [
        {f"field{number}": number for number in range(2_500)},  # past the field limit
        {"name": "big"} | {f"blob{number}": "x" * 60_000 for number in range(20)},  # past 1 MB
        {"nan": math.nan, "big": 2**64, "inf": -math.inf},
    ],
    ids=["fields", "size", "numbers"],
)
def test_events_the_limits_change_are_changed_as_the_encoder_changes_them(data):
    event = mapped(data)
    assert _same(without(event), round_trip(event))


def _same(ours: tuple[dict, LimitTally], theirs: tuple[dict, LimitTally]) -> bool:
    # repr tells -0.0 from 0.0 and True from 1, which == does not.
    return repr(ours[0]) == repr(theirs[0]) and ours[1] == theirs[1]
