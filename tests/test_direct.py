"""The exporters' direct connection (`_direct`): their courier posts through the standard
library's HTTP/1.1 client, kept alive and opened again when the server closed it; a proxy in
the environment keeps httpx, which knows proxies."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import msgspec
import zstandard
from opentelemetry.sdk.trace.export import SpanExportResult

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events._direct import proxied
from honeycomb_events.receiver import Fault

from .test_delivery import finished_spans, span_ids


def test_the_courier_posts_without_httpx(environment, receiver):
    exporter = HoneycombEventsExporter()
    for _ in range(3):
        assert exporter.export(finished_spans(5)) is SpanExportResult.SUCCESS
    transport = exporter._transport
    assert transport._direct is not None
    assert transport._http is None  # no httpx client was ever made
    assert len(span_ids(receiver)) == 15
    exporter.shutdown()


def test_a_proxy_in_the_environment_keeps_httpx(environment, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxied("https://api.honeycomb.io")
    assert not proxied("http://127.0.0.1:8080")
    monkeypatch.setenv("NO_PROXY", "api.honeycomb.io")
    assert not proxied("https://api.honeycomb.io")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY")
    exporter = HoneycombEventsExporter(endpoint="http://127.0.0.1:9")
    assert exporter._transport._direct is None
    exporter.shutdown()


class _ClosesAfterEachAnswer(BaseHTTPRequestHandler):
    """Answers as Honeycomb does, then closes the connection without saying so first."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        events = msgspec.json.decode(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        answer = msgspec.json.encode([{"status": 202}] * len(events))
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.connections.append(self.client_address[1])
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_connection_the_server_closed_is_opened_again_without_a_failure(environment):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesAfterEachAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = HoneycombEventsExporter(endpoint=f"http://127.0.0.1:{server.server_port}")
        for _ in range(3):
            assert exporter.export(finished_spans(4)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert len(set(_ClosesAfterEachAnswer.connections)) == 3  # a new connection each time
    stats = exporter.stats
    assert stats["requests"] == 3
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == 12


def test_an_answer_cut_off_by_a_dropped_connection_is_not_read_as_accepted(
    environment, receiver, tmp_path
):
    # The answer's head says 200 and promises a body; the connection ends before it. The
    # standard library's read(amount) returns the empty part that came, which reads as Honeycomb's
    # "all queued": the batch was counted as accepted and lost (the soak test found it).
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path))
    receiver.faults.push(Fault(drop_connection=True, path="batch"))
    exporter = HoneycombEventsExporter()
    exporter.export(finished_spans(4))
    assert exporter.force_flush(10_000)
    exporter.shutdown()
    stats = exporter.stats
    assert stats["requests_failed"] >= 1
    assert len(span_ids(receiver)) == 4  # retried or unspooled once the receiver answers
    assert stats["events_accepted"] == 4
