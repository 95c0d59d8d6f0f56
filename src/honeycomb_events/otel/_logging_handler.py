"""`HoneycombLoggingHandler`: Python `logging` records to Honeycomb log events, without the
OpenTelemetry logs SDK.

The handler only builds an event and queues it; a `BufferedSender` sends from its own thread.
Two rules keep it from feeding on itself: records of the loggers the sending uses
(``honeycomb_events``, ``httpx``, ``httpcore``) are never sent, and neither is any record made
in the sender's thread or while the handler is already handling a record in the same thread.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import traceback
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import trace

from honeycomb_events._assembly import assemble
from honeycomb_events._buffered import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_QUEUE_SIZE,
    BufferedSender,
)
from honeycomb_events._config import resolve_settings
from honeycomb_events._datasets import routing
from honeycomb_events._model import BatchEvent, epoch_to_ns, format_time_ns
from honeycomb_events._presend import PresendHook, pipeline
from honeycomb_events._transport import RetryPolicy
from honeycomb_events._transport_stats import PRESEND_COUNTERS

from .mapping._common import record_dropped
from .mapping._logs import PROTECTED_FIELDS, severity_name
from .mapping._reading import span_id_hex, trace_id_hex
from .mapping._sampling import event_sample_rate
from .mapping._values import Counts, add_value

OWN_LOGGERS: Final = frozenset({"honeycomb_events", "httpx", "httpcore"})
"""Loggers (with their children) whose records the handler never sends: sending logs to them."""

SEVERITY_TEXTS: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}
"""Python level names the OTel SDK renames to the OTel spelling; others are kept."""

STANDARD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime"}
"""What every `logging.LogRecord` has: not an "extra" attribute."""

ENV_SERVICE_NAME: Final = "OTEL_SERVICE_NAME"


def level_severity(levelno: int) -> int:
    """The OTel severity number of a Python level, as the OTel SDK maps it: DEBUG (10) is 5,
    INFO 9, WARNING 13, ERROR 17, CRITICAL 21; each of the three levels above one adds 1; below
    10 is 0 (unspecified), above 53 is 24."""
    if levelno < logging.DEBUG:
        return 0
    if levelno > logging.CRITICAL + 3:
        return 24
    tens, units = divmod(levelno, 10)
    return (tens - 1) * 4 + 5 + min(units, 3)


def logging_record_to_event(
    record: logging.LogRecord,
    body: str,
    span_context: trace.SpanContext | None,
    shared: Mapping[str, Any],
    counts: Counts | None = None,
) -> BatchEvent:
    """The event of one Python log record: `body` is its formatted message, `span_context`
    the span current where it was logged, `shared` the handler's own fields (service.name).

    Merge order, later wins: fixed fields, `shared`, the record's standard attributes, then
    its extra attributes, converted as any attribute value is (`add_value`: a dict flattened,
    a list as JSON text; what has no text dropped, counted in `counts` and in
    ``meta.dropped_fields``).
    """
    number = level_severity(record.levelno)
    fields: dict[str, Any] = {
        "severity": severity_name(number),
        "severity_code": number,
        "meta.signal_type": "log",
        "flags": 0,
    }
    if span_context is not None and span_context.is_valid:
        fields["flags"] = int(span_context.trace_flags)
        fields["trace.trace_id"] = trace_id_hex(span_context.trace_id)
        fields["meta.annotation_type"] = "span_event"
        fields["trace.parent_id"] = span_id_hex(span_context.span_id)
    fields["severity_text"] = SEVERITY_TEXTS.get(record.levelname, record.levelname)
    fields["body"] = body
    fields.update(shared)
    for key, value in (
        ("logger.name", record.name),
        ("code.filepath", record.pathname),
        ("code.lineno", record.lineno),
        ("code.function", record.funcName),
        ("thread.name", record.threadName),  # None when logging.logThreads is off
        ("process.pid", record.process),  # None when logging.logProcesses is off
    ):
        if value is not None:
            fields[key] = value
    exc_info = record.exc_info
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        fields["exception.type"] = exc_info[0].__name__
        fields["exception.message"] = str(exc_info[1])
        fields["exception.stacktrace"] = "".join(traceback.format_exception(*exc_info))
    dropped = 0
    for key, value in vars(record).items():
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
            dropped += add_value(
                fields, key, value, collections.Counter() if counts is None else counts
            )
    if dropped:
        record_dropped(fields, dropped, None)

    samplerate = event_sample_rate(fields)
    return BatchEvent.trusted(fields, format_time_ns(epoch_to_ns(record.created)), samplerate)


_OWN_COUNTS: Final = ("ignored", "errors", "values_dropped", "values_cut", "surrogates_replaced")


class HoneycombLoggingHandler(logging.Handler):
    """A `logging.Handler` that sends records to Honeycomb as log events, in batches, from a
    background thread, for programs that do not use the OpenTelemetry logs SDK.

    `emit` never waits on the network: it queues the event. When `max_queue_size` events wait,
    new ones are dropped and counted (``stats["dropped_queue_full"]``). `flush()` and `close()`
    send what is queued, each within `timeout` seconds (default: the send timeout). A record
    logged inside an OpenTelemetry span is linked to it, as a span event.

    `api_key` falls back to ``HONEYCOMB_LOGS_APIKEY`` then ``HONEYCOMB_API_KEY``, `endpoint` to
    ``HONEYCOMB_LOGS_ENDPOINT`` then ``HONEYCOMB_API_ENDPOINT``, `service_name` to
    ``OTEL_SERVICE_NAME``, `timeout` (seconds for one send, retries included) to
    ``HONEYCOMB_TIMEOUT``. The dataset is `dataset`, else the service name, else
    ``HONEYCOMB_LOGS_DATASET`` then ``HONEYCOMB_DATASET``, else ``unknown_log_source``.

    `presend` is called, in the sending thread, with the fields of each record's event, and
    returns them, changed or not, or None to drop the event; ``HONEYCOMB_REDACT_FIELDS`` and
    ``HONEYCOMB_DROP_EVENTS`` apply after it (docs/presend.md).
    """

    def __init__(
        self,
        api_key: str | None = None,
        dataset: str | None = None,
        endpoint: str | None = None,
        *,
        level: int | str = logging.NOTSET,
        service_name: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        presend: PresendHook | None = None,
    ) -> None:
        super().__init__(level)
        self.settings = resolve_settings(
            api_key=api_key, endpoint=endpoint, timeout=timeout, signal="logs", dataset=dataset
        )
        if service_name is None:
            service_name = os.environ.get(ENV_SERVICE_NAME, "").strip() or None
        self.service_name = service_name
        self._shared: dict[str, Any] = (
            {} if service_name is None else {"service.name": service_name}
        )
        # Every record shares the handler's resource: one dataset for all of them.
        self.dataset = routing("logs", self.settings).dataset_for(self._shared)
        self._transport = assemble(
            self.settings, retry=retry, protected_fields=PROTECTED_FIELDS
        ).transport()
        self._presend = pipeline(presend, self._transport.stats, type(self).__name__, rules=True)
        self._sender = BufferedSender(
            self._transport,
            self.dataset,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            presend=self._presend,
        )
        self._handling = threading.local()
        self._counts_lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dataset={self.dataset!r}, "
            f"level={logging.getLevelName(self.level)}, api_key={self.settings.api_key!r})"
        )

    @property
    def stats(self) -> dict[str, int]:
        """The sender's counts (queued, dropped_queue_full, dropped_queue_bytes, dropped_closed,
        accepted, failed), plus ``ignored`` (records the recursion guard kept out),
        ``errors`` (records that could not be turned into an event, reported through
        `handleError`), and what converting extra attributes did (``values_dropped``,
        ``values_cut``, ``surrogates_replaced``; limits.md, "Attribute values"). With a
        presend hook or rules, also ``dropped_presend`` and what they did (``PRESEND_COUNTERS``:
        ``events_dropped_presend`` and the rest, docs/presend.md)."""
        with self._counts_lock:
            own = {name: self._counts[name] for name in _OWN_COUNTS}
        if self._presend is not None:
            sent = self._transport.stats.snapshot()
            own.update((name, sent[name]) for name in PRESEND_COUNTERS)
        return self._sender.stats | own

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    def is_own_record(self, record: logging.LogRecord) -> bool:
        """True for a record the handler must not send, lest sending it make more records:
        one of `OWN_LOGGERS`, or made in the sender's thread, or made while this thread is
        already in `emit`."""
        return (
            record.name.partition(".")[0] in OWN_LOGGERS
            or threading.current_thread() is self._sender._worker
            or getattr(self._handling, "active", False)
        )

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit `record`, without the handler's lock: `emit` is thread-safe, and
        the lock is held by `logging.shutdown` while it flushes, which waits on the sender's
        thread, whose own records (ignored) must not wait on that lock."""
        if self.is_own_record(record):
            self._count("ignored")
            return False
        result: object = self.filter(record)
        if isinstance(result, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = result
        if not result:
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Queue `record` as an event; never blocks on the network and never raises."""
        if self.is_own_record(record):
            self._count("ignored")
            return
        self._handling.active = True
        try:
            body = self.format(record) if self.formatter else record.getMessage()
            span_context = trace.get_current_span().get_span_context()
            counts: Counts = collections.Counter()
            self._sender.send_event(
                logging_record_to_event(record, body, span_context, self._shared, counts)
            )
            if counts:
                with self._counts_lock:
                    self._counts.update(counts)
        except RecursionError:  # as logging's own handlers do: this one is the caller's
            raise
        except Exception:
            self._count("errors")
            self.handleError(record)
        finally:
            self._handling.active = False

    def flush(self, timeout: float | None = None) -> None:
        """Send every event queued so far; wait at most `timeout` seconds (default: the send
        timeout). What is not sent in time stays queued."""
        self._sender.flush(self.settings.timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued and stop, within about `timeout` seconds (default: the send
        timeout); events not sent by then count as failed. Later records are dropped and
        counted as ``dropped_closed``. Safe to call more than once."""
        self._sender.close(self.settings.timeout if timeout is None else timeout)
        # Ends a retry backoff still running in the sender's thread.
        self._transport.close()
        super().close()
