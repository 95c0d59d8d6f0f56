"""HoneycombEventsExporter end to end: real SDK spans, the local receiver on 127.0.0.1."""

from __future__ import annotations

import logging
import math
import os
import threading
import time

import msgspec
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from honeycomb_events import BatchEncoder, ConfigurationError, HoneycombEventsExporter, RetryPolicy
from honeycomb_events._limits import LimitTally
from honeycomb_events.otel import map_spans
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY

CLASSIC_KEY = "0123456789abcdef0123456789abcdef"


def provider_for(service: str | None, *processors, limits: SpanLimits | None = None):
    attributes = {} if service is None else {"service.name": service}
    provider = TracerProvider(resource=Resource.create(attributes), span_limits=limits)
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def make_spans(tracer, count: int = 1) -> None:
    for n in range(count):
        with (
            tracer.start_as_current_span("request", kind=SpanKind.SERVER, attributes={"n": n}),
            tracer.start_as_current_span("query"),
        ):
            pass


def test_batch_span_processor_with_environment_settings_routes_by_service(environment, receiver):
    exporter = HoneycombEventsExporter()
    processor = BatchSpanProcessor(exporter)
    checkout = provider_for("checkout", processor)
    payments = provider_for("  payments ", processor)
    nameless = provider_for(None, processor)
    make_spans(checkout.get_tracer("app"), 3)
    make_spans(payments.get_tracer("app"), 2)
    make_spans(nameless.get_tracer("app"), 1)
    assert processor.force_flush(10_000)
    checkout.shutdown()
    assert sorted(receiver.datasets()) == ["checkout", "payments", "unknown_service"]
    assert len(receiver.events("checkout")) == 6
    assert len(receiver.events("payments")) == 4
    assert len(receiver.events("unknown_service")) == 2
    assert all(r.path.startswith("/1/batch/") for r in receiver.requests)


def test_every_stored_field_is_what_the_mapping_builds(environment, receiver):
    memory = InMemorySpanExporter()
    exporter = HoneycombEventsExporter()
    provider = provider_for(
        "checkout",
        SimpleSpanProcessor(memory),
        SimpleSpanProcessor(exporter),
        limits=SpanLimits(max_span_attributes=5_000),
    )
    tracer = provider.get_tracer("opentelemetry.instrumentation.test", "0.1")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as parent:
        parent.set_attributes({"http.route": "/cart", "tags": ["a", "b"], "ratio": [0.5, 1.0]})
        with tracer.start_as_current_span(
            "charge",
            kind=SpanKind.CLIENT,
            links=[Link(parent.get_span_context(), {"why": "retry"})],
        ) as child:
            child.add_event("attempt", {"attempt": 1})
            child.set_attribute("sampleRate", 4)
            try:
                raise RuntimeError("card declined")
            except RuntimeError as error:
                child.record_exception(error)
                child.set_status(Status(StatusCode.ERROR, "card declined"))
        with tracer.start_as_current_span("odd values") as odd:
            odd.set_attributes(
                {"huge": "é" * 40_000, "nan": math.nan, "inf": -math.inf, "raw": b"\x00\xff"}
            )
        with tracer.start_as_current_span("wide") as wide:
            wide.set_attributes({f"attr{i:04d}": i for i in range(3_000)})
    provider.shutdown()

    encoder = BatchEncoder()
    expected = []
    for _, events in map_spans(memory.get_finished_spans()):
        for event in events:
            [wire] = encoder.encode_events([event], LimitTally())
            expected.append((msgspec.json.decode(wire)["data"], event.time, event.samplerate or 1))
    stored = [(e.data, e.time, e.samplerate) for e in receiver.events("checkout")]
    assert stored == expected
    assert receiver.stats.snapshot()["oversize_strings"] == 0

    by_name = {data["name"]: (data, rate) for data, _, rate in stored if "name" in data}
    charge, charge_rate = by_name["charge"]
    assert charge_rate == 4
    assert charge["error"] is True
    assert charge["exception.message"] == "card declined"
    assert by_name["attempt"][1] == 4  # span events carry the span's rate
    assert by_name["GET /cart"][0]["tags"] == '["a","b"]\n'
    assert by_name["GET /cart"][0]["ratio"] == "[0.5,1]\n"
    odd_values = by_name["odd values"][0]
    assert len(odd_values["huge"].encode()) == 65_534  # é is 2 bytes: cut on a boundary
    assert (odd_values["nan"], odd_values["inf"]) == ("NaN", "-Infinity")
    assert odd_values["raw"] == '"AP8="\n'
    wide_data = by_name["wide"][0]
    assert len(wide_data) == 2_000
    assert wide_data["trace.trace_id"] == charge["trace.trace_id"]
    assert wide_data["meta.dropped_fields"] > 1_000
    assert [data["meta.annotation_type"] for data, *_ in stored[:3]] == [
        "span_event",
        "span_event",
        "link",
    ]


def test_503_twice_then_success_delivers_each_event_exactly_once(environment, receiver):
    receiver.faults.push(Fault(status=503, times=2, path="batch"))
    memory = InMemorySpanExporter()
    provider = provider_for("svc", SimpleSpanProcessor(memory))
    make_spans(provider.get_tracer("app"), 5)
    exporter = HoneycombEventsExporter(retry=FAST_RETRY)
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    stored = receiver.events("svc")
    assert len(stored) == 10
    assert len({e.data["trace.span_id"] for e in stored}) == 10
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
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 2)
    exporter = HoneycombEventsExporter(retry=FAST_RETRY)
    with caplog.at_level(logging.DEBUG, logger="honeycomb_events"):
        assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
        assert len(receiver.requests) == 1
        assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "HONEYCOMB_API_KEY" in errors[0].getMessage()
    assert API_KEY not in caplog.text


def test_failed_events_make_the_export_fail_and_are_logged(environment, receiver, caplog):
    receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        result = HoneycombEventsExporter().export(memory.get_finished_spans())
    assert result is SpanExportResult.FAILURE
    assert "1 of 2 traces events to dataset 'svc' were not accepted (1 x 400)" in caplog.text


def test_a_classic_key_needs_a_dataset_and_uses_it(environment, receiver):
    environment.setenv("HONEYCOMB_API_KEY", CLASSIC_KEY)
    with pytest.raises(ConfigurationError, match="HONEYCOMB_TRACES_DATASET or HONEYCOMB_DATASET"):
        HoneycombEventsExporter()
    environment.setenv("HONEYCOMB_DATASET", "legacy-traces")
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    assert HoneycombEventsExporter().export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    assert receiver.datasets() == ["legacy-traces"]


def test_a_64_character_classic_ingest_key_is_recognised(environment):
    environment.setenv("HONEYCOMB_API_KEY", "hcaic_" + "0" * 58)
    with pytest.raises(ConfigurationError, match="classic key"):
        HoneycombEventsExporter()


def test_an_environment_key_ignores_the_dataset_variable_with_a_warning(
    environment, receiver, caplog
):
    environment.setenv("HONEYCOMB_DATASET", "ignored")
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        exporter = HoneycombEventsExporter()
    assert "HONEYCOMB_DATASET is ignored" in caplog.text
    exporter.export(memory.get_finished_spans())
    assert receiver.datasets() == ["svc"]


def test_an_explicit_dataset_always_wins(environment, receiver):
    environment.setenv("HONEYCOMB_TRACES_DATASET", "from-env")
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    HoneycombEventsExporter(dataset="explicit").export(memory.get_finished_spans())
    assert receiver.datasets() == ["explicit"]


def test_the_traces_key_variable_wins_over_the_general_one(environment):
    with Receiver(api_keys={"traces-key"}) as receiver:
        environment.setenv("HONEYCOMB_API_ENDPOINT", receiver.url)
        environment.setenv("HONEYCOMB_TRACES_APIKEY", "traces-key")
        memory = InMemorySpanExporter()
        make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
        assert (
            HoneycombEventsExporter().export(memory.get_finished_spans())
            is SpanExportResult.SUCCESS
        )


def test_shutdown_is_idempotent_and_later_exports_fail_without_a_request(environment, receiver):
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    exporter = HoneycombEventsExporter()
    exporter.shutdown()
    exporter.shutdown(timeout_millis=10)
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    assert len(receiver.requests) == 0
    assert exporter.force_flush() is True


def test_shutdown_ends_a_retry_backoff_at_once(environment, receiver):
    receiver.faults.push(Fault(status=503, times=100, path="batch"))
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    exporter = HoneycombEventsExporter(
        timeout=30, retry=RetryPolicy(initial_backoff=20, max_backoff=20)
    )
    results: list[SpanExportResult] = []
    worker = threading.Thread(
        target=lambda: results.append(exporter.export(memory.get_finished_spans()))
    )
    worker.start()
    while len(receiver.requests) < 1:
        time.sleep(0.01)
    started = time.monotonic()
    exporter.shutdown()
    worker.join(5)
    assert time.monotonic() - started < 0.5
    assert results == [SpanExportResult.FAILURE]


def test_a_backend_that_is_down_fails_the_export_at_once(environment, closed_port):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    environment.setenv("HONEYCOMB_TIMEOUT", "1")
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    exporter = HoneycombEventsExporter(retry=RetryPolicy(initial_backoff=0.1, max_backoff=0.2))
    started = time.monotonic()
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 0.6  # the longest export() waits for an answer
    exporter.shutdown()
    assert exporter.stats["requests_failed"] >= 1
    assert exporter.stats["events_lost_at_exit"] == exporter.stats["events_submitted"]


def test_concurrent_exports_from_several_threads_each_land_once(environment, receiver):
    exporter = HoneycombEventsExporter()
    batches = []
    for _ in range(4):
        memory = InMemorySpanExporter()
        make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 25)
        batches.append(memory.get_finished_spans())
    results: list[SpanExportResult] = []
    threads = [
        threading.Thread(target=lambda b=b: results.append(exporter.export(b))) for b in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SpanExportResult.SUCCESS] * 4
    stored = receiver.events("svc")
    assert len(stored) == 200
    assert len({e.data["trace.span_id"] for e in stored}) == 200


def test_an_exporter_keeps_working_in_a_forked_child(environment, receiver):
    memory = InMemorySpanExporter()
    make_spans(provider_for("svc", SimpleSpanProcessor(memory)).get_tracer("app"), 1)
    spans = memory.get_finished_spans()
    exporter = HoneycombEventsExporter()
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if exporter.export(spans) is SpanExportResult.SUCCESS else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(receiver.events("svc")) == 4


def test_the_exporter_repr_hides_the_key(environment):
    exporter = HoneycombEventsExporter()
    assert API_KEY not in repr(exporter)
    assert "redacted" in repr(exporter)


def test_a_slash_in_a_service_name_does_not_block_other_services(environment, receiver):
    memory = InMemorySpanExporter()
    processor = SimpleSpanProcessor(memory)
    make_spans(provider_for("team/checkout", processor).get_tracer("app"), 1)
    make_spans(provider_for("payments", processor).get_tracer("app"), 1)
    result = HoneycombEventsExporter().export(memory.get_finished_spans())
    assert result is SpanExportResult.SUCCESS
    assert sorted(receiver.datasets()) == ["payments", "team-checkout"]


def test_a_bad_dataset_argument_is_a_configuration_error(environment):
    with pytest.raises(ConfigurationError, match="the dataset argument"):
        HoneycombEventsExporter(dataset="a/b")


def test_an_ignored_dataset_variable_is_not_validated(environment, caplog):
    environment.setenv("HONEYCOMB_DATASET", "a/b")
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        HoneycombEventsExporter()
    assert "HONEYCOMB_DATASET is ignored" in caplog.text
    environment.setenv("HONEYCOMB_API_KEY", CLASSIC_KEY)
    with pytest.raises(ConfigurationError, match="HONEYCOMB_DATASET"):
        HoneycombEventsExporter()
