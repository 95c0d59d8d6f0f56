"""HoneycombLoggingHandler: real `logging` calls, the local receiver on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider

from honeycomb_events import ConfigurationError, HoneycombLoggingHandler, RetryPolicy
from honeycomb_events.otel._logging_handler import level_severity
from honeycomb_events.receiver import Fault

from .conftest import API_KEY, FAST_RETRY


@pytest.fixture
def make_handler(environment):
    """Handlers with fast retries, attached to the logger ``app`` (which then keeps its records
    to itself); closed, and the logger restored, afterwards."""
    made: list[tuple[HoneycombLoggingHandler, logging.Logger, int, bool]] = []

    def make(logger_name: str = "app", **options):
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("flush_interval", 60)
        handler = HoneycombLoggingHandler(**options)
        logger = logging.getLogger(logger_name)
        made.append((handler, logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
        return handler, logger

    yield make
    for handler, logger, level, propagate in made:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        handler.close(timeout=5)


class Captured(logging.Handler):
    """Keeps the records it sees, to compare them with what arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_logging_call_becomes_an_event_with_every_field(make_handler, receiver):
    handler, logger = make_handler(service_name="checkout")
    captured = Captured()
    logger.addHandler(captured)
    try:
        raise ValueError("bad card")
    except ValueError:
        logger.error(
            "charge %s failed",
            "A-1",
            exc_info=True,
            extra={
                "order.id": "A-1",
                "amount": 19.99,
                "retry": 2,
                "vip": True,
                "items": ["a"],  # as an array attribute: JSON text
                "customer": {"id": 7, "tier": "gold"},  # as a map attribute: flattened
                "handle": object(),  # no text of its own: dropped, counted
                "_private": "x",  # private by convention: left out
            },
        )
    logger.removeHandler(captured)
    handler.close()
    [event] = receiver.events("checkout")
    [record] = captured.records
    data = event.data
    assert data["severity"] == "error"
    assert data["severity_code"] == 17
    assert data["severity_text"] == "ERROR"
    assert data["body"] == "charge A-1 failed"
    assert data["meta.signal_type"] == "log"
    assert data["service.name"] == "checkout"
    assert data["logger.name"] == "app"
    assert data["code.filepath"] == __file__
    assert data["code.lineno"] == record.lineno
    assert data["code.function"] == "test_a_logging_call_becomes_an_event_with_every_field"
    assert data["thread.name"] == threading.current_thread().name
    assert data["process.pid"] == os.getpid()
    assert data["exception.type"] == "ValueError"
    assert data["exception.message"] == "bad card"
    assert data["exception.stacktrace"].startswith("Traceback (most recent call last):")
    assert data["exception.stacktrace"].endswith("ValueError: bad card\n")
    assert (data["order.id"], data["amount"], data["retry"], data["vip"]) == ("A-1", 19.99, 2, True)
    assert data["items"] == '["a"]\n'
    assert (data["customer.id"], data["customer.tier"]) == (7, "gold")
    assert "handle" not in data
    assert data["meta.dropped_fields"] == 1
    assert handler.stats["values_dropped"] == 1
    assert "_private" not in data
    assert data["flags"] == 0
    for field in ("trace.trace_id", "trace.parent_id", "meta.annotation_type"):
        assert field not in data
    assert event.time_ns == round(record.created * 1e6) * 1000
    assert event.samplerate == 1


def test_a_record_logged_inside_a_span_is_linked_to_it(make_handler, receiver):
    handler, logger = make_handler(service_name="checkout")
    with TracerProvider().get_tracer("tests").start_as_current_span("charge") as span:
        logger.warning("slow gateway")
    handler.close()
    [event] = receiver.events("checkout")
    context = span.get_span_context()
    assert event.data["trace.trace_id"] == format(context.trace_id, "032x")
    assert event.data["trace.parent_id"] == format(context.span_id, "016x")
    assert event.data["meta.annotation_type"] == "span_event"
    assert event.data["flags"] == int(context.trace_flags)
    assert event.data["severity_text"] == "WARN"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.DEBUG, (5, "debug", "DEBUG")),
        (logging.INFO, (9, "info", "INFO")),
        (logging.WARNING, (13, "warn", "WARN")),
        (logging.ERROR, (17, "error", "ERROR")),
        (logging.CRITICAL, (21, "fatal", "FATAL")),
        (5, (0, "unspecified", None)),  # severity_text: the level's name, whatever it is
    ],
)
def test_python_levels_map_as_the_otel_sdk_maps_them(make_handler, receiver, level, expected):
    handler, logger = make_handler(service_name="svc")
    logger.setLevel(1)
    logger.log(level, "x")
    handler.close()
    [event] = receiver.events("svc")
    code, severity, text = expected
    assert (event.data["severity_code"], event.data["severity"]) == (code, severity)
    assert event.data["severity_text"] == (text or logging.getLevelName(level))


@pytest.mark.parametrize(
    ("levelno", "code"),
    [(0, 0), (9, 0), (10, 5), (13, 8), (19, 8), (21, 10), (33, 16), (45, 20), (53, 24), (99, 24)],
)
def test_levels_between_the_named_ones(levelno, code):
    assert level_severity(levelno) == code


def test_a_formatter_formats_the_body_and_a_sample_rate_extra_is_the_rate(make_handler, receiver):
    handler, logger = make_handler(service_name="svc")
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.info("hello %s", "world", extra={"sampleRate": 10})
    handler.close()
    [event] = receiver.events("svc")
    assert event.data["body"] == "[INFO] hello world"
    assert event.samplerate == 10
    assert "sampleRate" not in event.data


@pytest.mark.parametrize(
    ("arguments", "variables", "dataset"),
    [
        ({"service_name": "checkout"}, {"HONEYCOMB_DATASET": "general"}, "checkout"),
        ({}, {"OTEL_SERVICE_NAME": " payments "}, "payments"),
        ({"service_name": "team/checkout"}, {}, "team-checkout"),
        ({}, {"HONEYCOMB_LOGS_DATASET": "logs", "HONEYCOMB_DATASET": "general"}, "logs"),
        ({}, {"HONEYCOMB_DATASET": "general"}, "general"),
        ({"service_name": "unknown_service:python"}, {"HONEYCOMB_DATASET": "g"}, "g"),
        ({}, {}, "unknown_log_source"),
        ({"dataset": "explicit", "service_name": "svc"}, {"HONEYCOMB_DATASET": "g"}, "explicit"),
    ],
)
def test_datasets_follow_the_logs_rule(environment, receiver, arguments, variables, dataset):
    for name, value in variables.items():
        environment.setenv(name, value)
    handler = HoneycombLoggingHandler(**arguments)
    assert handler.dataset == dataset
    handler.handle(logging.LogRecord("app", logging.INFO, __file__, 1, "x", None, None))
    handler.close()
    assert receiver.datasets() == [dataset]


def test_bad_datasets_are_configuration_errors(environment):
    with pytest.raises(ConfigurationError, match="the dataset argument"):
        HoneycombLoggingHandler(dataset="a/b")
    environment.setenv("HONEYCOMB_LOGS_DATASET", "a/b")
    with pytest.raises(ConfigurationError, match="HONEYCOMB_LOGS_DATASET"):
        HoneycombLoggingHandler()


def test_close_delivers_everything_queued(make_handler, receiver):
    handler, logger = make_handler(service_name="svc", batch_size=100)
    for n in range(2_000):
        logger.info("line %d", n)
    handler.close(timeout=10)
    stored = receiver.events("svc")
    assert sorted(int(e.data["body"].split()[1]) for e in stored) == list(range(2_000))
    assert handler.stats == {
        "queued": 2_000,
        "dropped_queue_full": 0,
        "dropped_queue_bytes": 0,
        "dropped_closed": 0,
        "accepted": 2_000,
        "failed": 0,
        "ignored": 0,
        "errors": 0,
        "values_dropped": 0,
        "values_cut": 0,
        "surrogates_replaced": 0,
    }
    assert all(r.event_count <= 100 for r in receiver.requests)
    logger.info("after close")
    assert handler.stats["dropped_closed"] == 1


def test_flush_sends_without_closing(make_handler, receiver):
    handler, logger = make_handler(service_name="svc")
    logger.info("one")
    handler.flush()
    assert len(receiver.events("svc")) == 1
    logger.info("two")
    handler.flush()
    assert len(receiver.events("svc")) == 2


def test_a_full_queue_drops_new_records_and_counts_them(make_handler, receiver):
    receiver.faults.push(Fault(delay=0.5, path="batch"))
    handler, logger = make_handler(service_name="svc", batch_size=5, max_queue_size=5)
    started = time.monotonic()
    for n in range(100):
        logger.info("line %d", n)
    assert time.monotonic() - started < 0.4  # emit never waited for the slow receiver
    handler.close(timeout=5)
    stats = handler.stats
    assert stats["dropped_queue_full"] >= 85
    assert stats["queued"] + stats["dropped_queue_full"] == 100
    assert stats["accepted"] == stats["queued"] == len(receiver.events("svc"))


def test_emit_never_raises_and_reports_a_bad_record(make_handler, monkeypatch, receiver):
    monkeypatch.setattr(logging, "raiseExceptions", False)
    handler, logger = make_handler(service_name="svc")
    logger.info("%d apples", "three")  # cannot be formatted
    logger.info("fine")
    handler.close()
    assert handler.stats["errors"] == 1
    assert [e.data["body"] for e in receiver.events("svc")] == ["fine"]


def test_a_record_made_while_emitting_is_ignored(make_handler, receiver):
    class ChattyFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            logging.getLogger("app.formatter").warning("formatting %s", record.msg)
            return super().format(record)

    handler, logger = make_handler(service_name="svc")
    handler.setFormatter(ChattyFormatter())
    logger.info("once")
    handler.close()
    assert [e.data["body"] for e in receiver.events("svc")] == ["once"]
    assert handler.stats["ignored"] == 1


def test_a_record_made_in_the_senders_thread_is_ignored(make_handler, receiver):
    handler, logger = make_handler(service_name="svc")
    sender_thread_names = []
    send_batch = handler._transport.send_batch

    def logging_send_batch(*args, **kwargs):
        sender_thread_names.append(threading.current_thread().name)
        logger.warning("from the sender's thread")  # not a package logger
        return send_batch(*args, **kwargs)

    handler._transport.send_batch = logging_send_batch
    logger.info("app record")
    handler.close()
    assert sender_thread_names
    assert sender_thread_names[0].startswith("honeycomb-events-sender-")
    assert [e.data["body"] for e in receiver.events("svc")] == ["app record"]
    assert handler.stats["ignored"] == 1


def test_a_receiver_that_is_down_makes_the_handler_drop_with_a_count_not_hang_or_recurse(
    environment, closed_port, monkeypatch
):
    environment.setenv("HONEYCOMB_API_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    handler = HoneycombLoggingHandler(
        service_name="svc",
        timeout=0.3,
        retry=RetryPolicy(initial_backoff=0.01, max_backoff=0.05),
        batch_size=50,
        max_queue_size=200,
        flush_interval=0.05,
    )
    queued_from: list[str] = []
    send_event = handler._sender.send_event

    def recording_send_event(event):
        queued_from.append(event.data["logger.name"])
        return send_event(event)

    monkeypatch.setattr(handler._sender, "send_event", recording_send_event)
    # Every logger's records reach the handler, httpx's and httpcore's debug records included.
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore", "honeycomb_events")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    app = logging.getLogger("tests.receiver_down")
    try:
        for n in range(1_000):
            app.info("line %d", n)
        time.sleep(0.3)  # let the sender fail a few batches, logging as it goes
        started = time.monotonic()
        handler.close(timeout=1)
        assert time.monotonic() - started < 1.5
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    # A batch on the wire when close gave up reports its result when its request ends.
    deadline = time.monotonic() + 2
    while handler.stats["accepted"] + handler.stats["failed"] < handler.stats["queued"]:
        assert time.monotonic() < deadline, handler.stats
        time.sleep(0.01)
    stats = handler.stats
    assert stats["queued"] + stats["dropped_queue_full"] + stats["dropped_closed"] == 1_000
    assert stats["dropped_queue_full"] > 0
    assert stats["accepted"] == 0
    assert stats["failed"] == stats["queued"]
    assert set(queued_from) == {"tests.receiver_down"}
    assert stats["ignored"] > 0  # the sender's own records arrived and were kept out
    assert handler._transport.stats.snapshot()["requests_failed"] >= 1


def test_the_handler_repr_hides_the_key(environment):
    handler = HoneycombLoggingHandler(service_name="svc")
    try:
        assert API_KEY not in repr(handler)
        assert "redacted" in repr(handler)
        assert "'svc'" in repr(handler)
    finally:
        handler.close()
