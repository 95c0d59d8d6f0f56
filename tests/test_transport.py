"""The retry and result rules of the transport, against the local receiver on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import time

import httpx
import msgspec
import pytest

from honeycomb_events import (
    AuthenticationError,
    BatchEvent,
    EventResult,
    HoneycombClient,
    RetryPolicy,
    Transport,
    resolve_settings,
)
from honeycomb_events._retry import parse_retry_after
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY


def numbered(count: int, **extra: object) -> list[BatchEvent]:
    return [BatchEvent({"n": n, **extra}) for n in range(count)]


def stored_numbers(receiver: Receiver, dataset: str = "ds") -> list[int]:
    return sorted(event.data["n"] for event in receiver.events(dataset))


def test_503_twice_then_success_delivers_every_event_exactly_once(receiver, make_client):
    receiver.faults.push(Fault(status=503, times=2, path="batch"))
    results = make_client().events.send_batch("ds", numbered(50))
    assert results == [EventResult(202)] * 50
    assert stored_numbers(receiver) == list(range(50))
    assert [r.status for r in receiver.requests] == [503, 503, 200]


def test_per_event_failures_resend_only_the_failed_events(receiver, make_client):
    receiver.faults.push(Fault(event_statuses=(202, 429, 202, 503), path="batch"))
    client = make_client()
    results = client.events.send_batch("ds", numbered(8))
    assert all(result.status == 202 for result in results)
    assert stored_numbers(receiver) == list(range(8))
    assert [r.event_count for r in receiver.requests] == [8, 4]
    assert client.stats["events_retried"] == 4


def test_per_event_failures_that_persist_report_the_last_status(receiver, make_client):
    receiver.faults.push(
        Fault(event_statuses=(202, 503), path="batch"),
        Fault(event_statuses=(503,), path="batch", times=100),
    )
    client = make_client(retry=RetryPolicy(max_attempts=3, initial_backoff=0.01))
    results = client.events.send_batch("ds", numbered(4))
    assert [r.status for r in results] == [202, 503, 202, 503]
    assert results[1].error
    assert stored_numbers(receiver) == [0, 2]
    assert len(receiver.requests) == 3
    assert client.stats["failed_by_status"] == {503: 2}


@pytest.mark.parametrize("status", [400, 403, 404, 413, 500])
def test_request_errors_that_retrying_cannot_fix_are_sent_once(receiver, make_client, status):
    receiver.faults.push(Fault(status=status, error="no way", times=5, path="batch"))
    results = make_client().events.send_batch("ds", numbered(3))
    assert results == [EventResult(status, "no way")] * 3
    assert len(receiver.requests) == 1
    assert receiver.events("ds") == []


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried_up_to_max_attempts(receiver, make_client, status):
    receiver.faults.push(Fault(status=status, times=100, path="batch"))
    client = make_client(retry=RetryPolicy(max_attempts=4, initial_backoff=0.01))
    results = client.events.send_batch("ds", numbered(2))
    assert [r.status for r in results] == [status, status]
    assert len(receiver.requests) == 4


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=400, error="unknown API key - check your credentials", path="batch"),
        Fault(status=401, error="unknown API key - check your credentials", path="batch"),
        Fault(status=400, error="event has an invalid key", path="batch"),
    ],
)
def test_a_rejected_key_raises_after_exactly_one_request(receiver, make_client, fault, monkeypatch):
    receiver.faults.push(fault)
    monkeypatch.setenv("HONEYCOMB_API_KEY", API_KEY)
    client = make_client(api_key=None)
    with pytest.raises(AuthenticationError) as raised:
        client.events.send_batch("ds", numbered(3))
    message = str(raised.value)
    assert "HONEYCOMB_API_KEY" in message
    assert API_KEY not in message
    assert raised.value.status == fault.status
    assert len(receiver.requests) == 1


def test_a_key_the_receiver_does_not_know_is_rejected_with_the_setting_to_fix():
    with Receiver(api_keys={"the-right-key"}) as receiver:
        client = HoneycombClient(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
        with pytest.raises(AuthenticationError, match="api_key argument") as raised:
            client.events.send_batch("ds", numbered(1))
        assert API_KEY not in str(raised.value)
        assert len(receiver.requests) == 1
        client.close()


def test_retry_after_replaces_the_computed_backoff(receiver, make_client):
    receiver.faults.push(Fault(status=429, retry_after="1", path="batch"))
    started = time.monotonic()
    results = make_client().events.send_batch("ds", numbered(2))
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == [202, 202]
    assert 0.95 <= elapsed < 3


def test_a_retry_after_past_the_deadline_gives_up_at_once(receiver, make_client):
    receiver.faults.push(Fault(status=503, retry_after="30", path="batch", times=5))
    started = time.monotonic()
    results = make_client(timeout=5).events.send_batch("ds", numbered(2))
    assert time.monotonic() - started < 1
    assert [r.status for r in results] == [503, 503]
    assert len(receiver.requests) == 1


def test_one_deadline_bounds_the_whole_send_including_a_stalled_server(receiver, make_client):
    receiver.faults.push(Fault(delay=5, path="batch", times=5))
    started = time.monotonic()
    results = make_client(timeout=1).events.send_batch("ds", numbered(2))
    assert time.monotonic() - started < 1.5
    assert all(r.status == 0 and "Timeout" in (r.error or "") for r in results)


def test_dropped_connections_are_retried_and_nothing_is_duplicated(receiver, make_client):
    receiver.faults.push(Fault(drop_connection=True, times=2, path="batch"))
    client = make_client()
    results = client.events.send_batch("ds", numbered(20))
    assert results == [EventResult(202)] * 20
    assert stored_numbers(receiver) == list(range(20))
    assert client.stats["requests_failed"] == 2


def test_a_refused_connection_is_retried_until_attempts_run_out(closed_port):
    client = HoneycombClient(
        api_key=API_KEY,
        endpoint=f"http://127.0.0.1:{closed_port}",
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.01),
        timeout=5,
    )
    results = client.events.send_batch("ds", numbered(2))
    assert all(r.status == 0 and "ConnectError" in (r.error or "") for r in results)
    assert client.stats["requests_failed"] == 3
    client.close()


def test_close_interrupts_a_backoff_at_once(receiver):
    receiver.faults.push(Fault(status=503, times=100, path="batch"))
    settings = resolve_settings(api_key=API_KEY, endpoint=receiver.url, timeout=30)
    transport = Transport(settings, retry=RetryPolicy(initial_backoff=20, max_backoff=20))
    outcome: list[list[EventResult]] = []
    sender = threading.Thread(
        target=lambda: outcome.append(transport.send_batch("ds", numbered(2)))
    )
    sender.start()
    while len(receiver.requests) < 1:
        time.sleep(0.01)
    time.sleep(0.05)
    closed_at = time.monotonic()
    transport.close()
    sender.join(5)
    assert time.monotonic() - closed_at < 0.5
    assert [r.status for r in outcome[0]] == [503, 503]
    assert transport.send_batch("ds", numbered(1))[0].status == 0
    assert len(receiver.requests) == 1


def test_events_split_across_requests_at_the_body_limit_all_arrive(receiver, make_client):
    client = make_client(compression="none")
    events = [BatchEvent({"n": n, "blob": "x" * 60_000}) for n in range(120)]
    assert all(r.ok for r in client.events.send_batch("ds", events))
    assert stored_numbers(receiver) == list(range(120))
    assert len(receiver.requests) == 2
    assert all(r.body_bytes <= 5_000_000 for r in receiver.requests)


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_every_encoding_and_compression_arrives_intact(
    receiver, make_client, encoding, compression
):
    client = make_client(encoding=encoding, compression=compression)
    event = BatchEvent(
        {"n": 1, "s": "é€😀", "f": 0.5, "b": False}, time=1_714_564_800.5, samplerate=7
    )
    assert client.events.send_batch("ds", [event]) == [EventResult(202)]
    [stored] = receiver.events("ds")
    assert stored.data == {"n": 1, "s": "é€😀", "f": 0.5, "b": False}
    assert stored.time == "2024-05-01T12:00:00.500000000Z"
    assert stored.samplerate == 7
    [request] = receiver.requests
    assert request.content_type == (
        "application/json" if encoding == "json" else "application/msgpack"
    )
    assert request.content_encoding == (None if compression == "none" else compression)


def test_dataset_names_are_url_quoted(receiver, make_client):
    make_client().events.send_batch("My Dataset?#%", numbered(1))
    assert receiver.datasets() == ["My Dataset?#%"]
    with pytest.raises(ValueError, match="slash"):
        make_client().events.send_batch("a/b", numbered(1))


def test_after_fork_the_child_sends_on_its_own_connections(receiver):
    settings = resolve_settings(api_key=API_KEY, endpoint=receiver.url)
    transport = Transport(settings, retry=FAST_RETRY)
    assert transport.send_batch("ds", [BatchEvent({"n": 0})])[0].ok
    parent_client = transport._http
    assert parent_client is not None
    pid = os.fork()
    if pid == 0:  # the child: must not touch the parent's pooled connection
        code = 1
        try:
            if transport._http is None:
                results = transport.send_batch("ds", [BatchEvent({"n": 1})])
                code = 0 if results[0].ok and transport._http is not parent_client else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert transport._http is parent_client
    assert transport.send_batch("ds", [BatchEvent({"n": 2})])[0].ok
    assert stored_numbers(receiver) == [0, 1, 2]
    transport.close()


def test_an_unreadable_per_event_answer_is_failed_not_resent():
    calls: list[httpx.Request] = []

    def answer_with_too_few_statuses(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[{"status": 202}])

    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        retry=FAST_RETRY,
        http_transport=httpx.MockTransport(answer_with_too_few_statuses),
    )
    results = client.events.send_batch("ds", numbered(3))
    assert [r.status for r in results] == [0, 0, 0]
    assert "unreadable" in (results[0].error or "")
    assert len(calls) == 1


@pytest.mark.parametrize("spaced", [False, True])
@pytest.mark.parametrize("body_limit", [None, 500])
def test_an_accepted_batch_gets_one_result_per_event_however_its_bodies_went(spaced, body_limit):
    # A body of every event is settled at once, bodies of some one by one; an answer in
    # Honeycomb's compact form is known by comparison, a spaced one once its spaces are gone.
    def accept(request: httpx.Request) -> httpx.Response:
        count = len(msgspec.json.decode(request.read()))
        separator = ", " if spaced else ","
        return httpx.Response(200, text="[" + separator.join(['{"status":202}'] * count) + "]")

    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        compression="none",
        http_transport=httpx.MockTransport(accept),
    )
    if body_limit is not None:
        client._parts.encoder._raw_budget = body_limit
    results = client.events.send_batch("ds", numbered(100))
    assert results == [EventResult(202)] * 100
    assert client.stats["events_accepted"] == 100
    assert (client.stats["requests"] > 1) is (body_limit is not None)


def test_an_empty_success_answer_means_every_event_was_accepted():
    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        http_transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
    assert client.events.send_batch("ds", numbered(2)) == [EventResult(202)] * 2


def test_requests_carry_the_key_the_user_agent_and_the_encoding_headers():
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"status": 202}])

    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="https://api.example.test/prefix/",
        http_transport=httpx.MockTransport(capture),
        compression="gzip",
    )
    client.events.send_batch("ds", numbered(1))
    [request] = seen
    assert str(request.url) == "https://api.example.test/prefix/1/batch/ds"
    assert request.headers["X-Honeycomb-Team"] == API_KEY
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["User-Agent"].startswith("honeycomb-events/")


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4)
    for retry, ceiling in enumerate([0.5, 1, 2, 4, 4, 4]):
        assert policy.backoff(retry, draw=lambda: 0.0) == ceiling / 2
        assert policy.backoff(retry, draw=lambda: 1.0) == ceiling
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_per_event_json_answers_are_parsed_with_their_errors(receiver, make_client):
    receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
    results = make_client().events.send_batch("ds", numbered(2))
    assert results[0] == EventResult(202)
    assert results[1].status == 400
    assert results[1].error
    body = msgspec.json.encode([{"status": 202}])
    assert msgspec.json.decode(body) == [{"status": 202}]
