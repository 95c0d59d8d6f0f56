"""How the exporters deliver while the backend fails (reliability.md, "An outage costs disk,
not spans"): export() does not wait on a failing backend, one probe at a time tests it, what
waits is bounded and counted, nothing the client can prevent arrives twice, and every failure
is said once on stderr."""

from __future__ import annotations

import logging
import time

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY


def finished_spans(count: int, service: str = "svc"):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("app")
    for n in range(count):
        with tracer.start_as_current_span("work", attributes={"n": n}):
            pass
    return memory.get_finished_spans()


def span_ids(receiver: Receiver, dataset: str = "svc") -> list[str]:
    return [event.data["trace.span_id"] for event in receiver.events(dataset)]


def test_an_answer_slower_than_the_timeout_is_waited_for_not_sent_twice(
    environment, receiver, tmp_path
):
    # The duplicate the soak found: the request was given up at HONEYCOMB_TIMEOUT while the
    # server still worked on it, and the spooled copy was sent again once it answered.
    environment.setenv("HONEYCOMB_TIMEOUT", "1")
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path / "spool"))
    receiver.faults.push(Fault(delay=2.5, path="batch"))
    exporter = HoneycombEventsExporter()
    began = time.monotonic()
    exporter.export(finished_spans(512))
    assert exporter.force_flush(10_000)
    exporter.export(finished_spans(1))  # a later batch: whatever waits is sent before it
    assert exporter.force_flush(10_000)
    exporter.shutdown()
    time.sleep(max(0.0, began + 3.0 - time.monotonic()))  # the stalled request is stored by now
    ids = span_ids(receiver)
    assert len(ids) == len(set(ids)) == 513
    assert exporter.stats["events_accepted"] == 513


def test_export_does_not_wait_while_the_backend_cannot_be_reached(environment, closed_port):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    exporter = HoneycombEventsExporter()
    spans = finished_spans(512)
    took, results = [], []
    for _ in range(20):
        began = time.monotonic()
        results.append(exporter.export(spans))
        took.append(time.monotonic() - began)
    exporter.shutdown()
    # The first export may wait for its answer (a refusal comes at once), or, a full batch of
    # a stream, be handed over before the refusal is known (the next two may wait for room
    # until it is); none waits for the probes' backoff, nor for a connection, and once the
    # refusal is known each says the backend is failing.
    assert set(results[-15:]) == {SpanExportResult.FAILURE}
    assert max(took[3:]) < 0.1, took
    assert max(took) < 0.5, took
    assert exporter.stats["outages"] == 1
    assert exporter.stats["requests"] <= 6  # probes, not one request per export


def test_without_a_spool_the_backlog_is_bounded_and_what_it_drops_is_counted(
    environment, receiver, capsys
):
    environment.setenv("HONEYCOMB_BACKLOG_MAX_BYTES", "65536")
    receiver.faults.push(Fault(status=503, times=1, path="batch"))
    receiver.faults.push(Fault(delay=1.0, path="batch"))  # the first probe stalls a while
    exporter = HoneycombEventsExporter()
    batches = [finished_spans(100) for _ in range(40)]
    for spans in batches:
        exporter.export(spans)
    assert exporter.force_flush(10_000)
    exporter.shutdown()
    stats = exporter.stats
    stored = len(span_ids(receiver))
    assert stats["events_dropped_backlog_full"] > 0
    assert stored + stats["events_dropped_backlog_full"] == 4000
    assert stats["events_accepted"] == stored
    err = capsys.readouterr().err
    assert err.count("events_dropped_backlog_full") == 1
    assert "set HONEYCOMB_SPOOL_DIR" in err


def test_a_retry_after_is_honoured_by_one_probe(environment, receiver):
    receiver.faults.push(Fault(status=429, retry_after="1", path="batch"))
    exporter = HoneycombEventsExporter()
    began = time.monotonic()
    exporter.export(finished_spans(10))
    for _ in range(5):  # exports while the backend asked to wait add no request
        exporter.export(finished_spans(10))
    assert exporter.force_flush(10_000)
    took = time.monotonic() - began
    exporter.shutdown()
    assert took >= 0.9
    # No second probe in the wait asked for: the probe is answered, then what waited is sent.
    assert [request.status for request in receiver.requests] == [429] + [200] * 6
    assert len(span_ids(receiver)) == 60


def test_a_backend_that_recovers_gets_the_spool_oldest_first(environment, receiver, tmp_path):
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path / "spool"))
    receiver.faults.push(Fault(status=503, times=3, path="batch"))
    exporter = HoneycombEventsExporter()
    batches = [finished_spans(5) for _ in range(6)]
    for spans in batches:
        exporter.export(spans)
    assert exporter.force_flush(15_000)
    exporter.shutdown()
    sent = [format(span.context.span_id, "016x") for spans in batches for span in spans]
    assert span_ids(receiver) == sent
    assert exporter.stats["events_spooled"] > 0


def test_at_shutdown_without_a_spool_one_line_counts_what_was_lost(
    environment, closed_port, capsys
):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    exporter = HoneycombEventsExporter()
    exporter.export(finished_spans(30))
    began = time.monotonic()
    exporter.shutdown()
    assert time.monotonic() - began < 2.0
    assert exporter.stats["events_lost_at_exit"] == 30
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "at shutdown" in line] == [
        "honeycomb-events: HoneycombEventsExporter: at shutdown, 30 events lost "
        "(set HONEYCOMB_SPOOL_DIR to keep such events on disk)"
    ]
    unreachable = [line for line in err if "did not answer" in line]
    assert len(unreachable) == 1
    assert (
        f"did not answer at http://127.0.0.1:{closed_port} (check HONEYCOMB_API_ENDPOINT): "
        in (unreachable[0])
    )


def test_each_kind_of_failure_reaches_stderr_once_even_with_a_logging_bridge(
    environment, receiver, capsys
):
    # A handler on the root logger that prints nowhere, as OTel's logging bridge is.
    bridge = logging.Handler()
    bridge.emit = lambda record: None  # type: ignore[method-assign]
    logging.getLogger().addHandler(bridge)
    try:
        receiver.faults.push(Fault(event_statuses=(400,), times=3, path="batch"))
        receiver.faults.push(Fault(status=401, error=f"unknown API key {API_KEY}", times=3))
        exporter = HoneycombEventsExporter()
        for _ in range(3):
            exporter.export(finished_spans(2))
        for _ in range(3):
            exporter.export(finished_spans(2))
        exporter.shutdown()
    finally:
        logging.getLogger().removeHandler(bridge)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert "2 of 2 traces events to dataset 'svc' were not accepted (2 x 400)" in lines[0]
    assert "rejected the API key from HONEYCOMB_API_KEY" in lines[1]
    assert API_KEY not in err
    assert all(line.startswith("honeycomb-events: ") for line in lines)


def test_quiet_keeps_stderr_silent_and_the_logs_still_hear(environment, closed_port, capsys):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    environment.setenv("HONEYCOMB_QUIET", "true")
    records: list[logging.LogRecord] = []
    listener = logging.Handler()
    listener.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("honeycomb_events").addHandler(listener)
    try:
        exporter = HoneycombEventsExporter()
        exporter.export(finished_spans(3))
        exporter.shutdown()
    finally:
        logging.getLogger("honeycomb_events").removeHandler(listener)
    assert capsys.readouterr().err == ""
    messages = [record.getMessage() for record in records if record.levelno >= logging.WARNING]
    assert any("did not answer" in message for message in messages)
    assert any("at shutdown, 3 events lost" in message for message in messages)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(event_statuses=(400,), error=f"bad event for key {API_KEY}", path="batch"),
        Fault(status=400, error=f"bad request with key {API_KEY}", path="batch"),
    ],
)
def test_a_key_echoed_by_the_server_is_never_stored_in_results_nor_logged(
    environment, receiver, make_client, caplog, fault
):
    receiver.faults.push(fault, fault)
    with caplog.at_level(logging.DEBUG):
        results = make_client().events.send_batch("svc", [{"n": 1}])
        exporter = HoneycombEventsExporter()
        exporter.export(finished_spans(2))
        exporter.shutdown()
    assert "<redacted>" in (results[0].error or "")
    assert "<redacted>" in caplog.text
    assert API_KEY not in f"{results} {caplog.text}"
