"""The exporters' direct connection (`_direct`): their courier posts through the standard
library's HTTP/1.1 client, kept alive and opened again when the server closed it; a proxy in
the environment keeps httpx, which knows proxies."""

from __future__ import annotations

import contextlib
import gzip
import pathlib
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import msgspec
import pytest
import zstandard
from opentelemetry.sdk.trace.export import SpanExportResult

from honeycomb_events import HoneycombEventsExporter
from honeycomb_events._answers import MAX_ANSWER_BYTES, Answer
from honeycomb_events._delivery import Closed
from honeycomb_events._direct import DirectConnection, proxied
from honeycomb_events.receiver import Fault

from .conftest import FAST_RETRY
from .test_delivery import finished_spans, span_ids


def test_the_courier_posts_without_httpx(environment, receiver):
    exporter = HoneycombEventsExporter()
    for _ in range(3):
        assert exporter.export(finished_spans(5)) is SpanExportResult.SUCCESS
    transport = exporter._transport
    assert transport._direct is not None
    assert transport._http is None  # no httpx client was ever made
    assert len(span_ids(receiver)) == 15
    exporter.shutdown()


def test_a_proxy_in_the_environment_keeps_httpx(environment, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxied("https://api.honeycomb.io")
    assert not proxied("http://127.0.0.1:8080")
    monkeypatch.setenv("NO_PROXY", "api.honeycomb.io")
    assert not proxied("https://api.honeycomb.io")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY")
    exporter = HoneycombEventsExporter(endpoint="http://127.0.0.1:9")
    assert exporter._transport._direct is None
    exporter.shutdown()


class _ClosesAfterEachAnswer(BaseHTTPRequestHandler):
    """Answers as Honeycomb does, then closes the connection without saying so first."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        events = msgspec.json.decode(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        answer = msgspec.json.encode([{"status": 202}] * len(events))
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.connections.append(self.client_address[1])
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_connection_the_server_closed_is_opened_again_without_a_failure(environment):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesAfterEachAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = HoneycombEventsExporter(endpoint=f"http://127.0.0.1:{server.server_port}")
        for _ in range(3):
            assert exporter.export(finished_spans(4)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert len(set(_ClosesAfterEachAnswer.connections)) == 3  # a new connection each time
    stats = exporter.stats
    assert stats["requests"] == 3
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == 12


def test_an_answer_cut_off_by_a_dropped_connection_is_not_read_as_accepted(
    environment, receiver, tmp_path
):
    # The answer's head says 200 and promises a body; the connection ends before it. The
    # standard library's read(amount) returns the empty part that came, which reads as Honeycomb's
    # "all queued": the batch was counted as accepted and lost (the soak test found it).
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path))
    receiver.faults.push(Fault(drop_connection=True, path="batch"))
    exporter = HoneycombEventsExporter()
    exporter.export(finished_spans(4))
    assert exporter.force_flush(10_000)
    exporter.shutdown()
    stats = exporter.stats
    assert stats["requests_failed"] >= 1
    assert len(span_ids(receiver)) == 4  # retried or unspooled once the receiver answers
    assert stats["events_accepted"] == 4


# --- Hostile servers ---------------------------------------------------------------------------
# Each test below makes a server on loopback answer one way an answer can go wrong, and checks
# that the direct connection comes to what httpx would: an answer, a `TransportError` (no usable
# answer: retried, spooled), a `DecodingError` (an answer that cannot be read: failed), never an
# answer read as Honeycomb's "accepted" that the server did not give.

Script = Callable[["Server", socket.socket, int], None]


class Server:
    """An HTTP server on loopback that does what `script` says: each connection it accepts is
    given to the script, with its number (from 0), in a thread of its own, and closed after."""

    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        port = self._listener.getsockname()[1]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._script = script
        self._lock = threading.Lock()
        self.connections = 0
        self.stored = 0
        """Events the server kept (counted before it answers that it did)."""
        self.heads: list[bytes] = []
        self.ended = threading.Event()
        """Set when the client closed a connection the script held (see `hold`)."""
        self._stop = threading.Event()
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], 0.02)[0]:
                continue
            connection, _ = self._listener.accept()
            with self._lock:
                number = self.connections
                self.connections += 1
                self._accepted.append(connection)
            threading.Thread(target=self._serve, args=(connection, number), daemon=True).start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), connection:
            self._script(self, connection, number)

    def store(self, count: int) -> int:
        with self._lock:
            self.stored += count
            return self.stored

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        for connection in self._accepted:
            connection.close()


def read_request(server: Server, connection: socket.socket) -> int | None:
    """Read one request of the exporter's; how many events it holds (None: the client closed
    the connection first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    server.heads.append(head)
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(match[1]) if match else 0
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    if not body.startswith(b"\x28\xb5\x2f\xfd"):  # not zstd: a low-level test's own body
        return 0
    return len(msgspec.json.decode(zstandard.ZstdDecompressor().decompressobj().decompress(body)))


def accepted(count: int) -> bytes:
    return msgspec.json.encode([{"status": 202}] * count)


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """An answer with a Content-Length, `headers` added."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


def serve_honestly(server: Server, connection: socket.socket, count: int | None = None) -> None:
    """Answer requests as Honeycomb does, from one already read (`count` events) if given,
    until the client closes the connection."""
    if count is None:
        count = read_request(server, connection)
    while count is not None:
        server.store(count)
        connection.sendall(answer(accepted(count)))
        count = read_request(server, connection)


def hold(server: Server, connection: socket.socket) -> None:
    """Keep the connection open, sending nothing, until the client closes it (2 s at most)."""
    connection.settimeout(2.0)
    with contextlib.suppress(OSError):
        while connection.recv(65536):
            pass
    server.ended.set()


def export_through(
    server: Server, environment: pytest.MonkeyPatch, spool: pathlib.Path, batches: int = 1
) -> dict[str, Any]:
    """Export 4 spans a batch to `server` with a spool; the exporter's stats once it is shut
    down. Failed requests are retried at once (`FAST_RETRY`)."""
    environment.setenv("HONEYCOMB_SPOOL_DIR", str(spool))
    exporter = HoneycombEventsExporter(endpoint=server.url, retry=FAST_RETRY)
    for _ in range(batches):
        exporter.export(finished_spans(4))
    assert exporter.force_flush(5_000)
    exporter.shutdown()
    return exporter.stats


@pytest.fixture
def connect() -> Iterator[Callable[[str], DirectConnection]]:
    """Make direct connections, closed after the test."""
    made: list[DirectConnection] = []

    def make(endpoint: str) -> DirectConnection:
        made.append(DirectConnection(endpoint, ssl.create_default_context()))
        return made[-1]

    yield make
    for direct in made:
        direct.close()


def post(server: Server, timeout: float = 1.0, direct: DirectConnection | None = None) -> Answer:
    """Post to `server` on `direct`, or on a connection of its own, closed after."""
    own = direct or DirectConnection(server.url, ssl.create_default_context())
    try:
        return own.post(f"{server.url}/1/batch/svc", b"{}", {"X-Honeycomb-Team": "k"}, timeout)
    finally:
        if direct is None:
            own.close()


def once_then_honestly(first: Callable[[Server, socket.socket, int], None]) -> Script:
    """A script: the first request (on the first connection) is answered by `first`, given the
    request's event count; every later one as Honeycomb does."""

    def script(server: Server, connection: socket.socket, number: int) -> None:
        count = read_request(server, connection)
        if number == 0 and count is not None:
            first(server, connection, count)
        else:
            serve_honestly(server, connection, count)

    return script


def retried_and_stored(stats: dict[str, Any], server: Server) -> None:
    """The first request got no usable answer: the batch waited in the spool, was sent again
    and stored once."""
    assert stats["requests_failed"] == 1
    assert stats["events_spooled"] == stats["events_unspooled"] == 4
    assert stats["events_accepted"] == server.stored == 4


def test_a_chunked_answer_cut_off_mid_chunk_is_retried(environment, tmp_path):
    def cut(server: Server, connection: socket.socket, count: int) -> None:
        body = accepted(count)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        connection.sendall(head + b"%x\r\n" % len(body) + body[:5])

    with Server(once_then_honestly(cut)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def test_a_chunked_answer_cut_off_between_chunks_is_retried(environment, tmp_path):
    def cut(server: Server, connection: socket.socket, count: int) -> None:
        body = accepted(count)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        connection.sendall(head + b"%x\r\n" % len(body) + body + b"\r\n")

    with Server(once_then_honestly(cut)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def test_an_answer_until_the_connection_closes_is_read_whole(environment, tmp_path):
    # No length and not chunked: the body is whatever comes before the close, as in httpx; the
    # connection cannot be kept, so the next batch goes on a new one.
    def until_close(server: Server, connection: socket.socket, number: int) -> None:
        count = read_request(server, connection)
        if count is None:
            return
        body = accepted(count)
        server.store(count)
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + body[:7])
        time.sleep(0.05)  # the rest in a later packet
        connection.sendall(body[7:])

    with Server(until_close) as server:
        stats = export_through(server, environment, tmp_path, batches=2)
    assert server.connections == 2
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == server.stored == 8


def test_an_answer_declared_over_the_bound_is_not_read(environment, tmp_path):
    def too_large(server: Server, connection: socket.socket, count: int) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_ANSWER_BYTES + 1}\r\n\r\n"
        connection.sendall(head.encode() + accepted(count))
        hold(server, connection)

    with Server(once_then_honestly(too_large)) as server:
        began = time.monotonic()
        stats = export_through(server, environment, tmp_path)
    assert time.monotonic() - began < 2.0  # not waited for
    # An answer that cannot be read, as in httpx: the server may have kept the events, so
    # they are failed rather than sent twice.
    assert stats["events_failed"] == 4
    assert stats["events_accepted"] == server.stored == 0
    assert stats["events_spooled"] == 0


def test_a_chunked_answer_over_the_bound_is_not_read(environment, tmp_path):
    def too_large(server: Server, connection: socket.socket, count: int) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b" " * 1_048_576
        for _ in range(MAX_ANSWER_BYTES // len(piece) + 1):
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.sendall(b"0\r\n\r\n")

    with Server(once_then_honestly(too_large)) as server:
        stats = export_through(server, environment, tmp_path)
    assert stats["events_failed"] == 4
    assert stats["events_accepted"] == server.stored == 0
    assert stats["events_spooled"] == 0


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("zstd", zstandard.ZstdCompressor().compress)],
)
def test_a_compressed_answer_is_decompressed(environment, tmp_path, encoding, compress):
    # Requests ask for none, but a proxy may compress anyway.
    def compressed(server: Server, connection: socket.socket, count: int) -> None:
        server.store(count)
        connection.sendall(answer(compress(accepted(count)), f"Content-Encoding: {encoding}"))

    with Server(once_then_honestly(compressed)) as server:
        stats = export_through(server, environment, tmp_path)
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == server.stored == 4


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "br"])
def test_a_corrupt_compressed_answer_fails_the_batch(environment, tmp_path, encoding):
    def corrupt(server: Server, connection: socket.socket, count: int) -> None:
        connection.sendall(answer(b"\x1f\x8b\x08not really", f"Content-Encoding: {encoding}"))

    with Server(once_then_honestly(corrupt)) as server:
        stats = export_through(server, environment, tmp_path)
    assert stats["events_failed"] == 4  # unreadable: maybe kept, so not sent again
    assert stats["events_accepted"] == server.stored == 0
    assert stats["events_spooled"] == 0


def test_a_server_that_sends_nothing_is_given_up_within_the_timeout():
    with Server(lambda server, connection, _: hold(server, connection)) as server:
        began = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            post(server, timeout=0.3)
        took = time.monotonic() - began
        assert server.ended.wait(1.0)  # the connection was closed, not left to the server
    assert 0.3 <= took < 0.6  # the margin: a loaded machine's scheduling


def test_a_100_continue_before_the_answer_is_skipped(environment, tmp_path):
    def continued(server: Server, connection: socket.socket, count: int) -> None:
        server.store(count)
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(accepted(count)))
        serve_honestly(server, connection)

    with Server(once_then_honestly(continued)) as server:
        stats = export_through(server, environment, tmp_path, batches=2)
    assert server.connections == 1
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == server.stored == 8


def test_an_answer_that_closes_the_connection_leaves_the_next_post_a_new_one(environment, tmp_path):
    def closing(server: Server, connection: socket.socket, number: int) -> None:
        count = read_request(server, connection)
        if count is not None:
            server.store(count)
            connection.sendall(answer(accepted(count), "Connection: close"))

    with Server(closing) as server:
        stats = export_through(server, environment, tmp_path, batches=3)
    assert server.connections == 3
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == server.stored == 12


def test_a_kept_connection_reset_while_idle_is_opened_again_without_a_failure(
    environment, tmp_path
):
    def resets(server: Server, connection: socket.socket, number: int) -> None:
        count = read_request(server, connection)
        if count is None:
            return
        server.store(count)
        connection.sendall(answer(accepted(count)))
        # Linger 0: close() sends an RST instead of a FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with Server(resets) as server:
        stats = export_through(server, environment, tmp_path, batches=3)
    assert server.connections == 3
    assert stats["requests_failed"] == 0
    assert stats["events_accepted"] == server.stored == 12


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 2OO OK",
        b"ICY 200 OK",
        b"HTTP/2 200",
        b"HTTP/1.1 99 Low",
        b"",
        # http.client's int() read these as 200, and the empty body as "all queued":
        b"HTTP/1.1 +200 OK",
        b"HTTP/1.1 2_00 OK",
        b"HTTP/1.1 0200 OK",
        b"HTTP/1.1  200 OK",
    ],
)
def test_a_malformed_status_line_is_no_answer(environment, tmp_path, status_line):
    # h11 reads a status line as three digits after "HTTP/1.x ", else RemoteProtocolError.
    def malformed(server: Server, connection: socket.socket, count: int) -> None:
        connection.sendall(status_line + b"\r\nContent-Length: 0\r\n\r\n")

    with Server(once_then_honestly(malformed)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def test_an_answer_with_more_than_100_headers_is_no_answer(environment, tmp_path):
    # http.client refuses more than 100 header lines, where httpx (h11 in httpcore) reads any
    # number within a 100 KiB head: here the direct connection is the stricter. Its refusal is
    # a protocol error, so the batch is sent again (the server may have kept it: a duplicate,
    # never a loss nor a false "accepted"). Honeycomb's answers carry a handful of headers.
    def many(server: Server, connection: socket.socket, count: int) -> None:
        headers = [f"X-Header-{n}: {n}" for n in range(101)]
        connection.sendall(answer(accepted(count), *headers))

    with Server(once_then_honestly(many)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_endpoint_is_posted_to_with_its_host_in_brackets(environment, tmp_path):
    with Server(lambda server, connection, _: serve_honestly(server, connection), "::1") as server:
        stats = export_through(server, environment, tmp_path, batches=2)
    assert server.connections == 1
    assert stats["events_accepted"] == server.stored == 8
    port = server.url.rsplit(":", 1)[1]
    assert f"\r\nHost: [::1]:{port}".encode() in server.heads[0]


def test_a_close_during_a_post_ends_it_within_the_timeout(connect):
    with Server(lambda server, connection, _: hold(server, connection)) as server:
        direct = connect(server.url)
        threading.Timer(0.1, direct.close).start()
        began = time.monotonic()
        with pytest.raises(Closed):
            post(server, timeout=0.4, direct=direct)
        assert time.monotonic() - began < 0.7
        with pytest.raises(Closed):
            post(server, direct=direct)  # no new connection
    assert server.connections == 1


@pytest.mark.parametrize("interim", [b"102 Processing", b"103 Early Hints"])
def test_an_interim_answer_before_the_answer_is_skipped(environment, tmp_path, interim):
    # http.client skips only a 100 Continue: it returned a 103 as the answer (length 0), the
    # batch failed with status 103, and the real answer was left on the connection.
    def interim_first(server: Server, connection: socket.socket, count: int) -> None:
        head = b"HTTP/1.1 " + interim + b"\r\nLink: </style.css>; rel=preload\r\n\r\n"
        server.store(count)
        connection.sendall(head + answer(accepted(count)))
        serve_honestly(server, connection)

    with Server(once_then_honestly(interim_first)) as server:
        stats = export_through(server, environment, tmp_path, batches=2)
    assert server.connections == 1
    assert stats["requests_failed"] == stats["events_failed"] == 0
    assert stats["events_accepted"] == server.stored == 8


def test_a_switch_of_protocols_nobody_asked_for_is_no_answer(environment, tmp_path):
    # h11 refuses a 101 to a request that proposed no upgrade; http.client returned it as the
    # answer, and the batch failed with status 101.
    def switching(server: Server, connection: socket.socket, count: int) -> None:
        connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")

    with Server(once_then_honestly(switching)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def trickle(at_once: bytes, trickled: bytes) -> Script:
    """A script: after the request, `at_once` is sent, then `trickled` byte by byte, 50 ms
    apart."""

    def script(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        connection.sendall(at_once)
        for byte in trickled:
            time.sleep(0.05)
            connection.sendall(bytes([byte]))

    return script


@pytest.mark.parametrize(
    ("at_once", "trickled"),
    [
        (b"", answer(b"[]", "X-Padding: " + "x" * 20)),  # the head
        (b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b" " * 40),  # the body
    ],
    ids=["head", "body"],
)
def test_an_answer_trickling_in_is_given_up_at_the_timeout(at_once, trickled):
    # Each byte comes well within the timeout, all of them in 2 s. http.client's timeout bounds
    # each wait: the post held the courier for as long as the server kept sending (for a body,
    # up to MAX_ANSWER_BYTES waits). The whole answer must come within the post's timeout: the
    # transport gives it what is left of the send's deadline.
    with Server(trickle(at_once, trickled)) as server:
        began = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            post(server, timeout=0.3)
        assert time.monotonic() - began < 0.6  # it took 2 s


@pytest.mark.skipif(sys.platform != "linux", reason="Linux keeps what came before a reset")
def test_an_answer_sent_before_the_body_was_read_is_the_answer(connect):
    # A server may refuse a request from its head (a 413) and close without reading the body:
    # sending the rest fails with a reset. httpx (httpcore) then reads the answer the server
    # sent, and the batch fails with that status; the direct connection raised ReadError, and
    # the batch was sent again and again.
    def refuses(server: Server, connection: socket.socket, number: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        refusal = answer(b'{"error":"request body is too large"}', "Connection: close")
        connection.sendall(refusal.replace(b"200 OK", b"413 Payload Too Large"))

    with Server(refuses) as server:
        direct = connect(server.url)
        body = b"x" * 16_000_000  # more than the sockets' buffers hold: sending fails
        for _ in range(2):  # a new connection each time
            got = direct.post(f"{server.url}/1/batch/svc", body, {}, 2.0)
            assert (got.status, got.content) == (413, b'{"error":"request body is too large"}')
    assert server.connections == 2


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: abc",  # http.client: read until the close, empty: "all queued"
        b"Content-Length: -1",
        b"Content-Length: +0",  # http.client: int() takes it
        b"Content-Length: 0\r\nContent-Length: 5",  # http.client: the first
        b"Transfer-Encoding: gzip, chunked",  # http.client: not chunked, read until the close
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        b"Content-Length : 0",  # no header line: http.client drops it and every line after
        b"X-Broken\r\nContent-Length: 0",
        b"Content-Length: 000000000000000000002",  # h11: at most 20 digits
    ],
)
def test_an_answer_whose_framing_httpx_refuses_is_no_answer(environment, tmp_path, head):
    # h11 refuses these heads (RemoteProtocolError: the batch is sent again); http.client
    # guessed at the body and read the answer as Honeycomb's, accepted or unreadable.
    def malformed(server: Server, connection: socket.socket, count: int) -> None:
        body = accepted(count)
        if b"chunked" in head:
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        connection.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n" + body)

    with Server(once_then_honestly(malformed)) as server:
        retried_and_stored(export_through(server, environment, tmp_path), server)


def test_a_content_length_repeated_in_a_list_is_the_length():
    # A proxy may fold two equal Content-Length headers into one; h11 reads "2, 2" as 2.
    # http.client's int() failed, and it waited for the connection to close.
    def folded(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n[]")
        hold(server, connection)

    with Server(folded) as server:
        got = post(server, timeout=0.5)
    assert (got.status, got.content) == (200, b"[]")


def test_an_answer_that_cannot_be_read_stays_so_when_close_came_during_the_post(connect):
    # close() leaves a post in progress to end by itself. An answer that came but cannot be
    # read was raised as Closed: its events were set aside to be sent again, though the server
    # may have kept them; httpx's path fails them (DecodingError), as they must be.
    closed = threading.Event()

    def corrupt_after_close(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        closed.wait(2.0)
        connection.sendall(answer(b"\x1f\x8bnot gzip", "Content-Encoding: gzip"))

    with Server(corrupt_after_close) as server:
        direct = connect(server.url)
        threading.Timer(0.05, lambda: (direct.close(), closed.set())).start()
        with pytest.raises(httpx.DecodingError):
            post(server, timeout=1.0, direct=direct)


def test_close_closes_the_kept_connection(environment, connect):
    # Left open, the socket of every exporter shut down stayed open until the garbage
    # collector found it, where httpx's client closes its connections.
    def serve(server: Server, connection: socket.socket, number: int) -> None:
        serve_honestly(server, connection)
        server.ended.set()

    with Server(serve) as server:
        exporter = HoneycombEventsExporter(endpoint=server.url)
        assert exporter.export(finished_spans(4)) is SpanExportResult.SUCCESS
        assert not server.ended.wait(0.1)  # kept alive
        exporter.shutdown()
        assert server.ended.wait(1.0)
        direct = connect(server.url)
        post(server, direct=direct)
        server.ended.clear()
        direct.close()
        assert server.ended.wait(1.0)
    assert exporter.stats["events_accepted"] == server.stored == 4


def test_an_answer_in_tiny_chunks_is_held_in_little_more_than_its_size():
    # read(MAX_ANSWER_BYTES + 1) of a chunked body holds every chunk apart until the end: for
    # 2-byte chunks some 60 times the body's size (a gigabyte for an answer at the bound),
    # where httpx's path holds the body. Read in pieces, a 200 kB answer peaks near 1 MB.
    content = b"[" + b" " * 199_998 + b"]"
    chunks = b"".join(b"2\r\n%s\r\n" % content[n : n + 2] for n in range(0, len(content), 2))

    def tiny_chunks(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        connection.sendall(head + chunks + b"0\r\n\r\n")

    with Server(tiny_chunks) as server:
        tracemalloc.start()
        try:
            got = post(server, timeout=2.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got.content == content
    assert peak < 4_000_000


@pytest.mark.skipif(sys.platform != "linux", reason="Linux drops a SYN to a full backlog")
def test_a_server_that_never_takes_the_connection_is_a_connect_timeout(connect):
    # A listener whose backlog is full drops the SYN: connecting waits. httpx names that
    # ConnectTimeout (the outage line says so); the direct connection said ReadTimeout.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(address)
        direct = connect(f"http://127.0.0.1:{address[1]}")
        began = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            direct.post(f"http://127.0.0.1:{address[1]}/1/batch/svc", b"{}", {}, 0.3)
        assert time.monotonic() - began < 0.6
        for filler in fillers:
            filler.close()


def test_a_refused_connection_is_a_connect_error(closed_port, connect):
    direct = connect(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(httpx.ConnectError):
        direct.post(f"http://127.0.0.1:{closed_port}/1/batch/svc", b"{}", {}, 1.0)


def test_a_refusal_sent_before_the_body_was_read_fails_the_batch(environment, tmp_path):
    # The courier's bodies are small, so sending them ends before the reset: the refusal is
    # read either way (the large body's case is above). A 413 is final: not sent again.
    def refuses(server: Server, connection: socket.socket, number: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(1)  # the head only: the body is left unread
        refusal = answer(b'{"error":"request body is too large"}', "Connection: close")
        connection.sendall(refusal.replace(b"200 OK", b"413 Payload Too Large"))
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with Server(refuses) as server:
        stats = export_through(server, environment, tmp_path)
    assert stats["requests"] == 1
    assert stats["requests_failed"] == stats["events_spooled"] == stats["events_accepted"] == 0
    assert stats["failed_by_status"] == {413: 4}


def test_an_answer_that_expands_over_the_bound_fails_the_batch(environment, tmp_path):
    bomb = gzip.compress(b" " * (MAX_ANSWER_BYTES + 1))

    def expands(server: Server, connection: socket.socket, count: int) -> None:
        connection.sendall(answer(bomb, "Content-Encoding: gzip"))

    with Server(once_then_honestly(expands)) as server:
        stats = export_through(server, environment, tmp_path)
    assert stats["events_failed"] == 4
    assert stats["events_accepted"] == stats["events_spooled"] == server.stored == 0


def test_a_server_that_does_not_read_the_body_is_given_up_within_the_timeout(connect):
    # Sending waits on the server's reading; that wait counts in the timeout too.
    with Server(lambda server, connection, _: server.ended.wait(2.0)) as server:
        direct = connect(server.url)
        body = b"x" * 32_000_000  # more than the sockets' buffers hold
        began = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            direct.post(f"{server.url}/1/batch/svc", body, {}, 0.3)
        assert time.monotonic() - began < 0.6
        server.ended.set()


@pytest.mark.parametrize("delay", [0.0, 0.02], ids=["at-once", "later"])
def test_an_answer_nobody_asked_for_is_not_read_as_the_next_one(delay, connect):
    # After its answer, the server sends another: it is thrown away with the answer's buffer
    # if it came into it, else found waiting before the next request, and the connection
    # dropped. Read as the next request's answer, it would report a batch the server never
    # saw as accepted.
    def extra(server: Server, connection: socket.socket, number: int) -> None:
        while read_request(server, connection) is not None:
            if server.store(1) == 1:
                connection.sendall(answer(b'"first"'))
                time.sleep(delay)
                connection.sendall(answer(b'"nobody asked"'))
            else:
                connection.sendall(answer(b'"second"'))

    with Server(extra) as server:
        direct = connect(server.url)
        assert post(server, direct=direct).content == b'"first"'
        time.sleep(0.1)
        assert post(server, direct=direct).content == b'"second"'


def test_an_answer_that_comes_after_close_is_returned_and_its_connection_closed(connect):
    closed = threading.Event()

    def answers_after_close(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        closed.wait(2.0)
        connection.sendall(answer(b"[]"))
        hold(server, connection)

    with Server(answers_after_close) as server:
        direct = connect(server.url)
        threading.Timer(0.05, lambda: (direct.close(), closed.set())).start()
        assert post(server, timeout=1.0, direct=direct).content == b"[]"
        assert server.ended.wait(1.0)  # closed by the post, close() having found it busy


def test_a_connection_dropped_for_an_unread_answer_is_closed_at_once(connect):
    # An answer refused before its body was read (here for its framing) kept the socket open
    # through its reader for as long as the error lived (its traceback holds the answer; the
    # cycles of chained errors wait for the cyclic garbage collector).
    def refused(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
        hold(server, connection)

    with Server(refused) as server:
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            post(server, direct=connect(server.url))
        assert server.ended.wait(1.0)  # while `raised` holds the error
        del raised


@pytest.mark.parametrize("trailer", [b"Not a header\r\n\r\n", b""], ids=["malformed", "cut-off"])
def test_a_whole_chunked_body_is_read_whatever_its_trailer(trailer):
    # The other way round: h11 refuses a trailer with a line that is no header, or cut off
    # after the last chunk; http.client discards the trailer. The body came whole, with its
    # last chunk, so the answer read is the server's: left as it is.
    def chunked(server: Server, connection: socket.socket, number: int) -> None:
        read_request(server, connection)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        connection.sendall(head + b"2\r\n[]\r\n0\r\n" + trailer)

    with Server(chunked) as server:
        assert post(server, timeout=0.5).content == b"[]"
