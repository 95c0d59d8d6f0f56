"""Traces for the web page tests, sent as an instrumented service sends them: real SDK
providers with this package's exporters, into a receiver."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry._logs import Logger, LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from honeycomb_events.otel import HoneycombEventsExporter, HoneycombLogExporter
from honeycomb_events.receiver import Receiver

from .conftest import API_KEY, FAST_RETRY

FRONTEND = "web-shop"
PAYMENTS = "payments"


@dataclass(frozen=True)
class ShopTrace:
    trace_id: str
    traceback_lines: list[str]
    """The recorded exception's stack trace, line by line."""


def _tracer_provider(receiver: Receiver, service: str) -> TracerProvider:
    exporter = HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "host.name": f"{service}-1"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _declining_card() -> None:
    raise RuntimeError("card declined by the issuer")


def _charge(tracer: Tracer, log: Logger) -> None:
    """The payments service's part: its server span, and the charge that fails."""
    with (
        tracer.start_as_current_span("POST /v1/charges", kind=SpanKind.SERVER),
        tracer.start_as_current_span("charge card") as charge,
    ):
        log.emit(
            LogRecord(
                severity_text="WARN",
                severity_number=SeverityNumber.WARN,
                body="card declined: retrying is pointless",
            )
        )
        try:
            _declining_card()
        except RuntimeError as error:
            charge.record_exception(error)
            charge.set_status(Status(StatusCode.ERROR, str(error)))


def send_shop_trace(receiver: Receiver) -> ShopTrace:
    """A checkout through two services (web-shop calls payments over HTTP): server and client
    spans with their HTTP fields, a span event, a warning logged inside a span, and a charge
    that fails with a raised (so: stack traced) exception."""
    shop = _tracer_provider(receiver, FRONTEND)
    payments = _tracer_provider(receiver, PAYMENTS)
    logs = LoggerProvider(resource=Resource.create({"service.name": PAYMENTS}))
    logs.add_log_record_processor(
        SimpleLogRecordProcessor(
            HoneycombLogExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
        )
    )
    log = logs.get_logger("payments")
    front, back = shop.get_tracer("shop"), payments.get_tracer("payments")
    server = {"http.method": "GET", "http.route": "/checkout", "http.target": "/checkout"}
    try:
        with front.start_as_current_span(
            "GET /checkout", kind=SpanKind.SERVER, attributes=server
        ) as root:
            with front.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT) as select:
                select.set_attribute("db.system", "postgresql")
                select.add_event("rows read", {"rows": 3})
            stock = {
                "http.request.method": "GET",
                "server.address": "inventory.local",
                "url.path": "/v1/stock",
            }
            with front.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=stock):
                pass
            call = {"http.method": "POST", "http.url": "http://payments.local:8080/v1/charges"}
            with front.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=call) as post:
                _charge(back, log)
                post.set_status(Status(StatusCode.ERROR))
    finally:
        shop.shutdown()
        payments.shutdown()
        logs.shutdown()
    trace_id = format(root.get_span_context().trace_id, "032x")
    stored = [
        event.data["exception.stacktrace"]
        for event in receiver.events(PAYMENTS)
        if event.data.get("trace.span_id") and "exception.stacktrace" in event.data
    ]
    return ShopTrace(trace_id, stored[0].splitlines())
