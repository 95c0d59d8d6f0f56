"""The buffered sender: never blocks the caller, loses nothing it accepted, reports everything."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from honeycomb_events import EventResult, HoneycombClient, RetryPolicy
from honeycomb_events._model import format_time_ns, normalize_time
from honeycomb_events.receiver import Fault

from .conftest import API_KEY


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_nothing_queued_is_lost_on_close_even_from_many_threads(receiver, make_client):
    sender = make_client().events.buffered("ds", batch_size=100, flush_interval=60)

    def produce(thread: int) -> None:
        for n in range(1_250):
            assert sender.send({"thread": thread, "n": n})

    producers = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    assert sender.close(timeout=30)
    stored = receiver.events("ds")
    assert len(stored) == 5_000
    assert len({(e.data["thread"], e.data["n"]) for e in stored}) == 5_000
    assert sender.stats == {
        "queued": 5_000,
        "dropped_queue_full": 0,
        "dropped_queue_bytes": 0,
        "dropped_closed": 0,
        "accepted": 5_000,
        "failed": 0,
    }
    assert all(r.event_count <= 100 for r in receiver.requests)


def test_a_full_batch_goes_out_without_waiting_for_the_interval(receiver, make_client):
    sender = make_client().events.buffered("ds", batch_size=10, flush_interval=60)
    for n in range(10):
        sender.send({"n": n})
    wait_until(lambda: len(receiver.events("ds")) == 10, timeout=2)
    sender.close()


def test_the_flush_interval_sends_a_partial_batch(receiver, make_client):
    sender = make_client().events.buffered("ds", batch_size=100, flush_interval=0.1)
    sender.send({"n": 1})
    wait_until(lambda: len(receiver.events("ds")) == 1, timeout=2)
    sender.close()


def test_flush_returns_once_everything_queued_has_a_result(receiver, make_client):
    seen: list[EventResult] = []
    sender = make_client().events.buffered(
        "ds",
        batch_size=1_000,
        flush_interval=60,
        on_result=lambda event, result: seen.append(result),
    )
    for n in range(250):
        sender.send({"n": n})
    assert sender.flush(timeout=5)
    assert len(receiver.events("ds")) == 250
    assert seen == [EventResult(202)] * 250
    assert sender.flush(timeout=0)  # nothing pending: at once
    sender.close()


def test_events_without_a_time_are_stamped_when_queued_not_when_sent(receiver, make_client):
    sender = make_client().events.buffered("ds", flush_interval=60)
    queued_at = time.time_ns()
    sender.send({"n": 1})
    time.sleep(0.2)
    sender.close()
    [stored] = receiver.events("ds")
    assert queued_at <= stored.time_ns < queued_at + 100_000_000


def test_an_event_sent_without_a_time_gets_the_text_the_careful_path_writes(monkeypatch):
    # `send` lets `send_event` stamp the event instead of normalizing the text of now: the
    # same text as normalizing it, for every moment, without parsing it back.
    seen: list[str | None] = []
    client = HoneycombClient(
        API_KEY,
        "http://127.0.0.1:9",
        sync=True,
        http_transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
    sender = client.events.buffered("ds", on_result=lambda event, result: seen.append(event.time))
    moments = [0, 1, 999_999_999, 1_714_564_800_123_456_789, 4_102_444_800_000_000_001]
    for moment in moments:
        monkeypatch.setattr(time, "time_ns", lambda moment=moment: moment)
        assert sender.send({"n": 1}, samplerate=2)
    monkeypatch.undo()
    assert sender.close(timeout=10)
    client.close()
    assert seen == [normalize_time(format_time_ns(moment)) for moment in moments]


def test_counts_add_up_whether_or_not_a_batch_was_all_accepted():
    # An all-accepted batch is counted without a look at each result; any other one by each
    # result's `ok`, 2xx that are not 202 included.
    answers = iter(
        [
            b'[{"status":202},{"status":202},{"status":202}]',
            b'[{"status":202},{"status":201},{"status":400,"error":"bad"}]',
        ]
    )
    client = HoneycombClient(
        API_KEY,
        "http://127.0.0.1:9",
        sync=True,
        http_transport=httpx.MockTransport(
            lambda request: httpx.Response(200, content=next(answers))
        ),
    )
    sender = client.events.buffered("ds", batch_size=3, flush_interval=60)
    for n in range(6):
        assert sender.send({"n": n})
        if n == 2:
            assert sender.flush(timeout=10)
    assert sender.close(timeout=10)
    client.close()
    assert (sender.stats["accepted"], sender.stats["failed"]) == (5, 1)


def test_a_queue_full_in_bytes_drops_the_newest_events_and_counts_them(receiver, make_client):
    sender = make_client().events.buffered(
        "ds", batch_size=100, max_queue_size=100, max_queue_bytes=1_000, flush_interval=60
    )
    padding = "x" * 250  # 315 bytes an event as it is sent, with its time
    accepted = [sender.send({"n": n, "pad": padding}) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    assert sender.stats["dropped_queue_bytes"] == 2
    assert sender.close(timeout=10)
    assert sorted(e.data["n"] for e in receiver.events("ds")) == [0, 1, 2]
    # Once sent, the bytes are free again.
    assert sender._queued_bytes == 0


def test_one_event_larger_than_the_byte_bound_still_goes_through_an_empty_queue(
    receiver, make_client
):
    sender = make_client().events.buffered("ds", max_queue_bytes=100, flush_interval=60)
    assert sender.send({"big": "x" * 500})
    assert sender.close(timeout=10)
    assert len(receiver.events("ds")) == 1


def test_a_full_queue_drops_the_newest_events_and_counts_them(receiver, make_client):
    receiver.faults.push(Fault(delay=0.5, path="batch"))
    sender = make_client().events.buffered(
        "ds", batch_size=10, max_queue_size=10, flush_interval=60
    )
    for n in range(10):
        assert sender.send({"n": n})
    wait_until(lambda: len(sender._queue) == 0)  # the worker holds the first batch (stalled)
    accepted = [sender.send({"n": n}) for n in range(10, 25)]
    assert accepted == [True] * 10 + [False] * 5
    assert sender.close(timeout=10)
    assert sorted(e.data["n"] for e in receiver.events("ds")) == list(range(20))
    assert sender.stats["dropped_queue_full"] == 5
    assert sender.stats["accepted"] == 20


def test_a_receiver_that_is_down_makes_close_report_failures_within_its_timeout(closed_port):
    client = HoneycombClient(
        api_key=API_KEY,
        endpoint=f"http://127.0.0.1:{closed_port}",
        timeout=1,
        retry=RetryPolicy(initial_backoff=0.2, max_backoff=0.2),
    )
    failures: list[EventResult] = []
    sender = client.events.buffered(
        "ds", batch_size=50, flush_interval=60, on_result=lambda e, r: failures.append(r)
    )
    for n in range(500):
        assert sender.send({"n": n})
    started = time.monotonic()
    sender.close(timeout=2)
    assert time.monotonic() - started < 3
    wait_until(lambda: len(failures) == 500)
    assert all(result.status == 0 and result.error for result in failures)
    assert sender.stats["failed"] == 500
    client.close()


def test_a_raising_result_callback_does_not_stop_the_worker(receiver, make_client, caplog):
    def explode(event, result):
        raise RuntimeError("callback bug")

    sender = make_client().events.buffered("ds", batch_size=5, flush_interval=60, on_result=explode)
    for n in range(12):
        sender.send({"n": n})
    assert sender.close(timeout=5)
    assert len(receiver.events("ds")) == 12
    assert "on_result callback" in caplog.text


def test_a_rejected_key_fails_the_events_and_is_logged_without_the_key(
    receiver, make_client, caplog
):
    receiver.faults.push(Fault(status=401, error="unknown API key - check your credentials"))
    failures: list[EventResult] = []
    sender = make_client().events.buffered("ds", on_result=lambda e, r: failures.append(r))
    sender.send({"n": 1})
    sender.close(timeout=5)
    assert [r.status for r in failures] == [401]
    assert "rejected the API key" in caplog.text
    assert API_KEY not in caplog.text


def test_sending_after_close_is_refused_and_counted(make_client):
    sender = make_client().events.buffered("ds")
    sender.close()
    assert not sender.send({"n": 1})
    assert sender.stats["dropped_closed"] == 1


def test_closing_the_client_flushes_its_senders(receiver, make_client):
    client = make_client()
    sender = client.events.buffered("ds", flush_interval=60)
    for n in range(30):
        sender.send({"n": n})
    client.close()
    assert len(receiver.events("ds")) == 30


@pytest.mark.anyio
async def test_asyncio_code_sends_without_blocking_and_awaits_the_flush(receiver):
    async with HoneycombClient(api_key=API_KEY, endpoint=receiver.url) as client:
        sender = client.events.buffered("ds", flush_interval=60)
        for n in range(40):
            assert sender.send({"n": n})
        assert await sender.aflush(timeout=5)
        assert len(receiver.events("ds")) == 40
        for n in range(40, 50):
            sender.send({"n": n})
    assert len(receiver.events("ds")) == 50


def test_a_forked_child_starts_empty_and_sends_its_own_events(receiver, make_client):
    sender = make_client().events.buffered("ds", batch_size=1_000, flush_interval=60)
    for n in range(5):
        sender.send({"n": n, "who": "parent"})
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            empty = len(sender._queue) == 0
            sender.send({"n": 100, "who": "child"})
            code = 0 if empty and sender.close(timeout=5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    sender.close(timeout=5)
    stored = receiver.events("ds")
    assert sorted((e.data["who"], e.data["n"]) for e in stored) == [("child", 100)] + [
        ("parent", n) for n in range(5)
    ]


def test_an_event_is_written_as_it_is_queued_so_later_changes_do_not_reach_it(
    receiver, make_client
):
    sender = make_client().events.buffered("ds", flush_interval=60)
    fields: dict[str, object] = {"n": 1, "user": "ann"}
    assert sender.send(fields)
    fields["n"] = 2
    fields["added"] = True
    assert sender.close(timeout=10)
    assert [event.data for event in receiver.events("ds")] == [{"n": 1, "user": "ann"}]


def test_an_event_outside_the_limits_is_still_fitted_when_its_batch_is_sent(receiver, make_client):
    sender = make_client().events.buffered("ds", flush_interval=60)
    assert sender.send({"n": 1, "long": "x" * 70_000, "lone": "\ud800"})
    assert sender.close(timeout=10)
    (event,) = receiver.events("ds")
    assert event.data["n"] == 1
    assert len(event.data["long"]) < 70_000
