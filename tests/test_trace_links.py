"""Links to traces (``HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS``, otel/_trace_links.py): one line
per trace on stderr, with the team and environment learned from ``GET /1/auth`` in the
background; on the local receiver, its own trace page."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from opentelemetry.sdk.trace.export import SpanExportResult

from honeycomb_events import HoneycombEventsExporter

from .conftest import API_KEY
from .test_delivery import finished_spans, span_ids

CLASSIC_KEY = "0123456789abcdef0123456789abcdef"


def links_said(capfd, count: int) -> list[str]:
    """The link lines on stderr, once `count` of them came (the slugs are asked for in the
    background)."""
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen += [line for line in capfd.readouterr().err.splitlines() if "Honeycomb link" in line]
        if len(seen) >= count:
            break
        time.sleep(0.05)
    return seen


def test_each_trace_gets_one_link_to_the_receivers_trace_page(environment, receiver, capfd):
    environment.setenv("HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS", "true")
    exporter = HoneycombEventsExporter()
    spans = finished_spans(3)  # three root spans: three traces
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    lines = links_said(capfd, 3)
    expected = {f"Honeycomb link: {receiver.url}/trace/{s.context.trace_id:032x}" for s in spans}
    assert set(lines) == expected
    assert len(lines) == 3
    assert exporter.export(spans) is SpanExportResult.SUCCESS  # the same traces again
    time.sleep(0.2)
    assert "Honeycomb link" not in capfd.readouterr().err
    exporter.shutdown()
    page = httpx.get(next(iter(expected)).removeprefix("Honeycomb link: "))
    assert page.status_code == 200
    assert len(span_ids(receiver)) == 6


def test_child_spans_get_no_link(environment, receiver, capfd):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    environment.setenv("HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS", "1")
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    exporter = HoneycombEventsExporter()
    exporter.export(memory.get_finished_spans())
    [line] = links_said(capfd, 1)
    root = next(s for s in memory.get_finished_spans() if s.parent is None)
    assert line.endswith(f"/trace/{root.context.trace_id:032x}")
    exporter.shutdown()


def test_no_link_unless_asked_for(environment, receiver, capfd):
    exporter = HoneycombEventsExporter()
    exporter.export(finished_spans(2))
    exporter.shutdown()
    assert "Honeycomb link" not in capfd.readouterr().err


class _Honeycomb(BaseHTTPRequestHandler):
    """Answers /1/auth as Honeycomb does (no receiver header) and takes every batch."""

    environment: ClassVar[dict[str, str] | None] = {"name": "Prod", "slug": "prod"}
    status: ClassVar[int] = 200
    auth_keys: ClassVar[list[str]] = []
    auth_headers: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.auth_keys.append(self.headers["X-Honeycomb-Team"])
        self.auth_headers.append(dict(self.headers))
        body = json.dumps(
            {"team": {"name": "Acme", "slug": "acme"}, "environment": self.environment}
        )
        self._answer(self.status, body.encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(200, b"")  # an empty 2xx: all queued

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Honeycomb)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_links_to_honeycomb_name_the_team_environment_and_dataset(environment, capfd, monkeypatch):
    monkeypatch.setattr(_Honeycomb, "auth_keys", [])
    server = serve()
    try:
        environment.setenv("HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS", "true")
        environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        environment.setenv("HONEYCOMB_HEADERS", "x-proxy-token=abc")
        monkeypatch.setattr(_Honeycomb, "auth_headers", [])
        exporter = HoneycombEventsExporter()
        [span] = finished_spans(1, service="check out")
        exporter.export([span])
        [line] = links_said(capfd, 1)
        assert line == (
            "Honeycomb link: https://ui.honeycomb.io/acme/environments/prod/datasets/"
            f"check%20out/trace?trace_id={span.context.trace_id:032x}"
        )
        exporter.shutdown()
        assert _Honeycomb.auth_keys == [API_KEY]  # asked once
        [asked] = _Honeycomb.auth_headers
        assert asked["x-proxy-token"] == "abc"  # the user's headers, as on every request
        assert asked["User-Agent"].startswith("honeycomb-events/")
    finally:
        server.shutdown()
        server.server_close()


def test_a_classic_key_links_without_an_environment_to_its_dataset(environment, capfd):
    server = serve()
    try:
        environment.setenv("HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS", "true")
        environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        environment.setenv("HONEYCOMB_API_KEY", CLASSIC_KEY)
        environment.setenv("HONEYCOMB_DATASET", "shop-traces")
        exporter = HoneycombEventsExporter()
        [span] = finished_spans(1)
        exporter.export([span])
        [line] = links_said(capfd, 1)
        assert line == (
            "Honeycomb link: https://ui.honeycomb.io/acme/datasets/shop-traces/trace"
            f"?trace_id={span.context.trace_id:032x}"
        )
        exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()


def test_when_the_slugs_cannot_be_learned_one_line_says_so_and_exports_go_on(
    environment, capfd, monkeypatch
):
    monkeypatch.setattr(_Honeycomb, "status", 401)
    server = serve()
    try:
        environment.setenv("HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS", "true")
        environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        exporter = HoneycombEventsExporter()
        for _ in range(3):
            assert exporter.export(finished_spans(2)) is SpanExportResult.SUCCESS
        deadline = time.monotonic() + 10
        said = ""
        while "no trace links" not in said and time.monotonic() < deadline:
            said += capfd.readouterr().err
            time.sleep(0.05)
        exporter.export(finished_spans(2))
        exporter.shutdown()
        said += capfd.readouterr().err
        assert said.count("no trace links (HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS)") == 1
        assert "Honeycomb link" not in said
        assert "401" in said
    finally:
        server.shutdown()
        server.server_close()


def test_the_ui_of_an_eu_endpoint_is_the_eu_ui():
    from honeycomb_events.otel._trace_links import _ui

    assert _ui("https://api.eu1.honeycomb.io") == "https://ui.eu1.honeycomb.io"
    assert _ui("https://api.honeycomb.io/") == "https://ui.honeycomb.io"
    assert _ui("http://refinery.internal:8080") == "https://ui.honeycomb.io"


def test_the_traces_remembered_are_bounded(monkeypatch):
    # One id a trace, for the life of the process, was kept before: a service linking
    # traces for days grew without bound.
    from honeycomb_events import resolve_settings
    from honeycomb_events.otel import _trace_links

    monkeypatch.setattr(_trace_links, "_REMEMBERED", 5)
    monkeypatch.setattr(_trace_links.TraceLinks, "_learn", lambda self: None)
    links = _trace_links.TraceLinks(
        resolve_settings(api_key=API_KEY, endpoint="http://127.0.0.1:9"), lambda _: "svc"
    )
    for trace_id in range(1, 21):
        links._print(lambda dataset, trace_id: f"link {trace_id}", [("svc", trace_id)])
    assert list(links._seen) == [16, 17, 18, 19, 20]
