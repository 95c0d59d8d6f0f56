"""Testing the traces of a web app with the `honeycomb_receiver` fixture.

examples/wsgi_app.py instrumented by OpenTelemetry's WSGI middleware, its spans exported by
`HoneycombEventsExporter` to a receiver started for each test. Run it with pytest (the
package's plugin is registered when it is installed with the `receiver` extra):

    pytest examples/test_wsgi_app.py

With Flask, the same test holds for an app instrumented by
`opentelemetry-instrumentation-flask`: build the provider as below and pass it to
`FlaskInstrumentor().instrument_app(app, tracer_provider=provider)`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.testing import ReceivedTelemetry

sys.path.insert(0, str(Path(__file__).parent))
from wsgi_app import application  # the app next to this file

Get = Callable[[str], str]


@pytest.fixture
def get(honeycomb_receiver: ReceivedTelemetry) -> Iterator[Get]:
    """GET a path from the instrumented app; its spans go to this test's receiver."""
    # Built after the fixture set HONEYCOMB_API_ENDPOINT and HONEYCOMB_API_KEY: the exporter
    # reads them when it is made. A provider per test, not the global one, which can be set
    # only once per process.
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    app = OpenTelemetryMiddleware(application, tracer_provider=provider)

    def request(path: str) -> str:
        environ: dict[str, object] = {"PATH_INFO": path, "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        statuses: list[str] = []
        body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
        # Not global, so the fixture's helpers cannot flush it: flush it here.
        provider.force_flush()
        return f"{statuses[0]} {body.decode().strip()}"

    yield request
    provider.shutdown()


def test_hello_is_one_server_span(get: Get, honeycomb_receiver: ReceivedTelemetry) -> None:
    assert get("/hello") == "200 OK hello"

    # Waits for the span (it is exported from other threads), or fails listing what arrived.
    span = honeycomb_receiver.span("GET /hello", fields={"span.kind": "server"})
    assert span["http.status_code"] == 200
    assert honeycomb_receiver.trace(span.trace_id).root.span_id == span.span_id


def test_a_missing_page_is_a_404_and_not_an_error(
    get: Get, honeycomb_receiver: ReceivedTelemetry
) -> None:
    assert get("/nope") == "404 Not Found not found"

    [event] = honeycomb_receiver.wait_for("shop", where={"http.status_code": 404})
    assert event["name"] == "GET /nope"
    assert honeycomb_receiver.events("shop", where={"error": True}) == []
