"""The ``honeycomb-events`` command, driven as a user would: ``python -m honeycomb_events``
in a subprocess, against receivers on 127.0.0.1 started here."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from honeycomb_events import BatchEvent, HoneycombClient
from honeycomb_events.cli import _Row, choose_columns, parse_event_line, parse_time_ns, value_text
from honeycomb_events.receiver import Receiver, StoredEvent
from honeycomb_events.receiver._query_params import QueryParams

from .conftest import API_KEY

COMMAND = [sys.executable, "-m", "honeycomb_events"]


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any HONEYCOMB_ setting, plus `variables`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HONEYCOMB_")}
    return base | variables


def run(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=clean_environment() if env is None else dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(db: Path, port: int) -> subprocess.Popen[str]:
    """``serve --db`` in a subprocess, returned once it answers."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--db", str(db), "--port", str(port)],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"serve exited with {process.returncode}: {out} {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_receiver/datasets").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    stop(process)
    pytest.fail("serve did not answer within 20 s")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int, list[subprocess.Popen[str]]]]:
    """A database path, a port, and a list in which every `serve` started is stopped."""
    started: list[subprocess.Popen[str]] = []
    yield tmp_path / "events.sqlite3", free_port(), started
    for process in started:
        if process.poll() is None:
            stop(process)


def send_env(receiver_url: str, key: str = API_KEY) -> dict[str, str]:
    return clean_environment(HONEYCOMB_API_KEY=key, HONEYCOMB_API_ENDPOINT=receiver_url)


# query and serve -------------------------------------------------------------------------------


def test_events_survive_a_restart_of_serve_and_query_shows_them(served):
    db, port, started = served
    url = f"http://127.0.0.1:{port}"
    started.append(start_serve(db, port))
    with HoneycombClient(api_key=API_KEY, endpoint=url) as client:
        results = client.events.send_batch(
            "Orders",
            [
                {"order": "A-1", "status": 200, "region": "eu", "paid": True},
                {"order": "A-2", "status": 500, "region": "us", "paid": False},
                {"order": "A-3", "status": 200, "region": "us", "note": "x" * 100},
            ],
        )
    assert all(result.ok for result in results)
    stop(started[0])
    assert started[0].returncode == 0

    started.append(start_serve(db, port))
    # The file, read directly while the second receiver has it open, in any casing.
    table = run("query", "orders", "--db", str(db))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[0] == "time"
    assert {"order", "status", "region"} <= set(lines[0].split())
    assert len(lines) == 1 + 3
    assert "A-1" in lines[1]
    assert "A-3" in lines[3]
    assert "x" * 100 not in table.stdout  # long values are cut
    assert "…" in lines[3]
    # The same events from the running receiver, over HTTP.
    over_http = run("query", "orders", "--url", url, "--format", "jsonl")
    from_file = run("query", "orders", "--db", str(db), "--format", "jsonl")
    assert over_http.returncode == from_file.returncode == 0
    assert over_http.stdout == from_file.stdout
    assert [json.loads(line)["data"]["order"] for line in from_file.stdout.splitlines()] == [
        "A-1",
        "A-2",
        "A-3",
    ]


@pytest.fixture
def orders_receiver(receiver: Receiver) -> Receiver:
    """The receiver fixture with three orders: two in May 2024, one now."""
    with HoneycombClient(api_key=API_KEY, endpoint=receiver.url) as client:
        results = client.events.send_batch(
            "orders",
            [
                BatchEvent(
                    {"order": "A-1", "status": 200, "paid": True}, "2024-05-01T12:00:00Z", 3
                ),
                BatchEvent({"order": "A-2", "status": 500, "paid": False}, "2024-05-01T13:00:00Z"),
                BatchEvent({"order": "A-3", "status": 200, "tags": ["a", "b"]}, time.time()),
            ],
        )
    assert all(result.ok for result in results)
    return receiver


def test_query_jsonl_round_trips_through_send(orders_receiver, tmp_path):
    url = orders_receiver.url
    dumped = run("query", "orders", "--url", url, "--format", "jsonl")
    assert dumped.returncode == 0, dumped.stderr
    lines = [json.loads(line) for line in dumped.stdout.splitlines()]
    assert [set(line) for line in lines] == [{"time", "samplerate", "data"}] * 3
    assert lines[0] == {
        "time": "2024-05-01T12:00:00.000000000Z",
        "samplerate": 3,
        "data": {"order": "A-1", "status": 200, "paid": True},
    }

    copied = run("send", "-", "--dataset", "copy", env=send_env(url), stdin=dumped.stdout)
    assert copied.returncode == 0, copied.stderr
    again = run("query", "copy", "--url", url, "--format", "jsonl")
    assert again.stdout == dumped.stdout


def test_query_where_since_until_and_limit(orders_receiver):
    url = orders_receiver.url

    def orders(*options: str) -> list[str]:
        completed = run("query", "orders", "--url", url, "--format", "jsonl", *options)
        assert completed.returncode == 0, completed.stderr
        return [json.loads(line)["data"]["order"] for line in completed.stdout.splitlines()]

    assert orders("--where", "status=200") == ["A-1", "A-3"]  # compared as text
    assert orders("--where", "status=200", "--where", "paid=true") == ["A-1"]
    assert orders("--where", "paid!=true") == ["A-2", "A-3"]
    assert orders("--where", 'tags=["a","b"]') == ["A-3"]
    assert orders("--where", "status=200", "--limit", "1") == ["A-1"]
    assert orders("--limit", "2") == ["A-1", "A-2"]
    assert orders("--since", "1h") == ["A-3"]
    assert orders("--until", "2024-05-01T12:30:00Z") == ["A-1"]
    assert orders("--since", "2024-05-01T12:30:00+00:00", "--until", "10m") == ["A-2"]

    nothing = run("query", "orders", "--url", url, "--where", "status=404")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert "no events" in nothing.stderr


def test_query_unknown_dataset_prints_nothing_and_says_so(orders_receiver, tmp_path):
    completed = run("query", "missing", "--url", orders_receiver.url)
    assert completed.returncode == 0
    assert completed.stdout == ""
    assert "no dataset 'missing'" in completed.stderr
    assert "'orders'" in completed.stderr


def test_query_needs_a_source_and_an_existing_database(tmp_path):
    neither = run("query", "orders")
    assert neither.returncode == 2
    assert "--db FILE" in neither.stderr
    assert "--url URL" in neither.stderr

    missing = run("query", "orders", "--db", str(tmp_path / "nope.sqlite3"))
    assert missing.returncode == 2
    assert "no database at" in missing.stderr
    assert not (tmp_path / "nope.sqlite3").exists()  # query never creates one

    bad_time = run("query", "orders", "--db", "x", "--since", "yesterday")
    assert bad_time.returncode == 2
    assert "15m" in bad_time.stderr


def test_query_of_a_receiver_with_keys_sends_one(tmp_path):
    with Receiver(api_keys={"team-key"}) as keyed:
        keyed.store.add("orders", [StoredEvent.create("orders", 1, {"order": "A-1"})])
        refused = run("query", "orders", "--url", keyed.url)
        assert refused.returncode == 1
        assert "HONEYCOMB_API_KEY was not set" in refused.stderr
        wrong_key = clean_environment(HONEYCOMB_API_KEY="not-the-key-42")
        wrong = run("query", "orders", "--url", keyed.url, env=wrong_key)
        assert "HONEYCOMB_API_KEY was not one of its keys" in wrong.stderr
        assert "not-the-key-42" not in wrong.stderr
        named = clean_environment(MY_RECEIVER_KEY="team-key")
        taken = run(
            "query", "orders", "--url", keyed.url, "--api-key-env", "MY_RECEIVER_KEY", env=named
        )
        assert taken.returncode == 0, taken.stderr
        assert "A-1" in taken.stdout


def test_query_of_a_receiver_that_is_not_there(closed_port):
    completed = run("query", "orders", "--url", f"http://127.0.0.1:{closed_port}")
    assert completed.returncode == 1
    assert "cannot reach the receiver" in completed.stderr


# What a terminal would obey: C0 and C1 controls, DEL, bidi overrides and isolates.
TERMINAL_CONTROLS = {
    chr(code)
    for code in (
        *range(0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}
HOSTILE = {
    "title": "\x1b]0;pwned\x07",
    "clear": "\x1b[2J",
    "c1": "\x9b31mred",
    "del": "a\x7fb",
    "rtl": "abc\u202edcba",
    "isolate": "\u2066x\u2069",
    "key\x1b[1m": "v",
}


def test_query_escapes_what_a_terminal_would_obey(tmp_path):
    db = tmp_path / "events.sqlite3"
    # Read with --db while a receiver writes the file (WAL mode), as the docs promise.
    with (
        Receiver(db_path=db) as live,
        HoneycombClient(api_key=API_KEY, endpoint=live.url) as client,
    ):
        assert all(result.ok for result in client.events.send_batch("hostile", [HOSTILE]))
        table = run("query", "hostile", "--db", str(db))
        jsonl = run("query", "hostile", "--db", str(db), "--format", "jsonl")
        assert all(result.ok for result in client.events.send_batch("hostile", [{"n": 2}]))
        again = run("query", "hostile", "--db", str(db), "--format", "jsonl")
    assert table.returncode == jsonl.returncode == again.returncode == 0, table.stderr
    assert not TERMINAL_CONTROLS - {"\n"} & set(table.stdout)
    for shown in (
        "\\x1b]0;pwned\\x07",
        "\\x1b[2J",
        "\\x9b31mred",
        "a\\x7fb",
        "abc\\u202edcba",
        "\\u2066x\\u2069",
        "key\\x1b[1m",
    ):
        assert shown in table.stdout
    assert not TERMINAL_CONTROLS - {"\n"} & set(jsonl.stdout)
    assert json.loads(jsonl.stdout)["data"] == HOSTILE  # still the same values, as JSON
    assert len(again.stdout.splitlines()) == 2  # the receiver's later write is seen


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_query_db_refuses_other_files_and_never_writes_to_them(tmp_path):
    rollback, wal = tmp_path / "notes.db", tmp_path / "wal notes?#%.db"
    for path, mode in ((rollback, "delete"), (wal, "wal")):
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA journal_mode = {mode}")
            conn.execute("CREATE TABLE notes (text TEXT)")
            conn.execute("INSERT INTO notes VALUES ('keep me')")
        conn.close()
    empty, text = tmp_path / "empty.sqlite3", tmp_path / "readme.txt"
    empty.write_bytes(b"")
    text.write_text("these are notes, not a database\n" * 20)
    for path, says in (
        (rollback, "is not a receiver's database: it has no datasets and no events table"),
        (wal, "is not a receiver's database"),
        (empty, "is not a receiver's database"),
        (text, "cannot read"),
    ):
        digest = sha256(path)
        completed = run("query", "orders", "--db", str(path))
        assert completed.returncode == 2, completed.stderr
        assert completed.stdout == ""
        assert len(completed.stderr.splitlines()) == 1
        assert says in completed.stderr
        assert sha256(path) == digest, path.name
    for path, mode in ((rollback, "delete"), (wal, "wal")):
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == (mode,)
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            assert [name for (name,) in tables] == ["notes"]
        conn.close()


# send ------------------------------------------------------------------------------------------


def test_send_a_file_with_a_bad_line(receiver, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"n": 1, "service": "api"}\n'
        '{"data": {"n": 2}, "time": "2024-05-01T12:00:00Z", "samplerate": 10}\n'
        '{"n": 3, oops}\n'
        "\n"  # blank lines are skipped, not bad
        '{"n": 5}\n'
    )
    completed = run("send", str(path), "--dataset", "d", env=send_env(receiver.url))

    assert completed.returncode == 1
    assert re.search(r"line 3: not valid JSON", completed.stderr), completed.stderr
    assert "line 5" not in completed.stderr
    assert "sent 3 events: 3 accepted, 0 failed, 1 bad lines" in completed.stdout
    stored = receiver.events("d")
    assert [event.data["n"] for event in stored] == [1, 2, 5]
    assert stored[1].time == "2024-05-01T12:00:00.000000000Z"
    assert stored[1].samplerate == 10
    assert API_KEY not in completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "a JSON array, not an object"),
        ('"text"', "a JSON string, not an object"),
        ('{"data": {"n": 1}, "time": "yesterday"}', "bad time"),
        ('{"data": {"n": 1}, "time": true}', "bad time"),
        ('{"data": {"n": 1}, "samplerate": 0}', "bad samplerate"),
    ],
)
def test_each_kind_of_bad_line_is_named(receiver, line, reason):
    completed = run(
        "send", "-", "--dataset", "d", env=send_env(receiver.url), stdin=f'{{"ok": 1}}\n{line}\n'
    )
    assert completed.returncode == 1
    assert f"stdin line 2: {reason}" in completed.stderr
    assert "sent 1 events: 1 accepted, 0 failed, 1 bad lines" in completed.stdout
    assert len(receiver.events("d")) == 1


def test_send_from_stdin_with_progress(receiver):
    count = 10_050
    lines = "".join(f'{{"n": {n}}}\n' for n in range(count))
    completed = run("send", "-", "--dataset", "bulk", env=send_env(receiver.url), stdin=lines)

    assert completed.returncode == 0, completed.stderr
    assert f"sent {count} events: {count} accepted, 0 failed, 0 bad lines" in completed.stdout
    assert "10,000 lines read" in completed.stderr
    assert receiver.store.count("bulk") == count


def test_send_shows_a_percentage_for_a_large_file(receiver, tmp_path):
    path = tmp_path / "large.jsonl"
    padding = "x" * 200
    path.write_text("".join(f'{{"n": {n}, "pad": "{padding}"}}\n' for n in range(6000)))
    completed = run("send", str(path), "--dataset", "large", env=send_env(receiver.url))

    assert completed.returncode == 0, completed.stderr
    assert "50% (" in completed.stderr
    assert receiver.store.count("large") == 6000


def test_send_with_a_rejected_key_fails_and_never_prints_it(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f'{{"n": {n}}}\n' for n in range(500)))
    with Receiver(api_keys=["the-only-good-key"]) as receiver:
        completed = run("send", str(path), "--dataset", "d", env=send_env(receiver.url))
        assert receiver.events("d") == []
    assert completed.returncode == 1
    assert "sent 500 events: 0 accepted, 500 failed, 0 bad lines" in completed.stdout
    assert "HONEYCOMB_API_KEY" in completed.stderr  # the setting to fix is named
    assert "401" in completed.stderr
    assert API_KEY not in completed.stdout + completed.stderr


def test_send_needs_a_key_a_readable_file_and_a_dataset(receiver, tmp_path):
    no_key = run(
        "send",
        "-",
        "--dataset",
        "d",
        env=clean_environment(HONEYCOMB_API_ENDPOINT=receiver.url),
        stdin="{}\n",
    )
    assert no_key.returncode == 2
    assert "set HONEYCOMB_API_KEY" in no_key.stderr

    missing = run(
        "send", str(tmp_path / "nope.jsonl"), "--dataset", "d", env=send_env(receiver.url)
    )
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr

    no_dataset = run("send", "-", env=send_env(receiver.url), stdin="{}\n")
    assert no_dataset.returncode == 2
    assert "--dataset" in no_dataset.stderr


def test_send_with_key_variable_and_endpoint_options(receiver):
    completed = run(
        "send",
        "-",
        "--dataset",
        "d",
        "--api-key-env",
        "MY_INGEST_KEY",
        "--endpoint",
        receiver.url,
        env=clean_environment(MY_INGEST_KEY=API_KEY),
        stdin='{"n": 1}\n',
    )
    assert completed.returncode == 0, completed.stderr
    assert len(receiver.events("d")) == 1


# check -----------------------------------------------------------------------------------------


def test_check_prints_team_and_environment_never_the_key(receiver):
    completed = run("check", env=send_env(receiver.url))
    assert completed.returncode == 0, completed.stderr
    assert "team: local" in completed.stdout
    assert "environment: local" in completed.stdout
    assert f"endpoint: {receiver.url}" in completed.stdout
    assert "key from HONEYCOMB_API_KEY" in completed.stdout
    assert API_KEY not in completed.stdout + completed.stderr


def test_check_with_an_unknown_key_fails_clearly():
    with Receiver(api_keys=["the-only-good-key"]) as receiver:
        completed = run("check", env=send_env(receiver.url))
    assert completed.returncode == 1
    assert "rejected the key from HONEYCOMB_API_KEY" in completed.stderr
    assert "401" in completed.stderr
    assert API_KEY not in completed.stdout + completed.stderr


def test_check_without_a_key_or_an_endpoint(closed_port):
    no_key = run("check", env=clean_environment())
    assert no_key.returncode == 2
    assert "set HONEYCOMB_API_KEY" in no_key.stderr

    unreachable = run("check", env=send_env(f"http://127.0.0.1:{closed_port}"))
    assert unreachable.returncode == 1
    assert "cannot reach" in unreachable.stderr
    assert API_KEY not in unreachable.stdout + unreachable.stderr


def test_check_of_something_that_is_not_an_events_api(receiver):
    completed = run("check", "--endpoint", f"{receiver.url}/elsewhere", env=send_env(receiver.url))
    assert completed.returncode == 1
    assert "404" in completed.stderr
    assert "--endpoint" in completed.stderr


# demo ------------------------------------------------------------------------------------------

TRACE_URL = re.compile(
    r"open the trace view: (http://127\.0\.0\.1:\d+)/trace/([0-9a-f]{32})$", re.M
)


def test_demo_sends_events_traces_metrics_and_logs():
    started = time.monotonic()
    completed = run("demo", "--events", "20")
    elapsed = time.monotonic() - started

    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    match = TRACE_URL.search(out)
    assert match is not None, out
    assert f"list: {match.group(1)}/" in out
    query = re.search(rf"^query: {re.escape(match.group(1))}/query\?(.+)$", out, re.M)
    assert query is not None, out
    spec = QueryParams.from_pairs(parse_qsl(query.group(1))).spec()
    assert [calc.label for calc in spec.calculations] == ["P99(duration_ms)", "COUNT"]
    assert spec.breakdowns == ("endpoint",)
    assert "dataset 'demo-requests': 20 events stored" in out
    assert "dataset 'demo-logs': 20 events stored" in out
    assert re.search(r"dataset 'demo-shop': \d+ events stored \(4 traces\)", out)
    assert re.search(r"dataset 'demo-shop-metrics': [1-9]\d* events stored", out)
    assert "demo-key" not in out + completed.stderr
    assert "Traceback" not in completed.stderr
    assert elapsed < 15  # about a second here; generous for slow machines


def test_demo_keep_running_serves_until_terminated():
    process = subprocess.Popen(
        [*COMMAND, "demo", "--events", "5", "--keep-running"],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "press Ctrl-C" in line:
                break
        match = TRACE_URL.search("".join(seen))
        assert match is not None, seen
        base, trace_id = match.groups()
        stored = httpx.get(f"{base}/_receiver/events/demo-shop").json()
        failing = [
            event["data"]
            for event in stored
            if event["data"].get("trace.trace_id") == trace_id and event["data"].get("error")
        ]
        assert any(data.get("name") == "POST /v1/charges" for data in failing)
        assert any(
            data.get("exception.type", "").endswith("PaymentDeclinedError") for data in failing
        )
        assert any(data.get("severity_text") == "ERROR" for data in stored_logs(stored, trace_id))
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "stopped" in rest


def stored_logs(
    stored: list[dict[str, dict[str, object]]], trace_id: str
) -> list[dict[str, object]]:
    return [
        event["data"]
        for event in stored
        if event["data"].get("meta.signal_type") == "log"
        and event["data"].get("trace.trace_id") == trace_id
    ]


def test_demo_to_honeycomb_needs_a_key():
    completed = run("demo", "--to-honeycomb")
    assert completed.returncode == 2
    assert "set HONEYCOMB_API_KEY" in completed.stderr


def test_demo_to_honeycomb_sends_to_the_configured_endpoint(receiver):
    completed = run("demo", "--to-honeycomb", env=send_env(receiver.url))
    assert completed.returncode == 0, completed.stderr
    assert f"to {receiver.url}" in completed.stdout
    assert "key from HONEYCOMB_API_KEY" in completed.stdout
    assert API_KEY not in completed.stdout + completed.stderr
    assert set(receiver.datasets()) == {"demo-shop", "demo-shop-metrics"}
    spans = [e for e in receiver.events("demo-shop") if e.data.get("meta.signal_type") == "trace"]
    assert len({event.data["trace.trace_id"] for event in spans}) == 4


# The pieces, in process ------------------------------------------------------------------------


def test_relative_and_absolute_times():
    now = 1_700_000_000 * 10**9
    assert parse_time_ns("15m", now) == now - 15 * 60 * 10**9
    assert parse_time_ns("2h", now) == now - 2 * 3600 * 10**9
    assert parse_time_ns("1.5s", now) == now - 1_500_000_000
    assert parse_time_ns("now", now) == now
    assert parse_time_ns("2024-05-01T12:00:00Z") == 1_714_564_800 * 10**9


def test_values_compare_as_text():
    assert [value_text(v) for v in ("a", 200, 1.5, True, None, [1, "b"])] == [
        "a",
        "200",
        "1.5",
        "true",
        "null",
        '[1,"b"]',
    ]


def test_parse_event_line_forms():
    plain = parse_event_line(b'{"data": {"n": 1}, "other": 2}\n')
    assert plain is not None
    assert plain.data == {"data": {"n": 1}, "other": 2}  # not the wrapper form: other keys
    wrapped = parse_event_line(b'{"data": {"n": 1}, "time": 1714564800, "samplerate": 2}')
    assert wrapped is not None
    assert (wrapped.data, wrapped.time, wrapped.samplerate) == (
        {"n": 1},
        "2024-05-01T12:00:00.000000000Z",
        2,
    )
    assert parse_event_line(b"   \n") is None


def test_table_columns_prefer_fields_that_vary():
    rows = [
        _Row("t", 1, {"service.name": "shop", "name": "a", "n": 1}),
        _Row("t", 1, {"service.name": "shop", "name": "b", "n": 1}),
        _Row("t", 1, {"service.name": "shop", "name": "c"}),
    ]
    assert choose_columns(rows) == ["name", "n", "service.name"]
    assert choose_columns(rows, width=1) == ["name"]
