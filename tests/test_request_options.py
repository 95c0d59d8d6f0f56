"""The request options wired by hand: extra headers (``headers=``, ``HONEYCOMB_HEADERS``), which
never replace this package's own nor show their values; the User-Agent addition; and the
checks of a client certificate (tests/test_tls.py sends one to a server that requires it)."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.util.re import parse_env_headers

from honeycomb_events import ConfigurationError, HoneycombClient, resolve_settings
from honeycomb_events._http import USER_AGENT
from honeycomb_events._request_options import PROTECTED_HEADERS, header_problem, parse_headers
from honeycomb_events.otel import HoneycombEventsExporter, HoneycombLogExporter
from honeycomb_events.otel._agent import AgentSpanExporter, UnconfiguredSpanExporter
from honeycomb_events.receiver import Receiver

from .conftest import API_KEY, FAST_RETRY
from .test_tls import serving

SECRET = "s3cr3t-gateway-token"
"""A header value no message, repr or log line may show."""


def resolved(**options: Any) -> Any:
    environ = options.pop("environ", {})
    return resolve_settings(
        api_key=API_KEY, endpoint="http://127.0.0.1:1", environ=environ, **options
    )


def ended_span() -> ReadableSpan:
    with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
        pass
    return span  # type: ignore[return-value]


# HONEYCOMB_HEADERS is read as OpenTelemetry's exporters read OTEL_EXPORTER_OTLP_HEADERS.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization=Bearer%20abc", {"authorization": "Bearer abc"}),
        (" x-a = 1 ,\tx-b=2 ", {"x-a": "1", "x-b": "2"}),
        ("x-a=1,,x-b=2,", {"x-a": "1", "x-b": "2"}),
        ("X-A=1,x-a=2", {"x-a": "2"}),  # names lower-cased, the last kept
        ("x-a=b=c", {"x-a": "b=c"}),
        ("x-a=two words", {"x-a": "two words"}),  # liberal: taken as it is
        ("x-a=two words%20", {"x-a": "two words%20"}),  # ... and not decoded
        ("x-a=", {"x-a": ""}),
        ("x-a=%22quoted%22", {"x-a": '"quoted"'}),
        ("x-a=%E2%82%AC", {}),  # decodes to non-ASCII: neither driver sends it
        ("secret-without-equals,x-a=1", {"x-a": "1"}),
        ('x-a="q",x-b=1', {"x-b": "1"}),
        ("x-a=1;x-b=2", {}),
        ("x%0Aa=1", {}),  # a name that decodes to something no header name is
    ],
)
def test_the_variable_is_read_as_opentelemetry_reads_its_header_variables(text, expected):
    assert parse_headers(text)[0] == expected


_PIECES = st.sampled_from(
    [
        *("x-a", "X-B", "Authorization", "=", ",", " ", "\t", "%20", "%0A", "%E2%82%AC", "%"),
        *('"', ";", "/", "v", "Bearer", "abc", "é", "x-honeycomb-team", "content-type"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_the_variable_gives_what_opentelemetry_gives_less_what_cannot_be_sent(text):
    logging.getLogger("opentelemetry.util.re").disabled = True  # it logs the entries
    try:
        theirs = parse_env_headers(text, liberal=True)
    finally:
        logging.getLogger("opentelemetry.util.re").disabled = False
    ours, _ = parse_headers(text)
    assert set(ours) <= set(theirs)
    for name, value in theirs.items():
        if header_problem(name, value) is None:
            assert ours[name] == value
        else:  # left out; an earlier entry of the name may stand
            assert ours.get(name) != value


def test_entries_left_out_are_said_once_on_stderr_without_their_values(environment, capsys):
    environment.setenv(
        "HONEYCOMB_HEADERS",
        f"{SECRET},x-tenant=shop,x-honeycomb-team={SECRET},x-b={SECRET}%E2%82%AC",
    )
    for _ in range(2):
        with HoneycombClient(sync=True) as client:
            assert client.settings.headers.names == ("x-tenant",)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "honeycomb-events: HONEYCOMB_HEADERS: entry 1 is not name=value with a URL-encoded "
        "value (not shown: it could hold a secret); it is ignored",
        "honeycomb-events: HONEYCOMB_HEADERS: the x-honeycomb-team header is set by "
        "honeycomb-events (it carries the API key: set HONEYCOMB_API_KEY); it is ignored",
        "honeycomb-events: HONEYCOMB_HEADERS: the value of the x-b header has characters "
        "other than printable ASCII (not shown: it could hold a secret); it is ignored",
    ]


def test_the_argument_replaces_the_variable_whole():
    environ = {"HONEYCOMB_HEADERS": "x-a=1"}
    assert resolved(environ=environ).headers.names == ("x-a",)
    assert resolved(environ=environ, headers={"X-B": " 2 "}).headers.items() == (("x-b", "2"),)
    assert resolved(environ=environ, headers={}).headers.items() == ()
    assert resolved().headers is None


# The headers this package sets cannot be replaced, nor sent twice.


@pytest.mark.parametrize("name", sorted(PROTECTED_HEADERS))
def test_the_argument_cannot_name_a_header_this_package_sets(name):
    for spelling in (name, name.upper(), name.title()):
        with pytest.raises(ConfigurationError) as raised:
            HoneycombClient(API_KEY, "http://127.0.0.1:1", headers={spelling: SECRET})
        message = str(raised.value)
        assert message.startswith(f"the headers argument: the {spelling} header is set by ")
        assert SECRET not in message


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"x a": "1"}, "'x a' is not a header name"),
        ({"x-a": f"{SECRET}\r\nX-Honeycomb-Team: other"}, "other than printable ASCII"),
        ({"x-a": 1}, "both str"),
    ],
)
def test_the_argument_must_be_headers_that_can_be_sent(headers, problem):
    with pytest.raises(ConfigurationError, match=problem) as raised:
        resolved(headers=headers)
    assert SECRET not in str(raised.value)


def test_a_user_header_named_like_ours_is_not_sent(environment, capsys):
    environment.setenv(
        "HONEYCOMB_HEADERS",
        ",".join(
            f"{name}={SECRET}"
            for name in (
                *("x-honeycomb-team", "Content-Type", "content-encoding", "user-agent"),
                *("x-honeycomb-samplerate", "x-honeycomb-event-time", "host", "content-length"),
            )
        )
        + ",authorization=Bearer%20t",
    )
    with serving() as (url, seen):
        environment.setenv("HONEYCOMB_API_ENDPOINT", url)
        with HoneycombClient(sync=True, retry=FAST_RETRY) as client:
            assert client.events.send_batch("d", [{"n": 1}])[0].status == 202
            assert client.events.send("d", {"n": 1}, samplerate=5).status == 202
        exporter = HoneycombEventsExporter()
        assert exporter.export([ended_span()]) is SpanExportResult.SUCCESS
        exporter.shutdown()
    assert len(seen) == 3
    for request in seen:
        assert request.values("X-Honeycomb-Team") == [API_KEY]
        assert request.values("Content-Type") == ["application/json"]
        assert request.values("Content-Encoding") == ["zstd"]
        assert request.values("User-Agent") == [USER_AGENT]
        assert request.values("Authorization") == ["Bearer t"]
        assert len(request.values("Host")) == 1
        assert SECRET not in str(request.headers)
    assert seen[1].values("X-Honeycomb-Samplerate") == ["5"]
    err = capsys.readouterr().err
    assert err.count("it is ignored") == 8
    assert SECRET not in err


def test_the_receiver_takes_the_key_not_a_header_named_like_it(monkeypatch):
    monkeypatch.setenv("HONEYCOMB_HEADERS", "X-Honeycomb-Team=another-key")
    with Receiver(api_keys=[API_KEY]) as receiver:
        with HoneycombClient(API_KEY, receiver.url, sync=True, retry=FAST_RETRY) as client:
            assert client.events.send_batch("d", [{"n": 1}])[0].ok
        exporter = HoneycombEventsExporter(API_KEY, endpoint=receiver.url)
        assert exporter.export([ended_span()]) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert receiver.stats.snapshot()["events_accepted"] == 2
        assert receiver.stats.snapshot()["key_rejections"] == 0


def test_the_exporters_take_the_options_as_arguments(pems):
    exporter = HoneycombLogExporter(
        API_KEY,
        endpoint="http://127.0.0.1:1",
        headers={"X-Tenant": "shop"},
        client_certificate=str(pems["both"]),
        user_agent_addition="logs/1",
    )
    exporter.shutdown()
    assert exporter.settings.headers.items() == (("x-tenant", "shop"),)
    assert exporter.settings.client_certificate.certificate == str(pems["both"])
    assert exporter.settings.user_agent_addition == "logs/1"


# Header values are never shown.


def test_settings_and_clients_never_show_header_values():
    settings = resolved(headers={"Authorization": f"Bearer {SECRET}"})
    assert repr(settings.headers) == (
        "RequestHeaders(source='the headers argument', names=('authorization',), values=<redacted>)"
    )
    client = HoneycombClient(API_KEY, "http://127.0.0.1:1", headers={"Authorization": SECRET})
    for shown in (repr(settings), str(settings), repr(client), str(client.settings)):
        assert SECRET not in shown
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(settings.headers)


# The User-Agent addition, as libhoney's.


def test_the_user_agent_carries_the_addition(environment):
    with serving() as (url, seen):
        with HoneycombClient(
            API_KEY, url, sync=True, user_agent_addition=" my-app/1.2 (batch) "
        ) as client:
            client.events.send_batch("d", [{"n": 1}])
        environment.setenv("HONEYCOMB_USER_AGENT_ADDITION", "from-the-variable/3")
        with HoneycombClient(API_KEY, url, sync=True) as client:
            client.events.send("d", {"n": 1})
        exporter = HoneycombEventsExporter(endpoint=url, user_agent_addition="exporter/1")
        exporter.export([ended_span()])
        exporter.shutdown()
    assert [request.values("User-Agent") for request in seen] == [
        [f"{USER_AGENT} my-app/1.2 (batch)"],
        [f"{USER_AGENT} from-the-variable/3"],
        [f"{USER_AGENT} exporter/1"],
    ]


def test_the_user_agent_addition_is_printable_ascii():
    assert resolved(user_agent_addition="").user_agent_addition is None
    with pytest.raises(ConfigurationError, match="the user_agent_addition argument must be"):
        resolved(user_agent_addition="a\r\nX-Honeycomb-Team: b")
    with pytest.raises(ConfigurationError, match="HONEYCOMB_USER_AGENT_ADDITION must be"):
        resolved(environ={"HONEYCOMB_USER_AGENT_ADDITION": "café/1"})


# A client certificate is checked when the settings are resolved.


@pytest.fixture(scope="module")
def pems(tmp_path_factory) -> dict[str, Path]:
    """PEM files: a client certificate, its key, both in one file, the key encrypted, another
    certificate's key, and a file that is no PEM."""
    trustme = pytest.importorskip("trustme")
    from cryptography.hazmat.primitives import serialization

    directory = tmp_path_factory.mktemp("pems")
    issued, other = trustme.CA().issue_cert("client.example"), trustme.CA().issue_cert("x")
    key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    files = {
        "certificate": issued.cert_chain_pems[0].bytes(),
        "key": issued.private_key_pem.bytes(),
        "both": issued.private_key_and_cert_chain_pem.bytes(),
        "encrypted": encrypted,
        "other_key": other.private_key_pem.bytes(),
        "not_pem": b"not a certificate\n",
    }
    for name, content in files.items():
        (directory / f"{name}.pem").write_bytes(content)
    return {name: directory / f"{name}.pem" for name in files}


def certificate_settings(**variables: Path | str) -> Any:
    environ = {f"HONEYCOMB_CLIENT_{name.upper()}": str(path) for name, path in variables.items()}
    return resolved(environ=environ)


def test_a_certificate_and_its_key_are_taken(pems):
    chosen = certificate_settings(certificate=pems["certificate"], key=pems["key"])
    assert chosen.client_certificate.certificate == str(pems["certificate"])
    assert chosen.client_certificate.key == str(pems["key"])
    # A certificate whose file holds its key needs no key setting.
    assert certificate_settings(certificate=pems["both"]).client_certificate.key is None


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"certificate": "/nonexistent/client.pem", "key": "key"},
            "HONEYCOMB_CLIENT_CERTIFICATE must name a readable PEM file of the client "
            "certificate; '/nonexistent/client.pem' cannot be read (No such file or directory)",
        ),
        (
            {"certificate": "certificate", "key": "/nonexistent/key.pem"},
            "HONEYCOMB_CLIENT_KEY must name a readable PEM file of the client certificate's "
            "private key; '/nonexistent/key.pem' cannot be read (No such file or directory)",
        ),
        (
            {"key": "key"},
            "HONEYCOMB_CLIENT_KEY is set without HONEYCOMB_CLIENT_CERTIFICATE: set both",
        ),
        (
            {"certificate": "certificate"},
            "HONEYCOMB_CLIENT_CERTIFICATE must name a PEM file of the client certificate's "
            "private key; set HONEYCOMB_CLIENT_KEY to the PEM file of its private key",
        ),
        (
            {"certificate": "not_pem", "key": "key"},
            "HONEYCOMB_CLIENT_CERTIFICATE must name a PEM file of the client certificate; ",
        ),
        (
            {"certificate": "certificate", "key": "not_pem"},
            "HONEYCOMB_CLIENT_KEY must name a PEM file of the client certificate's private key",
        ),
        (
            {"certificate": "certificate", "key": "other_key"},
            "HONEYCOMB_CLIENT_KEY is not the private key of the certificate in "
            "HONEYCOMB_CLIENT_CERTIFICATE",
        ),
        (
            {"certificate": "certificate", "key": "encrypted"},
            "HONEYCOMB_CLIENT_KEY is an encrypted private key; give the key unencrypted",
        ),
    ],
)
def test_a_certificate_that_cannot_be_used_names_the_variable(pems, variables, message):
    paths = {name: pems.get(value, value) for name, value in variables.items()}
    with pytest.raises(ConfigurationError) as raised:
        certificate_settings(**paths)
    assert str(raised.value).startswith(message)


def test_the_arguments_are_one_setting_and_named_in_errors(pems):
    environ = {"HONEYCOMB_CLIENT_KEY": str(pems["other_key"])}
    chosen = resolved(environ=environ, client_certificate=str(pems["both"]))
    assert chosen.client_certificate.key is None  # the variable's key is not mixed in
    with pytest.raises(ConfigurationError, match=r"^the client_key argument is not the private"):
        resolved(client_certificate=str(pems["certificate"]), client_key=str(pems["other_key"]))
    with pytest.raises(ConfigurationError, match=r"^the client_key argument is set without"):
        resolved(client_key=str(pems["key"]))


def test_under_the_agent_a_bad_certificate_is_one_line_on_stderr(pems, environment, capsys):
    environment.setenv("HONEYCOMB_CLIENT_CERTIFICATE", str(pems["certificate"]))
    environment.setenv("HONEYCOMB_CLIENT_KEY", str(pems["other_key"]))
    exporter = AgentSpanExporter()
    assert isinstance(exporter, UnconfiguredSpanExporter)
    assert capsys.readouterr().err == (
        "honeycomb-events: spans are not sent to Honeycomb: HONEYCOMB_CLIENT_KEY is not the "
        "private key of the certificate in HONEYCOMB_CLIENT_CERTIFICATE\n"
    )


def test_the_metric_exporter_takes_the_request_options_as_arguments(environment):
    from honeycomb_events import HoneycombMetricExporter

    exporter = HoneycombMetricExporter(
        headers={"x-proxy-token": "abc"}, user_agent_addition="shop/1.2"
    )
    assert exporter.settings.headers is not None
    assert dict(exporter.settings.headers.items()) == {"x-proxy-token": "abc"}
    assert exporter.settings.user_agent_addition == "shop/1.2"
    exporter.shutdown()
