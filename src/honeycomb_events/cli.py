"""The ``honeycomb-events`` command: a local receiver, tools to send, query and check, and a
demo that needs no account.

Exit statuses: 0 success; 1 a failure at run time (events not accepted, a bad input line, a
rejected key, an unreachable endpoint); 2 nothing was attempted because of the command line or
the configuration (argparse's own errors, a missing key, a file that cannot be opened).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import logging
import os
import random
import re
import signal
import sqlite3
import stat
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn, TextIO
from urllib.parse import quote

import httpx
import msgspec

from ._buffered import BufferedSender
from ._client import HoneycombClient
from ._config import ENV_API_KEY, ENV_ENDPOINT, ApiKey, Settings, resolve_settings, validate_dataset
from ._errors import ConfigurationError
from ._model import (
    BatchEvent,
    EventResult,
    normalize_samplerate,
    normalize_time,
    parse_rfc3339_ns,
)
from ._transport import _USER_AGENT, NO_RESPONSE, RetryPolicy, tls_verification
from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

    from .otel import HoneycombEventsExporter, HoneycombLogExporter, HoneycombMetricExporter

PROG: Final = "honeycomb-events"
DEFAULT_PORT = 8086

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2

_json_encoder: Final = msgspec.json.Encoder(enc_hook=str)
_json_decoder: Final = msgspec.json.Decoder()


def _error(err: TextIO, command: str, message: str) -> None:
    err.write(f"{PROG} {command}: {message}\n")
    err.flush()


def _fail(err: TextIO, command: str, message: str, code: int = EXIT_FAILED) -> int:
    _error(err, command, message)
    return code


def _require_receiver() -> None:
    """Exit with the install hint when the ``receiver`` extra is missing."""
    try:
        from . import receiver  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"{PROG}: {error}") from None


# serve ---------------------------------------------------------------------------------------


ENV_RECEIVER_API_KEYS: Final = "HONEYCOMB_RECEIVER_API_KEYS"
ENV_RECEIVER_ALLOWED_HOSTS: Final = "HONEYCOMB_RECEIVER_ALLOWED_HOSTS"


@dataclasses.dataclass(frozen=True)
class _ServeKeys:
    """The keys `serve` accepts (None: any non-blank key), and where they came from."""

    keys: frozenset[str] | None
    sources: tuple[str, ...] = ()


_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def _comma_list(text: str) -> list[str]:
    return [kept for part in text.split(",") if (kept := part.strip())]


def _key_file_lines(text: str) -> list[str]:
    """The keys of a keys file: one a line; blank lines and what follows ``#`` are skipped."""
    return [kept for line in text.splitlines() if (kept := line.split("#", 1)[0].strip())]


def _serve_keys(args: argparse.Namespace, environ: Mapping[str, str]) -> _ServeKeys:
    """Keys from ENV_RECEIVER_API_KEYS and --api-keys-file, never from the command line.

    Raises ConfigurationError for an unreadable file, or a setting that holds no key.
    """
    keys: set[str] = set()
    sources = []
    value = environ.get(ENV_RECEIVER_API_KEYS, "").strip()
    if value:
        keys.update(_comma_list(value))
        sources.append(ENV_RECEIVER_API_KEYS)
    if args.api_keys_file is not None:
        try:
            with open(args.api_keys_file, encoding="utf-8") as file:
                keys.update(_key_file_lines(file.read()))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read --api-keys-file: {error}") from None
        sources.append(args.api_keys_file)
    if sources and not keys:
        raise ConfigurationError(f"no API key in {' or '.join(sources)}")
    return _ServeKeys(frozenset(keys) if keys else None, tuple(sources))


def _refuse_key_argument(value: str) -> NoReturn:
    # Only the option is named: the value is the key, which must not be echoed.
    raise argparse.ArgumentTypeError(
        "keys are not taken on the command line, where `ps` shows them: set "
        f"{ENV_RECEIVER_API_KEYS}=KEY1,KEY2 or use --api-keys-file PATH"
    )


def serve(args: argparse.Namespace) -> int:
    """Run the Events-API-compatible receiver in the foreground until SIGINT or SIGTERM."""
    _require_receiver()
    from .receiver import Receiver

    try:
        served = _serve_keys(args, os.environ)
    except ConfigurationError as error:
        return _fail(sys.stderr, "serve", str(error), EXIT_USAGE)
    hosts = [*args.allow_host, *_comma_list(os.environ.get(ENV_RECEIVER_ALLOWED_HOSTS, ""))]
    try:
        receiver = Receiver(args.db, served.keys, args.host, args.port, allowed_hosts=hosts)
    except ValueError as error:
        message = f"--allow-host or {ENV_RECEIVER_ALLOWED_HOSTS}: {error}"
        return _fail(sys.stderr, "serve", message, EXIT_USAGE)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        # The first signal stops gracefully (requests in flight get about a second); a
        # second one, while that runs, cuts them off at once.
        receiver.request_stop(force=stopping.is_set())
        stopping.set()

    previous = {number: signal.signal(number, on_signal) for number in _STOP_SIGNALS}
    try:
        try:
            receiver.start()
        except OSError as error:
            return _fail(sys.stderr, "serve", f"cannot listen on {args.host}:{args.port}: {error}")
        _print_serving(args, receiver.url, served, hosts)
        # A timed wait, because on Windows an untimed one is not interrupted by Ctrl-C.
        while not stopping.wait(1.0):
            pass
    finally:
        receiver.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("receiver stopped")
    return EXIT_OK


def _print_serving(
    args: argparse.Namespace, url: str, served: _ServeKeys, hosts: Sequence[str]
) -> None:
    where = args.db or "memory (lost on exit; use --db to keep events)"
    print(f"honeycomb-events {__version__} receiver on {url}")
    print(f"storing events in {where}")
    print(f"send with: HONEYCOMB_API_ENDPOINT={url}")
    if served.keys is None:
        print("accepting any non-blank API key")
    else:
        count = len(served.keys)
        print(f"accepting {count} API key{'s' * (count != 1)} from {' and '.join(served.sources)}")
    if hosts:
        print(f"also answering to host names: {', '.join(hosts)}")
    sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# query ---------------------------------------------------------------------------------------

_RELATIVE_TIME: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TABLE_COLUMNS: Final = 8
"""The most columns `query` shows in a table, the time included."""
TABLE_CELL_WIDTH: Final = 40
"""The widest a table cell gets; longer values are cut, ending in an ellipsis."""


def parse_time_ns(text: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch for ``--since``/``--until``: RFC3339, ``now``, or a time
    ago such as ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (also ``500ms``, ``1.5h``)."""
    value = text.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if value.lower() == "now":
        return now
    match = _RELATIVE_TIME.fullmatch(value.lower())
    if match is not None:
        amount, unit = float(match.group(1)), match.group(2)
        return now - round(amount * _UNIT_SECONDS[unit] * 1e9)
    try:
        return parse_rfc3339_ns(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an RFC3339 time (2024-05-01T12:00:00Z) nor a time ago "
            "such as 15m, 2h or 1d"
        ) from None


def _time_argument(text: str) -> int:
    return parse_time_ns(text)


def _where_argument(text: str) -> tuple[str, bool, str]:
    """``FIELD=VALUE`` (equal) or ``FIELD!=VALUE`` (not equal, or missing)."""
    for operator, equal in (("!=", False), ("=", True)):
        field, found, value = text.partition(operator)
        if found and field:
            return field, equal, value
    raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=VALUE or FIELD!=VALUE")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of events")
    return value


def value_text(value: Any) -> str:
    """A field's value as ``--where`` compares it and the table shows it: strings as they
    are, everything else as JSON (``true``, ``200``, ``1.5``, ``null``, ``[1,2]``)."""
    if isinstance(value, str):
        return value
    return _json_encoder.encode(value).decode("utf-8")


def _matches(data: Mapping[str, Any], where: Sequence[tuple[str, bool, str]]) -> bool:
    for field, equal, expected in where:
        present = field in data and value_text(data[field]) == expected
        if present != equal:
            return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class _Row:
    time: str
    samplerate: int
    data: dict[str, Any]


class _QueryError(Exception):
    """A failure `query` reports on stderr, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _rows_from_db(
    path: str, dataset: str, since: int | None, until: int | None, limit: int | None
) -> tuple[list[_Row], list[str]]:
    from .receiver import EventStore

    try:
        store = EventStore.open_read_only(path)
    except ValueError as error:
        raise _QueryError(f"{path} is not a receiver's database: {error}", EXIT_USAGE) from None
    except sqlite3.Error as error:
        raise _QueryError(
            f"cannot read {path} as a receiver's database: {error}", EXIT_USAGE
        ) from None
    try:
        with store:
            events = store.events(dataset, since_ns=since, until_ns=until, limit=limit)
            known = store.datasets()
    except sqlite3.Error as error:
        raise _QueryError(f"cannot read {path} as a receiver's database: {error}") from None
    return [_Row(e.time, e.samplerate, e.data) for e in events], known


def _receiver_headers(key_variable: str | None) -> dict[str, str]:
    """A receiver given keys wants one on its control endpoints too: the key of
    ``--api-key-env`` (default ``HONEYCOMB_API_KEY``), when it is set."""
    key = os.environ.get(key_variable or ENV_API_KEY, "").strip()
    return {"X-Honeycomb-Team": key} if key else {}


def _rows_from_url(
    args: argparse.Namespace, since: int | None, until: int | None, limit: int | None
) -> tuple[list[_Row], list[str]]:
    params = {
        name: str(value)
        for name, value in (("since_ns", since), ("until_ns", until), ("limit", limit))
        if value is not None
    }
    base = args.url.rstrip("/")
    variable = args.api_key_env or ENV_API_KEY
    headers = _receiver_headers(variable)
    try:
        with httpx.Client(timeout=30.0, headers=headers) as http:
            response = http.get(
                f"{base}/_receiver/events/{quote(args.dataset, safe='')}",
                params=params,
            )
            if response.status_code == 401:
                done = "was not one of its keys" if headers else "was not set"
                raise _QueryError(
                    f"the receiver at {base} accepts only its own keys, and {variable} {done}: "
                    f"set {variable} to one of them (serve's HONEYCOMB_RECEIVER_API_KEYS)"
                )
            if response.status_code != 200:
                raise _QueryError(
                    f"{base} answered {response.status_code} to GET /_receiver/events: "
                    f"{response.text[:200]}"
                )
            items = _json_decoder.decode(response.content)
            known_response = http.get(f"{base}/_receiver/datasets")
            known = _json_decoder.decode(known_response.content)
    except httpx.HTTPError as error:
        raise _QueryError(
            f"cannot reach the receiver at {base} ({type(error).__name__}: {error}); "
            f"is `{PROG} serve` running there?"
        ) from None
    except msgspec.DecodeError:
        raise _QueryError(f"{base} did not answer with JSON: is it a {PROG} receiver?") from None
    if not isinstance(items, list) or not isinstance(known, list):
        raise _QueryError(f"{base} answered with an unexpected shape: is it a {PROG} receiver?")
    rows = [
        _Row(str(item.get("time")), int(item.get("samplerate") or 1), item.get("data") or {})
        for item in items
        if isinstance(item, dict)
    ]
    return rows, [str(name) for name in known]


def _escape_code(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_BIDI_CONTROLS: Final = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TERMINAL_ESCAPES: Final = {
    code: _escape_code(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_CONTROLS)
} | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
"""What a table never prints raw: C0 and C1 controls and DEL, which a terminal would obey
(titles, cursor moves, clearing the screen), and the bidi overrides and isolates, which
reorder what is shown; each is written as a visible escape."""
_JSON_ESCAPES: Final = {
    code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *_BIDI_CONTROLS)
}
"""What JSON may carry raw but a terminal would obey (JSON encoders escape C0 already);
only strings can hold them, where a \\u escape reads back as the same character."""


def _cell(value: Any) -> str:
    text = value_text(value).translate(_TERMINAL_ESCAPES)
    if len(text) > TABLE_CELL_WIDTH:
        return text[: TABLE_CELL_WIDTH - 1] + "…"
    return text


def _short_time(text: str) -> str:
    """``2024-05-01T12:00:00.123456789Z`` as ``2024-05-01T12:00:00.123Z``."""
    if len(text) == 30 and text.endswith("Z") and text[19] == ".":
        return text[:23] + "Z"
    return text


def choose_columns(rows: Sequence[_Row], width: int = TABLE_COLUMNS - 1) -> list[str]:
    """Up to `width` fields for the table: those whose value differs between events come
    first, then those that are the same in every event (a resource's service.name, the SDK's
    version); each group by how many events have the field, then in the order first seen."""
    counts: collections.Counter[str] = collections.Counter()
    first_value: dict[str, str] = {}
    varies: set[str] = set()
    for row in rows:
        counts.update(row.data.keys())
        for name, value in row.data.items():
            text = value_text(value)
            if first_value.setdefault(name, text) != text:
                varies.add(name)
    varies.update(name for name, count in counts.items() if count < len(rows))
    order = {name: index for index, name in enumerate(first_value)}
    ranked = sorted(counts, key=lambda name: (name not in varies, -counts[name], order[name]))
    return ranked[:width]


def render_table(rows: Sequence[_Row], columns: Sequence[str]) -> list[str]:
    header = [name.translate(_TERMINAL_ESCAPES) for name in ["time", *columns]]
    body = [
        [
            _short_time(row.time).translate(_TERMINAL_ESCAPES),
            *(_cell(row.data[c]) if c in row.data else "" for c in columns),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]


def _fetch(args: argparse.Namespace) -> tuple[list[_Row], list[str], str]:
    """The dataset's events (`--where` not applied yet), the known datasets, and where from."""
    # --where filters here, so the store's limit may only cut when nothing else does.
    limit = args.limit if not args.where else None
    if args.db is None:
        rows, known = _rows_from_url(args, args.since, args.until, limit)
        return rows, known, args.url
    if not os.path.isfile(args.db):
        raise _QueryError(
            f"no database at {args.db}; `{PROG} serve --db {args.db}` creates one", EXIT_USAGE
        )
    _require_receiver()
    rows, known = _rows_from_db(args.db, args.dataset, args.since, args.until, limit)
    return rows, known, args.db


def _write_rows(args: argparse.Namespace, rows: list[_Row], out: TextIO, err: TextIO) -> None:
    if args.format == "jsonl":
        for row in rows:
            line = {"time": row.time, "samplerate": row.samplerate, "data": row.data}
            out.write(_json_encoder.encode(line).decode("utf-8").translate(_JSON_ESCAPES) + "\n")
        return
    if args.fields:
        columns = [name.strip() for name in args.fields.split(",") if name.strip()]
    else:
        columns = choose_columns(rows)
    for text in render_table(rows, columns):
        out.write(text + "\n")
    hidden = {name for row in rows for name in row.data} - set(columns)
    if hidden and not args.fields:
        _error(
            err,
            "query",
            f"{len(rows)} events; {len(hidden)} more fields not shown "
            "(--fields a,b,c to choose them, --format jsonl for all)",
        )


def query(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print a dataset's events from a SQLite file written by ``serve --db``, or a receiver."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.db is None and args.url is None:
        return _fail(
            err,
            "query",
            "say where the events are: --db FILE (a database written by "
            f"`{PROG} serve --db FILE`) or --url URL (a running receiver, such as "
            f"http://127.0.0.1:{DEFAULT_PORT})",
            EXIT_USAGE,
        )
    try:
        rows, known, source = _fetch(args)
    except _QueryError as error:
        return _fail(err, "query", str(error), error.code)
    if args.dataset.lower() not in {name.lower() for name in known}:
        shown = ", ".join(repr(name) for name in known) or "none"
        _error(err, "query", f"no dataset {args.dataset!r} in {source} (datasets: {shown})")
        return EXIT_OK
    if args.where:
        rows = [row for row in rows if _matches(row.data, args.where)]
        rows = rows if args.limit is None else rows[: args.limit]
    if not rows:
        _error(err, "query", f"no events in {args.dataset!r} match")
        return EXIT_OK
    _write_rows(args, rows, out, err)
    out.flush()
    return EXIT_OK


# Configuration shared by send and check ------------------------------------------------------


def _api_key(args: argparse.Namespace) -> ApiKey:
    """The key from ``--api-key-env`` (default ``HONEYCOMB_API_KEY``), named by its variable."""
    variable = args.api_key_env or ENV_API_KEY
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(
            f"no Honeycomb API key: set {variable} to an ingest key from your Honeycomb "
            "environment's settings"
        )
    return ApiKey(value, variable)


def _settings(args: argparse.Namespace) -> Settings:
    """Settings as the client resolves them, the key named by the variable it came from."""
    key = _api_key(args)
    settings = resolve_settings(api_key=key.reveal(), endpoint=args.endpoint)
    return dataclasses.replace(settings, api_key=key)


# send ----------------------------------------------------------------------------------------

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
        value = _json_decoder.decode(raw)
    except msgspec.DecodeError as error:
        raise BadLine(f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise BadLine(f"a JSON {_json_kind(value)}, not an object of fields")
    data, when, samplerate = value, None, None
    if isinstance(value.get("data"), dict) and value.keys() <= _WRAPPER_KEYS:
        data, when, samplerate = value["data"], value.get("time"), value.get("samplerate")
    try:
        time_text = None if when is None else normalize_time(when)
    except (TypeError, ValueError) as error:
        raise BadLine(f"bad time: {error}") from None
    try:
        rate = None if samplerate is None else normalize_samplerate(samplerate)
    except (TypeError, ValueError) as error:
        raise BadLine(f"bad samplerate: {error}") from None
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
        error = (result.error or "").lower()
        if result.status == 401 or (result.status == 400 and "key" in error):
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
        self.shown = False

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
        self.shown = True
        _error(self._err, "send", f"{where} read, {tally.accepted:,} accepted so far")


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
        key = _api_key(args)
        client = HoneycombClient(api_key=key.reveal(), endpoint=args.endpoint)
    except (ConfigurationError, ValueError) as error:
        return _fail(err, "send", str(error), EXIT_USAGE)
    # Messages about a rejected key then name the variable the key came from.
    client.settings = dataclasses.replace(client.settings, api_key=key)
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
    label = "stdin" if args.file == "-" else args.file
    tally = _Tally(in_flight=5_000)
    bad = queued = lines = 0
    stopped = False
    with client:
        sender = client.events.buffered(dataset, on_result=tally.on_result)
        try:
            with _open_input(args.file) as (stream, size):
                progress = _Progress(err, size)
                bytes_read = 0
                for lines, raw in enumerate(stream, start=1):
                    bytes_read += len(raw)
                    try:
                        event = parse_event_line(raw)
                    except BadLine as problem:
                        bad += 1
                        if bad <= MAX_BAD_LINES_SHOWN:
                            _error(err, "send", f"{label} line {lines}: {problem}; skipped")
                        elif bad == MAX_BAD_LINES_SHOWN + 1:
                            _error(err, "send", "more bad lines: not shown, counted below")
                        event = None
                    if event is not None:
                        _queue(sender, event, tally)
                        queued += 1
                    progress.update(lines, bytes_read, tally)
                    if tally.fatal is not None:
                        _error(err, "send", f"{tally.fatal}: stopped reading after line {lines}")
                        stopped = True
                        break
        except OSError as error:
            if queued == 0 and bad == 0:
                return _fail(err, "send", f"cannot read {label}: {error.strerror}", EXIT_USAGE)
            _error(err, "send", f"reading {label} failed after line {lines}: {error.strerror}")
            stopped = True
        except KeyboardInterrupt:
            _error(err, "send", f"interrupted after line {lines}: sending what was read")
            stopped = True
        _drain(sender, tally, err)
    for reason, count in tally.errors.most_common(5):
        _error(err, "send", f"{count} events not accepted: {key.scrubbed(reason)}")
    out.write(
        f"sent {queued} events: {tally.accepted} accepted, {tally.failed} failed, {bad} bad lines\n"
    )
    out.flush()
    return EXIT_FAILED if tally.failed or bad or stopped else EXIT_OK


def _drain(sender: BufferedSender, tally: _Tally, err: TextIO) -> None:
    """Wait for every queued event's result; once sending is pointless (a rejected key, an
    endpoint that never answered), fail what is still queued at once instead."""
    while not sender.flush(timeout=0.1):
        if tally.fatal is not None:
            _error(err, "send", f"{tally.fatal}: the events still queued are not sent")
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


# check ---------------------------------------------------------------------------------------


def _printable(value: object) -> str:
    text = str(value)
    return "".join(c if c.isprintable() else "?" for c in text)[:200]


def _endpoint_source(args: argparse.Namespace) -> str:
    if args.endpoint:
        return "--endpoint"
    if os.environ.get(ENV_ENDPOINT, "").strip():
        return ENV_ENDPOINT
    return f"the default endpoint (set {ENV_ENDPOINT} for another)"


def _name_of(value: object) -> str | None:
    """The ``name`` (else ``slug``) of an /1/auth answer's ``team`` or ``environment``."""
    if not isinstance(value, dict):
        return None
    name = value.get("name") or value.get("slug")
    return str(name) if name else None


def check(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Ask ``GET /1/auth`` whether the configured key is valid; print team and environment."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = _settings(args)
    except ConfigurationError as error:
        return _fail(err, "check", str(error), EXIT_USAGE)
    key = settings.api_key
    out.write(f"endpoint: {settings.endpoint}\n")
    out.write(f"key from {key.source}\n")
    out.flush()
    try:
        with httpx.Client(
            verify=tls_verification(settings), timeout=settings.timeout, trust_env=True
        ) as http:
            response = http.get(
                f"{settings.endpoint}/1/auth",
                headers={"X-Honeycomb-Team": key.reveal(), "User-Agent": _USER_AGENT},
            )
    except httpx.HTTPError as error:
        return _fail(
            err,
            "check",
            f"cannot reach {settings.endpoint} ({type(error).__name__}: "
            f"{key.scrubbed(str(error)) or 'no details'}); check {_endpoint_source(args)}",
        )
    try:
        body = _json_decoder.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        body = None
    reason = body.get("error") if isinstance(body, dict) else None
    reason_text = key.scrubbed(_printable(reason or response.text or response.reason_phrase))
    if response.status_code in (400, 401, 403):
        return _fail(
            err,
            "check",
            f"{settings.endpoint} rejected the key from {key.source} "
            f"({response.status_code}: {reason_text}); set {key.source} to an ingest key "
            "from your Honeycomb environment's settings",
        )
    if response.status_code != 200 or not isinstance(body, dict):
        return _fail(
            err,
            "check",
            f"unexpected answer from {settings.endpoint}/1/auth: {response.status_code} "
            f"{reason_text[:200]}; is {_endpoint_source(args)} a Honeycomb API endpoint?",
        )
    team_name = _printable(_name_of(body.get("team")) or "(not given)")
    environment_name = _printable(_name_of(body.get("environment")) or "(none: a classic key)")
    access = body.get("api_key_access")
    out.write(f"team: {team_name}\n")
    out.write(f"environment: {environment_name}\n")
    if isinstance(access, dict):
        granted = sorted(str(name) for name, allowed in access.items() if allowed is True)
        out.write(f"access: {', '.join(granted) or 'none'}\n")
        if access.get("events") is not True:
            out.flush()
            return _fail(
                err,
                "check",
                f"the key from {key.source} is valid but may not send events; use an "
                "ingest key (or a key with the 'Send Events' permission)",
            )
    out.write("the key is valid\n")
    out.flush()
    return EXIT_OK


# demo ----------------------------------------------------------------------------------------

DEMO_SERVICE: Final = "demo-shop"
DEMO_METRICS_DATASET: Final = "demo-shop-metrics"
DEMO_KEY: Final = "demo-key"


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


def make_demo_exporters(
    api_key: str | None, endpoint: str | None
) -> tuple[HoneycombEventsExporter, HoneycombMetricExporter, HoneycombLogExporter]:
    """The three exporters, configured by arguments or, for None, the environment."""
    from .otel import HoneycombEventsExporter, HoneycombLogExporter, HoneycombMetricExporter

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


def run_otel_workload(
    exporters: tuple[HoneycombEventsExporter, HoneycombMetricExporter, HoneycombLogExporter],
    seed: int = 1,
) -> DemoWorkload:
    """An instrumented shop: four requests as traces (one failing), metrics and logs, sent
    through the real exporters; every provider is shut down, so everything is exported."""
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
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
    # The SDK's bridge from logging (deprecated in opentelemetry-sdk 1.45, still working), on
    # a logger of its own so nothing else of the process is exported.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        bridge = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    log = logging.getLogger("demo_shop")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(bridge)
    shop = _DemoShop(
        tracer_provider.get_tracer("demo_shop.handlers", __version__),
        meter_provider.get_meter("demo_shop", __version__),
        log,
        seed,
    )
    plan = [
        ("/checkout", "A-1001", False),
        ("/products", None, False),
        ("/checkout", "A-1002", True),
        ("/cart", None, False),
    ]
    trace_ids: list[str] = []
    failing = ""
    try:
        for route, order, fails in plan:
            trace_id = shop.handle(route, order, fails)
            trace_ids.append(trace_id)
            failing = trace_id if fails else failing
    finally:
        log.removeHandler(bridge)
        tracer_provider.shutdown()
        logger_provider.shutdown()
        meter_provider.shutdown()
    return DemoWorkload(
        trace_ids,
        failing,
        {
            "spans": span_exporter.stats,
            "metrics": metric_exporter.stats,
            "logs": log_exporter.stats,
        },
    )


def _describe(workload: DemoWorkload) -> str:
    parts = ", ".join(
        f"{name} {stats['events_accepted']}/{stats['events_submitted']}"
        for name, stats in workload.stats.items()
    )
    return (
        f"OpenTelemetry: {len(workload.trace_ids)} traces of service {DEMO_SERVICE!r} "
        f"through the exporters; events accepted: {parts}\n"
    )


def _demo_to_honeycomb(out: TextIO, err: TextIO, seed: int) -> int:
    if not os.environ.get(ENV_API_KEY, "").strip():
        return _fail(
            err,
            "demo",
            f"--to-honeycomb sends to your Honeycomb environment: set {ENV_API_KEY} to an "
            "ingest key (and HONEYCOMB_API_ENDPOINT for another region, such as "
            "https://api.eu1.honeycomb.io)",
            EXIT_USAGE,
        )
    try:
        exporters = make_demo_exporters(None, None)
    except ConfigurationError as error:
        return _fail(err, "demo", str(error), EXIT_USAGE)
    settings = exporters[0].settings
    out.write(
        f"sending the OpenTelemetry demo to {settings.endpoint} (key from "
        f"{settings.api_key.source}), not to a local receiver\n"
    )
    out.flush()
    workload = run_otel_workload(exporters, seed)
    out.write(_describe(workload))
    out.write(
        f"datasets: {DEMO_SERVICE!r} (spans and logs) and {DEMO_METRICS_DATASET!r} (metrics)\n"
    )
    out.write(f"failing trace: trace.trace_id = {workload.failing_trace_id} in {DEMO_SERVICE!r}\n")
    if workload.failed:
        return _fail(err, "demo", f"{workload.failed} events were not accepted (see above)")
    return EXIT_OK


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        signal.signal(signal.SIGTERM, previous)


def demo(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Start a receiver in this process, send a small workload through the client and the
    OpenTelemetry exporters, report; with --to-honeycomb, send the OpenTelemetry part to the
    configured endpoint instead."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.to_honeycomb:
        return _demo_to_honeycomb(out, err, args.seed)
    _require_receiver()
    from .receiver import Fault, Receiver

    rng = random.Random(args.seed)
    with Receiver() as receiver:
        out.write(f"local receiver: {receiver.url}\n")
        # One injected 503 shows the retry path: the batch still lands exactly once.
        receiver.faults.push(Fault(status=503, path="batch"))
        retry = RetryPolicy(initial_backoff=0.05)
        with HoneycombClient(api_key=DEMO_KEY, endpoint=receiver.url, retry=retry) as client:
            batch = [
                BatchEvent(
                    {
                        "endpoint": rng.choice(["/api/users", "/api/posts", "/api/comments"]),
                        "method": "GET",
                        "duration_ms": round(rng.lognormvariate(3, 0.6), 2),
                        "status_code": rng.choice([200] * 9 + [500]),
                    }
                )
                for _ in range(args.events)
            ]
            results = client.events.send_batch("demo-requests", batch)
            accepted = sum(result.ok for result in results)
            out.write(f"batch: {accepted}/{len(results)} accepted (after one retried 503)\n")

            with client.events.buffered("demo-logs", batch_size=50, flush_interval=0.5) as sender:
                for n in range(args.events):
                    sender.send({"level": "info", "message": f"request {n} handled", "n": n})
            buffered = sender.stats
            out.write(f"buffered sender: {buffered['accepted']} accepted\n")
            stats = client.stats

        workload = run_otel_workload(make_demo_exporters(DEMO_KEY, receiver.url), args.seed)
        out.write(_describe(workload))

        for dataset in receiver.datasets():
            events = receiver.events(dataset)
            traces = {e.data["trace.trace_id"] for e in events if "trace.trace_id" in e.data}
            in_traces = f" ({len(traces)} traces)" if traces else ""
            out.write(f"dataset {dataset!r}: {len(events)} events stored{in_traces}\n")
        sample = receiver.events("demo-requests", limit=1)[0]
        out.write(f"sample event: time={sample.time} data={sample.data}\n")
        out.write(
            f"client stats: {stats['requests']} requests, {stats['events_retried']} events "
            f"retried, {stats['events_failed']} failed\n"
        )
        out.write(
            f"failing trace (a declined payment): {workload.failing_trace_id}\n"
            f"open the trace view: {receiver.url}/trace/{workload.failing_trace_id}\n"
            f"list: {receiver.url}/\n"
        )
        ok = (
            accepted == len(results)
            and buffered["failed"] == 0
            and workload.failed == 0
            and workload.accepted > 0
        )
        if args.keep_running:
            out.write(f"the receiver keeps running at {receiver.url}; press Ctrl-C to stop\n")
            out.flush()
            _wait_for_interrupt()
            out.write("stopped\n")
        else:
            out.write("the receiver stops now: add --keep-running to keep it up for the pages\n")
        out.flush()
    return EXIT_OK if ok else EXIT_FAILED


# The parser ----------------------------------------------------------------------------------


def _add_key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        help="the Events API to use (default: HONEYCOMB_API_ENDPOINT, else "
        "https://api.honeycomb.io)",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help=f"read the key from this environment variable (default: {ENV_API_KEY}); "
        "the key is never accepted on the command line",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Send events to Honeycomb's Events API, or receive them locally.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser(
        "serve",
        help="run a local Events API receiver",
        description="Run a local Events API receiver until SIGINT or SIGTERM. API keys come "
        f"from {ENV_RECEIVER_API_KEYS} (comma-separated) or --api-keys-file, never from the "
        "command line; without any, every non-blank key is accepted.",
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve_parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="default: %(default)s; 0: a free port"
    )
    serve_parser.add_argument("--db", help="SQLite file to keep events in (default: memory)")
    serve_parser.add_argument(
        "--api-keys-file",
        metavar="PATH",
        help="accept only the keys in this file, one a line (# starts a comment)",
    )
    serve_parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name, such as a docker-compose "
        f"service name (repeatable; also {ENV_RECEIVER_ALLOWED_HOSTS}, comma-separated); "
        "localhost and IP addresses always are",
    )
    # Defined only to refuse it: argparse would otherwise take --api-key as an abbreviation
    # of --api-keys-file and echo the key in its "no such file" error.
    serve_parser.add_argument(
        "--api-key", type=_refuse_key_argument, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    serve_parser.set_defaults(run=serve)

    query_parser = commands.add_parser(
        "query",
        help="print a dataset's events from a receiver's database or a running receiver",
        description="Print a dataset's events, in the order they were stored.",
    )
    query_parser.add_argument("dataset", metavar="DATASET", help="dataset name (any casing)")
    source = query_parser.add_mutually_exclusive_group()
    source.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file written by `serve --db PATH` (read only, also while it is served)",
    )
    source.add_argument(
        "--url", metavar="URL", help=f"a running receiver, e.g. http://127.0.0.1:{DEFAULT_PORT}"
    )
    query_parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help=f"with --url: the variable holding one of the receiver's keys, if it was given "
        f"keys (default: {ENV_API_KEY})",
    )
    query_parser.add_argument(
        "--where",
        action="append",
        default=[],
        type=_where_argument,
        metavar="FIELD=VALUE",
        help="keep events whose field equals the value, compared as text "
        "(FIELD!=VALUE: differs or is missing); repeatable, all must hold",
    )
    query_parser.add_argument(
        "--since",
        type=_time_argument,
        metavar="TIME",
        help="events at or after TIME: RFC3339, or a time ago such as 15m, 2h, 1d",
    )
    query_parser.add_argument(
        "--until", type=_time_argument, metavar="TIME", help="events before TIME (as --since)"
    )
    query_parser.add_argument(
        "--limit", type=_non_negative, metavar="N", help="at most N events (the first stored)"
    )
    query_parser.add_argument(
        "--format", choices=["table", "jsonl"], default="table", help="default: %(default)s"
    )
    query_parser.add_argument(
        "--fields",
        metavar="A,B,...",
        help="the table's columns after the time (default: the most common fields, "
        f"up to {TABLE_COLUMNS - 1})",
    )
    query_parser.set_defaults(run=query)

    send_parser = commands.add_parser(
        "send",
        help="send JSON lines as events",
        description="Send one event per JSON line, through a buffered sender configured from "
        "the environment (HONEYCOMB_API_KEY, HONEYCOMB_API_ENDPOINT, ...).",
    )
    send_parser.add_argument("file", metavar="FILE", help="a JSON-lines file, or - for stdin")
    send_parser.add_argument("--dataset", required=True, help="the dataset to send to")
    _add_key_options(send_parser)
    send_parser.set_defaults(run=send)

    check_parser = commands.add_parser(
        "check",
        help="validate the configured API key",
        description="Ask the endpoint's /1/auth whether the configured key is valid, and "
        "print its team and environment (never the key).",
    )
    _add_key_options(check_parser)
    check_parser.set_defaults(run=check)

    demo_parser = commands.add_parser(
        "demo", help="send a sample workload (events, traces, metrics, logs) to a local receiver"
    )
    demo_parser.add_argument("--events", type=int, default=200, help="default: %(default)s")
    demo_parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    demo_parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the local receiver up until Ctrl-C, to open the printed pages",
    )
    demo_parser.add_argument(
        "--to-honeycomb",
        action="store_true",
        help=f"send the OpenTelemetry part to the endpoint configured by {ENV_API_KEY} and "
        "HONEYCOMB_API_ENDPOINT instead of a local receiver",
    )
    demo_parser.set_defaults(run=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
