"""Presend hooks and the rules, end to end: real SDK spans, logs and metrics, the events client,
its buffered sender and the logging handler, against the local receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import math
import threading

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from honeycomb_events import (
    BatchEvent,
    HoneycombEventsExporter,
    HoneycombLogExporter,
    HoneycombLoggingHandler,
    HoneycombMetricExporter,
)
from honeycomb_events._limits import MAX_STRING_BYTES
from honeycomb_events._presend import EventFields

from .conftest import FAST_RETRY

pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")

RULES = {
    "HONEYCOMB_REDACT_FIELDS": "*token*, url.full",
    "HONEYCOMB_DROP_EVENTS": "http.route=/health*, name=skip me",
}


@pytest.fixture
def rules(environment):
    for name, value in RULES.items():
        environment.setenv(name, value)
    return environment


def traced(exporter: HoneycombEventsExporter) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def shop_spans(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("GET /health", attributes={"http.route": "/healthz"}):
        pass
    with tracer.start_as_current_span(
        "GET /cart",
        kind=SpanKind.SERVER,
        attributes={"http.route": "/cart", "url.full": "https://shop/cart?t=1"},
    ) as span:
        span.add_event("login", {"session.token": "s3cret", "user": "ann"})
        span.add_event("skip me")
        span.set_attribute("auth_Token", "abc")


def test_rules_redact_and_drop_spans_and_span_events(rules, receiver):
    exporter = HoneycombEventsExporter()
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    stored = receiver.events("shop")
    assert sorted(e.data["name"] for e in stored) == ["GET /cart", "login"]
    login = next(e.data for e in stored if e.data["name"] == "login")
    cart = next(e.data for e in stored if e.data["name"] == "GET /cart")
    assert login["meta.annotation_type"] == "span_event"
    assert login["session.token"] == "REDACTED"
    assert login["user"] == "ann"
    assert cart["url.full"] == "REDACTED"
    assert cart["auth_Token"] == "REDACTED"
    assert cart["http.route"] == "/cart"
    stats = exporter.stats
    assert stats["events_dropped_rules"] == 2  # the health check, the span event "skip me"
    assert stats["fields_redacted"] == 3
    assert stats["events_submitted"] == stats["events_accepted"] == 2


def test_rules_redact_and_drop_log_records(rules, receiver):
    exporter = HoneycombLogExporter()
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "shop"}), shutdown_on_exit=False
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("app")
    logger.emit(body="probe", attributes={"http.route": "/health"})
    logger.emit(body="signed in", attributes={"api_token": "s3cret", "http.route": "/login"})
    provider.shutdown()
    [stored] = receiver.events("shop")
    assert stored.data["body"] == "signed in"
    assert stored.data["api_token"] == "REDACTED"
    assert exporter.stats["events_dropped_rules"] == 1
    assert exporter.stats["fields_redacted"] == 1


def test_rules_apply_to_a_metric_event_whole(rules, receiver):
    # An event holds the points of one second and attribute set: a rule keeps or drops it
    # whole, and redacts its fields.
    exporter = HoneycombMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "shop"})
    )
    meter = provider.get_meter("app")
    requests, latency = meter.create_counter("requests"), meter.create_histogram("latency")
    for route in ("/healthz", "/cart"):
        requests.add(1, {"http.route": route, "auth.token": "s3cret"})
        latency.record(5, {"http.route": route, "auth.token": "s3cret"})
    provider.shutdown()
    [stored] = receiver.events("unknown_metrics")
    assert stored.data["http.route"] == "/cart"
    assert stored.data["auth.token"] == "REDACTED"
    assert stored.data["requests"] == 1
    assert stored.data["latency.count"] == 1
    assert exporter.stats["events_dropped_rules"] == 1


def test_rules_apply_to_the_logging_handler(rules, receiver):
    handler = HoneycombLoggingHandler(service_name="shop", retry=FAST_RETRY)
    logger = logging.getLogger("tests.presend.handler")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("probe", extra={"http.route": "/health"})
        logger.info("signed in", extra={"session_token": "s3cret"})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close(timeout=10)
    [stored] = receiver.events("shop")
    assert stored.data["body"] == "signed in"
    assert stored.data["session_token"] == "REDACTED"
    stats = handler.stats
    assert stats["queued"] == 2
    assert stats["accepted"] == 1
    assert stats["failed"] == 0
    assert stats["dropped_presend"] == 1
    assert stats["events_dropped_rules"] == 1
    assert stats["fields_redacted"] == 1


def test_a_hook_changes_and_drops_span_events(environment, receiver):
    seen: list[EventFields] = []

    def presend(fields):
        seen.append(fields)
        if fields.get("http.route") == "/healthz":
            return None
        fields.pop("url.full", None)
        fields["deploy"] = "blue"
        if fields["name"] == "GET /cart":
            fields.samplerate = 10
        return fields

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    assert all(type(fields) is EventFields for fields in seen)
    assert all(fields.time.endswith("Z") for fields in seen)  # the event's RFC3339 time
    stored = {e.data["name"]: e for e in receiver.events("shop")}
    assert sorted(stored) == ["GET /cart", "login", "skip me"]
    assert all(e.data["deploy"] == "blue" for e in stored.values())
    assert "url.full" not in stored["GET /cart"].data
    assert stored["GET /cart"].samplerate == 10
    assert stored["login"].samplerate == 1
    assert exporter.stats["events_dropped_presend"] == 1


def test_rules_run_after_the_hook_on_the_fields_it_returns(rules, receiver):
    def presend(fields):
        fields["copied_token"] = "s3cret"  # added by the hook: still redacted
        if fields["name"] == "GET /cart":
            fields["http.route"] = "/health/deep"  # changed by the hook: a rule drops it
        return fields

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    [login] = receiver.events("shop")
    assert login.data["name"] == "login"
    assert login.data["copied_token"] == "REDACTED"


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_what_a_hook_adds_meets_honeycombs_limits_again(environment, receiver, encoding):
    # The mapping marks its events within the limits; a hook's changes lose that mark. One
    # change per event: none hides another behind the careful way it takes.
    changes = {
        "GET /health": {"huge": "é" * 100_000},
        "GET /cart": {"nan": math.nan, "inf": -math.inf, "": "no name"},
        "login": {"nested": {"a": {"b": [1, 2]}}},
        "skip me": {"big": 2**70},
    }

    def presend(fields):
        fields.update(changes[fields["name"]])
        return fields

    exporter = HoneycombEventsExporter(presend=presend, encoding=encoding)
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    stored = {e.data["name"]: e.data for e in receiver.events("shop")}
    assert stored["GET /health"]["huge"] == "é" * (MAX_STRING_BYTES // 2)
    assert (stored["GET /cart"]["nan"], stored["GET /cart"]["inf"]) == ("NaN", "-Infinity")
    assert "" not in stored["GET /cart"]
    assert stored["login"]["nested"] == {"a": {"b": [1, 2]}}
    assert stored["skip me"]["big"] == str(2**70)
    # Honeycomb had nothing to repair: the client did it, and counted it.
    repairs = receiver.stats.snapshot()
    assert repairs["oversize_strings"] == repairs["non_finite"] == repairs["null_values"] == 0
    stats = exporter.stats
    assert (stats["strings_truncated"], stats["non_finite_floats"]) == (1, 2)
    assert stats["values_converted"] == 1


def test_a_hook_that_adds_too_many_fields_or_bytes_is_cut_to_fit(environment, receiver):
    def presend(fields):
        fields.update({f"extra{i:04d}": "x" * 600 for i in range(2_500)})
        return fields

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    with provider.get_tracer("app").start_as_current_span("wide"):
        pass
    provider.shutdown()
    [stored] = receiver.events("shop")
    assert len(stored.data) <= 2_000
    assert stored.data["meta.dropped_fields"] > 500
    assert stored.data["trace.trace_id"]  # an exporter's own fields are kept longest
    assert exporter.stats["events_shrunk"] == 1


def test_a_hook_that_raises_costs_its_own_event_and_is_said_once(environment, receiver, capsys):
    def presend(fields):
        if fields["name"] == "login":
            raise ValueError(f"cannot scrub {fields['session.token']}")
        return fields

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    shop_spans(provider)
    shop_spans(provider)
    provider.shutdown()
    stored = receiver.events("shop")
    assert sorted(e.data["name"] for e in stored) == sorted(
        ["GET /cart", "GET /health", "skip me"] * 2
    )
    assert exporter.stats["events_dropped_presend_error"] == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if "presend" in line]
    assert line.startswith(
        "honeycomb-events: HoneycombEventsExporter: the presend hook raised (ValueError at "
        f"{__file__}:"
    )
    assert line.endswith(
        "; the event was dropped, as is every event it fails on (counted in "
        "stats['events_dropped_presend_error'])"
    )
    assert "s3cret" not in line  # the exception's message may quote a value: not shown


@pytest.mark.parametrize(
    ("returned", "said"),
    [
        (True, "the presend hook returned a bool, not the event's fields, a BatchEvent or None"),
        (("a", 1), "the presend hook returned a tuple"),
        ("samplerate", "the presend hook set a time or samplerate Honeycomb cannot take"),
        ("time", "the presend hook set a time or samplerate Honeycomb cannot take"),
    ],
)
def test_a_hook_that_returns_no_event_costs_that_event(
    environment, receiver, capsys, returned, said
):
    def presend(fields):
        if fields["name"] != "login":
            return fields
        if returned == "samplerate":
            fields.samplerate = 0
            return fields
        if returned == "time":
            fields.time = "yesterday"
            return fields
        return returned

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    assert "login" not in [e.data["name"] for e in receiver.events("shop")]
    assert len(receiver.events("shop")) == 3
    assert exporter.stats["events_dropped_presend_error"] == 1
    assert said in capsys.readouterr().err


def test_a_hook_may_return_other_fields_or_a_batch_event(environment, receiver):
    def presend(fields):
        if fields["name"] == "login":
            return BatchEvent({"name": "login", "only": True}, time=0, samplerate=3)
        return {"name": fields["name"]}

    exporter = HoneycombEventsExporter(presend=presend)
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    stored = {e.data["name"]: e for e in receiver.events("shop")}
    assert stored["login"].data == {"name": "login", "only": True}
    assert stored["login"].time == "1970-01-01T00:00:00.000000000Z"
    assert stored["login"].samplerate == 3
    assert stored["GET /cart"].data == {"name": "GET /cart"}


def test_a_beeline_hook_migrates_by_returning_its_fields(environment, receiver):
    # As docs/presend.md shows it: the beeline's hooks, each unchanged, called from one.
    def beeline_presend(fields):
        if "user" in fields:
            del fields["user"]

    def beeline_sampler(fields):
        return fields.get("name") != "skip me", 5

    def presend(fields):
        keep, rate = beeline_sampler(fields)
        if not keep:
            return None
        fields.samplerate = rate
        beeline_presend(fields)
        return fields

    provider = traced(HoneycombEventsExporter(presend=presend))
    shop_spans(provider)
    provider.shutdown()
    stored = {e.data["name"]: e for e in receiver.events("shop")}
    assert sorted(stored) == ["GET /cart", "GET /health", "login"]
    assert "user" not in stored["login"].data
    assert all(e.samplerate == 5 for e in stored.values())


def test_the_client_send_batch_drops_with_a_result_and_leaves_the_callers_fields(
    rules, make_client, receiver
):
    def presend(fields):
        if fields.get("n") in (3, 5):
            return None
        fields["auth_token"] = "REDACTED"
        return fields

    client = make_client(sync=True, presend=presend)
    mine = {"n": 1, "auth_token": "s3cret"}
    results = client.events.send_batch(
        "ds", [mine, {"n": 2, "http.route": "/health"}, {"n": 3}, BatchEvent({"n": 4})]
    )
    assert [(r.status, r.error) for r in results] == [
        (202, None),
        (202, None),  # the rules are the signals': the client's events are its caller's
        (0, "event dropped by the presend hook"),
        (202, None),
    ]
    assert mine == {"n": 1, "auth_token": "s3cret"}  # the hook changed a copy
    assert client.events.send("ds", {"n": 5}).error == "event dropped by the presend hook"
    assert client.events.send("ds", {"n": 6}).ok
    stored = sorted((e.data["n"], e.data["auth_token"]) for e in receiver.events("ds"))
    assert stored == [(n, "REDACTED") for n in (1, 2, 4, 6)]
    stats = client.stats
    assert (stats["events_dropped_presend"], stats["events_dropped_rules"]) == (2, 0)
    assert stats["events_submitted"] == 4


def test_the_async_client_runs_the_hook_too(make_client, receiver):
    client = make_client(presend=lambda fields: None if fields["n"] % 2 else fields)

    async def send():
        batch = await client.events.send_batch_async("ds", [{"n": n} for n in range(4)])
        one = await client.events.send_async("ds", {"n": 5})
        await client.aclose()
        return batch, one

    results, one = asyncio.run(send())
    assert [r.status for r in results] == [202, 0, 202, 0]
    assert one.error == "event dropped by the presend hook"
    assert sorted(e.data["n"] for e in receiver.events("ds")) == [0, 2]
    assert client.stats["events_dropped_presend"] == 3


def test_a_batch_whose_every_event_is_dropped_sends_nothing(make_client, receiver):
    client = make_client(sync=True, presend=lambda fields: None)
    assert [r.ok for r in client.events.send_batch("ds", [{"n": 1}, {"n": 2}])] == [False] * 2
    exporter = HoneycombEventsExporter(
        api_key="k", endpoint=receiver.url, dataset="ds", presend=lambda fields: None
    )
    provider = traced(exporter)
    shop_spans(provider)
    provider.shutdown()
    assert list(receiver.requests) == []
    assert exporter.stats["events_dropped_presend"] == 4


def test_the_buffered_sender_reports_each_dropped_event(make_client, receiver):
    def presend(fields):
        if fields["n"] == 1:
            raise KeyError("boom")
        return None if fields["n"] == 2 else fields

    results = []
    client = make_client(sync=True, presend=presend)
    sender = client.events.buffered(
        "ds", on_result=lambda event, result: results.append((event.data["n"], result))
    )
    for n in range(4):
        assert sender.send({"n": n})
    assert sender.close(timeout=10)
    assert [(n, r.status, r.error) for n, r in results] == [
        (0, 202, None),
        (1, 0, "event dropped: the presend hook failed on it"),
        (2, 0, "event dropped by the presend hook"),
        (3, 202, None),
    ]
    assert sender.stats == {
        "queued": 4,
        "dropped_queue_full": 0,
        "dropped_queue_bytes": 0,
        "dropped_closed": 0,
        "accepted": 2,
        "failed": 0,
        "dropped_presend": 2,
    }
    assert client.stats["events_dropped_presend_error"] == 1
    assert sorted(e.data["n"] for e in receiver.events("ds")) == [0, 3]


def test_a_hook_changes_and_drops_log_and_metric_events(environment, receiver):
    def presend(fields):
        if fields.get("route") == "/healthz":
            return None
        fields["deploy"] = "blue"
        return fields

    logs = HoneycombLogExporter(presend=presend)
    log_provider = LoggerProvider(
        resource=Resource.create({"service.name": "shop"}), shutdown_on_exit=False
    )
    log_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    metrics = HoneycombMetricExporter(presend=presend)
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(metrics, export_interval_millis=60_000)],
        resource=Resource.create({"service.name": "shop"}),
    )
    for route in ("/healthz", "/cart"):
        log_provider.get_logger("app").emit(body=route, attributes={"route": route})
        meter_provider.get_meter("app").create_counter("requests").add(1, {"route": route})
    log_provider.shutdown()
    meter_provider.shutdown()
    [log] = receiver.events("shop")
    [metric] = receiver.events("unknown_metrics")
    assert (log.data["body"], log.data["deploy"]) == ("/cart", "blue")
    assert (metric.data["route"], metric.data["deploy"]) == ("/cart", "blue")
    assert logs.stats["events_dropped_presend"] == metrics.stats["events_dropped_presend"] == 1


def test_the_logging_handler_runs_its_hook_in_the_sending_thread(environment, receiver):
    threads = []

    def presend(fields):
        threads.append(threading.current_thread().name)
        return None if fields["body"] == "noise" else fields

    handler = HoneycombLoggingHandler(service_name="shop", retry=FAST_RETRY, presend=presend)
    logger = logging.getLogger("tests.presend.hook")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("noise")
        logger.info("signal")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close(timeout=10)
    assert [e.data["body"] for e in receiver.events("shop")] == ["signal"]
    assert threads == ["honeycomb-events-sender-shop"] * 2
    assert handler.stats["events_dropped_presend"] == handler.stats["dropped_presend"] == 1
