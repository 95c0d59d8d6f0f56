"""The local receiver, driven over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import zstandard

from honeycomb_events._model import format_time_ns, parse_rfc3339_ns
from honeycomb_events.receiver import (
    MAX_DATASET_COLUMNS,
    ErrorText,
    EventStore,
    Fault,
    FaultPlan,
    Receiver,
    StoredEvent,
)

KEY = "test-key"
HEADERS = {"X-Honeycomb-Team": KEY}


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


@pytest.fixture
def receiver(shared_receiver: Receiver) -> Receiver:
    """Overrides conftest's fresh receiver: this module's tests share one, reset before each.

    Stopping a receiver takes about 0.1 s (uvicorn's shutdown grace), which over a hundred
    tests would dominate the run.
    """
    shared_receiver.reset()
    return shared_receiver


@pytest.fixture(scope="module")
def shared_client(shared_receiver: Receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_receiver.url, headers=HEADERS, timeout=10) as http:
        yield http


@pytest.fixture
def client(receiver: Receiver, shared_client: httpx.Client) -> httpx.Client:
    """An HTTP client for `receiver` that sends the API key (creating one costs ~40 ms)."""
    return shared_client


def as_json(value: Any) -> bytes:
    return msgspec.json.encode(value)


def post_batch(
    client: httpx.Client,
    dataset: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else as_json(body)
    return client.post(f"/1/batch/{dataset}", content=content, headers=headers)


def statuses(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["status"] for item in response.json()]


def assert_error(response: httpx.Response, status: int, text: str) -> None:
    assert (response.status_code, response.json()) == (status, {"error": text})


# Batches: bodies, encodings and compression --------------------------------------------------


def test_json_batch_is_stored_in_order_with_defaults(
    receiver: Receiver, client: httpx.Client
) -> None:
    response = post_batch(
        client,
        "spans",
        [
            {"data": {"name": "a", "n": 1}, "time": "2024-05-01T12:00:00.5Z", "samplerate": 10},
            {"data": {"name": "b", "ok": True, "f": 1.5, "nested": {"x": [1, 2]}}},
        ],
    )

    assert response.json() == [{"status": 202}, {"status": 202}]
    first, second = receiver.events("spans")
    assert first == StoredEvent(
        "spans",
        parse_rfc3339_ns("2024-05-01T12:00:00.5Z"),
        "2024-05-01T12:00:00.500000000Z",
        10,
        {"name": "a", "n": 1},
    )
    assert second.samplerate == 1
    assert second.data == {"name": "b", "ok": True, "f": 1.5, "nested": {"x": [1, 2]}}
    assert receiver.store.count("spans") == 2


@pytest.mark.parametrize("content_type", ["application/msgpack", "application/x-msgpack"])
def test_msgpack_batch_with_timestamp(
    receiver: Receiver, client: httpx.Client, content_type: str
) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=dt.timezone.utc)
    body = msgspec.msgpack.encode(
        [{"data": {"name": "m", "n": 7}, "time": when, "samplerate": 3}, {"data": {"k": "v"}}]
    )

    response = post_batch(client, "mp", body, {"Content-Type": content_type})

    assert statuses(response) == [202, 202]
    first, second = receiver.events("mp")
    assert (first.time, first.samplerate, first.data) == (
        "2024-05-01T12:00:00.250000000Z",
        3,
        {"name": "m", "n": 7},
    )
    assert second.data == {"k": "v"}


def test_msgpack_body_sent_as_json_is_malformed(client: httpx.Client) -> None:
    body = msgspec.msgpack.encode([{"data": {"a": 1}}])
    assert_error(post_batch(client, "d", body), 400, ErrorText.MALFORMED)


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
@pytest.mark.parametrize("content_type", ["application/json", "application/msgpack"])
def test_compressed_bodies(
    receiver: Receiver, client: httpx.Client, encoding: str, content_type: str
) -> None:
    events = [{"data": {"i": i, "text": "x" * 100}} for i in range(50)]
    raw = as_json(events) if content_type == "application/json" else msgspec.msgpack.encode(events)
    body = gzip.compress(raw) if encoding == "gzip" else zstandard.compress(raw)

    response = post_batch(
        client, "z", body, {"Content-Encoding": encoding, "Content-Type": content_type}
    )

    assert statuses(response) == [202] * 50
    assert [event.data["i"] for event in receiver.events("z")] == list(range(50))
    seen = receiver.requests[-1]
    assert (seen.content_encoding, seen.content_type, seen.body_bytes, seen.event_count) == (
        encoding,
        content_type,
        len(body),
        50,
    )


def test_gzip_body_of_several_members(receiver: Receiver, client: httpx.Client) -> None:
    raw = as_json([{"data": {"i": 1}}, {"data": {"i": 2}}])
    body = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    assert statuses(post_batch(client, "g", body, {"Content-Encoding": "gzip"})) == [202, 202]


@pytest.mark.parametrize("encoding", ["deflate", "br", "gzip, zstd"])
def test_unknown_content_encoding_is_malformed(client: httpx.Client, encoding: str) -> None:
    response = post_batch(client, "d", [{"data": {"a": 1}}], {"Content-Encoding": encoding})
    assert_error(response, 400, ErrorText.MALFORMED)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"definitely not gzip"),
        ("gzip", gzip.compress(b'[{"data":{"a":1}}]')[:-12]),
        ("zstd", b"definitely not zstd"),
    ],
    ids=["not-gzip", "truncated-gzip", "not-zstd"],
)
def test_corrupt_compressed_body_is_malformed(
    receiver: Receiver, client: httpx.Client, encoding: str, body: bytes
) -> None:
    response = post_batch(client, "d", body, {"Content-Encoding": encoding})
    assert_error(response, 400, ErrorText.MALFORMED)
    assert receiver.store.count() == 0


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_decompression_past_50_mb_is_too_large(
    receiver: Receiver, client: httpx.Client, encoding: str
) -> None:
    raw = b"[" + b" " * 50_000_001 + b"]"
    body = gzip.compress(raw, compresslevel=1) if encoding == "gzip" else zstandard.compress(raw)
    assert len(body) < 1_000_000

    response = post_batch(client, "bomb", body, {"Content-Encoding": encoding})

    assert_error(response, 400, ErrorText.BODY_TOO_LARGE)
    assert receiver.stats.bodies_too_large == 1


# Whole-request errors ---------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, ""])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/1/batch/d"), ("POST", "/1/events/d"), ("GET", "/1/auth")],
)
def test_missing_or_blank_key(receiver: Receiver, key: str | None, method: str, path: str) -> None:
    headers = {} if key is None else {"X-Honeycomb-Team": key}
    body = b'[{"data":{"a":1}}]' if "batch" in path else b'{"a":1}'
    with httpx.Client(base_url=receiver.url) as http:
        response = http.request(
            method, path, headers=headers, content=body if method == "POST" else None
        )

    assert_error(response, 400, ErrorText.INVALID_KEY)
    assert receiver.store.count() == 0
    assert receiver.requests[-1].has_key is False


def test_unknown_key_when_keys_are_configured() -> None:
    with Receiver(api_keys={"good"}) as receiver, httpx.Client(base_url=receiver.url) as http:
        bad = {"X-Honeycomb-Team": "bad"}
        good = {"X-Honeycomb-Team": "good"}
        body = b'[{"data":{"a":1}}]'

        assert_error(http.post("/1/batch/d", headers=bad, content=body), 401, ErrorText.UNKNOWN_KEY)
        assert_error(
            http.post("/1/events/d", headers=bad, content=b'{"a":1}'), 401, ErrorText.UNKNOWN_KEY
        )
        assert_error(http.get("/1/auth", headers=bad), 401, ErrorText.UNKNOWN_KEY)
        assert receiver.store.count() == 0

        assert http.post("/1/batch/d", headers=good, content=body).json() == [{"status": 202}]
        assert http.get("/1/auth", headers=good).status_code == 200
        assert receiver.stats.key_rejections == 3


def test_any_non_blank_key_is_accepted_without_configured_keys(client: httpx.Client) -> None:
    response = post_batch(client, "d", [{"data": {"a": 1}}], {"X-Honeycomb-Team": "anything"})
    assert statuses(response) == [202]


@pytest.mark.parametrize("body", [b"", b"  \n\t ", b"[]"])
def test_empty_body(receiver: Receiver, client: httpx.Client, body: bytes) -> None:
    assert_error(post_batch(client, "d", body), 400, ErrorText.BODY_EMPTY)
    assert receiver.stats.empty_bodies == 1


def test_empty_body_after_decompression(client: httpx.Client) -> None:
    response = post_batch(client, "d", gzip.compress(b""), {"Content-Encoding": "gzip"})
    assert_error(response, 400, ErrorText.BODY_EMPTY)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"data": {"a": 1}}',
        b"[1, 2]",
        b'[{"data": {"a": 1}}, "x"]',
        b'[{"data": {"a": 1}}',
        b'[{"data": {"a": NaN}}]',
        b"\xff\xfe\x00garbage",
    ],
)
def test_malformed_body(receiver: Receiver, client: httpx.Client, body: bytes) -> None:
    assert_error(post_batch(client, "d", body), 400, ErrorText.MALFORMED)
    assert receiver.store.count() == 0
    assert receiver.stats.malformed_bodies == 1


def test_body_limit_is_5_000_000_raw_bytes(receiver: Receiver, client: httpx.Client) -> None:
    valid = as_json([{"data": {"a": 1}}])
    at_limit = valid + b" " * (5_000_000 - len(valid))

    assert statuses(post_batch(client, "d", at_limit)) == [202]
    assert_error(post_batch(client, "d", at_limit + b" "), 400, ErrorText.BODY_TOO_LARGE)
    assert receiver.store.count() == 1
    assert receiver.requests[-1].body_bytes == 5_000_001


# Per-event checks -----------------------------------------------------------------------------


def test_per_event_errors_keep_their_positions(receiver: Receiver, client: httpx.Client) -> None:
    response = post_batch(
        client,
        "d",
        [
            {"data": {"ok": 1}},
            {"time": "2024-05-01T12:00:00Z"},
            {"data": None},
            {"data": [1, 2]},
            {"data": {f"c{i}": i for i in range(2001)}},
            {"data": {"ok": 2}},
        ],
    )

    assert response.json() == [
        {"status": 202},
        {"status": 400, "error": ErrorText.NO_DATA},
        {"status": 400, "error": ErrorText.NO_DATA},
        {"status": 400, "error": ErrorText.MALFORMED},
        {"status": 400, "error": ErrorText.TOO_MANY_COLUMNS},
        {"status": 202},
    ]
    assert [event.data for event in receiver.events("d")] == [{"ok": 1}, {"ok": 2}]
    stats = receiver.stats
    assert (stats.missing_data, stats.malformed_events, stats.too_many_columns) == (2, 1, 1)
    assert (stats.events_received, stats.events_accepted, stats.events_rejected) == (6, 2, 4)


def test_2000_fields_are_allowed(receiver: Receiver, client: httpx.Client) -> None:
    data = {f"c{i}": i for i in range(2000)}
    assert statuses(post_batch(client, "d", [{"data": data}])) == [202]
    assert receiver.events("d")[0].data == data


def test_event_over_1_000_000_bytes_of_json_is_too_large(
    receiver: Receiver, client: httpx.Client
) -> None:
    def event_of_size(size: int) -> dict[str, Any]:
        data = {f"s{i}": "x" * 60_000 for i in range(16)}
        data["pad"] = ""
        data["pad"] = "x" * (size - len(as_json(data)))
        assert len(as_json(data)) == size
        return {"data": data}

    response = post_batch(client, "d", [event_of_size(1_000_000), event_of_size(1_000_001)])

    assert response.json() == [{"status": 202}, {"status": 400, "error": ErrorText.EVENT_TOO_LARGE}]
    assert receiver.stats.events_too_large == 1
    assert receiver.store.count("d") == 1


def test_dataset_column_limit(receiver: Receiver, client: httpx.Client) -> None:
    filling = [
        {"data": {f"e{e}c{c}": 1 for c in range(2000)}} for e in range(MAX_DATASET_COLUMNS // 2000)
    ]
    assert statuses(post_batch(client, "wide", filling)) == [202] * 5
    assert len(receiver.store.columns("WIDE")) == MAX_DATASET_COLUMNS

    response = post_batch(
        client,
        "wide",
        [{"data": {"brand_new": 1}}, {"data": {"e0c0": 2, "e4c1999": 3}}, {"data": {"z": 1}}],
    )

    error = {"status": 400, "error": ErrorText.DATASET_TOO_MANY_COLUMNS}
    assert response.json() == [error, {"status": 202}, error]
    assert receiver.stats.dataset_too_many_columns == 2
    assert receiver.store.count("wide") == 6
    single = client.post("/1/events/wide", content=b'{"another_new": 1}')
    assert_error(single, 400, ErrorText.DATASET_TOO_MANY_COLUMNS)
    assert statuses(post_batch(client, "other", [{"data": {"brand_new": 1}}])) == [202]


def test_long_strings_are_truncated_and_counted(receiver: Receiver, client: httpx.Client) -> None:
    exact = "a" * 65_535
    long_ascii = "b" * 70_000
    long_utf8 = "é" * 40_000  # 80,000 bytes; 65,535 is odd, so the cut falls inside a character

    response = post_batch(
        client, "d", [{"data": {"exact": exact, "ascii": long_ascii, "utf8": long_utf8}}]
    )

    assert statuses(response) == [202]
    data = receiver.events("d")[0].data
    assert data["exact"] == exact
    assert data["ascii"] == "b" * 65_535
    assert data["utf8"] == "é" * 32_767
    assert receiver.stats.oversize_strings == 2


def test_non_finite_and_null_values_are_not_stored_and_are_counted(
    receiver: Receiver, client: httpx.Client
) -> None:
    body = msgspec.msgpack.encode(
        [{"data": {"nan": float("nan"), "inf": float("-inf"), "none": None, "ok": 1.5}}]
    )

    response = post_batch(client, "d", body, {"Content-Type": "application/msgpack"})

    assert statuses(response) == [202]
    assert receiver.events("d")[0].data == {"ok": 1.5}
    assert (receiver.stats.non_finite, receiver.stats.null_values) == (2, 1)


def test_non_string_keys_in_msgpack_are_malformed(client: httpx.Client) -> None:
    body = msgspec.msgpack.encode([{"data": {1: "x"}}])
    response = post_batch(client, "d", body, {"Content-Type": "application/msgpack"})
    assert response.json() == [{"status": 400, "error": ErrorText.MALFORMED}]


# Times and sample rates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00.123456789Z", 1_714_564_800_123_456_789),
        ("2024-05-01T14:00:00.5+02:00", 1_714_564_800_500_000_000),
        (1_714_564_800, 1_714_564_800_000_000_000),
        (1_714_564_800.25, 1_714_564_800_250_000_000),
        (1_714_564_800_123, 1_714_564_800_123_000_000),
    ],
)
def test_batch_event_times(
    receiver: Receiver, client: httpx.Client, value: object, expected: int
) -> None:
    assert statuses(post_batch(client, "t", [{"data": {"a": 1}, "time": value}])) == [202]
    event = receiver.events("t")[0]
    assert (event.time_ns, event.time) == (expected, format_time_ns(expected))


@pytest.mark.parametrize(
    ("offset_s", "replaced"),
    [(-86_400 * 365, False), (1800, False), (3700, True), (86_400 * 365, True)],
)
def test_times_over_an_hour_ahead_become_the_receipt_time(
    receiver: Receiver, client: httpx.Client, offset_s: int, replaced: bool
) -> None:
    sent_ns = time.time_ns() + offset_s * 1_000_000_000
    before = time.time_ns()
    post_batch(client, "t", [{"data": {"a": 1}, "time": format_time_ns(sent_ns)}])
    after = time.time_ns()

    stored = receiver.events("t")[0].time_ns
    if replaced:
        assert before <= stored <= after
    else:
        assert stored == sent_ns
    assert receiver.stats.future_times == int(replaced)


@pytest.mark.parametrize("value", [None, "yesterday", "2024-13-01T00:00:00Z", True, {"t": 1}])
def test_missing_or_unreadable_times_become_the_receipt_time(
    receiver: Receiver, client: httpx.Client, value: object
) -> None:
    event: dict[str, Any] = {"data": {"a": 1}}
    if value is not None:
        event["time"] = value
    before = time.time_ns()
    assert statuses(post_batch(client, "t", [event])) == [202]
    after = time.time_ns()

    assert before <= receiver.events("t")[0].time_ns <= after
    assert receiver.stats.bad_times == (0 if value is None else 1)


@pytest.mark.parametrize(
    ("value", "stored", "bad"), [(10, 10, 0), (2.0, 2, 0), (0, 1, 1), (-5, 1, 1)]
)
def test_samplerates(
    receiver: Receiver, client: httpx.Client, value: float, stored: int, bad: int
) -> None:
    assert statuses(post_batch(client, "s", [{"data": {"a": 1}, "samplerate": value}])) == [202]
    assert receiver.events("s")[0].samplerate == stored
    assert receiver.stats.bad_samplerates == bad


@pytest.mark.parametrize("value", ["10", 2.5, True])
def test_unreadable_samplerate_rejects_the_event(client: httpx.Client, value: object) -> None:
    response = post_batch(client, "s", [{"data": {"a": 1}, "samplerate": value}])
    assert response.json() == [{"status": 400, "error": ErrorText.BAD_SAMPLERATE}]


# Single events --------------------------------------------------------------------------------


def test_single_event_with_time_and_samplerate_headers(
    receiver: Receiver, client: httpx.Client
) -> None:
    response = client.post(
        "/1/events/single",
        content=b'{"method": "GET", "duration_ms": 32}',
        headers={
            "X-Honeycomb-Event-Time": "2024-05-01T12:00:00.75Z",
            "X-Honeycomb-Samplerate": "20",
        },
    )

    assert (response.status_code, response.content) == (200, b"")
    (event,) = receiver.events("single")
    assert (event.time, event.samplerate, event.data) == (
        "2024-05-01T12:00:00.750000000Z",
        20,
        {"method": "GET", "duration_ms": 32},
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1714564800", 1_714_564_800_000_000_000), ("1714564800123", 1_714_564_800_123_000_000)],
)
def test_single_event_epoch_time_header(
    receiver: Receiver, client: httpx.Client, header: str, expected: int
) -> None:
    response = client.post(
        "/1/events/e", content=b'{"a": 1}', headers={"X-Honeycomb-Event-Time": header}
    )
    assert response.status_code == 200
    assert receiver.events("e")[0].time_ns == expected


def test_single_event_without_headers_gets_receipt_time_and_rate_1(
    receiver: Receiver, client: httpx.Client
) -> None:
    before = time.time_ns()
    assert client.post("/1/events/e", content=b'{"a": 1}').status_code == 200
    event = receiver.events("e")[0]
    assert before <= event.time_ns <= time.time_ns()
    assert event.samplerate == 1


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_single_event_compressed(receiver: Receiver, client: httpx.Client, encoding: str) -> None:
    raw = b'{"a": "compressed"}'
    body = gzip.compress(raw) if encoding == "gzip" else zstandard.compress(raw)
    response = client.post("/1/events/e", content=body, headers={"Content-Encoding": encoding})
    assert response.status_code == 200
    assert receiver.events("e")[0].data == {"a": "compressed"}


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (b"", {}, ErrorText.BODY_EMPTY),
        (b"[{}]", {}, ErrorText.MALFORMED),
        (b"{", {}, ErrorText.MALFORMED),
        (b'{"a": 1}', {"X-Honeycomb-Samplerate": "ten"}, ErrorText.BAD_SAMPLERATE),
        (as_json({f"c{i}": i for i in range(2001)}), {}, ErrorText.TOO_MANY_COLUMNS),
        (b'{"a": "' + b"x" * 1_000_001 + b'"}', {}, ErrorText.BODY_TOO_LARGE),
    ],
    ids=["empty", "array", "truncated", "samplerate", "columns", "too-large"],
)
def test_single_event_errors(
    receiver: Receiver,
    client: httpx.Client,
    body: bytes,
    headers: dict[str, str],
    error: str,
) -> None:
    assert_error(client.post("/1/events/e", content=body, headers=headers), 400, error)
    assert receiver.store.count() == 0


def test_single_event_body_limit_is_1_000_000_raw_bytes(
    receiver: Receiver, client: httpx.Client
) -> None:
    at_limit = b'{"a": 1}' + b" " * (1_000_000 - 8)
    assert client.post("/1/events/e", content=at_limit).status_code == 200
    assert_error(client.post("/1/events/e", content=at_limit + b" "), 400, ErrorText.BODY_TOO_LARGE)


# /1/auth ----------------------------------------------------------------------------------


def test_auth(receiver: Receiver, client: httpx.Client) -> None:
    response = client.get("/1/auth")

    assert response.status_code == 200
    body = response.json()
    assert body["api_key_access"]["events"] is True
    assert body["api_key_access"]["markers"] is False
    assert body["environment"] == {"name": "local", "slug": "local"}
    assert body["team"] == {"name": "local", "slug": "local"}
    seen = receiver.requests[-1]
    assert (seen.method, seen.path, seen.dataset, seen.status, seen.has_key) == (
        "GET",
        "/1/auth",
        None,
        200,
        True,
    )


# Datasets and persistence ---------------------------------------------------------------------


def test_dataset_names_ignore_case_and_keep_the_first_casing(
    receiver: Receiver, client: httpx.Client
) -> None:
    for name in ("MyData", "mydata", "MYDATA"):
        assert statuses(post_batch(client, name, [{"data": {"from": name}}])) == [202]
    assert client.post("/1/events/myDATA", content=b'{"from": "single"}').status_code == 200
    post_batch(client, "My%20Other", [{"data": {"a": 1}}])

    assert receiver.datasets() == ["MyData", "My Other"]
    events = receiver.events("mYdAtA")
    assert [event.data["from"] for event in events] == ["MyData", "mydata", "MYDATA", "single"]
    assert {event.dataset for event in events} == {"MyData"}
    assert receiver.store.count("MYDATA") == 4
    assert receiver.events("my other")[0].dataset == "My Other"
    assert receiver.requests[-1].path == "/1/batch/My%20Other"


def test_events_persist_across_receivers_on_one_file(tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite"
    with Receiver(db_path=db) as first, httpx.Client(base_url=first.url, headers=HEADERS) as http:
        post_batch(http, "Persisted", [{"data": {"n": 1}}, {"data": {"n": 2}}])

    with Receiver(db_path=db) as second, httpx.Client(base_url=second.url, headers=HEADERS) as http:
        assert [event.data["n"] for event in second.events("persisted")] == [1, 2]
        post_batch(http, "PERSISTED", [{"data": {"n": 3}}])
        assert second.datasets() == ["Persisted"]
        assert second.store.columns("persisted") == {"n"}

    with EventStore(db) as store:
        assert [event.data["n"] for event in store.events("Persisted")] == [1, 2, 3]


def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    with EventStore(db) as one, EventStore(db) as two:
        one.add("d", [StoredEvent.create("d", 1, {"a": 1})])
        two.add("D", [StoredEvent.create("D", 2, {"b": 2})])
        assert [event.data for event in one.events("d")] == [{"a": 1}, {"b": 2}]
        assert two.columns("d") == {"a", "b"}
        assert two.datasets() == ["d"]
    assert (tmp_path / "shared.sqlite-wal").exists() or db.exists()


def test_store_queries() -> None:
    with EventStore() as store:
        store.add("d", [StoredEvent.create("d", t, {"t": t}) for t in (30, 10, 20)])
        store.add("other", [StoredEvent.create("other", 5, {"x": 1})])

        assert [event.time_ns for event in store.events("d")] == [30, 10, 20]
        assert [event.time_ns for event in store.events("d", since_ns=20)] == [30, 20]
        assert [event.time_ns for event in store.events("d", until_ns=20)] == [10]
        assert [event.time_ns for event in store.events("d", limit=2)] == [30, 10]
        assert store.events("missing") == []
        assert (store.count(), store.count("D"), store.count("missing")) == (4, 3, 0)
        assert store.columns("d") == {"t"}
        assert store.admit("d", [StoredEvent.create("d", 1, {"new": 1})], max_columns=1) == [False]

        store.clear()
        assert (store.count(), store.datasets(), store.columns("d")) == (0, [], set())
    with pytest.raises(RuntimeError, match="closed"):
        store.count()


# Faults ---------------------------------------------------------------------------------------


def test_status_fault_applies_the_given_number_of_times(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.faults.push(Fault(status=503, times=2))
    events = [{"data": {"a": 1}}]

    assert_error(post_batch(client, "d", events), 503, "service unavailable")
    assert receiver.faults.pending() == [Fault(status=503, times=1)]
    assert_error(post_batch(client, "d", events), 503, "service unavailable")
    assert receiver.faults.pending() == []
    assert statuses(post_batch(client, "d", events)) == [202]
    assert receiver.store.count() == 1
    assert [seen.status for seen in receiver.requests] == [503, 503, 200]
    assert receiver.stats.faults_applied == 2


def test_status_fault_with_error_text_and_retry_after(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.faults.push(
        Fault(status=429, retry_after="7"),
        Fault(status=500, error="the hive is busy"),
    )

    first = post_batch(client, "d", [{"data": {"a": 1}}])
    assert_error(first, 429, "request dropped due to rate limiting")
    assert first.headers["Retry-After"] == "7"
    second = post_batch(client, "d", [{"data": {"a": 1}}])
    assert_error(second, 500, "the hive is busy")
    assert "Retry-After" not in second.headers


def test_per_event_status_fault_cycles_and_stores_only_accepted_events(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.faults.push(Fault(event_statuses=(202, 429)), Fault(event_statuses=(503,)))

    response = post_batch(client, "d", [{"data": {"i": i}} for i in range(5)])

    limited = {"status": 429, "error": "request dropped due to rate limiting"}
    assert response.json() == [{"status": 202}, limited, {"status": 202}, limited, {"status": 202}]
    assert [event.data["i"] for event in receiver.events("d")] == [0, 2, 4]

    response = post_batch(client, "d", [{"data": {"i": 9}}])
    assert response.json() == [{"status": 503, "error": "service unavailable"}]
    assert receiver.store.count() == 3


def test_per_event_202_still_gets_the_normal_checks(client: httpx.Client) -> None:
    client.post("/_receiver/faults", json=[{"event_statuses": [202, 403]}])
    response = post_batch(client, "d", [{"nodata": 1}, {"data": {"a": 1}}])
    assert response.json() == [
        {"status": 400, "error": ErrorText.NO_DATA},
        {"status": 403, "error": "event dropped due to administrative throttling"},
    ]


def test_per_event_status_fault_on_single_events(receiver: Receiver, client: httpx.Client) -> None:
    receiver.faults.push(
        Fault(event_statuses=(429,), retry_after="3"), Fault(event_statuses=(202,))
    )

    rejected = client.post("/1/events/e", content=b'{"a": 1}')
    assert_error(rejected, 429, "request dropped due to rate limiting")
    assert rejected.headers["Retry-After"] == "3"
    assert client.post("/1/events/e", content=b'{"a": 2}').status_code == 200
    assert [event.data for event in receiver.events("e")] == [{"a": 2}]


def test_delay_fault_stalls_only_its_request(receiver: Receiver, client: httpx.Client) -> None:
    receiver.faults.push(Fault(delay=0.6, path="batch"))
    outcome: dict[str, Any] = {}

    def slow_request() -> None:
        with httpx.Client(base_url=receiver.url, headers=HEADERS) as other:
            started = time.perf_counter()
            outcome["response"] = post_batch(other, "slow", [{"data": {"a": 1}}])
            outcome["elapsed"] = time.perf_counter() - started

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 5
    while receiver.faults.pending() and time.monotonic() < deadline:
        time.sleep(0.005)

    assert client.post("/1/events/fast", content=b'{"a": 1}').status_code == 200
    assert statuses(post_batch(client, "fast", [{"data": {"b": 1}}])) == [202]
    assert thread.is_alive(), "the stalled request finished before the others"
    assert receiver.store.count("slow") == 0
    thread.join(5)

    assert outcome["elapsed"] >= 0.6
    assert statuses(outcome["response"]) == [202]
    assert receiver.store.count("slow") == 1


def test_drop_connection_fault(
    receiver: Receiver, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.faults.push(Fault(drop_connection=True))

    with caplog.at_level(logging.WARNING), pytest.raises(httpx.TransportError) as raised:
        post_batch(client, "d", [{"data": {"a": 1}}])

    assert isinstance(raised.value, httpx.RemoteProtocolError)
    assert receiver.store.count() == 0
    assert receiver.requests[-1].status == 0
    assert not [record for record in caplog.records if "ASGI callable" in record.getMessage()]
    assert statuses(post_batch(client, "d", [{"data": {"a": 1}}])) == [202]


def test_fault_path_matching(receiver: Receiver, client: httpx.Client) -> None:
    receiver.faults.push(Fault(status=500, path="events"), Fault(status=502, path="batch"))

    assert_error(post_batch(client, "d", [{"data": {"a": 1}}]), 502, "bad gateway")
    assert receiver.faults.pending() == [Fault(status=500, path="events")]
    assert statuses(post_batch(client, "d", [{"data": {"a": 1}}])) == [202]
    assert client.get("/1/auth").status_code == 200
    assert_error(client.post("/1/events/d", content=b'{"a": 1}'), 500, "internal server error")
    assert receiver.faults.pending() == []


def test_faults_apply_only_after_the_key_check(receiver: Receiver) -> None:
    receiver.faults.push(Fault(status=503))
    with httpx.Client(base_url=receiver.url) as http:
        response = http.post("/1/batch/d", content=b'[{"data":{"a":1}}]')
        assert_error(response, 400, ErrorText.INVALID_KEY)
    assert receiver.faults.pending() == [Fault(status=503)]


def test_fault_plan_is_first_in_first_out() -> None:
    plan = FaultPlan()
    first, second = Fault(status=500, times=2), Fault(status=503)
    plan.push(first, second)

    assert [plan.take("batch"), plan.take("events"), plan.take("batch")] == [first, first, second]
    assert plan.take("batch") is None
    plan.push(Fault(delay=1.0))
    plan.clear()
    assert (plan.pending(), len(plan)) == ([], 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 200},
        {"status": 600},
        {"event_statuses": ()},
        {"event_statuses": (202, 99)},
        {"status": 500, "drop_connection": True},
        {"status": 500, "event_statuses": (202,)},
        {"delay": -1.0},
        {"delay": float("inf")},
        {"times": 0},
        {"path": "auth"},
        {"retry_after": "1\r\nX-Evil: 1"},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Fault(**kwargs)


def test_fault_round_trips_through_its_json_form() -> None:
    fault = Fault(event_statuses=(202, 429), retry_after="2", times=3, path="batch", delay=0.1)
    assert Fault.from_dict(msgspec.json.decode(as_json(fault.to_dict()))) == fault
    with pytest.raises(ValueError, match="unknown fault fields: nope"):
        Fault.from_dict({"nope": 1})


# Control endpoints ----------------------------------------------------------------------------


def test_fault_control_endpoints(receiver: Receiver) -> None:
    with httpx.Client(base_url=receiver.url) as control:
        pushed = control.post(
            "/_receiver/faults", json=[{"status": 503, "times": 2}, {"drop_connection": True}]
        )
        assert pushed.status_code == 200
        assert [fault["status"] for fault in pushed.json()] == [503, None]
        assert receiver.faults.pending() == [
            Fault(status=503, times=2),
            Fault(drop_connection=True),
        ]

        listed = control.get("/_receiver/faults").json()
        assert [(fault["status"], fault["times"]) for fault in listed] == [(503, 2), (None, 1)]

        response = control.post("/1/batch/d", headers=HEADERS, content=b'[{"data":{"a":1}}]')
        assert_error(response, 503, "service unavailable")

        assert control.delete("/_receiver/faults").status_code == 200
        assert receiver.faults.pending() == []

        invalid = control.post("/_receiver/faults", json=[{"status": 700}])
        assert invalid.status_code == 400
        assert "status" in invalid.json()["error"]
        as_json = {"Content-Type": "application/json"}
        assert control.post("/_receiver/faults", content=b"{", headers=as_json).status_code == 400
        # What a web page can send without a preflight is refused before it is read.
        assert control.post("/_receiver/faults", content=b"{}").status_code == 415
        assert receiver.faults.pending() == []


def test_the_events_endpoint_streams_a_dataset_a_page_at_a_time(receiver: Receiver) -> None:
    # 2,500 events are three pages of the store: sent as they are read, never held whole.
    receiver.store.add(
        "Many",
        [StoredEvent.create("Many", 1_700_000_000 * 10**9 + n, {"n": n}) for n in range(2500)],
    )
    pages = list(receiver.store.event_pages("many", limit=2100))
    assert [len(page) for page in pages] == [1000, 1000, 100]
    with httpx.Client(base_url=receiver.url) as control:
        response = control.get("/_receiver/events/many")
        assert "content-length" not in response.headers  # streamed
        assert [event["data"]["n"] for event in response.json()] == list(range(2500))
        limited = control.get("/_receiver/events/many", params={"limit": 1001}).json()
        assert [event["data"]["n"] for event in limited] == list(range(1001))
        assert control.get("/_receiver/events/none").json() == []


def test_event_and_request_control_endpoints(receiver: Receiver, client: httpx.Client) -> None:
    post_batch(client, "Ctl", [{"data": {"i": i}, "time": 1_700_000_000 + i} for i in range(3)])

    with httpx.Client(base_url=receiver.url) as control:
        events = control.get("/_receiver/events/ctl").json()
        assert [event["data"]["i"] for event in events] == [0, 1, 2]
        assert events[0] == {
            "dataset": "Ctl",
            "time": "2023-11-14T22:13:20.000000000Z",
            "time_ns": 1_700_000_000_000_000_000,
            "samplerate": 1,
            "data": {"i": 0},
        }
        since = control.get(
            "/_receiver/events/ctl", params={"since_ns": 1_700_000_001_000_000_000, "limit": 1}
        )
        assert [event["data"]["i"] for event in since.json()] == [1]
        bad_query = control.get("/_receiver/events/ctl", params={"limit": "x"})
        assert bad_query.status_code == 400

        assert control.get("/_receiver/datasets").json() == ["Ctl"]

        requests = control.get("/_receiver/requests").json()
        assert requests == [
            {
                "method": "POST",
                "path": "/1/batch/Ctl",
                "dataset": "Ctl",
                "content_type": None,
                "content_encoding": None,
                "body_bytes": len(as_json([{"data": {"i": 0}, "time": 1_700_000_000}]))
                + 2 * len(as_json({"data": {"i": 0}, "time": 1_700_000_000}))
                + 2,
                "event_count": 3,
                "status": 200,
                "has_key": True,
            }
        ]
        stats = control.get("/_receiver/stats").json()
        assert (stats["requests"], stats["events_accepted"]) == (1, 3)

        assert control.delete("/_receiver/events").status_code == 200
        assert control.delete("/_receiver/requests").status_code == 200
        assert control.delete("/_receiver/stats").json()["requests"] == 0
    assert (receiver.store.count(), receiver.datasets(), len(receiver.requests)) == (0, [], 0)


# Robustness and secrecy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nope", 404, "not found"),
        ("GET", "/1/batch/d", 405, "method not allowed"),
        ("POST", "/1/batch/a%2Fb", 404, "not found"),
        ("POST", "/1/batch/", 404, "not found"),
    ],
)
def test_unknown_routes_get_json_errors(
    client: httpx.Client, method: str, path: str, status: int, error: str
) -> None:
    assert_error(client.request(method, path, content=b"[]"), status, error)


def test_deeply_nested_body_does_not_crash(client: httpx.Client) -> None:
    body = b'[{"data":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}]"
    response = post_batch(client, "d", body)
    assert response.status_code in (200, 400)
    assert client.get("/1/auth").status_code == 200


def test_api_key_is_never_stored_or_logged(tmp_path: Path) -> None:
    secret = "hcaik_SECRET0123456789abcdef"
    db = tmp_path / "secret.sqlite"
    with Receiver(db_path=db, api_keys={secret}) as receiver:
        with httpx.Client(base_url=receiver.url, headers={"X-Honeycomb-Team": secret}) as http:
            post_batch(http, "d", [{"data": {"a": 1}}])
            http.post("/1/events/d", content=b'{"b": 2}')
            http.get("/1/auth")
            http.post("/1/batch/d", content=b"bad")
            logged = http.get("/_receiver/requests").text
            stored = http.get("/_receiver/events/d").text
        assert receiver.store.count() == 2
        assert len(receiver.requests) == 4
        assert secret not in logged
        assert secret not in stored
        assert secret not in repr(receiver.requests.entries())
        assert secret not in repr(receiver)

    files = list(tmp_path.iterdir())
    assert db in files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path.name


def test_importing_the_package_does_not_import_the_receiver_extra() -> None:
    code = (
        "import sys, honeycomb_events, honeycomb_events._model, honeycomb_events._limits, "
        "honeycomb_events._encode, honeycomb_events._config\n"
        "loaded = sorted(m for m in ('starlette', 'uvicorn', 'honeycomb_events.receiver') "
        "if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


# The Receiver itself --------------------------------------------------------------------------


def test_receiver_lifecycle() -> None:
    receiver = Receiver()
    with pytest.raises(RuntimeError, match="not been started"):
        _ = receiver.url
    with receiver:
        assert receiver.url == f"http://127.0.0.1:{receiver.port}"
        assert receiver.running
        assert httpx.get(f"{receiver.url}/1/auth", headers=HEADERS).status_code == 200
    assert (receiver.running, receiver.store.closed) == (False, True)
    receiver.stop()
    with pytest.raises(RuntimeError, match="only once"):
        receiver.start()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{receiver.url}/1/auth", headers=HEADERS, timeout=2)


def test_receiver_does_not_close_a_store_it_was_given() -> None:
    with EventStore() as store:
        with Receiver(store=store) as receiver:
            assert receiver.store is store
        store.add("d", [StoredEvent.create("d", 1, {"a": 1})])
        assert store.count() == 1


def test_stop_is_quick_with_a_request_in_flight() -> None:
    receiver = Receiver().start()
    receiver.faults.push(Fault(delay=30))
    outcomes: list[object] = []

    def stalled() -> None:
        try:
            with httpx.Client(base_url=receiver.url, headers=HEADERS, timeout=20) as http:
                outcomes.append(post_batch(http, "d", [{"data": {"a": 1}}]).status_code)
        except httpx.HTTPError as exc:
            outcomes.append(exc)

    thread = threading.Thread(target=stalled)
    thread.start()
    deadline = time.monotonic() + 5
    while receiver.faults.pending() and time.monotonic() < deadline:
        time.sleep(0.005)

    started = time.perf_counter()
    receiver.stop()
    assert time.perf_counter() - started < 3
    thread.join(5)
    assert not thread.is_alive()
    # uvicorn cancels the stalled request after its one-second grace and answers 500, or the
    # client sees the connection close.
    (outcome,) = outcomes
    assert outcome == 500 or isinstance(outcome, httpx.TransportError)
    assert receiver.store.closed
