"""The request options wired by hand: extra headers, a client certificate for mutual TLS, and
an addition to the ``User-Agent``. Each is resolved like every setting (argument, then
variable, then nothing) and checked here, once, with an error naming what to fix.

Header values are never shown: they may hold a proxy's or a gateway's credentials.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, NoReturn
from urllib.parse import unquote

from ._errors import ConfigurationError

ENV_HEADERS: Final = "HONEYCOMB_HEADERS"
ENV_CLIENT_CERTIFICATE: Final = "HONEYCOMB_CLIENT_CERTIFICATE"
ENV_CLIENT_KEY: Final = "HONEYCOMB_CLIENT_KEY"
ENV_USER_AGENT_ADDITION: Final = "HONEYCOMB_USER_AGENT_ADDITION"

PROTECTED_HEADERS: Final = {
    # What this package sets: the key, what the body is, and who sends it.
    "x-honeycomb-team": "it carries the API key: set HONEYCOMB_API_KEY",
    "user-agent": "use HONEYCOMB_USER_AGENT_ADDITION to add to it",
    "content-type": "it says how the body is encoded: set HONEYCOMB_ENCODING",
    "content-encoding": "it says how the body is compressed: set HONEYCOMB_COMPRESSION",
    "accept-encoding": "the answers are read uncompressed",
    "x-honeycomb-event-time": "it is each single event's own time",
    "x-honeycomb-samplerate": "it is each single event's own sample rate",
    # What the HTTP connection sets: the request's framing and the connection's own headers.
    **dict.fromkeys(
        (
            *("host", "content-length", "transfer-encoding", "trailer", "expect"),
            *("connection", "keep-alive", "te", "upgrade"),
        ),
        "the HTTP connection sets it",
    ),
}
"""Headers a user header cannot set, lower-cased, with the reason a message gives."""

# OpenTelemetry's grammar for header variables (opentelemetry.util.re, after the
# specification's "Specifying headers via environment variables"): a name of printable ASCII
# but separators, and a URL-encoded value. Its exporters read the variables "liberally": an
# entry whose value is not URL-encoded but has only spaces besides is taken as it is.
_OWS: Final = r"[ \t]*"
_NAME: Final = r"[\x21\x23-\x27\x2a\x2b\x2d\x2e\x30-\x39\x41-\x5a\x5e-\x7a\x7c\x7e]+"
_STRICT: Final = re.compile(
    rf"{_OWS}{_NAME}{_OWS}={_OWS}[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*{_OWS}"
)
_LIBERAL: Final = re.compile(
    rf"{_OWS}{_NAME}{_OWS}={_OWS}[\x20\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*{_OWS}"
)
_DELIMITER: Final = re.compile(r"[ \t]*,[ \t]*")

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's field name
_FIELD_VALUE: Final = re.compile(r"[\x20-\x7e\t]*")  # printable ASCII: both drivers send it
_NOT_SHOWN: Final = "not shown: it could hold a secret"


class RequestHeaders:
    """Headers sent with every request besides this package's own, never shown.

    Names are lower-cased (as OpenTelemetry's exporters do); none may be one of
    `PROTECTED_HEADERS`. `ignored` says, without a value, which entries of the variable were
    left out and why: the transport's assembly says each once on stderr.
    """

    __slots__ = ("_pairs", "ignored", "source")

    def __init__(
        self, headers: Mapping[str, str], source: str, ignored: Iterable[str] = ()
    ) -> None:
        pairs = []
        for name, value in headers.items():
            problem = header_problem(name, value)
            if problem is not None:
                raise ConfigurationError(f"{source}: {problem}")
            pairs.append((name.strip().lower(), value.strip()))
        self._pairs = tuple(dict(pairs).items())
        self.source = source
        self.ignored = tuple(ignored)

    def items(self) -> tuple[tuple[str, str], ...]:
        """The headers, for the one place that needs their values: the request."""
        return self._pairs

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._pairs)

    def __repr__(self) -> str:
        return f"RequestHeaders(source={self.source!r}, names={self.names!r}, values=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestHeaders) and other._pairs == self._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __reduce__(self) -> NoReturn:
        raise TypeError("RequestHeaders cannot be pickled: it would write their values in clear")


def header_problem(name: object, value: object) -> str | None:
    """What keeps `name: value` from being sent as a user header (None: nothing); never
    quoting the value."""
    if not isinstance(name, str) or not isinstance(value, str):
        return "headers must map names to values, both str"
    if not _TOKEN.fullmatch(name.strip()):
        return f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
    reason = PROTECTED_HEADERS.get(name.strip().lower())
    if reason is not None:
        return f"the {name.strip()} header is set by honeycomb-events ({reason})"
    if not _FIELD_VALUE.fullmatch(value):
        return (
            f"the value of the {name.strip()} header has characters other than printable ASCII "
            f"({_NOT_SHOWN})"
        )
    return None


def parse_headers(text: str) -> tuple[dict[str, str], list[str]]:
    """`text` read as OpenTelemetry's exporters read ``OTEL_EXPORTER_OTLP_HEADERS``
    (`parse_env_headers(text, liberal=True)`): comma-separated ``name=value`` entries, names
    lower-cased, values URL-decoded, the last of a name kept; an entry that does not parse is
    left out. Returns the headers and, for each entry left out, why (never its value)."""
    headers: dict[str, str] = {}
    ignored = []
    for number, entry in enumerate(_DELIMITER.split(text), start=1):
        entry = entry.strip()  # noqa: PLW2901 - the entry, as the SDK reads it
        if not entry:
            continue
        name, _, value = entry.partition("=")
        if _STRICT.fullmatch(entry):
            name, value = unquote(name).strip().lower(), unquote(value).strip()
        elif _LIBERAL.fullmatch(entry):
            name, value = name.strip().lower(), value.strip()
        else:
            ignored.append(
                f"entry {number} is not name=value with a URL-encoded value ({_NOT_SHOWN}); "
                "it is ignored"
            )
            continue
        problem = header_problem(name, value)
        if problem is None:
            headers[name] = value
        else:
            ignored.append(f"{problem}; it is ignored")
    return headers, ignored


def resolve_headers(
    argument: Mapping[str, str] | None, environ: Mapping[str, str]
) -> RequestHeaders | None:
    """The `headers` argument if given (even empty), else ``HONEYCOMB_HEADERS``; None when
    neither says anything."""
    if argument is not None:
        if not isinstance(argument, Mapping):
            raise ConfigurationError(
                f"the headers argument must be a mapping of names to values, not {type(argument)}"
            )
        return RequestHeaders(argument, "the headers argument")
    text = environ.get(ENV_HEADERS, "").strip()
    if not text:
        return None
    headers, ignored = parse_headers(text)
    return RequestHeaders(headers, ENV_HEADERS, (f"{ENV_HEADERS}: {why}" for why in ignored))


def resolve_user_agent_addition(argument: str | None, environ: Mapping[str, str]) -> str | None:
    """What to append to the ``User-Agent`` after a space, as libhoney's
    `user_agent_addition` does: the argument, else ``HONEYCOMB_USER_AGENT_ADDITION``; None
    when empty."""
    source = "the user_agent_addition argument"
    value = argument
    if value is None:
        source, value = ENV_USER_AGENT_ADDITION, environ.get(ENV_USER_AGENT_ADDITION, "")
    if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value) or "\t" in value:
        raise ConfigurationError(
            f"{source} must be text of printable ASCII characters, such as 'my-app/1.2'"
        )
    return value.strip() or None


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A PEM certificate and its unencrypted PEM key (None: in the certificate's file),
    presented for mutual TLS; `source` and `key_source` name the settings they came from."""

    certificate: str
    key: str | None
    source: str
    key_source: str


def resolve_client_certificate(
    certificate: str | None, key: str | None, environ: Mapping[str, str]
) -> ClientCertificate | None:
    """The `client_certificate` and `client_key` arguments if either is given (a certificate
    and its key are one setting: never one from an argument, the other from a variable), else
    ``HONEYCOMB_CLIENT_CERTIFICATE`` and ``HONEYCOMB_CLIENT_KEY``; checked by loading them."""
    if certificate is not None or key is not None:
        sources = ("the client_certificate argument", "the client_key argument")
    else:
        sources = (ENV_CLIENT_CERTIFICATE, ENV_CLIENT_KEY)
        certificate = environ.get(ENV_CLIENT_CERTIFICATE, "").strip() or None
        key = environ.get(ENV_CLIENT_KEY, "").strip() or None
    if certificate is None and key is None:
        return None
    if certificate is None:
        raise ConfigurationError(
            f"{sources[1]} is set without {sources[0]}: set both, to the PEM files of the "
            "client certificate and of its private key"
        )
    chosen = ClientCertificate(certificate, key, *sources)
    load_client_certificate(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), chosen)
    return chosen


def load_client_certificate(context: ssl.SSLContext, chosen: ClientCertificate) -> None:
    """Make `context` present the certificate; a file that cannot be read, a certificate or key
    that is not PEM, an encrypted key or a key of another certificate is a
    `ConfigurationError` naming the setting."""
    certificate_text = _read(chosen.certificate, chosen.source, "the client certificate")
    if b"-----BEGIN CERTIFICATE-----" not in certificate_text:
        raise ConfigurationError(
            f"{chosen.source} must name a PEM file of the client certificate; "
            f"{chosen.certificate!r} holds no PEM certificate"
        )
    if chosen.key is None:
        key_source, key_text = chosen.source, certificate_text
        missing = f"set {chosen.key_source} to the PEM file of its private key"
    else:
        key_source = chosen.key_source
        key_text = _read(chosen.key, chosen.key_source, "the client certificate's private key")
        missing = f"{chosen.key!r} holds no PEM private key"
    if b"PRIVATE KEY-----" not in key_text:
        raise ConfigurationError(
            f"{key_source} must name a PEM file of the client certificate's private key; {missing}"
        )
    try:
        context.load_cert_chain(chosen.certificate, chosen.key, password=_no_password)
    except _Encrypted:
        raise ConfigurationError(
            f"{key_source} is an encrypted private key; give the key unencrypted (in a file "
            "only this user can read)"
        ) from None
    except (ssl.SSLError, OSError) as error:
        if getattr(error, "reason", None) == "KEY_VALUES_MISMATCH":
            raise ConfigurationError(
                f"{key_source} is not the private key of the certificate in {chosen.source}"
            ) from None
        raise ConfigurationError(
            f"{chosen.source} and {key_source} could not be loaded as a PEM certificate and "
            f"its private key: {error}"
        ) from None


def _read(path: str, source: str, what: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise ConfigurationError(
            f"{source} must name a readable PEM file of {what}; {path!r} cannot be read "
            f"({error.strerror or type(error).__name__})"
        ) from None


class _Encrypted(Exception):
    """The key asks for a password: OpenSSL would otherwise prompt for it on the terminal."""


def _no_password() -> NoReturn:
    raise _Encrypted
