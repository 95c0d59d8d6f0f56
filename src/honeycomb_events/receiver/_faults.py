"""Fault injection: make the receiver fail the way Honeycomb (or the network) sometimes does.

A test pushes `Fault` rules onto the receiver's `FaultPlan`; each ``/1/batch`` or ``/1/events``
request that passes the key check consumes one use of the first rule matching its path.
"""

from __future__ import annotations

import contextvars
import dataclasses
import http
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, get_args

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

PathKind: TypeAlias = Literal["batch", "events", "any"]
"""Which endpoint a fault applies to: ``/1/batch``, ``/1/events``, or either."""

_PATH_KINDS: Final = frozenset(get_args(PathKind))

_DEFAULT_ERRORS: Final[Mapping[int, str]] = {
    400: "request body is malformed and cannot be read",
    401: "unknown API key - check your credentials",
    403: "event dropped due to administrative throttling",
    404: "not found",
    413: "request body is too large",
    429: "request dropped due to rate limiting",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def default_error(status: int) -> str:
    """The Honeycomb-like error text the receiver gives `status` when a fault names none."""
    known = _DEFAULT_ERRORS.get(status)
    if known is not None:
        return known
    try:
        return http.HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"


def _check_status(value: object, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 599:
        raise ValueError(f"{what} must be an HTTP status from {low} to 599, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure. The fields combine: a delay happens first, then the outcome.

    - `status`: answer the whole request with this status and ``{"error": error}``; nothing
      is stored.
    - `event_statuses`: answer 200, giving the events these statuses in order (cycling when
      the batch is longer). Events given 202 go through the receiver's normal checks and are
      stored; the others are not and carry `error` (or a default text for their status). On
      ``/1/events`` the first status decides: 202 means normal handling.
    - `delay`: seconds to stall before answering, without blocking other requests.
    - `drop_connection`: close the connection after the response head, without a body; the
      client sees a protocol error. Nothing is stored.
    - `retry_after`: adds a ``Retry-After`` header with this value to the response.
    - `times`: how many requests the rule applies to; `path`: which endpoint it applies to.

    At most one of `status`, `event_statuses` and `drop_connection` may be set; a rule with
    none of them (a delay, or a Retry-After header) lets the request be handled normally.
    """

    status: int | None = None
    error: str | None = None
    event_statuses: tuple[int, ...] | None = None
    delay: float = 0.0
    drop_connection: bool = False
    retry_after: str | None = None
    times: int = 1
    path: PathKind = "any"

    def __post_init__(self) -> None:
        if self.status is not None:
            _check_status(self.status, "status", 300)
        if self.event_statuses is not None:
            statuses = tuple(self.event_statuses)
            if not statuses:
                raise ValueError("event_statuses must hold at least one status")
            for status in statuses:
                _check_status(status, "each of event_statuses", 200)
            object.__setattr__(self, "event_statuses", statuses)
        outcomes = sum(
            (self.status is not None, self.event_statuses is not None, self.drop_connection)
        )
        if outcomes > 1:
            raise ValueError("set at most one of status, event_statuses and drop_connection")
        if (
            isinstance(self.delay, bool)
            or not isinstance(self.delay, (int, float))
            or not math.isfinite(self.delay)
            or self.delay < 0
        ):
            raise ValueError(f"delay must be a finite number of seconds >= 0, not {self.delay!r}")
        if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
            raise ValueError(f"times must be an integer >= 1, not {self.times!r}")
        if self.path not in _PATH_KINDS:
            raise ValueError(f"path must be one of {sorted(_PATH_KINDS)}, not {self.path!r}")
        if self.retry_after is not None and not _is_header_value(self.retry_after):
            raise ValueError("retry_after must be a one-line header value")
        if self.error is not None and not isinstance(self.error, str):
            raise ValueError("error must be a string")

    def error_for(self, status: int) -> str:
        """The error text this fault gives a response or an event with `status`."""
        return self.error if self.error is not None else default_error(status)

    def event_status(self, index: int) -> int | None:
        """The status injected for the event at `index` of a batch, if any."""
        if self.event_statuses is None:
            return None
        return self.event_statuses[index % len(self.event_statuses)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form accepted by `from_dict` and served by ``GET /_receiver/faults``."""
        out = dataclasses.asdict(self)
        if self.event_statuses is not None:
            out["event_statuses"] = list(self.event_statuses)
        return out

    @classmethod
    def from_dict(cls, value: object) -> Fault:
        """A fault from its JSON form; `ValueError` names what is wrong."""
        if not isinstance(value, Mapping):
            raise ValueError("a fault must be a JSON object")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in value if key not in names)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        kwargs = dict(value)
        statuses = kwargs.get("event_statuses")
        if statuses is not None:
            if not isinstance(statuses, list):
                raise ValueError("event_statuses must be a list of HTTP statuses")
            kwargs["event_statuses"] = tuple(statuses)
        if not isinstance(kwargs.get("drop_connection", False), bool):
            raise ValueError("drop_connection must be true or false")
        for text_field in ("error", "retry_after"):
            if kwargs.get(text_field) is not None and not isinstance(kwargs[text_field], str):
                raise ValueError(f"{text_field} must be a string")
        return cls(**kwargs)


def _is_header_value(text: object) -> bool:
    return isinstance(text, str) and text.isprintable() and text.isascii()


@dataclass(slots=True)
class _Rule:
    fault: Fault
    uses_left: int


class FaultPlan:
    """A first-in, first-out list of fault rules. Safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def push(self, *faults: Fault) -> None:
        """Append rules; each applies to its next `times` matching requests."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        with self._lock:
            self._rules.extend(_Rule(fault, fault.times) for fault in faults)

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[Fault]:
        """The rules still to apply, in order, each with `times` set to its uses left."""
        with self._lock:
            return [dataclasses.replace(rule.fault, times=rule.uses_left) for rule in self._rules]

    def take(self, path_kind: Literal["batch", "events"]) -> Fault | None:
        """Consume one use of the first rule matching `path_kind`, and return that rule."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.fault.path in ("any", path_kind):
                    rule.uses_left -= 1
                    if rule.uses_left <= 0:
                        del self._rules[index]
                    return rule.fault
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def __repr__(self) -> str:
        return f"FaultPlan({self.pending()!r})"


# Set by a dropped-connection fault in the task that serves the request, so the log filter
# can hide uvicorn's complaint about that one response and no other.
_dropping: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "honeycomb_events_receiver_dropping", default=False
)


class DroppedConnection(Response):
    """A response head promising 1,000 bytes of body, and then nothing.

    uvicorn closes the connection when the application returns with its response incomplete,
    so the client sees the connection end mid-response, as when a proxy or server dies.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _dropping.set(True)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"1000"),
                ],
            }
        )


class IncompleteResponseFilter(logging.Filter):
    """Hides uvicorn's "returned without completing response" error for injected drops only.

    Install it on the ``uvicorn.error`` logger; the same error from any other response is a bug
    and stays visible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _dropping.get() and str(record.msg).startswith("ASGI callable returned without")
        )
