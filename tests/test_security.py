"""The API key never leaves the request header: not in reprs, errors, logs or storage."""

from __future__ import annotations

import asyncio
import logging
import pickle
import re
import socketserver
import threading
import tracemalloc
import zlib

import pytest
import zstandard

from honeycomb_events import (
    AuthenticationError,
    BatchEvent,
    HoneycombClient,
    RetryPolicy,
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


class _OneAnswer(socketserver.BaseRequestHandler):
    """Reads a request, then answers with the server's `answer` bytes, whatever was asked."""

    def handle(self) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            received += self.request.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))
        while len(body) < length:
            body += self.request.recv(65536)
        self.request.sendall(self.server.answer)  # type: ignore[attr-defined]


def bomb(encoding: str) -> bytes:
    """A 200 OK whose small body expands to 256 MiB."""
    zeros = bytes(256 * 1024 * 1024)
    if encoding == "gzip":
        compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        body = compressor.compress(zeros) + compressor.flush()
    else:
        body = zstandard.ZstdCompressor(level=3).compress(zeros)
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_answer_that_expands_past_the_bound_is_not_read_into_memory(encoding, mode):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OneAnswer)
    server.answer = bomb(encoding)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    tracemalloc.start()
    try:
        with HoneycombClient(
            api_key=API_KEY, endpoint=endpoint, retry=RetryPolicy(max_attempts=1)
        ) as client:
            if mode == "sync":
                results = client.events.send_batch("ds", [{"a": 1}])
            else:
                results = asyncio.run(client.events.send_batch_async("ds", [{"a": 1}]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        server.shutdown()
        server.server_close()
    assert [result.ok for result in results] == [False]
    assert "over 16777216 bytes" in (results[0].error or "")
    assert peak < 100 * 1024 * 1024, f"{peak / 2**20:.0f} MiB held while reading the answer"
