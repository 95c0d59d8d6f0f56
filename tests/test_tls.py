"""TLS is verified by default; HONEYCOMB_CA_BUNDLE trusts a private CA instead."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.trace import TracerProvider

from honeycomb_events import BatchEvent, ConfigurationError, Transport, resolve_settings
from honeycomb_events._http import tls_verification
from honeycomb_events.otel import HoneycombEventsExporter

from .conftest import API_KEY, FAST_RETRY


class _Honeycomb(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        count = len(msgspec.json.decode(body))
        answer = msgspec.json.encode([{"status": 202}] * count)
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Honeycomb)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, certificate.with_name("key.pem"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
