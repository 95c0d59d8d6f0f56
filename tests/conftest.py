from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest

from honeycomb_events import HoneycombClient, RetryPolicy, _notices
from honeycomb_events.receiver import Receiver

pytest_plugins = ["tests.browser"]

API_KEY = "hcaik_01testkeytestkeytestkeytestkeytestkeytestkeytestkeytestkey01"
"""A key-shaped secret: tests assert it never appears in logs, reprs, errors or storage."""

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
"""Retries in milliseconds, so retry tests take no real time."""


@pytest.fixture(autouse=True)
def fresh_notices() -> None:
    """Each test starts as a new process would: no failure said yet (notices are said once
    per process)."""
    _notices._said.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started local receiver on 127.0.0.1 with an in-memory store, stopped afterwards."""
    with Receiver() as started:
        yield started


_OTEL_SERVICE_VARIABLES = ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> pytest.MonkeyPatch:
    """Only environment variables configure the exporters, as with opentelemetry-instrument:
    no HONEYCOMB_ or OTel service variables from outside, a key, the receiver's endpoint."""
    for name in list(os.environ):
        if name.startswith("HONEYCOMB_") or name in (
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HONEYCOMB_API_KEY", API_KEY)
    monkeypatch.setenv("HONEYCOMB_API_ENDPOINT", receiver.url)
    return monkeypatch


@pytest.fixture
def make_client(receiver: Receiver) -> Iterator[Callable[..., HoneycombClient]]:
    """Build clients pointed at the receiver, with fast retries; all closed afterwards."""
    made: list[HoneycombClient] = []

    def make(**options: object) -> HoneycombClient:
        options.setdefault("api_key", API_KEY)
        options.setdefault("endpoint", receiver.url)
        options.setdefault("retry", FAST_RETRY)
        client = HoneycombClient(**options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
