"""TLS is verified by default; HONEYCOMB_CA_BUNDLE trusts a private CA instead; a client
certificate (HONEYCOMB_CLIENT_CERTIFICATE and HONEYCOMB_CLIENT_KEY) is presented by both
drivers to a server that requires one."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zstandard
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from honeycomb_events import (
    BatchEvent,
    ConfigurationError,
    EventResult,
    HoneycombClient,
    Transport,
    resolve_settings,
)
from honeycomb_events._http import USER_AGENT, tls_verification
from honeycomb_events._transport import NO_RESPONSE
from honeycomb_events.otel import HoneycombEventsExporter

from .conftest import API_KEY, FAST_RETRY


@dataclass(frozen=True)
class Seen:
    """One request as the test server saw it: every header as sent (a name twice is two
    entries), and the certificate the client presented (None: none, or no TLS)."""

    headers: list[tuple[str, str]]
    client_certificate: dict[str, Any] | None

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class _Honeycomb(BaseHTTPRequestHandler):
    """Accepts every event (of a JSON batch, or a single one), and records what each request
    came with."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        self.server.seen.append(Seen(list(self.headers.items()), peer or None))
        if self.headers["Content-Encoding"] == "zstd":  # a stream: its size is not declared
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        status, answer = 202, b""
        if self.path.startswith("/1/batch/"):
            status = 200
            answer = msgspec.json.encode([{"status": 202}] * len(msgspec.json.decode(body)))
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    seen: list[Seen]


@contextlib.contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[Seen]]]:
    """A batch endpoint on 127.0.0.1, over TLS with `context`: its URL, and what it saw."""
    server = _Server(("127.0.0.1", 0), _Honeycomb)
    server.seen = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}",
            server.seen,
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1, its key beside it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return directory / "cert.pem"


@pytest.fixture
def https_url(certificate: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, certificate.with_name("key.pem"))
    with serving(context) as (url, _):
        yield url


def send_one(url: str, environ: dict[str, str]):
    settings = resolve_settings(
        api_key=API_KEY, endpoint=url, timeout=5, compression="none", environ=environ
    )
    transport = Transport(settings, retry=FAST_RETRY)
    try:
        [result] = transport.send_batch("tls", [BatchEvent({"n": 1})])
    finally:
        transport.close()
    return result


def test_an_untrusted_certificate_is_refused_by_default(https_url):
    result = send_one(https_url, {})
    assert not result.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")


def test_the_configured_ca_bundle_is_trusted(https_url, certificate):
    result = send_one(https_url, {"HONEYCOMB_CA_BUNDLE": str(certificate)})
    assert result.status == 202


def test_a_ca_bundle_that_is_not_a_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigurationError, match="HONEYCOMB_CA_BUNDLE"):
        resolve_settings(
            api_key=API_KEY,
            endpoint="https://api.honeycomb.io",
            environ={"HONEYCOMB_CA_BUNDLE": str(tmp_path / "missing.pem")},
        )


def test_an_exporter_refused_by_tls_says_which_setting_trusts_a_private_ca(
    https_url, environment, capsys
):
    environment.setenv("HONEYCOMB_API_ENDPOINT", https_url)
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        pass
    exporter = HoneycombEventsExporter()
    exporter.export([span])
    exporter.shutdown()
    [line, _] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"honeycomb-events: the TLS connection to Honeycomb failed at {https_url} (a proxy with "
        "its own certificate authority needs HONEYCOMB_CA_BUNDLE): "
    )
    assert "CERTIFICATE_VERIFY_FAILED" in line


def test_transports_share_one_verifying_context_and_a_plain_endpoint_loads_no_bundle(
    certificate,
):
    # Each context loads the CA bundle, about 6 MiB of it: once per process and bundle.
    def verify(endpoint: str, environ: dict[str, str]) -> ssl.SSLContext:
        settings = resolve_settings(api_key=API_KEY, endpoint=endpoint, environ=environ)
        context = tls_verification(settings)
        assert isinstance(context, ssl.SSLContext)
        return context

    default = verify("https://api.honeycomb.io", {})
    assert verify("https://api.eu1.honeycomb.io", {}) is default
    assert default.verify_mode is ssl.CERT_REQUIRED
    assert default.check_hostname
    assert default.cert_store_stats()["x509_ca"] > 0
    private = verify("https://proxy.internal", {"HONEYCOMB_CA_BUNDLE": str(certificate)})
    assert private is not default
    assert private.cert_store_stats()["x509_ca"] == 1
    plain = verify("http://127.0.0.1:8080", {})
    assert plain.verify_mode is ssl.CERT_REQUIRED
    assert plain.check_hostname
    assert plain.cert_store_stats()["x509_ca"] == 0  # trusts nothing: no TLS is ever made


# Mutual TLS: a server that asks for a client certificate, and one that the client presents.


@dataclass(frozen=True)
class MutualTls:
    """A CA's PEM file, a server context of that CA that requires a client certificate, and
    two client certificates with their keys: one of that CA, one of another."""

    ca: Path
    server: ssl.SSLContext
    certificate: Path
    key: Path
    stranger: Path
    stranger_key: Path


@pytest.fixture(scope="module")
def mtls(tmp_path_factory) -> MutualTls:
    trustme = pytest.importorskip("trustme")
    directory = tmp_path_factory.mktemp("mtls")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED
    for name, issuer in (("client", ca), ("stranger", other_ca)):
        issued = issuer.issue_cert(f"{name}.example")
        issued.cert_chain_pems[0].write_to_path(str(directory / f"{name}.pem"))
        issued.private_key_pem.write_to_path(str(directory / f"{name}-key.pem"))
    return MutualTls(
        directory / "ca.pem",
        server,
        directory / "client.pem",
        directory / "client-key.pem",
        directory / "stranger.pem",
        directory / "stranger-key.pem",
    )


def presented(seen: Seen) -> str:
    """The name the certificate a request came with was issued to."""
    assert seen.client_certificate is not None
    [(kind, name)] = seen.client_certificate["subjectAltName"]
    assert kind == "DNS"
    return str(name)


def ended_span() -> ReadableSpan:
    with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
        pass
    return span  # type: ignore[return-value]


def test_the_exporter_presents_the_client_certificate_and_the_headers(mtls, environment, capsys):
    with serving(mtls.server) as (url, seen):
        for name, value in {
            "HONEYCOMB_API_ENDPOINT": url,
            "HONEYCOMB_CA_BUNDLE": str(mtls.ca),
            "HONEYCOMB_CLIENT_CERTIFICATE": str(mtls.certificate),
            "HONEYCOMB_CLIENT_KEY": str(mtls.key),
            "HONEYCOMB_HEADERS": "Authorization=Bearer%20gateway-token,x-tenant=shop",
            "HONEYCOMB_USER_AGENT_ADDITION": "checkout/2.1",
            "HONEYCOMB_COMPRESSION": "none",
        }.items():
            environment.setenv(name, value)
        exporter = HoneycombEventsExporter()
        assert exporter._transport._direct is not None  # the courier's own connection
        assert exporter.export([ended_span()]) is SpanExportResult.SUCCESS
        exporter.shutdown()
    [request] = seen
    assert presented(request) == "client.example"
    assert request.values("Authorization") == ["Bearer gateway-token"]
    assert request.values("X-Tenant") == ["shop"]
    assert request.values("X-Honeycomb-Team") == [API_KEY]
    assert request.values("User-Agent") == [f"{USER_AGENT} checkout/2.1"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("sync", [True, False])
def test_the_events_client_presents_the_client_certificate_and_the_headers(mtls, monkeypatch, sync):
    monkeypatch.setenv("HONEYCOMB_CA_BUNDLE", str(mtls.ca))
    with serving(mtls.server) as (url, seen):
        client = HoneycombClient(
            API_KEY,
            url,
            sync=sync,
            compression="none",
            retry=FAST_RETRY,
            headers={"Authorization": "Bearer gateway-token"},
            client_certificate=str(mtls.certificate),
            client_key=str(mtls.key),
            user_agent_addition="checkout/2.1",
        )
        with client:
            if sync:
                [result] = client.events.send_batch("tls", [{"n": 1}])
            else:
                [result] = asyncio.run(client.events.send_batch_async("tls", [{"n": 1}]))
    assert result.status == 202
    [request] = seen
    assert presented(request) == "client.example"
    assert request.values("Authorization") == ["Bearer gateway-token"]
    assert request.values("User-Agent") == [f"{USER_AGENT} checkout/2.1"]


def send_to_mtls(mtls: MutualTls, url: str, **certificate: str) -> EventResult:
    with HoneycombClient(
        API_KEY, url, sync=True, compression="none", retry=FAST_RETRY, timeout=5, **certificate
    ) as client:
        [result] = client.events.send_batch("tls", [{"n": 1}])
    return result


def test_without_a_certificate_the_server_refuses_and_the_error_names_the_settings(
    mtls, monkeypatch
):
    monkeypatch.setenv("HONEYCOMB_CA_BUNDLE", str(mtls.ca))
    with serving(mtls.server) as (url, seen):
        result = send_to_mtls(mtls, url)
    assert seen == []
    assert result.status == NO_RESPONSE
    assert "CERTIFICATE_REQUIRED" in (result.error or "")
    assert (result.error or "").endswith(
        "(the server asks for a client certificate: set HONEYCOMB_CLIENT_CERTIFICATE and "
        "HONEYCOMB_CLIENT_KEY)"
    )


def test_a_certificate_the_server_does_not_trust_is_refused_naming_its_setting(mtls, monkeypatch):
    monkeypatch.setenv("HONEYCOMB_CA_BUNDLE", str(mtls.ca))
    with serving(mtls.server) as (url, seen):
        result = send_to_mtls(
            mtls, url, client_certificate=str(mtls.stranger), client_key=str(mtls.stranger_key)
        )
    assert seen == []
    assert result.status == NO_RESPONSE
    assert "UNKNOWN_CA" in (result.error or "")
    assert (result.error or "").endswith(
        "(the server refused the client certificate of the client_certificate argument)"
    )


def test_an_exporter_without_the_certificate_says_so_on_stderr(mtls, environment, capsys):
    environment.setenv("HONEYCOMB_CA_BUNDLE", str(mtls.ca))
    with serving(mtls.server) as (url, seen):
        environment.setenv("HONEYCOMB_API_ENDPOINT", url)
        exporter = HoneycombEventsExporter()
        assert exporter.export([ended_span()]) is SpanExportResult.FAILURE
        exporter.shutdown()
    assert seen == []
    line = capsys.readouterr().err.splitlines()[0]
    assert line.startswith(f"honeycomb-events: the TLS connection to Honeycomb failed at {url}")
    assert "CERTIFICATE_REQUIRED" in line
    assert "set HONEYCOMB_CLIENT_CERTIFICATE and HONEYCOMB_CLIENT_KEY" in line


def test_the_shared_context_is_one_per_ca_bundle_and_client_certificate(mtls):
    def verify(**variables: Path) -> ssl.SSLContext:
        environ = {f"HONEYCOMB_{name.upper()}": str(path) for name, path in variables.items()}
        settings = resolve_settings(
            api_key=API_KEY, endpoint="https://gateway.internal", environ=environ
        )
        return tls_verification(settings)

    without = verify(ca_bundle=mtls.ca)
    client = verify(ca_bundle=mtls.ca, client_certificate=mtls.certificate, client_key=mtls.key)
    assert client is not without
    again = verify(ca_bundle=mtls.ca, client_certificate=mtls.certificate, client_key=mtls.key)
    assert again is client
    stranger = verify(
        ca_bundle=mtls.ca, client_certificate=mtls.stranger, client_key=mtls.stranger_key
    )
    assert stranger is not client
    assert verify(client_certificate=mtls.certificate, client_key=mtls.key) is not client
