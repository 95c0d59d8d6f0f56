"""``send``: a file of JSON lines as events, through a buffered sender, with a summary."""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import logging
import os
import stat
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Final, TextIO

import msgspec

from honeycomb_events._buffered import BufferedSender
from honeycomb_events._client import HoneycombClient
from honeycomb_events._config import ApiKey, validate_dataset
from honeycomb_events._errors import ConfigurationError
from honeycomb_events._model import BatchEvent, EventResult, normalize_samplerate, normalize_time
from honeycomb_events._transport import NO_RESPONSE

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Commands,
    add_command,
    error,
    fail,
    json_decoder,
)
from ._keys import add_key_options, api_key

_WRAPPER_KEYS: Final = frozenset({"data", "time", "samplerate", "dataset", "time_ns"})
MAX_BAD_LINES_SHOWN: Final = 20
PROGRESS_EVERY_LINES: Final = 10_000
PROGRESS_MIN_BYTES: Final = 1024 * 1024
"""A regular file at least this large gets a progress line every 10 percent."""


class BadLine(ValueError):
    """A line of `send`'s input that is not an event."""


def parse_event_line(raw: bytes) -> BatchEvent | None:
    """One JSON line as an event; None for a blank line; `BadLine` saying why it is not one.

    A line is an event's fields, unless it has a ``data`` object and otherwise only ``time``,
    ``samplerate``, ``dataset`` and ``time_ns`` (what ``query --format jsonl`` and the
    receiver's control endpoint print): then it is ``{"data": ..., "time": ...,
    "samplerate": ...}``, and ``dataset`` and ``time_ns`` are ignored.
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark, as some editors write
    if not raw.strip():
        return None
    try:
        value = json_decoder.decode(raw)
    except msgspec.DecodeError as problem:
        raise BadLine(f"not valid JSON ({problem})") from None
    if not isinstance(value, dict):
        raise BadLine(f"a JSON {_json_kind(value)}, not an object of fields")
    data, when, samplerate = value, None, None
    if isinstance(value.get("data"), dict) and value.keys() <= _WRAPPER_KEYS:
        data, when, samplerate = value["data"], value.get("time"), value.get("samplerate")
    try:
        time_text = None if when is None else normalize_time(when)
    except (TypeError, ValueError) as problem:
        raise BadLine(f"bad time: {problem}") from None
    try:
        rate = None if samplerate is None else normalize_samplerate(samplerate)
    except (TypeError, ValueError) as problem:
        raise BadLine(f"bad samplerate: {problem}") from None
    return BatchEvent.trusted(data, time_text, rate)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


class _Tally:
    """Results from the sender's worker, and a bound on events in flight (backpressure)."""

    def __init__(self, in_flight: int) -> None:
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(in_flight)
        self.accepted = 0
        self.failed = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.fatal: str | None = None
        """Why sending the rest is pointless: a rejected key, an endpoint that never answered."""

    def reserve(self) -> None:
        self._slots.acquire()

    def release(self) -> None:
        self._slots.release()

    def on_result(self, event: BatchEvent, result: EventResult) -> None:
        with self._lock:
            if result.ok:
                self.accepted += 1
            else:
                self.failed += 1
                self.errors[f"{result.status or 'no response'}: {result.error}"] += 1
                self._check_fatal(result)
        self._slots.release()

    def _check_fatal(self, result: EventResult) -> None:
        reason = (result.error or "").lower()
        if result.status == 401 or (result.status == 400 and "key" in reason):
            self.fatal = self.fatal or "the API key was rejected"
        elif result.status == NO_RESPONSE and self.accepted == 0:
            self.fatal = self.fatal or "the endpoint did not answer"

    def lost(self, reason: str) -> None:
        with self._lock:
            self.failed += 1
            self.errors[reason] += 1
        self._slots.release()


class _Progress:
    """A progress line on stderr: every 10 percent of a large regular file, else every
    10,000 lines."""

    def __init__(self, err: TextIO, total_bytes: int | None) -> None:
        self._err = err
        self._total = total_bytes if total_bytes and total_bytes >= PROGRESS_MIN_BYTES else None
        self._next_percent = 10

    def update(self, lines: int, bytes_read: int, tally: _Tally) -> None:
        if self._total is not None:
            percent = bytes_read * 100 // self._total
            if percent < self._next_percent or percent >= 100:
                return
            self._next_percent = percent // 10 * 10 + 10
            where = f"{percent}% ({lines:,} lines)"
        elif lines % PROGRESS_EVERY_LINES == 0:
            where = f"{lines:,} lines"
        else:
            return
        error(self._err, "send", f"{where} read, {tally.accepted:,} accepted so far")


@dataclasses.dataclass
class _Reading:
    """The input, read a line at a time into the sender, and how far that got: for the
    messages, the summary and the exit status."""

    label: str
    """The input as messages name it: its path, or stdin."""
    err: TextIO
    lines: int = 0
    queued: int = 0
    bad: int = 0
    stopped: bool = False
    """Reading ended before the end of the input."""

    def read(
        self, stream: Iterable[bytes], progress: _Progress, sender: BufferedSender, tally: _Tally
    ) -> None:
        """Queue the events of `stream`, until its end or until sending the rest is
        pointless."""
        bytes_read = 0
        for lines, raw in enumerate(stream, start=1):
            self.lines = lines
            bytes_read += len(raw)
            try:
                event = parse_event_line(raw)
            except BadLine as problem:
                self._skip(problem)
                event = None
            if event is not None:
                _queue(sender, event, tally)
                self.queued += 1
            progress.update(lines, bytes_read, tally)
            if tally.fatal is not None:
                error(self.err, "send", f"{tally.fatal}: stopped reading after line {lines}")
                self.stopped = True
                return

    def _skip(self, problem: BadLine) -> None:
        """Count a bad line; show the first few, so a wrong file does not flood stderr."""
        self.bad += 1
        if self.bad <= MAX_BAD_LINES_SHOWN:
            error(self.err, "send", f"{self.label} line {self.lines}: {problem}; skipped")
        elif self.bad == MAX_BAD_LINES_SHOWN + 1:
            error(self.err, "send", "more bad lines: not shown, counted below")


@contextlib.contextmanager
def _open_input(name: str) -> Iterator[tuple[IO[bytes], int | None]]:
    """The input as bytes, and its size when it is a regular file."""
    if name == "-":
        yield sys.stdin.buffer, None
        return
    with open(name, "rb") as stream:
        info = os.fstat(stream.fileno())
        yield stream, info.st_size if stat.S_ISREG(info.st_mode) else None


class _OncePerMessage(logging.Filter):
    """Lets each distinct message of the library's logger through once: a rejected key is
    reported by every batch sent with it."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self._seen:
            return False
        self._seen.add(message)
        return True


def send(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Send JSON lines as events through a buffered sender; summarize what became of them."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        dataset = validate_dataset(args.dataset)
        key = api_key(args)
        # As an ApiKey, so that a rejection names the variable the key came from.
        client = HoneycombClient(api_key=key, endpoint=args.endpoint)
    except (ConfigurationError, ValueError) as problem:
        return fail(err, "send", str(problem), EXIT_USAGE)
    library_logger = logging.getLogger("honeycomb_events")
    once = _OncePerMessage()
    library_logger.addFilter(once)
    try:
        return _send(args, client, key=key, dataset=dataset, out=out, err=err)
    finally:
        library_logger.removeFilter(once)


def _send(
    args: argparse.Namespace,
    client: HoneycombClient,
    *,
    key: ApiKey,
    dataset: str,
    out: TextIO,
    err: TextIO,
) -> int:
    reading = _Reading("stdin" if args.file == "-" else args.file, err)
    tally = _Tally(in_flight=5_000)
    with client:
        sender = client.events.buffered(dataset, on_result=tally.on_result)
        try:
            with _open_input(args.file) as (stream, size):
                reading.read(stream, _Progress(err, size), sender, tally)
        except OSError as problem:
            if reading.queued == 0 and reading.bad == 0:
                message = f"cannot read {reading.label}: {problem.strerror}"
                return fail(err, "send", message, EXIT_USAGE)
            message = f"reading {reading.label} failed after line {reading.lines}"
            error(err, "send", f"{message}: {problem.strerror}")
            reading.stopped = True
        except KeyboardInterrupt:
            error(err, "send", f"interrupted after line {reading.lines}: sending what was read")
            reading.stopped = True
        _drain(sender, tally, err)
    for reason, count in tally.errors.most_common(5):
        error(err, "send", f"{count} events not accepted: {key.scrubbed(reason)}")
    out.write(
        f"sent {reading.queued} events: {tally.accepted} accepted, {tally.failed} failed, "
        f"{reading.bad} bad lines\n"
    )
    out.flush()
    return EXIT_FAILED if tally.failed or reading.bad or reading.stopped else EXIT_OK


def _drain(sender: BufferedSender, tally: _Tally, err: TextIO) -> None:
    """Wait for every queued event's result; once sending is pointless (a rejected key, an
    endpoint that never answered), fail what is still queued at once instead."""
    while not sender.flush(timeout=0.1):
        if tally.fatal is not None:
            error(err, "send", f"{tally.fatal}: the events still queued are not sent")
            break
    if tally.fatal is not None:
        sender.close(timeout=0)


def _queue(sender: BufferedSender, event: BatchEvent, tally: _Tally) -> None:
    """Queue one event, waiting while too many are in flight rather than dropping it."""
    tally.reserve()
    if sender.send_event(event):
        return
    # The queue's byte bound: wait for what is queued to be sent, then try once more.
    tally.release()
    sender.flush()
    tally.reserve()
    if not sender.send_event(event):
        tally.lost("not queued: the sender's queue stayed full")


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "send",
        send,
        "send JSON lines as events",
        "Send one event per JSON line, through a buffered sender configured from "
        "the environment (HONEYCOMB_API_KEY, HONEYCOMB_API_ENDPOINT, ...).",
    )
    parser.add_argument("file", metavar="FILE", help="a JSON-lines file, or - for stdin")
    parser.add_argument("--dataset", required=True, help="the dataset to send to")
    add_key_options(parser)
