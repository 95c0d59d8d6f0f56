"""HoneycombClient(sync=True): a client for sync code only, as the client API uses it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from honeycomb_events import BatchEvent, ClientClosedError, HoneycombClient

from .conftest import API_KEY


def _client(**options: object) -> HoneycombClient:
    return HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        http_transport=httpx.MockTransport(
            lambda request: httpx.Response(200, json=[{"status": 202}])
        ),
        **options,  # type: ignore[arg-type]
    )


def test_a_sync_client_refuses_the_async_methods_and_sends_from_sync_code():
    with _client(sync=True) as client:
        with pytest.raises(RuntimeError, match=r"sync=True.*send\(\) and send_batch\(\)"):
            asyncio.run(client.events.send_async("ds", {"n": 1}))
        with pytest.raises(RuntimeError, match="sync=True"):
            asyncio.run(client.events.send_batch_async("ds", [{"n": 1}]))
        assert client.events.send_batch("ds", [{"n": 1}])[0].ok
        assert client._async_transport is None  # no async pool was ever made


def test_a_client_made_without_sync_has_both_kinds_of_method():
    with _client() as client:
        assert client.events.send_batch("ds", [{"n": 1}])[0].ok

        async def send() -> bool:
            [result] = await client.events.send_batch_async("ds", [{"n": 2}])
            return result.ok

        assert asyncio.run(send())
        assert client.stats["events_accepted"] == 2  # one set of counters for both


def test_a_batch_is_read_before_the_client_is_asked_to_send_it():
    # Each mapping becomes a `BatchEvent`, each `BatchEvent` is kept as it is, and a bad
    # event raises its own error even on a closed client, before the client's.
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return httpx.Response(200, json=[{"status": 202}] * 3)

    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        sync=True,
        compression="none",
        http_transport=httpx.MockTransport(answer),
    )
    kept = BatchEvent({"n": 2}, "2024-05-01T12:00:00Z", 3)
    assert all(r.ok for r in client.events.send_batch("ds", iter([{"n": 1}, kept, {"n": 3}])))
    assert sent == [
        b'[{"data":{"n":1}},{"data":{"n":2},"time":"2024-05-01T12:00:00.000000000Z",'
        b'"samplerate":3},{"data":{"n":3}}]'
    ]
    client.close()
    with pytest.raises(TypeError, match="mapping"):
        client.events.send_batch("ds", [{"n": 1}, ["not", "a", "mapping"]])
    with pytest.raises(ClientClosedError):
        client.events.send_batch("ds", [{"n": 1}])
