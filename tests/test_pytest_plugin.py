"""The pytest plugin: `honeycomb_receiver` in test files run by pytester, as a user's suite
would use it, and its trace trees and failure messages.

The package is installed from another checkout, so its entry point does not name this one's
plugin: the runs load it with `-p`, under the entry point's own name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from honeycomb_events.receiver import StoredEvent
from honeycomb_events.testing import ReceivedTelemetry
from honeycomb_events.testing._report import MAX_LINES

from .conftest import API_KEY

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "honeycomb_events_pytest")

OTEL_TEST = """
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events.otel import HoneycombEventsExporter


def configure():
    # Built inside the test: the exporter reads HONEYCOMB_* as the fixture set them.
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    trace.set_tracer_provider(provider)
    return trace.get_tracer("shop")


def test_checkout(honeycomb_receiver):
    tracer = configure()
    with tracer.start_as_current_span("POST /checkout") as root:
        root.set_attribute("order.id", "A-1")
        with tracer.start_as_current_span("charge-card") as charge:
            charge.add_event("attempt", {"n": 1})
            charge.set_attribute("amount", 1999)
        with tracer.start_as_current_span("render"):
            pass
    # No sleep, no flush: span() flushes the SDK's provider and waits.
    charge = honeycomb_receiver.span("charge-card", parent="POST /checkout",
                                     fields={"amount": 1999})
    assert [e["name"] for e in charge.span_events] == ["attempt"]
    tree = honeycomb_receiver.trace(charge.trace_id)
    assert tree.root.name == "POST /checkout"
    assert [child.name for child in tree.root.children] == ["charge-card", "render"]
    assert honeycomb_receiver.events("shop", where={"order.id": "A-1"})[0]["name"] == (
        "POST /checkout"
    )
    assert len(honeycomb_receiver.wait_for("shop", count=4)) == 4  # 3 spans, 1 span event
    {FAILING}
"""


def test_a_test_finds_its_spans_without_sleeping(pytester):
    pytester.makepyfile(OTEL_TEST.replace("{FAILING}", ""))
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1)


def test_a_span_that_does_not_match_fails_listing_what_arrived(pytester):
    failing = 'honeycomb_receiver.span("charge-card", fields={"amount": 10}, timeout=0.3)'
    pytester.makepyfile(OTEL_TEST.replace("{FAILING}", failing))
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: no span matching name='charge-card', amount=10 arrived in any "
            "dataset within 0.3 s; 3 spans arrived:",
            "*arrived by dataset: 'shop': 4",
            "*shop: name='charge-card' under 'POST /checkout' differs: amount=1999",
            "*shop: name='render' under 'POST /checkout' differs: amount missing",
            "*shop: name='POST /checkout' (root) differs: amount missing",
        ]
    )
    # The helper's own frames are hidden: the traceback ends at the test's line.
    assert "_received.py" not in result.stdout.str()


EVENTS_TEST = """
from honeycomb_events import HoneycombClient


def send(honeycomb_receiver, dataset, events):
    with HoneycombClient() as client:  # configured by the fixture's environment
        client.events.send_batch(dataset, events)


def test_wait(honeycomb_receiver):
    send(honeycomb_receiver, "jobs", [{"job": n, "state": "done"} for n in range(40)])
    honeycomb_receiver.wait_for("jobs", count=41, timeout=0.2)
"""


def test_a_wait_that_times_out_lists_at_most_twenty_lines(pytester):
    pytester.makepyfile(EVENTS_TEST)
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "waited 0.2 s for 41 events in dataset 'jobs', 40 arrived:" in text
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    assert "arrived by dataset: 'jobs': 40" in lines[1]
    assert "jobs: {'job': 0, 'state': 'done'}" in lines[2]
    assert lines[-1].endswith("... and 23 more")
    assert len(lines) == MAX_LINES


def test_the_environment_points_at_the_receiver_for_the_test_only(pytester, monkeypatch):
    monkeypatch.setenv("HONEYCOMB_API_ENDPOINT", "https://api.example.com")
    monkeypatch.setenv("HONEYCOMB_TRACES_ENDPOINT", "https://traces.example.com")
    pytester.makepyfile(
        """
        import os

        def test_inside(honeycomb_receiver):
            assert os.environ["HONEYCOMB_API_ENDPOINT"] == honeycomb_receiver.url
            assert honeycomb_receiver.url.startswith("http://127.0.0.1:")
            assert os.environ["HONEYCOMB_API_KEY"] == honeycomb_receiver.api_key
            assert "HONEYCOMB_TRACES_ENDPOINT" not in os.environ
            assert honeycomb_receiver.receiver.running

        def test_after():
            assert os.environ["HONEYCOMB_API_ENDPOINT"] == "https://api.example.com"
            assert os.environ["HONEYCOMB_TRACES_ENDPOINT"] == "https://traces.example.com"
        """
    )
    pytester.runpytest(*PLUGIN, "-p", "no:randomly").assert_outcomes(passed=2)


def test_without_the_receiver_extra_the_plugin_loads_and_the_fixture_says_what_to_install(
    pytester,
):
    pytester.makeconftest(
        """
        import sys

        sys.modules["starlette"] = None  # as if the receiver extra were not installed
        """
    )
    pytester.makepyfile(
        """
        def test_plain():
            pass

        def test_uses_it(honeycomb_receiver):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1, errors=1)
    message = (
        "honeycomb_receiver needs the receiver's Starlette and uvicorn: "
        "pip install 'honeycomb-events[receiver]'"
    )
    # The message is the error's whole text, on a line of its own (the summary's line of the
    # error may quote it too, cut or not depending on the terminal's width).
    assert [line for line in result.stdout.lines if line == message] == [message]
    assert "Traceback" not in result.stdout.str()


def test_loading_the_plugin_imports_neither_the_package_nor_the_receiver_nor_its_server():
    code = (
        "import sys, honeycomb_events_pytest; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'honeycomb_events', "
        "'honeycomb_events.receiver', 'httpx', 'opentelemetry') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert completed.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("test_file", "app_file"),
    [("test_wsgi_app.py", "wsgi_app.py"), ("test_flask_app.py", "flask_app.py")],
)
def test_the_web_app_examples_pass(pytester, test_file, app_file):
    examples = Path(__file__).resolve().parents[1] / "examples"
    for name in (test_file, app_file):
        pytester.path.joinpath(name).write_text((examples / name).read_text())
    pytester.runpytest_subprocess(*PLUGIN, test_file).assert_outcomes(passed=2)


# --- the helpers on a receiver in this process -------------------------------------------


def _span(trace_id, span_id, name, parent=None, **fields):
    event = {"trace.trace_id": trace_id, "trace.span_id": span_id, "name": name, **fields}
    if parent:
        event["trace.parent_id"] = parent
    return event


def store(receiver, events):
    """Stored directly: these tests are about reading, and set each span's start."""
    receiver.store.add(
        "svc",
        [StoredEvent.create("svc", event.get("time_ns", 10), event["data"]) for event in events],
    )


def test_traces_hang_span_events_and_links_on_their_spans(receiver):
    events = [
        {"time_ns": 3, "data": _span("t1", "c2", "second", "r")},
        {"time_ns": 2, "data": _span("t1", "c1", "first", "r")},
        {"time_ns": 1, "data": _span("t1", "r", "root")},
        {"data": _span("t1", "x", "orphan", "missing")},
        {"data": _span("t1", "a", "a", "b")},  # a cycle: broken where it would close
        {"data": _span("t1", "b", "b", "a")},
        {
            "data": {
                "trace.trace_id": "t1",
                "trace.parent_id": "c1",
                "name": "retry",
                "meta.annotation_type": "span_event",
            }
        },
        {
            "data": {
                "trace.trace_id": "t1",
                "trace.parent_id": "c1",
                "trace.link.trace_id": "t0",
                "meta.annotation_type": "link",
            }
        },
        {"data": _span("t2", "s", "other trace")},
    ]
    store(receiver, events)
    received = ReceivedTelemetry(receiver, API_KEY)

    first, second = received.traces()
    assert (first.trace_id, second.trace_id) == ("t1", "t2")
    names = [root.name for root in first.roots]
    assert names[0] == "root"
    assert names[1:] == ["orphan", "b"]
    assert [child.name for child in first.roots[2].children] == ["a"]
    root = first.roots[0]
    assert [child.name for child in root.children] == ["first", "second"]
    assert [event["name"] for event in root.find("first").span_events] == ["retry"]
    assert root.find("first").links[0]["trace.link.trace_id"] == "t0"
    assert len(first.spans()) == 6
    assert received.trace("t2").root.name == "other trace"
    with pytest.raises(AssertionError, match="t1 has 3 root spans"):
        _ = first.root
    with pytest.raises(AssertionError, match="wanted exactly one trace, 2 traces arrived"):
        received.trace()


def test_span_refuses_two_matches_and_finds_one_by_its_parent_span(receiver):
    events = [
        {"data": _span("t", "r", "root")},
        {"data": _span("t", "q1", "query", "r", db="a")},
        {"data": _span("t", "q2", "query", "q1", db="b")},
    ]
    store(receiver, events)
    received = ReceivedTelemetry(receiver, API_KEY)
    with pytest.raises(AssertionError, match="2 spans match name='query'"):
        received.span("query", timeout=0.1)
    outer = received.span("query", parent="root")
    assert received.span("query", parent=outer)["db"] == "b"
    assert received.span(fields={"db": "a"}, dataset="SVC").span_id == "q1"
    assert received.events(where={"db": "b", "name": "query"}) == [events[2]["data"]]
