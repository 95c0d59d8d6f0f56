"""Exports in a stream (Courier.deliver): a full batch of the SDK's processor is handed over
without waiting for its answer, so that the exporting thread maps the next batch while this
one travels; the exporter then holds two batches at most, and the next batch that is not full
waits for every answer ahead of its own (what `provider.force_flush()` ends with)."""

from __future__ import annotations

import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events.receiver import Fault

from .test_delivery import finished_spans, span_ids

# Long beside what the receiver itself takes to store 512 events on a loaded machine (0.1-0.2 s),
# so that "waited for one answer" (< 1.75 x) and "waited for its own" (>= 2 x) stay apart.
ANSWER_DELAY = 0.4


def test_full_batches_do_not_wait_for_their_answers(environment, receiver):
    receiver.faults.push(Fault(delay=ANSWER_DELAY, path="batch", times=4))
    exporter = HoneycombEventsExporter()
    batches = [finished_spans(512) for _ in range(4)]
    took = []
    for batch in batches:
        began = time.monotonic()
        assert exporter.export(batch) is SpanExportResult.SUCCESS
        took.append(time.monotonic() - began)
    # The first two are handed over at once (one in flight, one next in line); each later
    # one waits for room, one answer, never for its own answer.
    assert max(took[:2]) < ANSWER_DELAY / 2, took
    assert all(t < ANSWER_DELAY * 1.75 for t in took[2:]), took
    # A batch that is not full waits for its own answer, behind all of theirs.
    last = finished_spans(3)
    assert exporter.export(last) is SpanExportResult.SUCCESS
    assert len(span_ids(receiver)) == 4 * 512 + 3
    exporter.shutdown()


def test_a_stream_holds_two_batches_at_most(environment, receiver):
    # Answers well within EXPORT_WAIT: a request older than that is a stall, behind which
    # batches go to the bounded backlog instead (a loaded machine adds its own delay).
    receiver.faults.push(Fault(delay=ANSWER_DELAY / 5, path="batch", times=6))
    exporter = HoneycombEventsExporter()
    for _ in range(6):
        exporter.export(finished_spans(512))
        courier = exporter._courier
        with courier._cond:
            held = len(courier._queue) + (courier._in_flight is not None)
        assert held <= 2
    assert exporter.force_flush(10_000)
    assert len(span_ids(receiver)) == 6 * 512
    exporter.shutdown()


def test_a_rejected_event_in_a_stream_is_logged_and_counted(environment, receiver, caplog):
    receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
    exporter = HoneycombEventsExporter()
    assert exporter.export(finished_spans(512)) is SpanExportResult.SUCCESS  # on its way
    assert exporter.force_flush(10_000)
    assert exporter.stats["events_failed"] == 256
    assert "256 of 512 traces events to dataset 'svc' were not accepted" in caplog.text
    exporter.shutdown()


def test_the_batch_size_variable_says_what_a_full_batch_is(environment, receiver):
    environment.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100")
    receiver.faults.push(Fault(delay=ANSWER_DELAY, path="batch"))
    exporter = HoneycombEventsExporter()
    began = time.monotonic()
    exporter.export(finished_spans(100))
    assert time.monotonic() - began < ANSWER_DELAY / 2
    assert exporter.force_flush(10_000)
    exporter.shutdown()


def test_provider_force_flush_delivers_a_stream_that_ends_in_a_partial_batch(environment, receiver):
    # What a serverless function does before it returns: the SDK's force_flush exports what
    # its processor holds and does not call the exporter's own force_flush.
    receiver.faults.push(Fault(delay=0.2, path="batch", times=3))
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    exporter = HoneycombEventsExporter()
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=4096, schedule_delay_millis=60_000)
    )
    tracer = provider.get_tracer("app")
    for n in range(1200):
        with tracer.start_as_current_span("work", attributes={"n": n}):
            pass
    assert provider.force_flush()
    assert len(span_ids(receiver)) == 1200
    provider.shutdown()


def test_a_full_batch_of_log_records_streams_too(environment, receiver):
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from honeycomb_events import HoneycombLogExporter

    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("app")
    for n in range(512):
        logger.emit(body=f"record {n}")
    records = memory.get_finished_logs()
    receiver.faults.push(Fault(delay=ANSWER_DELAY, path="batch"))
    exporter = HoneycombLogExporter()
    began = time.monotonic()
    assert exporter.export(records).name == "SUCCESS"
    assert time.monotonic() - began < ANSWER_DELAY / 2
    assert exporter.force_flush(10_000)
    assert len(receiver.events("svc")) == 512
    exporter.shutdown()


def test_batches_that_wait_for_the_backend_hold_their_bodies_only(environment, receiver):
    # The first batch fails as a whole and waits to be sent again; later ones wait behind it.
    # Each holds its compressed body and its events' offsets, not its raw bytes: the one
    # that failed held them twice (its own, made again to be re-encoded, and the copy's),
    # about 1.2 MB for 512 spans, and each offset was a Python int.
    import gc
    import tracemalloc

    receiver.faults.push(Fault(status=503, path="batch", times=1_000))
    exporter = HoneycombEventsExporter()
    batches = [finished_spans(512) for _ in range(9)]
    exporter.export(batches[0])  # what a first export makes once (caches, the compressor)
    gc.collect()
    tracemalloc.start()
    try:
        for batch in batches[1:]:
            exporter.export(batch)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exporter.stats["events_backlogged"] + exporter.stats["events_failed"] > 0
    body_sizes = 8 * 512 * 60  # about 60 bytes a span once compressed
    assert held < body_sizes + 8 * 25_000, held  # 1.25 MB before, 0.29 MB now
    receiver.faults.clear()
    exporter.shutdown()
