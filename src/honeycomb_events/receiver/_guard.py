"""`BrowserGuard`: keeps the web pages a user happens to visit from using the receiver.

The receiver runs on the user's machine, where any page open in a browser can send it
requests. What a page can do without a browser bug, and what stops it:

- **DNS rebinding.** A page on a name whose DNS answer the attacker switches to 127.0.0.1 is
  *same-origin* with the receiver, so it may read and change everything. Its requests carry the
  attacker's name in ``Host``; only names the receiver knows are served: ``localhost`` and
  ``*.localhost`` (which browsers and resolvers keep on loopback), the names in
  `allowed_hosts`, and any IP address (a rebinding needs a name the attacker's DNS answers).
- **Cross-site "simple" requests** (a form post, ``fetch`` with a text/plain body, an
  ``<img>``). Browsers send them without a CORS preflight, so answering no CORS headers only
  hides the answer. A control request must not carry a foreign ``Origin``, and a POST to one
  must be ``application/json``, which no page can send cross-origin without a preflight. Pages
  and control endpoints also refuse what browsers mark ``Sec-Fetch-Site: cross-site`` or
  ``same-site``, except a top-level navigation to a page: a link the user followed.
- The Honeycomb and OTLP endpoints need ``X-Honeycomb-Team``, a header no page can send
  cross-origin without a preflight, which the receiver never approves: the ``Host`` check is
  all they need.

With `api_keys`, control requests must also carry one of the keys in ``X-Honeycomb-Team``.
Pages need none: a browser cannot add the header to a link.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from typing import Final, Literal

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from honeycomb_events._limits import MAX_BODY_BYTES

from ._bodies import media_type

_HOST: Final = re.compile(
    r"(?:\[(?P<bracketed>[^\]\s]+)\]|(?P<name>[^\s:\[\]@/]+))(?::(?P<port>[0-9]{1,5}))?"
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FOREIGN_SITES: Final = frozenset({"cross-site", "same-site"})
_JSON: Final = "application/json"

_Area = Literal["api", "control", "page"]


def split_host(value: str) -> tuple[str, int | None] | None:
    """The name or address of a ``Host`` value (lower case, no brackets, no trailing dot) and
    its port; None when it is not a host."""
    match = _HOST.fullmatch(value.strip())
    if match is None:
        return None
    name = (match["bracketed"] or match["name"]).lower().removesuffix(".")
    port = match["port"]
    return name, None if port is None else int(port)


def _area(path: str) -> _Area:
    if path.startswith(("/1/", "/v1/")):
        return "api"
    if path == "/_receiver" or path.startswith("/_receiver/"):
        return "control"
    return "page"


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether a browser's ``Origin`` is the origin the request was sent to (its ``Host``).

    A ``Host`` without a port matches either default port, as it does behind a TLS proxy.
    """
    scheme, separator, rest = origin.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in _DEFAULT_PORTS or host is None:
        return False
    theirs, ours = split_host(rest), split_host(host)
    if theirs is None or ours is None or theirs[0] != ours[0]:
        return False
    if ours[1] is None:
        return theirs[1] is None
    return ours[1] == (theirs[1] or _DEFAULT_PORTS[scheme])


def _is_navigation(headers: Headers) -> bool:
    mode, destination = headers.get("sec-fetch-mode"), headers.get("sec-fetch-dest")
    return mode == "navigate" and destination == "document"


def normalize_hosts(hosts: Collection[str]) -> frozenset[str]:
    """Host names as `BrowserGuard` compares them; a port given with one is ignored.

    Raises `TypeError` for a single string and `ValueError` for a value that is not a host.
    """
    if isinstance(hosts, str):
        raise TypeError("allowed_hosts must be a collection of host names, not a single string")
    names = set()
    for host in hosts:
        if _is_address(host.strip()):  # an IPv6 address may come without brackets
            names.add(host.strip().lower())
            continue
        split = split_host(host)
        if split is None:
            raise ValueError(f"not a host name: {host!r}")
        names.add(split[0])
    return frozenset(names)


class BrowserGuard:
    """ASGI middleware answering 403 (401, 415) to requests a web page could have made.

    `allowed_hosts`: host names served besides localhost, ``*.localhost`` and IP addresses.
    `api_keys`: when not None, control requests need one in ``X-Honeycomb-Team``. A request
    without ``Host`` (HTTP/1.0) passes the ``Host`` check: browsers always send one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Collection[str] = (),
        api_keys: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.allowed_hosts = normalize_hosts(allowed_hosts)
        self._keys = None if api_keys is None else frozenset(api_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope["method"], scope["path"], Headers(scope=scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        # Read the body first, as the endpoints do, so that a client still sending gets the
        # refusal (which says what to change) rather than a connection reset.
        await _drain(receive)
        status, text = refusal
        await JSONResponse({"error": text}, status_code=status)(scope, receive, send)

    def refusal(self, method: str, path: str, headers: Headers) -> tuple[int, str] | None:
        """The status and error text refusing this request, or None to serve it."""
        host = headers.get("host")
        if host is not None and not self._host_allowed(host):
            return 403, (
                f"host {host[:100]!r} is not allowed (a defence against DNS rebinding): "
                "the receiver answers to localhost, IP addresses and the names given with "
                "serve --allow-host NAME, HONEYCOMB_RECEIVER_ALLOWED_HOSTS or "
                "Receiver(allowed_hosts=...)"
            )
        area = _area(path)
        if area == "api":
            return None
        if headers.get("sec-fetch-site") in _FOREIGN_SITES and not (
            area == "page" and _is_navigation(headers)
        ):
            return 403, (
                "cross-site request refused: the receiver's pages and control endpoints "
                "answer its own pages, links followed, and tools other than browsers"
            )
        return None if area == "page" else self._control_refusal(method, headers, host)

    def _control_refusal(
        self, method: str, headers: Headers, host: str | None
    ) -> tuple[int, str] | None:
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, host):
            return 403, (
                f"cross-origin request refused: Origin {origin[:100]!r} is not this receiver; "
                "control endpoints answer only their own origin and tools that send no Origin"
            )
        key = headers.get("x-honeycomb-team", "").strip()
        if self._keys is not None and key not in self._keys:
            return 401, "control endpoints need one of the receiver's API keys in X-Honeycomb-Team"
        if method == "POST" and media_type(headers) != _JSON:
            return 415, f"control endpoints take Content-Type: {_JSON}"
        return None

    def _host_allowed(self, host: str) -> bool:
        split = split_host(host)
        if split is None:
            return False
        name = split[0]
        return (
            name == "localhost"
            or name.endswith(".localhost")
            or name in self.allowed_hosts
            or _is_address(name)
        )


async def _drain(receive: Receive) -> None:
    received = 0
    while received <= MAX_BODY_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
