"""Settings resolved from constructor arguments, then the environment, then defaults.

Every value that comes from the user is validated here, once, with an error that names the
argument or environment variable to fix.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal, TypeVar
from urllib.parse import urlsplit

from ._datasets import DATASET_ARGUMENT, ENV_DATASET, checked_dataset

# Re-exported: the transport and the command line check dataset names through the settings.
from ._datasets import validate_dataset as validate_dataset  # noqa: PLC0414
from ._errors import ConfigurationError
from ._formats import Compression, Encoding

# Re-exported: every variable is named here (tests/test_docs.py reads them from this module).
from ._request_options import ENV_CLIENT_CERTIFICATE as ENV_CLIENT_CERTIFICATE  # noqa: PLC0414
from ._request_options import ENV_CLIENT_KEY as ENV_CLIENT_KEY  # noqa: PLC0414
from ._request_options import ENV_HEADERS as ENV_HEADERS  # noqa: PLC0414
from ._request_options import ENV_USER_AGENT_ADDITION as ENV_USER_AGENT_ADDITION  # noqa: PLC0414
from ._request_options import (
    ClientCertificate,
    RequestHeaders,
    resolve_client_certificate,
    resolve_headers,
    resolve_user_agent_addition,
)

_logger = logging.getLogger("honeycomb_events")

_Choice = TypeVar("_Choice", Compression, Encoding)

Signal = Literal["traces", "metrics", "logs"]
"""An OpenTelemetry signal: each may have its own key, dataset and endpoint variables."""

# Classic (pre-environment) keys: 32 hex characters, or a 64-character ingest key whose
# prefix names it classic. Honeycomb routes their events by the configured dataset.
_CLASSIC_KEY: Final = re.compile(r"[0-9a-f]{32}|hc[a-z]ic_[0-9a-z]{58}")


TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
"""What a yes-or-no variable takes for yes, in any case."""


def flag_set(name: str) -> bool:
    """Whether the environment variable `name` says yes (`TRUE_WORDS`, spaces ignored)."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def signal_variable(signal: Signal, setting: str) -> str:
    """The per-signal variable name, e.g. ``HONEYCOMB_TRACES_APIKEY``."""
    return f"HONEYCOMB_{signal.upper()}_{setting}"


DEFAULT_ENDPOINT: Final = "https://api.honeycomb.io"
DEFAULT_TIMEOUT: Final = 10.0

ENV_API_KEY: Final = "HONEYCOMB_API_KEY"
ENV_ENDPOINT: Final = "HONEYCOMB_API_ENDPOINT"
ENV_TIMEOUT: Final = "HONEYCOMB_TIMEOUT"
ENV_COMPRESSION: Final = "HONEYCOMB_COMPRESSION"
ENV_ENCODING: Final = "HONEYCOMB_ENCODING"
ENV_CA_BUNDLE: Final = "HONEYCOMB_CA_BUNDLE"
ENV_SPOOL_DIR: Final = "HONEYCOMB_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES: Final = "HONEYCOMB_SPOOL_MAX_BYTES"
ENV_SPOOL_MAX_AGE: Final = "HONEYCOMB_SPOOL_MAX_AGE"
ENV_BACKLOG_MAX_BYTES: Final = "HONEYCOMB_BACKLOG_MAX_BYTES"
ENV_QUIET: Final = "HONEYCOMB_QUIET"
ENV_DEBUG: Final = "HONEYCOMB_DEBUG"  # and the distro's DEBUG (otel/_debug.py)
ENV_LOCAL_VISUALIZATIONS: Final = "HONEYCOMB_ENABLE_LOCAL_VISUALIZATIONS"
# Read by `_rules`, which parses them; named here with every other variable.
ENV_REDACT_FIELDS: Final = "HONEYCOMB_REDACT_FIELDS"
ENV_DROP_EVENTS: Final = "HONEYCOMB_DROP_EVENTS"
DEFAULT_SPOOL_MAX_BYTES: Final = 100 * 1024 * 1024
DEFAULT_BACKLOG_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_SPOOL_MAX_AGE: Final = 24 * 3600.0


class ApiKey:
    """An API key that never shows itself in a repr, str, log line or exception.

    `source` says where the key came from (an argument or a variable name), so an error about
    a rejected key can say which setting to fix without printing the key.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        # An HTTP header carries only printable ASCII; anything else would fail in httpx with
        # an error quoting the whole key.
        if not value or not all("!" <= c <= "~" for c in value):
            raise ConfigurationError(
                f"the API key from {source} is empty or has white space or characters that "
                f"are not printable ASCII; set {source} to the ingest key shown in "
                "Honeycomb's environment settings"
            )
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The key itself, for the one place that needs it: the request header."""
        return self._value

    def scrubbed(self, text: str) -> str:
        """`text` with the key, should a server or a proxy echo it, replaced."""
        return text.replace(self._value, "<redacted>")

    @property
    def is_classic(self) -> bool:
        """A classic key: Honeycomb puts its events in the configured dataset."""
        return _CLASSIC_KEY.fullmatch(self._value) is not None

    def __repr__(self) -> str:
        return f"ApiKey(source={self.source!r}, value=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str:
        raise TypeError("an ApiKey cannot be pickled: it would write the key out in clear")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a transport needs: resolved, validated, and safe to print."""

    api_key: ApiKey
    endpoint: str
    timeout: float
    compression: Compression
    encoding: Encoding
    spool: SpoolSettings | None = None
    ca_bundle: str | None = None
    """A PEM file of certificates to trust instead of the system's (TLS is always verified)."""
    backlog_max_bytes: int = DEFAULT_BACKLOG_MAX_BYTES
    """How many bytes of encoded events an exporter keeps in memory while the backend fails
    and there is no spool; past it, the newest are dropped and counted."""
    endpoint_source: str = ENV_ENDPOINT
    """The setting the endpoint came from: what a message about it tells the user to check."""
    dataset: str | None = None
    """An OpenTelemetry signal's configured dataset (see `resolve_dataset`), which its rule
    in `_datasets.routing` applies; checked there when it came from a variable, since a rule
    may ignore it."""
    dataset_source: str | None = None
    """Where `dataset` came from, or the variables looked at when it is not set."""
    headers: RequestHeaders | None = None
    """Headers sent with every request besides this package's own (their values never
    shown)."""
    client_certificate: ClientCertificate | None = None
    """The certificate presented for mutual TLS, checked when resolved."""
    user_agent_addition: str | None = None
    """Appended to the ``User-Agent`` after a space, as libhoney's is."""


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    """Where undeliverable events wait on disk, and how much of them (see `Spool`)."""

    directory: str
    max_bytes: int
    max_age: float


def resolve_settings(
    *,
    api_key: str | ApiKey | None = None,
    endpoint: str | None = None,
    timeout: float | None = None,
    compression: str | Compression | None = None,
    encoding: str | Encoding | None = None,
    environ: Mapping[str, str] | None = None,
    signal: Signal | None = None,
    dataset: str | None = None,
    headers: Mapping[str, str] | None = None,
    client_certificate: str | None = None,
    client_key: str | None = None,
    user_agent_addition: str | None = None,
) -> Settings:
    """Resolve every transport setting: argument first, then the environment, then the default.

    With a `signal`, its own variables come before the general ones: for traces,
    ``HONEYCOMB_TRACES_APIKEY`` before ``HONEYCOMB_API_KEY`` and ``HONEYCOMB_TRACES_ENDPOINT``
    before ``HONEYCOMB_API_ENDPOINT``; and its dataset is resolved too (`resolve_dataset`).
    `headers`, the client certificate and the user agent's addition are in `_request_options`.
    """
    env = os.environ if environ is None else environ
    resolved_endpoint, endpoint_source = _resolve_endpoint(endpoint, env, signal)
    settings = Settings(
        api_key=_resolve_api_key(api_key, env, signal),
        endpoint=resolved_endpoint,
        endpoint_source=endpoint_source,
        timeout=_resolve_timeout(timeout, env),
        compression=_resolve_enum(Compression, compression, "compression", ENV_COMPRESSION, env),
        encoding=_resolve_enum(Encoding, encoding, "encoding", ENV_ENCODING, env),
        spool=_resolve_spool(env),
        ca_bundle=_resolve_ca_bundle(env),
        backlog_max_bytes=_positive_bytes(
            env, ENV_BACKLOG_MAX_BYTES, DEFAULT_BACKLOG_MAX_BYTES, "67108864"
        ),
        headers=resolve_headers(headers, env),
        client_certificate=resolve_client_certificate(client_certificate, client_key, env),
        user_agent_addition=resolve_user_agent_addition(user_agent_addition, env),
    )
    if signal is None:  # the events client names its dataset with each send
        return settings
    name, source = resolve_dataset(dataset, signal, env)
    return replace(settings, dataset=name, dataset_source=source)


def _resolve_ca_bundle(env: Mapping[str, str]) -> str | None:
    path = _from_env(env, ENV_CA_BUNDLE)
    if path is not None and not os.path.isfile(path):
        raise ConfigurationError(
            f"{ENV_CA_BUNDLE} must name a PEM file of CA certificates; {path!r} is not a file"
        )
    return path


def _resolve_spool(env: Mapping[str, str]) -> SpoolSettings | None:
    directory = _from_env(env, ENV_SPOOL_DIR)
    if directory is None:
        return None
    size = _positive_bytes(env, ENV_SPOOL_MAX_BYTES, DEFAULT_SPOOL_MAX_BYTES, "104857600")
    max_age = _from_env(env, ENV_SPOOL_MAX_AGE)
    try:
        age = DEFAULT_SPOOL_MAX_AGE if max_age is None else float(max_age)
    except ValueError:
        age = 0.0
    if not 0 < age < float("inf"):
        raise ConfigurationError(
            f"{ENV_SPOOL_MAX_AGE} must be a positive number of seconds, such as 86400, "
            f"not {max_age!r}"
        )
    return SpoolSettings(directory, size, age)


def _positive_bytes(env: Mapping[str, str], name: str, default: int, example: str) -> int:
    value = _from_env(env, name)
    try:
        size = default if value is None else int(value)
    except ValueError:
        size = 0
    if size <= 0:
        raise ConfigurationError(
            f"{name} must be a positive number of bytes, such as {example}, not {value!r}"
        )
    return size


def _from_env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _first_variable(
    env: Mapping[str, str], signal: Signal | None, setting: str, general: str
) -> tuple[str, str] | tuple[None, str]:
    """The first set variable among the signal's own and the general one, with its name."""
    names = ([signal_variable(signal, setting)] if signal else []) + [general]
    for name in names:
        value = _from_env(env, name)
        if value is not None:
            return value, name
    return None, " or ".join(names)


def _resolve_api_key(
    argument: str | ApiKey | None, env: Mapping[str, str], signal: Signal | None
) -> ApiKey:
    if isinstance(argument, ApiKey):  # read by the caller, who knows where it came from
        return argument
    if argument is not None:
        return ApiKey(argument, "the api_key argument")
    value, name = _first_variable(env, signal, "APIKEY", ENV_API_KEY)
    if value is None:
        raise ConfigurationError(
            f"no Honeycomb API key: pass api_key=... or set {name} "
            "(an ingest key from your Honeycomb environment's settings)"
        )
    return ApiKey(value, name)


def _resolve_endpoint(
    argument: str | None, env: Mapping[str, str], signal: Signal | None
) -> tuple[str, str]:
    """The endpoint, and the setting it came from (the one to change)."""
    if argument is not None:
        return validate_endpoint(argument, "the endpoint argument"), "the endpoint argument"
    value, name = _first_variable(env, signal, "ENDPOINT", ENV_ENDPOINT)
    if value is None:
        return DEFAULT_ENDPOINT, name
    return validate_endpoint(value, name), name


def resolve_dataset(
    argument: str | None, signal: Signal, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The configured dataset and where it came from: the argument, else the signal's own
    variable (``HONEYCOMB_TRACES_DATASET``), else ``HONEYCOMB_DATASET``; unset, None and the
    variables looked at.

    The argument is checked here; a variable's value is checked where a signal's rule uses it
    (`_datasets.routing`), since with an environment key it may be ignored.
    """
    if argument is not None:
        return checked_dataset(argument, DATASET_ARGUMENT), DATASET_ARGUMENT
    env = os.environ if environ is None else environ
    return _first_variable(env, signal, "DATASET", ENV_DATASET)


def validate_endpoint(value: str, source: str) -> str:
    """Check that `value` is an http(s) URL; warn when a key would cross a network in clear."""
    parts = urlsplit(value.strip())
    # Echo the value only when it looks like a URL or an address: a key pasted into the
    # wrong setting must not end up in an error message (no key has a dot or a colon).
    address = _ADDRESS.fullmatch(value.strip())
    shown = (
        f"not {value!r}"
        if "://" in value or address
        else "not the value given (not shown: it could be a key)"
    )
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise ConfigurationError(f"{source} has an invalid port, {shown}") from None
    if address:
        scheme = "http" if _is_loopback(address["host"].strip("[]")) else "https"
        raise ConfigurationError(
            f"{source} must be a URL with its scheme, {shown}: did you mean "
            f"'{scheme}://{value.strip()}'?"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{source} must be an http:// or https:// URL such as {DEFAULT_ENDPOINT}, {shown}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{source} must not have a query or fragment, {shown}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        _logger.warning(
            "%s is a plain-http URL to a non-loopback host (%s): the API key will travel "
            "unencrypted; use https://",
            source,
            parts.hostname,
        )
    return value.strip().rstrip("/")


_ADDRESS: Final = re.compile(
    r"(?P<host>localhost|[\w-]+(?:\.[\w-]+)+|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?(?:/\S*)?"
)
"""A host (a name with a dot, an address, localhost) and maybe a port and path: an
endpoint whose scheme was left out."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve_timeout(argument: float | None, env: Mapping[str, str]) -> float:
    if argument is not None:
        return _positive_seconds(argument, "the timeout argument")
    value = _from_env(env, ENV_TIMEOUT)
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigurationError(
            f"{ENV_TIMEOUT} must be a number of seconds, such as 10 or 2.5, not {value!r}"
        ) from None
    return _positive_seconds(seconds, ENV_TIMEOUT)


def _positive_seconds(value: float, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{source} must be a number of seconds, not {value!r}")
    if not (0 < value < float("inf")):
        raise ConfigurationError(f"{source} must be a positive, finite number of seconds")
    return float(value)


def _resolve_enum(
    kind: type[_Choice],
    argument: str | _Choice | None,
    argument_name: str,
    variable: str,
    env: Mapping[str, str],
) -> _Choice:
    if isinstance(argument, kind):
        return argument
    if argument is not None:
        return kind.from_str(str(argument), f"the {argument_name} argument")
    value = _from_env(env, variable)
    if value is None:
        return kind.default()
    return kind.from_str(value, variable)
