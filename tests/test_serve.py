"""``honeycomb-events serve`` as a user runs it: ``python -m honeycomb_events serve`` in a
subprocess on 127.0.0.1. It stops within seconds on SIGTERM or SIGINT whatever is pending,
takes API keys only from the environment or a file, and answers the host names it is given."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from .conftest import API_KEY

COMMAND = [sys.executable, "-m", "honeycomb_events", "serve"]
STOP_WITHIN = 3.0
"""Seconds `serve` may take to exit after a signal: about 1.1 s when requests are pending."""

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**variables: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HONEYCOMB_")}
    return base | variables


class Served:
    """A `serve` subprocess, its URL once it answers, and what it printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            env=environment() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Read on threads, so that a full pipe never blocks serve and nothing is lost
        # between the first line and the rest.
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self._out),
                (self.process.stderr, self._err),
            )
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + 20
        while not self._out and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first = self._out[0] if self._out else ""
        if " receiver on " not in first:
            self.stop()
            pytest.fail(f"serve printed {self.out!r}, stderr {self.err!r}")
        self.first_line = first
        self.url = first.split(" receiver on ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self._wait_until_answering()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        lines.extend(stream)

    @property
    def out(self) -> str:
        return "".join(self._out)

    @property
    def err(self) -> str:
        return "".join(self._err)

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/", timeout=1)
            except httpx.TransportError:
                time.sleep(0.05)
            else:
                return
        pytest.fail("serve did not answer within 20 s")

    def signal_and_wait(self, number: int, *, again_after: float | None = None) -> float:
        """Send `number` (twice, with `again_after`), return the seconds until serve exited;
        kill it and fail past STOP_WITHIN."""
        started = time.monotonic()
        self.process.send_signal(number)
        if again_after is not None:
            time.sleep(again_after)
            self.process.send_signal(number)
        try:
            self.process.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"serve was still running {STOP_WITHIN} s after {signal.Signals(number)}")
        elapsed = time.monotonic() - started
        for reader in self._readers:
            reader.join(5)
        return elapsed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(5)


@pytest.fixture
def serve() -> Iterator[list[Served]]:
    """Started `serve` processes, killed afterwards if a test left one running."""
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


def stall_half_a_body(port: int) -> socket.socket:
    """A client that sends the head and half the body of a batch, then waits forever."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /1/batch/d HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Honeycomb-Team: k\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"data":'
    )
    time.sleep(0.3)  # until the receiver has read the head: nothing shows it from outside
    return sock


def delay_a_batch_60_s(url: str) -> threading.Thread:
    """A batch held by a 60-second delay fault, sent from a thread; returns once it waits."""
    httpx.post(f"{url}/_receiver/faults", json={"delay": 60}).raise_for_status()

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # cut off by the stop, as expected
            httpx.post(f"{url}/1/batch/d", headers={"X-Honeycomb-Team": "k"}, json=[{}], timeout=90)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while httpx.get(f"{url}/_receiver/faults").json() and time.monotonic() < deadline:
        time.sleep(0.02)
    return thread


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("pending", ["stalled half body", "60 s delay fault"])
def test_a_signal_stops_serve_within_seconds_whatever_is_pending(
    serve: list[Served], tmp_path: Path, number: int, pending: str
) -> None:
    db = tmp_path / "events.sqlite3"
    # A port chosen here rather than --port 0, which older versions printed as :0.
    served = Served("--port", str(free_port()), "--db", str(db))
    serve.append(served)
    kept = httpx.post(
        f"{served.url}/1/batch/kept", headers={"X-Honeycomb-Team": "k"}, json=[{"data": {}}]
    )
    assert kept.json() == [{"status": 202}]

    with contextlib.ExitStack() as pending_requests:
        if pending == "stalled half body":
            pending_requests.enter_context(stall_half_a_body(served.port))
        else:
            delay_a_batch_60_s(served.url)
        elapsed = served.signal_and_wait(number)

    assert served.process.returncode == 0, served.err
    assert served.out.splitlines()[-1] == "receiver stopped"
    assert elapsed < STOP_WITHIN
    # uvicorn's line when the graceful second ran out: the request was still pending.
    assert "graceful shutdown exceeded" in served.err
    # The store was closed cleanly: the file opens with the event in it.
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
    assert "Traceback" not in served.err


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_cuts_requests_in_flight_at_once(serve: list[Served], number: int) -> None:
    served = Served("--port", str(free_port()))
    serve.append(served)
    delay_a_batch_60_s(served.url)

    served.signal_and_wait(number, again_after=0.2)

    assert served.process.returncode == 0, served.err
    assert served.out.splitlines()[-1] == "receiver stopped"
    # Only a stop that waited out the graceful second logs this uvicorn line.
    assert "graceful shutdown exceeded" not in served.err


def test_port_0_picks_a_free_port_and_prints_it(serve: list[Served]) -> None:
    served = Served("--port", "0")
    serve.append(served)

    assert served.first_line.startswith("honeycomb-events ")
    assert served.port != 0
    assert httpx.get(f"{served.url}/_receiver/datasets").json() == []
    served.signal_and_wait(signal.SIGTERM)
    assert f"send with: HONEYCOMB_API_ENDPOINT={served.url}" in served.out


@pytest.mark.parametrize("argument", [["--api-key", API_KEY], [f"--api-key={API_KEY}"]])
def test_a_key_on_the_command_line_is_refused_without_echoing_it(argument: list[str]) -> None:
    completed = subprocess.run(
        [*COMMAND, "--port", str(free_port()), *argument],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert completed.returncode == 2
    assert "HONEYCOMB_RECEIVER_API_KEYS" in completed.stderr
    assert "--api-keys-file" in completed.stderr
    assert API_KEY not in completed.stderr + completed.stdout


def assert_keys_enforced(served: Served, good: list[str], bad: str) -> None:
    for key in good:
        ok = httpx.post(
            f"{served.url}/1/batch/d", headers={"X-Honeycomb-Team": key}, json=[{"data": {}}]
        )
        assert ok.json() == [{"status": 202}]
        listed = httpx.get(f"{served.url}/_receiver/datasets", headers={"X-Honeycomb-Team": key})
        assert listed.json() == ["d"]
    refused = httpx.post(
        f"{served.url}/1/batch/d", headers={"X-Honeycomb-Team": bad}, json=[{"data": {}}]
    )
    assert refused.status_code == 401
    assert httpx.get(f"{served.url}/_receiver/datasets").status_code == 401
    served.signal_and_wait(signal.SIGTERM)
    for key in [*good, bad]:
        assert key not in served.out + served.err


def test_keys_from_the_environment(serve: list[Served]) -> None:
    env = environment(HONEYCOMB_RECEIVER_API_KEYS=f" {API_KEY}, second-key ,")
    served = Served("--port", str(free_port()), env=env)
    serve.append(served)

    assert_keys_enforced(served, [API_KEY, "second-key"], "other-key")
    assert "accepting 2 API keys from HONEYCOMB_RECEIVER_API_KEYS" in served.out


def test_keys_from_a_file(serve: list[Served], tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# the CI key\n{API_KEY}\n\nlaptop-key  # mine\n", encoding="utf-8")
    served = Served("--port", str(free_port()), "--api-keys-file", str(keys))
    serve.append(served)

    assert_keys_enforced(served, [API_KEY, "laptop-key"], "# the CI key")
    assert f"accepting 2 API keys from {keys}" in served.out


@pytest.mark.parametrize(
    ("arguments", "variables", "message"),
    [
        (["--api-keys-file", "no-such-file"], {}, "cannot read --api-keys-file"),
        ([], {"HONEYCOMB_RECEIVER_API_KEYS": " , "}, "no API key in HONEYCOMB_RECEIVER_API_KEYS"),
        (["--allow-host", "a b"], {}, "not a host name: 'a b'"),
    ],
)
def test_a_setting_that_cannot_work_exits_2(
    arguments: list[str], variables: dict[str, str], message: str
) -> None:
    completed = subprocess.run(
        [*COMMAND, "--port", str(free_port()), *arguments],
        env=environment(**variables),
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert completed.returncode == 2
    assert message in completed.stderr


def test_allowed_hosts_from_the_option_and_the_environment(serve: list[Served]) -> None:
    env = environment(HONEYCOMB_RECEIVER_ALLOWED_HOSTS="ci-runner.internal, other.internal")
    served = Served("--port", str(free_port()), "--allow-host", "receiver", env=env)
    serve.append(served)

    for host in ("receiver", "ci-runner.internal", "other.internal:8086", "localhost"):
        response = httpx.delete(f"{served.url}/_receiver/events", headers={"Host": host})
        assert response.json() == {"cleared": True}, host
    refused = httpx.delete(f"{served.url}/_receiver/events", headers={"Host": "elsewhere"})
    assert refused.status_code == 403
    assert "--allow-host" in refused.json()["error"]
    served.signal_and_wait(signal.SIGTERM)
    assert "also answering to host names: receiver, ci-runner.internal, other.internal" in (
        served.out
    )
