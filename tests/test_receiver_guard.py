"""What a web page in the user's browser can no longer do to a receiver on their machine:
DNS rebinding (a foreign ``Host``), cross-site simple requests to the control endpoints, and
cross-site loads of the pages; and what keys guard once configured. A real receiver on
127.0.0.1, driven with httpx as a browser would send."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Headers

from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY

KEY = {"X-Honeycomb-Team": API_KEY}
REBINDING = "rebind.attacker.example"
IMAGE = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}


@pytest.fixture
def http(receiver: Receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.url, timeout=10) as client:
        yield client


def send_one(http: httpx.Client, dataset: str = "kept") -> None:
    response = http.post(f"/1/batch/{dataset}", headers=KEY, json=[{"data": {"n": 1}}])
    assert response.json() == [{"status": 202}]


def test_a_rebinding_host_is_refused_everywhere_and_the_events_are_kept(
    receiver: Receiver, http: httpx.Client
) -> None:
    send_one(http)
    host = {"Host": f"{REBINDING}:{receiver.port}"}

    cleared = http.delete("/_receiver/events", headers=host)

    assert cleared.status_code == 403
    error = cleared.json()["error"]
    assert REBINDING in error
    assert "--allow-host" in error
    assert "HONEYCOMB_RECEIVER_ALLOWED_HOSTS" in error
    assert len(receiver.events("kept")) == 1
    assert http.get("/", headers=host).status_code == 403
    assert http.get("/_receiver/events/kept", headers=host).status_code == 403
    assert http.post("/_receiver/faults", headers=host, json={"status": 503}).status_code == 403
    assert receiver.faults.pending() == []
    # A large body is read before the refusal, so the client gets the reason, not a reset.
    big = [{"data": {"s": "x" * 1000}}] * 3000
    refused = http.post("/1/batch/kept", headers={**KEY, **host}, json=big)
    assert refused.status_code == 403
    assert "--allow-host" in refused.json()["error"]
    assert len(receiver.events("kept")) == 1
    assert len(receiver.requests) == 1  # refusals never reach the endpoints


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None],
)
def test_a_simple_post_to_faults_is_refused(
    receiver: Receiver, http: httpx.Client, content_type: str | None
) -> None:
    # What a page can send cross-origin without a preflight: a text or form body, or a Blob
    # without a type, which goes with no Content-Type at all.
    headers = {} if content_type is None else {"Content-Type": content_type}
    request = http.build_request(
        "POST", "/_receiver/faults", content=b'{"status": 503, "times": 1000000000}'
    )
    request.headers.pop("Content-Type", None)
    request.headers.update(headers)

    response = http.send(request)

    assert response.status_code == 415
    assert response.json() == {"error": "control endpoints take Content-Type: application/json"}
    assert receiver.faults.pending() == []
    send_one(http)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:3000"])
def test_a_foreign_origin_is_refused_on_control_endpoints(
    receiver: Receiver, http: httpx.Client, origin: str
) -> None:
    send_one(http)
    foreign = {"Origin": origin}

    for response in (
        http.post("/_receiver/faults", headers=foreign, json={"status": 503}),
        http.delete("/_receiver/events", headers=foreign),
        http.get("/_receiver/events/kept", headers=foreign),
    ):
        assert response.status_code == 403
        assert "cross-origin request refused" in response.json()["error"]
    assert receiver.faults.pending() == []
    assert len(receiver.events("kept")) == 1
    # Its own origin is served.
    own = {"Origin": receiver.url}
    assert http.post("/_receiver/faults", headers=own, json={"delay": 0.01}).status_code == 200
    assert http.delete("/_receiver/events", headers=own).json() == {"cleared": True}


def test_the_api_endpoints_rely_on_the_preflight_a_key_header_forces(
    receiver: Receiver, http: httpx.Client
) -> None:
    # A page's fetch with X-Honeycomb-Team (or a protobuf body) is preceded by a preflight,
    # which is never approved, so the browser never sends the request itself. Other clients
    # that add an Origin header are served.
    preflight = http.options(
        "/1/batch/d",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-honeycomb-team",
        },
    )
    assert not preflight.is_success
    assert "access-control-allow-origin" not in preflight.headers
    # Without the key header, a cross-site simple post is refused before any body is read
    # as events, so nothing is stored.
    simple = http.post(
        "/1/batch/d",
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
        content=b'[{"data": {"n": 1}}]',
    )
    assert simple.status_code == 400
    assert receiver.datasets() == []
    # Host is still checked there.
    rebound = http.post("/1/batch/d", headers={**KEY, "Host": REBINDING}, json=[{"data": {"n": 1}}])
    assert rebound.status_code == 403
    assert receiver.datasets() == []


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
@pytest.mark.parametrize("path", ["/", "/trace/0af7651916cd43dd8448eb211c80319c"])
def test_cross_site_loads_of_pages_are_refused_but_followed_links_are_not(
    http: httpx.Client, site: str, path: str
) -> None:
    image = http.get(path, headers={**IMAGE, "Sec-Fetch-Site": site})
    assert image.status_code == 403
    assert "cross-site request refused" in image.json()["error"]
    frame = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
    assert http.get(path, headers=frame).status_code == 403
    link = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert http.get(path, headers=link).status_code != 403
    for own in ("same-origin", "none"):
        assert http.get(path, headers={**IMAGE, "Sec-Fetch-Site": own}).status_code != 403


def test_cross_site_requests_to_control_endpoints_are_refused_even_as_navigations(
    receiver: Receiver, http: httpx.Client
) -> None:
    send_one(http)
    navigation = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    assert http.get("/_receiver/events/kept", headers=navigation).status_code == 403
    assert http.get("/_receiver/stats", headers=IMAGE).status_code == 403
    assert http.get("/_receiver/stats", headers={"Sec-Fetch-Site": "same-origin"}).is_success


def raw_status(port: int, request: bytes) -> int:
    """The status of one raw request, for what httpx will not send (HTTP/1.0 with no Host)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_configured_and_loopback_hosts_and_addresses_are_served() -> None:
    with Receiver(allowed_hosts=["Receiver", "ci-runner.internal:8086"]) as receiver:
        port = receiver.port
        with httpx.Client(base_url=receiver.url, timeout=10) as http:
            for host in (
                f"receiver:{port}",  # a docker-compose service name, any casing
                "RECEIVER.",
                "ci-runner.internal",  # the port given with a name is ignored
                f"localhost:{port}",
                "app.localhost",
                f"127.0.0.2:{port}",
                f"[::1]:{port}",
                "10.1.2.3:8086",  # --host 0.0.0.0 reached by the container's address
            ):
                response = http.post(
                    "/1/batch/d", headers={**KEY, "Host": host}, json=[{"data": {"n": 1}}]
                )
                assert response.status_code == 200, host
                assert http.delete("/_receiver/faults", headers={"Host": host}).is_success
            for host in ("other", "receiver.example", "localhost.evil.example", "a@localhost"):
                assert http.get("/", headers={"Host": host}).status_code == 403, host
        assert len(receiver.events("d")) == 8
        # HTTP/1.0 without Host: not a browser, so not a rebinding.
        assert raw_status(port, b"GET /_receiver/datasets HTTP/1.0\r\n\r\n") == 200


def test_allowed_hosts_are_checked_when_the_receiver_is_made() -> None:
    with pytest.raises(TypeError, match="collection of host names"):
        Receiver(allowed_hosts="receiver")
    with pytest.raises(ValueError, match="not a host name"):
        Receiver(allowed_hosts=["a b"])


def test_with_keys_the_control_endpoints_need_one_and_the_pages_do_not() -> None:
    with (
        Receiver(api_keys={"good", "other"}) as receiver,
        httpx.Client(base_url=receiver.url, timeout=10) as http,
    ):
        for headers in ({}, {"X-Honeycomb-Team": "bad"}):
            for response in (
                http.get("/_receiver/datasets", headers=headers),
                http.delete("/_receiver/events", headers=headers),
                http.post("/_receiver/faults", headers=headers, json={"status": 503}),
            ):
                assert response.status_code == 401
                assert "X-Honeycomb-Team" in response.json()["error"]
        assert receiver.faults.pending() == []
        good = {"X-Honeycomb-Team": "good"}
        assert http.post("/_receiver/faults", headers=good, json={"delay": 0.01}).is_success
        assert http.get("/_receiver/datasets", headers=good).json() == []
        assert http.get("/").status_code == 200


STATS = "/_receiver/stats"
OWN = "localhost:8086"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/", {"host": OWN}, None),
        ("GET", "/", {"host": "xn--80ak6aa92e.com"}, 403),
        ("GET", "/", {"host": "127.0.0.1:99999999"}, 403),
        ("GET", "/", {"host": "[::1"}, 403),
        ("POST", "/_receiver/faults", {"content-type": "application/json; charset=utf-8"}, None),
        ("POST", "/_receiver/faults", {"content-type": "application/jsonx"}, 415),
        ("DELETE", "/_receiver/events", {}, None),
        ("GET", "/_receiver", {"sec-fetch-site": "cross-site"}, 403),
        ("GET", "/anything-else", {"sec-fetch-site": "cross-site"}, 403),
        ("POST", "/v1/traces", {"sec-fetch-site": "cross-site"}, None),
        # Same origin: Origin's host and port are the Host's; a Host without a port matches
        # either default port, as behind a TLS proxy.
        ("GET", STATS, {"host": OWN, "origin": "http://localhost:8086"}, None),
        ("GET", STATS, {"host": OWN, "origin": "http://localhost:8087"}, 403),
        ("GET", STATS, {"host": OWN, "origin": "https://localhost"}, 403),
        ("GET", STATS, {"host": "r.localhost", "origin": "https://r.localhost"}, None),
        ("GET", STATS, {"host": "r.localhost", "origin": "http://r.localhost:81"}, 403),
        ("GET", STATS, {"host": "r.localhost", "origin": "ftp://r.localhost"}, 403),
        ("GET", STATS, {"origin": "http://localhost"}, 403),
    ],
)
def test_what_the_guard_refuses(
    method: str, path: str, headers: dict[str, str], status: int | None
) -> None:
    from honeycomb_events.receiver._guard import BrowserGuard

    guard = BrowserGuard(Starlette(), allowed_hosts=())
    refusal = guard.refusal(method, path, Headers(headers))
    assert (None if refusal is None else refusal[0]) == status


def test_request_stop_force_cuts_requests_in_flight_at_once() -> None:
    receiver = Receiver().start()
    receiver.faults.push(Fault(delay=60))
    failures: list[Exception] = []

    def send() -> None:
        try:
            httpx.post(f"{receiver.url}/1/batch/d", headers=KEY, json=[{"data": {}}], timeout=30)
        except httpx.HTTPError as error:
            failures.append(error)

    client = threading.Thread(target=send)
    client.start()
    deadline = time.monotonic() + 10
    while receiver.faults.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receiver.faults.pending() == [], "the request never reached its delay"

    started = time.monotonic()
    receiver.request_stop(force=True)
    receiver.stop()
    elapsed = time.monotonic() - started

    client.join(10)
    # A graceful stop gives the delayed request a second (and a tenth); a forced one does not.
    assert elapsed < 0.8
    assert len(failures) == 1
    assert not receiver.running
