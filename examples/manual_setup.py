"""Send traces with the OpenTelemetry SDK set up by hand, in a script.

One request of a small checkout service: nested spans with attributes, span events, and a
failed card charge recorded as an exception on its span. Every setting comes from the
environment:

    export HONEYCOMB_API_KEY=...             # an ingest key of your environment
    export OTEL_SERVICE_NAME=checkout        # the dataset, with an environment key
    python examples/manual_setup.py

To try it without an account, start a local receiver first and point the exporter at it:

    honeycomb-events serve --port 8086 &
    export HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086 HONEYCOMB_API_KEY=local
    python examples/manual_setup.py
    # then open http://127.0.0.1:8086/ and click the trace
"""

from __future__ import annotations

import os
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from honeycomb_events import HoneycombEventsExporter


class CardDeclinedError(Exception):
    """What the pretend payment provider raises."""


def charge_card(order_id: str, cents: int) -> None:
    raise CardDeclinedError(f"card declined for order {order_id} ({cents} cents)")


def main() -> None:
    # The service name names the dataset (with an environment key). Resource.create() would
    # read OTEL_SERVICE_NAME by itself; the explicit default keeps the example's dataset
    # readable when the variable is not set.
    service = os.environ.get("OTEL_SERVICE_NAME") or "manual-setup-example"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))

    # Key, endpoint, timeout and compression come from HONEYCOMB_* variables. The batch
    # processor exports from its own thread: ending a span never waits for the network.
    exporter = HoneycombEventsExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("examples.manual_setup")

    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("http.route", "/checkout")
        root.set_attribute("order.id", "A-1042")
        trace_id = format(root.get_span_context().trace_id, "032x")

        with tracer.start_as_current_span("load-cart") as span:
            span.set_attribute("cart.items", 3)
            span.add_event("cache miss", {"cache.key": "cart:A-1042"})  # a span event
            time.sleep(0.01)

        with tracer.start_as_current_span("charge-card", kind=SpanKind.CLIENT) as span:
            span.set_attribute("payment.provider", "example-pay")
            span.add_event("attempt", {"attempt": 1})
            try:
                charge_card("A-1042", 1999)
            except CardDeclinedError as error:
                # Recorded as an "exception" span event; the span's own event gets
                # exception.message and exception.type, and error: true from the status.
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, "card declined"))

        with tracer.start_as_current_span("render-receipt") as span:
            span.set_attribute("receipt.lines", 3)

        root.set_attribute("http.response.status_code", 402)

    # Exports what the processor still holds, then shuts the exporter down.
    provider.shutdown()
    stats = exporter.stats
    dataset = exporter.dataset_for(provider.resource)
    print(
        f"manual_setup: trace {trace_id} (4 spans, 3 span events) sent to dataset {dataset!r}:"
        f" {stats['events_accepted']} events accepted, {stats['events_failed']} failed"
    )


if __name__ == "__main__":
    main()
