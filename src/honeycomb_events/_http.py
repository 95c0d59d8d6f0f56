"""What `Transport` and `AsyncTransport` share: the requests they make (URLs, headers, TLS, the
timeout httpx gets), the plan of each send (a `Delivery` with its one `Deadline`), the log
filter that keeps httpx quiet about this package's own requests, and a fresh start for every
transport in a forked child.

The filter and the fork hook are installed when the first transport is made, not on import.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import platform
import re
import ssl
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Final, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from ._config import Settings, validate_dataset
from ._deadline import Deadline
from ._delivery import DEADLINE_TEXT, Closed, Delivery
from ._encode import BatchEncoder, EncodedEvents
from ._limits import LimitTally
from ._model import BatchEvent
from ._once import once
from ._request_options import ClientCertificate, load_client_certificate
from ._retry import RetryPolicy
from ._spool import Spool
from ._transport_stats import TransportStats
from ._version import __version__

USER_AGENT: Final = (
    f"honeycomb-events/{__version__} httpx/{httpx.__version__} python/{platform.python_version()}"
)
"""The ``User-Agent`` of every request this package makes (`check` sends it too), before the
settings' `user_agent_addition`."""


def identity_headers(settings: Settings) -> dict[str, str]:
    """What every request of `settings` says of who sends it: the user's headers, the key,
    the ``User-Agent``. The user's come first: none has the name of one of ours
    (`PROTECTED_HEADERS`)."""
    return {
        **dict(settings.headers.items() if settings.headers else ()),
        "X-Honeycomb-Team": settings.api_key.reveal(),
        "User-Agent": user_agent(settings),
    }


def user_agent(settings: Settings) -> str:
    """The ``User-Agent`` of `settings`' requests: the addition after a space, as libhoney's."""
    addition = settings.user_agent_addition
    return USER_AGENT if addition is None else f"{USER_AGENT} {addition}"


_CERTIFICATE_ALERT: Final = re.compile(
    r"ALERT_(?:BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_\w+|UNKNOWN_CA)"
)
"""A TLS alert from the server about the certificate we presented."""

_OWN_REQUEST: Final = contextvars.ContextVar("honeycomb_events_own_request", default=False)


class _QuietOwnRequests(logging.Filter):
    """Drops httpx's per-request log line for this package's own requests.

    A logging bridge that exports logs through this package (OTel's `LoggingHandler` on the
    root logger at INFO) would otherwise turn each export's "HTTP Request" line into a record
    to export, and so on forever. The application's own httpx requests still log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not _OWN_REQUEST.get()


def tls_verification(settings: Settings) -> ssl.SSLContext:
    """httpx's `verify`, and the direct connection's context: certificates are always
    verified, against the configured CA bundle, else httpx's default (certifi's, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``); the client certificate, if any, is presented.

    One context per process, CA bundle and client certificate, shared by every transport: each
    would otherwise load the bundle again, about 6 MiB apiece. An endpoint without TLS gets a
    context that trusts nothing, so that no bundle is loaded: its client follows no redirect
    and makes no TLS connection, and one it made would fail verification.
    """
    if urlsplit(settings.endpoint).scheme == "http":
        return _trusting_nothing()
    environment = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _verifying(settings.ca_bundle, environment, settings.client_certificate)


@functools.cache
def _trusting_nothing() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, and no certificate is trusted


@functools.cache
def _verifying(
    ca_bundle: str | None,
    environment: tuple[str | None, str | None],
    client_certificate: ClientCertificate | None,
) -> ssl.SSLContext:
    """A verifying context; `environment` is only the cache's key: httpx reads it."""
    if ca_bundle is None:
        context = httpx.create_ssl_context()
    else:
        context = ssl.create_default_context(cafile=ca_bundle)
    if client_certificate is not None:
        load_client_certificate(context, client_certificate)
    return context


def request_timeout(deadline: Deadline) -> float:
    """httpx's timeout for one request: what is left of the send's deadline (httpx applies it
    to each network wait). With nothing left, the request is a timeout without being made."""
    remaining = deadline.remaining()
    if remaining <= 0:
        raise httpx.ReadTimeout(DEADLINE_TEXT)
    return remaining


_HttpT = TypeVar("_HttpT", httpx.BaseTransport, httpx.AsyncBaseTransport)


class TransportBase(Generic[_HttpT]):
    """What both transports share: settings, encoder, headers, URLs, and the delivery plan."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        encoder: BatchEncoder | None = None,
        stats: TransportStats | None = None,
        http_transport: _HttpT | None = None,
    ) -> None:
        _install_process_hooks()
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.encoder = encoder or BatchEncoder(settings.encoding, settings.compression)
        self.stats = stats or TransportStats()
        self._endpoint = settings.endpoint.rstrip("/")
        self._batch_headers = {
            **identity_headers(settings),
            # Honeycomb's answers are small; a compressed one is only a risk (see
            # `bounded_decoding`).
            "Accept-Encoding": "identity",
            **self.encoder.headers,
        }
        self._single_headers = self._batch_headers | {"Content-Type": "application/json"}
        self._http_transport: _HttpT | None = http_transport
        spool = settings.spool
        self.spool: Spool | None = (
            None
            if spool is None
            else Spool(spool.directory, max_bytes=spool.max_bytes, max_age=spool.max_age)
        )
        self._reset_connections(closed=False)
        _LIVE_TRANSPORTS.add(self)

    def _reset_connections(self, *, closed: bool) -> None:
        """Fresh locks, shutdown flag and (lazily) connection pool; after a fork too."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self._endpoint!r}, api_key={self.settings.api_key!r})"
        )

    def _client_options(self) -> dict[str, Any]:
        """httpx's client arguments: redirects are not followed, TLS is always verified."""
        return {
            "transport": self._http_transport,
            "follow_redirects": False,
            "verify": tls_verification(self.settings),
        }

    @contextlib.contextmanager
    def _request_scope(self) -> Iterator[None]:
        """Around one request: httpx logs nothing of it, and the error httpx raises when
        `close()` overtakes it is `Closed`."""
        token = _OWN_REQUEST.set(True)
        try:
            yield
        except RuntimeError as error:  # httpx: "the client has been closed"
            if self.closed:
                raise Closed from error
            raise
        finally:
            _OWN_REQUEST.reset(token)

    def _hinted(self, error: httpx.TransportError) -> httpx.TransportError:
        """`error`, naming the setting to fix when the server asked for a client certificate
        or refused ours (its TLS alert says so; one of ours would say what we refused)."""
        text = str(error)
        certificate = self.settings.client_certificate
        if "ALERT_CERTIFICATE_REQUIRED" in text:
            hint = (
                "the server asks for a client certificate: set HONEYCOMB_CLIENT_CERTIFICATE "
                "and HONEYCOMB_CLIENT_KEY"
            )
        elif certificate is not None and _CERTIFICATE_ALERT.search(text):
            hint = f"the server refused the client certificate of {certificate.source}"
        else:
            return error
        return type(error)(f"{text} ({hint})")

    def _url(self, kind: str, dataset: str) -> str:
        return f"{self._endpoint}/1/{kind}/{quote(validate_dataset(dataset), safe='')}"

    def _deadline(self, timeout: float | None, deadline: Deadline | None = None) -> Deadline:
        """A send's one deadline: `deadline`, else `timeout` seconds (default: the settings')
        from now."""
        if deadline is None:
            return Deadline.after(self.settings.timeout if timeout is None else timeout)
        if timeout is not None:
            raise TypeError("give a send a timeout or a deadline, not both")
        return deadline

    def _plan_batch(
        self, dataset: str, events: Iterable[BatchEvent], deadline: Deadline
    ) -> tuple[str, Delivery, EncodedEvents]:
        url = self._url("batch", dataset)
        tally = LimitTally()
        encoded = self.encoder.encode_events(events, tally)
        self.stats.record_limits(tally)
        self.stats.record(events_submitted=len(encoded))
        return url, self._delivery_of(encoded, deadline), encoded

    def _delivery_of(
        self,
        encoded: EncodedEvents,
        deadline: Deadline,
        policy: RetryPolicy | None = None,
        *,
        record: bool = True,
    ) -> Delivery:
        return Delivery(
            make_bodies=lambda due: self.encoder.bodies(encoded, due),
            count=len(encoded),
            policy=policy or self.retry,
            deadline=deadline,
            key=self.settings.api_key,
            per_event=True,
            stats=self.stats,
            record=record,
        )

    def _plan_single(
        self, dataset: str, event: BatchEvent, deadline: Deadline
    ) -> tuple[str, dict[str, str], Delivery]:
        url = self._url("events", dataset)
        tally = LimitTally()
        body = self.encoder.encode_single(event.data, tally)
        self.stats.record_limits(tally)
        self.stats.record(events_submitted=1)
        headers = dict(self._single_headers)
        if event.time is not None:
            headers["X-Honeycomb-Event-Time"] = event.time
        if event.samplerate is not None:
            headers["X-Honeycomb-Samplerate"] = str(event.samplerate)
        delivery = Delivery(
            make_bodies=lambda due: (body,) if due else (),
            count=1,
            policy=self.retry,
            deadline=deadline,
            key=self.settings.api_key,
            per_event=False,
            stats=self.stats,
        )
        return url, headers, delivery


# Transports re-make their locks and connection pools in a forked child: a pool's sockets are
# shared with the parent, and a lock may have been held by a thread that does not exist there.
_LIVE_TRANSPORTS: weakref.WeakSet[TransportBase[Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_LIVE_TRANSPORTS):
        transport.stats.reset_lock()
        transport._reset_connections(closed=transport.closed)


@once
def _install_process_hooks() -> None:
    """The httpx log filter and the fork hook, once per process, by the first transport."""
    logging.getLogger("httpx").addFilter(_QuietOwnRequests())
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
