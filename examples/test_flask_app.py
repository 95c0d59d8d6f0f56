"""Testing a Flask app's traces with the `honeycomb_receiver` fixture.

examples/flask_app.py wrapped in OpenTelemetry's WSGI middleware, its spans exported by
`HoneycombEventsExporter` to a receiver started for each test, requests made through Flask's
test client. Run it with pytest (the package's plugin is registered when it is installed with
the `receiver` extra):

    pytest examples/test_flask_app.py

With `opentelemetry-instrumentation-flask` installed, `FlaskInstrumentor().instrument_app(app,
tracer_provider=provider)` can replace the middleware; the server spans then carry
`http.route` too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.testing import ReceivedTelemetry

sys.path.insert(0, str(Path(__file__).parent))
from flask_app import create_app  # the app next to this file


@pytest.fixture
def provider(honeycomb_receiver: ReceivedTelemetry) -> Iterator[TracerProvider]:
    """The app's tracer provider, exporting to this test's receiver."""
    # Made after the fixture pointed HONEYCOMB_API_ENDPOINT and HONEYCOMB_API_KEY at the
    # receiver: the exporter reads them when it is made. A provider per test, not the global
    # one, which can be set only once per process (so the fixture's helpers cannot flush it:
    # the tests do).
    made = TracerProvider(resource=Resource.create({"service.name": "flask-shop"}))
    made.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    yield made
    made.shutdown()


@pytest.fixture
def client(provider: TracerProvider) -> Iterator[FlaskClient]:
    """Flask's test client of the app, instrumented by OpenTelemetry's WSGI middleware."""
    app = create_app(provider)
    app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app, tracer_provider=provider)  # type: ignore[method-assign]
    with app.test_client() as test_client:
        yield test_client


def test_hello_is_one_server_span(
    client: FlaskClient, provider: TracerProvider, honeycomb_receiver: ReceivedTelemetry
) -> None:
    assert client.get("/hello").text == "hello\n"
    provider.force_flush()

    # Waits for the span (exported from another thread), or fails listing what arrived.
    span = honeycomb_receiver.span("GET /hello", fields={"span.kind": "server"})
    assert span["http.status_code"] == 200
    assert span["service.name"] == "flask-shop"


def test_a_declined_card_fails_its_span_under_the_checkout(
    client: FlaskClient, provider: TracerProvider, honeycomb_receiver: ReceivedTelemetry
) -> None:
    assert client.post("/checkout").status_code == 402
    provider.force_flush()

    charge = honeycomb_receiver.span("charge card", fields={"error": True})
    assert charge["exception.message"] == "card declined by the issuer"
    trace = honeycomb_receiver.trace(charge.trace_id)
    assert trace.root.name == "POST /checkout"
    assert trace.root["http.status_code"] == 402
    assert [child.name for child in trace.root.children] == ["load cart", "charge card"]
