"""Resolved settings into the parts that send: the one place the events client, the exporters
and the logging handler get their encoder and transports from."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TypedDict

import httpx

from ._config import Settings
from ._encode import BatchEncoder
from ._notices import notice
from ._transport import AsyncTransport, RetryPolicy, Transport, TransportStats


@dataclass(frozen=True, slots=True)
class Assembly:
    """What one sender is built of: its settings, one encoder, one retry policy and one set of
    counters, shared by every transport made from them (the client makes a sync and an async
    one). Each transport keeps the settings' spool, when one is configured."""

    settings: Settings
    encoder: BatchEncoder
    retry: RetryPolicy
    stats: TransportStats

    def transport(
        self, http_transport: httpx.BaseTransport | None = None, *, one_sender: bool = False
    ) -> Transport:
        """A transport for threads; `http_transport` replaces httpx's network (tests). One for
        `one_sender` posts over one direct connection (see `Transport`)."""
        return Transport(
            self.settings, one_sender=one_sender, http_transport=http_transport, **self._shared()
        )

    def async_transport(
        self, http_transport: httpx.AsyncBaseTransport | None = None
    ) -> AsyncTransport:
        """A transport for asyncio, sharing this assembly's encoder, retry policy and counters."""
        return AsyncTransport(self.settings, http_transport=http_transport, **self._shared())

    def _shared(self) -> _Shared:
        return {"retry": self.retry, "encoder": self.encoder, "stats": self.stats}


class _Shared(TypedDict):
    """What every transport of one assembly shares."""

    retry: RetryPolicy
    encoder: BatchEncoder
    stats: TransportStats


def assemble(
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    protected_fields: Collection[str] = (),
) -> Assembly:
    """The parts `settings` make: an encoder of their encoding and compression, which keeps
    `protected_fields` longest when an event is over the size limit; `retry` (default: the
    default `RetryPolicy`); and fresh counters. The entries of ``HONEYCOMB_HEADERS`` that
    were left out are said here, once each in a process: every sender is assembled here."""
    if settings.headers is not None:
        for why in settings.headers.ignored:
            notice(f"header ignored {why}", why)
    encoder = BatchEncoder(
        settings.encoding, settings.compression, protected_fields=protected_fields
    )
    return Assembly(settings, encoder, retry or RetryPolicy(), TransportStats())
