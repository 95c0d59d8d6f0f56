"""The demo's instrumented shop: a few requests as traces, metrics and logs, sent through the
real exporters to a local receiver or to Honeycomb.

OpenTelemetry's SDK is imported where it is used, so commands other than ``demo`` start
without it.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
import warnings
from typing import TYPE_CHECKING, Any, Final

from honeycomb_events._version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

    from honeycomb_events.otel import (
        HoneycombEventsExporter,
        HoneycombLogExporter,
        HoneycombMetricExporter,
    )

    DemoExporters = tuple[HoneycombEventsExporter, HoneycombMetricExporter, HoneycombLogExporter]

DEMO_SERVICE: Final = "demo-shop"
DEMO_METRICS_DATASET: Final = "demo-shop-metrics"


class PaymentDeclinedError(Exception):
    """The failure the demo's failing checkout records on its payment span."""


@dataclasses.dataclass
class DemoWorkload:
    """What `run_otel_workload` did: its traces, the failing one, and each exporter's stats."""

    trace_ids: list[str]
    failing_trace_id: str
    stats: dict[str, dict[str, Any]]

    @property
    def failed(self) -> int:
        return sum(int(stats["events_failed"]) for stats in self.stats.values())

    @property
    def accepted(self) -> int:
        return sum(int(stats["events_accepted"]) for stats in self.stats.values())


def make_demo_exporters(api_key: str | None, endpoint: str | None) -> DemoExporters:
    """The three exporters, configured by arguments or, for None, the environment."""
    from honeycomb_events.otel import (
        HoneycombEventsExporter,
        HoneycombLogExporter,
        HoneycombMetricExporter,
    )

    return (
        HoneycombEventsExporter(api_key=api_key, endpoint=endpoint),
        HoneycombMetricExporter(api_key=api_key, endpoint=endpoint, dataset=DEMO_METRICS_DATASET),
        HoneycombLogExporter(api_key=api_key, endpoint=endpoint),
    )


def _work(rng: random.Random, low_ms: float, high_ms: float) -> None:
    """Stand in for real work: a few milliseconds, so spans have durations and logs made in
    a span fall within it."""
    time.sleep(rng.uniform(low_ms, high_ms) / 1000)


_DEMO_ROUTES: Final = {
    # route: the span of the store it reads, name and attributes
    "/checkout": (
        "SELECT orders",
        {
            "db.system.name": "postgresql",
            "db.collection.name": "orders",
            "db.query.text": "SELECT * FROM orders WHERE user_id = $1 AND state = 'open'",
        },
    ),
    "/products": (
        "SELECT products",
        {
            "db.system.name": "postgresql",
            "db.collection.name": "products",
            "db.query.text": "SELECT id, name, price FROM products ORDER BY rank LIMIT 50",
        },
    ),
    "/cart": (
        "HGETALL",
        {"db.system.name": "redis", "db.operation.name": "HGETALL"},
    ),
}

_DEMO_PLAN: Final = (
    # route, order id, whether its payment is declined
    ("/checkout", "A-1001", False),
    ("/products", None, False),
    ("/checkout", "A-1002", True),
    ("/cart", None, False),
)


class _DemoShop:
    """The demo's instrumented service: each request is one trace with a server span, a
    store span and, for a checkout, a call to a payment service; logs inside the spans, and
    request metrics."""

    def __init__(self, tracer: Tracer, meter: Meter, log: logging.Logger, seed: int) -> None:
        self._tracer = tracer
        self._log = log
        self._rng = random.Random(seed)
        self._requests = meter.create_counter("http.server.requests", unit="{request}")
        self._durations = meter.create_histogram("http.server.request.duration", unit="ms")
        self._in_flight = meter.create_up_down_counter("shop.requests.in_flight")

    def handle(self, route: str, order: str | None, fails: bool) -> str:
        """One request to `route`; returns its trace id."""
        from opentelemetry.trace import SpanKind, Status, StatusCode

        rng = self._rng
        user = f"user-{rng.randint(100, 999)}"
        status_code = 502 if fails else 200
        started = time.perf_counter()
        self._in_flight.add(1, {"http.route": route})
        with self._tracer.start_as_current_span(
            f"GET {route}",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.route": route,
                "url.path": route,
                "user.id": user,
            },
        ) as server:
            trace_id = format(server.get_span_context().trace_id, "032x")
            self._log.info("handling GET %s for %s", route, user, extra={"user.id": user})
            name, attributes = _DEMO_ROUTES[route]
            with self._tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes
            ):
                _work(rng, 2, 8)
            server.add_event("cart loaded", {"cart.items": rng.randint(1, 6)})
            _work(rng, 1, 3)
            if order is not None:
                server.set_attribute("order.id", order)
                self._charge(order, fails)
            server.set_attribute("http.response.status_code", status_code)
            if fails:
                server.set_status(Status(StatusCode.ERROR, "payment declined"))
        self._in_flight.add(-1, {"http.route": route})
        self._requests.add(1, {"http.route": route, "http.response.status_code": status_code})
        duration_ms = (time.perf_counter() - started) * 1000
        self._durations.record(duration_ms, {"http.route": route})
        return trace_id

    def _charge(self, order: str, fails: bool) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        with self._tracer.start_as_current_span(
            "POST /v1/charges",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "server.address": "payments.internal",
                "url.full": "https://payments.internal/v1/charges",
                "order.id": order,
            },
        ) as charge:
            _work(self._rng, 5, 15)
            if not fails:
                charge.set_attribute("http.response.status_code", 201)
                self._log.info("order %s placed", order, extra={"order.id": order})
                return
            try:
                raise PaymentDeclinedError(f"card declined for order {order}")
            except PaymentDeclinedError as error:
                charge.record_exception(error)
                charge.set_status(Status(StatusCode.ERROR, str(error)))
                charge.set_attribute("http.response.status_code", 402)
                self._log.exception("payment failed for order %s", order, extra={"order.id": order})


def _providers(
    exporters: DemoExporters,
) -> tuple[TracerProvider, MeterProvider, LoggerProvider]:
    """A provider per signal, each exporting through its exporter, for the shop's resource."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    span_exporter, metric_exporter, log_exporter = exporters
    resource = Resource.create(
        {
            "service.name": DEMO_SERVICE,
            "service.version": __version__,
            "deployment.environment.name": "demo",
        }
    )
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    # One export, at shutdown: the interval is never reached.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(
        metric_readers=[reader], resource=resource, shutdown_on_exit=False
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    return tracer_provider, meter_provider, logger_provider


def _bridged_logger(logger_provider: LoggerProvider) -> tuple[logging.Logger, LoggingHandler]:
    """The shop's logger, and the handler that carries its records to `logger_provider`."""
    from opentelemetry.sdk._logs import LoggingHandler

    # The SDK's bridge from logging (deprecated in opentelemetry-sdk 1.45, still working), on
    # a logger of its own so nothing else of the process is exported.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        bridge = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    log = logging.getLogger("demo_shop")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(bridge)
    return log, bridge


def run_otel_workload(exporters: DemoExporters, seed: int = 1) -> DemoWorkload:
    """An instrumented shop: four requests as traces (one failing), metrics and logs, sent
    through the real exporters; every provider is shut down, so everything is exported."""
    tracer_provider, meter_provider, logger_provider = _providers(exporters)
    log, bridge = _bridged_logger(logger_provider)
    shop = _DemoShop(
        tracer_provider.get_tracer("demo_shop.handlers", __version__),
        meter_provider.get_meter("demo_shop", __version__),
        log,
        seed,
    )
    trace_ids: list[str] = []
    failing = ""
    try:
        for route, order, fails in _DEMO_PLAN:
            trace_id = shop.handle(route, order, fails)
            trace_ids.append(trace_id)
            failing = trace_id if fails else failing
    finally:
        log.removeHandler(bridge)
        tracer_provider.shutdown()
        logger_provider.shutdown()
        meter_provider.shutdown()
    span_exporter, metric_exporter, log_exporter = exporters
    return DemoWorkload(
        trace_ids,
        failing,
        {
            "spans": span_exporter.stats,
            "metrics": metric_exporter.stats,
            "logs": log_exporter.stats,
        },
    )
