"""The receiver's web pages: the trace list and the waterfall, checked as HTML and in a real
headless Chromium (which `.ci/run` installs; the browser test skips only without one)."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.receiver import Receiver

from .conftest import API_KEY, FAST_RETRY


def send_a_trace(receiver: Receiver) -> str:
    """A checkout trace of four spans, one failed with an exception, with a span event."""
    exporter = HoneycombEventsExporter(api_key=API_KEY, endpoint=receiver.url, retry=FAST_RETRY)
    provider = TracerProvider(resource=Resource.create({"service.name": "web-shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("demo")
    with tracer.start_as_current_span("GET /checkout") as root:
        with tracer.start_as_current_span("SELECT cart") as select:
            select.add_event("rows read", {"rows": 3})
        with tracer.start_as_current_span("POST payments") as payment:
            with tracer.start_as_current_span("charge card") as charge:
                charge.record_exception(RuntimeError("card declined"))
                charge.set_status(Status(StatusCode.ERROR, "card declined"))
            payment.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_the_index_lists_datasets_and_the_trace(receiver):
    trace_id = send_a_trace(receiver)
    page = httpx.get(f"{receiver.url}/").text
    assert "web-shop" in page
    assert f"/trace/{trace_id}" in page
    assert "GET /checkout" in page
    assert "error" in page


def test_the_trace_page_draws_every_span_with_its_marks_and_errors(receiver):
    trace_id = send_a_trace(receiver)
    page = httpx.get(f"{receiver.url}/trace/{trace_id}").text
    assert page.count("class='span-bar") == 4
    assert page.count("span-bar failed") == 2
    assert page.count("class='mark event'") == 2  # the span event and the exception
    # Children are indented under their parents, in start order.
    names = re.findall(
        r"<span class=name style='padding-left:(\d+)px'>(?:<span class=error>)?([^<]+)", page
    )
    assert names == [
        ("0", "GET /checkout"),
        ("14", "SELECT cart"),
        ("14", "POST payments"),
        ("28", "charge card"),
    ]
    assert "card declined" in page  # attributes, shown on click


def test_an_unknown_trace_is_404(receiver):
    assert httpx.get(f"{receiver.url}/trace/0123").status_code == 404


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_chromium_draws_every_span_of_the_trace(receiver, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed (.ci/run installs Debian's chromium package)")
    trace_id = send_a_trace(receiver)
    url = f"{receiver.url}/trace/{trace_id}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    drawn = re.findall(r'class="span-bar[^"]*" data-span-id="([0-9a-f]{16})"', dom)
    spans = [
        event.data["trace.span_id"]
        for event in receiver.events("web-shop")
        if "trace.span_id" in event.data
    ]
    assert sorted(drawn) == sorted(spans)
    screenshot = tmp_path / "trace.png"
    subprocess.run(
        [browser, *flags, "--window-size=1200,500", f"--screenshot={screenshot}", url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
