"""One kept-alive HTTP/1.1 connection through the standard library, for a transport that posts
from one thread at a time: the exporters' courier, which makes the same request for every
batch. httpx's layers (its client, request and response models, h11) cost about a millisecond
of CPU per request, three times `http.client`'s; for a span that is a sixth of its cost.

Only a direct connection: where a proxy applies, or a test gives an httpx transport, the
transport keeps httpx. A post comes to what httpx's would: failures are the httpx errors that
mean the same (`httpx.TransportError` when no usable answer came, worth a retry;
`httpx.DecodingError` when the answer could not be read), and where http.client reads an
answer otherwise than h11 it is made to read it as h11 does (`tests/test_direct.py`).
"""

from __future__ import annotations

import http.client
import io
import re
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx

from ._answers import MAX_ANSWER_BYTES, Answer, bounded_decoding
from ._delivery import Closed

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_PIECE: Final = 16384
_MAX_LINE: Final = 65536  # http.client's bound on a line
_DIGITS: Final = re.compile(r"[0-9]{1,20}")  # h11's Content-Length
_STATUS_LINE: Final = re.compile(rb"(HTTP/1\.[0-9]) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
_TOO_LARGE: Final = f"the answer is over {MAX_ANSWER_BYTES} bytes"


def proxied(endpoint: str) -> bool:
    """Whether the environment routes `endpoint` through a proxy (as httpx reads it:
    ``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)."""
    parts = urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    if not any(proxies.get(scheme) for scheme in (parts.scheme, "all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


class DirectConnection:
    """Posts to one endpoint over one kept-alive connection, opened again when it was lost.
    Threads take turns; after `close()`, a request raises `Closed`."""

    def __init__(self, endpoint: str, context: ssl.SSLContext | None) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._context = context
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._closed = False

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        """POST `body` to `url` (on this connection's endpoint); the answer, read within
        `MAX_ANSWER_BYTES`. The whole exchange ends within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        target = urlsplit(url)
        path = target.path + (f"?{target.query}" if target.query else "")
        try:
            with self._lock:
                if self._closed:
                    raise Closed
                return self._exchange(path, body, dict(headers), deadline)
        finally:
            if self._closed:  # a close() that came meanwhile left the connection to us
                self.close()

    def _exchange(self, path: str, body: bytes, headers: dict[str, str], deadline: float) -> Answer:
        connection = response = None
        try:
            connection = self._open(deadline)
            try:
                connection.request("POST", path, body, headers)
            except OSError as error:
                # A server may refuse a request from its head (a 413) and close before reading
                # the body: as in httpx, what it answered is what the request came to.
                if isinstance(error, TimeoutError):
                    raise
            connection.sock.settimeout(_left(deadline))  # for the whole answer: see `_Clocked`
            response = connection.getresponse()
            answer = _read(response)
        except Exception as error:
            if response is not None:
                response.close()  # its reader holds the socket open, unless read to the end
            if connection is not None:
                self._drop(connection)
            # An answer that came unreadable stays so: the server may have kept the events.
            if self._closed and not isinstance(error, httpx.DecodingError):
                raise Closed from error
            raise _as_httpx(error) from error
        if response.will_close:
            self._drop(connection)
        return answer

    def _open(self, deadline: float) -> http.client.HTTPConnection:
        """The kept connection, unless the server closed it meanwhile, else a new one."""
        connection = self._connection
        if connection is not None and connection.sock is not None and _readable(connection.sock):
            # Idle, yet readable: the server closed it (or sent what nobody asked for).
            self._drop(connection)
            connection = None
        if connection is None:
            connection = self._connection = (
                http.client.HTTPSConnection(self._host, self._port, context=self._context)
                if self._https
                else http.client.HTTPConnection(self._host, self._port)
            )
            connection.response_class = _Response
        if connection.sock is None:
            connection.timeout = _left(deadline)
            try:
                connection.connect()
            except OSError as error:  # named as httpx names them: the server was not reached
                self._drop(connection)  # a failed TLS handshake leaves it a socket
                if isinstance(error, TimeoutError):
                    raise httpx.ConnectTimeout(str(error)) from error
                raise httpx.ConnectError(str(error) or type(error).__name__) from error
        connection.sock.settimeout(_left(deadline))  # for sending (all of a plain sendall)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        if self._connection is connection:
            self._connection = None
        connection.close()

    def close(self) -> None:
        """No more requests; the kept connection is closed. One in progress is left to end by
        itself, as httpx leaves it: whoever waits on it has given it up (the courier at its
        exit deadline)."""
        self._closed = True
        if self._lock.acquire(blocking=False):  # else the post in progress does it at its end
            try:
                if self._connection is not None:
                    self._drop(self._connection)
            finally:
                self._lock.release()


class _Response(http.client.HTTPResponse):
    """An answer read as h11 reads it, all of it within the socket's timeout at its start."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_Clocked(sock, self.fp.detach()))

    def _read_status(self) -> tuple[str, int, str]:
        # As h11 reads it. http.client took "+200", "2_00" or "0200" for 200 (its int()), and
        # skipped a 100 Continue only: another interim answer (102, 103) was taken for the
        # answer, and the real one left to be read as the next request's.
        while True:
            line = self.fp.readline(_MAX_LINE)
            if not line:
                raise http.client.RemoteDisconnected("the server closed without an answer")
            status = _STATUS_LINE.fullmatch(line)
            if status is None:
                raise http.client.BadStatusLine(repr(line[:80]))
            code = int(status[2])
            if code == 101:  # no upgrade was asked for: h11 refuses it too
                raise http.client.HTTPException("a switch of protocols nobody asked for")
            if not 100 <= code < 200:
                return status[1].decode(), code, (status[3] or b"").decode("latin-1")
            http.client.parse_headers(self.fp)


class _Clocked(io.RawIOBase):
    """A socket's input (`raw`, its `makefile`) read by a deadline, the socket's timeout when
    made: http.client's bounds each wait only, so an answer trickling in held the courier for
    as long as the server cared (httpx's path checks the send's deadline between chunks)."""

    def __init__(self, sock: socket.socket, raw: io.RawIOBase) -> None:
        super().__init__()
        self._sock = sock
        self._raw = raw  # holds the socket open while the answer is read, as http.client does
        self._deadline = time.monotonic() + (sock.gettimeout() or 0.0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        self._sock.settimeout(_left(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _readable(sock: socket.socket) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed under us
        return True


def _read(response: http.client.HTTPResponse) -> Answer:
    """The answer, its body read within the bound (`bounded_decoding` for a compressed one)."""
    declared = _length(response)
    if declared is not None and declared > MAX_ANSWER_BYTES:
        raise httpx.DecodingError(_TOO_LARGE)
    raw = bytearray()
    # In pieces: http.client keeps each chunk of a chunked read apart until the read ends, for
    # a body in tiny chunks tens of times its size.
    while piece := response.read(_PIECE):
        raw += piece
        if len(raw) > MAX_ANSWER_BYTES:
            raise httpx.DecodingError(_TOO_LARGE)
    if declared is not None and len(raw) < declared:
        # `read()` returns what came before the connection ended, where httpx raises: a cut-off
        # answer read as complete would report a batch it never saw accepted.
        raise httpx.RemoteProtocolError(f"the connection ended {len(raw)} bytes into {declared}")
    headers = {name.lower(): value for name, value in response.getheaders()}
    return Answer(response.status, bounded_decoding(raw, headers.get("content-encoding")), headers)


def _length(response: http.client.HTTPResponse) -> int | None:
    """The body's length as h11 frames it (None: chunked, or until the connection closes).
    A head h11 refuses is `RemoteProtocolError`: http.client guessed at its body, and its guess
    could read as Honeycomb's "accepted"."""
    head = response.msg
    if head.defects:  # a line that is no header: http.client ignored it and all after it
        raise httpx.RemoteProtocolError("a malformed header line")
    codings = head.get_all("transfer-encoding", [])
    if codings and [coding.strip().lower() for coding in codings] != ["chunked"]:
        raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding: {', '.join(codings)}")
    values = head.get_all("content-length", [])
    lengths = {length.strip() for value in values for length in value.split(",")}
    if len(lengths) > 1 or not all(_DIGITS.fullmatch(length) for length in lengths):
        raise httpx.RemoteProtocolError(f"a malformed Content-Length: {', '.join(values)}")
    if lengths and response.length is None and not response.chunked:
        response.length = int(lengths.pop())  # "2, 2", which http.client's int() refused
    return response.length


def _as_httpx(error: Exception) -> Exception:
    """The httpx error that means what `error` means (see the module)."""
    if isinstance(error, httpx.HTTPError):
        return error
    text = str(error) or type(error).__name__
    if isinstance(error, TimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(error, http.client.HTTPException):
        return httpx.RemoteProtocolError(text)
    return httpx.ReadError(text)
