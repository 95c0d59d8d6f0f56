"""HoneycombClient, sync and async, as the client API documentation uses it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from honeycomb_events import (
    AuthenticationError,
    BatchEvent,
    ClientClosedError,
    EventResult,
    HoneycombClient,
    RetryPolicy,
)
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_sync_usage_from_the_client_api(receiver):
    with HoneycombClient(api_key=API_KEY, endpoint=receiver.url, sync=True) as client:
        single = client.events.send(dataset="my-dataset", data={"field": "value"})
        results = client.events.send_batch(
            "my-dataset", [BatchEvent(data={"event": 1}), BatchEvent(data={"event": 2})]
        )
    assert single == EventResult(200)
    assert results == [EventResult(202), EventResult(202)]
    stored = receiver.events("my-dataset")
    assert [event.data for event in stored] == [{"field": "value"}, {"event": 1}, {"event": 2}]
    assert [r.path for r in receiver.requests] == ["/1/events/my-dataset", "/1/batch/my-dataset"]


def test_single_events_carry_time_and_samplerate_in_headers(receiver, make_client):
    client = make_client()
    moment = dt.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=dt.timezone.utc)
    assert client.events.send("ds", {"a": 1}, timestamp=moment, samplerate=10).ok
    assert client.events.send("ds", {"a": 2}, timestamp=int(moment.timestamp())).ok
    first, second = receiver.events("ds")
    assert (first.time, first.samplerate) == ("2024-05-01T12:00:00.250000000Z", 10)
    assert (second.time, second.samplerate) == ("2024-05-01T12:00:00.000000000Z", 1)


def test_a_single_event_without_a_time_is_stamped_on_arrival(receiver, make_client):
    before = time.time_ns()
    make_client().events.send("ds", {"a": 1})
    [stored] = receiver.events("ds")
    assert before - 1_000_000 <= stored.time_ns <= time.time_ns()


def test_single_event_failures_come_back_as_a_result_and_are_retried(receiver, make_client):
    receiver.faults.push(
        Fault(status=503, path="events"),
        Fault(status=400, error="event has too many columns", path="events"),
    )
    client = make_client()
    assert client.events.send("ds", {"a": 1}) == EventResult(400, "event has too many columns")
    assert [r.status for r in receiver.requests] == [503, 400]
    assert client.events.send("ds", {"a": 2}) == EventResult(200)


def test_plain_mappings_are_accepted_in_a_batch(receiver, make_client):
    results = make_client().events.send_batch("ds", [{"a": 1}, BatchEvent({"a": 2})])
    assert all(result.ok for result in results)
    assert [event.data["a"] for event in receiver.events("ds")] == [1, 2]


def test_bad_arguments_raise_in_the_callers_code(make_client):
    client = make_client()
    with pytest.raises(ValueError, match="RFC3339"):
        client.events.send("ds", {"a": 1}, timestamp="yesterday")
    with pytest.raises(ValueError, match="samplerate"):
        client.events.send_batch("ds", [BatchEvent({"a": 1}, samplerate=0)])
    with pytest.raises(ValueError, match="non-empty"):
        client.events.send("", {"a": 1})


def test_a_closed_client_refuses_to_send(make_client):
    client = make_client()
    client.close()
    client.close()  # idempotent
    with pytest.raises(ClientClosedError, match="closed"):
        client.events.send_batch("ds", [{"a": 1}])


def test_stats_count_what_was_sent(receiver, make_client):
    receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
    client = make_client()
    client.events.send_batch("ds", [{"a": 1}, {"a": float("nan")}, {"s": "x" * 70_000}])
    stats = client.stats
    assert stats["events_submitted"] == 3
    assert stats["events_accepted"] == 2
    assert stats["events_failed"] == 1
    assert stats["failed_by_status"] == {400: 1}
    assert stats["non_finite_floats"] == 1
    assert stats["strings_truncated"] == 1
    assert stats["requests"] == 1
    assert receiver.stats.snapshot()["oversize_strings"] == 0


@pytest.mark.anyio
async def test_async_usage_from_the_client_api(receiver):
    async with HoneycombClient(api_key=API_KEY, endpoint=receiver.url) as client:
        await client.events.send_async(
            dataset="my-dataset",
            data={"endpoint": "/api/users", "method": "GET", "duration_ms": 42},
        )
        await client.events.send_async(
            dataset="my-dataset", data={"field": "value"}, timestamp=int(time.time())
        )
        await client.events.send_async(dataset="my-dataset", data={"field": "value"}, samplerate=10)
        now = dt.datetime.now(dt.timezone.utc)
        events = [
            BatchEvent(
                data={"event": "request", "duration_ms": 42},
                time=(now - dt.timedelta(minutes=1)).isoformat(),
                samplerate=1,
            ),
            BatchEvent(data={"endpoint": "/api/posts", "duration_ms": 18, "status_code": 200}),
        ]
        results = await client.events.send_batch_async("my-dataset", events)
    assert [result.status for result in results] == [202, 202]
    stored = receiver.events("my-dataset")
    assert len(stored) == 5
    assert stored[2].samplerate == 10
    assert abs(stored[3].time_ns - (now - dt.timedelta(minutes=1)).timestamp() * 1e9) < 1e6


@pytest.mark.anyio
async def test_async_retries_follow_the_same_rules(receiver):
    receiver.faults.push(
        Fault(status=503, times=2, path="batch"),
        Fault(event_statuses=(429, 202), path="batch"),
    )
    async with HoneycombClient(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY) as client:
        results = await client.events.send_batch_async("ds", [{"n": n} for n in range(4)])
    assert all(result.status == 202 for result in results)
    assert sorted(event.data["n"] for event in receiver.events("ds")) == [0, 1, 2, 3]
    assert [r.status for r in receiver.requests] == [503, 503, 200, 200]
    assert [r.event_count for r in receiver.requests][2:] == [4, 2]


@pytest.mark.anyio
async def test_async_rejected_key_raises(receiver):
    receiver.faults.push(Fault(status=401, error="unknown API key - check your credentials"))
    async with HoneycombClient(api_key=API_KEY, endpoint=receiver.url) as client:
        with pytest.raises(AuthenticationError, match="api_key argument"):
            await client.events.send_batch_async("ds", [{"a": 1}])


@pytest.mark.anyio
async def test_async_close_interrupts_a_backoff(receiver):
    receiver.faults.push(Fault(status=503, times=100, path="batch"))
    client = HoneycombClient(
        api_key=API_KEY,
        endpoint=receiver.url,
        timeout=30,
        retry=RetryPolicy(initial_backoff=20, max_backoff=20),
    )
    sending = asyncio.create_task(client.events.send_batch_async("ds", [{"a": 1}]))
    while len(receiver.requests) < 1:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await client.aclose()
    results = await asyncio.wait_for(sending, 2)
    assert time.monotonic() - started < 0.5
    assert results[0].status == 503


@pytest.mark.anyio
async def test_sync_and_async_methods_share_one_client(receiver):
    async with HoneycombClient(api_key=API_KEY, endpoint=receiver.url) as client:
        assert client.events.send_batch("ds", [{"a": 1}])[0].ok
        assert (await client.events.send_batch_async("ds", [{"a": 2}]))[0].ok
        assert client.stats["events_accepted"] == 2
    assert len(receiver.events("ds")) == 2


def test_a_key_for_another_receiver_is_refused():
    with Receiver(api_keys={"right"}) as receiver:
        with HoneycombClient(api_key="right", endpoint=receiver.url) as client:
            assert client.events.send("ds", {"a": 1}).ok
        with (
            HoneycombClient(api_key="wrong", endpoint=receiver.url) as client,
            pytest.raises(AuthenticationError),
        ):
            client.events.send("ds", {"a": 1})
