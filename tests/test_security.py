"""The API key never leaves the request header: not in reprs, errors, logs or storage."""

from __future__ import annotations

import logging
import pickle

import pytest

from honeycomb_events import (
    AuthenticationError,
    BatchEvent,
    HoneycombClient,
    Transport,
    resolve_settings,
)
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY


def test_reprs_never_show_the_key(receiver, make_client):
    client = make_client()
    settings = resolve_settings(api_key=API_KEY, endpoint=receiver.url)
    transport = Transport(settings)
    sender = client.events.buffered("ds")
    for text in map(repr, (client, settings, settings.api_key, transport, sender, client.events)):
        assert API_KEY not in text
    transport.close()


def test_the_key_cannot_be_pickled_out_with_the_settings():
    settings = resolve_settings(api_key=API_KEY, endpoint="http://127.0.0.1:1")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(settings)


def test_nothing_logged_at_any_level_by_any_logger_contains_the_key(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: httpx, httpcore, uvicorn, ours
    with Receiver(db_path=tmp_path / "events.sqlite3") as receiver:
        receiver.faults.push(
            Fault(status=503, path="batch"),
            Fault(drop_connection=True, path="batch"),
            Fault(event_statuses=(429, 202), path="batch"),
        )
        with HoneycombClient(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY) as client:
            assert all(r.ok for r in client.events.send_batch("ds", [{"a": 1}, {"a": 2}]))
            assert client.events.send("ds", {"a": 3}).ok
            receiver.faults.push(
                Fault(status=401, error="unknown API key - check your credentials")
            )
            sender = client.events.buffered("ds")
            sender.send({"a": 4})
            sender.close(timeout=5)
            receiver.faults.push(
                Fault(status=401, error="unknown API key - check your credentials")
            )
            with pytest.raises(AuthenticationError) as raised:
                client.events.send_batch("ds", [BatchEvent({"a": 5})])
        assert API_KEY not in str(raised.value)
        assert API_KEY not in repr(raised.value)
        assert all(API_KEY not in repr(request) for request in receiver.requests)
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    assert "rejected the API key" in caplog.text
    assert API_KEY not in caplog.text
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b'"a":1' in stored or b'"a": 1' in stored
    assert API_KEY.encode() not in stored
