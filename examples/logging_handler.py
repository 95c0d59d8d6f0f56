"""Send Python `logging` records to Honeycomb with HoneycombLoggingHandler.

The handler needs no OpenTelemetry logs SDK: `emit` builds an event and queues it, and a
background thread sends the queue in batches. A record logged inside a span carries the span's
trace id and span id, so it shows on that span in the trace view; here the span is exported
too, to the same dataset. Settings come from the environment:

    export HONEYCOMB_API_KEY=...             # an ingest key of your environment
    export OTEL_SERVICE_NAME=billing         # the dataset of the logs and of the spans
    python examples/logging_handler.py

Without an account, run `honeycomb-events serve --port 8086` and also set
HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086 (any key is accepted).
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events import HoneycombEventsExporter, HoneycombLoggingHandler

log = logging.getLogger("billing.invoices")


def send_invoice(invoice_id: str, amount_cents: int) -> None:
    # `extra` fields become fields of the event.
    log.info("sending invoice %s", invoice_id, extra={"invoice.id": invoice_id})
    if amount_cents <= 0:
        raise ValueError(f"invoice {invoice_id} has no amount")


def main() -> None:
    service = os.environ.get("OTEL_SERVICE_NAME") or "logging-handler-example"

    # Key and endpoint from HONEYCOMB_LOGS_APIKEY / HONEYCOMB_API_KEY and
    # HONEYCOMB_LOGS_ENDPOINT / HONEYCOMB_API_ENDPOINT; the dataset is the service name.
    handler = HoneycombLoggingHandler(service_name=service, level=logging.INFO)
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)

    # Spans, so that the logs below have a trace to belong to.
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("examples.logging_handler")

    log.info("billing run started")  # outside any span: a plain log event

    with tracer.start_as_current_span("invoice-run") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        send_invoice("INV-7", 4200)  # this record is linked to the span
        try:
            send_invoice("INV-8", 0)
        except ValueError:
            # log.exception adds exception.type, exception.message and exception.stacktrace.
            log.exception("could not send invoice %s", "INV-8")

    log.warning("billing run finished with %d failure", 1, extra={"invoices.failed": 1})

    # Sends what is queued and stops the handler's thread (logging.shutdown() at exit would
    # also flush and close it; closing yourself lets you read the counts).
    handler.close()
    root_logger.removeHandler(handler)
    provider.shutdown()

    stats = handler.stats
    print(
        f"logging_handler: trace {trace_id}: {stats['accepted']} log events accepted into"
        f" dataset {handler.dataset!r}, {stats['failed']} failed,"
        f" {stats['dropped_queue_full']} dropped"
    )


if __name__ == "__main__":
    main()
