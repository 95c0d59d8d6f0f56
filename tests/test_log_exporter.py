"""HoneycombLogExporter end to end: real SDK log records, the local receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import math
import time

import msgspec
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, LogRecordLimits
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from honeycomb_events import BatchEncoder, ConfigurationError, HoneycombLogExporter, RetryPolicy
from honeycomb_events._limits import LimitTally
from honeycomb_events.otel import map_logs
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY

CLASSIC_KEY = "0123456789abcdef0123456789abcdef"

pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")


def provider_for(service: str | None, *processors, limits: LogRecordLimits | None = None):
    attributes = {} if service is None else {"service.name": service}
    provider = LoggerProvider(
        resource=Resource.create(attributes), shutdown_on_exit=False, log_record_limits=limits
    )
    for processor in processors:
        provider.add_log_record_processor(processor)
    return provider


@contextlib.contextmanager
def bridged(provider: LoggerProvider, name: str = "tests.log_exporter"):
    """A Python logger whose records go to `provider` through the SDK's logging bridge."""
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def records_of(service: str | None, count: int = 1):
    memory = InMemoryLogRecordExporter()
    provider = provider_for(service, SimpleLogRecordProcessor(memory))
    for n in range(count):
        provider.get_logger("app").emit(body=f"line {n}", severity_number=SeverityNumber.INFO)
    return memory.get_finished_logs()


def test_batch_processor_through_the_logging_bridge_routes_by_service(environment, receiver):
    exporter = HoneycombLogExporter()
    processor = BatchLogRecordProcessor(exporter)
    checkout = provider_for("checkout", processor)
    payments = provider_for("  payments ", processor)
    nameless = provider_for(None, processor)
    for provider, count in ((checkout, 3), (payments, 2), (nameless, 1)):
        with bridged(provider) as logger:
            for n in range(count):
                logger.info("request %d", n)
    assert processor.force_flush(10_000)
    checkout.shutdown()
    assert sorted(receiver.datasets()) == ["checkout", "payments", "unknown_log_source"]
    assert [e.data["body"] for e in receiver.events("checkout")] == [
        "request 0",
        "request 1",
        "request 2",
    ]
    assert len(receiver.events("payments")) == 2
    assert len(receiver.events("unknown_log_source")) == 1
    assert all(r.path.startswith("/1/batch/") for r in receiver.requests)
    assert exporter.export(records_of("svc")) is LogRecordExportResult.FAILURE  # shut down


def test_every_stored_field_is_what_the_mapping_builds(environment, receiver):
    memory = InMemoryLogRecordExporter()
    exporter = HoneycombLogExporter()
    provider = provider_for(
        "checkout",
        SimpleLogRecordProcessor(memory),
        SimpleLogRecordProcessor(exporter),
        limits=LogRecordLimits(max_log_record_attributes=5_000),
    )
    tracer = TracerProvider().get_tracer("tests")
    with bridged(provider) as logger:
        with tracer.start_as_current_span("charge"):
            logger.warning("card declined", extra={"order.id": "A-1042", "sampleRate": 4})
            try:
                raise RuntimeError("gateway down")
            except RuntimeError:
                logger.exception("charge failed")
        logger.info("outside any span")
    direct = provider.get_logger("opentelemetry.instrumentation.test", "0.1")
    direct.emit(
        body={"user": {"id": 7, "tags": ["a", "b"]}, "deep": {"1": {"2": {"3": {"4": {"5": 6}}}}}},
        severity_number=SeverityNumber.DEBUG3,
        severity_text="debug3",
        event_name="user.seen",
        attributes={"huge": "é" * 40_000, "nan": math.nan, "inf": -math.inf, "raw": b"\x00\xff"},
    )
    direct.emit(body="wide", attributes={f"attr{i:04d}": i for i in range(3_000)})
    direct.emit(body=None, observed_timestamp=1_714_564_800_000_000_000)
    provider.shutdown()

    encoder = BatchEncoder()
    expected = []
    for _, events in map_logs(memory.get_finished_logs()):
        for event in events:
            [wire] = encoder.encode_events([event], LimitTally())
            expected.append((msgspec.json.decode(wire)["data"], event.time, event.samplerate or 1))
    stored = [(e.data, e.time, e.samplerate) for e in receiver.events("checkout")]
    assert stored == expected
    assert len(stored) == 6
    assert receiver.stats.snapshot()["oversize_strings"] == 0

    declined, failed, outside, user_seen, wide, bodiless = stored
    assert declined[0]["meta.annotation_type"] == "span_event"
    assert declined[0]["trace.trace_id"] == failed[0]["trace.trace_id"]
    assert declined[0]["order.id"] == "A-1042"
    assert declined[2] == 4
    assert failed[0]["exception.type"] == "RuntimeError"
    assert failed[0]["exception.message"] == "gateway down"
    assert "trace.trace_id" not in outside[0]
    assert user_seen[0]["event.name"] == "user.seen"
    assert user_seen[0]["body.user.id"] == 7
    # A mapping five levels below the body: one field, its JSON text.
    assert user_seen[0]["body.deep.1.2.3.4"] == '{"5":6}\n'
    assert user_seen[0]["severity"] == "debug"
    assert user_seen[0]["telemetry.instrumentation_library"] is True
    assert len(user_seen[0]["huge"].encode()) == 65_534  # é is 2 bytes: cut on a boundary
    assert (user_seen[0]["nan"], user_seen[0]["inf"]) == ("NaN", "-Infinity")
    assert user_seen[0]["raw"] == '"AP8="\n'
    assert len(wide[0]) == 2_000
    assert wide[0]["meta.dropped_fields"] > 1_000
    assert wide[0]["body"] == "wide"
    assert "body" not in bodiless[0]
    assert bodiless[1] == "2024-05-01T12:00:00.000000000Z"


def test_503_twice_then_success_delivers_each_event_exactly_once(environment, receiver):
    receiver.faults.push(Fault(status=503, times=2, path="batch"))
    exporter = HoneycombLogExporter(retry=FAST_RETRY)
    assert exporter.export(records_of("svc", 5)) is LogRecordExportResult.SUCCESS
    assert sorted(e.data["body"] for e in receiver.events("svc")) == [f"line {n}" for n in range(5)]
    assert [r.status for r in receiver.requests] == [503, 503, 200]


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=401, error="unknown API key - check your credentials"),
        Fault(status=400, error="unknown API key - check your credentials"),
    ],
)
def test_a_rejected_key_fails_after_exactly_one_request_and_says_so_once(
    environment, receiver, caplog, fault
):
    receiver.faults.push(fault, fault)
    records = records_of("svc", 2)
    exporter = HoneycombLogExporter(retry=FAST_RETRY)
    with caplog.at_level(logging.DEBUG, logger="honeycomb_events"):
        assert exporter.export(records) is LogRecordExportResult.FAILURE
        assert len(receiver.requests) == 1
        assert exporter.export(records) is LogRecordExportResult.FAILURE
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "HONEYCOMB_API_KEY" in errors[0].getMessage()
    assert API_KEY not in caplog.text


def test_failed_events_make_the_export_fail_and_are_logged(environment, receiver, caplog):
    receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        result = HoneycombLogExporter().export(records_of("svc", 2))
    assert result is LogRecordExportResult.FAILURE
    assert "1 of 2 logs events to dataset 'svc' were not accepted (1 x 400)" in caplog.text


def test_an_empty_export_succeeds_without_a_request(environment, receiver):
    assert HoneycombLogExporter().export([]) is LogRecordExportResult.SUCCESS
    assert len(receiver.requests) == 0


@pytest.mark.parametrize(
    ("variables", "service", "dataset"),
    [
        ({}, "checkout", "checkout"),
        ({"HONEYCOMB_DATASET": "general"}, "checkout", "checkout"),
        ({}, "team/checkout", "team-checkout"),
        ({}, None, "unknown_log_source"),
        ({}, "  ", "unknown_log_source"),
        ({"HONEYCOMB_DATASET": "general"}, None, "general"),
        ({"HONEYCOMB_DATASET": "general"}, "unknown_service:worker", "general"),
        ({"HONEYCOMB_LOGS_DATASET": "logs", "HONEYCOMB_DATASET": "general"}, None, "logs"),
    ],
)
def test_datasets_follow_the_logs_rule(environment, receiver, variables, service, dataset):
    for name, value in variables.items():
        environment.setenv(name, value)
    exporter = HoneycombLogExporter()
    assert exporter.export(records_of(service)) is LogRecordExportResult.SUCCESS
    assert receiver.datasets() == [dataset]


@pytest.mark.parametrize("key", [CLASSIC_KEY, "hcaic_" + "0" * 58, API_KEY])
def test_the_key_type_does_not_change_the_logs_rule(environment, receiver, key):
    environment.setenv("HONEYCOMB_API_KEY", key)
    environment.setenv("HONEYCOMB_DATASET", "general")
    exporter = HoneycombLogExporter()
    assert exporter.export(records_of("svc") + records_of(None)) is LogRecordExportResult.SUCCESS
    assert sorted(receiver.datasets()) == ["general", "svc"]


def test_an_explicit_dataset_always_wins(environment, receiver):
    environment.setenv("HONEYCOMB_LOGS_DATASET", "from-env")
    exporter = HoneycombLogExporter(dataset="explicit")
    exporter.export(records_of("svc") + records_of(None))
    assert receiver.datasets() == ["explicit"]
    assert exporter.dataset_for(Resource.create({"service.name": "other"})) == "explicit"


def test_bad_datasets_are_configuration_errors_naming_their_source(environment):
    with pytest.raises(ConfigurationError, match="the dataset argument"):
        HoneycombLogExporter(dataset="a/b")
    environment.setenv("HONEYCOMB_LOGS_DATASET", "a/b")
    with pytest.raises(ConfigurationError, match="HONEYCOMB_LOGS_DATASET"):
        HoneycombLogExporter()


def test_the_logs_variables_win_over_the_general_ones(environment, closed_port):
    with Receiver(api_keys={"logs-key"}) as receiver:
        environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
        environment.setenv("HONEYCOMB_LOGS_ENDPOINT", receiver.url)
        environment.setenv("HONEYCOMB_LOGS_APIKEY", "logs-key")
        exporter = HoneycombLogExporter()
        assert exporter.settings.api_key.source == "HONEYCOMB_LOGS_APIKEY"
        assert exporter.export(records_of("svc")) is LogRecordExportResult.SUCCESS
        assert len(receiver.events("svc")) == 1


def test_shutdown_is_idempotent_and_later_exports_fail_without_a_request(environment, receiver):
    exporter = HoneycombLogExporter()
    exporter.shutdown()
    exporter.shutdown(timeout_millis=10)
    assert exporter.export(records_of("svc")) is LogRecordExportResult.FAILURE
    assert len(receiver.requests) == 0
    assert exporter.force_flush() is True


def test_a_backend_that_is_down_fails_the_export_at_once(environment, closed_port):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    environment.setenv("HONEYCOMB_TIMEOUT", "1")
    exporter = HoneycombLogExporter(retry=RetryPolicy(initial_backoff=0.1, max_backoff=0.2))
    started = time.monotonic()
    assert exporter.export(records_of("svc")) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < 0.6  # the longest export() waits for an answer
    exporter.shutdown()
    assert exporter.stats["requests_failed"] >= 1
    assert exporter.stats["events_lost_at_exit"] == exporter.stats["events_submitted"]


def test_an_item_that_is_no_log_record_costs_its_parts_not_the_export(
    environment, receiver, caplog
):
    exporter = HoneycombLogExporter()
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        result = exporter.export([object(), *records_of("svc")])  # type: ignore[list-item]
    # Sent with what could be read of it (nothing: a time and its losses), and said once.
    assert result is LogRecordExportResult.SUCCESS
    assert exporter.stats["items_salvaged"] == 1
    assert "items with parts that could not be read" in caplog.text
    assert len(receiver.events("svc")) == 1
    [salvaged] = [
        event.data
        for dataset in receiver.datasets()
        for event in receiver.events(dataset)
        if dataset != "svc"
    ]
    assert salvaged["severity"] == "unspecified"
    assert salvaged["meta.dropped_fields"] >= 1


def test_the_exporter_repr_hides_the_key(environment):
    exporter = HoneycombLogExporter()
    assert API_KEY not in repr(exporter)
    assert "redacted" in repr(exporter)


def test_the_sdk_logging_bridge_on_the_root_logger_does_not_feed_on_exports(receiver):
    import logging as stdlib_logging

    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource as SdkResource

    from honeycomb_events import HoneycombLogExporter

    provider = LoggerProvider(resource=SdkResource.create({"service.name": "app"}))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(HoneycombLogExporter(api_key="k", endpoint=receiver.url))
    )
    bridge = LoggingHandler(level=stdlib_logging.INFO, logger_provider=provider)
    root = stdlib_logging.getLogger()
    previous_level = root.level
    root.addHandler(bridge)
    root.setLevel(stdlib_logging.INFO)
    try:
        stdlib_logging.getLogger("app").info("one application record")
        stdlib_logging.getLogger("app").info("and another")
    finally:
        root.removeHandler(bridge)
        root.setLevel(previous_level)
        provider.shutdown()
    bodies = [event.data.get("body") for event in receiver.events("app")]
    assert bodies == ["one application record", "and another"]


def test_records_about_our_own_exports_are_never_exported(receiver):
    import logging as stdlib_logging

    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource as SdkResource

    from honeycomb_events import HoneycombLogExporter

    # The first batch is refused: the exporter's warning about it goes through the bridge.
    receiver.faults.push(Fault(event_statuses=(400,), path="batch"))
    provider = LoggerProvider(resource=SdkResource.create({"service.name": "app"}))
    exporter = HoneycombLogExporter(api_key="k", endpoint=receiver.url)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    bridge = LoggingHandler(level=stdlib_logging.NOTSET, logger_provider=provider)
    root = stdlib_logging.getLogger()
    root.addHandler(bridge)
    try:
        stdlib_logging.getLogger("app").warning("refused")
        provider.force_flush()
        stdlib_logging.getLogger("app").warning("accepted")
        provider.force_flush()
    finally:
        root.removeHandler(bridge)
        provider.shutdown()
    assert [event.data.get("body") for event in receiver.events("app")] == ["accepted"]
    assert exporter.stats["events_failed"] == 1
