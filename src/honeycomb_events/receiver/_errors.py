"""How the receiver says no: Honeycomb's error texts and body, and the exception that ends a
request (or one event of a batch) with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.responses import JSONResponse


class ErrorText:
    """The ``error`` texts the receiver answers with.

    Where Honeycomb documents a text (events-api.md) it is used verbatim; the others follow its
    style.
    """

    INVALID_KEY: Final = "event has an invalid key"
    UNKNOWN_KEY: Final = "unknown API key - check your credentials"
    BODY_TOO_LARGE: Final = "request body is too large"
    BODY_EMPTY: Final = "request body should not be empty"
    MALFORMED: Final = "request body is malformed and cannot be read"
    TOO_MANY_ITEMS: Final = "request body holds too many values"
    NO_DATA: Final = "event has no data"
    TOO_MANY_COLUMNS: Final = "event has too many columns"
    EVENT_TOO_LARGE: Final = "event is too large"
    DATASET_TOO_MANY_COLUMNS: Final = "dataset has too many columns"
    BAD_SAMPLERATE: Final = "event samplerate is malformed and cannot be read"
    OTLP_PROTOBUF_ONLY: Final = "OTLP requests must be protobuf (application/x-protobuf)"


class Reject(Exception):
    """Ends a request (or, in a batch, one event) with a Honeycomb-style error."""

    def __init__(self, status: int, text: str, counter: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.counter = counter


class _Disconnected(Exception):
    """The client went away before its body was read."""


def error_response(
    status: int, text: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Honeycomb's error body, ``{"error": text}``, with `status`."""
    return JSONResponse({"error": text}, status_code=status, headers=headers)
