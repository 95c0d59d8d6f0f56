"""The receiver's work per request is bounded: bodies whose values would not fit are refused
before they are decoded, big requests do not stall the others, and a request whose client left
is cancelled.

The memory tests run the receiver in its own process, as `serve` runs, and read its peak RSS
(``VmHWM``): the test process's own memory would hide a receiver's.
"""

from __future__ import annotations

import gzip
import os
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from honeycomb_events.receiver import MAX_ITEMS, Fault, Receiver, _events_api, _intake

from .served import Served

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HEADERS = {"X-Honeycomb-Team": "key"}
TOO_MANY = {"error": "request body holds too many values"}
MIB = 1 << 20


@pytest.fixture
def served() -> Iterator[Served]:
    child = Served()
    try:
        with httpx.Client(base_url=child.url, timeout=60) as http:
            # Warm: the first request imports and builds what every later one shares.
            http.post("/1/batch/warm", headers=HEADERS, json=[{"data": {"a": 1}}])
        yield child
    finally:
        child.close()


def _empty_spans(count: int) -> bytes:
    spans = [Span()] * count
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    )
    return gzip.compress(request.SerializeToString())


BOMBS = {
    # 178 bytes of zstd that decode to 5,000,000 empty maps: 1.7 GB in the old receiver.
    "msgpack zstd": (
        "/1/batch/bomb",
        {"Content-Type": "application/msgpack", "Content-Encoding": "zstd"},
        lambda: zstandard.ZstdCompressor().compress(msgspec.msgpack.encode([{}] * 5_000_000)),
    ),
    "json gzip": (
        "/1/batch/bomb",
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        lambda: gzip.compress(msgspec.json.encode([{}] * 5_000_000)),
    ),
    # A few dozen kilobytes of gzip holding 300,000 empty spans: +743 MiB in the old receiver.
    "otlp gzip": (
        "/v1/traces",
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        lambda: _empty_spans(300_000),
    ),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_an_object_count_bomb_is_refused_before_it_is_decoded(served, kind):
    path, headers, make = BOMBS[kind]
    body = make()
    assert len(body) < 200_000
    before = served.peak_rss()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        response = http.post(path, headers=HEADERS | headers, content=body)
        assert (response.status_code, response.json()) == (400, TOO_MANY)
        stats = http.get("/_receiver/stats").json()
    assert stats["bodies_too_many_items"] == 1
    assert stats["events_received"] == 1  # the warm-up event, nothing of the bomb
    grown = served.peak_rss() - before
    assert grown < 100 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB"


def test_a_body_just_under_the_value_limit_is_taken(receiver_at):
    # 1 array + n maps, each with one key and one value: 3n + 1 values.
    events = (MAX_ITEMS - 1) // 3
    body = msgspec.msgpack.encode([{"d": 1}] * events)
    headers = HEADERS | {"Content-Type": "application/msgpack"}
    with httpx.Client(base_url=receiver_at.url, timeout=60) as http:
        response = http.post("/1/batch/near", headers=headers, content=body)
        assert response.status_code == 200
        assert len(response.json()) == events  # each: event has no data
        over = msgspec.msgpack.encode([{"d": 1}] * (events + 1))
        refused = http.post("/1/batch/near", headers=headers, content=over)
        assert (refused.status_code, refused.json()) == (400, TOO_MANY)


@pytest.fixture
def receiver_at() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def test_a_big_request_does_not_stall_the_others(receiver_at, monkeypatch):
    # ~725,000 values of events that all fail their checks (a sample rate that is text): the
    # decoding and checking that used to run on the event loop, so every other request waited.
    events = [
        {"data": {f"field{i}": f"value {n} {i}" for i in range(12)}, "samplerate": "x"}
        for n in range(25_000)
    ]
    body = zstandard.ZstdCompressor().compress(msgspec.json.encode(events))
    headers = HEADERS | {"Content-Encoding": "zstd", "Content-Type": "application/json"}
    # Where the decoding and the checks ran: timing the other requests says the same, but only
    # on a machine with a core to spare.
    threads: set[str] = set()

    def noting(function):
        def noted(*args, **kwargs):
            threads.add(threading.current_thread().name)
            return function(*args, **kwargs)

        return noted

    monkeypatch.setattr(_events_api, "decode_batch", noting(_events_api.decode_batch))
    monkeypatch.setattr(_intake, "check_event", noting(_intake.check_event))

    def big() -> None:
        with httpx.Client(base_url=receiver_at.url, timeout=120) as http:
            response = http.post("/1/batch/big", headers=headers, content=body)
            assert response.status_code == 200
            assert {result["status"] for result in response.json()} == {400}

    with httpx.Client(base_url=receiver_at.url, timeout=120) as http:
        http.get("/_receiver/stats")  # httpx's first request builds its TLS context
        sender = threading.Thread(target=big)
        sender.start()
        answered = 0
        while sender.is_alive():
            http.get("/_receiver/stats")
            answered += 1
    sender.join()
    assert receiver_at.stats.snapshot()["bad_samplerates"] == 25_000
    loop = f"honeycomb-receiver-{receiver_at.port}"
    assert threads, "the decoding and the checks were not seen"
    assert loop not in threads, threads
    assert answered >= 3  # other requests were answered meanwhile


def test_a_request_whose_client_left_is_cancelled_with_its_delay(receiver_at):
    receiver_at.faults.push(Fault(delay=60))
    body = b'[{"data": {"a": 1}}]'
    with (
        httpx.Client(base_url=receiver_at.url, timeout=0.5) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post("/1/batch/gone", headers=HEADERS, content=body)
    deadline = time.monotonic() + 5
    while not len(receiver_at.requests) and time.monotonic() < deadline:
        time.sleep(0.02)
    (seen,) = receiver_at.requests.entries()
    assert seen.status == 0
    assert receiver_at.store.count("gone") == 0
    with httpx.Client(base_url=receiver_at.url, timeout=5) as http:
        assert http.post("/1/batch/next", headers=HEADERS, content=body).status_code == 200


def test_bodies_of_clients_that_left_are_let_go(served):
    with httpx.Client(base_url=served.url, timeout=5) as http:
        http.post("/_receiver/faults", json={"delay": 60, "times": 40})
    before = served.peak_rss()
    body = os.urandom(4_900_000)
    with httpx.Client(base_url=served.url, timeout=0.2) as http:
        for _ in range(40):
            with pytest.raises(httpx.ReadTimeout):
                http.post("/1/batch/gone", headers=HEADERS, content=body)
    with httpx.Client(base_url=served.url, timeout=5) as http:
        deadline = time.monotonic() + 10
        while len(http.get("/_receiver/requests").json()) < 41 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = http.get("/_receiver/requests").json()
    assert [entry["status"] for entry in seen[1:]] == [0] * 40
    # Each body was let go when its client left: at most a few are held at any moment.
    grown = served.peak_rss() - before
    assert grown < 60 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB"


@pytest.mark.parametrize(
    "query",
    [
        "limit=99999999999999999999999",
        "limit=-1",
        "since_ns=99999999999999999999999",
        "until_ns=-99999999999999999999999",
        "limit=" + "9" * 5000,
        "limit=ten",
    ],
    ids=lambda query: query[:30],
)
def test_out_of_range_query_parameters_are_a_400_with_a_reason(receiver_at, query):
    with httpx.Client(base_url=receiver_at.url, timeout=5) as http:
        response = http.get(f"/_receiver/events/any?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.json()["error"].startswith(f"{name} must be an integer from ")
