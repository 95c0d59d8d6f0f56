"""The durable spool: on its own, and under the span exporter against the receiver."""

from __future__ import annotations

import os
import stat
import time

import msgspec
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from honeycomb_events import ConfigurationError, resolve_settings
from honeycomb_events._spool import BATCH_SUFFIX, Spool
from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY, FAST_RETRY


def events(count: int, start: int = 0) -> list[bytes]:
    return [msgspec.json.encode({"data": {"n": n}}) for n in range(start, start + count)]


def numbers(lease_events: list[bytes]) -> list[int]:
    return [msgspec.json.decode(event)["data"]["n"] for event in lease_events]


def test_a_spooled_batch_is_one_private_file_and_comes_back_whole(tmp_path):
    spool = Spool(tmp_path / "spool")
    assert spool.write("shop", "json", events(3)) == 3
    assert stat.S_IMODE(os.stat(tmp_path / "spool").st_mode) == 0o700
    [path] = (tmp_path / "spool").iterdir()
    assert path.name.endswith(BATCH_SUFFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [lease] = spool.leases()
    assert (lease.dataset, lease.encoding, numbers(lease.events)) == ("shop", "json", [0, 1, 2])
    lease.done()
    assert list((tmp_path / "spool").iterdir()) == []
    assert spool.counts.events_spooled == 3


def test_batches_come_back_oldest_first_and_a_leased_batch_is_nobody_elses(tmp_path):
    first, second = Spool(tmp_path), Spool(tmp_path)  # two processes sharing a directory
    first.write("a", "json", events(1, 0))
    first.write("b", "json", events(1, 1))
    leases = first.leases()
    taken = next(leases)
    assert taken.dataset == "a"
    # The other process sees only the batch nobody holds.
    assert [lease.dataset for lease in second.leases()] == ["b"]
    taken.done()
    assert list(leases) == []  # "b" is leased by the other process (and never ended)


def test_a_batch_given_back_keeps_its_place_and_only_what_is_left(tmp_path):
    spool = Spool(tmp_path)
    spool.write("a", "json", events(3))
    spool.write("b", "json", events(1, 10))
    lease = next(spool.leases())
    lease.give_back(lease.events[1:])
    assert [(lease.dataset, numbers(lease.events)) for lease in spool.leases()] == [
        ("a", [1, 2]),
        ("b", [10]),
    ]


def test_old_batches_are_dropped_and_counted(tmp_path):
    spool = Spool(tmp_path, max_age=60)
    spool.write("a", "json", events(2), created=time.time() - 120)
    spool.write("b", "json", events(1))
    assert [lease.dataset for lease in spool.leases()] == ["b"]
    assert spool.counts.events_dropped_expired == 2


def test_a_full_spool_drops_its_oldest_batches_first(tmp_path):
    size = len(events(1)[0])
    spool = Spool(tmp_path, max_bytes=3 * (size + 120))
    for n in range(5):
        spool.write(f"d{n}", "json", events(1, n))
    kept = [lease.dataset for lease in spool.leases()]
    assert kept == ["d2", "d3", "d4"]
    assert spool.counts.events_dropped_spool_full == 2
    assert spool.write("huge", "json", [b"x" * 10_000]) == 0  # alone over the limit
    assert spool.counts.events_dropped_spool_full == 3


def test_a_lease_left_by_a_dead_process_is_taken_back(tmp_path):
    spool = Spool(tmp_path, lease_timeout=0.2)
    spool.write("a", "json", events(2))
    abandoned = next(spool.leases())  # leased, then the process "dies"
    assert list(spool.leases()) == []
    time.sleep(0.3)
    [lease] = spool.leases()
    assert numbers(lease.events) == numbers(abandoned.events)


def test_an_unreadable_file_is_quarantined_and_counted(tmp_path):
    spool = Spool(tmp_path)
    bad = f"00000000000000000001-1-x{BATCH_SUFFIX}"
    (tmp_path / bad).write_bytes(b"not a spool file")
    spool.write("a", "json", events(1))
    assert [lease.dataset for lease in spool.leases()] == ["a"]
    assert spool.counts.files_quarantined == 1
    # Set aside for a person to look at, and out of the way of every later drain.
    assert (tmp_path / f"{bad}.quarantined").read_bytes() == b"not a spool file"
    assert spool.pending() == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HONEYCOMB_SPOOL_MAX_BYTES", "lots"), ("HONEYCOMB_SPOOL_MAX_AGE", "-1")],
)
def test_bad_spool_limits_name_their_variable(variable, value, tmp_path):
    environ = {"HONEYCOMB_SPOOL_DIR": str(tmp_path), variable: value}
    with pytest.raises(ConfigurationError, match=variable):
        resolve_settings(api_key=API_KEY, endpoint="http://127.0.0.1:1", environ=environ)


def make_spans(count: int):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for n in range(count):
        with tracer.start_as_current_span(f"span {n}") as span:
            span.set_attribute("n", n)
    return memory.get_finished_spans()


def test_spans_the_backend_could_not_take_are_sent_by_the_next_process(
    tmp_path, monkeypatch, closed_port
):
    spool_dir = tmp_path / "spool"
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(spool_dir))
    spans = make_spans(30)
    down = HoneycombEventsExporter(
        api_key=API_KEY, endpoint=f"http://127.0.0.1:{closed_port}", timeout=0.5, retry=FAST_RETRY
    )
    assert down.export(spans[:20]).name == "FAILURE"
    assert down.stats["events_spooled"] == 20
    down.shutdown()
    # The key is in no file of the spool.
    for path in spool_dir.iterdir():
        assert API_KEY.encode() not in path.read_bytes()

    with Receiver() as receiver:
        # A fresh exporter: another process, say. It drains the spool, oldest first.
        up = HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
        up.export(spans[20:])
        assert up.force_flush(10_000)
        stored = sorted(event.data["n"] for event in receiver.events("shop"))
        assert stored == list(range(30))  # every span exactly once
        assert up.stats["events_unspooled"] == 20
        up.shutdown()
    assert list(spool_dir.iterdir()) == []


def test_events_failing_per_event_are_spooled_and_only_they(tmp_path, monkeypatch, receiver):
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path))
    # Every other event answered 503, then 503 on every retry: those end spooled.
    receiver.faults.push(
        Fault(event_statuses=(202, 503), path="batch"),
        Fault(event_statuses=(503,), times=100, path="batch"),
    )
    exporter = HoneycombEventsExporter(
        api_key=API_KEY, endpoint=receiver.url, timeout=1, retry=FAST_RETRY
    )
    assert exporter.export(make_spans(10)).name == "FAILURE"
    assert exporter.stats["events_spooled"] == 5
    assert len(receiver.events("shop")) == 5
    receiver.faults.clear()
    # Until a probe is answered, new batches wait in the spool too; then it all drains.
    exporter.export(make_spans(1))
    assert exporter.force_flush(10_000)
    assert len(receiver.events("shop")) == 11
    assert exporter.stats["events_unspooled"] == exporter.stats["events_spooled"] >= 5
    exporter.shutdown()


def test_a_spool_that_cannot_be_written_leaves_the_results_and_says_why(
    tmp_path, monkeypatch, closed_port, caplog
):
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path / "spool"))
    exporter = HoneycombEventsExporter(
        api_key=API_KEY, endpoint=f"http://127.0.0.1:{closed_port}", timeout=0.5, retry=FAST_RETRY
    )

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Spool, "write", disk_full)
    assert exporter.export(make_spans(3)).name == "FAILURE"
    exporter.shutdown()
    assert "could not write to the spool in" in caplog.text
    assert "No space left on device" in caplog.text
    # Not on disk, so not kept: said at shutdown.
    assert "at shutdown, 3 events lost" in caplog.text
    assert exporter.stats["events_lost_at_exit"] == 3
    assert API_KEY not in caplog.text


def test_a_batch_that_reads_but_cannot_be_sent_is_quarantined_once_and_flush_ends(
    tmp_path, monkeypatch, receiver, capsys
):
    spool_dir = tmp_path / "spool"
    Spool(spool_dir).write("shop", "no-such-encoding", events(2))  # a header that parses
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(spool_dir))
    exporter = HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url)
    exporter.export(make_spans(3))
    assert exporter.force_flush(5_000)  # True: nothing is left to send
    exporter.shutdown()
    assert exporter.stats["files_quarantined"] == 1
    assert [path.suffix for path in spool_dir.iterdir()] == [".quarantined"]
    assert len(receiver.events("shop")) == 3
    assert capsys.readouterr().err.count("set aside as") == 1


def test_temporary_files_of_killed_writers_are_removed_and_counted(tmp_path):
    spool = Spool(tmp_path, lease_timeout=60)
    stale = tmp_path / ".00000000000000000001-1-x.batch.tmp"
    fresh = tmp_path / ".00000000000000000002-1-x.batch.tmp"
    stale.write_bytes(b"half a batch")
    fresh.write_bytes(b"being written now")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert list(spool.leases()) == []
    assert not stale.exists()
    assert fresh.exists()  # a writer may still be at work on it
    assert spool.counts.files_stale_removed == 1


def unsafe(path, how: str):
    """Make `path` an unsafe spool directory, `how`."""
    if how == "file":
        path.write_text("")
    elif how in ("group-writable", "other-writable"):
        path.mkdir()
        path.chmod(0o770 if how == "group-writable" else 0o707)
    elif how == "symlink":
        target = path.parent / "elsewhere"
        target.mkdir(mode=0o755)
        path.symlink_to(target)
    elif how == "another user's":
        if os.geteuid() != 0:
            pytest.skip("giving a directory away takes root")
        path.mkdir(mode=0o700)
        os.chown(path, 12345, -1)
    elif how == "cannot be made":
        (path.parent / "file").write_text("")
        return path.parent / "file" / "spool"
    return path


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("file", "is a file, not a directory"),
        ("group-writable", "can be written by other users (mode 770)"),
        ("other-writable", "can be written by other users (mode 707)"),
        ("symlink", "is a symbolic link"),
        ("another user's", "belongs to another user"),
        ("cannot be made", "cannot be made or read"),
    ],
)
def test_an_unsafe_spool_directory_is_refused_naming_the_variable(tmp_path, how, says):
    directory = unsafe(tmp_path / "spool", how)
    with pytest.raises(ConfigurationError, match="HONEYCOMB_SPOOL_DIR") as refused:
        Spool(directory)
    assert says in str(refused.value)
    if how == "symlink":  # nothing was done to what the link points at
        assert stat.S_IMODE((tmp_path / "elsewhere").stat().st_mode) == 0o755


def test_a_planted_link_in_the_spool_is_not_followed(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for sending")
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    (spool_dir / f"00000000000000000001-1-x{BATCH_SUFFIX}").symlink_to(secret)
    assert list(spool.leases()) == []
    assert spool.counts.files_quarantined == 1
    assert secret.read_bytes() == b"not for sending"
