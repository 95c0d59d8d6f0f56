"""Exceptions a caller can catch; none of them ever carries the API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._model import EventResult


class HoneycombError(Exception):
    """Base class of every error raised by honeycomb-events."""


class ConfigurationError(HoneycombError, ValueError):
    """A setting is missing or has a value that cannot work.

    The message names the constructor argument or environment variable to change.
    """


class AuthenticationError(HoneycombError):
    """Honeycomb (or the local receiver) rejected the API key.

    Retrying cannot help: the message names the setting that supplied the key. `results`
    holds each event's result when the rejection came during a send (events of an earlier
    request of the same batch may have been accepted).
    """

    def __init__(self, message: str, *, status: int, key_source: str) -> None:
        super().__init__(message)
        self.status = status
        self.key_source = key_source
        self.results: list[EventResult] | None = None


class ClientClosedError(HoneycombError, RuntimeError):
    """The client or sender was used after `close()`."""
