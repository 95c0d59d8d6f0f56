"""Every example runs, as a user would run it, against a local receiver.

Each script in examples/ is run as a subprocess with a clean environment: no OTel or Honeycomb
variable from outside, only HONEYCOMB_API_KEY and HONEYCOMB_API_ENDPOINT pointing at the
receiver the test started. The test then reads what the receiver stored.
`test_every_example_is_run_by_a_test` fails when a file appears in examples/ that no test
runs, so examples cannot rot unexecuted.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from honeycomb_events.receiver import Receiver

from .conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

EXAMPLE_SECONDS = 20
"""An example finishes in a few seconds; this bound only catches one that hangs on exit."""


def example_environ(receiver: Receiver, **extra: str) -> dict[str, str]:
    """This process's environment without its OTel and Honeycomb settings, plus the key and
    the receiver's endpoint: the only configuration an example gets."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OTEL_", "HONEYCOMB_"))
    }
    return environ | {"HONEYCOMB_API_KEY": API_KEY, "HONEYCOMB_API_ENDPOINT": receiver.url} | extra


def run_example(name: str, receiver: Receiver, **extra: str) -> str:
    """Run examples/<name> to completion; assert it exited 0 quickly, wrote nothing to stderr
    (no warning, no traceback) and never printed the key. Returns its stdout."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=example_environ(receiver, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    elapsed = time.monotonic() - started
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert elapsed < EXAMPLE_SECONDS, f"{name} took {elapsed:.1f} s"
    assert API_KEY not in completed.stdout
    return completed.stdout


def of_signal(receiver: Receiver, dataset: str, signal: str) -> list[dict[str, Any]]:
    return [
        event.data
        for event in receiver.events(dataset)
        if event.data.get("meta.signal_type") == signal
    ]


def printed_trace_id(stdout: str) -> str:
    match = re.search(r"trace ([0-9a-f]{32})", stdout)
    assert match, stdout
    return match.group(1)


# --- send_events.py ---------------------------------------------------------------------


def test_send_events_example_delivers_everything(receiver):
    stdout = run_example("send_events.py", receiver)
    assert "single event: status 200" in stdout
    assert "batch: 10/10 accepted" in stdout
    assert "buffered: 100 accepted, 0 failed" in stdout
    assert "async batch: 5/5 accepted" in stdout
    assert len(receiver.events("example")) == 1 + 10 + 100 + 5


# --- send_events_async.py ---------------------------------------------------------------


def test_send_events_async_example_delivers_everything(receiver):
    stdout = run_example("send_events_async.py", receiver)
    assert "async single event: status 200" in stdout
    assert "async batch: 10/10 accepted" in stdout
    assert "async concurrent batches: 15/15 accepted" in stdout
    assert "0 events failed" in stdout

    stored = receiver.events("example-async")
    kinds = [event.data["kind"] for event in stored]
    assert (kinds.count("single"), kinds.count("batch"), kinds.count("concurrent")) == (1, 10, 15)
    # The batch's events carry their own times, one second apart, newest first.
    batch = sorted((e for e in stored if e.data["kind"] == "batch"), key=lambda e: e.data["n"])
    gaps = [a.time_ns - b.time_ns for a, b in itertools.pairwise(batch)]
    assert all(abs(gap - 1_000_000_000) < 1_000 for gap in gaps), gaps
    workers = {(e.data["worker"], e.data["n"]) for e in stored if e.data["kind"] == "concurrent"}
    assert workers == {(w, n) for w in range(3) for n in range(5)}


# --- manual_setup.py --------------------------------------------------------------------


def test_manual_setup_example_sends_a_trace_with_an_error_and_span_events(receiver):
    stdout = run_example("manual_setup.py", receiver)
    assert "sent to dataset 'manual-setup-example': 7 events accepted, 0 failed" in stdout
    trace_id = printed_trace_id(stdout)

    spans = {
        span["name"]: span
        for span in of_signal(receiver, "manual-setup-example", "trace")
        if "trace.span_id" in span
    }
    assert set(spans) == {"POST /checkout", "load-cart", "charge-card", "render-receipt"}
    assert {span["trace.trace_id"] for span in spans.values()} == {trace_id}
    root = spans["POST /checkout"]
    assert "trace.parent_id" not in root
    assert root["span.kind"] == "server"
    assert root["order.id"] == "A-1042"
    assert root["http.response.status_code"] == 402
    for name in ("load-cart", "charge-card", "render-receipt"):
        assert spans[name]["trace.parent_id"] == root["trace.span_id"]
    assert all(span["service.name"] == "manual-setup-example" for span in spans.values())

    charge = spans["charge-card"]
    assert charge["error"] is True
    assert charge["status_code"] == 2
    assert charge["status_message"] == "card declined"
    assert charge["exception.type"].endswith("CardDeclinedError")  # the SDK qualifies it
    assert charge["exception.message"] == "card declined for order A-1042 (1999 cents)"
    assert "charge_card" in charge["exception.stacktrace"]
    assert charge["span.num_events"] == 2
    assert "error" not in spans["load-cart"]

    span_events = [
        event
        for event in of_signal(receiver, "manual-setup-example", "trace")
        if event.get("meta.annotation_type") == "span_event"
    ]
    by_name = {(event["parent_name"], event["name"]): event for event in span_events}
    assert set(by_name) == {
        ("load-cart", "cache miss"),
        ("charge-card", "attempt"),
        ("charge-card", "exception"),
    }
    assert by_name["load-cart", "cache miss"]["cache.key"] == "cart:A-1042"
    assert (
        by_name["load-cart", "cache miss"]["trace.parent_id"] == spans["load-cart"]["trace.span_id"]
    )
    assert by_name["charge-card", "exception"]["error"] is True


def test_manual_setup_example_takes_its_service_from_the_environment(receiver):
    stdout = run_example("manual_setup.py", receiver, OTEL_SERVICE_NAME="checkout")
    assert "sent to dataset 'checkout'" in stdout
    assert len(receiver.events("checkout")) == 7
    assert receiver.datasets() == ["checkout"]


# --- metrics.py -------------------------------------------------------------------------


def test_metrics_example_sends_every_instrument(receiver):
    stdout = run_example("metrics.py", receiver)
    assert "export: SUCCESS" in stdout
    assert "checkout.duration.p50" in stdout  # the example prints what it sends
    accepted = re.search(r"metrics: (\d+) events accepted, 0 failed", stdout)
    assert accepted, stdout

    events = [event.data for event in receiver.events("unknown_metrics")]
    assert len(events) == int(accepted.group(1))
    assert all(event["meta.signal_type"] == "metric" for event in events)
    assert all(event["service.name"] == "metrics-example" for event in events)
    # Points of one second and one attribute set share an event: gather the fields first.
    orders = {event["payment.method"]: event["orders"] for event in events if "orders" in event}
    assert orders == {"card": 3, "voucher": 1}
    [gauge] = [event for event in events if "queue.depth" in event]
    assert (gauge["queue"], gauge["queue.depth"]) == ("emails", 7)
    [carts] = [event["carts.open"] for event in events if "carts.open" in event]
    assert carts == 3  # up-down counters are cumulative: 5 - 2

    [histogram] = [event for event in events if "checkout.duration.count" in event]
    assert histogram["checkout.duration.count"] == 10
    assert histogram["checkout.duration.sum"] == 667
    assert histogram["checkout.duration.avg"] == 66.7
    assert (histogram["checkout.duration.min"], histogram["checkout.duration.max"]) == (12, 250)
    percentiles = [
        histogram[f"checkout.duration.{p}"]
        for p in ("p001", "p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p999")
    ]
    assert percentiles == sorted(percentiles)
    assert 12 <= histogram["checkout.duration.p50"] <= 250


# --- logging_handler.py -----------------------------------------------------------------


def test_logging_handler_example_links_logs_to_the_trace(receiver):
    stdout = run_example("logging_handler.py", receiver)
    dataset = "logging-handler-example"
    assert f"5 log events accepted into dataset {dataset!r}, 0 failed, 0 dropped" in stdout
    trace_id = printed_trace_id(stdout)

    [span] = of_signal(receiver, dataset, "trace")
    assert span["name"] == "invoice-run"
    assert span["trace.trace_id"] == trace_id

    logs = {log["body"]: log for log in of_signal(receiver, dataset, "log")}
    assert set(logs) == {
        "billing run started",
        "sending invoice INV-7",
        "sending invoice INV-8",
        "could not send invoice INV-8",
        "billing run finished with 1 failure",
    }
    inside = ["sending invoice INV-7", "sending invoice INV-8", "could not send invoice INV-8"]
    for body in inside:  # on the span in the trace view
        assert logs[body]["trace.trace_id"] == trace_id
        assert logs[body]["trace.parent_id"] == span["trace.span_id"]
        assert logs[body]["meta.annotation_type"] == "span_event"
    for body in ("billing run started", "billing run finished with 1 failure"):
        assert "trace.trace_id" not in logs[body]
    assert logs["sending invoice INV-7"]["invoice.id"] == "INV-7"

    failure = logs["could not send invoice INV-8"]
    assert (failure["severity"], failure["severity_text"]) == ("error", "ERROR")
    assert failure["exception.type"] == "ValueError"
    assert failure["exception.message"] == "invoice INV-8 has no amount"
    assert "send_invoice" in failure["exception.stacktrace"]

    finished = logs["billing run finished with 1 failure"]
    assert (finished["severity"], finished["invoices.failed"]) == ("warn", 1)
    assert all(log["logger.name"] == "billing.invoices" for log in logs.values())
    assert all(log["service.name"] == dataset for log in logs.values())


# --- every example is run ---------------------------------------------------------------

EXAMPLE_TESTS = {
    "send_events.py": [test_send_events_example_delivers_everything],
    "send_events_async.py": [test_send_events_async_example_delivers_everything],
    "manual_setup.py": [
        test_manual_setup_example_sends_a_trace_with_an_error_and_span_events,
        test_manual_setup_example_takes_its_service_from_the_environment,
    ],
    "metrics.py": [test_metrics_example_sends_every_instrument],
    "logging_handler.py": [test_logging_handler_example_links_logs_to_the_trace],
}
"""Example file -> the tests above that run it."""

RUN_ELSEWHERE = {
    # Needs `opentelemetry-instrument` and HTTP requests made to it while it serves.
    "wsgi_app.py": ROOT / "tests" / "test_zero_code.py",
    # A pytest test file, run by pytester with the plugin.
    "test_wsgi_app.py": ROOT / "tests" / "test_pytest_plugin.py",
    "flask_app.py": ROOT / "tests" / "test_pytest_plugin.py",
    "test_flask_app.py": ROOT / "tests" / "test_pytest_plugin.py",
}
"""Example file -> the test module that runs it."""


def test_every_example_is_run_by_a_test():
    present = {path.name for path in EXAMPLES.iterdir() if path.name != "__pycache__"}
    listed = EXAMPLE_TESTS.keys() | RUN_ELSEWHERE.keys()
    assert present - listed == set(), "add a test for each new example to EXAMPLE_TESTS"
    assert listed - present == set(), "an example listed here no longer exists"
    for name, module in RUN_ELSEWHERE.items():
        assert f'"{name}"' in module.read_text(), f"{module.name} no longer runs {name}"


def test_demo_command_runs_against_its_own_receiver():
    completed = subprocess.run(
        [sys.executable, "-m", "honeycomb_events", "demo", "--events", "50"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "batch: 50/50 accepted (after one retried 503)" in completed.stdout
    assert "dataset 'demo-logs': 50 events stored" in completed.stdout
