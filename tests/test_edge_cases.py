"""Edge cases found in review: each test failed on the code as first written."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import msgspec
import pytest

from honeycomb_events import BatchEvent, HoneycombClient, RetryPolicy
from honeycomb_events._buffered import BufferedSender
from honeycomb_events._config import resolve_settings
from honeycomb_events._encode import BatchEncoder
from honeycomb_events._errors import ConfigurationError
from honeycomb_events._formats import Compression, Encoding
from honeycomb_events._limits import MAX_EVENT_BYTES, LimitTally
from honeycomb_events._model import normalize_time
from honeycomb_events._transport import AsyncTransport, Transport

from .conftest import API_KEY, FAST_RETRY

_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z")


def _settings(**overrides):
    overrides.setdefault("api_key", API_KEY)
    overrides.setdefault("endpoint", "http://127.0.0.1:9")
    overrides.setdefault("compression", "none")
    return resolve_settings(**overrides)


def _accept_all(request: httpx.Request) -> httpx.Response:
    count = len(msgspec.json.decode(request.content))
    return httpx.Response(200, json=[{"status": 202}] * count)


def _one_line(data: dict) -> bytes:
    encoder = BatchEncoder(Encoding.JSON, Compression.NONE)
    return encoder.encode_events([BatchEvent(data)], LimitTally())[0]


# --- _model.py: times ------------------------------------------------------------------------


def test_times_outside_what_honeycomb_stores_are_refused_not_misformatted():
    # time.strftime("%Y") does not zero-pad on glibc: "999-01-01T..." is not RFC3339.
    with pytest.raises(ValueError, match="1677 to 2262"):
        normalize_time("0999-01-01T00:00:00Z")
    assert normalize_time("1677-09-22T00:00:00Z") == "1677-09-22T00:00:00.000000000Z"


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00-14:00",  # year 10000
        10**25,  # year 316,889,355
        1e300,  # OverflowError from time.gmtime
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),  # OverflowError
    ],
)
def test_times_past_year_9999_are_refused_not_written_with_a_five_digit_year(value):
    try:
        text = normalize_time(value)
    except ValueError:
        return
    assert _RFC3339_UTC.fullmatch(text), text


@pytest.mark.parametrize(
    "text",
    ["2024-01-01T12:00:61Z", "2024-01-01T12:00:99Z", "2024-01-01T12:00:00+99:99"],
)
def test_rfc3339_with_impossible_seconds_or_offsets_is_refused(text):
    with pytest.raises(ValueError, match=r"impossible|RFC3339"):
        normalize_time(text)


# --- _encode.py: fast path vs slow path ---------------------------------------------------------


class _Colour(str, enum.Enum):
    RED = "red"


@pytest.mark.parametrize("key", [_Colour.RED, dt.datetime(2024, 1, 1)])
def test_a_non_string_key_is_written_the_same_whichever_path_encodes_the_event(key):
    # The second event differs only by a None field, which sends it down sanitize_fields.
    fast = msgspec.json.decode(_one_line({key: 1, "x": "a"}))["data"]
    slow = msgspec.json.decode(_one_line({key: 1, "x": None}))["data"]
    assert set(fast) - {"x"} == set(slow)


def test_nested_bytes_and_datetimes_do_not_change_form_when_another_field_needs_repair():
    value = {"blob": [b"\x01\x02"], "when": [dt.datetime(2024, 1, 1)]}
    clean = msgspec.json.decode(_one_line(value))["data"]
    # A lone surrogate elsewhere makes the whole event go through _jsonable.
    repaired = msgspec.json.decode(_one_line({**value, "other": "\ud800"}))["data"]
    assert clean == {"blob": ["AQI="], "when": ["2024-01-01T00:00:00"]}
    assert {key: repaired[key] for key in clean} == clean


# --- _limits.py / _encode.py: the event size limit ------------------------------------------


def test_msgpack_events_are_shrunk_to_the_event_limit():
    # shrink_to_fit credits each dropped field with 2 separator bytes msgpack does not have.
    encoder = BatchEncoder(Encoding.MSGPACK, Compression.NONE)
    data = {f"f{i:04d}": "x" * 519 for i in range(2000)}
    [encoded] = encoder.encode_events([BatchEvent(data)], LimitTally())
    assert len(encoded) <= MAX_EVENT_BYTES


def test_a_msgpack_event_shrunk_to_fit_is_accepted_by_the_receiver(receiver, make_client):
    # The 1,000,000-byte limit is one of JSON; msgpack bytes undercount quotes and escapes.
    client = make_client(encoding="msgpack")
    data = {f"f{i}": '"' * 60_000 for i in range(20)}
    [result] = client.events.send_batch("ds", [data])
    assert result.ok, result


# --- _transport.py: _Delivery ---------------------------------------------------------------


def test_many_attempts_without_backoff_do_not_overflow():
    policy = RetryPolicy(max_attempts=1_100, initial_backoff=0.0, max_backoff=0.0)
    transport = Transport(
        _settings(timeout=30),
        retry=policy,
        http_transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )
    [result] = transport.send_batch("ds", [BatchEvent({"n": 1})])
    assert result.status == 503
    transport.close()


def test_a_response_httpx_cannot_decode_gives_results_not_an_exception():
    def bad_gzip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, content=b"this is not gzip"
        )

    transport = Transport(
        _settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(bad_gzip)
    )
    results = transport.send_batch("ds", [BatchEvent({"n": 1})])
    assert len(results) == 1
    assert not results[0].ok
    transport.close()


def test_events_accepted_before_a_key_rejection_are_reported_accepted():
    # Two bodies: the first is accepted (202 each), the second is answered 401.
    bodies: list[int] = []

    def accept_then_reject(request: httpx.Request) -> httpx.Response:
        bodies.append(len(msgspec.json.decode(request.content)))
        if len(bodies) == 1:
            return _accept_all(request)
        return httpx.Response(401, json={"error": "unknown API key - check your credentials"})

    encoder = BatchEncoder(Encoding.JSON, Compression.NONE, max_body_bytes=250, max_event_bytes=100)
    transport = Transport(
        _settings(),
        retry=FAST_RETRY,
        encoder=encoder,
        http_transport=httpx.MockTransport(accept_then_reject),
    )
    reported: list[int] = []
    sender = BufferedSender(
        transport,
        "ds",
        batch_size=6,
        flush_interval=60,
        on_result=lambda event, result: reported.append(result.status),
    )
    for n in range(6):
        sender.send({"n": n, "pad": "x" * 40})
    assert sender.flush(timeout=5)
    sender.close()
    transport.close()
    assert len(bodies) == 2
    assert bodies[0] > 0
    # The server answered 202 for each event of the first body: they must not read as failed.
    assert reported[: bodies[0]] == [202] * bodies[0], reported


def test_a_close_racing_a_send_gives_results_not_an_exception():
    # close() lands after the closed check and _client(), before post(): httpx raises
    # RuntimeError("Cannot send a request, as the client has been closed").
    transport = Transport(
        _settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(_accept_all)
    )
    original = transport._client

    def client_then_close():
        http = original()
        closer = threading.Thread(target=transport.close)
        closer.start()
        closer.join()
        return http

    transport._client = client_then_close  # type: ignore[method-assign]
    results = transport.send_batch("ds", [BatchEvent({"n": 1})])
    assert len(results) == 1


def test_no_request_goes_out_and_no_pool_is_left_open_after_close():
    # close() lands after the closed check, before _client(): a new pool is made after close.
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _accept_all(request)

    transport = Transport(_settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(record))
    original = transport._client
    closed_at: list[int] = []

    def close_then_client():
        if not closed_at:
            closed_at.append(len(sent))
            closer = threading.Thread(target=transport.close)
            closer.start()
            closer.join()
        return original()

    transport._client = close_then_client  # type: ignore[method-assign]
    transport.send_batch("ds", [BatchEvent({"n": 1})])
    assert transport._http is None, "an httpx.Client was opened after close() and never closed"
    assert len(sent) == closed_at[0], "a request was sent after close() returned"


def _trickling_server(byte_interval: float) -> tuple[socket.socket, threading.Thread]:
    """Answers one request 200, then sends the body one byte every `byte_interval` s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            answer = b'[{"status":202}]'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(answer)
            )
            for byte in answer:
                time.sleep(byte_interval)
                try:
                    conn.sendall(bytes((byte,)))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_the_send_deadline_bounds_a_response_that_trickles_in():
    server, _ = _trickling_server(0.4)  # 16 bytes: 6.4 s, each read well under 1 s
    port = server.getsockname()[1]
    transport = Transport(_settings(endpoint=f"http://127.0.0.1:{port}", timeout=1.0))
    started = time.monotonic()
    transport.send_batch("ds", [BatchEvent({"n": 1})])
    elapsed = time.monotonic() - started
    transport.close()
    server.close()
    assert elapsed < 3.0, f"a send with a 1 s deadline took {elapsed:.1f} s"


# --- _transport.py: fork, asyncio -------------------------------------------------------------


def test_a_fork_while_another_thread_updates_the_stats_does_not_deadlock_the_child():
    transport = Transport(
        _settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(_accept_all)
    )
    held, release = threading.Event(), threading.Event()

    def hold_stats_lock() -> None:
        with transport.stats._lock:  # as TransportStats.record does, for a moment
            held.set()
            release.wait()

    holder = threading.Thread(target=hold_stats_lock)
    holder.start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            results = transport.send_batch("ds", [BatchEvent({"n": 1})], timeout=2)
            code = 0 if results[0].ok else 2
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 5
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked on TransportStats._lock")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0
    transport.close()


def test_an_async_transport_works_in_a_second_event_loop():
    calls: list[int] = []

    async def fail_every_other(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503) if len(calls) % 2 else _accept_all(request)

    transport = AsyncTransport(
        _settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(fail_every_other)
    )
    for _ in range(2):  # e.g. two asyncio.run() calls in one program
        [result] = asyncio.run(transport.send_batch("ds", [BatchEvent({"n": 1})]))
        assert result.ok


# --- _buffered.py ------------------------------------------------------------------------------


def test_flush_from_the_result_callback_does_not_hang_the_sender():
    transport = Transport(
        _settings(), retry=FAST_RETRY, http_transport=httpx.MockTransport(_accept_all)
    )
    sender: BufferedSender

    def flush_on_result(event, result) -> None:
        sender.flush()  # like close(), which the worker already guards against

    sender = BufferedSender(
        transport, "ds", batch_size=1, flush_interval=60, on_result=flush_on_result
    )
    sender.send({"n": 1})
    assert sender.flush(timeout=3), "the worker is stuck in its own flush()"


def test_a_forked_childs_counts_add_up(receiver, make_client):
    sender = make_client().events.buffered("ds", batch_size=1_000, flush_interval=60)
    for n in range(5):
        sender.send({"n": n})
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sender.send({"n": 100})
            sender.close(timeout=5)
            stats = sender.stats
            code = 0 if stats["queued"] == stats["accepted"] + stats["failed"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    sender.close(timeout=5)
    assert os.waitstatus_to_exitcode(status) == 0, "child: queued != accepted + failed"


def test_a_clients_transport_is_made_once_even_when_threads_race_for_it(monkeypatch):
    # HoneycombClient._sync_transport checks and assigns without a lock: a losing thread
    # sends through a second Transport that close() never closes.
    made: list[Transport] = []
    original_init = Transport.__init__

    def recording_init(self, *args, **kwargs):
        made.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(Transport, "__init__", recording_init)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            made.clear()
            client = HoneycombClient(
                api_key=API_KEY,
                endpoint="http://127.0.0.1:9",
                compression="none",
                http_transport=httpx.MockTransport(_accept_all),
            )
            barrier = threading.Barrier(8)

            def send(client=client, barrier=barrier) -> None:
                barrier.wait()
                client.events.send_batch("ds", [{"n": 1}])

            threads = [threading.Thread(target=send) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            client.close()
            assert all(transport.closed for transport in made), (
                f"{len(made)} transports made, "
                f"{sum(not t.closed for t in made)} left open after close()"
            )
    finally:
        sys.setswitchinterval(switch)


# --- _config.py -------------------------------------------------------------------------------


def test_an_endpoint_with_a_non_numeric_port_is_refused_when_the_client_is_made():
    # validate_endpoint never reads the port; httpx.InvalidURL then escapes every send.
    with pytest.raises(ConfigurationError, match="invalid port"):
        HoneycombClient(api_key=API_KEY, endpoint="http://127.0.0.1:abc")


# --- the API key ---------------------------------------------------------------------------


def test_a_non_ascii_api_key_is_refused_up_front_and_never_carried_by_an_exception(receiver):
    key = "hcaik_secret\u00e9secret"
    with pytest.raises(ConfigurationError, match="printable ASCII") as raised:
        HoneycombClient(api_key=key, endpoint=receiver.url)
    assert key not in repr(raised.value)
    assert "secret" not in str(raised.value)


# --- found while documenting --------------------------------------------------------------------


def test_a_key_with_a_lone_surrogate_is_repaired_not_raised():
    tally = LimitTally()
    [encoded] = BatchEncoder().encode_events([BatchEvent({"k\ud800": 1})], tally)
    # U+FFFD, as Go (and so Honeycomb) writes for each invalid UTF-8 sequence; counted.
    assert msgspec.json.decode(encoded)["data"] == {"k\ufffd": 1}
    assert tally.surrogates_replaced == 1


def test_a_lone_surrogate_nested_in_a_list_is_replaced_and_counted_once():
    tally = LimitTally()
    [encoded] = BatchEncoder().encode_events([BatchEvent({"list": ["a\udc80", "b"]})], tally)
    assert msgspec.json.decode(encoded)["data"] == {"list": ["a\ufffd", "b"]}
    assert tally.surrogates_replaced == 1


def test_a_mapping_whose_items_raise_costs_its_event_only_its_fields():
    class Hostile(dict):
        def items(self):
            raise RuntimeError("no")

        def __len__(self):
            return 1

    tally = LimitTally()
    events = [BatchEvent({"ok": 1}), BatchEvent(Hostile(a=1)), BatchEvent({"ok": 2})]
    encoded = BatchEncoder().encode_events(events, tally)
    assert [msgspec.json.decode(part)["data"] for part in encoded] == [
        {"ok": 1},
        {"meta.dropped_fields": 1},
        {"ok": 2},
    ]
    assert tally.values_dropped == 1


def test_a_value_whose_str_raises_costs_only_its_field():
    class NoText:
        def __str__(self):
            raise RuntimeError("no text")

    tally = LimitTally()
    [encoded] = BatchEncoder().encode_events([BatchEvent({"bad": NoText(), "ok": 1})], tally)
    assert msgspec.json.decode(encoded)["data"] == {"ok": 1, "meta.dropped_fields": 1}
    assert tally.values_dropped == 1


def test_a_single_field_over_the_event_limit_is_dropped_and_counted():
    tally = LimitTally()
    [encoded] = BatchEncoder().encode_events([BatchEvent({"huge": ["x" * 1000] * 2400})], tally)
    assert msgspec.json.decode(encoded)["data"] == {"meta.dropped_fields": 1}
    assert tally.events_shrunk == 1


def test_a_json_null_answer_is_not_read_as_every_event_accepted():
    client = HoneycombClient(
        api_key=API_KEY,
        endpoint="http://127.0.0.1:9",
        http_transport=httpx.MockTransport(lambda request: httpx.Response(200, content=b"null")),
    )
    [result] = client.events.send_batch("ds", [{"n": 1}])
    assert result.status == 0
    assert "unreadable" in (result.error or "")


def test_the_samplerate_error_shows_the_value_given():
    with pytest.raises(ValueError, match=r"not 0\.4"):
        BatchEvent({"n": 1}, samplerate=0.4)


def test_queued_events_are_delivered_at_interpreter_exit_without_close(receiver):
    script = (
        "from honeycomb_events import HoneycombClient\n"
        f"client = HoneycombClient(api_key='k', endpoint='{receiver.url}')\n"
        "sender = client.events.buffered('ds', flush_interval=60)\n"
        "for n in range(10):\n"
        "    sender.send({'n': n})\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert sorted(event.data["n"] for event in receiver.events("ds")) == list(range(10))
