import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honeycomb_events import DROPPED_FIELDS, MAX_FIELDS, MAX_STRING_BYTES, BatchEncoder, BatchEvent
from honeycomb_events._limits import LimitTally, sanitize_fields, shrink_to_fit, truncate_utf8


def test_short_values_pass_through_unchanged_and_uncounted():
    data = {"s": "text", "i": 42, "f": 1.5, "b": True, "neg": -(2**63), "big": 2**64 - 1}
    tally = LimitTally()
    assert sanitize_fields(data, tally) == data
    assert not tally


def test_none_values_and_empty_keys_are_skipped_and_other_keys_become_strings():
    tally = LimitTally()
    assert sanitize_fields({"a": None, "": 1, 7: "x", "ok": 0}, tally) == {"7": "x", "ok": 0}


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_strings_are_truncated_to_65535_bytes_on_a_character_boundary(char):
    tally = LimitTally()
    text = char * (MAX_STRING_BYTES // len(char.encode()) + 10)
    out = sanitize_fields({"s": text}, tally)["s"]
    encoded = out.encode()
    assert len(encoded) <= MAX_STRING_BYTES
    assert len(encoded) > MAX_STRING_BYTES - 4
    assert text.startswith(out)
    assert tally.strings_truncated == 1


def test_a_string_of_exactly_the_limit_is_kept_whole():
    text = "x" * MAX_STRING_BYTES
    assert truncate_utf8(text) is text


def test_non_finite_floats_become_strings_and_are_counted():
    tally = LimitTally()
    out = sanitize_fields({"n": math.nan, "p": math.inf, "m": -math.inf, "ok": 2.5}, tally)
    assert out == {"n": "NaN", "p": "Infinity", "m": "-Infinity", "ok": 2.5}
    assert tally.non_finite_floats == 3


def test_other_types_are_converted_as_msgspec_writes_them():
    import datetime as dt
    import enum
    import uuid

    class Colour(enum.IntEnum):
        RED = 1

    tally = LimitTally()
    moment = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    ident = uuid.UUID(int=1)
    out = sanitize_fields(
        {
            "bytes": b"\x01\x02\x03\x04",
            "when": moment,
            "id": ident,
            "enum": Colour.RED,
            "huge": 2**70,
            "tuple": (1, 2),
            "list": [1, "a"],
            "dict": {"k": 1},
        },
        tally,
    )
    assert out == {
        "bytes": "AQIDBA==",
        "when": "2024-05-01T00:00:00Z",
        "id": str(ident),
        "enum": 1,
        "huge": str(2**70),
        "tuple": [1, 2],
        "list": [1, "a"],
        "dict": {"k": 1},
    }
    assert type(out["enum"]) is int
    assert tally.values_converted == 1  # only the 70-bit integer had to become text


def test_more_than_2000_fields_keep_the_first_1999_in_order_and_count_the_rest():
    tally = LimitTally()
    data = {f"field{i}": i for i in range(3000)}
    out = sanitize_fields(data, tally)
    assert len(out) == MAX_FIELDS
    assert list(out)[:3] == ["field0", "field1", "field2"]
    assert "field1998" in out
    assert "field1999" not in out
    assert out[DROPPED_FIELDS] == 1001
    assert tally.fields_dropped == 1001


def test_an_existing_dropped_fields_count_is_added_to():
    data = {DROPPED_FIELDS: 5} | {f"f{i}": i for i in range(2005)}
    out = sanitize_fields(data, LimitTally())
    assert len(out) == MAX_FIELDS
    assert out[DROPPED_FIELDS] == 5 + 2005 - 1999


@pytest.mark.parametrize(
    ("existing", "count"),
    [
        (2**64 - 1, 2**64 - 1),  # the sum stops at the largest 64-bit value
        (2**64 - 3, 2**64 - 1),
        (2**64 - 10, 2**64 - 4),
        (2**70, 6),  # out of range: replaced
        (-3, 6),
        ("5", 6),
    ],
)
def test_an_existing_dropped_fields_count_stays_a_64_bit_count(existing, count):
    data = {DROPPED_FIELDS: existing} | {f"f{i}": i for i in range(2005)}
    out = sanitize_fields(data, LimitTally())
    assert out[DROPPED_FIELDS] == count


def test_shrink_drops_largest_unprotected_fields_first():
    tally = LimitTally()
    fields = {"trace.id": "t" * 500, "small": "s", "big1": "b" * 900, "big2": "c" * 800}
    size = len(msgspec.json.encode(fields))
    out = shrink_to_fit(
        fields,
        size,
        lambda v: len(msgspec.json.encode(v)),
        tally,
        budget=1200,
        protected={"trace.id"},
    )
    assert out == {"trace.id": "t" * 500, "small": "s", DROPPED_FIELDS: 2}
    assert tally.fields_dropped == 2


def test_an_event_over_one_megabyte_is_shrunk_not_dropped():
    encoder = BatchEncoder()
    tally = LimitTally()
    event = BatchEvent({"name": "keep me"} | {f"blob{i}": "x" * 60_000 for i in range(40)})
    [encoded] = encoder.encode_events([event], tally)
    assert len(encoded) <= 1_000_000
    data = msgspec.json.decode(encoded)["data"]
    assert data["name"] == "keep me"
    assert data[DROPPED_FIELDS] == 40 - (len(data) - 2)
    assert tally.events_shrunk == 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.binary(max_size=20),
    st.text(min_size=0, max_size=5).map(lambda s: s * 20_000),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text(max_size=20), values, max_size=40), st.sampled_from(["json", "msgpack"])
)
def test_any_mapping_encodes_within_honeycombs_limits(data, encoding):
    from honeycomb_events import Encoding

    encoder = BatchEncoder(Encoding(encoding))
    [encoded] = encoder.encode_events([BatchEvent(data)], LimitTally())
    assert len(encoded) <= 1_000_000
    decoded = (msgspec.json.decode if encoding == "json" else msgspec.msgpack.decode)(encoded)
    fields = decoded["data"]
    assert len(fields) <= MAX_FIELDS
    for key, value in fields.items():
        assert key
        assert value is not None
        if isinstance(value, str):
            assert len(value.encode("utf-8", "surrogatepass")) <= MAX_STRING_BYTES
        if isinstance(value, float):
            assert math.isfinite(value)


def test_fast_and_slow_paths_encode_the_same_event_identically():
    import datetime as dt
    import uuid

    encoder = BatchEncoder()
    odd = {
        "when": dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
        "id": uuid.UUID(int=1),
        "raw": b"\x01",
        "pair": (1, 2),
        "n": 1,
    }
    [fast] = encoder.encode_events([BatchEvent(odd)], LimitTally())
    # A None field forces the slow path; it is then skipped, so the rest must read the same.
    [slow] = encoder.encode_events([BatchEvent(odd | {"gone": None})], LimitTally())
    assert msgspec.json.decode(fast) == msgspec.json.decode(slow)


@pytest.mark.parametrize(
    "data",
    [{"a": None}, {"": 1}, {"n": math.nan}, {"big": 2**65}, {"s": "x" * 70_000}, {"o": object()}],
)
def test_anything_the_limits_change_is_caught_by_the_fast_path_check(data):
    fields = msgspec.json.decode(BatchEncoder().encode_events([BatchEvent(data)], LimitTally())[0])
    assert fields["data"] == sanitize_fields(data, LimitTally())
