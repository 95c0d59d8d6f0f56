"""HoneycombClient(sync=True): a client for sync code only, as the client API uses it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from honeycomb_events import HoneycombClient

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
